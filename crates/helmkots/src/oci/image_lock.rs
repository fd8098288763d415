//! `helmkots.lock`: every image reference the release uses, pinned to the digest it resolved
//! to (manifest or index), like `Cargo.lock`. Committed by the vendor; `release` pulls the
//! locked digests, so a release is reproducible from the lock even after upstream tags move;
//! `cargo xtask lock --update` re-resolves every reference.
//!
//! It also records what rendered discovery found (`rendered`), under a digest of everything
//! the renders depend on: a run without Helm uses that record when the digest still matches,
//! so a checkout makes the same release tree with Helm on PATH and without it.

use std::collections::BTreeMap;

use camino::Utf8Path;
use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, IoContext, Result},
    util::digest::Sha256Digest,
};

/// The lock file's name, at the folder of the release file.
pub const FILE_NAME: &str = crate::input::IMAGE_LOCK_FILE;

pub(crate) use crate::plan::discover::rendered::RenderedRecord;

/// The lock's schema version.
pub const VERSION: u32 = 1;

/// The whole lock file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageLock {
    /// [`VERSION`].
    pub version: u32,
    /// Normalised reference → digest (`sha256:<hex>`), sorted.
    pub images: BTreeMap<String, String>,
    /// What rendered discovery found, so that a checkout without Helm makes the same release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered: Option<RenderedRecord>,
}

impl ImageLock {
    /// Reads the lock; a missing file is an empty lock.
    pub fn read(path: &Utf8Path) -> Result<ImageLock> {
        if !path.exists() {
            return Ok(ImageLock { version: VERSION, images: BTreeMap::new(), rendered: None });
        }
        let text = std::fs::read_to_string(path).io_context("read", path)?;
        serde_json::from_str(&text).map_err(|error| Error::File {
            path: path.to_path_buf(),
            reason: format!("not a valid lock file: {error}"),
            help: Some(format!("delete it and run `cargo xtask lock --update` to write a new {FILE_NAME}")),
        })
    }

    /// The locked digest of a normalised reference.
    pub fn get(&self, reference: &str) -> Option<Sha256Digest> {
        Sha256Digest::parse(self.images.get(reference)?)
    }

    /// Pins a reference.
    pub fn set(&mut self, reference: &str, digest: &Sha256Digest) {
        self.images.insert(reference.to_string(), digest.oci());
    }

    /// Drops every reference the release no longer uses (as cargo drops unused packages from
    /// `Cargo.lock`), so the lock lists exactly what the release pulls.
    pub fn retain_only<'a>(&mut self, used: impl IntoIterator<Item = &'a str>) {
        let used: std::collections::BTreeSet<&str> = used.into_iter().collect();
        self.images.retain(|reference, _| used.contains(reference.as_str()));
    }

    /// Writes the lock atomically (temporary file, then rename), only when it changed.
    pub fn write(&self, path: &Utf8Path) -> Result<bool> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::internal("cannot serialise helmkots.lock", e))?;
        text.push('\n');
        if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
            return Ok(false);
        }
        crate::output::tree::write_file_atomically(path, text.as_bytes())?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn the_lock_is_written_readable_as_a_committed_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = camino::Utf8PathBuf::from_path_buf(dir.path().join(super::FILE_NAME)).unwrap();
        let mut lock = super::ImageLock::default();
        lock.images.insert("docker.io/library/a:1".into(), format!("sha256:{}", "a".repeat(64)));
        lock.write(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
    }

    use super::*;

    #[test]
    fn unused_references_are_dropped() {
        let mut lock = ImageLock { version: VERSION, images: BTreeMap::new(), rendered: None };
        lock.set("docker.io/library/a:1", &Sha256Digest::of(b"a"));
        lock.set("docker.io/library/b:1", &Sha256Digest::of(b"b"));
        lock.retain_only(["docker.io/library/b:1", "docker.io/library/c:1"]);
        assert_eq!(lock.images.keys().collect::<Vec<_>>(), ["docker.io/library/b:1"]);
    }
}
