//! TODO
pub mod digest;
pub mod scratch;
pub mod timings;
pub(crate) mod tree_files;
pub(crate) mod writeback;
