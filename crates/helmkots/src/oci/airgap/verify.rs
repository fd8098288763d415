//! `verify`: re-reads an airgap bundle and checks it would serve every image completely.
//!
//! One streaming pass over the bundle re-hashes every blob (memory stays flat: only JSON
//! blobs of at most [`KEEP_LIMIT`] bytes — manifests, indexes, configs — are kept) and collects the
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
use serde_json::Value;

use crate::{
    error::{IoContext, Result},
    input::image_ref::ImageRef,
    oci::registry::media::{self, ManifestKind},
    util::digest::{HashingWriter, Sha256Digest},
};

/// Blobs up to this size are kept in memory for parsing (manifests, configs).
pub const KEEP_LIMIT: u64 = 4 * 1024 * 1024;

/// What `verify` found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// How many files of a release tree were checked against its `SHA256SUMS` (0 for a
    /// bundle given alone).
    pub files_checked: usize,
    /// How many blobs were re-hashed.
    pub blobs_checked: usize,
    /// The `savedImages` entries.
    pub saved_images: Vec<String>,
    /// Each saved image the bundle holds: its manifest's digest and what its blobs weigh.
    pub images: Vec<SavedImage>,
    /// sha256 of `app.tar.gz`.
    pub app_tar_gz_sha256: String,
    /// Every problem found.
    pub problems: Vec<String>,
}

/// An image of `savedImages` as the bundle holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedImage {
    /// The `savedImages` entry.
    pub reference: String,
    /// The digest of its manifest (or index) in the bundle.
    pub digest: String,
    /// The bytes of its config and layer blobs, each counted once; `None` when a manifest
    /// of it is missing or does not parse (a problem of the report says which).
    pub size: Option<u64>,
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
    /// The first two entries: path, and whether it is a regular file.
    leading: Vec<(String, bool)>,
    /// True when the gzip or tar stream broke off (a corrupt or truncated bundle): what was
    /// read before is all there is, so nothing is checked against it.
    damaged: bool,
}

/// Verifies a bundle file. `expected_app_tar_gz` is the digest the build record lists, when known.
pub fn verify_bundle(bundle: &Utf8Path, expected_app_tar_gz: Option<&str>) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let contents = read_bundle(bundle, &mut report)?;
    if contents.damaged {
        return Ok(report);
    }
    let prefix = "docker/registry/v2";
    let Some(airgap) = &contents.airgap else {
        report.problems.push("the bundle has no airgap.yaml".to_string());
        return Ok(report);
    };
    // KOTS reads airgap.yaml and app.tar.gz first and stops at the first directory when it
    // skips the images, so they must be the first two entries, both regular files.
    let leading_ok = contents.leading.len() == 2
        && contents
            .leading
            .iter()
            .zip(["airgap.yaml", "app.tar.gz"])
            .all(|((path, file), want)| *file && path == want);
    if !leading_ok {
        let found: Vec<&str> = contents.leading.iter().map(|(path, _)| path.as_str()).collect();
        report.problems.push(format!(
            "the bundle must start with the regular files airgap.yaml and app.tar.gz (KOTS reads them first), found {found:?}"
        ));
    }
    if contents.app_tar_gz.is_empty() {
        report.problems.push("the bundle has no app.tar.gz (the release files)".to_string());
    }
    for (pointer, want) in
        [("/apiVersion", "kots.io/v1beta1"), ("/kind", "Airgap"), ("/spec/format", "docker")]
    {
        let found = airgap.pointer(pointer).and_then(Value::as_str);
        if found != Some(want) {
            report.problems.push(format!(
                "airgap.yaml {pointer} is {}, KOTS expects `{want}`",
                found.map_or_else(|| "missing".to_string(), |f| format!("`{f}`"))
            ));
        }
    }
    if airgap.pointer("/spec/appSlug").and_then(Value::as_str).is_none_or(str::is_empty) {
        report
            .problems
            .push("airgap.yaml has no spec.appSlug: KOTS matches it against the license".to_string());
    }
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
    if saved.is_empty() {
        report.problems.push(
            "airgap.yaml lists no savedImages: the bundle carries no images, not even the helm-cli image the Job runs"
                .to_string(),
        );
    }
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
        let size = saved_size(&contents, &top);
        report.images.push(SavedImage { reference: text.clone(), digest: top, size });
    }
    check_release_images(&contents, &saved, &mut report.problems);
    Ok(report)
}

/// Reads every entry of the bundle. Only a bundle that cannot be opened, or a read the OS
/// refuses, is an error; a stream that breaks off (a flipped byte makes the gzip stream
/// corrupt, a cut makes it end early) is a finding, reported as a problem naming the bundle.
fn read_bundle(bundle: &Utf8Path, report: &mut VerifyReport) -> Result<Contents> {
    let file = File::open(bundle).io_context("open", bundle)?;
    let mut contents = Contents::default();
    let mut reached = Reached::default();
    if let Err(error) = read_entries(file, &mut contents, &mut reached, report) {
        if error.raw_os_error().is_some() {
            return Err(error).io_context("read", bundle);
        }
        let place = match reached.count {
            0 => "before its first entry".to_string(),
            count => format!("the last entry reached is `{}` (entry {count})", reached.last),
        };
        report.problems.push(format!(
            "{bundle} is damaged: its gzip tar stream breaks off ({error}); {place}; \
             build it again, or copy it again if it came over a network"
        ));
        contents.damaged = true;
    }
    Ok(contents)
}

/// How far [`read_entries`] got: the entries started, and the path of the last one.
#[derive(Default)]
struct Reached {
    count: usize,
    last: String,
}

/// The streaming pass of [`read_bundle`].
fn read_entries(
    file: File,
    contents: &mut Contents,
    reached: &mut Reached,
    report: &mut VerifyReport,
) -> std::io::Result<()> {
    let decoder = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, file));
    let mut archive = tar::Archive::new(decoder);
    let blob_prefix = "images/docker/registry/v2/blobs/sha256/";
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        reached.count += 1;
        reached.last.clone_from(&path);
        if contents.leading.len() < 2 {
            contents.leading.push((path.clone(), entry.header().entry_type().is_file()));
        }
        if !entry.header().entry_type().is_file() {
            continue;
        }
        if path == "airgap.yaml" {
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            match serde_saphyr::from_str::<Value>(&text) {
                Ok(value) => contents.airgap = Some(value),
                Err(error) => report.problems.push(format!("airgap.yaml is not valid YAML: {error}")),
            }
        } else if path == "app.tar.gz" {
            entry.read_to_end(&mut contents.app_tar_gz)?;
        } else if let Some(rest) = path.strip_prefix(blob_prefix) {
            let name_hex = rest.split('/').nth(1).unwrap_or_default().to_string();
            let size = entry.header().size().unwrap_or(0);
            // Small JSON blobs (manifests, indexes, configs) are kept for parsing; layers
            // (gzip, never starting with `{`) and anything big are only hashed.
            let mut writer = HashingWriter::new(KeepJson::new(size));
            std::io::copy(&mut entry, &mut writer)?;
            let (digest, keep, _) = writer.finish();
            check_blob(&name_hex, &digest, report);
            contents.blobs.insert(name_hex.clone());
            if let Some(kept) = keep.into_kept() {
                contents.kept.insert(name_hex, kept);
            }
        } else if let Some(rest) = path.strip_prefix("images/") {
            if rest.ends_with("/link") {
                let mut text = String::new();
                entry.read_to_string(&mut text)?;
                contents.links.insert(rest.to_string(), text.trim().to_string());
            }
        }
    }
    // tar stops at its end-of-archive blocks; reading on to the end of the file makes the
    // decoder check every gzip member's CRC and length, so that damage anywhere is found.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink())?;
    Ok(())
}

/// A sink that keeps what is written only when it is a small JSON document: at most
/// [`KEEP_LIMIT`] bytes, starting with `{` (after whitespace).
struct KeepJson {
    kept: Option<Vec<u8>>,
}

impl KeepJson {
    fn new(size: u64) -> KeepJson {
        KeepJson { kept: (size <= KEEP_LIMIT).then(Vec::new) }
    }

    fn into_kept(self) -> Option<Vec<u8>> {
        self.kept.filter(|bytes| bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'))
    }
}

impl std::io::Write for KeepJson {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(kept) = &mut self.kept {
            if (kept.is_empty() && buf.first().is_some_and(|b| *b != b'{' && !b.is_ascii_whitespace()))
                || kept.len() as u64 + buf.len() as u64 > KEEP_LIMIT
            {
                self.kept = None;
            } else {
                kept.extend_from_slice(buf);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn check_blob(name_hex: &str, actual: &Sha256Digest, report: &mut VerifyReport) {
    report.blobs_checked += 1;
    if actual.hex() != name_hex {
        report
            .problems
            .push(format!("blob sha256:{name_hex} is corrupt: its content hashes to {}", actual.oci()));
    }
}

/// What the blobs of the image whose top manifest is `digest` weigh, from the manifests the
/// bundle holds (an index: the platform manifests it kept).
fn saved_size(contents: &Contents, digest: &str) -> Option<u64> {
    fn with_kind(bytes: &Vec<u8>) -> Option<(ManifestKind, &[u8])> {
        Some((media::detect_kind(bytes)?, bytes.as_slice()))
    }
    let (kind, bytes) = with_kind(contents.kept.get(digest.trim_start_matches("sha256:"))?)?;
    if !kind.is_index() {
        return crate::oci::airgap::pull::blobs_size([(kind, bytes)]);
    }
    let index = media::parse_index(kind, bytes).ok()?;
    let children = index.manifests.iter().filter_map(|child| contents.kept.get(&child.digest.hex()));
    crate::oci::airgap::pull::blobs_size(children.map(with_kind).collect::<Option<Vec<_>>>()?)
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
        .map(|r| r.repository() + &crate::plan::image_routing::tag_and_digest(&r))
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
            let key = reference.repository() + &crate::plan::image_routing::tag_and_digest(&reference);
            let by_digest = reference.digest().is_some_and(|d| saved.iter().any(|s| s.ends_with(d)));
            if !saved.contains(&key) && !by_digest {
                problems.push(format!("{name} names `{image}`, which is not in savedImages"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use camino::Utf8PathBuf;

    use super::*;
    use crate::{
        oci::airgap::{bundle, PulledImage},
        oci::store::BlobStore,
    };

    /// A store with one image (config + a gzip-looking layer) and a bundle of it.
    fn bundle_of(dir: &Utf8Path, layer: &[u8]) -> (Utf8PathBuf, Sha256Digest) {
        let store = BlobStore::open(&dir.join("store")).unwrap();
        let config_bytes = br#"{"architecture":"amd64","os":"linux"}"#;
        let config = store.insert_bytes(config_bytes).unwrap();
        let layer_digest = store.insert_bytes(layer).unwrap();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": {"mediaType": media::OCI_CONFIG, "digest": config.oci(), "size": config_bytes.len()},
            "layers": [{"mediaType": media::OCI_LAYER_GZIP, "digest": layer_digest.oci(), "size": layer.len()}],
        });
        let manifest = store.insert_bytes(&serde_json::to_vec(&manifest).unwrap()).unwrap();
        let image = PulledImage {
            reference: ImageRef::parse("registry.example.com/acme/web:1").unwrap(),
            resolved: manifest,
            top: manifest,
            top_media_type: media::OCI_MANIFEST.to_string(),
            manifests: vec![manifest],
            blobs: vec![config, layer_digest],
        };
        let meta = bundle::tests::meta();
        let app = bundle::app_tar_gz(&[], 0).unwrap();
        let out = dir.join("app.airgap");
        let contents = bundle::BundleContents {
            meta: &meta,
            images: &[image],
            app_tar_gz: &app,
            proof_files: &[],
            mtime: 0,
        };
        let pending = crate::oci::airgap::pull::PendingBlobs::none();
        bundle::write_bundle(&out, &store, &contents, None, &pending, &crate::progress::Silent).unwrap();
        (out, layer_digest)
    }

    #[test]
    fn a_written_bundle_verifies_and_only_json_blobs_are_kept() {
        let temp = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(temp.path()).unwrap();
        let mut layer = vec![0x1f, 0x8b];
        layer.extend((0..100_000u32).map(|i| (i % 251) as u8));
        let (bundle, layer_digest) = bundle_of(dir, &layer);
        let report = verify_bundle(&bundle, None).unwrap();
        assert!(report.passed(), "{:?}", report.problems);
        assert_eq!(report.blobs_checked, 3);
        assert_eq!(report.saved_images, vec!["registry.example.com/acme/web:1".to_string()]);
        let mut report = VerifyReport::default();
        let contents = read_bundle(&bundle, &mut report).unwrap();
        assert_eq!(contents.kept.len(), 2, "manifest and config kept, the layer only hashed");
        assert!(!contents.kept.contains_key(&layer_digest.hex()));
        assert!(contents.blobs.contains(&layer_digest.hex()));
    }

    #[test]
    fn compressed_layers_are_stored_and_the_rest_deflated() {
        let temp = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(temp.path()).unwrap();
        // Incompressible bytes behind a gzip header: stored, so the bundle outgrows the layer.
        let mut noise = vec![0x1f, 0x8b];
        let mut state = 0x2545_f491_u32;
        noise.extend((0..400_000).map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        }));
        let (stored, _) = bundle_of(&subdir(dir, "stored"), &noise);
        let stored_size = std::fs::metadata(&stored).unwrap().len();
        assert!(stored_size > noise.len() as u64, "{stored_size}");
        assert!(verify_bundle(&stored, None).unwrap().passed());
        // A layer of zeros without a gzip header (an uncompressed layer): deflated.
        let zeros = vec![0u8; 400_000];
        let (deflated, _) = bundle_of(&subdir(dir, "deflated"), &zeros);
        assert!(std::fs::metadata(&deflated).unwrap().len() < 20_000);
        assert!(verify_bundle(&deflated, None).unwrap().passed());
    }

    fn subdir(dir: &Utf8Path, name: &str) -> Utf8PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    /// A gzip tar of `entries` (a path ending in `/` is a directory).
    fn tar_gz(path: &Utf8Path, entries: &[(&str, &[u8])]) {
        let file = File::create(path).unwrap();
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast()));
        for (name, bytes) in entries {
            let mut header = if name.ends_with('/') {
                crate::util::reproducible::dir_header(0)
            } else {
                crate::util::reproducible::file_header(bytes.len() as u64, 0, false)
            };
            builder.append_data(&mut header, name, *bytes).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn a_bundle_kots_could_not_read_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(temp.path()).unwrap();
        let airgap = br#"{"apiVersion":"kots.io/v1beta1","kind":"Airgap","spec":{"appSlug":"app","format":"docker","savedImages":[]}}"#;
        let only_yaml = dir.join("only-yaml.airgap");
        tar_gz(&only_yaml, &[("airgap.yaml", airgap)]);
        let problems = verify_bundle(&only_yaml, None).unwrap().problems.join("\n");
        for expected in ["must start with the regular files", "no app.tar.gz", "no savedImages"] {
            assert!(problems.contains(expected), "{expected}: {problems}");
        }
        let directory_first = dir.join("directory-first.airgap");
        tar_gz(&directory_first, &[("images/", b""), ("airgap.yaml", airgap), ("app.tar.gz", b"x")]);
        let problems = verify_bundle(&directory_first, None).unwrap().problems.join("\n");
        assert!(problems.contains("must start with the regular files"), "{problems}");
        let wrong_kind = dir.join("wrong-kind.airgap");
        tar_gz(&wrong_kind, &[("airgap.yaml", br#"{"kind":"Other","spec":{}}"#), ("app.tar.gz", b"x")]);
        let problems = verify_bundle(&wrong_kind, None).unwrap().problems.join("\n");
        for expected in
            ["/kind is `Other`", "/apiVersion is missing", "/spec/format is missing", "no spec.appSlug"]
        {
            assert!(problems.contains(expected), "{expected}: {problems}");
        }
    }

    #[test]
    fn keep_json_drops_non_json_and_oversized_content() {
        let mut json = KeepJson::new(20);
        json.write_all(b"  {\"a\":").unwrap();
        json.write_all(b"1}").unwrap();
        assert_eq!(json.into_kept().as_deref(), Some(&b"  {\"a\":1}"[..]));
        let mut gzip = KeepJson::new(3);
        gzip.write_all(&[0x1f, 0x8b, 8]).unwrap();
        assert_eq!(gzip.into_kept(), None);
        let mut big = KeepJson::new(KEEP_LIMIT + 1);
        big.write_all(b"{}").unwrap();
        assert_eq!(big.into_kept(), None);
        let mut lying = KeepJson::new(2);
        lying.write_all(b"{").unwrap();
        lying.write_all(&vec![b' '; KEEP_LIMIT as usize]).unwrap();
        assert_eq!(lying.into_kept(), None, "a header that understates the size is not trusted");
    }
}
