//! YAML read the way Helm reads it: `sigs.k8s.io/yaml` over go-yaml v2, a YAML 1.1 parser,
//! with serde-saphyr configured to agree.
//!
//! What Helm's reading implies, and how it is reproduced:
//! - comments are never buffered: serde-saphyr's comment events are turned off
//!   (`emit_comments: false`), so no comment block is too long (with them on, a block of
//!   more than 32 comment lines where the parser looks ahead fails with "too many
//!   buffered comments while looking ahead");
//! - anchors, aliases and merge keys (`<<: *base`, `<<: [*a, *b]`) expand;
//! - YAML 1.1 scalars: `yes`/`no`/`on`/`off`/`y`/`n` in go-yaml's spellings (`yes`, `Yes`,
//!   `YES`, ...; a mixed-case `yEs` stays a string), octal `0755`, `0o755`, `0x1F`, `0b101`,
//!   `1_000`; `.inf` and `.nan` are refused, as Helm cannot turn them into JSON;
//! - a mapping key that is not a string becomes the string Helm makes of it: `yes:` is the
//!   key `true`, `0x10:` is `16`, `1.10:` is `1.1` (go's `%g` of a float32); a null or
//!   a collection as a key is refused, as Helm refuses it;
//! - in values.yaml, every document counts: documents are merged in order (maps merged key
//!   by key, anything else replaced), as Helm 4 reads values files; in Chart.yaml and
//!   requirements.yaml only the first document counts (the rest is not even parsed);
//! - duplicate keys: the last wins in values.yaml, as in Helm (Chart.yaml is stricter, see
//!   `metadata.rs`).
//!
//! Helm also rewrites a few Chart.yaml strings (`sanitizeString`): whitespace becomes a
//! space and non-printable characters are dropped; [`sanitize`] does the same.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::{Budget, DuplicateKeyPolicy, Location, Options, Spanned};

/// How deep Chart.yaml and requirements.yaml may nest (serde-saphyr's default).
const METADATA_MAX_DEPTH: usize = 64;

/// How deep values may nest: far beyond any real chart. Values are read on a thread of
/// [`VALUES_STACK`] bytes, which this depth fits in many times over, even in a debug build
/// (about 35 KiB a level there; a 2 MiB thread overflows near 60 levels).
pub(crate) const VALUES_MAX_DEPTH: usize = 256;

/// The stack of the thread that reads a values file.
const VALUES_STACK: usize = 64 * 1024 * 1024;

/// Parser options for Chart.yaml and requirements.yaml.
pub(crate) fn options(duplicate_keys: DuplicateKeyPolicy) -> Options {
    options_with_depth(duplicate_keys, METADATA_MAX_DEPTH)
}

/// Parser options shared by every chart file: no comment buffering, YAML 1.1 octals, and
/// limits above any real chart without the alias/anchor ratio heuristic, which refuses
/// ordinary values files that reuse one anchor many times. A file is at most 5 MiB, so at
/// most about a million nodes (`a: 1` is five bytes); twice that is left for aliases, where
/// go-yaml refuses a document whose nodes come mostly from alias expansion ("excessive
/// aliasing"): an alias bomb stops at the node budget, quickly.
fn options_with_depth(duplicate_keys: DuplicateKeyPolicy, max_depth: usize) -> Options {
    let mut budget = Budget::default();
    budget.max_nodes = 2_000_000;
    budget.max_events = 4_000_000;
    budget.max_depth = max_depth;
    budget.enforce_alias_anchor_ratio = false;
    serde_saphyr::options! {
        duplicate_keys: duplicate_keys,
        emit_comments: false,
        legacy_octal_numbers: true,
        budget: Some(budget),
        with_snippet: false,
    }
}

/// The text of the first YAML document: everything before the marker (`---` or `...` at
/// the start of a line) that ends it. go-yaml's `Unmarshal` reads one document and ignores
/// the rest, so a later document must not make a file fail.
pub(crate) fn first_document(text: &str) -> &str {
    let mut started = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let is_marker = |marker: &str| {
            body.strip_prefix(marker).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        };
        let blank_or_comment = body.trim_start().is_empty() || body.trim_start().starts_with('#');
        if is_marker("---") {
            if started {
                return &text[..offset];
            }
            started = true;
        } else if is_marker("...") {
            if started {
                return &text[..offset];
            }
        } else if !blank_or_comment && (started || !body.starts_with('%')) {
            started = true;
        }
        offset += line.len();
    }
    text
}

/// go-yaml v2's boolean spellings; any other spelling of a plain scalar is a string there.
pub(crate) fn go_bool(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.FormatFloat(value, 'g', -1, 32 or 64)`: the shortest decimal that reads
/// back as the same float32 (or float64), in `%e` form when the exponent is below -4 or
/// at least 6 (`1e+06`, `1.2345679e+07`), else plain (`1.1`, `0.0001`).
pub(crate) fn go_format_float(value: f64, bits32: bool) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let scientific = if bits32 { format!("{:e}", value as f32) } else { format!("{value:e}") };
    let (negative, scientific) = match scientific.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, scientific.as_str()),
    };
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let count = digits.len() as i32;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if !(-4..6).contains(&exponent) {
        out.push_str(&digits[..1]);
        if count > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.abs()));
    } else {
        let point = exponent + 1;
        if point <= 0 {
            out.push_str("0.");
            out.push_str(&"0".repeat((-point) as usize));
            out.push_str(&digits);
        } else if point >= count {
            out.push_str(&digits);
            out.push_str(&"0".repeat((point - count) as usize));
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    }
    out
}

/// Helm's `sanitizeString`: whitespace becomes a space, non-printable characters go.
///
/// Go's `unicode.IsPrint` is approximated: control characters, the common invisible
/// format characters and private-use characters are dropped.
pub(crate) fn sanitize(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if c.is_control()
                || matches!(c, '\u{ad}' | '\u{61c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
                    | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
                    | '\u{e000}'..='\u{f8ff}' | '\u{f0000}'..='\u{10ffff}')
            {
                None
            } else {
                Some(c)
            }
        })
        .collect()
}

/// Why a values file could not be read.
#[derive(Debug)]
pub(crate) enum ValuesError {
    /// The parser refused the text.
    Yaml(serde_saphyr::Error),
    /// The YAML is well formed but Helm could not read it as values.
    Content {
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
        /// Where, when known.
        location: Option<Location>,
    },
}

/// Reads a values file as Helm 4 does: every document, merged in order. `None` when the
/// file holds no document (empty, or comments only) or only empty documents.
///
/// The reading recurses once a level of nesting, so it runs on a thread with a stack
/// sized for [`VALUES_MAX_DEPTH`] (on this thread if that one cannot be started).
pub(crate) fn parse_values(text: &str) -> Result<Option<Map<String, Value>>, ValuesError> {
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("values.yaml".to_string())
            .stack_size(VALUES_STACK)
            .spawn_scoped(scope, || parse_values_here(text));
        match reader {
            Ok(reader) => reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => parse_values_here(text),
        }
    })
}

fn parse_values_here(text: &str) -> Result<Option<Map<String, Value>>, ValuesError> {
    let options = options_with_depth(DuplicateKeyPolicy::LastWins, VALUES_MAX_DEPTH);
    let documents: Vec<Spanned<Node>> =
        serde_saphyr::from_str_multiple_with_options(text, options).map_err(ValuesError::Yaml)?;
    let mut merged: Option<Map<String, Value>> = None;
    for document in documents {
        let location = document.referenced;
        match to_json(text, document)? {
            Value::Null => {}
            Value::Object(map) => {
                merged = Some(match merged {
                    Some(base) => merge_maps(base, map),
                    None => map,
                })
            }
            other => {
                return Err(ValuesError::Content {
                    message: format!("a values document must be a map of values, not {}", kind(&other)),
                    help: "write `key: value` lines, e.g. `replicaCount: 1`".to_string(),
                    location: Some(location),
                })
            }
        }
    }
    Ok(merged)
}

/// Helm's `MergeMaps`: `b` over `a`, maps merged key by key, anything else replaced.
pub(crate) fn merge_maps(mut a: Map<String, Value>, b: Map<String, Value>) -> Map<String, Value> {
    for (key, value) in b {
        match (a.remove(&key), value) {
            (Some(Value::Object(base)), Value::Object(over)) => {
                a.insert(key, Value::Object(merge_maps(base, over)));
            }
            (_, value) => {
                a.insert(key, value);
            }
        }
    }
    a
}

/// "a list", "a string", ... for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// One YAML node as serde-saphyr reports it.
#[derive(Debug)]
enum Node {
    Null,
    Bool(bool),
    Signed(i64),
    Unsigned(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<Node>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        struct NodeVisitor;

        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML value")
            }

            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }

            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }

            fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
                Node::deserialize(deserializer)
            }

            fn visit_bool<E>(self, value: bool) -> Result<Node, E> {
                Ok(Node::Bool(value))
            }

            fn visit_i64<E>(self, value: i64) -> Result<Node, E> {
                Ok(Node::Signed(value))
            }

            fn visit_u64<E>(self, value: u64) -> Result<Node, E> {
                Ok(Node::Unsigned(value))
            }

            fn visit_f64<E>(self, value: f64) -> Result<Node, E> {
                Ok(Node::Float(value))
            }

            fn visit_str<E>(self, value: &str) -> Result<Node, E> {
                Ok(Node::Str(value.to_string()))
            }

            fn visit_string<E>(self, value: String) -> Result<Node, E> {
                Ok(Node::Str(value))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<Node>>()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<Spanned<Node>, Spanned<Node>>()? {
                    entries.push(entry);
                }
                Ok(Node::Map(entries))
            }
        }

        deserializer.deserialize_any(NodeVisitor)
    }
}

/// The source text of a scalar where it was written (for an alias, at its anchor).
fn written<'a>(text: &'a str, defined: &Location) -> Option<&'a str> {
    let span = defined.span();
    let start = span.byte_offset()? as usize;
    let len = span.byte_len()? as usize;
    text.get(start..start + len)
}

/// A boolean as go-yaml reads the text: serde-saphyr takes `yEs` for a boolean, go-yaml
/// only its listed spellings, so any other spelling stays the text it is.
fn boolean(raw: Option<&str>, value: bool) -> Value {
    match raw {
        Some(raw) if go_bool(raw).is_none() && go_bool(&raw.to_ascii_lowercase()).is_some() => {
            Value::String(raw.to_string())
        }
        _ => Value::Bool(value),
    }
}

/// Converts a node to JSON as sigs.k8s.io/yaml does.
fn to_json(text: &str, node: Spanned<Node>) -> Result<Value, ValuesError> {
    let value = match node.value {
        Node::Null => Value::Null,
        Node::Bool(value) => boolean(written(text, &node.defined), value),
        Node::Signed(value) => Value::Number(value.into()),
        Node::Unsigned(value) => Value::Number(value.into()),
        Node::Float(value) => match Number::from_f64(value) {
            Some(number) => Value::Number(number),
            None => {
                return Err(ValuesError::Content {
                    message: format!(
                    "`{value}` cannot be a value: Helm turns values into JSON, which has no infinity or NaN"
                ),
                    help: "quote it to make it a string, or use a finite number".to_string(),
                    location: Some(node.referenced),
                })
            }
        },
        Node::Str(value) => Value::String(value),
        Node::Seq(items) => {
            Value::Array(items.into_iter().map(|item| to_json(text, item)).collect::<Result<_, _>>()?)
        }
        Node::Map(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                let key = key_string(text, key)?;
                map.insert(key, to_json(text, value)?);
            }
            Value::Object(map)
        }
    };
    Ok(value)
}

/// The string Helm makes of a mapping key.
fn key_string(text: &str, key: Spanned<Node>) -> Result<String, ValuesError> {
    let location = key.referenced;
    let refused = |what: &str| ValuesError::Content {
        message: format!(
            "a map key is {what}; Helm accepts only keys that read as strings, numbers or booleans"
        ),
        help: "quote the key to make it a string, e.g. `\"~\": value`".to_string(),
        location: Some(location),
    };
    Ok(match &key.value {
        Node::Str(value) => value.clone(),
        Node::Bool(value) => match boolean(written(text, &key.defined), *value) {
            Value::String(raw) => raw,
            _ => value.to_string(),
        },
        Node::Signed(value) => value.to_string(),
        Node::Unsigned(value) => value.to_string(),
        Node::Float(value) => match go_format_float(*value, true).as_str() {
            "+Inf" => ".inf".to_string(),
            "-Inf" => "-.inf".to_string(),
            "NaN" => ".nan".to_string(),
            other => other.to_string(),
        },
        Node::Null => return Err(refused("null")),
        Node::Seq(_) => return Err(refused("a list")),
        Node::Map(_) => return Err(refused("a map")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Value {
        match parse_values(text) {
            Ok(Some(map)) => Value::Object(map),
            Ok(None) => Value::Null,
            Err(error) => panic!("{text:?}: {error:?}"),
        }
    }

    #[test]
    fn long_comment_blocks_parse() {
        let mut text = String::from("a:\n");
        for index in 0..600 {
            text.push_str(&format!("  # comment {index}\n"));
        }
        text.push_str("  b: 1\nlist:\n");
        for index in 0..300 {
            text.push_str(&format!("# comment {index}\n"));
        }
        text.push_str("  - x\n");
        assert_eq!(values(&text), serde_json::json!({"a": {"b": 1}, "list": ["x"]}));
    }

    #[test]
    fn anchors_and_merge_keys() {
        let text =
            "base: &base\n  x: 1\n  y2: 2\nm:\n  <<: *base\n  y2: 3\nl:\n  <<: [*base, {z: 1}]\nr: *base\n";
        assert_eq!(
            values(text),
            serde_json::json!({"base": {"x": 1, "y2": 2}, "m": {"x": 1, "y2": 3}, "l": {"x": 1, "y2": 2, "z": 1}, "r": {"x": 1, "y2": 2}})
        );
    }

    #[test]
    fn yaml_1_1_scalars_as_go_yaml_reads_them() {
        let text = "a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: n\ng: True\nh: tRuE\ni: \"yes\"\n\
                    o: 0755\np: 0o755\nq: 0x1F\nr: 1_000\ns: 0b101\nt: 1e3\nu: ~\nv: 2001-12-14\n";
        assert_eq!(
            values(text),
            serde_json::json!({"a": true, "b": false, "c": true, "d": false, "e": true, "f": false,
                "g": true, "h": "tRuE", "i": "yes", "o": 493, "p": 493, "q": 31, "r": 1000, "s": 5,
                "t": 1000.0, "u": null, "v": "2001-12-14"})
        );
    }

    #[test]
    fn keys_become_the_strings_helm_makes() {
        let text = "1: a\n2.5: b\n0x10: c\n1.10: d\ny: e\nNo: f\n\"on\": g\n12345678.9: h\n";
        assert_eq!(
            values(text),
            serde_json::json!({"1": "a", "2.5": "b", "16": "c", "1.1": "d", "true": "e", "false": "f",
                "on": "g", "1.2345679e+07": "h"})
        );
        assert!(matches!(parse_values("~: x\n"), Err(ValuesError::Content { .. })));
        assert!(matches!(
            parse_values("[a]: x\n"),
            Err(ValuesError::Content { .. }) | Err(ValuesError::Yaml(_))
        ));
    }

    #[test]
    fn documents_are_merged() {
        let text = "a: 1\nl: [1, 2]\nm: {x: 1}\n---\nb: 2\nl: [3]\nm: {z: 2}\n---\n# empty\n";
        assert_eq!(values(text), serde_json::json!({"a": 1, "b": 2, "l": [3], "m": {"x": 1, "z": 2}}));
        assert_eq!(values(""), Value::Null);
        assert_eq!(values("# only a comment\n"), Value::Null);
        assert!(matches!(parse_values("- 1\n"), Err(ValuesError::Content { .. })));
    }

    #[test]
    fn deep_nesting_up_to_the_limit() {
        let nested = |depth: usize| format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth));
        assert!(parse_values(&nested(VALUES_MAX_DEPTH - 2)).is_ok());
        assert!(matches!(parse_values(&nested(VALUES_MAX_DEPTH + 5)), Err(ValuesError::Yaml(_))));
        let block =
            |depth: usize| (0..depth).map(|level| format!("{}a:\n", "  ".repeat(level))).collect::<String>();
        assert!(parse_values(&block(VALUES_MAX_DEPTH - 2)).is_ok());
    }

    #[test]
    fn many_aliases_of_one_anchor() {
        let mut text = String::from(
            "base: &base {cpu: 100m}
",
        );
        for index in 0..500 {
            text.push_str(&format!(
                "k{index}: *base
"
            ));
        }
        assert_eq!(values(&text)["k499"], serde_json::json!({"cpu": "100m"}));
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        assert!(parse_values("a: .inf\n").is_err());
        assert!(parse_values("a: .nan\n").is_err());
    }

    #[test]
    fn first_document_only() {
        assert_eq!(first_document("a: 1\n---\nb: 2\n"), "a: 1\n");
        assert_eq!(first_document("# c\n---\na: 1\n--- \nb\n"), "# c\n---\na: 1\n");
        assert_eq!(first_document("%YAML 1.1\n---\na: 1\n...\n"), "%YAML 1.1\n---\na: 1\n");
        assert_eq!(first_document("a: |\n  ---x\nb: 1\n"), "a: |\n  ---x\nb: 1\n");
        assert_eq!(first_document("a: 1\n"), "a: 1\n");
    }

    #[test]
    fn go_float_formatting() {
        for (value, bits32, expected) in [
            (1.2, true, "1.2"),
            (1.1, true, "1.1"),
            (1.23456789, true, "1.2345679"),
            (1e6, true, "1e+06"),
            (1e20, true, "1e+20"),
            (0.000001, true, "1e-06"),
            (0.0001, true, "0.0001"),
            (123456.0, true, "123456"),
            (1234567.0, false, "1.234567e+06"),
            (12345678.9, true, "1.2345679e+07"),
            (-2.5, false, "-2.5"),
            (0.0, false, "0"),
            (100.0, false, "100"),
        ] {
            assert_eq!(go_format_float(value, bits32), expected, "{value} (32 bits: {bits32})");
        }
    }

    #[test]
    fn sanitize_like_helm() {
        assert_eq!(sanitize("a\tb\nc"), "a b c");
        assert_eq!(sanitize("line1\nline2\n"), "line1 line2 ");
        assert_eq!(sanitize("x\u{7}y\u{200b}z"), "xyz");
        assert_eq!(sanitize("héllo ✓"), "héllo ✓");
    }
}
