//! A Helm values tree whose leaves may be KOTS template text, and its YAML emitter.
//!
//! `kots-values.yaml` mixes ordinary values (static `[chart] values`) with KOTS templates
//! that must reach KOTS exactly as written: `repl{{ ... }}` unquoted (so that `true`, `3`
//! stay a bool and a number after KOTS renders them) and never re-quoted by a serializer.
//! No YAML serializer gives that control, so this module emits block YAML itself: strings
//! are written as JSON strings (always valid YAML double-quoted scalars), keys are quoted
//! whenever YAML could read them as something else, and template leaves are written raw.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::input::value_path::{Segment, ValuePath};

/// A node of the values tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A map, keys sorted so output is deterministic.
    Map(BTreeMap<String, Node>),
    /// A list.
    List(Vec<Node>),
    /// An ordinary JSON scalar (string, number, bool, null).
    Scalar(Value),
    /// KOTS template text written as-is, e.g. `repl{{ ConfigOptionEquals "a" "1" }}`.
    Template(String),
}

impl Node {
    /// An empty map.
    pub fn empty_map() -> Node {
        Node::Map(BTreeMap::new())
    }

    /// Converts ordinary values (from release.toml or values.yaml).
    pub fn from_json(value: &Value) -> Node {
        match value {
            Value::Object(map) => {
                Node::Map(map.iter().map(|(k, v)| (k.clone(), Node::from_json(v))).collect())
            }
            Value::Array(items) => Node::List(items.iter().map(Node::from_json).collect()),
            scalar => Node::Scalar(scalar.clone()),
        }
    }

    /// Sets `path` to `node`, creating maps and lists on the way; a scalar in the way is
    /// replaced, because the generated value wins over the static one.
    pub fn set(&mut self, path: &ValuePath, node: Node) {
        let mut current = self;
        for segment in path.segments() {
            current = match segment {
                Segment::Key(key) => {
                    if !matches!(current, Node::Map(_)) {
                        *current = Node::empty_map();
                    }
                    let Node::Map(map) = current else { unreachable!("just made a map") };
                    map.entry(key.clone()).or_insert(Node::Scalar(Value::Null))
                }
                Segment::Index(index) => {
                    if !matches!(current, Node::List(_)) {
                        *current = Node::List(Vec::new());
                    }
                    let Node::List(items) = current else { unreachable!("just made a list") };
                    while items.len() <= *index {
                        items.push(Node::Scalar(Value::Null));
                    }
                    &mut items[*index]
                }
            };
        }
        *current = node;
    }

    /// Block YAML for this node as a whole document (no leading `---`).
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        match self {
            Node::Map(map) if !map.is_empty() => emit_map(map, 0, &mut out),
            Node::List(items) if !items.is_empty() => emit_list(items, 0, &mut out),
            other => {
                out.push_str(&inline(other));
                out.push('\n');
            }
        }
        out
    }
}

fn emit_map(map: &BTreeMap<String, Node>, indent: usize, out: &mut String) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&yaml_key(key));
        out.push(':');
        emit_value_after_key(value, indent, out);
    }
}

fn emit_value_after_key(value: &Node, indent: usize, out: &mut String) {
    match value {
        Node::Map(map) if !map.is_empty() => {
            out.push('\n');
            emit_map(map, indent + 2, out);
        }
        Node::List(items) if !items.is_empty() => {
            out.push('\n');
            emit_list(items, indent + 2, out);
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
}

fn emit_list(items: &[Node], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Node::Map(map) if !map.is_empty() => {
                // The first key shares the dash's line; the others align under it.
                let mut nested = String::new();
                emit_map(map, indent + 2, &mut nested);
                out.push(' ');
                out.push_str(nested.trim_start());
            }
            Node::List(inner) if !inner.is_empty() => {
                out.push('\n');
                emit_list(inner, indent + 2, out);
            }
            other => {
                out.push(' ');
                out.push_str(&inline(other));
                out.push('\n');
            }
        }
    }
}

/// A node on one line: scalars, templates, and empty collections.
fn inline(node: &Node) -> String {
    match node {
        Node::Scalar(Value::String(text)) => quote(text),
        Node::Scalar(Value::Null) => "null".to_string(),
        Node::Scalar(other) => other.to_string(),
        Node::Template(text) => text.clone(),
        Node::Map(_) => "{}".to_string(),
        Node::List(_) => "[]".to_string(),
    }
}

/// A YAML double-quoted scalar: JSON string syntax is a subset of it.
pub(crate) fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
}

/// A map key, plain when YAML reads it back as the same string, quoted otherwise.
fn yaml_key(key: &str) -> String {
    const WORDS: [&str; 14] =
        ["true", "false", "null", "yes", "no", "on", "off", "y", "n", "~", "True", "False", "Null", "NULL"];
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !WORDS.contains(&key);
    if plain {
        key.to_string()
    } else {
        quote(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(node: &Node, expected: &str) {
        assert_eq!(node.to_yaml(), expected);
    }

    #[test]
    fn nested_maps_and_lists() {
        let node = Node::from_json(&json!({
            "b": {"c": 1, "d": [1, "x", {"e": true, "f": null}], "g": {}, "h": []},
            "a": "it's \"quoted\"\nnewline",
            "on": "yes",
            "x.y/z": 2.5
        }));
        check(
            &node,
            "a: \"it's \\\"quoted\\\"\\nnewline\"\nb:\n  c: 1\n  d:\n    - 1\n    - \"x\"\n    - e: true\n      f: null\n  g: {}\n  h: []\n\"on\": \"yes\"\nx.y/z: 2.5\n",
        );
    }

    #[test]
    fn set_creates_the_path_and_templates_stay_raw() {
        let mut node = Node::from_json(&json!({"persistence": {"size": "1Gi"}, "image": "x"}));
        node.set(&ValuePath::parse("persistence.enabled").unwrap(), Node::Template("repl{{ A }}".into()));
        node.set(&ValuePath::parse("image.repository").unwrap(), Node::Template("'{{repl B }}'".into()));
        node.set(&ValuePath::parse("hosts[1].name").unwrap(), Node::Scalar(json!("h")));
        check(
            &node,
            "hosts:\n  - null\n  - name: \"h\"\nimage:\n  repository: '{{repl B }}'\npersistence:\n  enabled: repl{{ A }}\n  size: \"1Gi\"\n",
        );
    }
}
