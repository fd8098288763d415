//! The template scan: which values paths the templates read, and how.
//!
//! Only what values-walking needs: where an empty tag falls back to `.Chart.AppVersion`
//! (and with what around it), and which pull-secret paths the templates read. A scan of the
//! template text, not a render: it must work without Helm.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::input::chart::Chart;
use crate::input::value_path::Segment;

/// Reads a chart's templates for `.Chart.AppVersion` fallbacks and pull-secret paths, both as
/// root values paths.
pub(super) fn scan_templates(
    chart: &Chart,
    prefix: &[Segment],
) -> (BTreeMap<String, AppVersionFormat>, BTreeSet<String>) {
    let root_path = |relative: Vec<String>| -> String {
        let relative: Vec<Segment> = relative.into_iter().map(Segment::Key).collect();
        if matches!(relative.first(), Some(Segment::Key(key)) if key == "global") {
            render_path(&relative)
        } else {
            render_path(&prefix.iter().cloned().chain(relative).collect::<Vec<_>>())
        }
    };
    let mut fallbacks = BTreeMap::new();
    let mut pull_secrets = BTreeSet::new();
    for file in chart.files.iter().filter(|file| file.path.starts_with("templates/")) {
        let text = String::from_utf8_lossy(&file.data);
        for action in template_actions(&text) {
            let references = values_references(action);
            if action.contains(".Chart.AppVersion") && has_word(action, "default") {
                let format = app_version_format(action);
                for reference in &references {
                    fallbacks.entry(root_path(reference.clone())).or_insert_with(|| format.clone());
                }
            }
            for reference in references {
                if reference.last().is_some_and(|key| is_pull_secret_key(key)) {
                    pull_secrets.insert(root_path(reference));
                }
            }
        }
    }
    (fallbacks, pull_secrets)
}

/// The insides of the `{{ … }}` actions of a template, comments skipped.
pub(super) fn template_actions(text: &str) -> Vec<&str> {
    let mut actions = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after_open = &rest[open + 2..];
        let Some(close) = after_open.find("}}") else { break };
        let action = after_open[..close].trim_start_matches('-').trim_end_matches('-').trim();
        if !action.starts_with("/*") {
            actions.push(action);
        }
        rest = &after_open[close + 2..];
    }
    actions
}

/// The `.Values.a.b.c` paths an action names, as keys.
pub(super) fn values_references(action: &str) -> Vec<Vec<String>> {
    const MARKER: &str = ".Values.";
    let mut references = Vec::new();
    let mut rest = action;
    while let Some(start) = rest.find(MARKER) {
        rest = &rest[start + MARKER.len()..];
        let end =
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(rest.len());
        let keys: Vec<String> =
            rest[..end].split('.').take_while(|key| !key.is_empty()).map(str::to_string).collect();
        if !keys.is_empty() {
            references.push(keys);
        }
        rest = &rest[end..];
    }
    references
}

/// True when `word` appears in `text` as a whole identifier.
pub(super) fn has_word(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$';
    text.match_indices(word).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// `printf "v%s" .Chart.AppVersion` gives prefix `v`; a bare `.Chart.AppVersion` gives none.
pub(super) fn app_version_format(action: &str) -> AppVersionFormat {
    let Some(position) = action.find(".Chart.AppVersion") else { return AppVersionFormat::default() };
    let before = action[..position].trim_end_matches('$').trim_end();
    let Some(before_quote) = before.strip_suffix('"') else { return AppVersionFormat::default() };
    let Some(open) = before_quote.rfind('"') else { return AppVersionFormat::default() };
    let format = &before_quote[open + 1..];
    if !before_quote[..open].trim_end().ends_with("printf") {
        return AppVersionFormat::default();
    }
    let verb = ["%s", "%v"].into_iter().find(|verb| format.matches(verb).count() == 1);
    match verb {
        Some(verb) if format.matches('%').count() == 1 => {
            let (prefix, suffix) = format.split_once(verb).unwrap_or((format, ""));
            AppVersionFormat { prefix: prefix.to_string(), suffix: suffix.to_string() }
        }
        _ => AppVersionFormat::default(),
    }
}
