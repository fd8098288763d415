//! Pulls images into the local store in two steps: [`resolve`] fetches the manifests (small,
//! one image at a time) and plans the blobs; [`fetch`] then fetches every distinct blob once,
//! in digest order, by a bounded pool of workers, each verified before it enters the store.
//! [`PendingBlobs`] tells a reader that runs meanwhile (the bundle writer) when each blob is
//! there, so writing the bundle overlaps fetching.
//!
//! An index keeps only the requested platforms when the image is referenced by tag (the
//! bundle then holds a smaller index with a new digest, which the tag points at); an index
//! pinned by digest is kept whole, so the digest the vendor pinned still resolves.
//!
//! A blob downloads into the store's partial file for it ([`BlobStore::open_partial`]): an
//! attempt cut short (a dropped connection, a stall, a short body, or `kill -9` of the whole
//! process) keeps its bytes, and the next attempt, in this run or the next, asks for the rest
//! with `Range: bytes=N-`. The whole blob is verified before it is renamed into place; a
//! resumed blob that does not verify is fetched once more from zero before the pull fails.
//! 5xx, 429, dropped or stalled connections and short bodies are retried with backoff.
//! Everything that happens is reported to [`PullOptions::progress`]; nothing is printed.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Write,
    sync::{Condvar, Mutex},
    time::Duration,
};

use serde_json::Value;

use crate::{
    error::{Error, Result},
    input::image_ref::ImageRef,
    oci::airgap::PulledImage,
    oci::registry::{
        media::{self, Descriptor, ManifestKind},
        BlobSink, Operation, Platform, RangeAnswer, RawManifest, Registry, RegistryError, RetryPolicy,
        Retrying,
    },
    oci::store::{BlobStore, BlobWriter, CommitError, Partial, PartialBlob},
    progress::{Event, Progress, SharedProgress},
    util::digest::Sha256Digest,
    util::parallel,
    util::timings::{self, Stage},
};

/// How pulling behaves.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Platforms kept from multi-platform images.
    pub platforms: Vec<Platform>,
    /// How many blobs are fetched at once.
    pub concurrency: usize,
    /// How many times a blob or manifest fetch is tried on 5xx or a dropped connection.
    pub attempts: u32,
    /// The first wait between attempts; it doubles each time, up to 10 s (the registry's retry policy).
    pub backoff: Duration,
    /// Where progress goes.
    pub progress: SharedProgress,
}

impl PullOptions {
    /// Defaults: linux/amd64, 4 workers, 5 attempts from 200 ms.
    pub fn new(platforms: Vec<Platform>) -> PullOptions {
        PullOptions {
            platforms,
            concurrency: 4,
            attempts: 5,
            backoff: Duration::from_millis(200),
            progress: crate::progress::silent(),
        }
    }
}

/// One image to pull: the reference, and the digest the lock pins it to, if any.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// The reference.
    pub reference: ImageRef,
    /// The locked digest of what the reference resolved to.
    pub locked: Option<Sha256Digest>,
    /// Pulled only as the source of blobs another image shares (the base of an image built
    /// here): its blobs are fetched, but it is not one of the images the plan lists.
    pub blobs_only: bool,
}

/// What resolving every image found: the images (but `blobs_only` ones), and the blobs the
/// store still lacks.
#[derive(Debug)]
pub struct PullPlan {
    /// Every image, in request order.
    pub images: Vec<PulledImage>,
    /// The blobs to fetch, each with the first image that names it, in digest order: the
    /// order the bundle reads them in, so it can stream each one as it arrives.
    missing: Vec<(ImageRef, Descriptor)>,
    /// Each image and the blobs it still waits for.
    waiting: Vec<(String, BTreeSet<Sha256Digest>)>,
}

impl PullPlan {
    /// The blobs [`fetch`] will store, for a reader that streams them as they arrive.
    pub fn pending(&self) -> PendingBlobs {
        PendingBlobs::of(self.missing.iter().map(|(_, descriptor)| (descriptor.digest, descriptor.size)))
    }
}

/// The blobs a running pull has still to store, for a reader that streams them as they
/// arrive (the bundle, while later blobs are still being fetched).
#[derive(Debug)]
pub struct PendingBlobs {
    sizes: BTreeMap<Sha256Digest, u64>,
    state: Mutex<PendingState>,
    changed: Condvar,
}

#[derive(Debug)]
struct PendingState {
    waiting: BTreeSet<Sha256Digest>,
    /// The pull stopped: what is still waiting will not come.
    ended: bool,
}

impl PendingBlobs {
    /// Nothing pending: every blob is in the store.
    pub fn none() -> PendingBlobs {
        PendingBlobs::of(std::iter::empty())
    }

    /// These blobs (digest and size) pending.
    pub(crate) fn of(blobs: impl Iterator<Item = (Sha256Digest, u64)>) -> PendingBlobs {
        let sizes: BTreeMap<Sha256Digest, u64> = blobs.collect();
        let state = PendingState { waiting: sizes.keys().copied().collect(), ended: false };
        PendingBlobs { sizes, state: Mutex::new(state), changed: Condvar::new() }
    }

    /// The size a pending blob will have: its descriptor's, which the pull checks.
    pub fn size(&self, digest: &Sha256Digest) -> Option<u64> {
        self.sizes.get(digest).copied()
    }

    /// Waits until `digest` is not pending (it is stored, or never was pending); `false`
    /// when the pull stopped without storing it.
    pub fn wait_for(&self, digest: &Sha256Digest) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            if !state.waiting.contains(digest) {
                return true;
            }
            if state.ended {
                return false;
            }
            state = self.changed.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// A blob is in the store.
    pub(crate) fn stored(&self, digest: &Sha256Digest) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.waiting.remove(digest);
        self.changed.notify_all();
    }

    /// The pull stopped; what is still pending will not come.
    pub(crate) fn end(&self) {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).ended = true;
        self.changed.notify_all();
    }
}

/// Fetches every image's manifests (from the store when it has them) and plans the blobs;
/// the images come in request order.
pub fn resolve(
    registry: &Registry,
    store: &BlobStore,
    requests: &[PullRequest],
    options: &PullOptions,
) -> Result<PullPlan> {
    let progress = options.progress.as_ref();
    let mut pulled = Vec::new();
    // Blob digest → (image to fetch it through, descriptor); the first image wins.
    let mut wanted: BTreeMap<Sha256Digest, (ImageRef, Descriptor)> = BTreeMap::new();
    let mut images = Vec::new();
    let resolving = timings::span(Stage::Resolve);
    // Each image is a few round trips for small documents: fetched side by side, used in
    // request order (the first image that names a blob is the one it is fetched through).
    let resolved = parallel::map_in_order(requests, options.concurrency, |request| {
        let _span = timings::span(Stage::Resolve);
        pull_manifests(registry, store, request, options)
    });
    for (request, image) in requests.iter().zip(resolved) {
        let image = image?;
        let image_text = request.reference.to_string();
        let mut missing = BTreeSet::new();
        let (mut bytes, mut cached_bytes) = (0, 0);
        for (digest, descriptor) in &image.1 {
            wanted.entry(*digest).or_insert_with(|| (request.reference.clone(), descriptor.clone()));
            bytes += descriptor.size;
            if store.contains(digest) {
                cached_bytes += descriptor.size;
            } else {
                missing.insert(*digest);
            }
        }
        progress.event(&Event::ImageResolved {
            image: &image_text,
            blobs: image.1.len(),
            bytes,
            cached_bytes,
        });
        images.push((image_text, missing));
        if !request.blobs_only {
            pulled.push(image.0);
        }
    }
    drop(resolving);
    let missing: Vec<(ImageRef, Descriptor)> =
        wanted.into_values().filter(|(_, descriptor)| !store.contains(&descriptor.digest)).collect();
    progress.event(&Event::PullPlanned {
        images: images.len(),
        blobs: missing.len(),
        bytes: missing.iter().map(|(_, descriptor)| descriptor.size).sum(),
    });
    Ok(PullPlan { images: pulled, missing, waiting: images })
}

/// Fetches every blob the plan lacks into the store, telling `pending` as each one is stored
/// and when the fetch stops (done or failed).
pub fn fetch(
    registry: &Registry,
    store: &BlobStore,
    plan: &PullPlan,
    options: &PullOptions,
    pending: &PendingBlobs,
) -> Result<()> {
    let _ends = EndsPending(pending);
    let tracker =
        ImageTracker { images: Mutex::new(plan.waiting.clone()), progress: options.progress.as_ref() };
    tracker.finish_cached();
    fetch_blobs(registry, store, &plan.missing, options, &tracker, pending)
}

/// Ends the pending blobs however the fetch stops, a panic included, so a reader waiting for
/// one never waits forever.
struct EndsPending<'a>(&'a PendingBlobs);

impl Drop for EndsPending<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// Which blobs each image still waits for; reports [`Event::ImageDone`] when none is left.
struct ImageTracker<'a> {
    images: Mutex<Vec<(String, BTreeSet<Sha256Digest>)>>,
    progress: &'a dyn Progress,
}

impl ImageTracker<'_> {
    /// Reports the images that need nothing downloaded.
    fn finish_cached(&self) {
        let images = self.images.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (image, missing) in images.iter() {
            if missing.is_empty() {
                self.progress.event(&Event::ImageDone { image, cached: true });
            }
        }
    }

    /// A blob is in the store.
    fn blob_stored(&self, digest: &Sha256Digest) {
        let mut images = self.images.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (image, missing) in images.iter_mut() {
            if missing.remove(digest) && missing.is_empty() {
                self.progress.event(&Event::ImageDone { image, cached: false });
            }
        }
    }
}

/// Fetches an image's manifests into the store; returns the image and its blobs.
fn pull_manifests(
    registry: &Registry,
    store: &BlobStore,
    request: &PullRequest,
    options: &PullOptions,
) -> Result<(PulledImage, Vec<(Sha256Digest, Descriptor)>)> {
    let image = &request.reference;
    let pinned = image.digest().and_then(Sha256Digest::parse);
    let image_text = image.to_string();
    let stored_top = request.locked.or(pinned).and_then(|digest| stored_manifest(store, &digest));
    let top = match stored_top {
        Some(top) => top,
        None => retry(options, &image_text, None, || match request.locked.or(pinned) {
            Some(digest) => registry.fetch_manifest(image, &digest),
            None => registry.resolve(image),
        })?,
    };
    let mut manifests = Vec::new();
    let mut blobs: Vec<(Sha256Digest, Descriptor)> = Vec::new();
    let (top_digest, top_media_type) = if top.kind.is_index() {
        let index = media::parse_index(top.kind, &top.bytes).map_err(|problem| {
            registry_error(RegistryError::InvalidManifest {
                image: image.to_string(),
                digest: Some(top.digest.oci()),
                problem,
            })
        })?;
        let by_digest = image.digest().is_some();
        let kept: Vec<&Descriptor> = index
            .manifests
            .iter()
            .filter(|entry| {
                by_digest
                    || entry
                        .platform
                        .as_ref()
                        .is_some_and(|p| options.platforms.iter().any(|want| want.matches(p)))
            })
            .collect();
        if kept.is_empty() {
            return Err(registry_error(RegistryError::NoMatchingPlatform {
                image: image.to_string(),
                platform: options.platforms.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                available: index
                    .manifests
                    .iter()
                    .filter_map(|m| m.platform.as_ref())
                    .map(ToString::to_string)
                    .collect(),
            }));
        }
        // The index as served too, so the next run finds the locked digest in the store.
        store.insert_bytes(&top.bytes)?;
        let top_bytes = if by_digest || kept.len() == index.manifests.len() {
            top.bytes.clone()
        } else {
            filtered_index(&top.bytes, &kept)?
        };
        let top_digest = store.insert_bytes(&top_bytes)?;
        manifests.push(top_digest);
        for entry in kept {
            let child = match stored_manifest(store, &entry.digest) {
                Some(child) => child,
                None => retry(options, &image_text, None, || registry.fetch_manifest(image, &entry.digest))?,
            };
            if !matches!(child.kind, ManifestKind::OciManifest | ManifestKind::DockerManifest) {
                continue;
            }
            store.insert_bytes(&child.bytes)?;
            manifests.push(child.digest);
            collect_blobs(image, child.kind, &child.bytes, &child.digest, &mut blobs)?;
        }
        (top_digest, top.media_type().to_string())
    } else {
        store.insert_bytes(&top.bytes)?;
        manifests.push(top.digest);
        collect_blobs(image, top.kind, &top.bytes, &top.digest, &mut blobs)?;
        (top.digest, top.media_type().to_string())
    };
    let mut seen = BTreeSet::new();
    blobs.retain(|(digest, _)| seen.insert(*digest));
    let pulled = PulledImage {
        reference: image.clone(),
        resolved: top.digest,
        top: top_digest,
        top_media_type,
        manifests,
        blobs: blobs.iter().map(|(digest, _)| *digest).collect(),
    };
    Ok((pulled, blobs))
}

/// A manifest or index the store holds: every one pulled before is stored by its digest
/// (verified), so an image known by digest is read from disk, and a release whose images are
/// all pulled needs no registry at all.
fn stored_manifest(store: &BlobStore, digest: &Sha256Digest) -> Option<RawManifest> {
    if !store.contains(digest) {
        return None;
    }
    let bytes = store.read(digest).ok()?;
    let kind = media::detect_kind(&bytes)?;
    Some(RawManifest { digest: *digest, kind, bytes })
}

/// The bytes an image adds to a bundle (its config and layers, each blob counted once), read
/// from the manifests the store holds under `digest`; `None` when they are not all there (an
/// image no release has pulled yet). An index counts the manifests of `platforms` only, as a
/// pull keeps only those.
pub fn stored_size(store: &BlobStore, digest: &Sha256Digest, platforms: &[Platform]) -> Option<u64> {
    let top = stored_manifest(store, digest)?;
    let manifests: Vec<RawManifest> = if top.kind.is_index() {
        let index = media::parse_index(top.kind, &top.bytes).ok()?;
        index
            .manifests
            .iter()
            .filter(|entry| {
                entry.platform.as_ref().is_some_and(|p| platforms.iter().any(|want| want.matches(p)))
            })
            .map(|entry| stored_manifest(store, &entry.digest))
            .collect::<Option<_>>()?
    } else {
        vec![top]
    };
    blobs_size(manifests.iter().map(|manifest| (manifest.kind, manifest.bytes.as_slice())))
}

/// The bytes of the config and layer blobs that image manifests name, each blob counted once;
/// `None` when one of them does not parse, or they name no blob.
pub(crate) fn blobs_size<'a>(manifests: impl IntoIterator<Item = (ManifestKind, &'a [u8])>) -> Option<u64> {
    let mut sizes: BTreeMap<Sha256Digest, u64> = BTreeMap::new();
    for (kind, bytes) in manifests {
        let parsed = media::parse_manifest(kind, bytes).ok()?;
        for descriptor in std::iter::once(&parsed.config).chain(&parsed.layers) {
            sizes.insert(descriptor.digest, descriptor.size);
        }
    }
    (!sizes.is_empty()).then(|| sizes.values().sum())
}

fn collect_blobs(
    image: &ImageRef,
    kind: ManifestKind,
    bytes: &[u8],
    digest: &Sha256Digest,
    blobs: &mut Vec<(Sha256Digest, Descriptor)>,
) -> Result<()> {
    let manifest = media::parse_manifest(kind, bytes).map_err(|problem| {
        registry_error(RegistryError::InvalidManifest {
            image: image.to_string(),
            digest: Some(digest.oci()),
            problem,
        })
    })?;
    for descriptor in std::iter::once(&manifest.config).chain(&manifest.layers) {
        blobs.push((descriptor.digest, descriptor.clone()));
    }
    Ok(())
}

/// The index with only the kept entries; every other field as it was. Keys come out sorted
/// (serde_json's map), so the bytes depend only on the input.
fn filtered_index(bytes: &[u8], kept: &[&Descriptor]) -> Result<Vec<u8>> {
    let mut document: Value = serde_json::from_slice(bytes)
        .map_err(|error| Error::internal("a stored index is not JSON", error))?;
    let keep: BTreeSet<String> = kept.iter().map(|d| d.digest.oci()).collect();
    if let Some(Value::Array(entries)) = document.get_mut("manifests") {
        entries.retain(|entry| entry.get("digest").and_then(Value::as_str).is_some_and(|d| keep.contains(d)));
    }
    serde_json::to_vec(&document).map_err(|error| Error::internal("cannot serialise an index", error))
}

/// Fetches blobs with a bounded pool of workers.
fn fetch_blobs(
    registry: &Registry,
    store: &BlobStore,
    blobs: &[(ImageRef, Descriptor)],
    options: &PullOptions,
    tracker: &ImageTracker<'_>,
    pending: &PendingBlobs,
) -> Result<()> {
    let queue = Mutex::new(blobs.iter());
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..options.concurrency.max(1) {
            scope.spawn(|| loop {
                if first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                    return;
                }
                let next = queue.lock().ok().and_then(|mut q| q.next());
                let Some((image, descriptor)) = next else { return };
                match fetch_one(registry, store, image, descriptor, options) {
                    Ok(()) => {
                        pending.stored(&descriptor.digest);
                        tracker.blob_stored(&descriptor.digest);
                    }
                    Err(error) => {
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert(error);
                        }
                        return;
                    }
                }
            });
        }
    });
    match first_error.into_inner() {
        Ok(Some(error)) => Err(error),
        _ => Ok(()),
    }
}

/// Puts one blob of `image` into the store unless it is there: the one way any blob reaches
/// this machine (resumed, retried and verified as the pull does it), for the helm-cli
/// image's base layers too.
pub(crate) fn fetch_into_store(
    registry: &Registry,
    store: &BlobStore,
    image: &ImageRef,
    descriptor: &Descriptor,
) -> Result<()> {
    if store.contains(&descriptor.digest) {
        return Ok(());
    }
    fetch_one(registry, store, image, descriptor, &PullOptions::new(Vec::new()))
}

/// One blob, with retries; each attempt resumes what the previous one left.
fn fetch_one(
    registry: &Registry,
    store: &BlobStore,
    image: &ImageRef,
    descriptor: &Descriptor,
    options: &PullOptions,
) -> Result<()> {
    let _span = timings::span(Stage::Fetch);
    let blob = BlobFetch {
        registry,
        store,
        image,
        descriptor,
        progress: options.progress.as_ref(),
        image_text: image.to_string(),
        digest_text: descriptor.digest.oci(),
    };
    retry(options, &blob.image_text, Some(&blob.digest_text), || blob.attempt())
}

/// One blob to fetch, and the names its events and errors use.
struct BlobFetch<'a> {
    registry: &'a Registry,
    store: &'a BlobStore,
    image: &'a ImageRef,
    descriptor: &'a Descriptor,
    progress: &'a dyn Progress,
    image_text: String,
    digest_text: String,
}

impl BlobFetch<'_> {
    /// One attempt: from where the last one stopped, and once more from zero when a resumed
    /// blob does not verify.
    fn attempt(&self) -> Result<(), RegistryError> {
        let mut once_more_from_zero = true;
        loop {
            let mut partial = match self.store.open_partial(&self.descriptor.digest, self.descriptor.size) {
                Ok(Partial::Open(partial)) => *partial,
                Ok(Partial::Stored) => {
                    self.progress.event(&Event::BlobCached {
                        image: &self.image_text,
                        digest: &self.digest_text,
                        size: self.descriptor.size,
                    });
                    return Ok(());
                }
                // Another process is downloading it: download a private copy from zero.
                Ok(Partial::Busy) => return self.fetch_private(),
                Err(error) => return Err(self.local(std::io::Error::other(error.to_string()))),
            };
            let resumed_from = partial.offset();
            self.started(resumed_from);
            if resumed_from < self.descriptor.size {
                let mut sink = Reporting { inner: &mut partial, fetch: self, received: resumed_from };
                match self.registry.fetch_blob_range(self.image, self.descriptor, resumed_from, &mut sink) {
                    Ok(RangeAnswer::Whole) if resumed_from > 0 => self.progress.event(&Event::Restart {
                        image: &self.image_text,
                        digest: &self.digest_text,
                        reason: "the registry sent the whole blob, not the rest",
                    }),
                    Ok(_) => {}
                    // What arrived stays for the next attempt to resume from.
                    Err(error) => return Err(error),
                }
            }
            match partial.commit() {
                Ok(_) => {
                    self.done();
                    return Ok(());
                }
                Err(CommitError::Mismatch(_)) if resumed_from > 0 && once_more_from_zero => {
                    once_more_from_zero = false;
                    self.progress.event(&Event::Restart {
                        image: &self.image_text,
                        digest: &self.digest_text,
                        reason: "the resumed blob does not match its digest",
                    });
                }
                Err(CommitError::Mismatch(mismatch)) => return Err(self.mismatch(mismatch.actual)),
                Err(CommitError::Io(source)) => return Err(self.local(source)),
            }
        }
    }

    /// A download into a private temporary file, from zero.
    fn fetch_private(&self) -> Result<(), RegistryError> {
        let mut writer =
            self.store.writer().map_err(|error| self.local(std::io::Error::other(error.to_string())))?;
        self.started(0);
        let mut sink = Reporting { inner: &mut writer, fetch: self, received: 0 };
        self.registry.fetch_blob_range(self.image, self.descriptor, 0, &mut sink)?;
        match writer.commit(&self.descriptor.digest) {
            Ok(_) => {
                self.done();
                Ok(())
            }
            Err(CommitError::Mismatch(mismatch)) => Err(self.mismatch(mismatch.actual)),
            Err(CommitError::Io(source)) => Err(self.local(source)),
        }
    }

    fn started(&self, resumed_from: u64) {
        self.progress.event(&Event::BlobStarted {
            image: &self.image_text,
            digest: &self.digest_text,
            size: self.descriptor.size,
            resumed_from,
        });
    }

    fn done(&self) {
        self.progress.event(&Event::BlobDone {
            image: &self.image_text,
            digest: &self.digest_text,
            size: self.descriptor.size,
        });
    }

    fn mismatch(&self, actual: String) -> RegistryError {
        RegistryError::DigestMismatch {
            image: self.image_text.clone(),
            host: self.image.domain().to_string(),
            expected: self.digest_text.clone(),
            actual,
        }
    }

    fn local(&self, source: std::io::Error) -> RegistryError {
        RegistryError::Local { image: self.image_text.clone(), digest: self.digest_text.clone(), source }
    }
}

/// Passes bytes on to the store and reports how many arrived.
struct Reporting<'a, W> {
    inner: &'a mut W,
    fetch: &'a BlobFetch<'a>,
    received: u64,
}

impl<W: Write> Write for Reporting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.received += written as u64;
        self.fetch
            .progress
            .event(&Event::BlobProgress { digest: &self.fetch.digest_text, received: self.received });
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl BlobSink for Reporting<'_, PartialBlob> {
    fn restart(&mut self) -> std::io::Result<()> {
        self.inner.restart()?;
        self.received = 0;
        self.fetch.progress.event(&Event::BlobProgress { digest: &self.fetch.digest_text, received: 0 });
        Ok(())
    }
}

impl BlobSink for Reporting<'_, BlobWriter> {
    /// A private download always starts at zero, so the registry never makes it start over.
    fn restart(&mut self) -> std::io::Result<()> {
        if self.received == 0 {
            return Ok(());
        }
        Err(std::io::Error::other("a download from zero cannot restart"))
    }
}

/// Runs `attempt` with the pull's [`RetryPolicy`], reporting each retry.
fn retry<T>(
    options: &PullOptions,
    image: &str,
    digest: Option<&str>,
    attempt: impl FnMut() -> Result<T, RegistryError>,
) -> Result<T> {
    let policy = RetryPolicy { attempts: options.attempts, backoff: options.backoff };
    let report = |retrying: &Retrying<'_>| {
        options.progress.event(&Event::Retry {
            image,
            digest,
            attempt: retrying.attempt,
            reason: &retrying.error.to_string(),
            wait: retrying.wait,
        })
    };
    policy.run(Operation::Pull, report, attempt).map_err(registry_error)
}

fn registry_error(error: RegistryError) -> Error {
    Error::Registry(error)
}
