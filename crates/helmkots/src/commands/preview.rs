//! `preview`: every manifest rendered as KOTS would render it for one configuration.

use camino::Utf8Path;

use super::{
    check::{check, validate},
    plan::plan,
    plan::{passthrough_manifests, MANIFESTS_DIR},
};
use crate::{
    error::{Error, Result},
    input::chart::{self},
    util::reproducible,
};

/// A release as KOTS would render it for one configuration.
#[derive(Debug, Clone)]
pub struct Preview {
    /// Every manifest (generated and passed through), rendered, by file name.
    pub manifests: Vec<(String, String)>,
    /// The resolved `kots-values.yaml`.
    pub values: String,
}

/// Where the preview pretends the customer's cluster is.
#[derive(Debug, Clone, Default)]
pub struct PreviewOptions {
    /// `Some((host, namespace))` for an airgap install with a local registry.
    pub local_registry: Option<(String, String)>,
    /// Config item values, item name → value (defaults for the others).
    pub set: std::collections::BTreeMap<String, String>,
    /// The namespace KOTS deploys into.
    pub namespace: Option<String>,
}

/// Renders every manifest's KOTS templates as KOTS would, without writing anything.
pub fn preview(release_file: &Utf8Path, options: &PreviewOptions) -> Result<Preview> {
    use crate::plan::kots_template::{self, Context, LocalRegistry};
    let checked = check(release_file)?;
    let packaged = chart::package(&checked.chart, reproducible::source_date_epoch()?)?;
    let validated = validate(&checked)?;
    let manifests = passthrough_manifests(&checked.release.root.join(MANIFESTS_DIR))?;
    let plan = plan(checked, validated, packaged, manifests, None)?;
    let mut ctx = Context::from_release(&plan.checked.release, &options.set).map_err(PreviewError::Config)?;
    if let Some(namespace) = &options.namespace {
        ctx.namespace = namespace.clone();
    }
    if let Some((host, namespace)) = &options.local_registry {
        ctx.local_registry = Some(LocalRegistry { host: host.clone(), namespace: namespace.clone() });
        ctx.airgap = true;
    }
    let render = |name: &str, text: &str| {
        kots_template::render(text, &ctx, name).map_err(|error| Error::from(PreviewError::Template(error)))
    };
    let mut manifests = Vec::new();
    for (path, bytes) in plan.tree.files() {
        let Some(name) = path.strip_prefix("manifests/") else { continue };
        let text = String::from_utf8_lossy(bytes);
        manifests.push((name.to_string(), render(name, &text)?));
    }
    let values = render("kots-values.yaml", &plan.values.tree.to_yaml())?;
    Ok(Preview { manifests, values })
}

/// Why the KOTS templates could not be previewed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreviewError {
    /// A `--set` item the Config screen does not have, or a value it does not take.
    #[error(transparent)]
    Config(#[from] crate::plan::kots_template::ContextError),
    /// A template KOTS would refuse (located at its file and line).
    #[error(transparent)]
    Template(#[from] crate::plan::kots_template::TemplateError),
}
