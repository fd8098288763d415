//! Fingerprints: what a step's inputs were when its outputs were last written, so a step
//! whose inputs have not changed is skipped (cargo's `target/*/.fingerprint`, for releases).
//!
//! A fingerprint is a [`Key`] (sha256 over the step's exact inputs, each field framed by its
//! name and length so no two input sets hash alike) and whatever the step needs to reuse its
//! output. They live in [`DIR`] beside the release file, one small JSON file each, written
//! atomically; a missing, unreadable or foreign file is simply a miss, never an error.
//!
//! Outputs are trusted the way cargo trusts `target/`: a file's size and modification time
//! ([`FileStamp`]) must be what they were when it was written. Re-hashing hundreds of MB on
//! every run would cost more than the no-op it is meant to make cheap.

use std::{fs, io::Write, time::UNIX_EPOCH};

use camino::{Utf8Path, Utf8PathBuf};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{IoContext, Result};

/// The fingerprint directory under the release file's folder.
pub(crate) const DIR: &str = "target/helmkots/fingerprints";

/// Bumped whenever what a fingerprint covers changes, so old fingerprints miss.
const FORMAT: &str = "helmkots-fingerprint-2";

/// The hash of a step's inputs, with a digest of each field kept (as cargo keeps the fields
/// of a fingerprint) so that a miss can say which input changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// sha256 over every field, framed.
    digest: String,
    /// Each field's name and the first 16 hex digits of its value's sha256, in the order added.
    fields: Vec<(String, String)>,
}

impl Key {
    /// The names of the fields that differ between `self` (the stored key) and `now`: changed,
    /// added or gone. Empty when the keys are the same.
    pub(crate) fn changed_fields(&self, now: &Key) -> Vec<String> {
        if self.digest == now.digest {
            return Vec::new();
        }
        let before: std::collections::BTreeMap<&str, &str> =
            self.fields.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        let after: std::collections::BTreeMap<&str, &str> =
            now.fields.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        let names: std::collections::BTreeSet<&str> = before
            .keys()
            .chain(after.keys())
            .copied()
            .filter(|name| before.get(name) != after.get(name))
            .collect();
        names.into_iter().map(str::to_string).collect()
    }
}

/// Builds a [`Key`] field by field.
#[derive(Debug, Clone)]
pub(crate) struct KeyBuilder {
    hasher: Sha256,
    fields: Vec<(String, String)>,
}

impl KeyBuilder {
    /// A key for the step `step`.
    pub(crate) fn new(step: &str) -> KeyBuilder {
        let mut builder = KeyBuilder { hasher: Sha256::new(), fields: Vec::new() };
        builder.field("format", FORMAT.as_bytes());
        builder.field("helmkots", env!("CARGO_PKG_VERSION").as_bytes());
        builder.field("step", step.as_bytes());
        builder
    }

    /// Adds a named field; name and value are length-prefixed.
    pub(crate) fn field(&mut self, name: &str, value: &[u8]) -> &mut KeyBuilder {
        for part in [name.as_bytes(), value] {
            self.hasher.update((part.len() as u64).to_le_bytes());
            self.hasher.update(part);
        }
        let value_digest = hex::encode(&Sha256::digest(value)[..8]);
        self.fields.push((name.to_string(), value_digest));
        self
    }

    /// Adds the program that runs the step (its size and modification time): a rebuilt
    /// helmkots may write different bytes, so it invalidates what an older build wrote.
    pub(crate) fn program(&mut self) -> &mut KeyBuilder {
        let stamp = std::env::current_exe()
            .ok()
            .and_then(|exe| Utf8PathBuf::from_path_buf(exe).ok())
            .and_then(|exe| FileStamp::of(&exe).ok());
        let text = stamp.map(|s| format!("{}:{}", s.size, s.mtime_ns)).unwrap_or_default();
        self.field("program", text.as_bytes())
    }

    /// The key.
    pub(crate) fn finish(&self) -> Key {
        Key { digest: hex::encode(self.hasher.clone().finalize()), fields: self.fields.clone() }
    }
}

/// A file as it was when written: size and modification time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// The file.
    pub path: Utf8PathBuf,
    /// Its size.
    pub size: u64,
    /// Its modification time, in nanoseconds since the epoch.
    pub mtime_ns: u128,
}

impl FileStamp {
    /// The stamp of the file at `path` now.
    pub fn of(path: &Utf8Path) -> std::io::Result<FileStamp> {
        let metadata = fs::metadata(path)?;
        let mtime_ns =
            metadata.modified()?.duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        Ok(FileStamp { path: path.to_path_buf(), size: metadata.len(), mtime_ns })
    }

    /// Whether the file is still exactly as stamped.
    pub fn is_current(&self) -> bool {
        FileStamp::of(&self.path).is_ok_and(|now| now == *self)
    }
}

/// The stamps of every file under `dir`, sorted by path.
pub(crate) fn stamp_tree(dir: &Utf8Path) -> Result<Vec<FileStamp>> {
    crate::util::tree_files::tree_files(dir)?
        .iter()
        .map(|file| FileStamp::of(&file.path).io_context("read", &file.path))
        .collect()
}

/// Whether `dir` holds exactly the files of `stamps`, each unchanged.
pub(crate) fn tree_is_current(dir: &Utf8Path, stamps: &[FileStamp]) -> bool {
    stamp_tree(dir).is_ok_and(|now| now == stamps)
}

/// The fingerprint directory of one release file's folder.
#[derive(Debug, Clone)]
pub(crate) struct Fingerprints {
    dir: Utf8PathBuf,
}

/// Why a fingerprint did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Miss {
    /// None was stored, or it cannot be read (an older helmkots wrote it, or it is damaged).
    NoFingerprint,
    /// It was stored under another key: these inputs changed.
    Changed(Vec<String>),
}

/// A stored fingerprint: the key it was written under, and the step's record.
#[derive(Serialize, Deserialize)]
struct Stored<T> {
    key: Key,
    record: T,
}

impl Fingerprints {
    /// The fingerprints of the release whose file lives in `root` (not created until written).
    pub(crate) fn new(root: &Utf8Path) -> Fingerprints {
        Fingerprints { dir: root.join(DIR) }
    }

    /// The record stored as `name`, when it was stored under `key`.
    pub(crate) fn get<T: DeserializeOwned>(&self, name: &str, key: &Key) -> Option<T> {
        self.lookup(name, key).ok()
    }

    /// The record stored as `name` under `key`, or why there is none: no usable fingerprint,
    /// or one stored under another key (with the fields that changed).
    pub(crate) fn lookup<T: DeserializeOwned>(&self, name: &str, key: &Key) -> Result<T, Miss> {
        let text = fs::read(self.dir.join(format!("{name}.json"))).map_err(|_| Miss::NoFingerprint)?;
        let stored: Stored<T> = serde_json::from_slice(&text).map_err(|_| Miss::NoFingerprint)?;
        if stored.key == *key {
            Ok(stored.record)
        } else {
            Err(Miss::Changed(stored.key.changed_fields(key)))
        }
    }

    /// Stores `record` as `name` under `key`, replacing what was there (written to a temporary
    /// file and renamed, so a killed run leaves the old fingerprint or the new one).
    pub(crate) fn put<T: Serialize>(&self, name: &str, key: &Key, record: &T) -> Result<()> {
        fs::create_dir_all(&self.dir).io_context("create", &self.dir)?;
        let path = self.dir.join(format!("{name}.json"));
        let text = serde_json::to_vec_pretty(&Stored { key: key.clone(), record })
            .map_err(|error| crate::error::Error::internal("cannot serialise a fingerprint", error))?;
        let mut temp = tempfile::NamedTempFile::new_in(&self.dir).io_context("create", &self.dir)?;
        temp.write_all(&text).io_context("write", &path)?;
        temp.persist(&path).map_err(|error| error.error).io_context("write", &path)?;
        Ok(())
    }

    /// Forgets `name` (its output is gone or about to change).
    pub(crate) fn remove(&self, name: &str) {
        let _ = fs::remove_file(self.dir.join(format!("{name}.json")));
    }
}

/// A short, file-name-safe hash of `text` (to name a fingerprint after, e.g., an output path).
pub(crate) fn name_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_framed() {
        let a = KeyBuilder::new("s").field("a", b"bc").finish();
        let b = KeyBuilder::new("s").field("ab", b"c").finish();
        assert_ne!(a, b);
        assert_eq!(a, KeyBuilder::new("s").field("a", b"bc").finish());
        assert_ne!(a, KeyBuilder::new("t").field("a", b"bc").finish());
    }

    #[test]
    fn a_miss_names_the_fields_that_changed() {
        let temp = tempfile::tempdir().unwrap();
        let prints = Fingerprints::new(Utf8Path::from_path(temp.path()).unwrap());
        let before = KeyBuilder::new("s").field("release-file", b"a").field("values.yaml", b"x").finish();
        assert_eq!(prints.lookup::<u32>("x", &before), Err(Miss::NoFingerprint));
        prints.put("x", &before, &1u32).unwrap();
        let now = KeyBuilder::new("s")
            .field("release-file", b"a")
            .field("values.yaml", b"y")
            .field("new", b"")
            .finish();
        assert_eq!(
            prints.lookup::<u32>("x", &now),
            Err(Miss::Changed(vec!["new".into(), "values.yaml".into()]))
        );
        assert_eq!(prints.lookup::<u32>("x", &before), Ok(1));
    }

    #[test]
    fn a_record_is_returned_only_for_its_key_and_garbage_is_a_miss() {
        let temp = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(temp.path()).unwrap();
        let prints = Fingerprints::new(root);
        let key = KeyBuilder::new("s").finish();
        let other = KeyBuilder::new("t").finish();
        assert_eq!(prints.get::<u32>("x", &key), None);
        prints.put("x", &key, &7u32).unwrap();
        assert_eq!(prints.get::<u32>("x", &key), Some(7));
        assert_eq!(prints.get::<u32>("x", &other), None);
        fs::write(root.join(DIR).join("x.json"), b"{not json").unwrap();
        assert_eq!(prints.get::<u32>("x", &key), None);
    }

    #[test]
    fn a_touched_or_extra_file_makes_a_tree_stale() {
        let temp = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(temp.path()).unwrap();
        fs::write(dir.join("a"), b"1").unwrap();
        let stamps = stamp_tree(dir).unwrap();
        assert!(tree_is_current(dir, &stamps));
        fs::write(dir.join("b"), b"2").unwrap();
        assert!(!tree_is_current(dir, &stamps));
        fs::remove_file(dir.join("b")).unwrap();
        fs::write(dir.join("a"), b"22").unwrap();
        assert!(!tree_is_current(dir, &stamps));
    }
}
