//! The helm-cli image: a base image (any image with `/bin/sh` and `helm` on PATH) plus one
//! layer holding the packaged chart, built without a Docker daemon, byte-reproducibly.
//!
//! Place in the data flow: `base image + chart ──append layer──▶ helm-cli image`. The chart
//! comes from [`crate::input::chart::package`]; the base is resolved through [`crate::oci::registry`]
//! (the lock file pins the digest); the result is written as an OCI image layout
//! (`dist/<slug>-<version>-helm-cli/`) and optionally pushed to `[helm_cli] name`.
//!
//! The steps, each its own function so the caller can plan, test and skip them:
//! 1. [`fetch_base`] (network): resolve the base reference, pick `[helm_cli] platform` from an
//!    index, fetch the config — manifest and config kept as raw bytes;
//! 2. [`assemble`] (pure): chart layer ([`layer`]), new config and manifest ([`config`]);
//!    the image digest is a function of (base manifest, chart bytes, workdir, labels, epoch);
//! 3. [`write_layout`] (network for the base layers, then disk) and/or [`push`] (network).
//!
//! Architecture Invariant: base manifests and configs are never re-serialised — only the new
//! config and manifest are written, as canonical JSON. The new layer's media type follows the
//! base manifest (OCI or Docker schema 2), as registries may reject mixed manifests.

pub mod config;
pub mod json;
pub mod layer;
pub mod layout;

use std::collections::BTreeMap;

use camino::Utf8Path;

use self::{
    config::{config_platform, derive_config, derive_manifest, descriptor_json, ConfigChanges},
    layer::{build_layer, file_in_dir_entries, normalize_workdir, Layer},
    layout::LayoutFile,
};
use crate::{
    error::Result,
    input::chart::PackagedChart,
    input::image_ref::ImageRef,
    oci::registry::{
        media::{self, Descriptor},
        Operation, Platform, RawManifest, Registry, ResolvedImage, RetryPolicy,
    },
    oci::{airgap::pull::fetch_into_store, store::BlobStore},
    util::digest::Sha256Digest,
};

/// Label: the chart version.
pub const LABEL_VERSION: &str = "org.opencontainers.image.version";
/// Label: the source revision (git commit).
pub const LABEL_REVISION: &str = "org.opencontainers.image.revision";
/// Label: where the source lives.
pub const LABEL_SOURCE: &str = "org.opencontainers.image.source";
/// Label and annotation: the base image's name.
pub const LABEL_BASE_NAME: &str = "org.opencontainers.image.base.name";
/// Label and annotation: the base image's digest (what its reference resolved to).
pub const LABEL_BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
/// Label: the packaged chart's sha256 (hex).
pub const LABEL_CHART_SHA256: &str = "dev.helmkots.chart.sha256";

/// Why the helm-cli image cannot be built from these inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// `[helm_cli] workdir` is not a usable absolute directory.
    #[error("invalid [helm_cli] workdir `{workdir}`: {reason}")]
    InvalidWorkdir {
        /// The workdir as given.
        workdir: String,
        /// What is wrong.
        reason: String,
    },
    /// The base image's config cannot be extended.
    #[error("cannot build on base image {image}: its config is unusable: {reason}")]
    BaseConfig {
        /// The base image.
        image: String,
        /// What is wrong.
        reason: String,
    },
    /// The base image's manifest cannot be extended.
    #[error("cannot build on base image {image}: its manifest is unusable: {reason}")]
    BaseManifest {
        /// The base image.
        image: String,
        /// What is wrong.
        reason: String,
    },
    /// A single-platform base image built for another platform.
    #[error("base image {image} is built for {found}, but [helm_cli] platform is {wanted}; use a base image for {wanted} (or a multi-platform one), or change the platform")]
    PlatformMismatch {
        /// The base image.
        image: String,
        /// `[helm_cli] platform`.
        wanted: String,
        /// What the base's config says.
        found: String,
    },
    /// `[helm_cli] name` cannot be pushed to.
    #[error("cannot push the helm-cli image to `{name}`: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Building the layer failed (cannot really happen in memory; kept typed).
    #[error("cannot build the chart layer: {reason}")]
    Layer {
        /// What failed.
        reason: String,
    },
}

/// A base image resolved for one platform, with its config (raw bytes).
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// The reference as given (tag and/or digest).
    pub image: ImageRef,
    /// What it resolved to; `resolved.top.digest` is the digest to pin in the lock file.
    pub resolved: ResolvedImage,
    /// The config blob, exact bytes.
    pub config: Vec<u8>,
}

impl BaseImage {
    /// The base pinned by digest: `repository@sha256:…` of what the reference resolved to.
    pub fn pinned(&self) -> ImageRef {
        pin(&self.image, &self.resolved.top.digest)
    }
}

/// Everything besides the base that goes into the helm-cli image.
#[derive(Debug, Clone, Copy)]
pub struct HelmCliSpec<'a> {
    /// `[helm_cli] workdir`: the chart goes to `<workdir>/<chart file name>`, and it becomes
    /// the image's `WorkingDir`.
    pub workdir: &'a str,
    /// `[helm_cli] platform`.
    pub platform: &'a Platform,
    /// The packaged chart.
    pub chart: &'a PackagedChart,
    /// The chart version (label and tag).
    pub chart_version: &'a str,
    /// The source revision for `org.opencontainers.image.revision` (the caller runs git).
    pub revision: Option<&'a str>,
    /// The source location for `org.opencontainers.image.source`.
    pub source: Option<&'a str>,
    /// Seconds since the epoch for `created` and every layer entry
    /// ([`crate::util::reproducible::source_date_epoch`]).
    pub created: u64,
}

/// A new blob of the built image, held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Its media type.
    pub media_type: String,
    /// sha256 of `bytes`.
    pub digest: Sha256Digest,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl Blob {
    fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob { media_type: media_type.to_string(), digest: Sha256Digest::of(&bytes), bytes }
    }

    /// Its descriptor.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest,
            size: self.bytes.len() as u64,
            platform: None,
        }
    }
}

/// The built helm-cli image: the base's layers (by reference) plus the new blobs (in memory).
#[derive(Debug, Clone)]
pub struct HelmCliImage {
    /// The base it was built on.
    pub base: BaseImage,
    /// The chart layer.
    pub layer: Layer,
    /// The new config.
    pub config: Blob,
    /// The new manifest; its digest is the image digest.
    pub manifest: RawManifest,
    /// The tag: `<chart version>-<first 12 hex of the chart's sha256>`.
    pub tag: String,
    /// Where the chart is inside the image, e.g. `/apps/demo-app-1.0.0.tgz`.
    pub chart_path: String,
}

impl HelmCliImage {
    /// The image digest (of the manifest).
    pub fn digest(&self) -> Sha256Digest {
        self.manifest.digest
    }

    /// The base's image manifest for the image's platform, pinned by digest: pulling it
    /// fetches the base layers.
    pub fn base_manifest(&self) -> ImageRef {
        let text = format!("{}@{}", self.base.image.repository(), self.base.resolved.manifest.digest.oci());
        // A repository plus a sha256 digest always parses.
        ImageRef::parse(&text).unwrap_or_else(|_| self.base.pinned())
    }

    /// The base layers, which stay in the base's repository until written or pushed.
    pub fn base_layers(&self) -> &[Descriptor] {
        &self.base.resolved.parsed.layers
    }

    /// Every blob the manifest references, base layers first, then the chart layer and config.
    pub fn blobs(&self) -> Vec<Descriptor> {
        let mut blobs = self.base_layers().to_vec();
        blobs.push(Descriptor {
            media_type: self.layer.media_type.clone(),
            digest: self.layer.digest,
            size: self.layer.blob.len() as u64,
            platform: None,
        });
        blobs.push(self.config.descriptor());
        blobs
    }
}

/// The helm-cli image's tag: `<chart version>-<12 hex>`, e.g. `1.4.2-0123456789ab`, where the
/// hex digits are a digest of everything the image's bytes are made from: the chart, the
/// spec (workdir, platform, revision and source labels, creation time), the base (its
/// repository and the digest it is pinned to, `None` when nothing pins it yet) and the
/// helmkots version that lays the image out. A tag thus names one content: registries with
/// immutable tags accept every push, and a release pinned to a digest keeps its tag.
/// A `+` (SemVer build metadata) becomes `_`, as Helm does for OCI tags.
pub fn helm_cli_tag(
    spec: &HelmCliSpec<'_>,
    base_repository: &str,
    base_digest: Option<&Sha256Digest>,
) -> String {
    let text = format!(
        "helmkots {}\nchart {}\nversion {}\nworkdir {}\nplatform {}\nrevision {}\nsource {}\ncreated {}\nbase {}\nbase-digest {}\n",
        env!("CARGO_PKG_VERSION"),
        spec.chart.sha256.hex(),
        spec.chart_version,
        normalize_workdir(spec.workdir).unwrap_or_else(|_| spec.workdir.to_string()),
        spec.platform,
        spec.revision.unwrap_or_default(),
        spec.source.unwrap_or_default(),
        spec.created,
        base_repository,
        base_digest.map(Sha256Digest::oci).unwrap_or_default(),
    );
    let inputs = Sha256Digest::of(text.as_bytes());
    format!("{}-{}", spec.chart_version.replace('+', "_"), &inputs.hex()[..12])
}

/// Resolves the base image for `platform` and fetches its config.
pub fn fetch_base(registry: &Registry, image: &ImageRef, platform: &Platform) -> Result<BaseImage> {
    let resolved = registry.resolve_platform(image, platform)?;
    let config = registry.fetch_blob_bytes(image, &resolved.parsed.config, media::MAX_DOCUMENT_SIZE)?;
    Ok(BaseImage { image: image.clone(), resolved, config })
}

/// Builds the helm-cli image in memory from a fetched base. No I/O.
pub fn assemble(base: BaseImage, spec: &HelmCliSpec<'_>) -> Result<HelmCliImage> {
    let workdir = normalize_workdir(spec.workdir).map_err(|reason| ImageError::InvalidWorkdir {
        workdir: spec.workdir.to_string(),
        reason: reason.to_string(),
    })?;
    let base_name = base.image.to_string();
    if let Some(found) = config_platform(&base.config) {
        let wanted = spec.platform;
        if found.os != wanted.os || found.architecture != wanted.architecture {
            return Err(ImageError::PlatformMismatch {
                image: base_name,
                wanted: wanted.to_string(),
                found: found.to_string(),
            }
            .into());
        }
    }
    let kind = base.resolved.parsed.kind;
    let entries = file_in_dir_entries(&workdir, &spec.chart.file_name, spec.chart.bytes.clone());
    let layer = build_layer(&entries, spec.created, kind.gzip_layer_media_type())
        .map_err(|error| ImageError::Layer { reason: error.to_string() })?;

    let base_digest = base.resolved.top.digest.oci();
    let base_repository = base.image.repository();
    let mut labels = BTreeMap::from([
        (LABEL_VERSION.to_string(), spec.chart_version.to_string()),
        (LABEL_CHART_SHA256.to_string(), spec.chart.sha256.hex()),
        (LABEL_BASE_NAME.to_string(), base_repository.clone()),
        (LABEL_BASE_DIGEST.to_string(), base_digest.clone()),
    ]);
    if let Some(revision) = spec.revision.filter(|revision| !revision.is_empty()) {
        labels.insert(LABEL_REVISION.to_string(), revision.to_string());
    }
    if let Some(source) = spec.source.filter(|source| !source.is_empty()) {
        labels.insert(LABEL_SOURCE.to_string(), source.to_string());
    }
    let created = json::rfc3339(spec.created);
    let created_by = format!("helmkots: add chart {} to {workdir}", spec.chart.file_name);
    let comment = format!("chart sha256 {}", spec.chart.sha256.hex());
    let changes = ConfigChanges {
        working_dir: &workdir,
        labels: &labels,
        created: &created,
        created_by: &created_by,
        comment: &comment,
        diff_id: layer.diff_id,
        base_layer_count: base.resolved.parsed.layers.len(),
    };
    let config_bytes = derive_config(&base.config, &changes)
        .map_err(|reason| ImageError::BaseConfig { image: base_name.clone(), reason })?;
    let config_media_type = match base.resolved.parsed.config.media_type.as_str() {
        "" if kind.is_docker() => media::DOCKER_CONFIG,
        "" => media::OCI_CONFIG,
        media_type => media_type,
    };
    let config = Blob::new(config_media_type, config_bytes);

    let annotations = BTreeMap::from([
        (LABEL_BASE_NAME.to_string(), base_repository),
        (LABEL_BASE_DIGEST.to_string(), base_digest),
    ]);
    let manifest_bytes = derive_manifest(
        &base.resolved.manifest.bytes,
        kind,
        descriptor_json(&config.media_type, &config.digest, config.bytes.len() as u64),
        descriptor_json(&layer.media_type, &layer.digest, layer.blob.len() as u64),
        &annotations,
    )
    .map_err(|reason| ImageError::BaseManifest { image: base_name, reason })?;
    let manifest = RawManifest { digest: Sha256Digest::of(&manifest_bytes), kind, bytes: manifest_bytes };

    let chart_path = if workdir == "/" {
        format!("/{}", spec.chart.file_name)
    } else {
        format!("{workdir}/{}", spec.chart.file_name)
    };
    let tag = helm_cli_tag(spec, &base.image.repository(), Some(&base.resolved.top.digest));
    Ok(HelmCliImage { base, layer, config, manifest, tag, chart_path })
}

/// [`fetch_base`] then [`assemble`].
pub fn build_helm_cli_image(
    registry: &Registry,
    base: &ImageRef,
    spec: &HelmCliSpec<'_>,
) -> Result<HelmCliImage> {
    let base = fetch_base(registry, base, spec.platform)?;
    assemble(base, spec)
}

/// Writes the image as an OCI image layout in `dir` (created when missing): the base layers
/// streamed from the base's registry (verified; skipped when already there), the new blobs,
/// `oci-layout`, and `index.json` naming the image by its tag. Returns every file written,
/// sorted by path, for the build record.
pub fn write_layout(
    registry: &Registry,
    store: &BlobStore,
    image: &HelmCliImage,
    dir: &Utf8Path,
) -> Result<Vec<LayoutFile>> {
    let source = image.base.pinned();
    let mut files = Vec::new();
    for blob in image.base_layers() {
        fetch_into_store(registry, store, &source, blob)?;
        files.push(layout::copy_blob(store, dir, blob)?);
    }
    files.push(layout::write_blob_bytes(dir, &image.layer.blob)?);
    files.push(layout::write_blob_bytes(dir, &image.config.bytes)?);
    files.push(layout::write_blob_bytes(dir, &image.manifest.bytes)?);
    files.extend(layout::write_index(dir, &[(image.manifest.descriptor(), Some(image.tag.clone()))])?);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    Ok(files)
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSummary {
    /// The pushed image, pinned: `name:tag@sha256:…`.
    pub reference: ImageRef,
    /// Blobs the registry already had.
    pub present: usize,
    /// Blobs mounted from the base's repository.
    pub mounted: usize,
    /// Blobs uploaded.
    pub uploaded: usize,
}

/// Pushes the image to `name` (`[helm_cli] name`; its tag, if any, is replaced by the image's
/// tag) and returns the pinned reference. Blobs the target has are skipped, base layers are
/// mounted from the base's repository where the registry allows, and otherwise uploaded from
/// `store` (fetched into it first when missing, resumed and verified like any pull).
///
/// Pushing is idempotent, so an error a concurrent push of the same blobs can cause is tried
/// again: two releases pushing one image at once made docker-registry answer `DIGEST_INVALID`
/// for a blob the other one was committing. Refused credentials or a bad name fail at once.
pub fn push(
    registry: &Registry,
    image: &HelmCliImage,
    name: &ImageRef,
    store: &BlobStore,
) -> Result<PushSummary> {
    PUSH_RETRIES.run(Operation::Push, |_| {}, || push_once(registry, image, name, store))
}

/// How [`push`] retries (see [`Operation::is_transient`] for what it retries).
const PUSH_RETRIES: RetryPolicy = RetryPolicy { attempts: 4, backoff: std::time::Duration::from_millis(250) };

fn push_once(
    registry: &Registry,
    image: &HelmCliImage,
    name: &ImageRef,
    store: &BlobStore,
) -> Result<PushSummary> {
    let target = push_target(image, name)?;
    let source = image.base.pinned();
    let mut summary = PushSummary { reference: target.clone(), present: 0, mounted: 0, uploaded: 0 };
    for blob in image.base_layers() {
        if registry.blob_exists(&target, &blob.digest)? {
            summary.present += 1;
        } else if registry.mount_blob(&target, &source, &blob.digest)? {
            summary.mounted += 1;
        } else {
            upload_base_layer(registry, &target, &source, blob, store)?;
            summary.uploaded += 1;
        }
    }
    for blob in [(&image.layer.digest, &image.layer.blob), (&image.config.digest, &image.config.bytes)] {
        if registry.blob_exists(&target, blob.0)? {
            summary.present += 1;
        } else {
            registry.push_blob(&target, blob.0, blob.1.clone())?;
            summary.uploaded += 1;
        }
    }
    let digest = registry.push_manifest(&target, image.manifest.kind, image.manifest.bytes.clone())?;
    summary.reference = pin(&target, &digest);
    Ok(summary)
}

/// `name`'s repository with the image's tag: where [`push`] puts the image.
fn push_target(image: &HelmCliImage, name: &ImageRef) -> Result<ImageRef> {
    if name.digest().is_some() {
        return Err(ImageError::InvalidName {
            name: name.to_string(),
            reason: "it has a digest; give a repository (the tag is made from the image's inputs)"
                .to_string(),
        }
        .into());
    }
    ImageRef::parse(&format!("{}:{}", name.repository(), image.tag))
        .map_err(|error| ImageError::InvalidName { name: name.to_string(), reason: error.to_string() }.into())
}

/// The reference [`push`] returns for the image, known before it is pushed:
/// `repository:tag@digest`.
pub fn pushed_reference(image: &HelmCliImage, name: &ImageRef) -> Result<ImageRef> {
    Ok(pin(&push_target(image, name)?, &image.digest()))
}

/// Puts the image's own blobs (manifest, config, chart layer) into `store`; its base layers
/// stay where they are until pulled through the base ([`HelmCliImage::base_manifest`]).
pub fn store_own_blobs(image: &HelmCliImage, store: &crate::oci::store::BlobStore) -> Result<()> {
    for bytes in [&image.manifest.bytes, &image.config.bytes, &image.layer.blob] {
        store.insert_bytes(bytes)?;
    }
    Ok(())
}

fn upload_base_layer(
    registry: &Registry,
    target: &ImageRef,
    source: &ImageRef,
    blob: &Descriptor,
    store: &BlobStore,
) -> Result<()> {
    fetch_into_store(registry, store, source, blob)?;
    registry.push_blob_file(target, &blob.digest, &store.path(&blob.digest))?;
    Ok(())
}

/// `repository:tag@digest` (the tag kept when `image` has one).
fn pin(image: &ImageRef, digest: &Sha256Digest) -> ImageRef {
    let text = match image.tag() {
        Some(tag) => format!("{}:{tag}@{}", image.repository(), digest.oci()),
        None => format!("{}@{}", image.repository(), digest.oci()),
    };
    // A repository plus a valid tag plus a sha256 digest always parses.
    ImageRef::parse(&text).unwrap_or_else(|_| image.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::oci::registry::media::{parse_manifest, ManifestKind};

    const BASE_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"User":"1000","Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]},"history":[{"created_by":"base"}]}"#;

    fn base(kind: ManifestKind, config: &str) -> BaseImage {
        let (config_type, layer_type) = if kind.is_docker() {
            (media::DOCKER_CONFIG, media::DOCKER_LAYER_GZIP)
        } else {
            (media::OCI_CONFIG, media::OCI_LAYER_GZIP)
        };
        let config_digest = Sha256Digest::of(config.as_bytes());
        // Deliberately not canonical: the base's bytes must be read, never rewritten.
        let manifest = format!(
            "{{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"{}\",\n  \"config\": {{\"mediaType\": \"{config_type}\", \"digest\": \"{}\", \"size\": {}}},\n  \"layers\": [{{\"mediaType\": \"{layer_type}\", \"digest\": \"sha256:{}\", \"size\": 7}}]\n}}",
            kind.media_type(),
            config_digest.oci(),
            config.len(),
            "2".repeat(64),
        );
        let raw =
            RawManifest { digest: Sha256Digest::of(manifest.as_bytes()), kind, bytes: manifest.into_bytes() };
        let parsed = parse_manifest(kind, &raw.bytes).unwrap();
        BaseImage {
            image: ImageRef::parse("127.0.0.1:5000/base:1").unwrap(),
            resolved: ResolvedImage { top: raw.clone(), manifest: raw, parsed },
            config: config.as_bytes().to_vec(),
        }
    }

    fn chart(bytes: &[u8]) -> PackagedChart {
        PackagedChart {
            file_name: "demo-app-1.4.2.tgz".into(),
            bytes: bytes.to_vec(),
            sha256: Sha256Digest::of(bytes),
        }
    }

    fn build(kind: ManifestKind, chart: &PackagedChart, workdir: &str) -> Result<HelmCliImage> {
        let platform = Platform::linux_amd64();
        let spec = HelmCliSpec {
            workdir,
            platform: &platform,
            chart,
            chart_version: "1.4.2",
            revision: Some("abc123"),
            source: Some("https://example.com/repo"),
            created: 946_684_800,
        };
        assemble(base(kind, BASE_CONFIG), &spec)
    }

    #[test]
    fn same_inputs_same_digest_one_byte_changes_it() {
        let first = build(ManifestKind::OciManifest, &chart(b"chart bytes"), "/apps").unwrap();
        let again = build(ManifestKind::OciManifest, &chart(b"chart bytes"), "/apps").unwrap();
        assert_eq!(first.digest(), again.digest());
        assert_eq!(first.manifest.bytes, again.manifest.bytes);
        let changed = build(ManifestKind::OciManifest, &chart(b"chart bytez"), "/apps").unwrap();
        assert_ne!(first.digest(), changed.digest());
        assert_eq!(first.chart_path, "/apps/demo-app-1.4.2.tgz");
        assert_eq!(first.tag, again.tag);
        assert_ne!(first.tag, changed.tag, "one tag for two contents");
        assert!(first.tag.starts_with("1.4.2-"), "{}", first.tag);
    }

    #[test]
    fn manifest_and_config_are_consistent() {
        for kind in [ManifestKind::OciManifest, ManifestKind::DockerManifest] {
            let image = build(kind, &chart(b"c"), "/apps/").unwrap();
            let parsed = parse_manifest(kind, &image.manifest.bytes).unwrap();
            assert_eq!(parsed.config.digest, image.config.digest);
            assert_eq!(parsed.config.size, image.config.bytes.len() as u64);
            assert_eq!(parsed.layers.len(), 2);
            assert_eq!(parsed.layers[1].digest, image.layer.digest);
            assert_eq!(parsed.layers[1].media_type, kind.gzip_layer_media_type());
            assert_eq!(parsed.layers[0].digest.hex(), "2".repeat(64));
            let config: serde_json::Value = serde_json::from_slice(&image.config.bytes).unwrap();
            assert_eq!(config["rootfs"]["diff_ids"][1], image.layer.diff_id.oci());
            assert_eq!(config["config"]["WorkingDir"], "/apps");
            assert_eq!(config["config"]["Labels"][LABEL_REVISION], "abc123");
            assert_eq!(config["config"]["Labels"][LABEL_CHART_SHA256], Sha256Digest::of(b"c").hex());
            assert_eq!(image.blobs().len(), 3);
        }
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        assert!(matches!(
            build(ManifestKind::OciManifest, &chart(b"c"), "apps"),
            Err(Error::Image(ImageError::InvalidWorkdir { .. }))
        ));
        let platform = Platform::parse("linux/arm64").unwrap();
        let chart = chart(b"c");
        let spec = HelmCliSpec {
            workdir: "/apps",
            platform: &platform,
            chart: &chart,
            chart_version: "1.4.2",
            revision: None,
            source: None,
            created: 0,
        };
        let error = assemble(base(ManifestKind::OciManifest, BASE_CONFIG), &spec).unwrap_err();
        assert!(matches!(error, Error::Image(ImageError::PlatformMismatch { .. })), "{error}");
        let broken = base(
            ManifestKind::OciManifest,
            r#"{"os":"linux","architecture":"amd64","rootfs":{"diff_ids":[]}}"#,
        );
        let error =
            assemble(broken, &HelmCliSpec { platform: &Platform::linux_amd64(), ..spec }).unwrap_err();
        assert!(matches!(error, Error::Image(ImageError::BaseConfig { .. })), "{error}");
    }

    #[test]
    fn a_tag_changes_with_every_input_of_the_image() {
        let platform = Platform::linux_amd64();
        let arm = Platform::parse("linux/arm64").unwrap();
        let (one, two) = (chart(b"c"), chart(b"d"));
        let spec = HelmCliSpec {
            workdir: "/apps",
            platform: &platform,
            chart: &one,
            chart_version: "1.0.0-rc.1+build.5",
            revision: Some("abc"),
            source: None,
            created: 0,
        };
        let digest = Sha256Digest::of(b"base");
        let tag = helm_cli_tag(&spec, "docker.io/alpine/helm", Some(&digest));
        assert!(tag.starts_with("1.0.0-rc.1_build.5-"), "{tag}");
        assert_eq!(tag.len(), "1.0.0-rc.1_build.5-".len() + 12);
        assert_eq!(tag, helm_cli_tag(&spec, "docker.io/alpine/helm", Some(&digest)), "deterministic");
        let other_digest = Sha256Digest::of(b"other");
        let variants = [
            helm_cli_tag(&HelmCliSpec { chart: &two, ..spec }, "docker.io/alpine/helm", Some(&digest)),
            helm_cli_tag(&HelmCliSpec { workdir: "/charts", ..spec }, "docker.io/alpine/helm", Some(&digest)),
            helm_cli_tag(&HelmCliSpec { platform: &arm, ..spec }, "docker.io/alpine/helm", Some(&digest)),
            helm_cli_tag(
                &HelmCliSpec { revision: Some("abd"), ..spec },
                "docker.io/alpine/helm",
                Some(&digest),
            ),
            helm_cli_tag(&HelmCliSpec { revision: None, ..spec }, "docker.io/alpine/helm", Some(&digest)),
            helm_cli_tag(
                &HelmCliSpec { source: Some("git"), ..spec },
                "docker.io/alpine/helm",
                Some(&digest),
            ),
            helm_cli_tag(&HelmCliSpec { created: 1, ..spec }, "docker.io/alpine/helm", Some(&digest)),
            helm_cli_tag(&spec, "docker.io/other/helm", Some(&digest)),
            helm_cli_tag(&spec, "docker.io/alpine/helm", Some(&other_digest)),
            helm_cli_tag(&spec, "docker.io/alpine/helm", None),
        ];
        for (index, variant) in variants.iter().enumerate() {
            assert_ne!(variant, &tag, "variant {index} kept the tag");
        }
    }
}
