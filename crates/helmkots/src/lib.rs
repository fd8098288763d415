//! helmkots: turn one declarative `release.toml` and a Helm chart into a complete,
//! airgap-ready Replicated KOTS release that deploys the chart through the Helm CLI.
//!
//! The data flows one way (see ARCHITECTURE.md):
//! `release.toml` → [`release::Release`] → packaged chart ([`chart`]) → output tree ([`dist`]),
//! with every input and output recorded in the build record ([`lock`]).
//! The engine returns data and typed errors; only the `xtask` CLI prints.
#![deny(missing_docs)]

pub mod airgap;
pub mod chart;
pub mod clean;
pub mod conventions;
pub mod diagnostic;
pub mod digest;
pub mod discover;
pub mod dist;
pub mod error;
pub mod fingerprint;
pub mod helm_template;
pub mod helmignore;
pub mod image_lock;
pub mod image_ref;
pub mod image_routing;
pub mod init;
pub mod inspect;
pub mod kots;
pub mod kots_template;
pub mod lock;
pub mod oci_image;
pub mod pipeline;
pub mod progress;
pub mod proof;
pub mod registry;
pub mod release;
pub mod rendered_images;
pub mod reproducible;
pub mod scratch;
pub mod store;
pub mod template_reach;
pub mod timings;
pub mod tree_files;
pub mod value_path;
pub mod values_yaml;
pub mod writeback;

pub use error::{Error, Result};
