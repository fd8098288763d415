//! `cargo xtask bench`: run the benchmark crate `crates/helmkots-bench` in release mode.
//!
//! The bench measures `release` (cold, no-op, one config change) against `skopeo copy` of
//! the same images, and the bundle at several gzip levels; it needs a local registry and
//! `skopeo` (the same Debian packages as the end-to-end tests). It is not a test: CI does
//! not run it. Results go to stdout and `target/helmkots-bench/report.json`.

use std::process::ExitCode;

use camino::Utf8Path;
use xshell::{cmd, Shell};

/// Runs `$CARGO run --release -p helmkots-bench -- <args>` from the repository root.
pub fn run(root: &Utf8Path, args: &[String]) -> anyhow::Result<ExitCode> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = cmd!(sh, "{cargo} run --release -p helmkots-bench -- {args...}").quiet();
    // `cargo xtask` runs us through `cargo run`, which sets the variables of the xtask
    // package (`CARGO_MANIFEST_DIR`, `OUT_DIR`, ...); a nested cargo that inherits them
    // rebuilds ring (its build script tracks both) and everything above it.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                name.as_str(),
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE" | "OUT_DIR"
            )
        {
            command = command.env_remove(name);
        }
    }
    let status = command.run();
    Ok(if status.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
