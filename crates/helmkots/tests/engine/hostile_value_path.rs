//! Hostile input for values paths (`helmkots::internals::input::value_path`), as written in release.toml's
//! `value = "..."` and as discovery renders them for `kots-values.yaml`.
//!
//! Property tests: any string parses or fails with an offset inside the input; whatever parses
//! survives `Display → parse`; a path built from segments displays as text that parses back to
//! it, or to nothing, never to another path. Corpus: `tests/corpus/value_paths.txt`.

use crate::common;

use common::unescape;

use helmkots::internals::input::value_path::{Segment, ValuePath, ValuePathError};
use proptest::prelude::*;

/// The only code that calls the parser: checks the invariants of every result.
fn check(text: &str) -> Result<ValuePath, ValuePathError> {
    let result = ValuePath::parse(text);
    match &result {
        Ok(path) => {
            assert!(!path.segments().is_empty(), "`{text}` parsed to an empty path");
            let display = path.to_string();
            assert_eq!(ValuePath::parse(&display).as_ref(), Ok(path), "`{text}` displays as `{display}`");
        }
        Err(error) => {
            assert_eq!(error.path, text);
            assert!(error.offset <= text.len(), "`{text:?}`: offset {} past the end", error.offset);
            assert!(
                text.is_char_boundary(error.offset),
                "`{text:?}`: offset {} inside a character",
                error.offset
            );
            assert!(!error.reason.is_empty());
            assert!(error.to_string().contains(&error.reason));
        }
    }
    result
}

/// A path built in code (as discovery builds one from the keys of values.yaml) must display as
/// text that names that path, or at worst text that does not parse; never another path.
fn check_display(path: &ValuePath) -> Result<(), String> {
    let display = path.to_string();
    match ValuePath::parse(&display) {
        Ok(back) if back != *path => Err(format!(
            "{:?} displays as `{display}`, which parses as another path {:?}",
            path.segments(),
            back.segments()
        )),
        _ => Ok(()),
    }
}

fn segment(key: impl Strategy<Value = String>) -> impl Strategy<Value = Segment> {
    prop_oneof![3 => key.prop_map(Segment::Key), 1 => any::<usize>().prop_map(Segment::Index)]
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_string_never_panics(text in any::<String>()) {
        let _ = check(&text);
    }

    /// Strings from the path alphabet: whatever parses round-trips.
    #[test]
    fn path_like_strings_round_trip(text in "([a-z0-9_-]{0,3}|\\.|\\[|\\]|\"|[0-9]{1,25}|é| |/){0,12}") {
        let _ = check(&text);
    }

    /// Paths with keys that need no escaping round-trip through `Display`.
    #[test]
    fn quotable_paths_round_trip(
        first in "[^\"]{1,8}",
        rest in prop::collection::vec(segment("[^\"]{1,8}".boxed()), 0..6),
    ) {
        let mut segments = vec![Segment::Key(first)];
        segments.extend(rest);
        let path = ValuePath::from_segments(segments);
        prop_assert_eq!(check(&path.to_string()), Ok(path));
    }

    /// Any key, `"` and empty keys included (values.yaml keys can be anything): the text never
    /// names another path.
    #[test]
    fn any_key_never_displays_as_another_path(
        first in any::<String>(),
        rest in prop::collection::vec(segment(prop_oneof![any::<String>(), "[a-z\".]{0,5}"].boxed()), 0..4),
    ) {
        let mut segments = vec![Segment::Key(first)];
        segments.extend(rest);
        let problem = check_display(&ValuePath::from_segments(segments));
        prop_assert!(problem.is_ok(), "{}", problem.unwrap_err());
    }
}

/// Keys holding `"` have no escape in the path syntax; displayed, they must not turn into a
/// different, valid path (discovery writes image rewrites to the path it displays).
#[test]
fn quote_in_key_does_not_name_another_path() {
    let cases = [
        vec![Segment::Key("x\".\"y".into())],
        vec![Segment::Key("a".into()), Segment::Key("b\".\"c".into())],
        vec![Segment::Key("x\"[0]".into())],
    ];
    let problems: Vec<String> = cases
        .iter()
        .filter_map(|segments| check_display(&ValuePath::from_segments(segments.clone())).err())
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `tests/corpus/value_paths.txt`: `ok TEXT DISPLAY` or `err TEXT OFFSET NEEDLE...`, with the
/// escapes `\s`, `\t`, `\n`, `\\`, `\u{..}`, `\r{N}x` and `<empty>`.
#[test]
fn corpus() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/value_paths.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let (mut count, mut failures) = (0, Vec::new());
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        count += 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let input = unescape(fields[1]);
        let here = format!("value_paths.txt:{}: `{}`", number + 1, input.escape_debug());
        match (fields[0], std::panic::catch_unwind(|| check(&input))) {
            (_, Err(_)) => failures.push(format!("{here}: panicked")),
            ("ok", Ok(Ok(path))) if path.to_string() == unescape(fields[2]) => {}
            ("err", Ok(Err(error)))
                if error.offset.to_string() == fields[2] && error.reason.contains(&fields[3..].join(" ")) => {
            }
            (want, Ok(got)) => {
                failures.push(format!("{here}: expected {want} {:?}, got {got:?}", &fields[2..]))
            }
        }
    }
    assert!(count >= 20, "the corpus lost cases: {count}");
    assert!(
        failures.is_empty(),
        "{} of {count} corpus cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
