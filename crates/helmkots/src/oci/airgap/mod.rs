//! The airgap bundle: every image pulled once into the local store, then packed the way
//! KOTS reads it.
//!
//! Data flow: image references (discovered + `[images] include` + the helm-cli image), pinned
//! by `helmkots.lock` → [`pull`] into [`crate::oci::store::BlobStore`] (each blob fetched once,
//! verified while it streams, retried on 5xx and dropped connections) → [`layout`] as a
//! Docker Distribution filesystem storage root → [`bundle`] writes
//! `<slug>-<version>.airgap` (`airgap.yaml`, `app.tar.gz`, then `images/`), streamed from
//! the store → [`verify`] re-reads a bundle and checks every image is complete.

pub mod bundle;
pub mod layout;
pub mod pull;
pub mod verify;

use crate::{input::image_ref::ImageRef, util::digest::Sha256Digest};

/// One image as stored for the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledImage {
    /// The reference as listed in `savedImages` (normalised).
    pub reference: ImageRef,
    /// What the reference resolved to in its registry (the digest `helmkots.lock` pins).
    pub resolved: Sha256Digest,
    /// What the reference points at in the bundle: the image manifest, or an index of the
    /// kept platforms.
    pub top: Sha256Digest,
    /// The top document's media type.
    pub top_media_type: String,
    /// Every manifest and index of the image (top first).
    pub manifests: Vec<Sha256Digest>,
    /// Every config and layer blob, in order, without duplicates.
    pub blobs: Vec<Sha256Digest>,
}

impl PulledImage {
    /// The repository KOTS pulls it from in its temporary registry: the last path component.
    pub fn repository_name(&self) -> &str {
        self.reference.last_component()
    }
}
