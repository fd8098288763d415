//! What every folder may use and that imports no folder: digests, reproducible archives,
//! timings, the scratch folder, the directory walk, writeback.

pub mod digest;
pub(crate) mod paths;
pub mod reproducible;
pub mod scratch;
pub mod timings;
pub(crate) mod tree_files;
pub(crate) mod writeback;
