//! Progress of the long steps of a release (pulling images, writing the bundle), as events.
//!
//! The engine never prints: it reports events to a [`Progress`] the caller supplies. The CLI
//! turns them into progress bars on a terminal, plain lines otherwise, and nothing with
//! `--json`; tests and libraries pass [`Silent`].
//!
//! A pull reports, in order: [`Event::PullPlanned`] (what is left to download), one
//! [`Event::ImageResolved`] per image, then for each blob [`Event::BlobStarted`], any number
//! of [`Event::BlobProgress`], and [`Event::BlobDone`]; [`Event::ImageDone`] once every blob
//! of an image is in the store. [`Event::Retry`] and [`Event::Restart`] may come between.

use std::{sync::Arc, time::Duration};

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A step of the release started (e.g. "pull", "bundle").
    Step {
        /// Its name.
        name: &'a str,
    },
    /// Every image's manifests are in; this is what the blobs still to download add up to.
    PullPlanned {
        /// Images pulled.
        images: usize,
        /// Distinct blobs not yet in the store.
        blobs: usize,
        /// Their total size in bytes.
        bytes: u64,
    },
    /// An image's manifests were read.
    ImageResolved {
        /// The image reference.
        image: &'a str,
        /// Its blobs (config and layers, every kept platform).
        blobs: usize,
        /// Their total size in bytes.
        bytes: u64,
        /// Bytes of those blobs already in the store.
        cached_bytes: u64,
    },
    /// A blob download (or one more attempt at it) started.
    BlobStarted {
        /// The image it is fetched through.
        image: &'a str,
        /// `sha256:<hex>`.
        digest: &'a str,
        /// Its size in bytes.
        size: u64,
        /// Bytes kept from an earlier, interrupted attempt (0 for a fresh download).
        resumed_from: u64,
    },
    /// Bytes of a blob arrived.
    BlobProgress {
        /// `sha256:<hex>`.
        digest: &'a str,
        /// How many bytes of the blob are now on disk (it goes back to 0 on a restart).
        received: u64,
    },
    /// A blob is verified and in the store.
    BlobDone {
        /// The image it was fetched through.
        image: &'a str,
        /// `sha256:<hex>`.
        digest: &'a str,
        /// Its size in bytes.
        size: u64,
    },
    /// A blob was already in the store (another process fetched it meanwhile).
    BlobCached {
        /// The image it belongs to.
        image: &'a str,
        /// `sha256:<hex>`.
        digest: &'a str,
        /// Its size in bytes.
        size: u64,
    },
    /// A fetch failed in a way worth another try; the next one starts after `wait`.
    Retry {
        /// The image.
        image: &'a str,
        /// The blob, when a blob was being fetched.
        digest: Option<&'a str>,
        /// The attempt that failed (1 for the first).
        attempt: u32,
        /// Why, one line.
        reason: &'a str,
        /// How long until the next attempt.
        wait: Duration,
    },
    /// The bytes kept of a blob were thrown away and it downloads again from zero.
    Restart {
        /// The image.
        image: &'a str,
        /// `sha256:<hex>`.
        digest: &'a str,
        /// Why, one line.
        reason: &'a str,
    },
    /// Every blob of an image is in the store.
    ImageDone {
        /// The image reference.
        image: &'a str,
        /// True when nothing had to be downloaded for it.
        cached: bool,
    },
    /// The airgap proof rendered and checked one more configuration.
    ProofRendered {
        /// Renders finished so far.
        done: usize,
        /// Renders in all.
        total: usize,
    },
    /// The airgap bundle is being written.
    BundleBytes {
        /// Bytes of blobs and files written so far.
        written: u64,
        /// Bytes to write in all.
        total: u64,
    },
}

/// Receives events; called from several threads at once.
pub trait Progress: Send + Sync + std::fmt::Debug {
    /// One event.
    fn event(&self, event: &Event<'_>);
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _event: &Event<'_>) {}
}

/// A shared reporter.
pub type SharedProgress = Arc<dyn Progress>;

/// The reporter that reports nothing.
pub fn silent() -> SharedProgress {
    Arc::new(Silent)
}
