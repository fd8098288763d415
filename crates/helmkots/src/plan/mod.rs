//! Pure planning: image discovery, routing, the Helm values and the KOTS manifests, and the
//! KOTS template evaluator. No file, process or network I/O of its own: rendered discovery
//! reaches Helm through `render/` (checked by `tests/engine/tidy.rs`).

pub(crate) mod conventions;
pub mod discover;
pub(crate) mod image_routing;
pub(crate) mod kots;
pub mod kots_template;
pub(crate) mod values_yaml;
