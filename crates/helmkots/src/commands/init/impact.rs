//! What each optional component changes, by rendering: `init` proposes only the booleans
//! that add or remove images or workloads.
//!
//! The chart is rendered with its defaults, then once per candidate with that one value
//! flipped (through `helm template`, as rendered discovery and the proof render). What a
//! flip changes is the images and workloads (pod-bearing objects) that appear or disappear;
//! a flip Helm refuses, or one that changes nothing, proposes nothing.

use std::collections::BTreeSet;

use camino::Utf8Path;
use serde_json::{Map, Value};

use crate::input::value_path::Segment;
use crate::render::helm_template::{Render, RenderError};
use crate::render::rendered_images;

/// What flipping one boolean changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Impact {
    /// Images that appear or disappear.
    pub images: BTreeSet<String>,
    /// Workloads (`Kind/name`) that appear or disappear.
    pub workloads: BTreeSet<String>,
}

impl Impact {
    /// How much the flip changes: images and workloads together.
    pub(super) fn weight(&self) -> usize {
        self.images.len() + self.workloads.len()
    }
}

/// Why nothing could be measured.
#[derive(Debug, thiserror::Error)]
pub(super) enum ImpactError {
    /// No `helm` to render with.
    #[error("{0}")]
    CannotRun(String),
    /// The chart does not render with its own defaults.
    #[error("the chart does not render with its defaults: {0}")]
    DefaultsRefused(String),
}

/// The impact of flipping each of `candidates` (values paths and their defaults), in order;
/// `None` where the flipped chart does not render.
pub(super) fn measure(
    helm: &str,
    chart: &Utf8Path,
    release_name: &str,
    base_values: &Value,
    candidates: &[(Vec<Segment>, bool)],
) -> Result<Vec<Option<Impact>>, ImpactError> {
    let render = Render { helm, chart, release_name, namespace: "default", kube_version: None };
    // The images and the workloads one render shows; `None` when Helm refuses the values.
    type Shown = Option<(BTreeSet<String>, BTreeSet<String>)>;
    let run = |values: &Value| -> Result<Shown, ImpactError> {
        match render.run(&values.to_string()) {
            Ok(stream) => Ok(rendered_images::images_in_stream(&stream).ok().map(|images| {
                let workloads = images.iter().map(|image| image.object.clone()).collect();
                (images.into_iter().map(|image| image.image).collect(), workloads)
            })),
            Err(RenderError::CannotRun { helm, message }) => {
                Err(ImpactError::CannotRun(format!("cannot run `{helm}`: {message}")))
            }
            Err(RenderError::Helm(_)) => Ok(None),
        }
    };
    let base = match render.run(&base_values.to_string()) {
        Ok(stream) => rendered_images::images_in_stream(&stream)
            .map_err(|error| ImpactError::DefaultsRefused(error.to_string()))?,
        Err(RenderError::CannotRun { helm, message }) => {
            return Err(ImpactError::CannotRun(format!("cannot run `{helm}`: {message}")))
        }
        Err(RenderError::Helm(message)) => return Err(ImpactError::DefaultsRefused(message)),
    };
    let base_images: BTreeSet<String> = base.iter().map(|image| image.image.clone()).collect();
    let base_workloads: BTreeSet<String> = base.iter().map(|image| image.object.clone()).collect();
    crate::util::parallel::map_in_order(
        candidates,
        crate::util::parallel::cpu_workers(),
        |(path, default)| {
            let mut values = base_values.clone();
            merge(&mut values, flipped(path, !default));
            run(&values).map(|rendered| {
                rendered.map(|(images, workloads)| Impact {
                    images: images.symmetric_difference(&base_images).cloned().collect(),
                    workloads: workloads.symmetric_difference(&base_workloads).cloned().collect(),
                })
            })
        },
    )
    .into_iter()
    .collect()
}

/// Whether the chart renders with `values`.
pub(super) fn renders(helm: &str, chart: &Utf8Path, release_name: &str, values: &Value) -> bool {
    let render = Render { helm, chart, release_name, namespace: "default", kube_version: None };
    render.run(&values.to_string()).is_ok()
}

/// `overlay` merged into `base` as Helm merges values files ([`crate::input::chart::merge_maps`]).
pub(super) fn merge(base: &mut Value, overlay: Value) {
    if let (Value::Object(map), Value::Object(over)) = (&mut *base, overlay) {
        *map = crate::input::chart::merge_maps(std::mem::take(map), over);
    }
}

/// A values document that sets only `path` to `value`.
pub(super) fn set_at(path: &[Segment], value: Value) -> Value {
    let mut document = value;
    for segment in path.iter().rev() {
        if let Segment::Key(key) = segment {
            let mut map = Map::new();
            map.insert(key.clone(), document);
            document = Value::Object(map);
        }
    }
    document
}

/// A values document that sets only `path` to the bool `value`.
fn flipped(path: &[Segment], value: bool) -> Value {
    set_at(path, Value::Bool(value))
}

/// The comment above each key of a values.yaml, by values path: a helm-docs `# -- text`
/// annotation (with its `#` continuation lines) when there is one, else the plain comment
/// lines right above the key. Keys inside lists are skipped. Hand-written: YAML parsers drop
/// comments, and helm-docs' convention is line-based.
pub(super) fn values_comments(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut comments = std::collections::BTreeMap::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() {
            pending.clear();
            continue;
        }
        if trimmed.starts_with('#') {
            let comment = trimmed.trim_start_matches('#').trim();
            // Bitnami's readme-generator: `## @param path Description`.
            let comment = match comment.strip_prefix("@param ") {
                Some(rest) => rest.split_once(' ').map_or("", |(_, description)| description),
                None => comment,
            };
            pending.push(comment.to_string());
            continue;
        }
        if trimmed.starts_with('-') {
            pending.clear();
            continue;
        }
        let Some((key, _)) = trimmed.split_once(':') else {
            pending.clear();
            continue;
        };
        let key = key.trim().trim_matches(['"', '\'']);
        while stack.last().is_some_and(|(level, _)| *level >= indent) {
            stack.pop();
        }
        stack.push((indent, key.to_string()));
        let path = stack.iter().map(|(_, key)| key.as_str()).collect::<Vec<_>>().join(".");
        let described = match pending.iter().position(|line| line.starts_with("--")) {
            Some(start) => {
                let mut text = pending[start].trim_start_matches("--").trim().to_string();
                for more in &pending[start + 1..] {
                    if !more.starts_with('@') {
                        text.push(' ');
                        text.push_str(more);
                    }
                }
                text
            }
            None => {
                pending.iter().filter(|line| !line.starts_with('@')).cloned().collect::<Vec<_>>().join(" ")
            }
        };
        let described = described.split_whitespace().collect::<Vec<_>>().join(" ");
        if !described.is_empty() {
            comments.insert(path, described);
        }
        pending.clear();
    }
    comments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitnami_param_annotations_describe_keys() {
        let comments = values_comments(
            "## @param metrics.enabled Start a sidecar exporter\n## @section x\nmetrics:\n  enabled: false\n",
        );
        assert_eq!(comments["metrics"], "Start a sidecar exporter");
    }

    #[test]
    fn helm_docs_annotations_and_plain_comments_describe_keys() {
        let text = "\
# -- Deploy the metrics exporter
# and its ServiceMonitor
metrics:
  # Plain comment
  enabled: false
list:
  - name: x
# unrelated

other: 1
";
        let comments = values_comments(text);
        assert_eq!(comments["metrics"], "Deploy the metrics exporter and its ServiceMonitor");
        assert_eq!(comments["metrics.enabled"], "Plain comment");
        assert!(!comments.contains_key("other"), "a blank line ends a comment");
    }

    #[test]
    fn a_flip_sets_only_its_path() {
        let path = vec![Segment::Key("a".into()), Segment::Key("enabled".into())];
        assert_eq!(flipped(&path, true), serde_json::json!({"a": {"enabled": true}}));
    }
}
