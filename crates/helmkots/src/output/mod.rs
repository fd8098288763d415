//! What helmkots writes into the out dir and reads back: the release tree and its atomic
//! replace ([`tree`], the only module that names staging files there and sweeps what killed
//! runs left), the build record, and the fingerprints of incremental releases.

pub mod build_record;
pub(crate) mod fingerprint;

pub(crate) mod tree;
