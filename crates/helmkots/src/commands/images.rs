//! `images`: every image the chart may pull, as discovery finds it (renders included, or
//! the renders `helmkots.lock` recorded when no Helm is on PATH), and what each adds to a bundle.

use std::collections::BTreeMap;

use camino::Utf8PathBuf;

use super::check::Checked;
use crate::render::helm_template::{on_path, RenderCache, HELM_PROGRAM};
use crate::{
    error::{Error, IoContext, Result},
    input::chart::{self},
    input::image_ref::ImageRef,
    input::release::{self},
    oci::image_lock,
    oci::store::{self, BlobStore},
    plan::discover::{self, ImageSet},
    util::digest::Sha256Digest,
};

/// Discovers the chart's images; a reference that does not parse or lacks a tag is fatal.
pub fn images(checked: &Checked) -> Result<ImageSet> {
    let set = discovered_images(checked)?;
    let fatal = fatal_image_problems(&set);
    if !fatal.is_empty() {
        return Err(Error::Images(fatal.into_iter().cloned().collect()));
    }
    Ok(set)
}

/// The problems of `set` that stop a release, and then why the renders that would have
/// answered them were not used; empty when there is none.
pub(super) fn fatal_image_problems(set: &ImageSet) -> Vec<&discover::DiscoveryProblem> {
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
pub(super) fn discovered_images(checked: &Checked) -> Result<ImageSet> {
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
    let platforms = &release.images.platforms;
    images
        .references()
        .filter_map(|reference| {
            let digest = reference
                .digest()
                .and_then(Sha256Digest::parse)
                .or_else(|| lock.get(&reference.to_string()))?;
            Some((reference.clone(), crate::oci::airgap::pull::stored_size(&store, &digest, platforms)?))
        })
        .collect()
}

/// The warning for bundled images that only the values name once Helm has rendered the chart:
/// no configuration the Config screen can produce deploys them, so they may be dead weight.
pub(super) fn values_only_warning(checked: &Checked, images: &ImageSet) -> Option<String> {
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
            _ if mode == release::Discover::Rendered => Err(DiscoveryError::NoHelm { helm: HELM_PROGRAM }.into()),
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
        discover::rendered::discover_rendered(&inputs).map_err(|source| DiscoveryError::Render { source })?;
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
pub(super) fn record_renders(checked: &Checked, images: &ImageSet) -> Result<()> {
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

/// Why rendered discovery, asked for, could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// `[images] discover = "rendered"` without Helm on PATH nor renders of the same inputs in
    /// `helmkots.lock`.
    #[error(
        "[images] discover = \"rendered\" needs `{helm}` on PATH to render the chart (or renders of the same \
         inputs in {}); install Helm, or use discover = \"both\"",
        image_lock::FILE_NAME
    )]
    NoHelm {
        /// The program looked for.
        helm: &'static str,
    },
    /// Helm could not render the chart at all.
    #[error(
        "discovery cannot render the chart: {source}; check that `{HELM_PROGRAM}` on PATH runs, or set \
         [images] discover = \"values\""
    )]
    Render {
        /// What `helm template` said.
        #[source]
        source: crate::render::helm_template::RenderError,
    },
}
