//! The floor a cold release is measured against, in the same run: every distinct blob the
//! fixture pushed, fetched once with a plain threaded HTTP client (ureq, as many threads as
//! the pull's workers), hashed while it streams into a file and checked; then one sha256
//! pass over the finished bundle. No retries, no store, no bundle: what fetching and hashing
//! the bytes costs, and nothing else.

use std::{
    fs::File,
    io::{self, BufWriter, Read, Write},
    sync::Mutex,
    time::Instant,
};

use anyhow::{format_err, Context};
use camino::Utf8Path;
use helmkots::internals::util::digest::{HashingWriter, Sha256Digest};
use helmkots_e2e::registry::TestRegistry;

use crate::fixture::DistinctBlob;

/// How long the fetch of every blob took.
#[derive(Debug, Clone, Copy)]
pub struct FetchRun {
    /// Wall time.
    pub seconds: f64,
    /// Bytes fetched.
    pub bytes: u64,
    /// CPU time the registry used serving them.
    pub registry_cpu_seconds: Option<f64>,
}

/// Fetches every blob from `registry` into `dir` (created empty), `concurrency` at a
/// time, each hashed while written and checked against its digest.
pub fn fetch(
    registry: &TestRegistry,
    blobs: &[DistinctBlob],
    concurrency: usize,
    dir: &Utf8Path,
) -> anyhow::Result<FetchRun> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {dir}"))?;
    let agent: ureq::Agent =
        ureq::Agent::config_builder().max_idle_connections_per_host(concurrency).build().into();
    let queue = Mutex::new(blobs.iter());
    let registry_host = &registry.host();
    let registry_cpu = crate::measure::WatchedCpu::start(Some(registry.pid()));
    let start = Instant::now();
    let results: Vec<anyhow::Result<u64>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..concurrency.max(1))
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<u64> {
                    let mut bytes = 0;
                    loop {
                        let next = queue.lock().map_err(|_| format_err!("queue poisoned"))?.next();
                        let Some(blob) = next else { return Ok(bytes) };
                        bytes += fetch_one(&agent, registry_host, blob, dir)?;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_else(|_| Err(format_err!("a fetch thread panicked"))))
            .collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    let registry_cpu_seconds = registry_cpu.used();
    let mut bytes = 0;
    for result in results {
        bytes += result?;
    }
    Ok(FetchRun { seconds, bytes, registry_cpu_seconds })
}

fn fetch_one(
    agent: &ureq::Agent,
    registry_host: &str,
    blob: &DistinctBlob,
    dir: &Utf8Path,
) -> anyhow::Result<u64> {
    let url = format!("http://{registry_host}/v2/{}/blobs/{}", blob.repository, blob.digest.oci());
    let response = agent.get(&url).call().with_context(|| format!("GET {url}"))?;
    let path = dir.join(blob.digest.hex());
    let file = File::create(&path).with_context(|| format!("cannot create {path}"))?;
    let mut writer = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
    let mut body = response.into_body().into_reader();
    io::copy(&mut body, &mut writer).with_context(|| format!("GET {url}"))?;
    let (digest, mut file, bytes) = writer.finish();
    file.flush()?;
    if digest != blob.digest || bytes != blob.size {
        return Err(format_err!(
            "{url}: got {bytes} bytes of {digest}, expected {} of {}",
            blob.size,
            blob.digest
        ));
    }
    Ok(bytes)
}

/// One sha256 pass over a file; its wall time.
pub fn hash_pass(path: &Utf8Path) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut file = File::open(path).with_context(|| format!("cannot open {path}"))?;
    let mut writer = HashingWriter::new(io::sink());
    let mut buffer = vec![0; 1 << 20];
    loop {
        let read = file.read(&mut buffer).with_context(|| format!("cannot read {path}"))?;
        if read == 0 {
            break;
        }
        writer.write_all(&buffer[..read])?;
    }
    let _: Sha256Digest = writer.finish().0;
    Ok(start.elapsed().as_secs_f64())
}
