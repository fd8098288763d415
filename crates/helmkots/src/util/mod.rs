//! What every folder may use and that imports no folder: digests, a file hashed while it is
//! written, file ranges read in pieces, the work queue, reproducible archives, timings, the
//! scratch folder, the directory walk, writeback.

pub mod digest;
pub(crate) mod file_range;
pub(crate) mod hashed_file;
pub(crate) mod parallel;
pub(crate) mod paths;
pub mod reproducible;
pub mod scratch;
pub mod timings;
pub(crate) mod tree_files;
pub(crate) mod writeback;
