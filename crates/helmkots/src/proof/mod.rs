//! The airgap proof: for every configuration of the Config screen that changes values, in
//! airgap mode (with a registry namespace and without) and online, render the chart exactly
//! as the customer's KOTS and Helm would, and check every image it deploys.
//!
//! Per run: the KOTS templates of `kots-values.yaml` are resolved ([`crate::plan::kots_template`]),
//! the chart is rendered with `helm template` (hooks and test pods included), every image is
//! read from the rendered objects ([`crate::render::rendered_images`]), and:
//! - airgap: every image must be `<host>/<namespace>/<last component>` and be one the bundle
//!   holds (for a tree without a bundle: one `additionalImages` lists);
//! - online: private images must go through the proxy, every other image must be exactly
//!   one that discovery found;
//! - every pod that pulls from the local registry or the proxy must reference the pull
//!   secret, unless the chart offers no way to set one (then the proof says so).
//!
//! Configurations: a t-way covering array over the bool and select items that set a value
//! ([`cover`]; `[proof] strength`, 3 by default), or every combination when that is no more.
//! Configurations whose resolved `kots-values.yaml` is the same as one already proved (in the
//! same mode) are not rendered again.

pub(crate) mod cover;
mod spec;

pub(crate) use spec::{
    proved_images, ProofRecord, ProofSpec, ProvedImage, RECORD_FILE, RECORD_SCHEMA_VERSION,
};

use std::collections::{BTreeMap, BTreeSet};

use camino::Utf8Path;

use crate::{
    input::chart::Chart,
    input::image_ref::ImageRef,
    input::release::ItemType,
    plan::image_routing::Routing,
    plan::kots_template::{self, Context, LocalRegistry},
    render::helm_template::{Render, RenderCache, RenderError},
    render::rendered_images::{self, RenderedImage},
    render::template_reach::TemplateIndex,
};

/// The registry host the airgap runs pretend the customer has.
pub(crate) const PROOF_REGISTRY_HOST: &str = "registry.airgap.invalid:5000";
/// The registry namespace of the airgap run that has one.
pub(crate) const PROOF_REGISTRY_NAMESPACE: &str = "proof-ns";
/// The namespace the chart is rendered into.
pub(crate) const PROOF_NAMESPACE: &str = "helmkots-proof";

/// How the configurations were chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Every combination.
    Exhaustive,
    /// A covering array: every combination of `strength` items' values appears somewhere.
    CoveringArray,
}

/// One way the customer's cluster may be set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
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
pub(crate) fn modes() -> Vec<Mode> {
    vec![
        Mode::Airgap { host: PROOF_REGISTRY_HOST.into(), namespace: PROOF_REGISTRY_NAMESPACE.into() },
        Mode::Airgap { host: PROOF_REGISTRY_HOST.into(), namespace: String::new() },
        Mode::Online,
    ]
}

/// What the proof needs, whether it runs on a plan or on a written tree.
#[derive(Debug, Clone)]
pub(crate) struct ProofInputs<'a> {
    /// The Config screen, routing, release name and Kubernetes versions.
    pub spec: &'a ProofSpec,
    /// The `kots-values.yaml` text, with its KOTS templates.
    pub values_template: &'a str,
    /// The packaged chart on disk (what `helm template` renders).
    pub chart_archive: &'a Utf8Path,
    /// The images discovery found.
    pub images: &'a [ProvedImage],
    /// What the bundle holds (`savedImages`), or `additionalImages` for a tree without one.
    pub shipped_images: &'a [String],
    /// Whether the chart offers a values path for pull secrets.
    pub chart_sets_pull_secrets: bool,
    /// The `helm` program to run.
    pub helm: &'a str,
    /// The chart as loaded (its templates tell which pods can take a pull secret).
    pub chart: &'a Chart,
    /// Where renders are cached, if anywhere.
    pub cache: Option<&'a RenderCache>,
    /// Where each finished render is reported ([`crate::progress::Event::ProofRendered`]).
    pub progress: &'a dyn crate::progress::Progress,
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
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
#[derive(Debug, Clone)]
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
    pub notes: Vec<String>,
}

/// The whole proof.
#[derive(Debug, Clone)]
pub struct ProofReport {
    /// How configurations were chosen.
    pub coverage: Coverage,
    /// The strength of the covering array (`[proof] strength`, capped at the number of items).
    pub strength: usize,
    /// How many configurations were proved.
    pub configurations: usize,
    /// How many configurations every combination would be.
    pub all_combinations: u64,
    /// `helm template` runs made.
    pub renders: usize,
    /// Runs not rendered: their resolved values were the same as another configuration's.
    pub same_values: usize,
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
}

/// The items that change values and the values they can take.
pub(crate) fn dimensions(spec: &ProofSpec) -> Vec<cover::Dimension> {
    spec.config
        .iter()
        .flat_map(|group| &group.items)
        .filter(|item| spec.varied.contains(item.name.get_ref()))
        .filter_map(|item| {
            let values = match item.item_type {
                ItemType::Bool => vec!["0".to_string(), "1".to_string()],
                t if t.has_choices() => item.choices.iter().map(|c| c.name.clone()).collect(),
                _ => return None,
            };
            let default = item
                .default
                .clone()
                .filter(|default| values.contains(default))
                .unwrap_or_else(|| values[0].clone());
            Some(cover::Dimension { name: item.name.get_ref().clone(), values, default })
        })
        .collect()
}

/// The configurations to prove, each a map item → value, and how they were chosen.
pub(crate) fn configurations(spec: &ProofSpec) -> cover::Cover {
    let whens: BTreeMap<&str, Vec<&str>> = spec
        .config
        .iter()
        .flat_map(|group| group.items.iter().map(move |item| (group, item)))
        .map(|(group, item)| {
            let conditions = [group.when.as_deref(), item.when.as_deref()].into_iter().flatten().collect();
            (item.name.get_ref().as_str(), conditions)
        })
        .filter(|(_, conditions): &(&str, Vec<&str>)| !conditions.is_empty())
        .collect();
    let visible = |name: &str, config: &cover::Configuration| -> bool {
        let Some(conditions) = whens.get(name) else { return true };
        let Ok(ctx) = context(spec, config) else { return true };
        conditions.iter().all(|when| shown(when, &ctx))
    };
    cover::cover(&dimensions(spec), spec.strength, &visible)
}

/// The KOTS template context of an online install in `config`.
fn context(
    spec: &ProofSpec,
    config: &BTreeMap<String, String>,
) -> Result<Context, kots_template::ContextError> {
    Context::for_config(&spec.config, &spec.slug, spec.routing.clone(), config)
}

/// What KOTS makes of a `when`: hidden when it renders to a false boolean (Go's
/// `strconv.ParseBool`); a `when` that does not render shows the item, so it is still proved.
fn shown(when: &str, ctx: &Context) -> bool {
    match kots_template::render(when, ctx, "when") {
        Ok(text) => !matches!(text.trim(), "false" | "False" | "FALSE" | "f" | "F" | "0"),
        Err(_) => true,
    }
}

/// Runs the proof.
pub(crate) fn prove(inputs: &ProofInputs<'_>) -> Result<ProofReport, ProofError> {
    let cover = configurations(inputs.spec);
    let modes = modes();
    let kube_versions = &inputs.spec.kube_versions;
    // The Kubernetes version is named only when the release declares several.
    let named_kube = kube_versions.len() > 1;
    let mut runs: Vec<Option<ProofRun>> = Vec::new();
    let mut renders: Vec<(usize, Job<'_>, Context, String)> = Vec::new();
    let mut seen: BTreeSet<(String, String, &str)> = BTreeSet::new();
    let mut same_values = 0;
    for config in &cover.configurations {
        for mode in &modes {
            for kube_version in kube_versions {
                let job = Job { config, mode, kube_version, named_kube };
                match resolve_values(inputs, &job) {
                    Err(failed) => runs.push(Some(failed)),
                    Ok((ctx, values)) => {
                        if seen.insert((values.clone(), mode.to_string(), kube_version.as_str())) {
                            renders.push((runs.len(), job, ctx, values));
                            runs.push(None);
                        } else {
                            same_values += 1;
                        }
                    }
                }
            }
        }
    }
    let templates = TemplateIndex::new(inputs.chart);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let proved = crate::util::parallel::map_in_order(
        &renders,
        crate::util::parallel::cpu_workers(),
        |(slot, job, ctx, values)| {
            let result = prove_one(inputs, &templates, job, ctx, values);
            let done = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            inputs.progress.event(&crate::progress::Event::ProofRendered { done, total: renders.len() });
            (*slot, result)
        },
    );
    for (slot, result) in proved {
        runs[slot] = Some(result?);
    }
    let runs: Vec<ProofRun> = runs.into_iter().flatten().collect();
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
        coverage: if cover.exhaustive { Coverage::Exhaustive } else { Coverage::CoveringArray },
        strength: cover.strength,
        configurations: cover.configurations.len(),
        all_combinations: cover.all_combinations,
        renders: renders.len(),
        same_values,
        items: dimensions(inputs.spec).into_iter().map(|dimension| dimension.name).collect(),
        runs,
        notes,
    })
}

/// One run: a configuration in a mode, for a Kubernetes version.
struct Job<'a> {
    config: &'a BTreeMap<String, String>,
    mode: &'a Mode,
    kube_version: &'a str,
    /// The release declares several Kubernetes versions: name this one in the report.
    named_kube: bool,
}

impl Job<'_> {
    fn mode_text(&self) -> String {
        if self.named_kube {
            format!("{} (kube {})", self.mode, self.kube_version)
        } else {
            self.mode.to_string()
        }
    }

    /// A run that failed before any image was checked.
    fn failed(&self, template: &str, reason: String) -> ProofRun {
        ProofRun {
            configuration: describe(self.config),
            mode: self.mode_text(),
            images_checked: 0,
            notes: Vec::new(),
            failures: vec![ProofFailure {
                configuration: describe(self.config),
                mode: self.mode_text(),
                template: template.to_string(),
                object: String::new(),
                image: String::new(),
                reason,
                values_path: None,
            }],
        }
    }
}

/// The `kots-values.yaml` the customer's KOTS would resolve for the job's configuration and
/// mode, or the failed run that says why it cannot be.
fn resolve_values(inputs: &ProofInputs<'_>, job: &Job<'_>) -> Result<(Context, String), ProofRun> {
    let mut ctx = context(inputs.spec, job.config).map_err(|error| job.failed("", error.to_string()))?;
    ctx.namespace = PROOF_NAMESPACE.to_string();
    if let Mode::Airgap { host, namespace } = job.mode {
        ctx.local_registry = Some(LocalRegistry { host: host.clone(), namespace: namespace.clone() });
        ctx.airgap = true;
    }
    let values = kots_template::render(inputs.values_template, &ctx, "kots-values.yaml")
        .map_err(|error| job.failed("kots-values.yaml", error.to_string()))?;
    Ok((ctx, values))
}

/// A configuration as `item=value` pairs, or `(defaults)`.
pub(crate) fn describe(config: &BTreeMap<String, String>) -> String {
    if config.is_empty() {
        return "(defaults)".to_string();
    }
    config.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

fn prove_one(
    inputs: &ProofInputs<'_>,
    templates: &TemplateIndex,
    job: &Job<'_>,
    ctx: &Context,
    values: &str,
) -> Result<ProofRun, ProofError> {
    let configuration = describe(job.config);
    let mode_text = job.mode_text();
    let mode = job.mode;
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
    let render = Render {
        helm: inputs.helm,
        chart: inputs.chart_archive,
        release_name: &inputs.spec.release_name,
        namespace: PROOF_NAMESPACE,
        kube_version: Some(job.kube_version),
    };
    let stream = match render.run_cached(values, inputs.cache) {
        Ok(stream) => stream,
        Err(RenderError::CannotRun { helm, message }) => {
            return Err(ProofError::NoHelm { helm, source: std::io::Error::other(message) })
        }
        Err(RenderError::Helm(message)) => {
            return Ok(job.failed("", format!("helm template failed: {message}")))
        }
    };
    let rendered = match rendered_images::images_in_stream(&stream) {
        Ok(rendered) => rendered,
        Err(error) => return Ok(job.failed(&error.template, error.to_string())),
    };
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    let mut checked = 0;
    for image in &rendered {
        if image.test_hook && !inputs.spec.ship_test_images {
            notes.push(format!(
                "`{}` is pulled only by the helm test pod {} ({}): `helm upgrade --install` never creates it, \
                 so the proof does not check it (set [images] ship_test_images = true to ship and check it)",
                image.image, image.object, image.template
            ));
            continue;
        }
        checked += 1;
        match check_image(inputs, ctx, mode, image) {
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
                    .is_some_and(|r| inputs.images.iter().any(|d| d.reference == r.to_string()));
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
            let discovered = inputs.images.iter().any(|d| d.reference == rendered.to_string());
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
        .iter()
        .filter(|d| d.reference == rendered.to_string())
        .flat_map(|d| d.rewrite_paths.iter().cloned())
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
