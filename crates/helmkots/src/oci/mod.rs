//! TODO
pub mod airgap;
pub mod image;
pub mod image_lock;
pub mod registry;
pub(crate) mod store;
