//! helmkots: turn one declarative `release.toml` and a Helm chart into a complete,
//! airgap-ready Replicated KOTS release that deploys the chart through the Helm CLI.
//!
//! The data flows one way (see ARCHITECTURE.md), and the folders follow it:
//! [`commands`] (one file a task) read the vendor's files through `input/`, plan every output
//! in `plan/` (pure), render and prove it through Helm (`render/`, [`proof`]), pull, build and
//! push images in `oci/`, and write the tree and the bundle in `output/`; `util/` holds what
//! every folder may use.
//! The engine returns data and typed errors; only the `xtask` CLI prints.
#![deny(missing_docs)]

pub mod commands;
pub mod diagnostic;
pub mod error;
pub mod input;
pub mod oci;
pub mod output;
pub mod plan;
pub mod progress;
pub mod proof;
pub mod render;
pub mod util;

pub use error::{Error, Result};
