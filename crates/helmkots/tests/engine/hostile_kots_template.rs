//! Hostile input for the KOTS template evaluator (`helmkots::internals::plan::kots_template::render`).
//!
//! Property tests: any text renders or fails naming a line of the file; token soup from both
//! delimiters, keywords, quotes, pipes and every function name; text without a KOTS delimiter
//! comes back unchanged (Helm's own `{{ }}` included); config values holding templates. In
//! code: nesting, size, and output that grows exponentially with the template's length (run in
//! a child process under a memory limit, so that running out of memory fails one test instead
//! of killing the run). Corpus: `tests/corpus/templates/*.txt`, each with an `## expect:` first
//! line that is not part of the template.

use crate::common;

use std::{
    collections::BTreeMap,
    process::Command,
    time::{Duration, Instant},
};

use camino::Utf8Path;
use helmkots::internals::plan::kots_template::{render, Context, LocalRegistry, TemplateError};
use proptest::prelude::*;

const FILE: &str = "manifests/hostile.yaml";

/// The release the contexts come from: one item of each kind the functions read.
const RELEASE: &str = r#"
[app]
slug = "a"
title = "A"

[chart]
path = "c"
release_name = "r"

[images]
private = ["ghcr.io/acme/*"]

[[config.groups]]
name = "g"
title = "G"
  [[config.groups.items]]
  name = "text"
  type = "text"
  default = "hello"
  [[config.groups.items]]
  name = "flag"
  type = "bool"
  default = "1"
  [[config.groups.items]]
  name = "mode"
  type = "radio"
  default = "a"
  choices = [{ name = "a" }, { name = "b" }]
  [[config.groups.items]]
  name = "cert"
  type = "file"
  [[config.groups.items]]
  name = "secret"
  type = "password"
"#;

/// Online (no local registry) and airgap contexts, with `set` overriding item values.
fn contexts(set: &[(&str, &str)]) -> [Context; 2] {
    let release = helmkots::internals::input::release::parse(Utf8Path::new("release.toml"), RELEASE).unwrap();
    let set: BTreeMap<String, String> = set.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let online = Context::from_release(&release, &set).unwrap();
    let mut airgap = online.clone();
    airgap.local_registry =
        Some(LocalRegistry { host: "registry.local:5000".into(), namespace: "ns".into() });
    airgap.airgap = true;
    [online, airgap]
}

/// The only code that renders: checks the invariants of every outcome.
fn check(text: &str, ctx: &Context) -> Result<String, TemplateError> {
    let result = render(text, ctx, FILE);
    if let Err(error) = &result {
        assert_eq!(error.file, FILE);
        let last_line = text.matches('\n').count() + 1;
        assert!(error.line >= 1 && error.line <= last_line, "line {} of {last_line}: {error}", error.line);
        let message = error.to_string();
        assert!(message.starts_with(&format!("{FILE}:{}: ", error.line)), "{message}");
        assert!(message.len() > FILE.len() + 4, "empty message: {message}");
        // The token to blame, when there is one, is named in the message (it may be empty: `ConfigOption ""`).
        if let Some(token) = error.token() {
            assert!(message.contains(token), "{message} does not name {token:?}");
        }
    }
    result
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

const FUNCTIONS: &[&str] = &[
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "print",
    "println",
    "printf",
    "ConfigOption",
    "ConfigOptionEquals",
    "ConfigOptionNotEquals",
    "ConfigOptionData",
    "HasLocalRegistry",
    "LocalRegistryHost",
    "LocalRegistryNamespace",
    "LocalRegistryAddress",
    "LocalImageName",
    "ImagePullSecretName",
    "Namespace",
    "IsAirgap",
    "ToLower",
    "ToUpper",
    "TrimSpace",
    "Trim",
    "Base64Encode",
    "Base64Decode",
    "Split",
    "ParseBool",
    "ParseInt",
    "UrlEncode",
    "lower",
    "upper",
    "trim",
    "trimPrefix",
    "trimSuffix",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "replace",
    "quote",
    "squote",
    "default",
    "empty",
    "ternary",
    "toString",
    "toJson",
    "b64enc",
    "b64dec",
    "indent",
    "nindent",
    "range",
    "with",
    "define",
    "template",
    "block",
    "include",
    "tpl",
    "Bogus",
    "index",
    "slice",
    "call",
    "html",
    "js",
    "urlquery",
];

/// One token of template soup.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "{{repl", "{{repl-", "repl{{", "repl{{-", "}}", "-}}", " -}}", "{{", "{{-", " ", "\n", "\t",
            "if", "else", "end", "else if", "nil", "true", "false", "\"", "`", "'", "|", "(", ")", ",",
            "$", "$x", "$x :=", "$x =", ":=", "=", ".", ".Values.x", "/*", "*/", "\\", "\\x41", "\\u00e9",
            "\\U0001F600", "\\q", "0x", "0x1F", "1e400", "-1", "9223372036854775808", "3.14", "'a'",
            "'ab'", "\"text\"", "\"flag\"", "\"mode\"", "\"cert\"", "\"missing\"", "\"%s %d %5.2f %q %!\"",
            "`raw`", "é", "\u{0}", "\r\n",
        ])
        .prop_map(str::to_string),
        3 => prop::sample::select(FUNCTIONS.to_vec()).prop_map(str::to_string),
        1 => "[a-z0-9 ]{1,4}",
        1 => any::<i64>().prop_map(|i| i.to_string()),
    ]
}

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..40).prop_map(|tokens| tokens.join(""))
}

/// A well-formed action: one function applied to literal arguments, maybe piped.
fn action() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["{{repl ", "repl{{ "]),
        prop::sample::select(FUNCTIONS[..60].to_vec()),
        prop::collection::vec(
            prop_oneof![
                prop::sample::select(vec![
                    "\"text\"",
                    "\"flag\"",
                    "\"mode\"",
                    "\"cert\"",
                    "\"x\"",
                    "\"\"",
                    "1",
                    "0",
                    "-7",
                    "2.5",
                    "true",
                    "nil",
                    "\"nginx:1\"",
                    "\"a,b\"",
                    "\",\""
                ])
                .prop_map(str::to_string),
                "\"[a-zA-Z0-9 ,:/%.-]{0,8}\"",
            ],
            0..4,
        ),
        prop::option::of(prop::sample::select(FUNCTIONS[..60].to_vec())),
    )
        .prop_map(|(open, function, args, piped)| {
            let mut text = format!("{open}{function} {}", args.join(" "));
            if let Some(piped) = piped {
                text.push_str(&format!(" | {piped}"));
            }
            text.push_str(" }}");
            text
        })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_text_never_panics(text in any::<String>()) {
        for ctx in &contexts(&[]) {
            let _ = check(&text, ctx);
        }
    }

    /// Delimiters, keywords, quotes, escapes, numbers and function names in any order.
    #[test]
    fn token_soup_never_panics(text in soup()) {
        for ctx in &contexts(&[]) {
            let _ = check(&text, ctx);
        }
    }

    /// Any function with any literal arguments: a value or a located error, never a panic.
    #[test]
    fn any_function_call_never_panics(actions in prop::collection::vec(action(), 1..4), text in "[a-z :\n]{0,10}") {
        let template = actions.join(&text);
        for ctx in &contexts(&[]) {
            let _ = check(&template, ctx);
        }
    }

    /// Text without a KOTS delimiter (Helm's `{{ }}` included) comes back byte for byte.
    #[test]
    fn text_without_delimiters_is_unchanged(text in prop_oneof![any::<String>(), "([a-z {}.|\"$-]|\\{\\{|\\}\\}|repl|\\n){0,30}"]) {
        prop_assume!(!text.contains("{{repl") && !text.contains("repl{{"));
        for ctx in &contexts(&[]) {
            prop_assert_eq!(check(&text, ctx), Ok(text.clone()));
        }
    }

    /// Config values are data in the first pass but text in the second (as in KOTS): a value
    /// holding template soup renders or fails with a line of the original file.
    #[test]
    fn hostile_config_values(value in prop_oneof![soup(), any::<String>()], prefix_lines in 0usize..5) {
        let template = format!(
            "{}a: {{{{repl ConfigOption \"text\" }}}}\nb: repl{{{{ ConfigOption \"text\" | quote }}}}\nc: {{{{repl ConfigOptionData \"cert\" }}}}\n",
            "x\n".repeat(prefix_lines)
        );
        for ctx in &contexts(&[("text", &value), ("cert", &value)]) {
            let _ = check(&template, ctx);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Nesting and size, built in code.

fn check_in_time(name: &str, text: &str, limit: Duration) -> Result<String, TemplateError> {
    let [ctx, _] = contexts(&[]);
    let start = Instant::now();
    let result = check(text, &ctx);
    assert!(start.elapsed() < limit, "{name}: {} bytes took {:?}", text.len(), start.elapsed());
    result
}

#[test]
fn nesting_is_refused_at_any_depth() {
    for depth in [65, 1_000, 100_000] {
        let ifs = format!("{}x{}", "{{repl if true }}".repeat(depth), "{{repl end }}".repeat(depth));
        let unclosed = "{{repl if true }}".repeat(depth);
        let parens = format!("repl{{{{ {}1{} }}}}", "(".repeat(depth), ")".repeat(depth));
        let open_parens = format!("{{{{repl {} }}}}", "(".repeat(depth));
        let else_ifs = format!("{{{{repl if false }}}}{}", "{{repl else if (((((1))))) }}".repeat(depth));
        for (name, text) in
            [("ifs", ifs), ("unclosed ifs", unclosed), ("parens", parens), ("open parens", open_parens)]
        {
            let error = check_in_time(name, &text, Duration::from_secs(20)).unwrap_err().to_string();
            let clear = error.contains("nested too deeply") || error.contains("unbalanced parentheses");
            assert!(clear, "{name} × {depth}: {error}");
        }
        // A long `else if` chain is not nesting; unclosed, it is an error.
        let error = check_in_time("else ifs", &else_ifs, Duration::from_secs(20)).unwrap_err();
        assert!(error.to_string().contains("never closed"), "{error}");
    }
}

#[test]
fn large_templates_render_in_time() {
    let many = "{{repl ConfigOption \"text\" }} repl{{ print 1 }}\n".repeat(50_000);
    let output = check_in_time("100,000 actions", &many, Duration::from_secs(60)).unwrap();
    assert_eq!(output, "hello 1\n".repeat(50_000));
    let plain = "{{ .Values.x }} ".repeat(500_000);
    assert_eq!(check_in_time("plain 8 MB", &plain, Duration::from_secs(20)).unwrap(), plain);
    let string = format!("{{{{repl \"{}\" }}}}", "a".repeat(10 * 1024 * 1024));
    assert_eq!(
        check_in_time("10 MiB string", &string, Duration::from_secs(20)).unwrap().len(),
        10 * 1024 * 1024
    );
    // An error at the end of a long file names the last line.
    let late = format!("{}{{{{repl Bogus }}}}", "x\n".repeat(100_000));
    let error = check_in_time("late error", &late, Duration::from_secs(20)).unwrap_err();
    assert_eq!(error.line, 100_001);
    // Unclosed delimiters at the end.
    for tail in ["{{repl", "repl{{", "{{repl \"", "{{repl `", "{{repl /*", "{{repl-", "repl{{ 'a"] {
        let text = format!("{}{tail}", "ok\n".repeat(1_000));
        let error = check_in_time(tail, &text, Duration::from_secs(5)).unwrap_err();
        assert_eq!(error.line, 1_001, "{tail}: {error}");
    }
}

// ---------------------------------------------------------------------------------------------
// Output that grows exponentially with the length of the template. Each case runs in a child
// process of this test binary with at most 1 GiB of address space: a clear error passes, and
// running out of memory (an abort) fails the test with the case named.

/// The cases: name → template. Each is under 1,000 bytes and would print more than 10 GiB.
fn blow_ups() -> Vec<(&'static str, String)> {
    let fifty = "ab".repeat(50);
    vec![
        // 2 × 50^7 bytes.
        (
            "replace chain",
            format!("{{{{repl \"ab\"{} }}}}", format!(" | replace \"ab\" \"{fifty}\"").repeat(7)),
        ),
        // 2^34 bytes through a variable doubled 34 times.
        (
            "doubled variable",
            format!("{{{{repl $x := \"a\" }}}}{}{{{{repl $x }}}}", "{{repl $x = print $x $x }}".repeat(34)),
        ),
        // printf's width is capped, but not a chain of them.
        (
            "printf chain",
            format!(
                "{{{{repl $x := \"a\" }}}}{}{{{{repl len $x }}}}",
                "{{repl $x = printf \"%s%s%s%s%s%s%s%s\" $x $x $x $x $x $x $x $x }}".repeat(12)
            ),
        ),
    ]
}

#[test]
fn exponential_output_is_refused() {
    let exe = std::env::current_exe().unwrap();
    let mut failures = Vec::new();
    for (name, template) in blow_ups() {
        assert!(template.len() < 1_000, "{name} is {} bytes", template.len());
        let start = Instant::now();
        let output = Command::new("bash")
            .arg("-c")
            .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
            .arg(&exe)
            .args([
                "--exact",
                &crate::test_name(module_path!(), "blow_up_child"),
                "--nocapture",
                "--test-threads=1",
            ])
            .env("HOSTILE_BLOW_UP", name)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        // The harness prints `test blow_up_child ... ` on the same line before the child's output.
        let outcome =
            stdout.lines().find_map(|line| line.split_once("OUTCOME: ")).map(|(_, rest)| rest.to_string());
        match (output.status.success(), outcome) {
            (true, Some(outcome)) if outcome.starts_with("error ") => {}
            (_, outcome) => failures.push(format!(
                "{name} ({} bytes of template, {:?}): expected a clear error, got status {}, outcome {outcome:?}, stderr {:?}",
                template.len(),
                start.elapsed(),
                output.status,
                stderr.lines().filter(|line| !line.trim().is_empty()).take(3).collect::<Vec<_>>()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "templates whose output grows exponentially are not refused (no cap on the size of a value or of the output):\n{}",
        failures.join("\n")
    );
}

/// The child side of [`exponential_output_is_refused`]; does nothing in a normal run.
#[test]
fn blow_up_child() {
    let Ok(name) = std::env::var("HOSTILE_BLOW_UP") else { return };
    let (_, template) = blow_ups().into_iter().find(|(case, _)| *case == name).unwrap();
    let [ctx, _] = contexts(&[]);
    match check(&template, &ctx) {
        Ok(output) => println!("OUTCOME: ok {} bytes", output.len()),
        Err(error) => println!("OUTCOME: error {error}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Corpus.

/// `tests/corpus/templates/*.txt`. The first line, `## expect: ok OUTPUT` (OUTPUT with `\n`
/// escapes) or `## expect: err LINE NEEDLE...`, is not part of the template; lines are counted
/// from the line after it. Rendered in the online context.
#[test]
fn corpus() {
    let [ctx, _] = contexts(&[]);
    let (mut count, mut failures) = (0, Vec::new());
    for (name, file) in common::corpus("templates") {
        let (first, template) = file.split_once('\n').unwrap_or((&file, ""));
        let expect =
            first.strip_prefix("## expect: ").unwrap_or_else(|| panic!("{name}: no `## expect:` line"));
        count += 1;
        let (kind, rest) = expect.split_once(' ').unwrap_or((expect, ""));
        match (kind, std::panic::catch_unwind(|| check(template, &ctx))) {
            (_, Err(panic)) => {
                failures.push(format!("{name}: panicked: {:?}", panic.downcast_ref::<String>()))
            }
            ("ok", Ok(Ok(output))) if output == rest.replace("\\n", "\n") => {}
            ("err", Ok(Err(error))) => {
                let (line, needle) = rest.split_once(' ').unwrap_or((rest, ""));
                if error.line.to_string() != line || !error.to_string().contains(needle) {
                    failures.push(format!("{name}: expected line {line} and `{needle}`, got `{error}`"));
                }
            }
            (_, Ok(got)) => failures.push(format!("{name}: expected {expect}, got {got:?}")),
        }
    }
    assert!(count >= 25, "the corpus lost cases: {count}");
    assert!(
        failures.is_empty(),
        "{} of {count} corpus cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
