//! Images in rendered Kubernetes manifests (the output of `helm template`), with where each
//! one is: template file, object, container.
//!
//! Pod-spec kinds are read exactly (containers, initContainers, ephemeralContainers of Pod,
//! Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, ReplicationController,
//! also inside `kind: List`); an `image` string anywhere in another kind is reported as
//! *possible*, because operators and CRDs often carry images the cluster pulls later.

use serde_json::Value;

/// One image found in a rendered object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RenderedImage {
    /// The image string as rendered.
    pub image: String,
    /// The template that produced the object (from Helm's `# Source:` comment).
    pub template: String,
    /// `Kind/name` of the object.
    pub object: String,
    /// The container's name, or the JSON path of the field for other kinds.
    pub container: String,
    /// True when the object is a pod-spec kind; false for an `image` field elsewhere.
    pub certain: bool,
    /// The pod's `imagePullSecrets` names (empty for uncertain finds).
    pub pull_secrets: Vec<String>,
    /// The object is a `helm.sh/hook: test` hook: only `helm test` creates it, never
    /// `helm upgrade --install`.
    pub test_hook: bool,
}

/// A rendered document that is not YAML (a broken chart template).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rendered template {template} is not valid YAML: {message}")]
pub(crate) struct RenderedYamlError {
    /// The template.
    pub template: String,
    /// The parser's message.
    pub message: String,
}

/// Every image in a `helm template` output stream, sorted.
pub(crate) fn images_in_stream(stream: &str) -> Result<Vec<RenderedImage>, RenderedYamlError> {
    let mut found = Vec::new();
    for (template, document) in split_documents(stream) {
        if document.trim().is_empty() {
            continue;
        }
        let value: Value = serde_saphyr::from_str(&document)
            .map_err(|error| RenderedYamlError { template: template.clone(), message: error.to_string() })?;
        collect_object(&value, &template, &mut found);
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// Splits a multi-document stream, remembering each document's `# Source:` template.
fn split_documents(stream: &str) -> Vec<(String, String)> {
    let mut documents = Vec::new();
    let mut template = String::from("<unknown>");
    let mut current = String::new();
    for line in stream.lines() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            documents.push((template.clone(), std::mem::take(&mut current)));
            continue;
        }
        if let Some(source) = line.strip_prefix("# Source: ") {
            template = source.trim().to_string();
        }
        current.push_str(line);
        current.push('\n');
    }
    documents.push((template, current));
    documents
}

const POD_TEMPLATE_KINDS: [&str; 6] =
    ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"];

fn collect_object(object: &Value, template: &str, found: &mut Vec<RenderedImage>) {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?");
    let object_id = format!("{kind}/{name}");
    let site = Site { template, object: &object_id, test_hook: is_test_hook(object) };
    let pod_spec = match kind {
        "List" => {
            for item in object.get("items").and_then(Value::as_array).into_iter().flatten() {
                collect_object(item, template, found);
            }
            return;
        }
        "Pod" => object.get("spec"),
        "CronJob" => object.pointer("/spec/jobTemplate/spec/template/spec"),
        kind if POD_TEMPLATE_KINDS.contains(&kind) => object.pointer("/spec/template/spec"),
        _ => None,
    };
    match pod_spec {
        Some(spec) => collect_pod_spec(spec, &site, found),
        None => collect_possible(object, &site, String::new(), found),
    }
}

/// Where the images of one rendered object come from.
struct Site<'a> {
    template: &'a str,
    object: &'a str,
    test_hook: bool,
}

/// `helm.sh/hook` lists `test` (or Helm 2's `test-success`/`test-failure`).
fn is_test_hook(object: &Value) -> bool {
    object
        .pointer("/metadata/annotations/helm.sh~1hook")
        .and_then(Value::as_str)
        .is_some_and(|hooks| hooks.split(',').any(|hook| hook.trim().starts_with("test")))
}

fn collect_pod_spec(spec: &Value, site: &Site<'_>, found: &mut Vec<RenderedImage>) {
    let pull_secrets: Vec<String> = spec
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|secret| secret.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    for field in ["initContainers", "containers", "ephemeralContainers"] {
        for container in spec.get(field).and_then(Value::as_array).into_iter().flatten() {
            let Some(image) = container.get("image").and_then(Value::as_str) else { continue };
            let container_name = container.get("name").and_then(Value::as_str).unwrap_or("?");
            found.push(RenderedImage {
                image: image.to_string(),
                template: site.template.to_string(),
                object: site.object.to_string(),
                container: format!("{field}/{container_name}"),
                certain: true,
                pull_secrets: pull_secrets.clone(),
                test_hook: site.test_hook,
            });
        }
    }
}

fn collect_possible(value: &Value, site: &Site<'_>, path: String, found: &mut Vec<RenderedImage>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_path = format!("{path}.{key}");
                if key == "image" {
                    if let Some(image) = child.as_str() {
                        found.push(RenderedImage {
                            image: image.to_string(),
                            template: site.template.to_string(),
                            object: site.object.to_string(),
                            container: child_path.clone(),
                            certain: false,
                            pull_secrets: Vec::new(),
                            test_hook: site.test_hook,
                        });
                    }
                }
                collect_possible(child, site, child_path, found);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                collect_possible(child, site, format!("{path}[{index}]"), found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_pod_spec_images_and_possible_ones() {
        let stream = "---
# Source: app/templates/deploy.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      imagePullSecrets: [{name: reg}]
      initContainers: [{name: init, image: busybox:1}]
      containers: [{name: web, image: 'r.local/web:2'}]
---
# Source: app/templates/cron.yaml
kind: CronJob
metadata: {name: c}
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: j, image: job:1}]}}}}}
---
# Source: app/templates/tests/test.yaml
kind: Pod
metadata: {name: t, annotations: {helm.sh/hook: test}}
spec: {containers: [{name: t, image: 'bats:1'}]}
---
# Source: app/templates/list.yaml
kind: List
items:
  - {kind: Pod, metadata: {name: p}, spec: {containers: [{name: a, image: pod:1}]}}
---
# Source: app/templates/crd.yaml
kind: Prometheus
metadata: {name: prom}
spec: {image: quay.io/prometheus/prometheus:v2}
";
        let images = images_in_stream(stream).unwrap();
        let summary: Vec<(String, String, bool)> =
            images.iter().map(|i| (i.image.clone(), i.container.clone(), i.certain)).collect();
        assert_eq!(
            summary,
            vec![
                ("bats:1".to_string(), "containers/t".to_string(), true),
                ("busybox:1".to_string(), "initContainers/init".to_string(), true),
                ("job:1".to_string(), "containers/j".to_string(), true),
                ("pod:1".to_string(), "containers/a".to_string(), true),
                ("quay.io/prometheus/prometheus:v2".to_string(), ".spec.image".to_string(), false),
                ("r.local/web:2".to_string(), "containers/web".to_string(), true),
            ]
        );
        assert_eq!(images[5].pull_secrets, vec!["reg"]);
        assert_eq!(images[5].template, "app/templates/deploy.yaml");
        assert!(images[0].test_hook, "a helm.sh/hook: test pod is a test hook");
        assert!(!images[1].test_hook);
    }
}
