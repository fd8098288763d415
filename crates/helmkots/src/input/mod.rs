//! TODO
pub mod chart;
pub mod helmignore;
pub mod image_ref;
pub mod release;
pub mod value_path;
