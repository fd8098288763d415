//! TODO
pub(crate) mod conventions;
pub mod discover;
pub(crate) mod image_routing;
pub(crate) mod kots;
pub mod kots_template;
pub(crate) mod values_yaml;
