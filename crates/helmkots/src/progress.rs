//! Progress of the long steps of a release (pulling images, writing the bundle), as events.
//!
//! The engine never prints: it reports events to a [`Progress`] the caller supplies. The CLI
//! turns them into progress bars on a terminal, plain lines otherwise, and nothing with
//! `--json`; tests and libraries pass [`Silent`].

use std::sync::Arc;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A step of the release started (e.g. "pull", "bundle").
    Step {
        /// Its name.
        name: &'a str,
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
