//! sha256 digests of files and byte streams, in the `sha256:<hex>` and bare-hex forms.

use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

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
