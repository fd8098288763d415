//! The plan of a release: every output computed before anything is written (the packaged
//! chart, the KOTS manifests, the proof record and the passed-through `manifests/`).

use camino::Utf8Path;

use super::{
    check::{Checked, Validated},
    online,
};
use crate::render::helm_template::HELM_PROGRAM;
use crate::{
    error::{Error, IoContext, Result},
    input::chart::PackagedChart,
    input::release::{self, Release},
    oci::image_lock,
    output::tree::OutputTree,
    plan::discover::ImageSet,
    plan::kots::{self, KotsValues},
    proof::{self},
    util::digest::Sha256Digest,
    util::reproducible,
};

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

/// Computes every output without writing anything, around the packaged chart and the files
/// of `manifests/` ([`passthrough_manifests`], read once by the caller).
pub fn plan(
    checked: Checked,
    validated: Validated,
    packaged: PackagedChart,
    passthrough: Vec<(String, Vec<u8>)>,
    pinned_helm_cli: Option<String>,
) -> Result<Plan> {
    let Validated { images, values } = validated;
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
    })?;

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
    for (name, bytes) in passthrough {
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
/// same inputs gives ([`crate::oci::image::helm_cli_tag`]), the base taken as `helmkots.lock`
/// pins it (or as its digest, when the reference has one).
fn helm_cli_image(checked: &Checked, packaged: &PackagedChart) -> Result<String> {
    let release = &checked.release;
    let name = match &release.helm_cli.name {
        Some(name) => name.get_ref().clone(),
        None => format!("{}-helm-cli", release.app.slug.get_ref()),
    };
    let inputs = online::HelmCliInputs::of(checked);
    let spec = inputs.spec(checked, packaged, reproducible::source_date_epoch()?);
    let base = release.helm_cli.base.get_ref();
    let pinned = base.digest().and_then(Sha256Digest::parse).or_else(|| {
        image_lock::ImageLock::read(&release.root.join(image_lock::FILE_NAME))
            .ok()
            .and_then(|lock| lock.get(&base.to_string()))
    });
    let tag = crate::oci::image::helm_cli_tag(&spec, &base.repository(), pinned.as_ref());
    Ok(format!("{name}:{tag}"))
}

/// Every file in `manifests/` (recursively, sorted), read as bytes and passed through.
pub(super) fn passthrough_manifests(dir: &Utf8Path) -> Result<Vec<(String, Vec<u8>)>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    crate::util::tree_files::tree_files(dir)?
        .into_iter()
        .map(|file| Ok((file.relative, std::fs::read(&file.path).io_context("read", &file.path)?)))
        .collect()
}
