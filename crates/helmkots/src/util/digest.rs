//! sha256 digests of files and byte streams, in the `sha256:<hex>` and bare-hex forms.

use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

use crate::util::writeback::WriteBehind;

/// A sha256 digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// The digest of a byte slice.
    pub fn of(bytes: &[u8]) -> Sha256Digest {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// The digest of everything a reader yields, streamed.
    pub fn of_reader(mut reader: impl Read) -> io::Result<Sha256Digest> {
        let mut writer = HashingWriter::new(io::sink());
        io::copy(&mut reader, &mut writer)?;
        Ok(writer.finish().0)
    }

    /// Lower-case hex, 64 characters.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The OCI form, `sha256:<hex>`.
    pub fn oci(&self) -> String {
        format!("sha256:{}", self.hex())
    }

    /// Parses the OCI form, `sha256:` and 64 lower-case hex digits (as the OCI spec writes
    /// them); anything else is `None`. The one parser of digest text.
    pub fn parse(text: &str) -> Option<Sha256Digest> {
        let hex_part = text.strip_prefix("sha256:")?;
        if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut bytes).ok()?;
        Some(Sha256Digest(bytes))
    }
}

impl std::fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.oci())
    }
}

/// A writer that hashes and counts what passes through it.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
    stage: Option<crate::util::timings::Stage>,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter { inner, hasher: Sha256::new(), written: 0, stage: None }
    }

    /// The same writer, its hashing timed as `stage` (see [`crate::util::timings`]).
    pub fn timed_as(self, stage: crate::util::timings::Stage) -> HashingWriter<W> {
        HashingWriter { stage: Some(stage), ..self }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The inner writer, the digest and the number of bytes written.
    pub fn finish(self) -> (Sha256Digest, W, u64) {
        (Sha256Digest(self.hasher.finalize().into()), self.inner, self.written)
    }
}

impl HashingWriter<io::BufWriter<WriteBehind>> {
    /// Appends `length` bytes of `source` from `offset`. The kernel copies them file to file
    /// (`io::copy` uses `copy_file_range`: no trip through user space), a piece at a time so
    /// that each piece's writeback starts while the next is copied, while a second thread
    /// reads the same range and hashes it, so appending costs about what SHA-256 alone costs.
    /// With `sync`, the file is synced as soon as the bytes are in, while the hash finishes.
    /// On an error nothing was appended: the file and the hash are as they were.
    pub fn append_file_range(
        &mut self,
        source: &std::fs::File,
        offset: u64,
        length: u64,
        sync: bool,
    ) -> io::Result<()> {
        use std::{io::Seek, os::unix::fs::FileExt};
        self.inner.flush()?;
        let before = self.hasher.clone();
        let start = self.written;
        let (target, hasher, stage) = (self.inner.get_mut(), &mut self.hasher, self.stage);
        let result = std::thread::scope(|scope| -> io::Result<()> {
            let hashing = scope.spawn(move || -> io::Result<()> {
                let _span = stage.map(crate::util::timings::span);
                let mut buffer = vec![0; 1 << 20];
                let (mut position, end) = (offset, offset + length);
                while position < end {
                    let want = buffer.len().min((end - position) as usize);
                    let n = source.read_at(&mut buffer[..want], position)?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    hasher.update(&buffer[..n]);
                    position += n as u64;
                }
                Ok(())
            });
            let mut reader = source.try_clone()?;
            reader.seek(io::SeekFrom::Start(offset))?;
            let copied = copy_writing_behind(&mut reader, length, target, start).and_then(|copied| {
                if sync {
                    target.file_mut().sync_data().map(|()| copied)
                } else {
                    Ok(copied)
                }
            });
            let hashed =
                hashing.join().unwrap_or_else(|_| Err(io::Error::other("the hashing thread panicked")));
            if copied? != length {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            hashed
        });
        if let Err(error) = result {
            self.hasher = before;
            let target = self.inner.get_mut();
            target.truncated_to(self.written);
            target.file_mut().set_len(self.written)?;
            target.file_mut().seek(io::SeekFrom::Start(self.written))?;
            return Err(error);
        }
        self.written += length;
        Ok(())
    }
}

/// Copies `length` bytes of `reader` to the end of `target` (which holds `start` bytes), in
/// pieces of [`crate::util::writeback::WRITEBACK_EVERY`], starting each piece's writeback; the
/// bytes copied.
fn copy_writing_behind(
    reader: &mut std::fs::File,
    length: u64,
    target: &mut WriteBehind,
    start: u64,
) -> io::Result<u64> {
    let mut copied = 0;
    while copied < length {
        let piece = crate::util::writeback::WRITEBACK_EVERY.min(length - copied);
        let n = io::copy(&mut Read::take(&mut *reader, piece), target.file_mut())?;
        if n == 0 {
            break;
        }
        copied += n;
        target.wrote_up_to(start + copied);
    }
    Ok(copied)
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let _span = self.stage.map(crate::util::timings::span);
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_appended_file_range_hashes_like_a_plain_write_and_a_failed_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..3_500_000u32).map(|i| (i % 251) as u8).collect();
        let source_path = dir.path().join("source");
        std::fs::write(&source_path, &data).unwrap();
        let source = std::fs::File::open(&source_path).unwrap();
        let mut plain = HashingWriter::new(Vec::new());
        plain.write_all(b"head").unwrap();
        plain.write_all(&data[100..3_000_100]).unwrap();
        let target = std::fs::File::create(dir.path().join("target")).unwrap();
        let mut appended = HashingWriter::new(io::BufWriter::new(WriteBehind::new(target)));
        appended.write_all(b"head").unwrap();
        // Past the end of the source: refused, and nothing of it stays.
        assert!(appended.append_file_range(&source, 3_000_000, 1_000_000, false).is_err());
        appended.append_file_range(&source, 100, 3_000_000, true).unwrap();
        assert_eq!(appended.written(), plain.written());
        let (digest, writer, _) = appended.finish();
        assert_eq!(digest, plain.finish().0);
        drop(writer.into_inner().unwrap());
        let written = std::fs::read(dir.path().join("target")).unwrap();
        assert_eq!(Sha256Digest::of(&written), digest);
    }
}
