//! Reading what the vendor wrote: `release.toml` ([`release`]), the chart ([`chart`]),
//! `.helmignore`, image references and values paths. Reads files, never the network; imports
//! only `util/`.

pub mod chart;
pub mod helmignore;
pub mod image_ref;
pub mod release;
pub mod value_path;

/// `helmkots.lock`, beside the release file: the vendor commits it with release.toml
/// (written and read by [`crate::oci::image_lock`]).
pub(crate) const IMAGE_LOCK_FILE: &str = "helmkots.lock";
pub(crate) mod platform;
