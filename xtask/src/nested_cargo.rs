//! Running cargo from inside `cargo xtask`.
//!
//! `cargo run` sets the variables of the xtask package (`CARGO_MANIFEST_DIR`, `OUT_DIR`, ...);
//! a nested cargo that inherits them rebuilds every crate whose build script tracks them
//! (ring, and everything above it). So they are removed before cargo runs again.

use xshell::Cmd;

/// `cmd` without the package variables `cargo run` set for xtask itself.
pub fn without_package_env(mut cmd: Cmd<'_>) -> Cmd<'_> {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                name.as_str(),
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE" | "OUT_DIR"
            )
        {
            cmd = cmd.env_remove(name);
        }
    }
    cmd
}

/// The cargo that runs us.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}
