//! helmkots: turn one declarative `release.toml` and a Helm chart into a complete,
//! airgap-ready Replicated KOTS release that deploys the chart through the Helm CLI.
//!
//! The data flows one way (see ARCHITECTURE.md), and the folders follow it:
//! [`commands`] (one file a task) read the vendor's files through `input/`, plan every output
//! in `plan/` (pure), render and prove it through Helm (`render/`, [`proof`]), pull, build and
//! push images in `oci/`, and write the tree and the bundle in `output/`; `util/` holds what
//! every folder may use.
//! The engine returns data and typed errors; only the `xtask` CLI prints.
//!
//! The public API is what the CLI uses: [`commands`] (each task's function, options and
//! report types), [`error`], [`diagnostic`], [`progress`], and the process-wide [`scratch`]
//! folder and [`timings`]. Everything else is crate-private, but for [`internals`], the one
//! marked boundary the benchmark and the tests reach through.
#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod commands;
pub mod diagnostic;
pub mod error;
pub mod progress;

mod input;
mod oci;
mod output;
mod plan;
mod proof;
mod render;
mod util;

pub use error::{Error, Result};
pub use util::{scratch, timings};

/// What the benchmark (`crates/helmkots-bench`) and the tests drive below the commands: the
/// parsers the hostile-input tests attack, and the image, registry and archive pieces their
/// fixtures build test images and registries with. Not an API: it follows the engine's
/// folders and changes with them.
#[doc(hidden)]
pub mod internals {
    /// Reading what the vendor wrote.
    pub mod input {
        pub use crate::input::{chart, helmignore, image_ref, release, value_path};
    }
    /// Discovery and the KOTS template evaluator.
    pub mod plan {
        pub use crate::plan::{discover, kots_template};
    }
    /// Registries, images, the store and the bundle.
    pub mod oci {
        pub use crate::oci::{airgap, image, image_lock, registry, store};
    }
    /// Build record and reproducible archives.
    pub mod output {
        pub use crate::output::build_record;
    }
    /// The Helm boundary.
    pub mod render {
        pub use crate::render::helm_template;
    }
    /// Digests.
    pub mod util {
        pub use crate::util::{digest, reproducible};
    }
}
