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

/// The variable that sets the timestamp (the reproducible-builds.org convention).
pub const SOURCE_DATE_EPOCH_ENV: &str = "SOURCE_DATE_EPOCH";

/// The timestamp for archive entries and image configs: `SOURCE_DATE_EPOCH` (seconds since
/// 1970), or [`DEFAULT_EPOCH`] when it is unset or empty. Any other value is an error rather
/// than silently another timestamp.
pub fn source_date_epoch() -> crate::Result<u64> {
    let value = std::env::var_os(SOURCE_DATE_EPOCH_ENV).map(|value| value.to_string_lossy().into_owned());
    parse_epoch(value.as_deref())
}

fn parse_epoch(value: Option<&str>) -> crate::Result<u64> {
    match value.map(str::trim) {
        None | Some("") => Ok(DEFAULT_EPOCH),
        Some(text) => text.parse().map_err(|_| crate::Error::Environment {
            var: SOURCE_DATE_EPOCH_ENV,
            value: value.unwrap_or_default().to_string(),
            expected: "a whole number of seconds since 1970-01-01 UTC",
            help: format!(
                "set it to e.g. `$(git log -1 --format=%ct)` (the last commit's time), or unset it for the default \
                 {DEFAULT_EPOCH} (2000-01-01)"
            ),
        }),
    }
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

/// Appends a regular file of `size` bytes whose data `write_data` writes straight into the
/// archive, in pieces as large as it likes, then the padding to a whole tar block: the bytes
/// `append_data` writes from a reader, without `io::copy`'s 8 KiB buffer between a large file
/// and the archive. The header (and a long-name entry before it) is `append_data`'s own.
pub fn append_file_with<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    mtime: u64,
    write_data: impl FnOnce(&mut W) -> io::Result<()>,
) -> io::Result<()> {
    let mut header = file_header(size, mtime, false);
    builder.append_data(&mut header, path, io::empty())?;
    let archive = builder.get_mut();
    write_data(archive)?;
    let padding = (TAR_BLOCK - (size % TAR_BLOCK as u64) as usize) % TAR_BLOCK;
    archive.write_all(&[0; TAR_BLOCK][..padding])
}

/// A tar entry's data is padded to a whole number of these.
const TAR_BLOCK: usize = 512;

/// A gzip member of stored deflate blocks (RFC 1951 §3.2.4 inside RFC 1952), for data that is
/// already compressed: the bytes go through as they are, framed every 65,535 bytes.
///
/// flate2 writes the same format at level 0, but through its compressor at about 270 MB/s
/// (`cargo xtask bench`); framing by hand runs at memory speed, and the bundle is mostly
/// compressed layers. The header is [`gzip_writer`]'s (no name, mtime 0, OS unknown).
pub struct StoredGzip<W: Write> {
    out: W,
    crc: crc32fast::Hasher,
    size: u64,
    pending: Vec<u8>,
}

/// The largest stored block.
const STORED_BLOCK: usize = 65_535;

impl<W: Write> StoredGzip<W> {
    /// Writes the gzip header and returns the writer.
    pub fn new(mut out: W) -> io::Result<StoredGzip<W>> {
        out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])?;
        Ok(StoredGzip {
            out,
            crc: crc32fast::Hasher::new(),
            size: 0,
            pending: Vec::with_capacity(STORED_BLOCK),
        })
    }

    fn block(out: &mut W, data: &[u8], last: bool) -> io::Result<()> {
        let len = data.len() as u16;
        let mut header = [u8::from(last), 0, 0, 0, 0];
        header[1..3].copy_from_slice(&len.to_le_bytes());
        header[3..5].copy_from_slice(&(!len).to_le_bytes());
        out.write_all(&header)?;
        out.write_all(data)
    }

    /// Writes the last block and the trailer (CRC-32, size mod 2^32); returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        StoredGzip::block(&mut self.out, &self.pending, true)?;
        self.out.write_all(&self.crc.clone().finalize().to_le_bytes())?;
        self.out.write_all(&(self.size as u32).to_le_bytes())?;
        Ok(self.out)
    }
}

impl<W: Write> Write for StoredGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.crc.update(buf);
        self.size += buf.len() as u64;
        let mut rest = buf;
        while !rest.is_empty() {
            // A block is written only once more data follows, so the last one can carry BFINAL.
            if self.pending.len() == STORED_BLOCK {
                StoredGzip::block(&mut self.out, &self.pending, false)?;
                self.pending.clear();
            }
            // Whole blocks with more data behind them go straight out, not through `pending`:
            // the same bytes, one copy fewer.
            if self.pending.is_empty() && rest.len() > STORED_BLOCK {
                StoredGzip::block(&mut self.out, &rest[..STORED_BLOCK], false)?;
                rest = &rest[STORED_BLOCK..];
                continue;
            }
            let take = rest.len().min(STORED_BLOCK - self.pending.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// Issue 18, item 11: `SOURCE_DATE_EPOCH=yesterday` is an error, not the default.
    #[test]
    fn issue_18_11_source_date_epoch_must_be_a_number() {
        assert_eq!(parse_epoch(None).unwrap(), DEFAULT_EPOCH);
        assert_eq!(parse_epoch(Some("")).unwrap(), DEFAULT_EPOCH);
        assert_eq!(parse_epoch(Some(" 1700000000\n")).unwrap(), 1_700_000_000);
        for bad in ["yesterday", "-1", "1.5", "2024-01-01"] {
            let error = parse_epoch(Some(bad)).unwrap_err();
            assert!(
                matches!(&error, crate::Error::Environment { var: "SOURCE_DATE_EPOCH", value, .. } if value == bad),
                "{error:?}"
            );
            assert_eq!(
                error.to_string(),
                format!("SOURCE_DATE_EPOCH={bad:?} is not a whole number of seconds since 1970-01-01 UTC")
            );
        }
    }

    #[test]
    fn a_file_written_in_pieces_is_the_entry_append_data_writes() {
        let long = format!("images/docker/registry/v2/blobs/sha256/ab/{}/data", "ab".repeat(32));
        for size in [0usize, 1, 511, 512, 513, 70_000] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            for path in ["short", long.as_str()] {
                let mut plain = tar::Builder::new(Vec::new());
                append_file(&mut plain, path, &data, 7).unwrap();
                let mut pieces = tar::Builder::new(Vec::new());
                append_file_with(&mut pieces, path, size as u64, 7, |archive| {
                    data.chunks(1000).try_for_each(|piece| archive.write_all(piece))
                })
                .unwrap();
                assert!(
                    pieces.into_inner().unwrap() == plain.into_inner().unwrap(),
                    "{size} bytes at {path}"
                );
            }
        }
    }

    #[test]
    fn stored_gzip_frames_the_same_bytes_however_they_are_written() {
        let data: Vec<u8> = (0..400_000u32).map(|i| (i * 13 % 256) as u8).collect();
        let framed = |chunk: usize| {
            let mut writer = StoredGzip::new(Vec::new()).unwrap();
            for piece in data.chunks(chunk) {
                writer.write_all(piece).unwrap();
            }
            writer.finish().unwrap()
        };
        let whole = framed(data.len());
        for chunk in [1, 1000, 65_535, 65_536, 131_070, 300_000] {
            assert!(framed(chunk) == whole, "written {chunk} bytes at a time");
        }
    }

    #[test]
    fn stored_gzip_reads_back_with_flate2_and_gzip() {
        for size in [0usize, 1, 65_535, 65_536, 200_000] {
            let data: Vec<u8> = (0..size).map(|i| (i * 7 % 256) as u8).collect();
            let mut writer = StoredGzip::new(Vec::new()).unwrap();
            for chunk in data.chunks(10_000) {
                writer.write_all(chunk).unwrap();
            }
            let member = writer.finish().unwrap();
            // Another member after it: read as one stream.
            let mut both = member.clone();
            let mut second = gzip_writer(Vec::new(), 6);
            second.write_all(b"tail").unwrap();
            both.extend(second.finish().unwrap());
            let mut read = Vec::new();
            flate2::read::MultiGzDecoder::new(both.as_slice()).read_to_end(&mut read).unwrap();
            assert_eq!(read.len(), size + 4, "size {size}");
            assert_eq!(&read[..size], data.as_slice());
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("member.gz");
            std::fs::write(&path, &both).unwrap();
            if let Ok(status) = std::process::Command::new("gzip").arg("-t").arg(&path).status() {
                assert!(status.success(), "gzip -t refuses a stored member of {size} bytes");
            }
        }
    }
}
