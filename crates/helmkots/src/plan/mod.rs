//! TODO
pub mod conventions;
pub mod discover;
pub mod image_routing;
pub mod kots;
pub mod kots_template;
pub mod values_yaml;
