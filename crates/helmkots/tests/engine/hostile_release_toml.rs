//! Hostile input for the release.toml parser (`helmkots::internals::input::release::parse`).
//!
//! Property tests: any text parses or fails with problems whose spans lie inside the text, on
//! character boundaries; TOML built from the release's own keys and hostile values; values
//! paths written in every TOML string form; truncated documents. In code: nesting far past any
//! limit, huge strings, many items. Corpus: `tests/corpus/release_toml/*.toml`, each with an
//! `# expect:` comment on its first line.

use crate::common;

use std::time::{Duration, Instant};

use camino::Utf8Path;
use helmkots::{diagnostic::FileProblems, internals::input::release::Release};
use proptest::prelude::*;

/// The only code that calls the parser: checks the invariants of every error and returns it.
fn check(text: &str) -> Result<Release, FileProblems> {
    let result = helmkots::internals::input::release::parse(Utf8Path::new("release.toml"), text);
    match &result {
        Ok(release) => {
            assert!(!release.app.title.trim().is_empty());
            assert!(helmkots::internals::input::release::dns_label(release.app.slug.get_ref(), 63).is_ok());
            for item in release.config.iter().flat_map(|group| &group.items) {
                if let Some(path) = &item.value {
                    assert!(!path.segments().is_empty());
                }
            }
        }
        Err(problems) => {
            assert!(!problems.problems.is_empty(), "an error without problems");
            assert_eq!(&*problems.file.text, text);
            for problem in &problems.problems {
                assert!(!problem.message.trim().is_empty(), "empty message: {problem:?}");
                if let Some(span) = &problem.span {
                    assert!(
                        span.start <= span.end && span.end <= text.len(),
                        "span {span:?} outside the text: {problem:?}"
                    );
                    assert!(
                        text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
                        "span {span:?} splits a character of {:?}: {problem:?}",
                        text.get(span.start.saturating_sub(8)..(span.end + 8).min(text.len()))
                    );
                }
            }
            let lines = problems.located_lines();
            assert_eq!(lines.len(), problems.problems.len());
            assert!(lines.iter().all(|line| line.starts_with("release.toml:")), "{lines:?}");
        }
    }
    result
}

const MINIMAL: &str = "[app]\nslug = \"a\"\ntitle = \"A\"\n\n[chart]\npath = \"c\"\nrelease_name = \"r\"\n";

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------------------------
// Generators.

/// String contents with the characters TOML and our checks care about.
fn hostile_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-z0-9]{1,4}",
            "[A-Z_.-]{1,2}",
            Just("é".to_string()),
            Just("\u{1F600}".to_string()),
            Just("\u{feff}".to_string()),
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("\\".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just("\t".to_string()),
            Just("\u{0}".to_string()),
            Just("[0]".to_string()),
            Just("..".to_string()),
            Just("{{repl ConfigOption \"x\" }}".to_string()),
        ],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

/// A string written in one of TOML's four forms (escaped where the form needs it; a literal
/// form that cannot hold the text falls back to a basic string).
fn toml_string(text: String, form: u8) -> String {
    let basic = |text: &str, multiline: bool| {
        let mut out = String::new();
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' if multiline => out.push('\n'),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() || c == '\u{feff}' => out.push_str(&format!("\\u{:04X}", c as u32)),
                c if !c.is_ascii() && form == 4 => out.push_str(&format!("\\U{:08X}", c as u32)),
                c => out.push(c),
            }
        }
        out
    };
    let literal_ok = !text.contains(['\'', '\n', '\r']) && !text.chars().any(|c| c.is_control() && c != '\t');
    match form {
        1 if literal_ok => format!("'{text}'"),
        2 => format!("\"\"\"\n{}\"\"\"", basic(&text, true)),
        3 if literal_ok => format!("'''{text}'''"),
        _ => format!("\"{}\"", basic(&text, false)),
    }
}

/// A TOML value: strings in every form, numbers at and past the limits, dates, arrays, tables.
fn toml_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (hostile_text(), 0u8..5).prop_map(|(text, form)| toml_string(text, form)),
        any::<i64>().prop_map(|i| i.to_string()),
        Just("99999999999999999999".to_string()),
        Just("-1".to_string()),
        Just("0x7FFFFFFF".to_string()),
        Just("1_000".to_string()),
        Just("nan".to_string()),
        Just("-inf".to_string()),
        Just("1e400".to_string()),
        Just("3.14".to_string()),
        Just("true".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("07:32:00".to_string()),
        Just("".to_string()),
        Just("\"unterminated".to_string()),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec(("[a-z]{1,4}", inner), 0..3).prop_map(|entries| {
                let entries: Vec<String> = entries.into_iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("{{ {} }}", entries.join(", "))
            }),
        ]
    })
}

/// A key: the release's own keys (so deeper checks run), near misses, and odd TOML keys.
fn toml_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "slug",
            "title",
            "icon",
            "version",
            "status_informers",
            "path",
            "release_name",
            "namespace",
            "values",
            "helm_args",
            "base",
            "name",
            "workdir",
            "platform",
            "service_account",
            "backoff_limit",
            "discover",
            "include",
            "exclude",
            "proxy",
            "private",
            "platforms",
            "groups",
            "items",
            "type",
            "default",
            "value",
            "when",
            "choices",
            "secret",
            "required",
            "hidden",
            "readonly",
            "help_text",
            "description",
            "channel_id",
            "channel_name",
            "update_cursor",
            "release_notes",
            "slgu",
            "tilte",
            "Slug",
            "\"slug\"",
            "'title'",
            "a.b",
            "\"\"",
            "\"é\"",
            "1",
            "-",
        ])
        .prop_map(str::to_string),
        "[a-z_]{1,10}",
    ]
}

fn table_header() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "[app]",
        "[chart]",
        "[chart.values]",
        "[chart.values.a.b]",
        "[helm_cli]",
        "[job]",
        "[images]",
        "[airgap]",
        "[config]",
        "[[config.groups]]",
        "[[config.groups.items]]",
        "[[config.groups.items.choices]]",
        "[[app]]",
        "[app.slug]",
        "[nope]",
        "[",
        "[[]]",
    ])
    .prop_map(str::to_string)
}

/// A document: the minimal release, then random headers and `key = value` lines.
fn document() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            1 => table_header(),
            4 => (toml_key(), toml_value()).prop_map(|(key, value)| format!("{key} = {value}")),
        ],
        0..12,
    )
    .prop_map(|lines| format!("{MINIMAL}{}\n", lines.join("\n")))
}

/// A config item whose fields come from the generators.
fn config_item() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("\"item\"".to_string()), (hostile_text(), 0u8..5).prop_map(|(t, f)| toml_string(t, f))],
        prop::sample::select(vec!["text", "bool", "select_one", "label", "password", "file", "texte", ""]),
        prop::option::of(toml_value()),
        prop::option::of((hostile_text(), 0u8..5).prop_map(|(t, f)| toml_string(t, f))),
        prop::option::of(prop::collection::vec("[a-z]{0,3}", 0..3)),
    )
        .prop_map(|(name, item_type, default, value, choices)| {
            let mut text = format!(
                "{MINIMAL}\n[[config.groups]]\nname = \"g\"\ntitle = \"G\"\n[[config.groups.items]]\nname = {name}\ntype = \"{item_type}\"\n"
            );
            if let Some(default) = default {
                text.push_str(&format!("default = {default}\n"));
            }
            if let Some(value) = value {
                text.push_str(&format!("value = {value}\n"));
            }
            if let Some(choices) = choices {
                let choices: Vec<String> = choices.iter().map(|c| format!("{{ name = \"{c}\" }}")).collect();
                text.push_str(&format!("choices = [{}]\n", choices.join(", ")));
            }
            text
        })
}

/// A malformed values path is underlined where the mistake is, whatever TOML string form
/// holds it (escapes and `"""` change the distance from the quote to the mistake).
#[test]
fn values_path_problems_point_at_the_mistake() {
    // (the `value = ...` line(s), the 1-based line and column of the mistake)
    let cases = [
        (r#"value = "a..b""#, (16, 12)),
        (r#"value = 'a..b'"#, (16, 12)),
        (r#"value = "\u0061..b""#, (16, 17)),
        (r#"value = "\t..b""#, (16, 10)),
        (r#"value = """a..b""""#, (16, 14)),
        (r#"value = '''a..b'''"#, (16, 14)),
        ("value = \"\"\"\na..b\"\"\"", (17, 3)),
    ];
    let mut wrong = Vec::new();
    for (line, (want_line, want_column)) in cases {
        let text = format!(
            "# header\n{MINIMAL}\n[[config.groups]]\nname = \"g\"\ntitle = \"G\"\n[[config.groups.items]]\nname = \"i\"\ntype = \"text\"\n{line}\n"
        );
        let problems = check(&text).unwrap_err();
        let problem = problems.problems.iter().find(|p| p.message.contains("malformed values path")).unwrap();
        let at = problems.file.line_col(problem.span.clone().unwrap().start);
        if at != (want_line, want_column) {
            wrong.push(format!(
                "`{line}`: underlined at {at:?}, the mistake is at {:?}",
                (want_line, want_column)
            ));
        }
    }
    assert!(wrong.is_empty(), "values path problems point at the wrong place:\n{}", wrong.join("\n"));
}

/// Messages that break the one-line contract of `Problem::message` ("What is wrong, in one
/// line"): a newline there splits a `cargo:warning=` line of build.rs in two.
fn multi_line_messages(problems: &FileProblems) -> Vec<String> {
    problems
        .problems
        .iter()
        .filter(|problem| problem.message.contains(['\n', '\r']))
        .map(|problem| format!("multi-line message {:?}", problem.message))
        .collect()
}

/// A release with every table, for truncation.
const FULL: &str = include_str!("../corpus/release_toml/ok_every_table.toml");

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_text_never_panics(text in any::<String>()) {
        let _ = check(&text);
    }

    #[test]
    fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = check(&String::from_utf8_lossy(&bytes));
    }

    /// The minimal release plus random tables and keys: valid or located problems.
    #[test]
    fn release_keys_with_hostile_values(text in document()) {
        let _ = check(&text);
    }

    /// Config items with values paths in every TOML string form: problems stay on the text.
    #[test]
    fn config_items_with_hostile_fields(text in config_item()) {
        let _ = check(&text);
    }

    /// Names quoted in messages keep the message on one line, whatever they hold.
    #[test]
    fn messages_stay_on_one_line(name in hostile_text()) {
        let text = format!(
            "{MINIMAL}[[config.groups]]\nname = {}\ntitle = \"G\"\n",
            toml_string(name, 0)
        );
        if let Err(problems) = check(&text) {
            let broken = multi_line_messages(&problems);
            prop_assert!(broken.is_empty(), "{}", broken.join("\n"));
        }
    }

    /// A complete release cut anywhere.
    #[test]
    fn truncated_release(cut in 0usize..FULL.len()) {
        let mut cut = cut;
        while !FULL.is_char_boundary(cut) {
            cut -= 1;
        }
        let _ = check(&FULL[..cut]);
    }

    /// One byte of a complete release replaced by a hostile character.
    #[test]
    fn mutated_release(at in 0usize..FULL.len(), replacement in prop::sample::select(vec!["\"", "'", "[", "]", "=", "\n", "#", "\\", "é", "{", "}", ",", ".", " ", ""])) {
        let mut at = at;
        while !FULL.is_char_boundary(at) {
            at -= 1;
        }
        let end = FULL[at..].chars().next().map_or(at, |c| at + c.len_utf8());
        let _ = check(&format!("{}{replacement}{}", &FULL[..at], &FULL[end..]));
    }
}

// ---------------------------------------------------------------------------------------------
// Large and deep inputs, built in code.

/// Text that must be refused (or accepted) within `limit`, never overflow the stack.
fn check_in_time(name: &str, text: &str, limit: Duration) -> Result<Release, FileProblems> {
    let start = Instant::now();
    let result = check(text);
    let elapsed = start.elapsed();
    assert!(elapsed < limit, "{name}: {} bytes took {elapsed:?}", text.len());
    result
}

#[test]
fn deep_nesting_is_refused() {
    let deep = 100_000;
    let cases = [
        ("arrays", format!("{MINIMAL}[chart.values]\na = {}1{}\n", "[".repeat(deep), "]".repeat(deep))),
        (
            "inline tables",
            format!("{MINIMAL}[chart.values]\n{}\n", "a = { ".repeat(deep) + "b = 1" + &" }".repeat(deep)),
        ),
        ("dotted keys", format!("{MINIMAL}[chart.values]\n{} = 1\n", vec!["a"; deep].join("."))),
        ("table header", format!("{MINIMAL}[chart.values.{}]\nb = 1\n", vec!["a"; deep].join("."))),
        ("array of tables", format!("{MINIMAL}[[chart.values.{}]]\nb = 1\n", vec!["a"; deep].join("."))),
        ("unclosed arrays", format!("{MINIMAL}[chart.values]\na = {}\n", "[".repeat(deep))),
        ("unclosed inline tables", format!("{MINIMAL}[chart.values]\na = {}\n", "{ a = ".repeat(deep))),
    ];
    for (name, text) in cases {
        let error = check_in_time(name, &text, Duration::from_secs(10)).err();
        assert!(error.is_some(), "{name}: {deep} levels were accepted");
    }
    // Nesting that TOML allows and Helm values use is kept.
    let shallow = 40;
    let text = format!("{MINIMAL}[chart.values]\na = {}1{}\n", "[".repeat(shallow), "]".repeat(shallow));
    assert!(check_in_time("40 arrays", &text, Duration::from_secs(5)).is_ok());
}

#[test]
fn huge_inputs_are_handled_in_time() {
    let big = "x".repeat(10 * 1024 * 1024);
    // A 10 MiB title is accepted; a 10 MiB slug is refused with its length.
    let text = MINIMAL.replace("title = \"A\"", &format!("title = \"{big}\""));
    assert!(check_in_time("10 MiB title", &text, Duration::from_secs(20)).is_ok());
    let text = MINIMAL.replace("slug = \"a\"", &format!("slug = \"{big}\""));
    let problems = check_in_time("10 MiB slug", &text, Duration::from_secs(20)).unwrap_err();
    assert!(problems.to_string().contains("more than 63"), "{problems}");
    // A 10 MiB values path.
    let text = format!(
        "{MINIMAL}[[config.groups]]\nname = \"g\"\ntitle = \"G\"\n[[config.groups.items]]\nname = \"i\"\ntype = \"text\"\nvalue = \"{}..\"\n",
        "a".repeat(10 * 1024 * 1024)
    );
    let problems = check_in_time("10 MiB values path", &text, Duration::from_secs(20)).unwrap_err();
    assert!(problems.to_string().contains("malformed values path"));
    // 20,000 config items, half of them duplicates: every duplicate reported.
    let mut text = format!("{MINIMAL}[[config.groups]]\nname = \"g\"\ntitle = \"G\"\n");
    for i in 0..20_000 {
        text.push_str(&format!("[[config.groups.items]]\nname = \"i{}\"\ntype = \"text\"\n", i % 10_000));
    }
    let problems = check_in_time("20,000 items", &text, Duration::from_secs(30)).unwrap_err();
    assert_eq!(problems.problems.len(), 10_000);
    // 100,000 lines of comments and blank lines.
    let text = format!("{}{MINIMAL}", "# comment\n\n".repeat(100_000));
    assert!(check_in_time("100,000 comments", &text, Duration::from_secs(10)).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Corpus.

/// `tests/corpus/release_toml/*.toml`. The first line is `# expect: ok` or
/// `# expect: err LINE NEEDLE...`: some problem must be on LINE (1-based) and contain NEEDLE.
#[test]
fn corpus() {
    let (mut count, mut failures) = (0, Vec::new());
    for (name, text) in common::corpus("release_toml") {
        let first = text.trim_start_matches('\u{feff}').lines().next().unwrap_or_default();
        let expect =
            first.strip_prefix("# expect: ").unwrap_or_else(|| panic!("{name}: no `# expect:` line"));
        let words: Vec<&str> = expect.trim_end_matches('\r').split_whitespace().collect();
        count += 1;
        match (words[0], std::panic::catch_unwind(|| check(&text))) {
            (_, Err(panic)) => failures.push(format!("{name}: panicked: {}", panic_message(&*panic))),
            ("ok", Ok(Ok(_))) => {}
            ("err", Ok(Err(problems))) => {
                failures.extend(multi_line_messages(&problems).into_iter().map(|m| format!("{name}: {m}")));
                let prefix = format!("release.toml:{}:", words[1]);
                let needle = words[2..].join(" ");
                let lines = problems.located_lines();
                if !lines.iter().any(|line| line.starts_with(&prefix) && line.contains(&needle)) {
                    failures
                        .push(format!("{name}: expected `{needle}` on line {}, got {lines:#?}", words[1]));
                }
            }
            (want, Ok(got)) => failures.push(format!(
                "{name}: expected {want}, got {}",
                match got {
                    Ok(_) => "ok".to_string(),
                    Err(problems) => problems.to_string(),
                }
            )),
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

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".to_string())
}

/// `[chart.values]` become the chart's static values: TOML types Helm cannot hold must not
/// turn into something else silently.
#[test]
fn static_values_keep_their_meaning() {
    let cases = [
        ("when = 1979-05-27T07:32:00Z", "when", "a TOML datetime"),
        ("when = 1979-05-27", "when", "a TOML local date"),
        ("ratio = nan", "ratio", "a TOML nan"),
        ("ratio = -inf", "ratio", "a TOML infinity"),
    ];
    let mut problems = Vec::new();
    for (line, key, what) in cases {
        match check(&format!("{MINIMAL}[chart.values]\n{line}\n")) {
            // Refusing it with a located problem is as good as keeping it.
            Err(_) => {}
            Ok(release) => match release.chart.values.get(key) {
                Some(serde_json::Value::String(_) | serde_json::Value::Number(_)) => {}
                other => problems.push(format!(
                    "{what} (`{line}`) in [chart.values] silently became {other:?} in the chart's static \
                     values (expected a string or number, or a located problem)"
                )),
            },
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
