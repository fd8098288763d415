//! The generated KOTS release manifests: Application, Config, the Helm values ConfigMap (or
//! Secret) and the helm-cli Job, rendered from handlebars templates embedded in the binary.
//!
//! KOTS `repl` templates are Go templates: they reach the output only as data, never as
//! handlebars template text, so handlebars never evaluates them. Strings are quoted by the
//! one `yaml` helper ([`yaml_scalar`]); the values document comes from
//! [`crate::plan::values_yaml`].
//!
//! Architecture Invariant: pure functions from the model to text; no I/O, no network.

mod read_config;
mod values;

pub(crate) use read_config::read_config;
pub(crate) use values::{
    collisions, kots_values, rewrite_paths, rewrite_targets, ImageCollision, KotsValues,
};

use handlebars::{Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason};
use serde_json::{json, Value};

use crate::{input::chart::ChartMetadata, input::release::Release};

/// Name of the generated Application manifest.
pub(crate) const APP_FILE: &str = "kots-app.yaml";
/// Name of the generated Config manifest.
pub(crate) const CONFIG_FILE: &str = "kots-config.yaml";
/// Name of the generated values ConfigMap/Secret manifest.
pub(crate) const VALUES_FILE: &str = "helm-values.yaml";
/// Name of the generated Job manifest.
pub(crate) const JOB_FILE: &str = "helm-cli-job.yaml";

/// The KOTS template for the pull secret KOTS creates for the app's registries.
pub(crate) const PULL_SECRET_TEMPLATE: &str = "{{repl ImagePullSecretName }}";

const TEMPLATES: [(&str, &str); 4] = [
    (APP_FILE, include_str!("templates/kots-app.yaml.hbs")),
    (CONFIG_FILE, include_str!("templates/kots-config.yaml.hbs")),
    (VALUES_FILE, include_str!("templates/helm-values.yaml.hbs")),
    (JOB_FILE, include_str!("templates/helm-cli-job.yaml.hbs")),
];

/// Everything the manifests are made of.
#[derive(Debug, Clone)]
pub(crate) struct ManifestInputs<'a> {
    /// The validated release.
    pub release: &'a Release,
    /// The chart's metadata.
    pub chart: &'a ChartMetadata,
    /// `<name>-<version>.tgz`, as placed in the helm-cli image's workdir.
    pub chart_file_name: &'a str,
    /// `sha256:<hex>` of the packaged chart.
    pub chart_sha256: &'a str,
    /// The helm-cli image reference the Job runs (tag, and digest once pinned).
    pub helm_cli_image: &'a str,
    /// The values document and whether it holds secrets.
    pub values: &'a KotsValues,
    /// Every image for `additionalImages`, in its familiar form, sorted.
    pub additional_images: &'a [String],
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    /// File name inside `manifests/`.
    pub file_name: &'static str,
    /// The YAML text.
    pub text: String,
}

/// A manifest template failed to render: a bug in helmkots, not in the input.
#[derive(Debug, thiserror::Error)]
#[error("internal error rendering {template}: {message}")]
pub struct RenderError {
    /// The template.
    pub template: &'static str,
    /// What handlebars said.
    pub message: String,
}

/// Renders the four generated manifests, in a fixed order.
pub(crate) fn render(inputs: &ManifestInputs<'_>) -> Result<Vec<Manifest>, RenderError> {
    let handlebars = registry()?;
    let data = [
        (APP_FILE, app_data(inputs)),
        (CONFIG_FILE, config_data(inputs)),
        (VALUES_FILE, values_data(inputs)),
        (JOB_FILE, job_data(inputs)),
    ];
    data.into_iter()
        .map(|(file_name, data)| {
            let text = handlebars
                .render(file_name, &data)
                .map_err(|error| RenderError { template: file_name, message: error.to_string() })?;
            Ok(Manifest { file_name, text })
        })
        .collect()
}

fn registry() -> Result<Handlebars<'static>, RenderError> {
    let mut handlebars = Handlebars::new();
    handlebars.set_strict_mode(true);
    // Output is YAML, not HTML; quoting is the `yaml` helper's job.
    handlebars.register_escape_fn(handlebars::no_escape);
    handlebars.register_helper("yaml", Box::new(yaml_helper));
    handlebars.register_helper("indent", Box::new(indent_helper));
    for (name, text) in TEMPLATES {
        handlebars
            .register_template_string(name, text)
            .map_err(|error| RenderError { template: name, message: error.to_string() })?;
    }
    Ok(handlebars)
}

/// A YAML scalar for a string: single-quoted (so KOTS templates inside keep their double
/// quotes unescaped, both before and after YAML parsing), or JSON-quoted when the text holds
/// a single quote or a control character; numbers and booleans as they are.
pub(crate) fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::String(text) => {
            if text.contains('\'') || text.chars().any(char::is_control) {
                crate::plan::values_yaml::quote(text)
            } else {
                format!("'{text}'")
            }
        }
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

fn yaml_helper(
    helper: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &handlebars::Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let value = helper.param(0).ok_or(RenderErrorReason::ParamNotFoundForIndex("yaml", 0))?;
    out.write(&yaml_scalar(value.value()))?;
    Ok(())
}

fn indent_helper(
    helper: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &handlebars::Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let text = helper.param(0).and_then(|p| p.value().as_str()).unwrap_or_default();
    let width = helper.param(1).and_then(|p| p.value().as_u64()).unwrap_or(2) as usize;
    let pad = " ".repeat(width);
    let indented: Vec<String> = text
        .lines()
        .map(|line| if line.is_empty() { String::new() } else { format!("{pad}{line}") })
        .collect();
    out.write(&indented.join("\n"))?;
    Ok(())
}

fn common(inputs: &ManifestInputs<'_>) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("slug".into(), json!(inputs.release.app.slug.get_ref()));
    map.insert("release_file".into(), json!(inputs.release.file.path.file_name().unwrap_or("release.toml")));
    map
}

fn app_data(inputs: &ManifestInputs<'_>) -> Value {
    let app = &inputs.release.app;
    let mut map = common(inputs);
    map.insert("title".into(), json!(app.title));
    map.insert("icon".into(), json!(app.icon));
    map.insert("status_informers".into(), json!(app.status_informers));
    map.insert("additional_images".into(), json!(inputs.additional_images));
    Value::Object(map)
}

fn config_data(inputs: &ManifestInputs<'_>) -> Value {
    let groups: Vec<Value> = inputs
        .release
        .config
        .iter()
        .map(|group| {
            let items: Vec<Value> = group
                .items
                .iter()
                .map(|item| {
                    json!({
                        "name": item.name.get_ref(),
                        "title": item.title,
                        "type": item.item_type.as_str(),
                        "help_text": item.help_text,
                        "has_default": item.default.is_some(),
                        "default": item.default,
                        "when": item.when,
                        "required": item.required,
                        "hidden": item.hidden,
                        "readonly": item.readonly,
                        "choices": item.choices.iter().map(|c| json!({"name": c.name, "title": c.title})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({
                "name": group.name.get_ref(),
                "title": group.title,
                "description": group.description,
                "when": group.when,
                "items": items,
            })
        })
        .collect();
    let mut map = common(inputs);
    map.insert("config_name".into(), json!(format!("{}-config", inputs.release.app.slug.get_ref())));
    map.insert("groups".into(), json!(groups));
    Value::Object(map)
}

/// The name of the ConfigMap or Secret holding `kots-values.yaml`.
pub(crate) fn values_object_name(release: &Release) -> String {
    format!("{}-helm-values", release.app.slug.get_ref())
}

fn values_data(inputs: &ManifestInputs<'_>) -> Value {
    let mut map = common(inputs);
    let is_secret = inputs.values.holds_secret;
    map.insert("kind".into(), json!(if is_secret { "Secret" } else { "ConfigMap" }));
    map.insert("is_secret".into(), json!(is_secret));
    map.insert("name".into(), json!(values_object_name(inputs.release)));
    map.insert("values".into(), json!(inputs.values.tree.to_yaml()));
    Value::Object(map)
}

/// The `helm upgrade --install` arguments the Job runs (no shell involved).
pub(crate) fn helm_args(inputs: &ManifestInputs<'_>) -> Vec<String> {
    let release = inputs.release;
    let workdir = release.helm_cli.workdir.trim_end_matches('/');
    let namespace = if release.chart.namespace.is_empty() {
        "{{repl Namespace }}".to_string()
    } else {
        release.chart.namespace.clone()
    };
    let mut args = vec![
        "upgrade".to_string(),
        "--install".to_string(),
        release.chart.release_name.get_ref().clone(),
        format!("{workdir}/{}", inputs.chart_file_name),
        "-f".to_string(),
        format!("{workdir}/kots-values.yaml"),
        "--namespace".to_string(),
        namespace,
    ];
    args.extend(release.chart.helm_args.iter().cloned());
    args
}

fn job_data(inputs: &ManifestInputs<'_>) -> Value {
    let release = inputs.release;
    let workdir = release.helm_cli.workdir.trim_end_matches('/');
    let mut map = common(inputs);
    map.insert("job_name".into(), json!(release.job.name));
    map.insert("backoff_limit".into(), json!(release.job.backoff_limit));
    map.insert("service_account".into(), json!(release.job.service_account));
    map.insert("chart_file".into(), json!(inputs.chart_file_name));
    map.insert("chart_sha256".into(), json!(inputs.chart_sha256));
    map.insert("image".into(), json!(inputs.helm_cli_image));
    map.insert("args".into(), json!(helm_args(inputs)));
    map.insert("values_mount_path".into(), json!(format!("{workdir}/kots-values.yaml")));
    map.insert("values_is_secret".into(), json!(inputs.values.holds_secret));
    map.insert("values_name".into(), json!(values_object_name(release)));
    map.insert("pull_secret_template".into(), json!(PULL_SECRET_TEMPLATE));
    let _ = inputs.chart;
    Value::Object(map)
}
