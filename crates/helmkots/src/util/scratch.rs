//! The one temporary directory of a run: `$TMPDIR/helmkots-<pid>-XXXXXX/`.
//!
//! Every temporary file and folder the engine makes (the values files `helm template` reads,
//! the charts the proof and rendered discovery extract, the blobs a push stages, a bundle's
//! head unpacked for `verify --proof`) goes through the `tempfile` crate. [`enter`] makes this
//! directory `tempfile`'s default, so all of them land inside it without any caller passing a
//! folder around, and so does every temporary file a dependency makes through `tempfile`.
//! Removing the one directory ([`remove`]) then removes whatever a run interrupted at any
//! moment (Ctrl-C) left behind; the CLI does that from its signal handler.
//!
//! Architecture Invariant: the engine creates temporary files only through `tempfile`'s
//! default folder (never `std::env::temp_dir()` joined by hand), so that this module sees them.

use std::sync::OnceLock;

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{Error, IoContext, Result};

/// The start of every scratch directory's name, followed by the process id.
pub const PREFIX: &str = "helmkots-";

static DIR: OnceLock<Utf8PathBuf> = OnceLock::new();

/// Creates this process's scratch directory in the system's temporary folder (`TMPDIR`) and
/// makes it the default folder of every later temporary file. Calling it again returns the
/// same directory.
pub fn enter() -> Result<Utf8PathBuf> {
    if let Some(dir) = DIR.get() {
        return Ok(dir.clone());
    }
    let base = std::env::temp_dir();
    let base = Utf8PathBuf::from_path_buf(base).map_err(|p| Error::NonUtf8Path(p.display().to_string()))?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("{PREFIX}{}-", std::process::id()))
        .tempdir_in(&base)
        .io_context("create", &base)?
        .keep();
    let dir = Utf8PathBuf::from_path_buf(dir).map_err(|p| Error::NonUtf8Path(p.display().to_string()))?;
    if let Err(other) = tempfile::env::override_temp_dir(dir.as_std_path()) {
        let _ = std::fs::remove_dir(&dir);
        return Err(Error::bug(format!(
            "the default temporary folder was already set to {}",
            other.display()
        )));
    }
    Ok(DIR.get_or_init(|| dir).clone())
}

/// This process's scratch directory, once [`enter`] made it.
pub fn current() -> Option<&'static Utf8Path> {
    DIR.get().map(Utf8PathBuf::as_path)
}

/// Removes the scratch directory and everything in it, best effort. Other threads of an
/// interrupted run may still be creating files in it, which makes one removal fail with
/// "directory not empty", so it is tried a few times.
pub fn remove() {
    let Some(dir) = current() else { return };
    for _ in 0..20 {
        match std::fs::remove_dir_all(dir) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            _ => return,
        }
    }
}

/// The scratch directories in the system's temporary folder of runs that have ended without
/// removing theirs (killed with `kill -9`): their process is gone. Only where `/proc` tells
/// which processes run (Linux); elsewhere none are found.
pub fn orphans() -> Vec<Utf8PathBuf> {
    let proc = std::path::Path::new("/proc/self");
    if !proc.exists() {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return Vec::new() };
    let mut found: Vec<Utf8PathBuf> = entries
        .flatten()
        .filter_map(|entry| Utf8PathBuf::from_path_buf(entry.path()).ok())
        .filter(|path| {
            let pid = path.file_name().and_then(|name| name.strip_prefix(PREFIX)?.split('-').next());
            pid.and_then(|pid| pid.parse::<u32>().ok()).is_some_and(|pid| {
                pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            }) && path.is_dir()
        })
        .collect();
    found.sort();
    found
}
