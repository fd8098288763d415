//! The release pipeline: gather every input, plan every output, then write the tree once.
//!
//! Stages, in order:
//! 1. [`check`]: read and validate `release.toml` ([`crate::release`]), then load and
//!    validate the chart it points at ([`crate::chart`]). No network, no writes.
//! 2. [`plan`]: package the chart, discover its images ([`crate::discover`]), build the
//!    Helm values with every image rewritten ([`crate::kots::kots_values`]), render the KOTS
//!    manifests ([`crate::kots::render`]) and pass `manifests/` through.
//! 3. [`release`]: add the build record and checksums, and hand the tree to
//!    [`crate::dist::write_atomically`].
//!
//! Architecture Invariant: this is the only module that sequences stages; each stage is a
//! function of its inputs and returns data.

pub mod check;
pub mod online;

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};

use crate::timings::{self, Stage};
use crate::{
    chart::{self, Chart, PackagedChart},
    diagnostic::{FileProblems, Problem},
    digest::Sha256Digest,
    discover::{self, ImageSet},
    dist::{self, OutputTree},
    error::{Error, IoContext, Result},
    fingerprint::{self, Fingerprints, KeyBuilder},
    image_lock,
    image_ref::ImageRef,
    kots::{self, KotsValues},
    lock::{self, BuildRecord, ChartRecord, FileRecord},
    proof::{self, ProofInputs, ProofReport},
    registry::Platform,
    release::{self, Release},
    reproducible,
    store::{self, BlobStore},
};

/// A validated release and its loaded chart.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The validated release file.
    pub release: Release,
    /// The chart it points at, with its vendored subcharts.
    pub chart: Chart,
    /// `--locked`: `helmkots.lock` must hold what the run needs and must not change.
    pub locked: bool,
}

impl Checked {
    /// The release version: `[app] version`, else the chart's version.
    pub fn version(&self) -> String {
        match &self.release.app.version {
            Some(version) => version.get_ref().clone(),
            None => self.chart.version_text(),
        }
    }

    /// `<slug>-<version>`: the name of the release tree.
    pub fn tree_name(&self) -> String {
        format!("{}-{}", self.release.app.slug.get_ref(), self.version())
    }
}

/// Validates the release file and the chart; reads files, never the network.
pub fn check(release_file: &Utf8Path) -> Result<Checked> {
    let release = release::load(release_file)?;
    let chart_path = release.chart_path();
    if !chart_path.exists() {
        let spec = &release.chart.path;
        return Err(Error::Invalid(FileProblems {
            file: release.file.clone(),
            problems: vec![Problem::at(spec.span(), format!("chart `{}` does not exist", spec.get_ref()))
                .with_help(format!(
                "`chart.path` is resolved from {}; point it at a chart directory (with Chart.yaml) or a .tgz",
                release.root
            ))],
        }));
    }
    let chart = chart::load(&chart_path).map_err(|error| match error {
        Error::NotAChart { reason, enclosing_chart, .. } => not_a_chart(&release, &reason, enclosing_chart),
        other => other,
    })?;
    Ok(Checked { release, chart, locked: false })
}

/// `[chart] path` names a folder inside a chart, or its Chart.yaml: the problem is that line
/// of release.toml, and the fix the chart's own folder.
fn not_a_chart(release: &Release, reason: &str, enclosing_chart: Option<Utf8PathBuf>) -> Error {
    let spec = &release.chart.path;
    let fix = match enclosing_chart {
        Some(dir) => {
            let relative =
                dir.strip_prefix(&release.root).map_or_else(|_| dir.to_string(), |r| r.to_string());
            format!("point `[chart] path` at the chart directory: path = \"{relative}\"")
        }
        None => "point `[chart] path` at the chart directory (the one holding Chart.yaml) or at a .tgz"
            .to_string(),
    };
    Error::Invalid(FileProblems {
        file: release.file.clone(),
        problems: vec![Problem::at(
            spec.span(),
            format!("chart `{}` is not a chart: {reason}", spec.get_ref()),
        )
        .with_help(fix)],
    })
}

/// What `release` needs besides the release file.
#[derive(Debug, Clone)]
pub struct ReleaseOptions {
    /// The release file.
    pub release_file: Utf8PathBuf,
    /// Where release trees go; `dist/` beside the release file when absent.
    pub out_dir: Option<Utf8PathBuf>,
    /// Skip every step that needs a registry.
    pub offline: bool,
    /// Run the airgap proof before writing (needs `helm` on PATH; skipped with a warning
    /// when there is none).
    pub proof: bool,
    /// Where progress of the long steps goes.
    pub progress: crate::progress::SharedProgress,
    /// Replaces `[airgap] channel_id` (a CI job that builds one release for several channels).
    pub channel_id: Option<String>,
    /// Replaces `[airgap] update_cursor` (a CI build number).
    pub update_cursor: Option<u64>,
    /// `--locked`: fail rather than change `helmkots.lock` (its pins or its renders).
    pub locked: bool,
}

use crate::helm_template::RenderCache;
pub use crate::helm_template::{on_path, HELM_PROGRAM};

/// Runs the airgap proof on a plan. `shipped_images` is what the bundle holds, or
/// `additionalImages` for a tree without a bundle.
pub fn prove_plan(
    plan: &Plan,
    shipped_images: &[String],
    progress: &dyn crate::progress::Progress,
) -> Result<ProofReport> {
    let chart_dir = tempfile::tempdir().io_context("create", "a temporary directory")?;
    let chart_path = Utf8PathBuf::from_path_buf(chart_dir.path().join(&plan.packaged.file_name))
        .map_err(|p| Error::NonUtf8Path(p.display().to_string()))?;
    std::fs::write(&chart_path, &plan.packaged.bytes).io_context("write", &chart_path)?;
    let values_template = plan.values.tree.to_yaml();
    let cache = RenderCache::open(&plan.checked.release.root, HELM_PROGRAM, &plan.packaged.sha256);
    let spec = proof::ProofSpec::of_release(&plan.checked.release);
    let images = proof::proved_images(&plan.images);
    let inputs = ProofInputs {
        spec: &spec,
        values_template: &values_template,
        chart_archive: &chart_path,
        images: &images,
        shipped_images,
        chart_sets_pull_secrets: !plan.values.pull_secret_paths.is_empty(),
        helm: HELM_PROGRAM,
        chart: &plan.checked.chart,
        cache: cache.as_ref(),
        progress,
    };
    proof::prove(&inputs).map_err(|error| Error::Proof(error.to_string()))
}

/// The registry client of a release: the environment's settings, and the plain-HTTP
/// registries `[images] insecure` lists.
pub fn registry_for(release: &Release) -> Result<crate::registry::Registry> {
    let options = crate::registry::RegistryOptions {
        insecure_registries: release.images.insecure.clone(),
        ..crate::registry::RegistryOptions::from_env()?
    };
    Ok(crate::registry::Registry::new(options)?)
}

/// What `release` produced.
#[derive(Debug, Clone)]
pub struct ReleaseOutcome {
    /// The release tree.
    pub dir: Utf8PathBuf,
    /// The build record written into it.
    pub record: BuildRecord,
    /// Things worth a look that did not stop the build.
    pub warnings: Vec<String>,
    /// The airgap proof, when it ran.
    pub proof: Option<ProofReport>,
    /// Nothing had changed since the last release into this tree: nothing was written.
    pub up_to_date: bool,
    /// The helm-cli image this run pushed (`name:tag@digest`); `None` when it pushed nothing
    /// (offline, or an earlier run pushed the same image).
    pub pushed: Option<String>,
}

/// Every output of a release, computed before anything is written.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The validated inputs.
    pub checked: Checked,
    /// The packaged chart.
    pub packaged: PackagedChart,
    /// The discovered images.
    pub images: ImageSet,
    /// The Helm values document.
    pub values: KotsValues,
    /// The helm-cli image reference the Job runs.
    pub helm_cli_image: String,
    /// Every image for `additionalImages`, familiar form, sorted.
    pub additional_images: Vec<String>,
    /// Every output file except the build record and the checksums.
    pub tree: OutputTree,
    /// Things worth a look that did not stop the build.
    pub warnings: Vec<String>,
}

/// The folder of extra KOTS manifests passed through unchanged, beside the release file.
pub const MANIFESTS_DIR: &str = "manifests";

/// Discovers the chart's images; a reference that does not parse or lacks a tag is fatal.
pub fn images(checked: &Checked) -> Result<ImageSet> {
    let set = discovered_images(checked)?;
    let fatal = fatal_image_problems(&set);
    if !fatal.is_empty() {
        return Err(Error::Images { problems: fatal.iter().map(ToString::to_string).collect() });
    }
    Ok(set)
}

/// The problems of `set` that stop a release, and then why the renders that would have
/// answered them were not used; empty when there is none.
fn fatal_image_problems(set: &ImageSet) -> Vec<&discover::DiscoveryProblem> {
    let mut fatal: Vec<&discover::DiscoveryProblem> =
        set.problems.iter().filter(|problem| !problem.kind.is_warning()).collect();
    if !fatal.is_empty() {
        fatal.extend(
            set.problems
                .iter()
                .filter(|problem| matches!(problem.kind, discover::DiscoveryProblemKind::StaleRenders)),
        );
    }
    fatal
}

/// Discovers the chart's images with every problem found, fatal or not.
fn discovered_images(checked: &Checked) -> Result<ImageSet> {
    let settings = &checked.release.images;
    let include: Vec<String> = settings.include.iter().map(|i| i.get_ref().clone()).collect();
    let rendered = rendered_discovery(checked)?;
    Ok(discover::discover_with(
        &checked.chart,
        &discover::DiscoverOptions {
            chart_values: Some(&checked.release.chart.values),
            include: &include,
            exclude: &settings.exclude,
            rendered: rendered.discovery(),
            ship_test_images: settings.ship_test_images,
            rendered_from_lock: matches!(rendered, Renders::FromLock(_)),
            stale_renders: matches!(rendered, Renders::None { stale_lock: true }),
            record: match &rendered {
                Renders::Rendered(record, _) => Some(record),
                _ => None,
            },
            cost: match &rendered {
                Renders::Rendered(_, cost) => Some(*cost),
                _ => None,
            },
        },
    ))
}

/// Where rendered discovery's results came from.
enum Renders {
    /// Helm rendered the chart now; the record for `helmkots.lock`, and what it cost.
    Rendered(image_lock::RenderedRecord, discover::rendered::RenderCost),
    /// No Helm on PATH: `helmkots.lock` had renders of the same inputs.
    FromLock(discover::rendered::RenderedDiscovery),
    /// None: `[images] discover = "values"`, or no Helm and no usable record.
    None {
        /// The lock has renders of other inputs.
        stale_lock: bool,
    },
}

impl Renders {
    fn discovery(&self) -> Option<&discover::rendered::RenderedDiscovery> {
        match self {
            Renders::Rendered(record, _) => Some(&record.discovery),
            Renders::FromLock(discovery) => Some(discovery),
            Renders::None { .. } => None,
        }
    }
}

/// What each image adds to a bundle, for the images the store already holds (pulled by an
/// earlier release, at the digest `helmkots.lock` pins); the others are left out. Reads only.
pub fn image_sizes(checked: &Checked, images: &ImageSet) -> BTreeMap<ImageRef, u64> {
    let release = &checked.release;
    let Some(store) = BlobStore::existing(&release.root.join(store::DEFAULT_DIR)) else {
        return BTreeMap::new();
    };
    let Ok(lock) = image_lock::ImageLock::read(&release.root.join(image_lock::FILE_NAME)) else {
        return BTreeMap::new();
    };
    let platforms: Vec<Platform> =
        release.images.platforms.iter().filter_map(|platform| Platform::parse(platform).ok()).collect();
    images
        .references()
        .filter_map(|reference| {
            let digest = reference
                .digest()
                .and_then(Sha256Digest::parse)
                .or_else(|| lock.get(&reference.to_string()))?;
            Some((reference.clone(), crate::airgap::pull::stored_size(&store, &digest, &platforms)?))
        })
        .collect()
}

/// The warning for bundled images that only the values name once Helm has rendered the chart:
/// no configuration the Config screen can produce deploys them, so they may be dead weight.
fn values_only_warning(checked: &Checked, images: &ImageSet) -> Option<String> {
    images.rendered.as_ref()?;
    let guesses: Vec<&discover::DiscoveredImage> =
        images.images.iter().filter(|image| image.found_by() == discover::FoundBy::Values).collect();
    if guesses.is_empty() {
        return None;
    }
    let sizes = image_sizes(checked, images);
    let listed: Vec<String> = guesses
        .iter()
        .map(|image| match sizes.get(&image.reference) {
            Some(size) => format!("{} ({})", image.reference.familiar(), mib(*size)),
            None => format!("{} (size not known until a release pulls it)", image.reference.familiar()),
        })
        .collect();
    let total: u64 = guesses.iter().filter_map(|image| sizes.get(&image.reference)).sum();
    Some(format!(
        "{} image(s) found in the values are bundled although no configuration of the Config screen renders them{}: {}; \
         keep them if a customer can turn them on through [chart] values, else drop them with [images] exclude",
        guesses.len(),
        if total > 0 { format!(" ({} in all)", mib(total)) } else { String::new() },
        listed.join(", ")
    ))
}

/// Bytes as MiB with one decimal, for warnings.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Renders the chart for discovery when `[images] discover` asks for it and Helm is on PATH;
/// without Helm, takes the renders `helmkots.lock` recorded for the same inputs.
fn rendered_discovery(checked: &Checked) -> Result<Renders> {
    let mode = checked.release.images.discover;
    if mode == release::Discover::Values {
        return Ok(Renders::None { stale_lock: false });
    }
    // The chart's content, whatever SOURCE_DATE_EPOCH is.
    let packaged = chart::package(&checked.chart, 0)?;
    // Chosen once: the digest and the renders both go over them.
    let configurations = discover::rendered::configurations(&checked.release);
    let inputs_digest = discover::rendered::inputs_digest(
        &checked.release,
        &checked.chart,
        &packaged.sha256.oci(),
        &configurations,
    );
    let lock = image_lock::ImageLock::read(&checked.release.root.join(image_lock::FILE_NAME))?;
    if !on_path(HELM_PROGRAM) {
        return match lock.rendered {
            Some(record) if record.inputs == inputs_digest => Ok(Renders::FromLock(record.discovery)),
            stale if checked.locked => Err(Error::LockOutdated {
                reason: match stale {
                    Some(_) => "its renders were made for other inputs (the chart, [chart] values, the config items \
                                or [chart] kube_versions changed)"
                        .to_string(),
                    None => "it records no renders of the chart".to_string(),
                },
                help: format!(
                    "run `cargo xtask release` with `{HELM_PROGRAM}` on PATH (it records the renders) and commit {}; \
                     or set [images] discover = \"values\" to discover without renders",
                    image_lock::FILE_NAME
                ),
            }),
            _ if mode == release::Discover::Rendered => Err(Error::Images {
                problems: vec![format!(
                    "[images] discover = \"rendered\" needs `{HELM_PROGRAM}` on PATH to render the chart (or renders \
                     of the same inputs in {}); install Helm, or use discover = \"both\"",
                    image_lock::FILE_NAME
                )],
            }),
            stale => Ok(Renders::None { stale_lock: stale.is_some() }),
        };
    }
    let chart_dir = tempfile::tempdir().io_context("create", "a temporary directory")?;
    let chart_path = Utf8PathBuf::from_path_buf(chart_dir.path().join(&packaged.file_name))
        .map_err(|p| Error::NonUtf8Path(p.display().to_string()))?;
    std::fs::write(&chart_path, &packaged.bytes).io_context("write", &chart_path)?;
    let cache = RenderCache::open(&checked.release.root, HELM_PROGRAM, &packaged.sha256);
    let inputs = discover::rendered::RenderInputs {
        release: &checked.release,
        chart: &checked.chart,
        chart_archive: &chart_path,
        helm: HELM_PROGRAM,
        configurations: &configurations,
        cache: cache.as_ref(),
    };
    let (discovery, cost) =
        discover::rendered::discover_rendered(&inputs).map_err(|error| Error::Images {
            problems: vec![format!(
                "discovery cannot render the chart: {error}; check that `{HELM_PROGRAM}` on PATH runs, \
                 or set [images] discover = \"values\""
            )],
        })?;
    let record = image_lock::RenderedRecord { inputs: inputs_digest, discovery };
    if checked.locked && lock.rendered.as_ref() != Some(&record) {
        return Err(Error::LockOutdated {
            reason: match &lock.rendered {
                None => "it records no renders of the chart".to_string(),
                Some(old) if old.inputs != record.inputs => {
                    "its renders were made for other inputs".to_string()
                }
                Some(_) => "Helm renders the chart differently from what it records".to_string(),
            },
            help: format!(
                "run `cargo xtask release` without --locked (it records the renders) and commit {}",
                image_lock::FILE_NAME
            ),
        });
    }
    Ok(Renders::Rendered(record, cost))
}

/// Records in `helmkots.lock` what the renders of `images` found, so that a checkout without
/// Helm makes the same release; the file is rewritten only when the record changed.
fn record_renders(checked: &Checked, images: &ImageSet) -> Result<()> {
    let Some(record) = images.rendered.as_ref().and_then(|summary| summary.record.as_ref()) else {
        return Ok(());
    };
    let path = checked.release.root.join(image_lock::FILE_NAME);
    let mut lock = image_lock::ImageLock::read(&path)?;
    if lock.rendered.as_ref() == Some(record) {
        return Ok(());
    }
    lock.version = image_lock::VERSION;
    lock.rendered = Some(record.clone());
    lock.write(&path)?;
    Ok(())
}

/// Every reference `helmkots.lock` keeps a pin for: the bundled images and the helm-cli base.
fn used_images(plan: &Plan) -> Vec<String> {
    let mut used: Vec<String> = plan.images.references().map(ToString::to_string).collect();
    used.extend(
        crate::image_ref::ImageRef::parse(plan.checked.release.helm_cli.base.get_ref())
            .map(|b| b.to_string()),
    );
    used
}

/// With `--locked`: the pins this release resolved must be the ones `helmkots.lock` holds.
fn check_pins_unchanged(plan: &Plan, resolved: &image_lock::ImageLock) -> Result<()> {
    let on_disk = image_lock::ImageLock::read(&plan.checked.release.root.join(image_lock::FILE_NAME))?;
    let mut pins = resolved.clone();
    pins.retain_only(used_images(plan).iter().map(String::as_str));
    let changed: std::collections::BTreeSet<&String> = pins
        .images
        .keys()
        .chain(on_disk.images.keys())
        .filter(|image| pins.images.get(*image) != on_disk.images.get(*image))
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    Err(Error::LockOutdated {
        reason: format!(
            "the pinned digests would change for {}",
            changed.iter().map(|image| format!("`{image}`")).collect::<Vec<_>>().join(", ")
        ),
        help: format!("run `cargo xtask release` without --locked and commit {}", image_lock::FILE_NAME),
    })
}

/// Computes every output without writing anything, around the packaged chart.
pub fn plan(
    checked: Checked,
    validated: check::Validated,
    packaged: PackagedChart,
    pinned_helm_cli: Option<String>,
) -> Result<Plan> {
    let check::Validated { images, values } = validated;
    let mut warnings: Vec<String> = images.problems.iter().map(ToString::to_string).collect();
    match &images.rendered {
        None if checked.release.images.discover == release::Discover::Both => warnings.push(format!(
            "discovery read the chart's values only: no `{HELM_PROGRAM}` on PATH to render it with"
        )),
        Some(summary) => {
            if summary.from_lock {
                warnings.push(format!(
                    "discovery used the renders recorded in {} (no `{HELM_PROGRAM}` on PATH)",
                    image_lock::FILE_NAME
                ));
            }
            warnings.extend(
                summary
                    .failures
                    .iter()
                    .map(|failure| format!("discovery could not render a configuration: {failure}")),
            )
        }
        None => {}
    }
    warnings.extend(typed_image_warnings(&checked.release, &images));
    for pin in &images.tag_pins {
        warnings.push(format!(
            "`{}` takes its tag from the cluster's Kubernetes version, which no bundle can follow: \
             `{}` is pinned to `{}` (the newest of [chart] kube_versions); set it in [chart] values to choose another",
            pin.image, pin.values_path, pin.tag
        ));
    }
    if values.pull_secret_paths.is_empty() {
        warnings.push(format!(
            "chart `{}` offers no values path for image pull secrets (imagePullSecrets, pullSecrets): \
             pods it creates cannot pull from an authenticated local registry or the proxy",
            checked.chart.metadata.name
        ));
    }
    for image in &values.not_rewritable {
        warnings.push(format!(
            "image `{image}` is not set by any values path, so it cannot be rewritten for a local registry; \
             it is still listed in additionalImages"
        ));
    }
    if checked.release.airgap.channel_id.is_empty() {
        warnings.push("[airgap] channel_id is empty: a customer's KOTS accepts an airgap bundle only when it matches their license".to_string());
    }
    let helm_cli_image = match pinned_helm_cli {
        Some(pinned) => pinned,
        None => helm_cli_image(&checked, &packaged)?,
    };
    let mut additional_images: Vec<String> = images.references().map(|r| r.familiar()).collect();
    additional_images.sort();
    additional_images.dedup();
    let chart_sha256 = packaged.sha256.oci();
    let manifests = kots::render(&kots::ManifestInputs {
        release: &checked.release,
        chart: &checked.chart.metadata,
        chart_file_name: &packaged.file_name,
        chart_sha256: &chart_sha256,
        helm_cli_image: &helm_cli_image,
        values: &values,
        additional_images: &additional_images,
    })
    .map_err(|error| Error::Internal(error.to_string()))?;

    let mut tree = OutputTree::new();
    tree.insert(format!("charts/{}", packaged.file_name), packaged.bytes.clone());
    // What `verify --proof` needs besides the manifests and the chart, so the tree proves
    // itself from any directory.
    let proof_record = proof::ProofRecord::new(
        &proof::ProofSpec::of_release(&checked.release),
        proof::proved_images(&images),
        !values.pull_secret_paths.is_empty(),
    );
    tree.insert(proof::RECORD_FILE, proof_record.to_json().into_bytes());
    for manifest in manifests {
        tree.insert(format!("manifests/{}", manifest.file_name), manifest.text.into_bytes());
    }
    for (name, bytes) in passthrough_manifests(&checked.release.root.join(MANIFESTS_DIR))? {
        let path = format!("manifests/{name}");
        if let Some(warning) = example_leftover(&checked.release, &name, &bytes) {
            warnings.push(warning);
        }
        if tree.get(&path).is_some() {
            return Err(Error::File {
                path: checked.release.root.join(MANIFESTS_DIR).join(&name),
                reason: format!("`{name}` has the name of a file helmkots generates"),
                help: Some("rename it; helmkots writes kots-app.yaml, kots-config.yaml, helm-values.yaml and helm-cli-job.yaml".into()),
            });
        }
        tree.insert(path, bytes);
    }
    Ok(Plan { checked, packaged, images, values, helm_cli_image, additional_images, tree, warnings })
}

/// The app slug of the repository's example release, whose `manifests/` every release of
/// that folder passes through until they are adapted.
const EXAMPLE_SLUG: &str = "demo-app";

/// A warning for a passed-through manifest that still names the example app while the
/// release is another one: the example's preflight checks and support bundle would ship.
fn example_leftover(release: &Release, name: &str, bytes: &[u8]) -> Option<String> {
    let slug = release.app.slug.get_ref();
    let names_example = String::from_utf8_lossy(bytes).contains(EXAMPLE_SLUG);
    (slug != EXAMPLE_SLUG && names_example).then(|| {
        format!(
            "{MANIFESTS_DIR}/{name} still names the example app `{EXAMPLE_SLUG}`, and every release passes it through \
             unchanged: adapt it to `{slug}`, or delete it"
        )
    })
}

/// A `text` or `textarea` item whose value sets an image field lets the customer type an
/// image that no bundle holds; a select item's choices each deploy another image, which the
/// bundle must hold.
fn typed_image_warnings(release: &Release, images: &ImageSet) -> Vec<String> {
    let image_fields: Vec<(String, String)> = images
        .images
        .iter()
        .flat_map(|image| image.sources.iter().map(move |source| (source, image)))
        .filter_map(|(source, image)| {
            let path = source.values_path.as_deref()?;
            Some(
                kots::rewrite_targets(path, &source.shape)
                    .into_iter()
                    .map(move |target| (target.to_string(), image.reference.familiar())),
            )
        })
        .flatten()
        .collect();
    let mut warnings = Vec::new();
    for item in release.config.iter().flat_map(|group| &group.items) {
        let typed = matches!(item.item_type, release::ItemType::Text | release::ItemType::Textarea);
        if !typed && item.choices.is_empty() {
            continue;
        }
        let Some(path) = &item.value else { continue };
        let path = path.to_string();
        let hit = image_fields.iter().find(|(field, _)| {
            let tag_or_digest = ["tag", "digest", "registry", "repository"].iter().any(|key| {
                field.rsplit_once('.').is_some_and(|(parent, _)| path == format!("{parent}.{key}"))
            });
            path == *field || tag_or_digest
        });
        match hit {
            Some((_, image)) if typed => warnings.push(format!(
                "config item `{}` ({}) sets `{path}`, a field of image `{image}`: a customer can type an image no \
                 airgap bundle holds; use a select_one item whose choices are the images you ship, or list them in [images] include",
                item.name.get_ref(),
                item.item_type.as_str()
            )),
            Some((_, image)) => warnings.push(format!(
                "config item `{}` ({}) sets `{path}`, a field of image `{image}`: each choice deploys another image; \
                 list the image of every choice in [images] include (the airgap proof checks that the bundle holds them)",
                item.name.get_ref(),
                item.item_type.as_str()
            )),
            None => {}
        }
    }
    warnings
}

/// The helm-cli image an offline tree names: `[helm_cli] name` with the tag a build of the
/// same inputs gives ([`crate::oci_image::helm_cli_tag`]), the base taken as `helmkots.lock`
/// pins it (or as its digest, when the reference has one).
fn helm_cli_image(checked: &Checked, packaged: &PackagedChart) -> Result<String> {
    let release = &checked.release;
    let name = match &release.helm_cli.name {
        Some(name) => name.get_ref().clone(),
        None => format!("{}-helm-cli", release.app.slug.get_ref()),
    };
    let inputs = online::HelmCliInputs::of(checked)?;
    let spec = inputs.spec(checked, packaged, reproducible::source_date_epoch()?);
    let base_text = release.helm_cli.base.get_ref();
    let (repository, pinned) = match ImageRef::parse(base_text) {
        Ok(base) => {
            let pinned = base.digest().and_then(Sha256Digest::parse).or_else(|| {
                image_lock::ImageLock::read(&release.root.join(image_lock::FILE_NAME))
                    .ok()
                    .and_then(|lock| lock.get(&base.to_string()))
            });
            (base.repository(), pinned)
        }
        Err(_) => (base_text.clone(), None),
    };
    let tag = crate::oci_image::helm_cli_tag(&spec, &repository, pinned.as_ref());
    Ok(format!("{name}:{tag}"))
}

/// Every file in `manifests/` (recursively, sorted), read as bytes and passed through.
fn passthrough_manifests(dir: &Utf8Path) -> Result<Vec<(String, Vec<u8>)>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    crate::tree_files::tree_files(dir)?
        .into_iter()
        .map(|file| Ok((file.relative, std::fs::read(&file.path).io_context("read", &file.path)?)))
        .collect()
}

/// Builds the release tree `dist/<slug>-<version>/`: offline, the chart, manifests and build
/// record; online also the helm-cli image (built, pushed and pinned) and the airgap bundle.
///
/// Incremental: when nothing the tree depends on has changed since it was written (its
/// fingerprint matches, see [`release_key`]) and the tree is as it was left, nothing is done
/// and the outcome says `up_to_date`. Otherwise the expensive steps still skip what they can:
/// an unchanged helm-cli image is not rebuilt or pushed, blobs in the store are not fetched,
/// and an unchanged set of images is copied from the last bundle, not packed again.
pub fn release(options: &ReleaseOptions) -> Result<ReleaseOutcome> {
    let mut checked = timings::timed(Stage::Check, || check(&options.release_file))?;
    checked.locked = options.locked;
    if let Some(channel_id) = &options.channel_id {
        checked.release.airgap.channel_id = channel_id.clone();
    }
    if let Some(cursor) = options.update_cursor {
        checked.release.airgap.update_cursor = Some(cursor);
    }
    let out_dir = match &options.out_dir {
        Some(dir) => dir.clone(),
        None => checked.release.root.join("dist"),
    };
    let epoch = reproducible::source_date_epoch()?;
    let tree_name = checked.tree_name();
    let fingerprints = Fingerprints::new(&checked.release.root);
    // Absolute, so fingerprints and their file stamps mean the same tree from any directory.
    let tree_dir = fingerprint::absolute(&out_dir.join(&tree_name));
    let fingerprint_name = format!("release-{}", fingerprint::name_hash(tree_dir.as_str()));
    let prove = options.proof && on_path(HELM_PROGRAM);
    // The inputs are read and hashed once: for the key now, the record and the key at the end.
    let inputs = input_records(&checked)?;
    let key_inputs = release_key_inputs(&checked, options, epoch, &inputs)?;
    let key = release_key(&key_inputs, &checked.release, options.offline);
    if let Some(outcome) = up_to_date(&key, &fingerprints, &fingerprint_name, &tree_dir, prove) {
        // Named as a run that writes it would name it.
        return Ok(ReleaseOutcome { dir: out_dir.join(&tree_name), ..outcome });
    }
    // Every mistake `check` catches stops the run before anything is built or pushed.
    let validated = timings::timed(Stage::Check, || check::validate(&checked))?;
    let planning = timings::span(Stage::Plan);
    let packaged = chart::package(&checked.chart, epoch)?;
    let mut online = if options.offline { None } else { Some(online::prepare(&checked, &packaged, epoch)?) };
    let plan = plan(checked, validated, packaged, online.as_ref().map(|o| o.helm_cli.to_string()))?;
    drop(planning);
    let mut warnings = plan.warnings.clone();
    if online.is_some() && plan.checked.release.airgap.update_cursor.is_none() {
        warnings.push(format!(
            "[airgap] update_cursor is not set: airgap.yaml says updateCursor \"{}\", and KOTS orders airgap \
             releases by it; set it, or pass --update-cursor N (e.g. a CI build number)",
            release::defaults::UPDATE_CURSOR
        ));
    }
    let proof = if !options.proof {
        None
    } else if !prove {
        warnings.push(format!(
            "airgap proof skipped: no `{HELM_PROGRAM}` on PATH to render the chart with (install Helm, or pass --no-proof)"
        ));
        None
    } else {
        let report = timings::timed(Stage::Proof, || {
            prove_plan(&plan, &plan.additional_images, options.progress.as_ref())
        })?;
        if !report.passed() {
            return Err(Error::ProofFailed(Box::new(report)));
        }
        Some(report)
    };
    let mut bundle_temp = None;
    let mut tree = plan.tree.clone();
    if let Some(online) = &mut online {
        std::fs::create_dir_all(&out_dir).io_context("create", &out_dir)?;
        let bundle = online::bundle(online, &plan, &out_dir, epoch, &options.progress)?;
        tree.insert_moved(format!("{tree_name}.airgap"), bundle.path.clone(), bundle.sha256, bundle.size);
        bundle_temp = Some(bundle);
    }
    // After the pull, so the sizes of what was just pulled are known.
    warnings.extend(values_only_warning(&plan.checked, &plan.images));
    let mut record = build_record(&plan.checked, &tree, epoch, inputs);
    if let (Some(bundle), Some(online)) = (&bundle_temp, &online) {
        record.airgap = Some(lock::AirgapRecord {
            path: format!("{tree_name}.airgap"),
            app_tar_gz: bundle.app_tar_gz.oci(),
            saved_images: bundle.saved_images.clone(),
            helm_cli_image: online.helm_cli.to_string(),
        });
    }
    if let (Some(online), true) = (&online, plan.checked.locked) {
        if let Err(error) = check_pins_unchanged(&plan, &online.lock) {
            bundle_temp.iter().for_each(online::BundleFile::discard);
            // Only when empty: the folder was made for this bundle.
            let _ = std::fs::remove_dir(&out_dir);
            return Err(error);
        }
    }
    // Every check has passed: the first moment anything leaves the machine.
    let pushed = match online.as_mut().map(online::push_helm_cli).transpose() {
        Ok(pushed) => pushed.flatten(),
        Err(error) => {
            bundle_temp.iter().for_each(online::BundleFile::discard);
            return Err(error);
        }
    };
    let checksums = timings::span(Stage::Checksums);
    tree.insert(lock::FILE_NAME, record.to_json().into_bytes());
    let sums = tree.checksums();
    tree.insert(dist::CHECKSUMS_FILE, sums.into_bytes());
    drop(checksums);
    // An offline tree has no bundle: replacing an online build's tree deletes its bundle.
    let old_bundle = out_dir.join(&tree_name).join(format!("{tree_name}.airgap"));
    let removed_bundle = (options.offline && old_bundle.is_file()).then(|| {
        format!(
            "{old_bundle} was removed: this offline build replaces the online build in {}, and an offline tree has \
             no airgap bundle; run `cargo xtask release` without --offline to build it again, or pass --out DIR \
             to keep offline builds apart",
            out_dir.join(&tree_name)
        )
    });
    // The tree is about to change: a run killed from here on must not find it up to date.
    fingerprints.remove(&fingerprint_name);
    let written = timings::timed(Stage::TreeWrite, || dist::write_atomically(&out_dir, &tree_name, &tree));
    if written.is_err() {
        bundle_temp.iter().for_each(online::BundleFile::discard);
    }
    let dir = written?;
    if let Some(online) = &mut online {
        online.lock.retain_only(used_images(&plan).iter().map(String::as_str));
        online.lock.write(&plan.checked.release.root.join(image_lock::FILE_NAME))?;
        if let Some(bundle) = &bundle_temp {
            online::remember_bundle(online, bundle, &tree_dir.join(format!("{tree_name}.airgap")))?;
        }
    }
    record_renders(&plan.checked, &plan.images)?;
    let stamp =
        ReleaseStamp { outputs: fingerprint::stamp_tree(&tree_dir)?, proved: proof.is_some(), warnings };
    // Keyed again: the run has just written the image lock.
    let key = release_key(&key_inputs, &plan.checked.release, options.offline);
    fingerprints.put(&fingerprint_name, &key, &stamp)?;
    // Said once, by the run that removed it; not repeated by runs that find the tree up to date.
    let mut warnings = stamp.warnings;
    warnings.extend(removed_bundle);
    Ok(ReleaseOutcome {
        dir,
        record,
        warnings,
        proof,
        up_to_date: false,
        pushed: pushed.map(|image| image.to_string()),
    })
}

/// What the release fingerprint keeps besides its key.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ReleaseStamp {
    /// Every file of the tree as written.
    outputs: Vec<fingerprint::FileStamp>,
    /// Whether the airgap proof ran (and passed) for it.
    proved: bool,
    /// The warnings of the run that wrote it, repeated by runs that find it up to date.
    warnings: Vec<String>,
}

/// The outcome of a release that has nothing to do: its fingerprint matches, its tree is as
/// written, and the proof ran for it if one is wanted now.
fn up_to_date(
    key: &fingerprint::Key,
    fingerprints: &Fingerprints,
    name: &str,
    dir: &Utf8Path,
    prove: bool,
) -> Option<ReleaseOutcome> {
    let stamp = fingerprints.get::<ReleaseStamp>(name, key)?;
    if (prove && !stamp.proved) || !fingerprint::tree_is_current(dir, &stamp.outputs) {
        return None;
    }
    let bytes = std::fs::read(dir.join(lock::FILE_NAME)).ok()?;
    let record = serde_json::from_slice::<BuildRecord>(&bytes).ok()?;
    Some(ReleaseOutcome {
        dir: dir.to_path_buf(),
        record,
        warnings: stamp.warnings,
        proof: None,
        up_to_date: true,
        pushed: None,
    })
}

/// Everything a release tree depends on but the image lock: this build of helmkots, the
/// mode, the timestamp, the release file (and the `[airgap]` values the command line
/// replaced), every chart file (`inputs`), every passed-through manifest and, online, the git
/// revision the helm-cli image is labelled with.
fn release_key_inputs(
    checked: &Checked,
    options: &ReleaseOptions,
    epoch: u64,
    inputs: &[FileRecord],
) -> Result<KeyBuilder> {
    let release = &checked.release;
    let mut key = KeyBuilder::new("release");
    key.program()
        .field("offline", [u8::from(options.offline)].as_slice())
        .field("epoch", epoch.to_string().as_bytes())
        .field("release-file", release.file.text.as_bytes())
        // With any command-line overrides applied.
        .field("channel-id", release.airgap.channel_id.as_bytes())
        .field("update-cursor", format!("{:?}", release.airgap.update_cursor).as_bytes());
    for input in inputs {
        key.field(&input.path, input.sha256.as_bytes());
    }
    for (name, bytes) in passthrough_manifests(&release.root.join(MANIFESTS_DIR))? {
        key.field(&format!("manifests/{name}"), &bytes);
    }
    if !options.offline {
        key.field("revision", online::git_revision(&release.root).unwrap_or_default().as_bytes());
    }
    Ok(key)
}

/// The release key: `inputs` and, online, the image lock as it is on disk now.
fn release_key(inputs: &KeyBuilder, release: &Release, offline: bool) -> fingerprint::Key {
    let mut key = inputs.clone();
    // Rendered discovery changes what is bundled and rewritten: a tree made without Helm is
    // not up to date once Helm is there.
    let renders = release.images.discover != release::Discover::Values && on_path(HELM_PROGRAM);
    key.field("rendered-discovery", if renders { b"1" } else { b"0" });
    if !offline {
        key.field("image-lock", &std::fs::read(release.root.join(image_lock::FILE_NAME)).unwrap_or_default());
    }
    key.finish()
}

fn build_record(checked: &Checked, tree: &OutputTree, epoch: u64, inputs: Vec<FileRecord>) -> BuildRecord {
    let metadata = &checked.chart.metadata;
    let chart_path = format!("charts/{}-{}.tgz", metadata.name, checked.chart.version_text());
    let chart_sha = tree.get(&chart_path).map(Sha256Digest::of).map(|d| d.oci()).unwrap_or_default();
    BuildRecord {
        schema_version: lock::SCHEMA_VERSION,
        generator: format!("helmkots {}", env!("CARGO_PKG_VERSION")),
        slug: checked.release.app.slug.get_ref().clone(),
        version: checked.version(),
        source_date_epoch: epoch,
        chart: ChartRecord {
            name: metadata.name.clone(),
            version: checked.chart.version_text(),
            path: chart_path,
            sha256: chart_sha,
        },
        inputs,
        airgap: None,
        outputs: {
            let mut outputs: Vec<FileRecord> =
                tree.files().map(|(path, bytes)| file_record(path, bytes)).collect();
            outputs.extend(tree.moved_files().map(|(path, digest, size)| FileRecord {
                path: path.to_string(),
                sha256: digest.oci(),
                size,
            }));
            outputs.sort();
            outputs
        },
    }
}

/// The release file and every chart file that went into the package: each file of a chart
/// directory, or the archive itself for a `.tgz`, by path relative to the release file's
/// folder (with `..` where the chart lives elsewhere), hashed as it is on disk.
fn input_records(checked: &Checked) -> Result<Vec<FileRecord>> {
    let release = &checked.release;
    let mut paths = std::collections::BTreeSet::new();
    collect_chart_inputs(&checked.chart, &mut paths);
    let mut records = vec![file_record(
        release.file.path.file_name().unwrap_or("release.toml"),
        release.file.text.as_bytes(),
    )];
    for path in paths {
        let bytes = std::fs::read(&path).io_context("read", &path)?;
        records.push(file_record(&relative_path(&release.root, &path), &bytes));
    }
    records.sort();
    Ok(records)
}

fn collect_chart_inputs(chart: &Chart, paths: &mut std::collections::BTreeSet<Utf8PathBuf>) {
    match &chart.origin {
        chart::ChartOrigin::Archive(archive) => {
            paths.insert(archive.clone());
        }
        chart::ChartOrigin::Directory(dir) => {
            paths.extend(chart.files.iter().map(|file| dir.join(&file.path)));
            for dependency in &chart.dependencies {
                collect_chart_inputs(dependency, paths);
            }
        }
    }
}

/// `path` relative to `base`, climbing with `..` where needed; both made absolute first.
fn relative_path(base: &Utf8Path, path: &Utf8Path) -> String {
    let absolute =
        |p: &Utf8Path| -> Utf8PathBuf { p.canonicalize_utf8().unwrap_or_else(|_| p.to_path_buf()) };
    let (base, path) = (absolute(base), absolute(path));
    let base_parts: Vec<&str> = base.components().map(|c| c.as_str()).collect();
    let path_parts: Vec<&str> = path.components().map(|c| c.as_str()).collect();
    let common = base_parts.iter().zip(&path_parts).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; base_parts.len() - common];
    parts.extend(&path_parts[common..]);
    parts.join("/")
}

fn file_record(path: &str, bytes: &[u8]) -> FileRecord {
    FileRecord { path: path.to_string(), sha256: Sha256Digest::of(bytes).oci(), size: bytes.len() as u64 }
}

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
    use crate::kots_template::{self, Context, LocalRegistry};
    let checked = check(release_file)?;
    let packaged = chart::package(&checked.chart, reproducible::source_date_epoch()?)?;
    let validated = check::validate(&checked)?;
    let plan = plan(checked, validated, packaged, None)?;
    let mut ctx = Context::from_release(&plan.checked.release, &options.set)
        .map_err(|error| Error::Preview(error.to_string()))?;
    if let Some(namespace) = &options.namespace {
        ctx.namespace = namespace.clone();
    }
    if let Some((host, namespace)) = &options.local_registry {
        ctx.local_registry = Some(LocalRegistry { host: host.clone(), namespace: namespace.clone() });
        ctx.airgap = true;
    }
    let render = |name: &str, text: &str| {
        kots_template::render(text, &ctx, name).map_err(|error| Error::Preview(error.to_string()))
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

/// Runs the airgap proof on a written release tree (`dist/<slug>-<version>/`), with the
/// configuration space and routing of `release_file`.
pub fn prove_tree(tree_dir: &Utf8Path, progress: &dyn crate::progress::Progress) -> Result<ProofReport> {
    // Beside the tree's folder (`dist/`): the release's own cache when the tree is where
    // `release` wrote it.
    let absolute = fingerprint::absolute(tree_dir);
    let cache_root = absolute.parent().and_then(Utf8Path::parent).unwrap_or(&absolute);
    prove_written(tree_dir, None, Some(cache_root), progress)
}

/// Runs the airgap proof on an airgap bundle alone: the manifests of its `app.tar.gz`, the
/// chart and the proof record it carries, and the images it saved.
pub fn prove_bundle(bundle: &Utf8Path, progress: &dyn crate::progress::Progress) -> Result<ProofReport> {
    use std::io::Read as _;
    let not_provable = |reason: String| {
        Error::File {
        path: bundle.to_path_buf(),
        reason,
        help: Some("only bundles written by this helmkots carry what the proof needs; build it again with `cargo xtask release`".to_string()),
    }
    };
    let wanted = [
        "airgap.yaml",
        "app.tar.gz",
        crate::airgap::bundle::PROOF_RECORD_ENTRY,
        crate::airgap::bundle::PROOF_CHART_ENTRY,
    ];
    let head = crate::inspect::bundle_head(bundle, &wanted)?.map_err(not_provable)?;
    let entry = |name: &str| head.get(name).ok_or_else(|| not_provable(format!("it has no `{name}`")));
    let airgap: serde_json::Value = serde_saphyr::from_slice(entry("airgap.yaml")?)
        .map_err(|error| not_provable(format!("airgap.yaml is not valid YAML: {error}")))?;
    let saved = crate::inspect::strings_at(&airgap, "/spec/savedImages");
    let dir = tempfile::tempdir().io_context("create", "a temporary directory")?;
    let root = Utf8PathBuf::from_path_buf(dir.path().to_path_buf())
        .map_err(|p| Error::NonUtf8Path(p.display().to_string()))?;
    let manifests = root.join("manifests");
    std::fs::create_dir_all(&manifests).io_context("create", &manifests)?;
    let mut app = tar::Archive::new(flate2::read::GzDecoder::new(entry("app.tar.gz")?.as_slice()));
    for file in app.entries().map_err(|error| not_provable(format!("app.tar.gz: {error}")))? {
        let mut file = file.map_err(|error| not_provable(format!("app.tar.gz: {error}")))?;
        let name =
            file.path().map_err(|error| not_provable(error.to_string()))?.to_string_lossy().into_owned();
        // Manifests are flat files; anything else is not ours to write out.
        if !file.header().entry_type().is_file() || name.contains('/') || name.starts_with('.') {
            continue;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|error| not_provable(format!("app.tar.gz: {error}")))?;
        std::fs::write(manifests.join(&name), bytes).io_context("write", manifests.join(&name))?;
    }
    let charts = root.join("charts");
    std::fs::create_dir_all(&charts).io_context("create", &charts)?;
    std::fs::write(charts.join("chart.tgz"), entry(crate::airgap::bundle::PROOF_CHART_ENTRY)?)
        .io_context("write", &charts)?;
    std::fs::write(root.join(proof::RECORD_FILE), entry(crate::airgap::bundle::PROOF_RECORD_ENTRY)?)
        .io_context("write", &root)?;
    prove_written(&root, Some(saved), None, progress)
}

/// The proof of a written release: `dir` holds `manifests/`, `charts/<chart>.tgz` and the
/// proof record; `shipped` is what the bundle saved (`additionalImages` when `None`).
fn prove_written(
    dir: &Utf8Path,
    shipped: Option<Vec<String>>,
    cache_root: Option<&Utf8Path>,
    progress: &dyn crate::progress::Progress,
) -> Result<ProofReport> {
    let tree_dir = dir;
    let unreadable = |path: &Utf8Path, reason: String| {
        Error::File {
        path: path.to_path_buf(),
        reason,
        help: Some(format!(
            "{tree_dir} is not a release tree written by this helmkots; build it again with `cargo xtask release`"
        )),
    }
    };
    let read = |relative: &str| -> Result<String> {
        let path = tree_dir.join(relative);
        std::fs::read_to_string(&path).map_err(|error| unreadable(&path, error.to_string()))
    };
    let read_yaml = |relative: &str| -> Result<serde_json::Value> {
        let path = tree_dir.join(relative);
        serde_saphyr::from_str(&read(relative)?)
            .map_err(|error| unreadable(&path, format!("not valid YAML: {error}")))
    };
    let record_path = tree_dir.join(proof::RECORD_FILE);
    let record: proof::ProofRecord = serde_json::from_str(&read(proof::RECORD_FILE)?)
        .map_err(|error| unreadable(&record_path, format!("not a proof record: {error}")))?;
    if record.schema_version != proof::RECORD_SCHEMA_VERSION {
        return Err(unreadable(
            &record_path,
            format!("schema version {} is not {}", record.schema_version, proof::RECORD_SCHEMA_VERSION),
        ));
    }
    let config_file = format!("manifests/{}", kots::CONFIG_FILE);
    let config = kots::read_config(&read(&config_file)?)
        .map_err(|reason| unreadable(&tree_dir.join(&config_file), reason))?;
    let values_file = format!("manifests/{}", kots::VALUES_FILE);
    let values_object = read_yaml(&values_file)?;
    let values_template = ["data", "stringData"]
        .iter()
        .find_map(|key| values_object.get(key)?.get("kots-values.yaml")?.as_str())
        .ok_or_else(|| unreadable(&tree_dir.join(&values_file), "has no kots-values.yaml key".to_string()))?
        .to_string();
    let shipped: Vec<String> = match shipped {
        Some(saved) => saved,
        None => crate::inspect::strings_at(
            &read_yaml(&format!("manifests/{}", kots::APP_FILE))?,
            "/spec/additionalImages",
        ),
    };
    let charts_dir = tree_dir.join("charts");
    let chart_archive = std::fs::read_dir(&charts_dir)
        .io_context("read", &charts_dir)?
        .flatten()
        .filter_map(|entry| Utf8PathBuf::from_path_buf(entry.path()).ok())
        .find(|path| path.extension() == Some("tgz"))
        .ok_or_else(|| unreadable(&charts_dir, "holds no chart archive".to_string()))?;
    let chart = chart::load(&chart_archive)?;
    let spec = proof::ProofSpec::from_record(&record, config);
    let cache = match cache_root {
        Some(root) => {
            let file = std::fs::File::open(&chart_archive).io_context("read", &chart_archive)?;
            let digest = Sha256Digest::of_reader(file).io_context("read", &chart_archive)?;
            RenderCache::open(root, HELM_PROGRAM, &digest)
        }
        None => None,
    };
    let inputs = ProofInputs {
        spec: &spec,
        values_template: &values_template,
        chart_archive: &chart_archive,
        images: &record.images,
        shipped_images: &shipped,
        chart_sets_pull_secrets: record.chart_sets_pull_secrets,
        helm: HELM_PROGRAM,
        chart: &chart,
        cache: cache.as_ref(),
        progress,
    };
    proof::prove(&inputs).map_err(|error| Error::Proof(error.to_string()))
}

/// Verifies an airgap bundle; or a release tree: every file against `SHA256SUMS`, and its
/// bundle, when it has one (not with `--offline`), against its build record.
pub fn verify(path: &Utf8Path) -> Result<crate::airgap::verify::VerifyReport> {
    if let crate::inspect::Artifact::Bundle(bundle) = crate::inspect::Artifact::at(path)? {
        return crate::airgap::verify::verify_bundle(&bundle, None);
    }
    let record_path = path.join(lock::FILE_NAME);
    let record: BuildRecord =
        serde_json::from_str(&std::fs::read_to_string(&record_path).io_context("read", &record_path)?)
            .map_err(|error| Error::Proof(format!("{record_path} is not a build record: {error}")))?;
    let tree_check = dist::check_checksums(path)?;
    let mut report = match &record.airgap {
        Some(airgap) => {
            let mut report =
                crate::airgap::verify::verify_bundle(&path.join(&airgap.path), Some(&airgap.app_tar_gz))?;
            if report.saved_images != airgap.saved_images {
                report.problems.push("savedImages differ from the build record".to_string());
            }
            report
        }
        None => crate::airgap::verify::VerifyReport::default(),
    };
    report.files_checked = tree_check.files_checked;
    report.problems.splice(0..0, tree_check.problems);
    Ok(report)
}

/// Resolves every image reference of the release into `helmkots.lock`: only those missing from
/// it, or all of them with `update`. Returns the lock and whether the file changed.
pub fn lock_images(release_file: &Utf8Path, update: bool) -> Result<(image_lock::ImageLock, bool)> {
    let checked = check(release_file)?;
    let images = images(&checked)?;
    let path = checked.release.root.join(image_lock::FILE_NAME);
    let mut lock = image_lock::ImageLock::read(&path)?;
    let registry = registry_for(&checked.release)?;
    let mut references: Vec<crate::image_ref::ImageRef> = images.references().cloned().collect();
    if let Ok(base) = crate::image_ref::ImageRef::parse(checked.release.helm_cli.base.get_ref()) {
        references.push(base);
    }
    for reference in &references {
        if reference.digest().is_some() || (!update && lock.get(&reference.to_string()).is_some()) {
            continue;
        }
        let resolved = registry.resolve(reference)?;
        lock.set(&reference.to_string(), &resolved.digest);
    }
    let used: Vec<String> = references.iter().map(ToString::to_string).collect();
    lock.retain_only(used.iter().map(String::as_str));
    let changed = lock.write(&path)?;
    Ok((lock, changed))
}

/// What `image` needs.
#[derive(Debug, Clone)]
pub struct ImageOptions {
    /// The release file.
    pub release_file: Utf8PathBuf,
    /// Where the layout goes (`<out>/<slug>-<version>-helm-cli/`, beside the release tree and
    /// never inside it, which `SHA256SUMS` covers); `dist/` when absent.
    pub out_dir: Option<Utf8PathBuf>,
    /// Also push to `[helm_cli] name`.
    pub push: bool,
}

/// What `image` produced.
#[derive(Debug, Clone)]
pub struct ImageOutcome {
    /// The OCI image layout directory.
    pub layout: Utf8PathBuf,
    /// The image's tag.
    pub tag: String,
    /// `sha256:<hex>` of its manifest.
    pub manifest_digest: String,
    /// The pushed reference, pinned, when pushed.
    pub pushed: Option<String>,
}

/// Builds the helm-cli image and writes it as an OCI layout (written into a temporary
/// sibling and renamed into place), pushing it when asked.
pub fn image(options: &ImageOptions) -> Result<ImageOutcome> {
    use crate::oci_image;
    let checked = check(&options.release_file)?;
    let release = &checked.release;
    let out_dir = options.out_dir.clone().unwrap_or_else(|| release.root.join("dist"));
    let registry = registry_for(&checked.release)?;
    let lock_path = release.root.join(image_lock::FILE_NAME);
    let mut lock = image_lock::ImageLock::read(&lock_path)?;
    let name = if options.push { Some(online::helm_cli_name(&checked)?) } else { None };
    let epoch = reproducible::source_date_epoch()?;
    let packaged = chart::package(&checked.chart, epoch)?;
    let built = online::build_helm_cli(&checked, &registry, &mut lock, &packaged, epoch)?;
    let layout_name = format!("{}-helm-cli", checked.tree_name());
    let final_dir = out_dir.join(&layout_name);
    std::fs::create_dir_all(&out_dir).io_context("create", &out_dir)?;
    let staging = out_dir.join(format!(".{layout_name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let written = oci_image::write_layout(&registry, &built, &staging).and_then(|_| {
        if final_dir.exists() {
            std::fs::remove_dir_all(&final_dir).io_context("remove", &final_dir)?;
        }
        std::fs::rename(&staging, &final_dir).io_context("rename", &staging)
    });
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    written?;
    let pushed = match &name {
        Some(name) => Some(oci_image::push(&registry, &built, name, Some(&final_dir))?.reference.to_string()),
        None => None,
    };
    lock.write(&lock_path)?;
    Ok(ImageOutcome {
        layout: final_dir,
        tag: built.tag.clone(),
        manifest_digest: built.manifest.digest.oci(),
        pushed,
    })
}
