//! Pulls images into the local store: manifests first (small, one image at a time), then
//! every distinct blob once, by a bounded pool of workers, each verified while it streams.
//!
//! An index keeps only the requested platforms when the image is referenced by tag (the
//! bundle then holds a smaller index with a new digest, which the tag points at); an index
//! pinned by digest is kept whole, so the digest the vendor pinned still resolves.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Mutex,
    time::Duration,
};

use serde_json::Value;

use crate::{
    airgap::PulledImage,
    digest::Sha256Digest,
    error::{Error, Result},
    image_ref::ImageRef,
    progress::SharedProgress,
    registry::{
        media::{self, Descriptor, ManifestKind},
        Platform, Registry, RegistryError,
    },
    store::{BlobStore, CommitError},
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
    /// The first wait between attempts; it doubles each time.
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
}

/// Pulls every image; returns them in request order.
pub fn pull_all(
    registry: &Registry,
    store: &BlobStore,
    requests: &[PullRequest],
    options: &PullOptions,
) -> Result<Vec<PulledImage>> {
    let mut pulled = Vec::new();
    // Blob digest → (image to fetch it through, descriptor); the first image wins.
    let mut wanted: BTreeMap<Sha256Digest, (ImageRef, Descriptor)> = BTreeMap::new();
    for request in requests {
        let image = pull_manifests(registry, store, request, options)?;
        for (digest, descriptor) in &image.1 {
            wanted.entry(*digest).or_insert_with(|| (request.reference.clone(), descriptor.clone()));
        }
        pulled.push(image.0);
    }
    let missing: Vec<(ImageRef, Descriptor)> =
        wanted.into_values().filter(|(_, descriptor)| !store.contains(&descriptor.digest)).collect();
    fetch_blobs(registry, store, &missing, options)?;
    Ok(pulled)
}

/// Fetches an image's manifests into the store; returns the image and its blobs.
fn pull_manifests(
    registry: &Registry,
    store: &BlobStore,
    request: &PullRequest,
    options: &PullOptions,
) -> Result<(PulledImage, Vec<(Sha256Digest, Descriptor)>)> {
    let image = &request.reference;
    let pinned = image.digest().and_then(parse_digest);
    let top = retry(options, || match request.locked.or(pinned) {
        Some(digest) => registry.fetch_manifest(image, &digest),
        None => registry.resolve(image),
    })?;
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
        let top_bytes = if by_digest || kept.len() == index.manifests.len() {
            top.bytes.clone()
        } else {
            filtered_index(&top.bytes, &kept)?
        };
        let top_digest = store.insert_bytes(&top_bytes)?;
        manifests.push(top_digest);
        for entry in kept {
            let child = retry(options, || registry.fetch_manifest(image, &entry.digest))?;
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
        .map_err(|error| Error::Internal(format!("index is not JSON: {error}")))?;
    let keep: BTreeSet<String> = kept.iter().map(|d| d.digest.oci()).collect();
    if let Some(Value::Array(entries)) = document.get_mut("manifests") {
        entries.retain(|entry| entry.get("digest").and_then(Value::as_str).is_some_and(|d| keep.contains(d)));
    }
    serde_json::to_vec(&document).map_err(|error| Error::Internal(error.to_string()))
}

/// Fetches blobs with a bounded pool of workers.
fn fetch_blobs(
    registry: &Registry,
    store: &BlobStore,
    blobs: &[(ImageRef, Descriptor)],
    options: &PullOptions,
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
                if let Err(error) = fetch_one(registry, store, image, descriptor, options) {
                    if let Ok(mut slot) = first_error.lock() {
                        slot.get_or_insert(error);
                    }
                    return;
                }
            });
        }
    });
    match first_error.into_inner() {
        Ok(Some(error)) => Err(error),
        _ => Ok(()),
    }
}

fn fetch_one(
    registry: &Registry,
    store: &BlobStore,
    image: &ImageRef,
    descriptor: &Descriptor,
    options: &PullOptions,
) -> Result<()> {
    retry(options, || {
        let mut writer = store.writer().map_err(|error| RegistryError::Local {
            image: image.to_string(),
            digest: descriptor.digest.oci(),
            source: std::io::Error::other(error.to_string()),
        })?;
        registry.fetch_blob(image, descriptor, &mut writer)?;
        match writer.commit(&descriptor.digest) {
            Ok(_) => Ok(()),
            Err(CommitError::Mismatch(mismatch)) => Err(RegistryError::DigestMismatch {
                image: image.to_string(),
                host: image.domain().to_string(),
                expected: mismatch.expected,
                actual: mismatch.actual,
            }),
            Err(CommitError::Io(source)) => Err(RegistryError::Local {
                image: image.to_string(),
                digest: descriptor.digest.oci(),
                source,
            }),
        }
    })
}

/// Runs `attempt` until it succeeds, fails for good, or runs out of attempts.
fn retry<T>(options: &PullOptions, mut attempt: impl FnMut() -> Result<T, RegistryError>) -> Result<T> {
    let mut wait = options.backoff;
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt() {
            Ok(value) => return Ok(value),
            Err(error) if tries < options.attempts && is_transient(&error) => {
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2).min(Duration::from_secs(10));
            }
            Err(error) => return Err(registry_error(error)),
        }
    }
}

/// 5xx, 429, a dropped or refused connection, and a body cut short are worth another try;
/// wrong bytes, a missing image or refused credentials are not.
fn is_transient(error: &RegistryError) -> bool {
    match error {
        RegistryError::Unreachable { .. } | RegistryError::SizeMismatch { .. } => true,
        RegistryError::Protocol { status, .. } => status.is_none_or(|s| s >= 500 || s == 429 || s == 408),
        _ => false,
    }
}

fn registry_error(error: RegistryError) -> Error {
    Error::Registry(error)
}

fn parse_digest(text: &str) -> Option<Sha256Digest> {
    let hex = text.strip_prefix("sha256:")?;
    let bytes = hex::decode(hex).ok()?;
    Some(Sha256Digest(bytes.try_into().ok()?))
}
