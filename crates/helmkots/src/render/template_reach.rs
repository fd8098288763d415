//! What a rendered object's template can reach: whether the template that made it, or a
//! named template it includes (transitively, across the chart and its subcharts), mentions
//! a word such as `pullSecrets`.
//!
//! The proof uses it to tell a pod helmkots failed to give a pull secret (its template takes
//! one, so a values path was missed) from a pod the chart gives no way to take one (a hook
//! Job written without `imagePullSecrets`): the first is a failure, the second a note that
//! names the pod and what the chart would need.
//!
//! Hand-written and shallow on purpose: Go templates are not parsed, only `define`,
//! `include` and `template` are followed, which is how charts share pod-spec snippets.

use std::collections::{BTreeMap, BTreeSet};

use crate::input::chart::Chart;

/// Every template file (by its `# Source:` path) and every named template of a chart.
#[derive(Debug, Default)]
pub(crate) struct TemplateIndex {
    files: BTreeMap<String, String>,
    defines: BTreeMap<String, String>,
}

impl TemplateIndex {
    /// Indexes `chart` and its vendored subcharts, as Helm names their templates
    /// (`<chart>/templates/…`, `<chart>/charts/<sub>/templates/…`).
    pub(crate) fn new(chart: &Chart) -> TemplateIndex {
        let mut index = TemplateIndex::default();
        index.add(chart, &chart.metadata.name);
        index
    }

    fn add(&mut self, chart: &Chart, prefix: &str) {
        for file in chart.files.iter().filter(|file| file.path.starts_with("templates/")) {
            let text = String::from_utf8_lossy(&file.data).into_owned();
            for (name, body) in defines(&text) {
                self.defines.entry(name).or_insert(body);
            }
            self.files.insert(format!("{prefix}/{}", file.path), text);
        }
        for subchart in &chart.dependencies {
            self.add(subchart, &format!("{prefix}/charts/{}", subchart.metadata.name));
        }
    }

    /// True when the template file, or a named template it reaches, contains `word`; also
    /// true for a file the index does not know (the caller then cannot tell, and must not
    /// excuse anything).
    pub(crate) fn reaches(&self, source: &str, word: &str) -> bool {
        let Some(text) = self.files.get(source) else { return true };
        let mut seen = BTreeSet::new();
        let mut pending = vec![text.as_str()];
        while let Some(text) = pending.pop() {
            if text.contains(word) {
                return true;
            }
            for name in included(text) {
                if seen.insert(name.clone()) {
                    if let Some(body) = self.defines.get(&name) {
                        pending.push(body);
                    }
                }
            }
        }
        false
    }
}

/// `{{ define "name" }} body {{ end }}` blocks (nested `if`/`range`/`with` ends counted).
fn defines(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = find_action(rest, "define") {
        let after = &rest[start..];
        let Some(name) = quoted(after) else { break };
        let Some(close) = after.find("}}") else { break };
        let body_start = close + 2;
        let mut depth = 1usize;
        let mut cursor = body_start;
        let mut end = after.len();
        while let Some(open) = after[cursor..].find("{{") {
            let action_start = cursor + open + 2;
            let Some(action_end) = after[action_start..].find("}}") else { break };
            let action = after[action_start..action_start + action_end].trim_start_matches('-').trim_start();
            let keyword = action.split(|c: char| c.is_whitespace() || c == '-').next().unwrap_or("");
            match keyword {
                "if" | "range" | "with" | "define" | "block" => depth += 1,
                "end" => {
                    depth -= 1;
                    if depth == 0 {
                        end = cursor + open;
                        break;
                    }
                }
                _ => {}
            }
            cursor = action_start + action_end + 2;
        }
        found.push((name, after[body_start..end].to_string()));
        rest = &after[end.min(after.len())..];
        if end == after.len() {
            break;
        }
    }
    found
}

/// Names passed to `include` and `template` in `text`.
fn included(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for keyword in ["include", "template"] {
        let mut rest = text;
        while let Some(position) = rest.find(keyword) {
            let after = &rest[position + keyword.len()..];
            if after.starts_with(|c: char| c.is_whitespace() || c == '(') {
                if let Some(name) = quoted(after) {
                    names.push(name);
                }
            }
            rest = after;
        }
    }
    names
}

/// The byte offset just after `{{- keyword` / `{{ keyword` in `text`.
fn find_action(text: &str, keyword: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(open) = text[from..].find("{{") {
        let start = from + open + 2;
        let action = text[start..].trim_start_matches('-').trim_start();
        let offset = text.len() - start - action.len();
        if action.starts_with(keyword) && action[keyword.len()..].starts_with(char::is_whitespace) {
            return Some(start + offset + keyword.len());
        }
        from = start;
    }
    None
}

/// The first `"…"` string in `text` before the action closes.
fn quoted(text: &str) -> Option<String> {
    let limit = text.find("}}").unwrap_or(text.len());
    let text = &text[..limit];
    let open = text.find('"')?;
    let close = text[open + 1..].find('"')?;
    Some(text[open + 1..open + 1 + close].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defines_are_cut_at_their_own_end() {
        let text = r#"{{- define "a.pod" -}}
{{- if .Values.x }}imagePullSecrets{{ end }}
{{- end -}}
{{ define "a.other" }}plain{{ end }}"#;
        let found = defines(text);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].0, "a.pod");
        assert!(found[0].1.contains("imagePullSecrets"));
        assert_eq!(found[1], ("a.other".to_string(), "plain".to_string()));
    }

    #[test]
    fn includes_are_followed_transitively() {
        let mut index = TemplateIndex::default();
        index.files.insert("c/templates/job.yaml".into(), r#"spec: {{ include "c.spec" . }}"#.into());
        index.files.insert("c/templates/hook.yaml".into(), "spec: {containers: []}".into());
        index.defines.insert("c.spec".into(), r#"{{ template "c.secrets" . }}"#.into());
        index.defines.insert("c.secrets".into(), "imagePullSecrets: {{ .Values.pullSecrets }}".into());
        assert!(index.reaches("c/templates/job.yaml", "ullSecrets"));
        assert!(!index.reaches("c/templates/hook.yaml", "ullSecrets"));
        assert!(index.reaches("c/templates/unknown.yaml", "ullSecrets"), "unknown files excuse nothing");
    }
}
