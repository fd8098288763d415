//! The end-to-end tests: one binary (as ripgrep's `tests/tests.rs` and cargo's
//! `tests/testsuite/main.rs`), one module a subject, linked once. Shared helpers are the
//! `helmkots_e2e` library (`tests/src/`: test dirs and commands, the registry, the fault
//! proxy), which the benchmark shares. Run one subject with `cargo test -p helmkots-e2e
//! corpus::` (or any part of a test's path).

mod airgap;
mod chart_metadata;
mod cli;
mod cli_errors;
mod corpus;
mod init;
mod inspect_clean;
mod manifests;
mod proof;
mod readme_contract;
mod registry_faults;
mod registry_image;
mod release_offline;
mod rendered_discovery;
mod secrets;
mod walkthrough;
