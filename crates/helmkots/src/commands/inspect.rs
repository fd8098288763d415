//! `inspect`: what a release tree (`dist/<slug>-<version>/`) or an airgap bundle (`.airgap`)
//! holds, read back from its own files, as `zarf package inspect` does for a package: the
//! images (reference, digest, size), the Config screen and the build record.
//!
//! The images of a bundle come from the same streaming pass as `verify`
//! ([`crate::oci::airgap::verify::verify_bundle`]): the manifests name the digests and sizes, and
//! what that pass finds wrong comes back as problems. A tree built with `--offline` has no
//! bundle, so its images are the Application's `additionalImages`, without digest or size.
//!
//! Architecture Invariant: reads only the given path, never the network, the release file,
//! the store or the working directory.

use std::{collections::BTreeMap, io::Read as _};

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::Value;

use crate::{
    error::{Error, IoContext, Result},
    input::release::ConfigGroup,
    oci::airgap::verify,
    output::build_record::{self, BuildRecord},
    plan::kots,
};

/// What a path given to `verify` or `inspect` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Artifact {
    /// A release tree: a directory with a build record.
    Tree(Utf8PathBuf),
    /// An airgap bundle: a file.
    Bundle(Utf8PathBuf),
}

impl Artifact {
    /// Tells a tree from a bundle; a path that does not exist, or a directory that is not a
    /// release tree, is an error that says so.
    pub fn at(path: &Utf8Path) -> Result<Artifact> {
        let help = "pass a release tree (`dist/<slug>-<version>`, written by `cargo xtask release`) or an \
                    airgap bundle (`dist/<slug>-<version>/<slug>-<version>.airgap`)";
        let refuse =
            |reason: String| Error::File { path: path.to_path_buf(), reason, help: Some(help.into()) };
        match std::fs::metadata(path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Err(refuse("no such file or directory".to_string()))
            }
            Err(error) => Err(error).io_context("read", path),
            Ok(metadata) if metadata.is_file() => Ok(Artifact::Bundle(path.to_path_buf())),
            Ok(_) if path.join(build_record::FILE_NAME).is_file() => Ok(Artifact::Tree(path.to_path_buf())),
            Ok(_) => {
                Err(refuse(format!("a directory without {}, so not a release tree", build_record::FILE_NAME)))
            }
        }
    }

    /// The path it was found at.
    pub fn path(&self) -> &Utf8Path {
        match self {
            Artifact::Tree(path) | Artifact::Bundle(path) => path,
        }
    }
}

/// What [`inspect`] read.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The tree or bundle inspected.
    pub artifact: Artifact,
    /// The airgap bundle's `airgap.yaml`: the bundle itself, or the tree's bundle when it has one.
    pub bundle: Option<BundleHead>,
    /// The images the release ships, in `savedImages` (or `additionalImages`) order.
    pub images: Vec<InspectedImage>,
    /// The Config screen (`kots-config.yaml`).
    pub config: Vec<ConfigGroup>,
    /// The build record (`release.lock.json`); a bundle alone carries none.
    pub record: Option<BuildRecord>,
    /// What the pass over the bundle found wrong (what `verify` would report).
    pub problems: Vec<String>,
}

/// An airgap bundle's `airgap.yaml`, as KOTS reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleHead {
    /// The bundle file.
    pub path: Utf8PathBuf,
    /// `appSlug`: the license's app must match it.
    pub app_slug: String,
    /// `versionLabel`.
    pub version_label: String,
    /// `channelID`: the license's channel must match it.
    pub channel_id: String,
    /// `channelName`.
    pub channel_name: String,
    /// `updateCursor`: how KOTS orders versions.
    pub update_cursor: String,
}

/// One image the release ships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectedImage {
    /// The reference as the release names it.
    pub reference: String,
    /// The digest of its manifest in the bundle (`None` without a bundle).
    pub digest: Option<String>,
    /// The bytes of its blobs in the bundle (`None` without a bundle).
    pub size: Option<u64>,
}

/// Reads what a release tree or an airgap bundle holds.
pub fn inspect(path: &Utf8Path) -> Result<Inspection> {
    match Artifact::at(path)? {
        Artifact::Bundle(bundle) => inspect_bundle(&bundle, None),
        Artifact::Tree(tree) => inspect_tree(tree),
    }
}

fn inspect_tree(tree: Utf8PathBuf) -> Result<Inspection> {
    let unreadable = |path: Utf8PathBuf, reason: String| Error::File {
        path,
        reason,
        help: Some("the release tree is damaged; write it again with `cargo xtask release`".to_string()),
    };
    let read = |relative: &str| {
        let path = tree.join(relative);
        std::fs::read_to_string(&path).map_err(|error| unreadable(path, error.to_string()))
    };
    let record_path = tree.join(build_record::FILE_NAME);
    let record: BuildRecord = serde_json::from_str(&read(build_record::FILE_NAME)?)
        .map_err(|error| unreadable(record_path, format!("not a build record: {error}")))?;
    if let Some(airgap) = &record.airgap {
        let mut inspection = inspect_bundle(&tree.join(&airgap.path), Some(&airgap.app_tar_gz))?;
        inspection.artifact = Artifact::Tree(tree);
        inspection.record = Some(record);
        return Ok(inspection);
    }
    let config_file = format!("manifests/{}", kots::CONFIG_FILE);
    let config = kots::read_config(&read(&config_file)?)
        .map_err(|reason| unreadable(tree.join(&config_file), reason))?;
    let app_file = format!("manifests/{}", kots::APP_FILE);
    let app: Value = serde_saphyr::from_str(&read(&app_file)?)
        .map_err(|error| unreadable(tree.join(&app_file), format!("not valid YAML: {error}")))?;
    let images = strings_at(&app, "/spec/additionalImages")
        .into_iter()
        .map(|reference| InspectedImage { reference, digest: None, size: None })
        .collect();
    Ok(Inspection {
        artifact: Artifact::Tree(tree),
        bundle: None,
        images,
        config,
        record: Some(record),
        problems: Vec::new(),
    })
}

/// A bundle: its head for `airgap.yaml` and the Config screen, then `verify`'s pass for the
/// images. `expected_app_tar_gz` is what the tree's build record lists.
fn inspect_bundle(path: &Utf8Path, expected_app_tar_gz: Option<&str>) -> Result<Inspection> {
    let unreadable = |reason: String| Error::File {
        path: path.to_path_buf(),
        reason,
        help: Some(
            "run `cargo xtask verify` on it for every problem; build it again with `cargo xtask release`"
                .into(),
        ),
    };
    let head = bundle_head(path, &["airgap.yaml", "app.tar.gz"])?.map_err(&unreadable)?;
    let entry = |name: &str| head.get(name).ok_or_else(|| unreadable(format!("it has no `{name}`")));
    let airgap: Value = serde_saphyr::from_slice(entry("airgap.yaml")?)
        .map_err(|error| unreadable(format!("airgap.yaml is not valid YAML: {error}")))?;
    let spec = |key: &str| {
        airgap.pointer(&format!("/spec/{key}")).and_then(Value::as_str).unwrap_or_default().to_string()
    };
    let bundle_head = BundleHead {
        path: path.to_path_buf(),
        app_slug: spec("appSlug"),
        version_label: spec("versionLabel"),
        channel_id: spec("channelID"),
        channel_name: spec("channelName"),
        update_cursor: spec("updateCursor"),
    };
    let config_text = app_file(entry("app.tar.gz")?, kots::CONFIG_FILE)
        .map_err(|error| unreadable(format!("app.tar.gz: {error}")))?
        .ok_or_else(|| unreadable(format!("app.tar.gz has no {}", kots::CONFIG_FILE)))?;
    let config = kots::read_config(&String::from_utf8_lossy(&config_text))
        .map_err(|reason| unreadable(format!("app.tar.gz {}: {reason}", kots::CONFIG_FILE)))?;
    let report = verify::verify_bundle(path, expected_app_tar_gz)?;
    let images = report
        .images
        .into_iter()
        .map(|image| InspectedImage {
            reference: image.reference,
            digest: Some(image.digest),
            size: image.size,
        })
        .collect();
    Ok(Inspection {
        artifact: Artifact::Bundle(path.to_path_buf()),
        bundle: Some(bundle_head),
        images,
        config,
        record: None,
        problems: report.problems,
    })
}

/// The entries of a bundle's head named `wanted`, read up to its first image entry (the head
/// comes first, so the images need not be read). The outer error is a bundle that cannot be
/// opened; the inner one, a stream that is not a gzip tar.
pub(crate) fn bundle_head(
    path: &Utf8Path,
    wanted: &[&str],
) -> Result<Result<BTreeMap<String, Vec<u8>>, String>> {
    let file = std::fs::File::open(path).io_context("open", path)?;
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)));
    let mut read = || -> std::io::Result<BTreeMap<String, Vec<u8>>> {
        let mut head = BTreeMap::new();
        for entry in archive.entries()? {
            let mut entry = entry?;
            let name = entry.path()?.to_string_lossy().into_owned();
            if name.starts_with("images/") {
                break;
            }
            if wanted.contains(&name.as_str()) {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes)?;
                head.insert(name, bytes);
            }
        }
        Ok(head)
    };
    Ok(read().map_err(|error| error.to_string()))
}

/// The file `name` of an `app.tar.gz` (the release's manifests, flat), when it has one.
fn app_file(app_tar_gz: &[u8], name: &str) -> std::io::Result<Option<Vec<u8>>> {
    let mut app = tar::Archive::new(flate2::read::GzDecoder::new(app_tar_gz));
    for entry in app.entries()? {
        let mut entry = entry?;
        if entry.path()?.to_string_lossy() == name {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            return Ok(Some(bytes));
        }
    }
    Ok(None)
}

/// The strings of the list at `pointer`.
pub(crate) fn strings_at(document: &Value, pointer: &str) -> Vec<String> {
    document
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}
