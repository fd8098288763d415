//! Writes `<slug>-<version>.airgap`: a gzip tar whose first entries are `airgap.yaml` and
//! `app.tar.gz` (regular files before any directory: KOTS stops reading at the first
//! directory when it skips images), then `images/` as a registry storage root.
//!
//! Streamed from the store, so memory stays flat whatever the image sizes; byte-reproducible
//! (sorted entries, one timestamp, uid/gid 0). Layers are already compressed, so the outer
//! gzip runs at [`BUNDLE_LEVEL`]: higher levels spend CPU for almost nothing on such data
//! (see `cargo xtask bench`).

use std::{
    fs::File,
    io::{self, BufWriter, Write},
};

use camino::Utf8Path;
use serde::Serialize;

use crate::{
    airgap::{layout, PulledImage},
    error::{IoContext, Result},
    reproducible,
    store::{self, BlobStore},
};

/// gzip level of the bundle.
pub const BUNDLE_LEVEL: u32 = 1;

/// What `airgap.yaml` says besides the images.
#[derive(Debug, Clone)]
pub struct AirgapMeta {
    /// The app slug (must match the customer's license).
    pub app_slug: String,
    /// The channel ID (must be in the customer's license).
    pub channel_id: String,
    /// The channel name.
    pub channel_name: String,
    /// The version label.
    pub version_label: String,
    /// Release notes.
    pub release_notes: String,
    /// KOTS orders versions by this.
    pub update_cursor: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AirgapDoc<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata<'a>,
    spec: AirgapSpec<'a>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AirgapSpec<'a> {
    app_slug: &'a str,
    #[serde(rename = "channelID")]
    channel_id: &'a str,
    channel_name: &'a str,
    version_label: &'a str,
    release_notes: &'a str,
    update_cursor: &'a str,
    format: &'static str,
    saved_images: Vec<String>,
    uncompressed_size: u64,
}

/// `airgap.yaml` text.
pub fn airgap_yaml(meta: &AirgapMeta, images: &[PulledImage], uncompressed_size: u64) -> String {
    let doc = AirgapDoc {
        api_version: "kots.io/v1beta1",
        kind: "Airgap",
        metadata: Metadata { name: &meta.app_slug },
        spec: AirgapSpec {
            app_slug: &meta.app_slug,
            channel_id: &meta.channel_id,
            channel_name: &meta.channel_name,
            version_label: &meta.version_label,
            release_notes: &meta.release_notes,
            update_cursor: &meta.update_cursor,
            format: "docker",
            saved_images: saved_images(images),
            uncompressed_size,
        },
    };
    // JSON is YAML; serde_json keeps the field order of the structs above.
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// The `savedImages` list: each reference as the vendor's release names it, sorted.
pub fn saved_images(images: &[PulledImage]) -> Vec<String> {
    let mut saved: Vec<String> = images.iter().map(|image| image.reference.to_string()).collect();
    saved.sort();
    saved.dedup();
    saved
}

/// A gzip tar of the release files, flat (`kots-app.yaml`, ...).
pub fn app_tar_gz(files: &[(String, Vec<u8>)], mtime: u64) -> io::Result<Vec<u8>> {
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let encoder = reproducible::gzip_writer(Vec::new(), reproducible::TEXT_LEVEL);
    let mut builder = tar::Builder::new(encoder);
    for (name, bytes) in sorted {
        reproducible::append_file(&mut builder, name, bytes, mtime)?;
    }
    builder.into_inner()?.finish()
}

/// What [`write_bundle`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleInfo {
    /// Bytes of the files under `images/`, as `airgap.yaml` reports.
    pub uncompressed_size: u64,
    /// sha256 of the bundle file.
    pub sha256: crate::digest::Sha256Digest,
    /// Size of the bundle file.
    pub size: u64,
}

/// Writes the bundle to `out` (a new file).
pub fn write_bundle(
    out: &Utf8Path,
    store: &BlobStore,
    meta: &AirgapMeta,
    images: &[PulledImage],
    app_tar_gz: &[u8],
    mtime: u64,
) -> Result<BundleInfo> {
    let files = layout::files(images);
    let mut uncompressed_size = 0;
    for (path, content) in &files {
        uncompressed_size += match content {
            layout::Content::Blob(digest) => {
                let blob = store.path(digest);
                std::fs::metadata(&blob).io_context("read", &blob)?.len()
            }
            layout::Content::Link(digest) => digest.oci().len() as u64,
        };
        let _ = path;
    }
    let file = File::create(out).io_context("create", out)?;
    let hashing = crate::digest::HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
    let encoder = reproducible::gzip_writer(hashing, BUNDLE_LEVEL);
    let mut builder = tar::Builder::new(encoder);
    let airgap = airgap_yaml(meta, images, uncompressed_size);
    reproducible::append_file(&mut builder, "airgap.yaml", airgap.as_bytes(), mtime)
        .io_context("write", out)?;
    reproducible::append_file(&mut builder, "app.tar.gz", app_tar_gz, mtime).io_context("write", out)?;
    // Directories and files in one sorted walk, so each directory precedes its contents.
    let mut entries: Vec<(String, Option<&layout::Content>)> = std::iter::once(("images".to_string(), None))
        .chain(layout::directories(files.keys()).into_iter().map(|dir| (format!("images/{dir}"), None)))
        .chain(files.iter().map(|(path, content)| (format!("images/{path}"), Some(content))))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, content) in entries {
        match content {
            None => {
                let mut header = reproducible::dir_header(mtime);
                builder.append_data(&mut header, format!("{path}/"), io::empty()).io_context("write", out)?;
            }
            Some(layout::Content::Link(digest)) => {
                reproducible::append_file(&mut builder, &path, digest.oci().as_bytes(), mtime)
                    .io_context("write", out)?;
            }
            Some(layout::Content::Blob(digest)) => {
                let blob = store::open_blob(store, digest)?;
                let size = blob.metadata().io_context("read", store.path(digest))?.len();
                let mut header = reproducible::file_header(size, mtime, false);
                builder.append_data(&mut header, &path, blob).io_context("write", out)?;
            }
        }
    }
    let hashing = builder.into_inner().io_context("write", out)?.finish().io_context("write", out)?;
    let (sha256, mut writer, size) = hashing.finish();
    writer.flush().io_context("write", out)?;
    writer
        .into_inner()
        .map_err(|e| e.into_error())
        .io_context("write", out)?
        .sync_all()
        .io_context("sync", out)?;
    Ok(BundleInfo { uncompressed_size, sha256, size })
}
