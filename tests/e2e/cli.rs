//! The command line as a user meets it: the task list, every task's `--help`, the shape of
//! every `--json` document, exit codes, `-q`/`-v` and colours.
//!
//! Golden files live in `tests/golden/cli/`: `help/*.txt` hold the help texts exactly, and
//! `json/*.json` the *shape* of each `--json` document (every key, with the type of its value;
//! a list shows the merged shape of its elements), so that values that change with the
//! example (digests, paths, versions) never break them. Run with `UPDATE_GOLDEN=1` to rewrite
//! them after a deliberate change, and review the diff: a changed JSON shape is a breaking
//! change for the scripts that read it (README.md, "JSON output").

use std::{fs, path::Path};

use helmkots_e2e::{golden_file, path_with_tools, testdir, TestCommand, TestDir};
use serde_json::{json, Value};

/// Every task, in the order `cargo xtask` lists them.
const TASKS: [&str; 12] = [
    "init", "check", "release", "preview", "verify", "inspect", "images", "lock", "image", "clean", "bench",
    "test",
];

/// Compares `actual` with the golden file `tests/golden/cli/<relative>` ([`golden_file`]).
fn check_golden(relative: &str, actual: &str) {
    if let Err(expected) = golden_file(&format!("cli/{relative}"), actual) {
        panic!(
            "tests/golden/cli/{relative} differs from the output (run with UPDATE_GOLDEN=1 to accept it):\n--- golden\n{expected}\n--- actual\n{actual}"
        );
    }
}

/// The shape of a JSON value: every scalar replaced by its type, every list by the merged
/// shape of its elements.
fn shape(value: &Value) -> Value {
    match value {
        Value::Null => json!("<null>"),
        Value::Bool(_) => json!("<bool>"),
        Value::Number(number) if number.is_f64() => json!("<number>"),
        Value::Number(_) => json!("<integer>"),
        Value::String(_) => json!("<string>"),
        Value::Array(items) => {
            let merged = items.iter().map(shape).reduce(merge);
            json!(merged.into_iter().collect::<Vec<_>>())
        }
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
    }
}

/// Two shapes as one: objects by key, lists by element, differing types as `<a|b>`.
fn merge(left: Value, right: Value) -> Value {
    match (left, right) {
        (Value::Object(mut left), Value::Object(right)) => {
            for (key, value) in right {
                let merged = match left.remove(&key) {
                    Some(existing) => merge(existing, value),
                    None => value,
                };
                left.insert(key, merged);
            }
            Value::Object(left)
        }
        (Value::Array(left), Value::Array(right)) => {
            json!(left.into_iter().chain(right).reduce(merge).into_iter().collect::<Vec<_>>())
        }
        (left, right) if left == right => left,
        (Value::String(left), Value::String(right)) => {
            let mut kinds: Vec<&str> = left
                .trim_matches(['<', '>'])
                .split('|')
                .chain(right.trim_matches(['<', '>']).split('|'))
                .collect();
            kinds.sort_unstable();
            kinds.dedup();
            json!(format!("<{}>", kinds.join("|")))
        }
        (left, right) => json!(format!("<{}|{}>", describe(&left), describe(&right))),
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "object",
        Value::Array(_) => "list",
        _ => "scalar",
    }
}

fn check_json_shape(name: &str, document: &Value) {
    let mut text = serde_json::to_string_pretty(&shape(document)).unwrap();
    text.push('\n');
    check_golden(&format!("json/{name}.json"), &text);
}

fn xtask(dir: &Path) -> TestCommand {
    TestCommand::new(dir)
}

fn example() -> TestDir {
    let dir = testdir!();
    dir.copy_example();
    dir
}

// --- help ---------------------------------------------------------------------------------------

#[test]
fn no_arguments_and_help_list_the_tasks() {
    let dir = testdir!();
    let listing = xtask(dir.path()).run();
    listing.assert_code(0);
    check_golden("help/tasks.txt", &listing.stdout);
    for task in TASKS {
        let line = listing.stdout.lines().find(|line| line.split_whitespace().next() == Some(task));
        assert!(line.is_some(), "task {task} is not listed:\n{}", listing.stdout);
    }
    for args in [&["--help"][..], &["-h"], &["help"]] {
        let output = xtask(dir.path()).args(args).run();
        output.assert_code(0);
        assert_eq!(output.stdout, listing.stdout, "`xtask {}` should print the task list", args.join(" "));
    }
}

#[test]
fn every_task_has_help_with_an_example() {
    let dir = testdir!();
    for task in TASKS {
        let output = xtask(dir.path()).args([task, "--help"]).run();
        output.assert_code(0);
        assert!(
            output.stdout.contains("EXAMPLES:\n  cargo xtask "),
            "{task} --help has no example:\n{}",
            output.stdout
        );
        assert!(output.stdout.contains("-q, --quiet"), "{task} --help lacks the global options");
        check_golden(&format!("help/{task}.txt"), &output.stdout);
        let same = xtask(dir.path()).args(["help", task]).run();
        assert_eq!(same.stdout, output.stdout, "`help {task}` and `{task} --help` differ");
    }
}

// --- exit codes, -q, -v, colours ----------------------------------------------------------------

#[test]
fn bad_usage_exits_with_2_and_points_at_help() {
    let dir = example();
    for args in [&["no-such-task"][..], &["check", "--no-such-flag"], &["init"], &["verify"]] {
        dir_command(&dir, args).run().assert_code(2).assert_stderr_contains("--help");
    }
}

fn dir_command(dir: &TestDir, args: &[&str]) -> TestCommand {
    let mut command = xtask(dir.path());
    command.args(args);
    command
}

#[test]
fn bad_input_exits_with_2_and_a_finding_with_1() {
    let dir = example();
    let text = dir.read("release.toml").replace("title = \"Demo App\"", "title = \"Demo App\"\nicno = \"x\"");
    dir.write("release.toml", text);
    dir.xtask("check").run().assert_code(2).assert_stderr_contains("did you mean `icon`?");
    dir.xtask("release").arg("--offline").run().assert_code(2);
    let json = dir.xtask("check").arg("--json").run();
    json.assert_code(2);
    let json = json.json();
    assert_eq!(json["valid"], false);
    assert_eq!(json["problems"][0]["message"], "unknown key `icno`", "{json:#}");
    let line = dir.read("release.toml").lines().position(|l| l.starts_with("icno")).unwrap() + 1;
    assert_eq!(json["problems"][0]["line"], line, "{json:#}");
    check_json_shape("check-invalid", &json);

    // In JSON mode an error is a JSON document too, on stdout.
    let output = dir.xtask("release").args(["--offline", "--json"]).run();
    output.assert_code(2);
    let error = output.json();
    assert_eq!(error["error"]["exit_code"], 2, "{error:#}");
    assert_eq!(error["error"]["problems"][0]["message"], "unknown key `icno`", "{error:#}");
    check_json_shape("error", &error);

    let bundle = bogus_bundle(&dir);
    let output = dir.xtask("verify").arg(&bundle).run();
    output.assert_code(1).assert_stderr_contains("✗");
}

/// An airgap bundle that names an image it does not hold: `verify` finds one problem.
fn bogus_bundle(dir: &TestDir) -> std::path::PathBuf {
    let yaml = "apiVersion: kots.io/v1beta1\nkind: Airgap\nspec:\n  appSlug: demo-app\n  savedImages:\n    - busybox:1.36.1\n";
    let path = dir.join("bogus.airgap");
    let file = fs::File::create(&path).unwrap();
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::default()));
    let mut header = tar::Header::new_gnu();
    header.set_size(yaml.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    archive.append_data(&mut header, "airgap.yaml", yaml.as_bytes()).unwrap();
    archive.into_inner().unwrap().finish().unwrap();
    path
}

#[test]
fn quiet_verbose_and_colours() {
    let dir = example();
    let quiet = dir.xtask("check").arg("-q").run();
    quiet.assert_success();
    assert_eq!(quiet.stderr, "", "-q should print nothing on success");
    let quiet = dir.xtask("release").args(["--offline", "--no-proof", "-q"]).run();
    quiet.assert_success();
    assert!(!quiet.stderr.contains("✓"), "-q should not print result lines:\n{}", quiet.stderr);

    let normal = dir.xtask("release").args(["--offline", "--no-proof"]).run();
    normal.assert_success();
    assert!(!normal.stderr.contains("demo-app-1.4.2.tgz"), "the output list is for -v:\n{}", normal.stderr);
    let verbose = dir.xtask("release").args(["--offline", "--no-proof", "-v"]).run();
    verbose
        .assert_success()
        .assert_stderr_contains("charts/demo-app-1.4.2.tgz")
        .assert_stderr_contains("kots-app.yaml");

    // stderr is a pipe here, not a terminal: never colours, with or without NO_COLOR.
    for no_color in ["", "1"] {
        let output = dir.xtask("check").env("NO_COLOR", no_color).arg("--no-such-flag").run();
        assert!(
            !output.stderr.contains('\u{1b}'),
            "colours on a pipe (NO_COLOR={no_color:?}):\n{}",
            output.stderr
        );
        let text = dir.read("release.toml").replace("slug = \"demo-app\"", "slug = \"Demo\"");
        let bad = example_with(&text);
        let output = bad.xtask("check").env("NO_COLOR", no_color).run();
        output.assert_code(2);
        assert!(
            !output.stderr.contains('\u{1b}'),
            "colours on a pipe (NO_COLOR={no_color:?}):\n{}",
            output.stderr
        );
    }
}

fn example_with(release_toml: &str) -> TestDir {
    let dir = TestDir::new("example_with");
    dir.copy_example();
    dir.write("release.toml", release_toml);
    dir
}

// --- JSON shapes --------------------------------------------------------------------------------

#[test]
fn json_shapes_are_stable() {
    let dir = example();

    let check = dir.xtask("check").arg("--json").run().assert_success().json();
    assert_eq!(check["valid"], true);
    check_json_shape("check", &check);

    let images = dir.xtask("images").arg("--json").run().assert_success().json();
    check_json_shape("images", &images);

    let preview = dir.xtask("preview").arg("--json").run().assert_success().json();
    assert!(preview["values"].as_str().is_some_and(|v| !v.is_empty()), "{preview:#}");
    check_json_shape("preview", &preview);

    let release = dir
        .xtask("release")
        .args(["--offline", "--json"])
        .env("PATH", path_with_tools())
        .run()
        .assert_success()
        .json();
    assert_eq!(release["up_to_date"], false, "{release:#}");
    assert!(release["proof"].is_object(), "with helm on PATH the proof runs: {release:#}");
    let tree = dir.join("dist/demo-app-1.4.2");
    assert_eq!(Path::new(release["dir"].as_str().unwrap()), tree);
    let record: Value = serde_json::from_str(&dir.read("dist/demo-app-1.4.2/release.lock.json")).unwrap();
    assert_eq!(release["record"], record, "`record` is the build record");
    check_json_shape("release", &release);

    let proof =
        dir.xtask("verify").arg(&tree).args(["--proof", "--json"]).env("PATH", path_with_tools()).run();
    let proof = proof.assert_success().json();
    check_json_shape("verify-proof", &proof);

    let inspect = dir.xtask("inspect").arg(&tree).arg("--json").run().assert_success().json();
    check_json_shape("inspect", &inspect);
    let clean = dir.xtask("clean").args(["--dry-run", "--json"]).run().assert_success().json();
    check_json_shape("clean", &clean);

    let bundle = bogus_bundle(&dir);
    let verify = dir.xtask("verify").arg(&bundle).arg("--json").run();
    verify.assert_code(1);
    check_json_shape("verify", &verify.json());

    let vendor = TestDir::new("json_init");
    vendor.copy_example();
    vendor.remove("release.toml");
    let init =
        vendor.xtask("init").args(["--chart", "charts/demo-app", "--json"]).run().assert_success().json();
    check_json_shape("init", &init);
}

#[test]
fn shapes_merge_list_elements() {
    let value = json!({"a": [{"x": 1}, {"y": "s", "x": null}], "b": [], "c": 1.5});
    let expected = json!({"a": [{"x": "<integer|null>", "y": "<string>"}], "b": [], "c": "<number>"});
    assert_eq!(shape(&value), expected);
}

/// Runs `xtask ARGS` on a pseudo-terminal (util-linux `script`), with `NO_COLOR` unset or
/// set, and returns what the terminal showed.
fn on_a_terminal(dir: &TestDir, args: &str, no_color: Option<&str>) -> Option<String> {
    let script = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("script"))
        .find(|path| path.is_file())?;
    let env = match no_color {
        Some(value) => format!("env NO_COLOR={value}"),
        None => "env -u NO_COLOR".to_string(),
    };
    let command = format!("{env} {} {args}", helmkots_e2e::xtask_bin().display());
    let output = std::process::Command::new(script)
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("cannot run script");
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn colours_on_a_terminal_unless_no_color() {
    let dir = example();
    let text = dir.read("release.toml").replace("slug = \"demo-app\"", "slug = \"Demo\"");
    dir.write("release.toml", text);
    let release = dir.join("release.toml");
    for args in ["check --no-such-flag".to_string(), format!("check -f {}", release.display())] {
        let Some(coloured) = on_a_terminal(&dir, &args, None) else {
            eprintln!("skipping: no `script` (util-linux) to run xtask on a pseudo-terminal");
            return;
        };
        assert!(coloured.contains("\u{1b}["), "no colours on a terminal for `{args}`:\n{coloured}");
        let plain = on_a_terminal(&dir, &args, Some("1")).unwrap();
        assert!(!plain.contains("\u{1b}["), "colours despite NO_COLOR=1 for `{args}`:\n{plain}");
        assert!(plain.contains("error"), "{plain}");
    }
}
