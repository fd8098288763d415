//! `values.schema.json` validation as Helm does it before it renders (Helm 4's
//! `ValidateAgainstSchema`, `pkg/chart/common/util/jsonschema.go`): the root chart's schema
//! against the release's coalesced values, then each enabled subchart's schema against the
//! values under its key, recursively. A subchart whose values are absent or `null` is not
//! validated; a subchart disabled by its `condition` or `tags` is not part of the release.
//!
//! Helm validates with santhosh-tekuri/jsonschema (Go, draft 2020-12 unless `$schema` says
//! otherwise); `boon` is the Rust port by the same author, so the two agree on drafts,
//! formats and messages. Remote `$ref`s are not fetched (no network at check time): a
//! schema that needs one is reported as not checked, never as failing.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{
    coalesce::{charts_with_values, ChartValues, OnMismatch},
    Chart,
};
use crate::error::Result;

/// One chart of the release whose values its schema refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// The keys from the release's values to the chart's (empty for the root chart).
    pub chart_path: Vec<String>,
    /// The chart's name.
    pub chart: String,
    /// One line per refusal: `at '/policy': …` as Helm's validator words it.
    pub errors: Vec<String>,
}

/// A schema that could not be used to check anything (it refers to a remote document, or
/// does not compile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaUnchecked {
    /// The chart's name.
    pub chart: String,
    /// Why.
    pub reason: String,
}

/// What validating every enabled chart's schema found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaReport {
    /// Charts whose values their schema refuses.
    pub violations: Vec<SchemaViolation>,
    /// Schemas that could not be used.
    pub unchecked: Vec<SchemaUnchecked>,
}

/// Validates the values Helm would give `chart` for `user_values` against every enabled
/// chart's `values.schema.json`.
pub fn validate_values(chart: &Chart, user_values: &Map<String, Value>) -> Result<SchemaReport> {
    let charts = charts_with_values(chart, user_values, OnMismatch::Refuse)?;
    let root_values = Value::Object(charts.first().map(|root| root.values.clone()).unwrap_or_default());
    let mut report = SchemaReport::default();
    let mut disabled: Vec<&[String]> = Vec::new();
    for (index, entry) in charts.iter().enumerate() {
        if disabled.iter().any(|prefix| entry.path.starts_with(prefix)) {
            continue;
        }
        if index > 0 && !enabled(&charts, entry, &root_values) {
            disabled.push(&entry.path);
            continue;
        }
        // Helm skips a subchart whose values are absent or null (`values[name]`).
        if index > 0 && parent_value(&charts, entry).is_none_or(Value::is_null) {
            continue;
        }
        let Some(schema) = entry.chart.files.iter().find(|file| file.path == "values.schema.json") else {
            continue;
        };
        let name = entry.chart.metadata.name.clone();
        let schema: Value = match serde_json::from_slice(&schema.data) {
            Ok(schema) => schema,
            // `chart::load` has refused a schema that is not JSON already.
            Err(error) => {
                report.unchecked.push(SchemaUnchecked { chart: name, reason: error.to_string() });
                continue;
            }
        };
        match check_one(&schema, &Value::Object(entry.values.clone())) {
            Ok(errors) if errors.is_empty() => {}
            Ok(errors) => report.violations.push(SchemaViolation {
                chart_path: entry.path.clone(),
                chart: name,
                errors,
            }),
            Err(reason) => report.unchecked.push(SchemaUnchecked { chart: name, reason }),
        }
    }
    Ok(report)
}

/// The refusals of one schema, or why it could not be compiled.
fn check_one(schema: &Value, values: &Value) -> Result<Vec<String>, String> {
    const LOCATION: &str = "file:///values.schema.json";
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.set_default_draft(boon::Draft::V2020_12);
    compiler.use_loader(Box::new(NoRemoteLoader));
    compiler.add_resource(LOCATION, schema.clone()).map_err(|error| format!("{error:#}"))?;
    let index = compiler.compile(LOCATION, &mut schemas).map_err(|error| format!("{error:#}"))?;
    match schemas.validate(values, index) {
        Ok(()) => Ok(Vec::new()),
        Err(error) => {
            let mut lines = Vec::new();
            leaf_errors(&error, &mut lines);
            lines.sort();
            lines.dedup();
            Ok(lines)
        }
    }
}

/// The innermost causes, as `at '/path': message` (the lines Helm prints).
fn leaf_errors(error: &boon::ValidationError<'_, '_>, lines: &mut Vec<String>) {
    if error.causes.is_empty() {
        lines.push(format!("at '{}': {}", error.instance_location, error.kind));
    }
    for cause in &error.causes {
        leaf_errors(cause, lines);
    }
}

/// Refuses every document not given to the compiler: no network at check time.
struct NoRemoteLoader;

impl boon::UrlLoader for NoRemoteLoader {
    fn load(&self, url: &str) -> std::result::Result<Value, Box<dyn std::error::Error>> {
        Err(format!("`{url}` is not fetched (helmkots checks schemas without the network)").into())
    }
}

/// The value under `entry`'s key in its parent's values.
fn parent_value<'a>(charts: &'a [ChartValues<'_>], entry: &ChartValues<'_>) -> Option<&'a Value> {
    let (key, parent_path) = entry.path.split_last()?;
    charts.iter().find(|chart| chart.path.as_slice() == parent_path)?.values.get(key)
}

/// Helm's `processDependencyEnabled`: a dependency is enabled unless its `tags` (all of the
/// set ones false, none true, under the release's top-level `tags`) or its `condition` (the
/// first of its comma-separated paths, from the parent's place in the release's values, that
/// holds a boolean) turn it off; a condition wins over tags. A vendored chart no dependency
/// declares is always enabled.
fn enabled(charts: &[ChartValues<'_>], entry: &ChartValues<'_>, root_values: &Value) -> bool {
    let Some((key, parent_path)) = entry.path.split_last() else { return true };
    let Some(parent) = charts.iter().find(|chart| chart.path.as_slice() == parent_path) else { return true };
    let Some(dependency) = parent.chart.metadata.dependencies.iter().find(|dep| dep.values_key() == key)
    else {
        return true;
    };
    let mut on = true;
    let tags: BTreeMap<&str, bool> = root_values
        .get("tags")
        .and_then(Value::as_object)
        .map(|tags| tags.iter().filter_map(|(tag, value)| Some((tag.as_str(), value.as_bool()?))).collect())
        .unwrap_or_default();
    let set: Vec<bool> = dependency.tags.iter().filter_map(|tag| tags.get(tag.as_str()).copied()).collect();
    if !set.is_empty() && !set.contains(&true) {
        on = false;
    }
    if let Some(condition) = &dependency.condition {
        let prefix: String = parent_path.iter().map(|key| format!("{key}.")).collect();
        for path in condition.split(',').map(str::trim).filter(|path| !path.is_empty()) {
            if let Some(value) = path_value(root_values, &format!("{prefix}{path}")).and_then(Value::as_bool)
            {
                on = value;
                break;
            }
        }
    }
    on
}

/// Helm's `Values.PathValue`: a dotted path of map keys.
fn path_value<'a>(values: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(values, |value, key| value.as_object()?.get(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_required_key_with_a_null_default_is_refused_and_given_is_accepted() {
        let schema = serde_json::json!({"type": "object", "required": ["policy"],
            "properties": {"policy": {"type": "string", "enum": ["sync", "upsert-only"]}}});
        let missing = check_one(&schema, &serde_json::json!({})).unwrap();
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(missing[0].contains("policy"), "{missing:?}");
        assert!(check_one(&schema, &serde_json::json!({"policy": "sync"})).unwrap().is_empty());
        let wrong = check_one(&schema, &serde_json::json!({"policy": "nope"})).unwrap();
        assert!(wrong[0].starts_with("at '/policy'"), "{wrong:?}");
    }

    #[test]
    fn a_remote_reference_is_not_fetched() {
        let schema = serde_json::json!({"$ref": "https://example.com/schema.json"});
        let reason = check_one(&schema, &serde_json::json!({})).unwrap_err();
        assert!(reason.contains("not fetched"), "{reason}");
    }

    #[test]
    fn path_value_reads_dotted_map_keys() {
        let values = serde_json::json!({"sub": {"enabled": false}});
        assert_eq!(path_value(&values, "sub.enabled"), Some(&Value::Bool(false)));
        assert_eq!(path_value(&values, "sub.missing"), None);
    }
}
