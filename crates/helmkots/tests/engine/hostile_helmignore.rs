//! Hostile input for `.helmignore` (`helmkots::internals::input::helmignore`): parsing and matching.
//!
//! Property tests: any text parses or fails naming a line that exists and its pattern; any
//! path can be asked about; literal names, `*` and anchored patterns behave as Helm's do;
//! pathological patterns finish quickly. Corpus: `tests/corpus/helmignore/*.helmignore`, each
//! with `# expect:` and `# ignored:` / `# kept:` lines (comments, so the file is its own case).

use crate::common;

use std::time::{Duration, Instant};

use helmkots::internals::input::helmignore::{HelmIgnore, HelmIgnoreError};
use proptest::prelude::*;

/// The only code that parses: checks the invariants of an error.
fn check(text: &str) -> Result<HelmIgnore, HelmIgnoreError> {
    let result = HelmIgnore::parse(text);
    if let Err(error) = &result {
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            error.line >= 1 && error.line <= lines.len(),
            "line {} of {}: {error}",
            error.line,
            lines.len()
        );
        let line = lines[error.line - 1];
        let line = if error.line == 1 { line.trim_start_matches('\u{feff}') } else { line };
        assert_eq!(error.pattern, line.trim(), "the error quotes another line");
        assert!(!error.reason.is_empty());
        assert!(error.to_string().starts_with(&format!("line {}: ", error.line)));
    }
    result
}

/// The only code that matches.
fn ignored(rules: &HelmIgnore, path: &str, is_dir: bool) -> bool {
    rules.is_ignored(path, is_dir)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Pattern-ish lines: Go `filepath.Match` syntax, markers and junk.
fn pattern_line() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-z.]{1,3}",
            Just("*".to_string()),
            Just("?".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("^".to_string()),
            Just("-".to_string()),
            Just("\\".to_string()),
            Just("/".to_string()),
            Just("!".to_string()),
            Just("#".to_string()),
            Just(" ".to_string()),
            Just("é".to_string()),
            Just("\r".to_string()),
        ],
        0..10,
    )
    .prop_map(|parts| parts.concat())
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof!["[a-z.]{0,4}", Just("*".to_string()), Just("é".to_string()), Just("\\".to_string())],
        0..5,
    )
    .prop_map(|parts| parts.join("/"))
}

proptest! {
    #![proptest_config(config(256))]

    /// Any text: rules or an error naming a real line; any path can then be asked about.
    #[test]
    fn any_text_never_panics(text in any::<String>(), path in any::<String>(), is_dir: bool) {
        if let Ok(rules) = check(&text) {
            let _ = ignored(&rules.with_defaults(), &path, is_dir);
        }
    }

    /// Pattern-ish lines against path-ish names: never a panic, and the default rule stays.
    #[test]
    fn pattern_lines_never_panic(
        lines in prop::collection::vec(pattern_line(), 0..6),
        paths in prop::collection::vec(path(), 1..6),
        is_dir: bool,
    ) {
        if let Ok(rules) = check(&lines.join("\n")) {
            let rules = rules.with_defaults();
            for path in &paths {
                let _ = ignored(&rules, path, is_dir);
            }
            // Helm's default rule ignores dotfiles in templates/ whatever the user wrote: every
            // earlier rule either ignores the file too or lets it through.
            prop_assert!(ignored(&rules, "templates/.hidden", false));
        }
    }

    /// A plain name ignores exactly the paths whose last element is that name.
    #[test]
    fn literal_names_match_base_names(name in "[a-z0-9_]{1,8}", dirs in prop::collection::vec("[a-z0-9_]{1,5}", 0..4), other in "[a-z0-9_]{1,8}") {
        let rules = check(&name).unwrap();
        let mut path = dirs.join("/");
        if !path.is_empty() {
            path.push('/');
        }
        let (same, different) = (format!("{path}{name}"), format!("{path}{other}"));
        prop_assert!(ignored(&rules, &same, false), "{} should be ignored", same);
        prop_assert_eq!(ignored(&rules, &different, false), other == name, "{}", different);
    }

    /// `/name` is anchored at the chart root.
    #[test]
    fn anchored_names_match_at_the_root_only(name in "[a-z0-9_]{1,8}", dir in "[a-z0-9_]{1,5}") {
        let rules = check(&format!("/{name}")).unwrap();
        prop_assert!(ignored(&rules, &name, false));
        let nested = format!("{dir}/{name}");
        prop_assert!(!ignored(&rules, &nested, false), "{} should be kept", nested);
    }

    /// The chart root is never ignored, whatever the rules.
    #[test]
    fn root_is_never_ignored(lines in prop::collection::vec(pattern_line(), 0..6)) {
        if let Ok(rules) = check(&lines.join("\n")) {
            for root in ["", ".", "./"] {
                prop_assert!(!ignored(&rules.clone().with_defaults(), root, true));
            }
        }
    }
}

/// Patterns built to make a backtracking matcher explode finish quickly.
#[test]
fn pathological_patterns_finish_quickly() {
    let star_chain = "*a".repeat(2_000) + "b";
    let long_name = "a".repeat(20_000);
    let class_chain = "[a-z]".repeat(5_000);
    let cases: Vec<(String, String)> = vec![
        (star_chain.clone(), long_name.clone()),
        (format!("/{star_chain}"), long_name.clone()),
        (format!("{}/x", "*?".repeat(1_000)), format!("{long_name}/x")),
        (class_chain.clone(), "a".repeat(5_000)),
        (format!("!{star_chain}"), long_name.clone()),
        ("?".repeat(30_000), "é".repeat(30_000)),
    ];
    for (pattern, path) in cases {
        let start = Instant::now();
        let rules = check(&pattern).unwrap();
        let _ = ignored(&rules, &path, false);
        let _ = ignored(&rules, &format!("d/{path}"), true);
        let elapsed = start.elapsed();
        assert!(elapsed < Duration::from_secs(5), "pattern of {} bytes took {elapsed:?}", pattern.len());
    }
    // Many lines: a 200,000-line file is read and matched in time.
    let text = (0..200_000).map(|i| format!("file-{i}.txt\n")).collect::<String>();
    let start = Instant::now();
    let rules = check(&text).unwrap();
    assert!(ignored(&rules, "x/file-199999.txt", false));
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
}

/// `tests/corpus/helmignore/*.helmignore`. Header comments say what to expect:
/// `# expect: ok` or `# expect: err LINE NEEDLE...`; `# ignored: PATH` and `# kept: PATH`
/// (a trailing `/` means a directory) are checked when the file parses.
#[test]
fn corpus() {
    let (mut count, mut failures) = (0, Vec::new());
    for (name, text) in common::corpus("helmignore") {
        let header = |key: &str| -> Vec<String> {
            text.lines()
                .filter_map(|line| line.trim_start_matches('\u{feff}').strip_prefix(&format!("# {key}: ")))
                .map(|value| value.trim_end_matches('\r').to_string())
                .collect()
        };
        let expect = header("expect");
        assert_eq!(expect.len(), 1, "{name}: needs one `# expect:` line");
        count += 1;
        let words: Vec<&str> = expect[0].split_whitespace().collect();
        match (words[0], std::panic::catch_unwind(|| check(&text))) {
            (_, Err(_)) => failures.push(format!("{name}: panicked")),
            ("ok", Ok(Ok(rules))) => {
                let rules = rules.with_defaults();
                for (key, want) in [("ignored", true), ("kept", false)] {
                    for entry in header(key) {
                        let (path, is_dir) = match entry.strip_suffix('/') {
                            Some(dir) if !dir.is_empty() => (dir, true),
                            _ => (entry.as_str(), false),
                        };
                        if ignored(&rules, path, is_dir) != want {
                            failures.push(format!("{name}: `{entry}` should be {key}"));
                        }
                    }
                }
            }
            ("err", Ok(Err(error)))
                if error.line.to_string() == words[1] && error.reason.contains(&words[2..].join(" ")) => {}
            (want, Ok(got)) => {
                failures.push(format!("{name}: expected {want} {:?}, got {got:?}", &words[1..]))
            }
        }
    }
    assert!(count >= 15, "the corpus lost cases: {count}");
    assert!(
        failures.is_empty(),
        "{} of {count} corpus cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
