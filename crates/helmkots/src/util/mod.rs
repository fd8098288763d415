//! TODO
pub mod digest;
pub mod scratch;
pub mod timings;
pub mod tree_files;
pub mod writeback;
