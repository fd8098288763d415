//! `verify`: re-reads an airgap bundle and checks it would serve every image completely.
//!
//! One streaming pass over the bundle re-hashes every blob (memory stays flat: only blobs of
//! at most [`KEEP_LIMIT`] bytes, which manifests and configs are, are kept) and collects the
//! registry's link files; then every `savedImages` entry is resolved the way the registry
//! would (tag → manifest → index children → config and layers), every image the release's
//! Application and Job name must be saved, and `app.tar.gz` must match the build record.
//! Every problem is reported, not just the first.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs::File,
    io::{BufReader, Read},
};

use camino::Utf8Path;
use serde::Serialize;
use serde_json::Value;

use crate::{
    digest::{HashingWriter, Sha256Digest},
    error::{IoContext, Result},
    image_ref::ImageRef,
    registry::media::{self, ManifestKind},
};

/// Blobs up to this size are kept in memory for parsing (manifests, configs).
pub const KEEP_LIMIT: u64 = 4 * 1024 * 1024;

/// What `verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// How many blobs were re-hashed.
    pub blobs_checked: usize,
    /// The `savedImages` entries.
    pub saved_images: Vec<String>,
    /// sha256 of `app.tar.gz`.
    pub app_tar_gz_sha256: String,
    /// Every problem found.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Default)]
struct Contents {
    airgap: Option<Value>,
    app_tar_gz: Vec<u8>,
    blobs: BTreeSet<String>,
    kept: BTreeMap<String, Vec<u8>>,
    links: BTreeMap<String, String>,
}

/// Verifies a bundle file. `expected_app_tar_gz` is the digest the build record lists, when known.
pub fn verify_bundle(bundle: &Utf8Path, expected_app_tar_gz: Option<&str>) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let contents = read_bundle(bundle, &mut report)?;
    let prefix = "docker/registry/v2";
    let Some(airgap) = &contents.airgap else {
        report.problems.push("the bundle has no airgap.yaml".to_string());
        return Ok(report);
    };
    report.app_tar_gz_sha256 = Sha256Digest::of(&contents.app_tar_gz).oci();
    if let Some(expected) = expected_app_tar_gz {
        if expected != report.app_tar_gz_sha256 {
            report.problems.push(format!(
                "app.tar.gz is {} but the build record lists {expected}",
                report.app_tar_gz_sha256
            ));
        }
    }
    let saved: Vec<String> = airgap
        .pointer("/spec/savedImages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    report.saved_images = saved.clone();
    for text in &saved {
        let Ok(image) = ImageRef::parse(text) else {
            report.problems.push(format!("savedImages entry `{text}` is not an image reference"));
            continue;
        };
        let repository = format!("{prefix}/repositories/{}", image.last_component());
        let top = match (image.digest(), image.tag()) {
            (Some(digest), _) => Some(digest.to_string()),
            (None, Some(tag)) => {
                contents.links.get(&format!("{repository}/_manifests/tags/{tag}/current/link")).cloned()
            }
            (None, None) => None,
        };
        let Some(top) = top else {
            report.problems.push(format!(
                "image `{text}`: no tag `{}` in repository `{}`",
                image.tag().unwrap_or("latest"),
                image.last_component()
            ));
            continue;
        };
        check_manifest(&contents, &repository, text, &top, 0, &mut report.problems);
    }
    check_release_images(&contents, &saved, &mut report.problems);
    Ok(report)
}

fn read_bundle(bundle: &Utf8Path, report: &mut VerifyReport) -> Result<Contents> {
    let file = File::open(bundle).io_context("open", bundle)?;
    let decoder = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, file));
    let mut archive = tar::Archive::new(decoder);
    let mut contents = Contents::default();
    let blob_prefix = "images/docker/registry/v2/blobs/sha256/";
    for entry in archive.entries().io_context("read", bundle)? {
        let mut entry = entry.io_context("read", bundle)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().io_context("read", bundle)?.to_string_lossy().into_owned();
        if path == "airgap.yaml" {
            let mut text = String::new();
            entry.read_to_string(&mut text).io_context("read", bundle)?;
            match serde_saphyr::from_str::<Value>(&text) {
                Ok(value) => contents.airgap = Some(value),
                Err(error) => report.problems.push(format!("airgap.yaml is not valid YAML: {error}")),
            }
        } else if path == "app.tar.gz" {
            entry.read_to_end(&mut contents.app_tar_gz).io_context("read", bundle)?;
        } else if let Some(rest) = path.strip_prefix(blob_prefix) {
            let name_hex = rest.split('/').nth(1).unwrap_or_default().to_string();
            let size = entry.header().size().unwrap_or(0);
            // Small blobs (manifests, configs) are kept for parsing; big ones only hashed.
            let mut kept = Vec::new();
            let digest = if size <= KEEP_LIMIT {
                let mut writer = HashingWriter::new(&mut kept);
                std::io::copy(&mut entry, &mut writer).io_context("read", bundle)?;
                writer.finish().0
            } else {
                let mut writer = HashingWriter::new(std::io::sink());
                std::io::copy(&mut entry, &mut writer).io_context("read", bundle)?;
                writer.finish().0
            };
            check_blob(&name_hex, &digest, report);
            contents.blobs.insert(name_hex.clone());
            if size <= KEEP_LIMIT {
                contents.kept.insert(name_hex, kept);
            }
        } else if let Some(rest) = path.strip_prefix("images/") {
            if rest.ends_with("/link") {
                let mut text = String::new();
                entry.read_to_string(&mut text).io_context("read", bundle)?;
                contents.links.insert(rest.to_string(), text.trim().to_string());
            }
        }
    }
    Ok(contents)
}

fn check_blob(name_hex: &str, actual: &Sha256Digest, report: &mut VerifyReport) {
    report.blobs_checked += 1;
    if actual.hex() != name_hex {
        report
            .problems
            .push(format!("blob sha256:{name_hex} is corrupt: its content hashes to {}", actual.oci()));
    }
}

fn check_manifest(
    contents: &Contents,
    repository: &str,
    image: &str,
    digest: &str,
    depth: usize,
    problems: &mut Vec<String>,
) {
    let hex = digest.trim_start_matches("sha256:");
    if !contents.links.contains_key(&format!("{repository}/_manifests/revisions/sha256/{hex}/link")) {
        problems.push(format!("image `{image}`: manifest {digest} is not linked in its repository"));
    }
    let Some(bytes) = contents.kept.get(hex) else {
        problems.push(format!("image `{image}`: manifest {digest} is missing from the bundle"));
        return;
    };
    match media::detect_kind(bytes) {
        Some(kind @ (ManifestKind::OciIndex | ManifestKind::DockerManifestList)) if depth == 0 => {
            match media::parse_index(kind, bytes) {
                Ok(index) => {
                    for child in index.manifests {
                        if contents.kept.contains_key(&child.digest.hex()) {
                            check_manifest(
                                contents,
                                repository,
                                image,
                                &child.digest.oci(),
                                depth + 1,
                                problems,
                            );
                        } else if child.platform.as_ref().is_none_or(|p| p.os != "unknown") {
                            problems.push(format!(
                                "image `{image}`: platform manifest {} is missing",
                                child.digest
                            ));
                        }
                    }
                }
                Err(problem) => problems.push(format!("image `{image}`: index {digest}: {problem}")),
            }
        }
        Some(kind @ (ManifestKind::OciManifest | ManifestKind::DockerManifest)) => {
            match media::parse_manifest(kind, bytes) {
                Ok(manifest) => {
                    for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
                        let blob_hex = blob.digest.hex();
                        if !contents.blobs.contains(&blob_hex) {
                            problems.push(format!(
                                "image `{image}`: blob {} is missing from the bundle",
                                blob.digest
                            ));
                        } else if !contents
                            .links
                            .contains_key(&format!("{repository}/_layers/sha256/{blob_hex}/link"))
                        {
                            problems.push(format!(
                                "image `{image}`: blob {} is not linked in its repository",
                                blob.digest
                            ));
                        }
                    }
                }
                Err(problem) => problems.push(format!("image `{image}`: manifest {digest}: {problem}")),
            }
        }
        _ => problems.push(format!("image `{image}`: {digest} is not an image manifest or index")),
    }
}

/// Every image the Application lists and the Job runs must be saved.
fn check_release_images(contents: &Contents, saved: &[String], problems: &mut Vec<String>) {
    let saved: BTreeSet<String> = saved
        .iter()
        .filter_map(|s| ImageRef::parse(s).ok())
        .map(|r| r.repository() + &crate::image_routing::tag_and_digest(&r))
        .collect();
    let decoder = flate2::read::GzDecoder::new(contents.app_tar_gz.as_slice());
    let mut archive = tar::Archive::new(decoder);
    let Ok(entries) = archive.entries() else {
        problems.push("app.tar.gz is not a gzip tar".to_string());
        return;
    };
    for entry in entries.flatten() {
        let mut entry = entry;
        let name = entry.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let mut text = String::new();
        if entry.read_to_string(&mut text).is_err() {
            continue;
        }
        let wanted: Vec<String> = match name.as_str() {
            "kots-app.yaml" => serde_saphyr::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.pointer("/spec/additionalImages").and_then(Value::as_array).cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            "helm-cli-job.yaml" => serde_saphyr::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.pointer("/spec/template/spec/containers").and_then(Value::as_array).cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|c| c.get("image").and_then(Value::as_str).map(str::to_string))
                .collect(),
            _ => continue,
        };
        for image in wanted {
            let Ok(reference) = ImageRef::parse(&image) else {
                problems.push(format!("{name}: `{image}` is not an image reference"));
                continue;
            };
            let key = reference.repository() + &crate::image_routing::tag_and_digest(&reference);
            let by_digest = reference.digest().is_some_and(|d| saved.iter().any(|s| s.ends_with(d)));
            if !saved.contains(&key) && !by_digest {
                problems.push(format!("{name} names `{image}`, which is not in savedImages"));
            }
        }
    }
}
