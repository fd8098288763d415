//! Writing an OCI image layout directory: `oci-layout`, `index.json`, `blobs/sha256/<hex>`.
//!
//! Blobs are written to a temporary file inside `blobs/sha256/` while they are hashed and
//! renamed into place only once their digest (and size) checks out, so a layout never holds
//! a blob under a wrong name, and a blob already there and intact is not fetched again.
//! The tag goes into `index.json` as `org.opencontainers.image.ref.name`, as the tag alone
//! (skopeo's convention: `skopeo copy oci:DIR:TAG` finds it).
//!
//! Used for the helm-cli image (`dist/<slug>-<version>-helm-cli/`), whose base layers come
//! from the store ([`copy_blob`]): a layout is an output, never a second store.

use std::io::Write;

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::{json, Value};

use super::json::to_canonical_vec;
use crate::{
    error::{Error, IoContext, Result},
    oci::registry::{media::Descriptor, media::OCI_INDEX},
    oci::store::BlobStore,
    util::digest::Sha256Digest,
};

/// The `oci-layout` file's content.
pub const OCI_LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// The annotation that carries an image's tag in `index.json`.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// One file of a written layout, for the build record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutFile {
    /// Path relative to the layout directory, `/`-separated, e.g. `blobs/sha256/<hex>`.
    pub path: String,
    /// sha256 of the file.
    pub sha256: Sha256Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// The path of a blob inside a layout.
pub fn blob_path(dir: &Utf8Path, digest: &Sha256Digest) -> Utf8PathBuf {
    dir.join("blobs").join("sha256").join(digest.hex())
}

/// True when the blob is in the layout with the right size and content.
pub fn has_blob(dir: &Utf8Path, digest: &Sha256Digest, size: u64) -> bool {
    let path = blob_path(dir, digest);
    match std::fs::metadata(&path) {
        Ok(metadata) if metadata.len() == size => {
            std::fs::File::open(&path).and_then(Sha256Digest::of_reader).is_ok_and(|actual| actual == *digest)
        }
        _ => false,
    }
}

/// Writes a blob held in memory; returns its file record.
pub fn write_blob_bytes(dir: &Utf8Path, bytes: &[u8]) -> Result<LayoutFile> {
    let digest = Sha256Digest::of(bytes);
    let size = bytes.len() as u64;
    if !has_blob(dir, &digest, size) {
        let (mut temp, blobs) = temp_blob(dir)?;
        temp.write_all(bytes).io_context("write", &blobs)?;
        persist(temp, &blob_path(dir, &digest))?;
    }
    Ok(LayoutFile { path: relative_blob_path(&digest), sha256: digest, size })
}

/// Copies a blob from the store (where every blob is what its name says) into the layout,
/// unless it is already there.
pub(crate) fn copy_blob(store: &BlobStore, dir: &Utf8Path, blob: &Descriptor) -> Result<LayoutFile> {
    if !has_blob(dir, &blob.digest, blob.size) {
        let (mut temp, blobs) = temp_blob(dir)?;
        let mut source = crate::oci::store::open_blob(store, &blob.digest)?;
        // File to file, so the kernel copies (copy_file_range) instead of a userspace loop.
        std::io::copy(&mut source, temp.as_file_mut()).io_context("write", &blobs)?;
        persist(temp, &blob_path(dir, &blob.digest))?;
    }
    Ok(LayoutFile { path: relative_blob_path(&blob.digest), sha256: blob.digest, size: blob.size })
}

/// Writes `oci-layout` and `index.json` listing `manifests` (descriptor + tag); returns the
/// two file records.
pub fn write_index(dir: &Utf8Path, manifests: &[(Descriptor, Option<String>)]) -> Result<Vec<LayoutFile>> {
    let entries: Vec<Value> = manifests
        .iter()
        .map(|(descriptor, tag)| {
            let mut entry = json!({
                "mediaType": descriptor.media_type,
                "digest": descriptor.digest.oci(),
                "size": descriptor.size,
            });
            if let Some(tag) = tag {
                entry["annotations"] = json!({ REF_NAME_ANNOTATION: tag });
            }
            entry
        })
        .collect();
    let index = to_canonical_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": entries,
    }));
    let mut files = Vec::new();
    for (name, bytes) in [("oci-layout", OCI_LAYOUT_CONTENT), ("index.json", index.as_slice())] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).io_context("write", &path)?;
        files.push(LayoutFile {
            path: name.to_string(),
            sha256: Sha256Digest::of(bytes),
            size: bytes.len() as u64,
        });
    }
    Ok(files)
}

fn relative_blob_path(digest: &Sha256Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

/// A temporary file in `blobs/sha256/` (created when missing), deleted unless persisted.
fn temp_blob(dir: &Utf8Path) -> Result<(tempfile::NamedTempFile, Utf8PathBuf)> {
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).io_context("create", &blobs)?;
    let temp = tempfile::Builder::new().prefix(".blob-").tempfile_in(&blobs).io_context("create", &blobs)?;
    Ok((temp, blobs))
}

/// Syncs a temporary blob and renames it to `target`.
fn persist(temp: tempfile::NamedTempFile, target: &Utf8Path) -> Result<()> {
    temp.as_file().sync_all().io_context("write", target)?;
    temp.persist(target).map_err(|error| Error::Io {
        action: "rename",
        path: target.to_path_buf(),
        source: error.error,
    })?;
    Ok(())
}
