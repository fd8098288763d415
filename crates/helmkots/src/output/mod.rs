//! TODO
pub mod build_record;
pub mod fingerprint;
pub mod reproducible;
pub mod tree;
