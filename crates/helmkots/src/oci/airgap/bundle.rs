//! Writes `<slug>-<version>.airgap`: a gzip tar whose first entries are `airgap.yaml` and
//! `app.tar.gz` (regular files before any directory: KOTS stops reading at the first
//! directory when it skips images), then `images/` as a registry storage root.
//!
//! Streamed from the store, so memory stays flat whatever the image sizes; byte-reproducible
//! (sorted entries, one timestamp, uid/gid 0). The gzip stream is several members back to
//! back, which every gzip reader reads as one stream: the head (`airgap.yaml`, `app.tar.gz`),
//! then the images, where layers that are already compressed are stored ([`STORED_LEVEL`])
//! and everything else deflated at [`BUNDLE_LEVEL`] (see `cargo xtask bench`). The images
//! part, members and all, can be copied from an earlier bundle ([`ReusableImages`]).

use std::{
    fs::File,
    io::{self, Write},
};

use camino::Utf8Path;
use serde::Serialize;

use crate::{
    error::{Error, IoContext, Result},
    oci::airgap::{layout, pull::PendingBlobs, PulledImage},
    oci::store::{self, BlobStore},
    output::fingerprint::{FileStamp, Key, KeyBuilder},
    progress::{Event, Progress},
    util::file_range,
    util::hashed_file::{self, HashedFile},
    util::reproducible,
    util::timings::{self, Stage},
};

/// gzip level of what the bundle can still compress: `airgap.yaml`, `app.tar.gz`, manifests,
/// configs, links, tar headers, and any layer a registry serves uncompressed.
pub const BUNDLE_LEVEL: u32 = 1;

/// gzip level of layers that are already compressed (gzip, zstd): stored, not deflated again,
/// framed by [`reproducible::StoredGzip`]. Deflating them cost about half of a cold release
/// and gained nothing (`cargo xtask bench` measures every level on the bundle's tar).
pub const STORED_LEVEL: u32 = 0;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleInfo {
    /// Bytes of the files under `images/`, as `airgap.yaml` reports.
    pub uncompressed_size: u64,
    /// sha256 of the bundle file.
    pub sha256: crate::util::digest::Sha256Digest,
    /// Size of the bundle file.
    pub size: u64,
    /// Where its images member lies in it.
    pub images_member: MemberSpan,
    /// Whether the images member was copied from an earlier bundle rather than compressed.
    pub reused_images: bool,
}

/// A byte range of a bundle file that is one whole gzip member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MemberSpan {
    /// Its first byte.
    pub offset: u64,
    /// Its length.
    pub length: u64,
}

/// An images member already written in an earlier bundle, to be copied instead of compressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ReusableImages {
    /// The earlier bundle, as it was when written.
    pub bundle: FileStamp,
    /// Where the member lies in it.
    pub span: MemberSpan,
}

/// What a bundle holds.
#[derive(Debug, Clone, Copy)]
pub struct BundleContents<'a> {
    /// What `airgap.yaml` says besides the images.
    pub meta: &'a AirgapMeta,
    /// The images, pulled into the store.
    pub images: &'a [PulledImage],
    /// The release files.
    pub app_tar_gz: &'a [u8],
    /// Files after `app.tar.gz` that KOTS does not read: what `verify --proof` of the bundle
    /// needs ([`PROOF_RECORD_ENTRY`], [`PROOF_CHART_ENTRY`]).
    pub proof_files: &'a [(&'a str, &'a [u8])],
    /// The timestamp of every entry.
    pub mtime: u64,
}

/// The bundle's copy of the tree's `helmkots-proof.json`.
pub const PROOF_RECORD_ENTRY: &str = "helmkots-proof.json";
/// The bundle's copy of the packaged chart (the one the helm-cli image carries).
pub const PROOF_CHART_ENTRY: &str = "helmkots-chart.tgz";

/// The key of a bundle's images member: the storage root's files (each path and the digest
/// of its content, which fixes its bytes), the timestamp and the compression.
pub fn images_key(images: &[PulledImage], mtime: u64) -> Key {
    let mut key = KeyBuilder::new("airgap-images");
    // The program too: another build of helmkots may frame the same files differently.
    key.program()
        .field("mtime", mtime.to_string().as_bytes())
        .field("level", BUNDLE_LEVEL.to_string().as_bytes())
        .field("members", b"a member per run of entries at one level: compressed layers stored");
    for (path, content) in layout::files(images) {
        let value = match content {
            layout::Content::Blob(digest) => format!("blob {digest}"),
            layout::Content::Link(digest) => format!("link {digest}"),
        };
        key.field(&path, value.as_bytes());
    }
    key.finish()
}

/// Writes the bundle to `out` (a new file) as gzip members one after the other, which a
/// gzip reader (Go's `compress/gzip`, which KOTS uses, GNU tar, flate2's `MultiGzDecoder`)
/// reads as one stream: the head (`airgap.yaml`, `app.tar.gz`) and the images (`images/`
/// and the end of the tar). A release whose manifests changed but whose images did not
/// copies the images member from `reuse` instead of compressing every layer again.
///
/// Blobs a pull is still fetching (`pending`) are written as they arrive: the entries are in
/// digest order, the order the pull fetches them in, so writing overlaps fetching, and the
/// bytes are the same whatever order the blobs arrive in.
pub fn write_bundle(
    out: &Utf8Path,
    store: &BlobStore,
    contents: &BundleContents<'_>,
    reuse: Option<&ReusableImages>,
    pending: &PendingBlobs,
    progress: &dyn Progress,
) -> Result<BundleInfo> {
    let _span = timings::span(Stage::BundleWrite);
    let BundleContents { meta, images, app_tar_gz, proof_files, mtime } = *contents;
    let files = layout::files(images);
    let mut uncompressed_size = 0;
    for content in files.values() {
        uncompressed_size += match content {
            layout::Content::Blob(digest) => match pending.size(digest) {
                Some(size) => size,
                None => {
                    let blob = store.path(digest);
                    std::fs::metadata(&blob).io_context("read", &blob)?.len()
                }
            },
            layout::Content::Link(digest) => digest.oci().len() as u64,
        };
    }
    let file = File::create(out).io_context("create", out)?;
    let mut hashing = HashedFile::new(file, Stage::BundleHash).io_context("write", out)?;
    let airgap = airgap_yaml(meta, images, uncompressed_size);
    let head = head_tar(&airgap, app_tar_gz, proof_files, mtime).io_context("write", out)?;
    let mut encoder = reproducible::gzip_writer(&mut hashing, BUNDLE_LEVEL);
    encoder.write_all(&head).io_context("write", out)?;
    encoder.finish().io_context("write", out)?;
    let offset = hashing.written();
    let reused = match reuse.filter(|r| r.bundle.is_current()) {
        Some(reuse) => {
            let copied = copy_member(reuse, &mut hashing);
            if copied.is_ok() {
                let length = reuse.span.length;
                progress.event(&Event::BundleBytes { written: length, total: length });
            }
            copied.is_ok()
        }
        None => false,
    };
    if !reused {
        let reporting = Reporting::new(&mut hashing, uncompressed_size, progress);
        write_images_member(reporting, store, pending, &files, mtime, out)?;
    }
    let length = hashing.written() - offset;
    let (sha256, file, size) = hashing.finish().io_context("write", out)?;
    file.sync_all().io_context("sync", out)?;
    Ok(BundleInfo {
        uncompressed_size,
        sha256,
        size,
        images_member: MemberSpan { offset, length },
        reused_images: reused,
    })
}

/// The tar entries of `airgap.yaml`, `app.tar.gz` and the proof's files, without the
/// end-of-archive marker (the images member that follows carries it). All regular files,
/// before any directory.
fn head_tar(
    airgap: &str,
    app_tar_gz: &[u8],
    proof_files: &[(&str, &[u8])],
    mtime: u64,
) -> io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    reproducible::append_file(&mut builder, "airgap.yaml", airgap.as_bytes(), mtime)?;
    reproducible::append_file(&mut builder, "app.tar.gz", app_tar_gz, mtime)?;
    for (name, bytes) in proof_files {
        reproducible::append_file(&mut builder, name, bytes, mtime)?;
    }
    let mut bytes = builder.into_inner()?;
    // tar::Builder ends every archive with two zero blocks; drop them.
    let end = bytes.len().checked_sub(END_OF_ARCHIVE).filter(|&end| bytes[end..].iter().all(|&b| b == 0));
    let end = end.ok_or_else(|| io::Error::other("tar archive without its end marker"))?;
    bytes.truncate(end);
    Ok(bytes)
}

/// Two zero blocks end a tar archive.
const END_OF_ARCHIVE: usize = 1024;

/// Copies an earlier bundle's images member, exactly its span.
fn copy_member(reuse: &ReusableImages, out: &mut HashedFile) -> io::Result<()> {
    let file = File::open(&reuse.bundle.path)?;
    // The member ends the bundle: sync it while the hash finishes. The earlier bundle is
    // replaced once this one is in place, so its cached pages can go as they are copied.
    let how = hashed_file::Append { sync: true, forget_source: true };
    out.append_file_range(&file, reuse.span.offset, reuse.span.length, how)
}

/// The `images/` storage root as gzip members, streamed from the store: a new member whenever
/// the level changes, so already-compressed layers are stored and everything else deflated.
fn write_images_member(
    out: Reporting<'_, impl Write>,
    store: &BlobStore,
    pending: &PendingBlobs,
    files: &std::collections::BTreeMap<String, layout::Content>,
    mtime: u64,
    path_for_errors: &Utf8Path,
) -> Result<()> {
    let out_path = path_for_errors;
    // Progress counts the tar bytes going in (what `uncompressedSize` counts), not the
    // compressed bytes coming out.
    let members = out.try_map(|inner| Members::new(inner, BUNDLE_LEVEL)).io_context("write", out_path)?;
    let mut builder = tar::Builder::new(members);
    // Directories and files in one sorted walk, so each directory precedes its contents.
    let mut entries: Vec<(String, Option<&layout::Content>)> = std::iter::once(("images".to_string(), None))
        .chain(layout::directories(files.keys()).into_iter().map(|dir| (format!("images/{dir}"), None)))
        .chain(files.iter().map(|(path, content)| (format!("images/{path}"), Some(content))))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, content) in entries {
        let blob = match content {
            Some(layout::Content::Blob(digest)) => {
                if !timings::timed(Stage::BundleWait, || pending.wait_for(digest)) {
                    // The pull failed: its error is the one the caller reports.
                    return Err(Error::bug(format!("the pull stopped before {digest} was stored")));
                }
                Some((store::open_blob(store, digest)?, store.path(digest)))
            }
            _ => None,
        };
        let level = match &blob {
            Some((file, path)) => blob_level(file).io_context("read", path)?,
            None => BUNDLE_LEVEL,
        };
        builder.get_mut().inner.switch_to(level).io_context("write", out_path)?;
        match content {
            None => {
                let mut header = reproducible::dir_header(mtime);
                builder
                    .append_data(&mut header, format!("{path}/"), io::empty())
                    .io_context("write", out_path)?;
            }
            Some(layout::Content::Link(digest)) => {
                reproducible::append_file(&mut builder, &path, digest.oci().as_bytes(), mtime)
                    .io_context("write", out_path)?;
            }
            Some(layout::Content::Blob(_)) => {
                let (file, blob_path) = blob.ok_or_else(|| Error::bug("a blob entry without its file"))?;
                let size = file.metadata().io_context("read", &blob_path)?.len();
                // A MiB at a time into the gzip framing. An error is the bundle's unless it
                // came from reading the blob.
                let mut blob_unreadable = false;
                reproducible::append_file_with(&mut builder, &path, size, mtime, |archive| {
                    let mut archive_failed = false;
                    let copied = file_range::for_each_piece(&file, 0, size, |piece| {
                        archive.write_all(piece).inspect_err(|_| archive_failed = true)
                    });
                    blob_unreadable = copied.is_err() && !archive_failed;
                    copied
                })
                .map_err(|source| {
                    let (action, path) = if blob_unreadable {
                        ("read", blob_path.clone())
                    } else {
                        ("write", out_path.to_path_buf())
                    };
                    Error::Io { action, path, source }
                })?;
            }
        }
    }
    builder.into_inner().io_context("write", out_path)?.inner.finish().io_context("write", out_path)?;
    Ok(())
}

/// [`STORED_LEVEL`] for a blob whose first bytes are a gzip or zstd header, else
/// [`BUNDLE_LEVEL`].
fn blob_level(blob: &File) -> io::Result<u32> {
    const GZIP: &[u8] = &[0x1f, 0x8b];
    const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
    let mut magic = [0; 4];
    let read = std::os::unix::fs::FileExt::read_at(blob, &mut magic, 0)?;
    let magic = &magic[..read];
    Ok(if magic.starts_with(GZIP) || magic.starts_with(ZSTD) { STORED_LEVEL } else { BUNDLE_LEVEL })
}

/// The writer under the images tar: gzip members one after another, a new one whenever the
/// level changes. Gzip readers read them as one stream.
struct Members<W: Write> {
    member: Option<Member<W>>,
    level: u32,
}

/// One gzip member being written.
enum Member<W: Write> {
    /// Stored blocks, framed by hand ([`STORED_LEVEL`]).
    Stored(reproducible::StoredGzip<W>),
    /// Deflated by flate2.
    Deflated(flate2::write::GzEncoder<W>),
}

impl<W: Write> Member<W> {
    fn start(out: W, level: u32) -> io::Result<Member<W>> {
        Ok(if level == STORED_LEVEL {
            Member::Stored(reproducible::StoredGzip::new(out)?)
        } else {
            Member::Deflated(reproducible::gzip_writer(out, level))
        })
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Member::Stored(member) => member.finish(),
            Member::Deflated(member) => member.finish(),
        }
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Member::Stored(member) => member,
            Member::Deflated(member) => member,
        }
    }
}

impl<W: Write> Members<W> {
    fn new(out: W, level: u32) -> io::Result<Members<W>> {
        Ok(Members { member: Some(Member::start(out, level)?), level })
    }

    /// Ends the current member and starts one at `level`, unless it is at that level already.
    fn switch_to(&mut self, level: u32) -> io::Result<()> {
        if level != self.level {
            let out = self.take()?.finish()?;
            self.member = Some(Member::start(out, level)?);
            self.level = level;
        }
        Ok(())
    }

    /// Ends the last member.
    fn finish(mut self) -> io::Result<W> {
        self.take()?.finish()
    }

    fn take(&mut self) -> io::Result<Member<W>> {
        self.member.take().ok_or_else(|| io::Error::other("gzip member already finished"))
    }
}

impl<W: Write> Write for Members<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.member {
            Some(member) => member.writer().write(buf),
            None => Err(io::Error::other("gzip member already finished")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.member {
            Some(member) => member.writer().flush(),
            None => Ok(()),
        }
    }
}

/// A writer that reports [`Event::BundleBytes`] every few MiB written through it.
struct Reporting<'p, W> {
    inner: W,
    written: u64,
    reported: u64,
    total: u64,
    progress: &'p dyn Progress,
}

/// How often [`Reporting`] reports.
const REPORT_EVERY: u64 = 4 << 20;

impl<'p, W: Write> Reporting<'p, W> {
    fn new(inner: W, total: u64, progress: &'p dyn Progress) -> Reporting<'p, W> {
        Reporting { inner, written: 0, reported: 0, total, progress }
    }

    /// The same counting around another writer (one that wraps this one's).
    fn try_map<V: Write>(self, wrap: impl FnOnce(W) -> io::Result<V>) -> io::Result<Reporting<'p, V>> {
        Ok(Reporting {
            inner: wrap(self.inner)?,
            written: self.written,
            reported: self.reported,
            total: self.total,
            progress: self.progress,
        })
    }
}

impl<W: Write> Write for Reporting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        if self.written - self.reported >= REPORT_EVERY || self.written == self.total {
            self.reported = self.written;
            self.progress.event(&Event::BundleBytes { written: self.written, total: self.total });
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use camino::Utf8PathBuf;

    use super::*;
    use crate::{input::image_ref::ImageRef, oci::registry::media, util::digest::Sha256Digest};

    /// What the tests' `airgap.yaml` says besides the images.
    pub(crate) fn meta() -> AirgapMeta {
        AirgapMeta {
            app_slug: "app".into(),
            channel_id: "c".into(),
            channel_name: "Stable".into(),
            version_label: "1.0.0".into(),
            release_notes: String::new(),
            update_cursor: "1".into(),
        }
    }

    /// Layers of several sizes (some gzip-looking, so stored; some not, so deflated) and the
    /// config: the blobs a pull fetches.
    fn blobs() -> Vec<Vec<u8>> {
        let mut state = 0x9e37_79b9_u32;
        let mut noise = |len: usize, gzip: bool| {
            let mut bytes = if gzip { vec![0x1f, 0x8b] } else { Vec::new() };
            bytes.extend((0..len).map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            }));
            bytes
        };
        let mut blobs: Vec<Vec<u8>> =
            [(300_000, true), (70_000, false), (5, true), (140_000, true), (1, false)]
                .into_iter()
                .map(|(len, gzip)| noise(len, gzip))
                .collect();
        blobs.push(br#"{"architecture":"amd64","os":"linux"}"#.to_vec());
        blobs
    }

    /// An image of `blobs` (the last is the config) whose manifest `store` holds, as resolving
    /// leaves it: manifests stored, blobs not yet.
    fn resolved_image(store: &BlobStore, blobs: &[Vec<u8>]) -> PulledImage {
        let (config, layers) = blobs.split_last().unwrap();
        let descriptor = |media_type: &str, bytes: &[u8]| serde_json::json!({"mediaType": media_type, "digest": Sha256Digest::of(bytes).oci(), "size": bytes.len()});
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": descriptor(media::OCI_CONFIG, config),
            "layers": layers.iter().map(|layer| descriptor(media::OCI_LAYER_GZIP, layer)).collect::<Vec<_>>(),
        });
        let manifest = store.insert_bytes(&serde_json::to_vec(&manifest).unwrap()).unwrap();
        PulledImage {
            reference: ImageRef::parse("registry.example.com/acme/web:1").unwrap(),
            resolved: manifest,
            top: manifest,
            top_media_type: media::OCI_MANIFEST.to_string(),
            manifests: vec![manifest],
            blobs: blobs.iter().map(|blob| Sha256Digest::of(blob)).collect(),
        }
    }

    /// Writes a bundle into `dir` while the blobs arrive in the store in `order` (indices into
    /// [`blobs`]); `None` stores them all first. The pull stops after `order`.
    fn bundle_with_arrivals(dir: &Utf8Path, order: Option<&[usize]>) -> Result<Vec<u8>> {
        let blobs = blobs();
        let store = BlobStore::open(&dir.join("store")).unwrap();
        let image = resolved_image(&store, &blobs);
        let meta = meta();
        let app = app_tar_gz(&[("a.yaml".to_string(), b"a: 1\n".to_vec())], 0).unwrap();
        let contents = BundleContents {
            meta: &meta,
            images: std::slice::from_ref(&image),
            app_tar_gz: &app,
            proof_files: &[],
            mtime: 0,
        };
        let out = dir.join("app.airgap");
        let pending = match order {
            None => {
                for blob in &blobs {
                    store.insert_bytes(blob).unwrap();
                }
                PendingBlobs::none()
            }
            Some(_) => PendingBlobs::of(blobs.iter().map(|blob| (Sha256Digest::of(blob), blob.len() as u64))),
        };
        let written = std::thread::scope(|scope| {
            scope.spawn(|| {
                for &index in order.unwrap_or_default() {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    let digest = store.insert_bytes(&blobs[index]).unwrap();
                    pending.stored(&digest);
                }
                pending.end();
            });
            write_bundle(&out, &store, &contents, None, &pending, &crate::progress::Silent)
        });
        written.map(|_| std::fs::read(&out).unwrap())
    }

    #[test]
    fn the_bundle_is_byte_identical_whatever_order_the_blobs_arrive_in() {
        let temp = tempfile::tempdir().unwrap();
        let dir = Utf8PathBuf::from_path_buf(temp.path().to_path_buf()).unwrap();
        let stored_first = bundle_with_arrivals(&dir.join("first"), None).unwrap();
        let orders: [&[usize]; 4] =
            [&[0, 1, 2, 3, 4, 5], &[5, 4, 3, 2, 1, 0], &[3, 0, 5, 1, 4, 2], &[2, 4, 0, 5, 3, 1]];
        for (run, order) in orders.iter().enumerate() {
            let streamed = bundle_with_arrivals(&dir.join(format!("order-{run}")), Some(order)).unwrap();
            assert!(streamed == stored_first, "arrival order {order:?} changed the bundle");
        }
    }

    #[test]
    fn a_pull_that_stops_early_fails_the_bundle_without_hanging() {
        let temp = tempfile::tempdir().unwrap();
        let dir = Utf8PathBuf::from_path_buf(temp.path().to_path_buf()).unwrap();
        let error = bundle_with_arrivals(&dir, Some(&[5, 0, 1])).unwrap_err();
        assert!(
            matches!(error, Error::Internal { ref what, .. } if what.contains("the pull stopped")),
            "{error}"
        );
    }
}
