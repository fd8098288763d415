//! The local content-addressed store that pulled images live in, shared by every release:
//! `<root>/blobs/sha256/<hex>`, like an OCI layout's `blobs/`.
//!
//! A blob enters only complete and verified: it is written to `<root>/tmp/`, hashed while
//! written, synced, checked against the digest it was asked for, then renamed into place.
//! So the store never holds a blob whose bytes do not match its name, even after `kill -9`.
//! The default root is `target/helmkots-store/` beside the release file (cargo's own
//! build directory, so `cargo clean` empties it).

use std::{
    fs::{self, File},
    io::{self, Write},
};

use camino::{Utf8Path, Utf8PathBuf};

use crate::{
    digest::{HashingWriter, Sha256Digest},
    error::{Error, IoContext, Result},
};

/// The store directory under the release file's folder.
pub const DEFAULT_DIR: &str = "target/helmkots-store";

/// A content-addressed blob store.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: Utf8PathBuf,
}

impl BlobStore {
    /// Opens (creating) a store at `root`.
    pub fn open(root: &Utf8Path) -> Result<BlobStore> {
        for dir in [root.join("blobs/sha256"), root.join("tmp")] {
            fs::create_dir_all(&dir).io_context("create", &dir)?;
        }
        Ok(BlobStore { root: root.to_path_buf() })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Utf8Path {
        &self.root
    }

    /// Where a blob lives (whether or not it is there).
    pub fn path(&self, digest: &Sha256Digest) -> Utf8PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// Whether the blob is in the store.
    pub fn contains(&self, digest: &Sha256Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Reads a (small) blob.
    pub fn read(&self, digest: &Sha256Digest) -> Result<Vec<u8>> {
        let path = self.path(digest);
        fs::read(&path).io_context("read", &path)
    }

    /// Adds bytes whose digest is computed here; returns it.
    pub fn insert_bytes(&self, bytes: &[u8]) -> Result<Sha256Digest> {
        let digest = Sha256Digest::of(bytes);
        if !self.contains(&digest) {
            let mut writer = self.writer()?;
            writer.write_all(bytes).io_context("write", writer.temp_path().to_path_buf())?;
            writer.commit(&digest)?;
        }
        Ok(digest)
    }

    /// A writer for a new blob; call [`BlobWriter::commit`] with the expected digest.
    pub fn writer(&self) -> Result<BlobWriter> {
        let temp = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(self.root.join("tmp"))
            .io_context("create", self.root.join("tmp"))?;
        let temp_path = Utf8PathBuf::from_path_buf(temp.path().to_path_buf())
            .map_err(|p| Error::NonUtf8Path(p.display().to_string()))?;
        Ok(BlobWriter { hashing: HashingWriter::new(temp), temp_path, store: self.clone() })
    }
}

/// A blob being written into the store.
#[derive(Debug)]
pub struct BlobWriter {
    hashing: HashingWriter<tempfile::NamedTempFile>,
    temp_path: Utf8PathBuf,
    store: BlobStore,
}

/// The bytes written do not hash to the digest they were fetched as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("blob content is {actual}, expected {expected}")]
pub struct StoreMismatch {
    /// The digest asked for.
    pub expected: String,
    /// The digest of what was written.
    pub actual: String,
}

impl BlobWriter {
    /// The temporary file (for error messages).
    pub fn temp_path(&self) -> &Utf8Path {
        &self.temp_path
    }

    /// Verifies, syncs and renames the blob into place; a mismatch deletes it.
    pub fn commit(self, expected: &Sha256Digest) -> Result<Sha256Digest, CommitError> {
        let (actual, temp, _) = self.hashing.finish();
        if actual != *expected {
            return Err(CommitError::Mismatch(StoreMismatch {
                expected: expected.oci(),
                actual: actual.oci(),
            }));
        }
        temp.as_file().sync_all().map_err(CommitError::Io)?;
        let target = self.store.path(expected);
        temp.persist(&target).map_err(|error| CommitError::Io(error.error))?;
        Ok(actual)
    }
}

/// Why a blob could not be committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The content does not match the digest.
    #[error(transparent)]
    Mismatch(StoreMismatch),
    /// The file could not be synced or renamed.
    #[error("cannot store blob: {0}")]
    Io(#[source] io::Error),
}

impl From<CommitError> for Error {
    fn from(error: CommitError) -> Error {
        match error {
            CommitError::Mismatch(mismatch) => Error::Internal(mismatch.to_string()),
            CommitError::Io(source) => Error::Io { action: "store", path: Utf8PathBuf::from("blob"), source },
        }
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hashing.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.hashing.flush()
    }
}

/// Opens a stored blob for streaming.
pub fn open_blob(store: &BlobStore, digest: &Sha256Digest) -> Result<File> {
    let path = store.path(digest);
    File::open(&path).io_context("open", &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_verifies_and_refuses_wrong_bytes() {
        let temp = tempfile::tempdir().unwrap();
        let store = BlobStore::open(Utf8Path::from_path(temp.path()).unwrap()).unwrap();
        let digest = store.insert_bytes(b"hello").unwrap();
        assert!(store.contains(&digest));
        assert_eq!(store.read(&digest).unwrap(), b"hello");
        let mut writer = store.writer().unwrap();
        writer.write_all(b"not hello").unwrap();
        let wrong = Sha256Digest::of(b"other");
        assert!(matches!(writer.commit(&wrong), Err(CommitError::Mismatch(_))));
        assert!(!store.contains(&wrong));
        assert_eq!(fs::read_dir(temp.path().join("tmp")).unwrap().count(), 0);
    }
}
