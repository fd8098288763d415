//! TODO
pub mod build_record;
pub(crate) mod fingerprint;
pub mod reproducible;
pub(crate) mod tree;
