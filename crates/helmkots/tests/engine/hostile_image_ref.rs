//! Hostile input for the image reference parser (`helmkots::internals::input::image_ref`).
//!
//! Property tests: any string parses or fails with an offset inside the input; every reference
//! that parses survives `Display → parse`, `canonical → parse` and `familiar → parse`; strings
//! built from the grammar's alphabet and from the grammar itself. Corpus:
//! `tests/corpus/image_refs.txt`, one case a line.

use crate::common;

use common::unescape;

use helmkots::internals::input::image_ref::{ImageRef, ImageRefError};
use proptest::prelude::*;

/// The only code that calls the parser: checks the invariants every result must keep and
/// returns it.
fn check(input: &str) -> Result<ImageRef, ImageRefError> {
    let result = ImageRef::parse(input);
    match &result {
        Ok(reference) => {
            let display = reference.to_string();
            assert_eq!(
                ImageRef::parse(&display).as_ref(),
                Ok(reference),
                "`{input}` parses to `{display}`, which does not parse back to the same reference"
            );
            assert_eq!(
                ImageRef::parse(&reference.canonical())
                    .map(|r| (r.repository(), r.digest().map(str::to_string))),
                Ok((reference.repository(), reference.digest().map(str::to_string))),
                "`{input}`: the canonical form `{}` names another image",
                reference.canonical()
            );
            // Where KOTS would put it: must not panic, must keep the last component.
            let local = reference.local_name("registry.local:5000/", "/ns/");
            assert!(local.contains(reference.last_component()), "{local}");
        }
        Err(error) => {
            assert_eq!(error.input, input);
            if let Some(offset) = error.offset {
                assert!(offset <= input.len(), "`{input:?}`: offset {offset} past the end ({error})");
                assert!(input.is_char_boundary(offset), "`{input:?}`: offset {offset} inside a character");
            }
            let message = error.to_string();
            assert!(message.starts_with("invalid image reference"), "{message}");
            assert!(message.len() > "invalid image reference ``: ".len() + input.len(), "{message}");
        }
    }
    result
}

/// `familiar()` is what `additionalImages` lists (commands/plan.rs), so it must name the same image.
fn check_familiar(reference: &ImageRef) -> Result<(), String> {
    let familiar = reference.familiar();
    match ImageRef::parse(&familiar) {
        Ok(back) if back == *reference => Ok(()),
        back => Err(format!(
            "`{reference}` has the familiar form `{familiar}`, which parses as {back:?}: another image, \
             so KOTS would pull the wrong image from `additionalImages` (commands/plan.rs lists familiar forms)"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Generators.

const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A path component by the grammar: `[a-z0-9]+((.|_|__|-+)[a-z0-9]+)*`.
fn component() -> impl Strategy<Value = String> {
    (
        "[a-z0-9]{1,6}",
        prop::collection::vec(
            (
                prop_oneof![Just(".".to_string()), Just("_".to_string()), Just("__".to_string()), "-{1,3}"],
                "[a-z0-9]{1,6}",
            ),
            0..3,
        ),
    )
        .prop_map(|(first, rest)| {
            let mut text = first;
            for (separator, run) in rest {
                text.push_str(&separator);
                text.push_str(&run);
            }
            text
        })
}

/// A registry domain, or none.
fn domain() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("localhost".to_string()),
        Just("docker.io".to_string()),
        Just("index.docker.io".to_string()),
        Just("[::1]".to_string()),
        Just("[fe80::1]:5000".to_string()),
        "[a-z0-9]{1,8}(\\.[a-z0-9]{1,8}){1,3}",
        "[a-z0-9]{1,8}(\\.[a-z0-9]{1,8}){0,2}:[0-9]{1,5}",
        "[A-Z][A-Za-z0-9]{0,6}",
    ])
}

/// A valid reference assembled from the grammar.
fn valid_reference() -> impl Strategy<Value = String> {
    (
        domain(),
        prop::collection::vec(component(), 1..4),
        prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
        prop::option::of(prop_oneof![
            Just(format!("sha256:{SHA}")),
            Just(format!("sha512:{SHA}{SHA}")),
            "[a-z]{1,5}\\+[a-z]{1,5}:[0-9a-fA-F]{32,40}",
        ]),
    )
        .prop_map(|(domain, path, tag, digest)| {
            // Without a domain, a first component that looks like one (`a.b/c`) is a domain:
            // name Docker Hub explicitly then, as a user would have to.
            let looks_like_domain = path.len() > 1 && (path[0].contains('.') || path[0] == "localhost");
            let domain = domain.or_else(|| looks_like_domain.then(|| "docker.io".to_string()));
            let mut text = domain.map(|d| format!("{d}/")).unwrap_or_default();
            text.push_str(&path.join("/"));
            if let Some(tag) = tag {
                text.push(':');
                text.push_str(&tag);
            }
            if let Some(digest) = digest {
                text.push('@');
                text.push_str(&digest);
            }
            text
        })
}

/// Tokens that image-like strings are made of, hostile ones included.
fn image_like() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-z0-9]{1,5}",
            "[A-Z]{1,2}",
            Just("/".to_string()),
            Just(":".to_string()),
            Just("@".to_string()),
            Just(".".to_string()),
            Just("_".to_string()),
            Just("__".to_string()),
            Just("-".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("sha256:".to_string()),
            Just(SHA.to_string()),
            Just("localhost".to_string()),
            Just("docker.io".to_string()),
            Just("index.docker.io".to_string()),
            Just("library".to_string()),
            Just("{{ .Values.x }}".to_string()),
            Just("é".to_string()),
            Just("\u{0}".to_string()),
            Just(" ".to_string()),
        ],
        0..16,
    )
    .prop_map(|parts| parts.concat())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config(256))]

    /// Any string: a reference or a located error, never a panic.
    #[test]
    fn any_string_never_panics(input in any::<String>()) {
        let _ = check(&input);
    }

    /// Any bytes read lossily as text (what a values file with bad bytes could hold).
    #[test]
    fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = check(&String::from_utf8_lossy(&bytes));
    }

    /// Strings from the grammar's alphabet: whatever parses round-trips through `Display`.
    #[test]
    fn image_like_strings_round_trip(input in image_like()) {
        let _ = check(&input);
    }

    /// Valid references always parse, and round-trip.
    #[test]
    fn grammar_references_parse(input in valid_reference()) {
        let parsed = check(&input);
        prop_assert!(parsed.is_ok(), "`{input}` is valid by the grammar: {parsed:?}");
    }

    /// Every parsed reference has a familiar form that names the same image.
    #[test]
    fn familiar_form_names_the_same_image(input in prop_oneof![valid_reference(), image_like()]) {
        if let Ok(reference) = check(&input) {
            let familiar = check_familiar(&reference);
            prop_assert!(familiar.is_ok(), "{}", familiar.unwrap_err());
        }
    }

    /// Overlong names and tags are refused by length, quickly.
    #[test]
    fn long_inputs_are_refused(length in 0usize..100_000, which in 0..3) {
        let input = match which {
            0 => "a".repeat(length + 256),
            1 => format!("a:{}", "b".repeat(length + 129)),
            _ => format!("a@sha256:{}", "0".repeat(length + 65)),
        };
        prop_assert!(check(&input).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Corpus.

/// `tests/corpus/image_refs.txt`: `ok INPUT NORMALISED` or `err INPUT OFFSET|- NEEDLE...`.
/// INPUT uses `\s` for a space, `\t`, `\n`, `\\`, `\u{..}`, and `<empty>` for "".
#[test]
fn corpus() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/image_refs.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        count += 1;
        let mut fields = line.split_whitespace();
        let (expect, input) = (fields.next().unwrap(), unescape(fields.next().unwrap()));
        let rest: Vec<&str> = fields.collect();
        let outcome = std::panic::catch_unwind(|| check(&input));
        let here = format!("image_refs.txt:{}: `{}`", number + 1, input.escape_debug());
        match (expect, outcome) {
            (_, Err(_)) => failures.push(format!("{here}: panicked")),
            ("ok", Ok(Ok(reference))) => {
                let expected = unescape(rest[0]);
                if reference.to_string() != expected {
                    failures.push(format!("{here}: parsed to `{reference}`, expected `{expected}`"));
                } else if let Err(problem) = check_familiar(&reference) {
                    failures.push(format!("{here}: {problem}"));
                }
            }
            ("err", Ok(Err(error))) => {
                let offset = if rest[0] == "-" { None } else { Some(rest[0].parse::<usize>().unwrap()) };
                let needle = rest[1..].join(" ");
                if error.offset != offset || !error.to_string().contains(&needle) {
                    failures.push(format!(
                        "{here}: got `{error}` (offset {:?}), expected offset {offset:?} and `{needle}`",
                        error.offset
                    ));
                }
            }
            (want, Ok(got)) => failures.push(format!("{here}: expected {want}, got {got:?}")),
        }
    }
    assert!(count >= 40, "the corpus lost cases: {count}");
    assert!(
        failures.is_empty(),
        "{} of {count} corpus cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
