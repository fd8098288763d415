//! The rules that make our archives byte-reproducible: one timestamp, fixed owners and
//! modes, sorted entries, and one pinned gzip configuration.
//!
//! Every archive helmkots writes (chart `.tgz`, image layers, `app.tar.gz`, the bundle)
//! goes through these helpers, so the rules live in one place.

use std::io::{self, Write};

use flate2::{Compression, GzBuilder};

/// The timestamp stamped on every archive entry when `SOURCE_DATE_EPOCH` is not set:
/// 2000-01-01T00:00:00Z. Not 0, because some tools treat a zero mtime as "unknown".
pub const DEFAULT_EPOCH: u64 = 946_684_800;

/// The timestamp for archive entries and image configs: `SOURCE_DATE_EPOCH` when it is
/// a valid number (the reproducible-builds.org convention), else [`DEFAULT_EPOCH`].
pub fn source_date_epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(DEFAULT_EPOCH)
}

/// A tar header for a regular file: mode 0644 (0755 when `executable`), uid/gid 0,
/// no user or group names, the given mtime.
pub fn file_header(size: u64, mtime: u64, executable: bool) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(if executable { 0o755 } else { 0o644 });
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    // Empty names: no host user leaks into the archive.
    let _ = header.set_username("");
    let _ = header.set_groupname("");
    header
}

/// A tar header for a directory: mode 0755, uid/gid 0, the given mtime.
pub fn dir_header(mtime: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_size(0);
    header.set_mode(0o755);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    let _ = header.set_username("");
    let _ = header.set_groupname("");
    header
}

/// The gzip level used for archives of small text files (charts, manifests).
pub const TEXT_LEVEL: u32 = 9;

/// A gzip encoder with a fixed header: no file name, mtime 0, OS byte 255 ("unknown"),
/// so the bytes depend only on the content, the level and the pinned backend.
pub fn gzip_writer<W: Write>(inner: W, level: u32) -> flate2::write::GzEncoder<W> {
    GzBuilder::new().mtime(0).operating_system(255).write(inner, Compression::new(level))
}

/// Appends one regular file to a tar stream with the reproducible header.
pub fn append_file<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &str,
    contents: &[u8],
    mtime: u64,
) -> io::Result<()> {
    let mut header = file_header(contents.len() as u64, mtime, false);
    builder.append_data(&mut header, path, contents)
}
