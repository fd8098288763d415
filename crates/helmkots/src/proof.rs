//! The airgap proof: for every configuration of the Config screen that changes values, in
//! airgap mode (with a registry namespace and without) and online, render the chart exactly
//! as the customer's KOTS and Helm would, and check every image it deploys.
//!
//! Per run: the KOTS templates of `kots-values.yaml` are resolved ([`crate::kots_template`]),
//! the chart is rendered with `helm template` (hooks and test pods included), every image is
//! read from the rendered objects ([`crate::rendered_images`]), and:
//! - airgap: every image must be `<host>/<namespace>/<last component>` and be one the bundle
//!   holds (for a tree without a bundle: one `additionalImages` lists);
//! - online: private images must go through the proxy, every other image must be exactly
//!   one that discovery found;
//! - every pod that pulls from the local registry or the proxy must reference the pull
//!   secret, unless the chart offers no way to set one (then the proof says so).
//!
//! Configurations: every combination of the bool and select items that set a value, for up
//! to [`EXHAUSTIVE_LIMIT`] such items; beyond that each item flipped alone plus a greedy
//! pairwise cover.

use std::collections::{BTreeMap, BTreeSet};

use camino::Utf8Path;
use serde::Serialize;

use crate::{
    chart::Chart,
    discover::ImageSet,
    helm_template::{Render, RenderError},
    image_ref::ImageRef,
    image_routing::Routing,
    kots::rewrite_paths,
    kots_template::{self, Context, LocalRegistry},
    release::{ItemType, Release},
    rendered_images::{self, RenderedImage},
    template_reach::TemplateIndex,
};

/// Up to this many value-changing items, every combination is proved.
pub const EXHAUSTIVE_LIMIT: usize = 10;

/// The registry host the airgap runs pretend the customer has.
pub const PROOF_REGISTRY_HOST: &str = "registry.airgap.invalid:5000";
/// The registry namespace of the airgap run that has one.
pub const PROOF_REGISTRY_NAMESPACE: &str = "proof-ns";
/// The namespace the chart is rendered into.
pub const PROOF_NAMESPACE: &str = "helmkots-proof";

/// How the configurations were chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// Every combination.
    Exhaustive,
    /// Each item flipped alone, plus every pair of values of every two items.
    Pairwise,
}

/// One way the customer's cluster may be set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Mode {
    /// An airgap install with a local registry.
    Airgap {
        /// Registry host.
        host: String,
        /// Registry namespace, maybe empty.
        namespace: String,
    },
    /// An online install.
    Online,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Airgap { host, namespace } if namespace.is_empty() => write!(f, "airgap {host}"),
            Mode::Airgap { host, namespace } => write!(f, "airgap {host}/{namespace}"),
            Mode::Online => f.write_str("online"),
        }
    }
}

/// The three modes every configuration is proved in.
pub fn modes() -> Vec<Mode> {
    vec![
        Mode::Airgap { host: PROOF_REGISTRY_HOST.into(), namespace: PROOF_REGISTRY_NAMESPACE.into() },
        Mode::Airgap { host: PROOF_REGISTRY_HOST.into(), namespace: String::new() },
        Mode::Online,
    ]
}

/// What the proof needs, whether it runs on a plan or on a written tree.
#[derive(Debug, Clone)]
pub struct ProofInputs<'a> {
    /// The release (config items, routing, release name).
    pub release: &'a Release,
    /// The `kots-values.yaml` text, with its KOTS templates.
    pub values_template: &'a str,
    /// The packaged chart on disk (what `helm template` renders).
    pub chart_archive: &'a Utf8Path,
    /// The images discovery found.
    pub images: &'a ImageSet,
    /// What the bundle holds (`savedImages`), or `additionalImages` for a tree without one.
    pub shipped_images: &'a [String],
    /// Whether the chart offers a values path for pull secrets.
    pub chart_sets_pull_secrets: bool,
    /// The `helm` program to run.
    pub helm: &'a str,
    /// The chart as loaded (its templates tell which pods can take a pull secret).
    pub chart: &'a Chart,
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ProofFailure {
    /// The configuration, as `item=value` pairs.
    pub configuration: String,
    /// The mode.
    pub mode: String,
    /// The rendered template that holds the object.
    pub template: String,
    /// `Kind/name`.
    pub object: String,
    /// The image as rendered (empty when Helm itself failed).
    pub image: String,
    /// What is wrong and what to do.
    pub reason: String,
    /// The values path(s) that should have been rewritten, when known.
    pub values_path: Option<String>,
}

/// The result of one configuration in one mode.
#[derive(Debug, Clone, Serialize)]
pub struct ProofRun {
    /// The configuration, as `item=value` pairs.
    pub configuration: String,
    /// The mode.
    pub mode: String,
    /// How many image references were checked.
    pub images_checked: usize,
    /// Every failed check.
    pub failures: Vec<ProofFailure>,
    /// What this run could not check or chose not to (test pods, pods the chart gives no
    /// pull secret); gathered, deduplicated, into [`ProofReport::notes`].
    #[serde(skip)]
    pub notes: Vec<String>,
}

/// The whole proof.
#[derive(Debug, Clone, Serialize)]
pub struct ProofReport {
    /// How configurations were chosen.
    pub coverage: Coverage,
    /// How many configurations were proved.
    pub configurations: usize,
    /// The items that change values.
    pub items: Vec<String>,
    /// Every run, in order.
    pub runs: Vec<ProofRun>,
    /// Things the proof could not check, said plainly.
    pub notes: Vec<String>,
}

impl ProofReport {
    /// Every failure of every run.
    pub fn failures(&self) -> impl Iterator<Item = &ProofFailure> {
        self.runs.iter().flat_map(|run| &run.failures)
    }

    /// True when nothing failed.
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }
}

/// Why the proof could not run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// No `helm` program to render the chart with.
    #[error("cannot run `{helm}`: {source}")]
    NoHelm {
        /// The program.
        helm: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A temporary file could not be written.
    #[error("cannot write a temporary values file: {0}")]
    TempFile(#[source] std::io::Error),
}

/// The items that change values and the values they can take.
pub fn dimensions(release: &Release) -> Vec<(String, Vec<String>)> {
    release
        .config
        .iter()
        .flat_map(|group| &group.items)
        .filter(|item| item.value.is_some())
        .filter_map(|item| {
            let values = match item.item_type {
                ItemType::Bool => vec!["0".to_string(), "1".to_string()],
                t if t.has_choices() => item.choices.iter().map(|c| c.name.clone()).collect(),
                _ => return None,
            };
            Some((item.name.get_ref().clone(), values))
        })
        .collect()
}

/// The configurations to prove, each a map item → value, and how they were chosen.
pub fn configurations(release: &Release) -> (Vec<BTreeMap<String, String>>, Coverage) {
    let dims = dimensions(release);
    let defaults: BTreeMap<String, String> = dims
        .iter()
        .map(|(name, values)| {
            let default = release
                .config
                .iter()
                .flat_map(|g| &g.items)
                .find(|item| item.name.get_ref() == name)
                .and_then(|item| item.default.clone())
                .unwrap_or_else(|| values[0].clone());
            (name.clone(), default)
        })
        .collect();
    if dims.len() <= EXHAUSTIVE_LIMIT {
        let mut all = vec![BTreeMap::new()];
        for (name, values) in &dims {
            all = all
                .into_iter()
                .flat_map(|partial| {
                    values.iter().map(move |value| {
                        let mut next = partial.clone();
                        next.insert(name.clone(), value.clone());
                        next
                    })
                })
                .collect();
        }
        return (all, Coverage::Exhaustive);
    }
    let mut chosen: Vec<BTreeMap<String, String>> = vec![defaults.clone()];
    for (name, values) in &dims {
        for value in values {
            let mut flipped = defaults.clone();
            flipped.insert(name.clone(), value.clone());
            if !chosen.contains(&flipped) {
                chosen.push(flipped);
            }
        }
    }
    // Greedy pairwise cover: keep adding the configuration that covers the most pairs not
    // covered yet, starting each from an uncovered pair.
    let covered = |configs: &[BTreeMap<String, String>], a: &(String, String), b: &(String, String)| {
        configs.iter().any(|c| c.get(&a.0) == Some(&a.1) && c.get(&b.0) == Some(&b.1))
    };
    let mut uncovered = Vec::new();
    for (i, (name_a, values_a)) in dims.iter().enumerate() {
        for (name_b, values_b) in &dims[i + 1..] {
            for value_a in values_a {
                for value_b in values_b {
                    let pair = ((name_a.clone(), value_a.clone()), (name_b.clone(), value_b.clone()));
                    if !covered(&chosen, &pair.0, &pair.1) {
                        uncovered.push(pair);
                    }
                }
            }
        }
    }
    while let Some((a, b)) = uncovered.first().cloned() {
        let mut config = defaults.clone();
        config.insert(a.0.clone(), a.1.clone());
        config.insert(b.0.clone(), b.1.clone());
        for (name, values) in &dims {
            if *name == a.0 || *name == b.0 {
                continue;
            }
            let best = values
                .iter()
                .max_by_key(|value| {
                    let mut trial = config.clone();
                    trial.insert(name.clone(), (*value).clone());
                    uncovered.iter().filter(|(x, y)| covered(std::slice::from_ref(&trial), x, y)).count()
                })
                .cloned();
            if let Some(best) = best {
                config.insert(name.clone(), best);
            }
        }
        uncovered.retain(|(x, y)| !covered(std::slice::from_ref(&config), x, y));
        chosen.push(config);
    }
    (chosen, Coverage::Pairwise)
}

/// Runs the proof.
pub fn prove(inputs: &ProofInputs<'_>) -> Result<ProofReport, ProofError> {
    let (configs, coverage) = configurations(inputs.release);
    let modes = modes();
    let kube_versions = &inputs.release.chart.kube_versions;
    let jobs: Vec<(BTreeMap<String, String>, Mode, &str)> = configs
        .iter()
        .flat_map(|config| modes.iter().map(move |mode| (config.clone(), mode.clone())))
        .flat_map(|(config, mode)| {
            kube_versions.iter().map(move |kube| (config.clone(), mode.clone(), kube.as_str()))
        })
        .collect();
    let templates = TemplateIndex::new(inputs.chart);
    let templates = &templates;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    let chunk = jobs.len().div_ceil(workers).max(1);
    let results: Vec<Result<Vec<ProofRun>, ProofError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|slice| {
                scope.spawn(move || {
                    slice
                        .iter()
                        .map(|(config, mode, kube)| {
                            let kube = (kube_versions.len() > 1).then_some(*kube);
                            prove_one(inputs, templates, config, mode, kube)
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(ProofError::TempFile(std::io::Error::other("worker panicked"))))
            })
            .collect()
    });
    let mut runs = Vec::new();
    for result in results {
        runs.extend(result?);
    }
    let mut notes: Vec<String> = Vec::new();
    for note in runs.iter().flat_map(|run| &run.notes) {
        if !notes.contains(note) {
            notes.push(note.clone());
        }
    }
    if !inputs.chart_sets_pull_secrets {
        notes.push(
            "the chart offers no values path for image pull secrets, so pods cannot be checked for one; \
             an authenticated local registry or proxy will refuse their pulls"
                .to_string(),
        );
    }
    Ok(ProofReport {
        coverage,
        configurations: configs.len(),
        items: dimensions(inputs.release).into_iter().map(|(name, _)| name).collect(),
        runs,
        notes,
    })
}

/// A configuration as `item=value` pairs, or `(defaults)`.
pub fn describe(config: &BTreeMap<String, String>) -> String {
    if config.is_empty() {
        return "(defaults)".to_string();
    }
    config.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

fn prove_one(
    inputs: &ProofInputs<'_>,
    templates: &TemplateIndex,
    config: &BTreeMap<String, String>,
    mode: &Mode,
    kube_version: Option<&str>,
) -> Result<ProofRun, ProofError> {
    let configuration = describe(config);
    // The Kubernetes version is named only when the release declares several.
    let mode_text = match kube_version {
        Some(version) => format!("{mode} (kube {version})"),
        None => mode.to_string(),
    };
    let failure = |template: &str, object: &str, image: &str, reason: String, values_path: Option<String>| {
        ProofFailure {
            configuration: configuration.clone(),
            mode: mode_text.clone(),
            template: template.to_string(),
            object: object.to_string(),
            image: image.to_string(),
            reason,
            values_path,
        }
    };
    let mut ctx = match Context::from_release(inputs.release, config) {
        Ok(ctx) => ctx,
        Err(error) => {
            return Ok(ProofRun {
                configuration: configuration.clone(),
                mode: mode_text.clone(),
                images_checked: 0,
                notes: Vec::new(),
                failures: vec![failure("", "", "", error.to_string(), None)],
            })
        }
    };
    ctx.namespace = PROOF_NAMESPACE.to_string();
    if let Mode::Airgap { host, namespace } = mode {
        ctx.local_registry = Some(LocalRegistry { host: host.clone(), namespace: namespace.clone() });
        ctx.airgap = true;
    }
    let values = match kots_template::render(inputs.values_template, &ctx, "kots-values.yaml") {
        Ok(values) => values,
        Err(error) => {
            return Ok(ProofRun {
                configuration: configuration.clone(),
                mode: mode_text.clone(),
                images_checked: 0,
                notes: Vec::new(),
                failures: vec![failure("kots-values.yaml", "", "", error.to_string(), None)],
            })
        }
    };
    let render = Render {
        helm: inputs.helm,
        chart: inputs.chart_archive,
        release_name: inputs.release.chart.release_name.get_ref(),
        namespace: PROOF_NAMESPACE,
        kube_version: Some(kube_version.unwrap_or_else(|| inputs.release.chart.kube_versions[0].as_str())),
    };
    let stream = match render.run(&values) {
        Ok(stream) => stream,
        Err(RenderError::CannotRun { helm, message }) => {
            return Err(ProofError::NoHelm { helm, source: std::io::Error::other(message) })
        }
        Err(RenderError::Helm(message)) => {
            return Ok(ProofRun {
                configuration: configuration.clone(),
                mode: mode_text.clone(),
                images_checked: 0,
                notes: Vec::new(),
                failures: vec![failure("", "", "", format!("helm template failed: {message}"), None)],
            })
        }
    };
    let rendered = match rendered_images::images_in_stream(&stream) {
        Ok(rendered) => rendered,
        Err(error) => {
            return Ok(ProofRun {
                configuration: configuration.clone(),
                mode: mode_text.clone(),
                images_checked: 0,
                notes: Vec::new(),
                failures: vec![failure(&error.template, "", "", error.to_string(), None)],
            })
        }
    };
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    let mut checked = 0;
    for image in &rendered {
        if image.test_hook && !inputs.release.images.ship_test_images {
            notes.push(format!(
                "`{}` is pulled only by the helm test pod {} ({}): `helm upgrade --install` never creates it, \
                 so the proof does not check it (set [images] ship_test_images = true to ship and check it)",
                image.image, image.object, image.template
            ));
            continue;
        }
        checked += 1;
        match check_image(inputs, &ctx, mode, image) {
            Some(Finding::Failure(reason, values_path)) => {
                failures.push(failure(&image.template, &image.object, &image.image, reason, values_path))
            }
            Some(Finding::NoPullSecret(_)) if !templates.reaches(&image.template, "ullSecrets") => {
                notes.push(format!(
                    "{} ({}) pulls `{}` with no image pull secret, and its template takes none from the values: \
                     an authenticated local registry or proxy refuses it unless the pod's service account carries \
                     the secret `{}-registry`; ask the chart's maintainers for imagePullSecrets on it",
                    image.object, image.template, image.image, ctx.app_slug
                ));
            }
            Some(Finding::NoPullSecret(reason)) => {
                failures.push(failure(&image.template, &image.object, &image.image, reason, None))
            }
            None => {}
        }
    }
    failures.sort();
    failures.dedup();
    Ok(ProofRun { configuration, mode: mode_text, images_checked: checked, failures, notes })
}

/// What is wrong with one rendered image.
enum Finding {
    /// A failure: the reason and the values path to blame.
    Failure(String, Option<String>),
    /// The pod lacks the pull secret; a failure unless its template takes none.
    NoPullSecret(String),
}

/// `None` when the image is fine, else what is wrong.
fn check_image(
    inputs: &ProofInputs<'_>,
    ctx: &Context,
    mode: &Mode,
    image: &RenderedImage,
) -> Option<Finding> {
    let Ok(rendered) = ImageRef::parse(&image.image) else {
        return Some(Finding::Failure(format!("`{}` is not a valid image reference", image.image), None));
    };
    let pull_secret = format!("{}-registry", ctx.app_slug);
    let has_pull_secret = image.pull_secrets.contains(&pull_secret);
    let routing: &Routing = &ctx.routing;
    match mode {
        Mode::Airgap { host, namespace } => {
            let shipped: BTreeSet<String> = inputs
                .shipped_images
                .iter()
                .filter_map(|text| ImageRef::parse(text).ok())
                .filter_map(|r| ImageRef::parse(&r.local_name(host, namespace)).ok())
                .map(|r| r.to_string())
                .collect();
            let prefix =
                if namespace.is_empty() { format!("{host}/") } else { format!("{host}/{namespace}/") };
            let in_local_registry =
                image.image.starts_with(&prefix) && !image.image[prefix.len()..].contains('/');
            if !in_local_registry {
                return Some(blame_finding(
                    inputs,
                    mode,
                    &rendered,
                    image,
                    &format!("is not rewritten to the local registry `{prefix}`"),
                ));
            }
            if !shipped.contains(&rendered.to_string()) {
                return Some(Finding::Failure(
                    format!(
                        "`{}` is not in the bundle: no shipped image becomes this name in the local registry \
                         (check its tag, or add the image to [images] include)",
                        image.image
                    ),
                    None,
                ));
            }
            if image.certain && !has_pull_secret && inputs.chart_sets_pull_secrets {
                return Some(Finding::NoPullSecret(format!(
                    "the pod pulls from the local registry without the pull secret `{pull_secret}`"
                )));
            }
            None
        }
        Mode::Online => {
            let proxied =
                !routing.proxy.is_empty() && image.image.starts_with(&format!("{}/", routing.proxy));
            if proxied {
                let original = &image.image[routing.proxy.len() + 1..];
                let known = ImageRef::parse(original)
                    .ok()
                    .is_some_and(|r| inputs.images.references().any(|d| d.to_string() == r.to_string()));
                if !known {
                    return Some(Finding::Failure(
                        format!("`{original}` goes through the proxy but discovery did not find it"),
                        None,
                    ));
                }
                if image.certain && !has_pull_secret && inputs.chart_sets_pull_secrets {
                    return Some(Finding::NoPullSecret(format!(
                        "the pod pulls through the proxy without the pull secret `{pull_secret}`"
                    )));
                }
                return None;
            }
            if routing.is_private(&rendered) {
                return Some(blame_finding(
                    inputs,
                    mode,
                    &rendered,
                    image,
                    &format!("is private but does not go through the proxy `{}`", routing.proxy),
                ));
            }
            let discovered = inputs.images.references().any(|d| d.to_string() == rendered.to_string());
            if !discovered && image.certain {
                return Some(blame_finding(
                    inputs,
                    mode,
                    &rendered,
                    image,
                    "is not an image discovery found",
                ));
            }
            None
        }
    }
}

fn blame_finding(
    inputs: &ProofInputs<'_>,
    mode: &Mode,
    rendered: &ImageRef,
    image: &RenderedImage,
    what: &str,
) -> Finding {
    let (reason, values_path) = blame(inputs, mode, rendered, image, what);
    Finding::Failure(reason, values_path)
}

/// Names the values path that should have been rewritten, or says the image is hard-coded.
fn blame(
    inputs: &ProofInputs<'_>,
    mode: &Mode,
    rendered: &ImageRef,
    image: &RenderedImage,
    what: &str,
) -> (String, Option<String>) {
    let paths: Vec<String> = inputs
        .images
        .images
        .iter()
        .filter(|d| d.reference.to_string() == rendered.to_string())
        .flat_map(|d| &d.sources)
        .filter_map(|source| Some(rewrite_paths(source.values_path.as_deref()?, &source.shape).join(" and ")))
        .filter(|p| !p.is_empty())
        .collect();
    if !paths.is_empty() {
        let paths = paths.join(", ");
        return (
            format!("`{}` {what}: values path {paths} should have been rewritten", image.image),
            Some(paths),
        );
    }
    let fix = match mode {
        // Listing it ships the image, but nothing can rewrite a name a template hard-codes.
        Mode::Airgap { .. } => "make it configurable in the chart's values, so that helmkots can rewrite it",
        Mode::Online => "make it configurable in the chart's values, or add it to [images] include",
    };
    (
        format!(
            "`{}` {what}: it is hard-coded in template {} (no values path sets it); {fix}",
            image.image, image.template
        ),
        None,
    )
}
