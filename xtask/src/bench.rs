//! `cargo xtask bench`: run the benchmark crate `crates/helmkots-bench`.
//!
//! It runs in the dev profile, like the `xtask` it measures, so the release and the floor it
//! is compared with are built alike. The bench measures `release` (cold, no-op, one config
//! change) against the floor (fetching and hashing the bytes once) and `skopeo copy` of the
//! same images, and the bundle at several gzip levels; it needs a local registry and `skopeo`
//! (the same Debian packages as the end-to-end tests). It is not a test: CI does not run it.
//! Results go to stdout and `target/helmkots-bench/report.json`.

use std::process::ExitCode;

use camino::Utf8Path;
use xshell::{cmd, Shell};

/// Runs `$CARGO run -p helmkots-bench -- <args>` from the repository root.
pub fn run(root: &Utf8Path, args: &[String]) -> anyhow::Result<ExitCode> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let cargo = crate::nested_cargo::cargo();
    let command = cmd!(sh, "{cargo} run -p helmkots-bench -- {args...}").quiet();
    // Run as a std Command: xshell gives a child a null stdin, and `--serve` waits on stdin.
    let mut command = std::process::Command::from(crate::nested_cargo::without_package_env(command));
    let status = command.status();
    Ok(if status.is_ok_and(|status| status.success()) { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
