//! Registries, images and the store: the registry client, the helm-cli image, the
//! content-addressed blob store, the pull and the airgap bundle, and `helmkots.lock`.

pub mod airgap;
pub mod image;
pub mod image_lock;
pub mod registry;
pub mod store;
