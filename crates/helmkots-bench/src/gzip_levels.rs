//! What the bundle's gzip level buys: the bundle is decompressed once to its plain tar,
//! then that tar is compressed at several levels with the same encoder helmkots uses
//! ([`helmkots::internals::util::reproducible::gzip_writer`], flate2's pure-Rust backend), timing each.
//!
//! The input is read from a file (warm in the page cache after the first level) and the
//! output is counted, not stored, so the times are the compressor's.

use std::{
    fs::File,
    io::{self, BufReader, BufWriter, Write},
    time::Instant,
};

use anyhow::Context;
use camino::Utf8Path;

/// The levels measured: stored, fastest, zlib's default, best.
pub const LEVELS: [u32; 4] = [0, 1, 6, 9];

/// One level's result.
#[derive(Debug, Clone)]
pub struct LevelResult {
    /// The gzip level.
    pub level: u32,
    /// Time to compress the whole tar.
    pub seconds: f64,
    /// Compressed size.
    pub bytes: u64,
}

/// Decompresses `bundle` into `tar_path`; the tar's size.
pub fn unpack_bundle(bundle: &Utf8Path, tar_path: &Utf8Path) -> anyhow::Result<u64> {
    let input = File::open(bundle).with_context(|| format!("cannot open {bundle}"))?;
    let mut decoder = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, input));
    let output = File::create(tar_path).with_context(|| format!("cannot create {tar_path}"))?;
    let mut output = BufWriter::with_capacity(1 << 20, output);
    let bytes = io::copy(&mut decoder, &mut output).with_context(|| format!("cannot decompress {bundle}"))?;
    output.flush()?;
    Ok(bytes)
}

/// Compresses the file at `tar_path` at `level`.
pub fn measure(tar_path: &Utf8Path, level: u32) -> anyhow::Result<LevelResult> {
    let mut input = BufReader::with_capacity(1 << 20, File::open(tar_path)?);
    let start = Instant::now();
    let mut encoder = helmkots::internals::util::reproducible::gzip_writer(CountingSink(0), level);
    io::copy(&mut input, &mut encoder)?;
    let bytes = encoder.finish()?.0;
    Ok(LevelResult { level, seconds: start.elapsed().as_secs_f64(), bytes })
}

/// A writer that only counts.
struct CountingSink(u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
