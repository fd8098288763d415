//! One file a command: each `pub fn` here is what one `cargo xtask` task calls, with its
//! options and report types beside it (as cargo's `ops/`). The stages they share (check,
//! images, plan, prove, online) are files of their own, called by the commands that need them.
//!
//! Architecture Invariant: only this folder sequences stages; every other folder is a
//! function of its inputs (`input/`, `plan/`, `render/`, `proof/`) or one kind of I/O (`oci/`,
//! `output/`), and none of them imports from here.

mod check;
pub mod clean;
mod image;
mod images;
pub mod init;
pub mod inspect;
mod lock;
mod online;
mod plan;
mod preview;
mod prove;
mod release;
mod verify;

pub use check::{chart_path, check, validate, Checked, Validated};
pub use image::{image, ImageOptions, ImageOutcome};
pub use images::{image_sizes, images, DiscoveryError};
pub use lock::lock_images;
pub use plan::{plan, Plan, MANIFESTS_DIR};
pub use preview::{preview, Preview, PreviewError, PreviewOptions};
pub use prove::{prove_bundle, prove_tree};
pub use release::{release, ReleaseOptions, ReleaseOutcome, RerunReason};
pub use verify::verify;

// The report types of the commands, where the CLI finds them.
pub use crate::input::image_ref::{ImageRef, ImageRefError, ImageRefErrorKind};
pub use crate::oci::airgap::verify::VerifyReport;
pub use crate::oci::image_lock::FILE_NAME as IMAGE_LOCK_FILE;
pub use crate::output::build_record::{BuildRecord, FILE_NAME as BUILD_RECORD_FILE};
pub use crate::output::tree::{check_checksums, CHECKSUMS_FILE};
pub use crate::plan::discover::DiscoveryProblem;
pub use crate::plan::discover::{
    DiscoveredImage, DiscoveryProblemKind, FoundBy, ImageSet, ImageShape, ImageSource, ProblemSite,
};
pub use crate::plan::kots::RenderError as ManifestRenderError;
pub use crate::plan::kots_template::{ContextError, TemplateError};
pub use crate::proof::{Coverage, ProofError, ProofFailure, ProofReport};
