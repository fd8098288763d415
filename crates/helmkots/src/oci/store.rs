//! The local content-addressed store that pulled images live in, shared by every release:
//! `<root>/blobs/sha256/<hex>`, like an OCI layout's `blobs/`.
//!
//! A blob enters only complete and verified: it is written to `<root>/tmp/`, hashed while
//! written, synced, checked against the digest it was asked for, then renamed into place.
//! So the store never holds a blob whose bytes do not match its name, even after `kill -9`.
//!
//! A download that may be cut short goes through a [`PartialBlob`] instead: the bytes stay in
//! `<root>/partial/<hex>` across attempts and runs, under an exclusive lock while a process
//! appends to them, and the next attempt re-hashes that prefix and asks the registry for the
//! rest. The whole blob is verified before the rename into `blobs/`, so a partial file is
//! never mistaken for a blob ([`BlobStore::contains`] sees `blobs/` only).
//! The default root is `target/helmkots-store/` beside the release file (cargo's own
//! build directory, so `cargo clean` empties it).

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Read, Seek, SeekFrom, Write},
};

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest as _, Sha256};

use crate::{
    error::{Error, IoContext, Result},
    util::digest::{HashingWriter, Sha256Digest},
    util::timings::{self, Stage},
    util::writeback,
};

/// How long a private temporary download may sit untouched before [`BlobStore::sweep`]
/// removes it.
pub(crate) const TMP_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// How long a partial download may sit untouched before [`BlobStore::sweep`] removes it.
pub(crate) const PARTIAL_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 60 * 60);

/// The store directory under the release file's folder.
pub(crate) const DEFAULT_DIR: &str = "target/helmkots-store";

/// A content-addressed blob store.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: Utf8PathBuf,
}

impl BlobStore {
    /// Opens (creating) a store at `root`.
    pub fn open(root: &Utf8Path) -> Result<BlobStore> {
        for dir in [root.join("blobs/sha256"), root.join("tmp"), root.join("partial")] {
            fs::create_dir_all(&dir).io_context("create", &dir)?;
        }
        let store = BlobStore { root: root.to_path_buf() };
        store.sweep(std::time::SystemTime::now());
        Ok(store)
    }

    /// The store at `root` when one is there, for reading only: nothing is created or swept.
    pub fn existing(root: &Utf8Path) -> Option<BlobStore> {
        root.join("blobs/sha256").is_dir().then(|| BlobStore { root: root.to_path_buf() })
    }

    /// Removes what killed or abandoned downloads left behind, best effort: private temporary
    /// files untouched for [`TMP_MAX_AGE`] (a live download writes to its file all along),
    /// and partial downloads untouched for [`PARTIAL_MAX_AGE`] that no process holds locked
    /// (a blob nobody asked for in that long is unlikely to be asked for again).
    pub fn sweep(&self, now: std::time::SystemTime) {
        let stale = |entry: &fs::DirEntry, max_age: std::time::Duration| {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| now.duration_since(modified).is_ok_and(|age| age > max_age))
        };
        for entry in fs::read_dir(self.root.join("tmp")).into_iter().flatten().flatten() {
            if stale(&entry, TMP_MAX_AGE) {
                let _ = fs::remove_file(entry.path());
            }
        }
        for entry in fs::read_dir(self.root.join("partial")).into_iter().flatten().flatten() {
            if !stale(&entry, PARTIAL_MAX_AGE) {
                continue;
            }
            let Ok(file) = OpenOptions::new().write(true).open(entry.path()) else { continue };
            if fs4::fs_std::FileExt::try_lock_exclusive(&file).unwrap_or(false) {
                let _ = fs::remove_file(entry.path());
            }
        }
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
        Ok(BlobWriter {
            hashing: HashingWriter::new(temp).timed_as(Stage::Verify),
            temp_path,
            store: self.clone(),
        })
    }
}

impl BlobStore {
    /// Where the partial download of a blob lives (whether or not it is there).
    pub fn partial_path(&self, digest: &Sha256Digest) -> Utf8PathBuf {
        self.root.join("partial").join(digest.hex())
    }

    /// Opens the partial download of a blob of `size` bytes, creating it empty, and locks it
    /// for this process. What was there is re-hashed, so [`PartialBlob::offset`] is where the
    /// download continues; a partial file longer than `size` starts over.
    pub fn open_partial(&self, digest: &Sha256Digest, size: u64) -> Result<Partial> {
        let path = self.partial_path(digest);
        // Another process may rename the file into `blobs/` (or delete it) between our open
        // and our lock; then the lock is on a file that is no longer the partial: try again.
        for _ in 0..5 {
            if self.contains(digest) {
                return Ok(Partial::Stored);
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .io_context("open", &path)?;
            if !fs4::fs_std::FileExt::try_lock_exclusive(&file).io_context("lock", &path)? {
                return Ok(Partial::Busy);
            }
            if !same_file(&file, &path) {
                continue;
            }
            if self.contains(digest) {
                // Committed by another process after our first look; drop what we created.
                fs::remove_file(&path).io_context("remove", &path)?;
                return Ok(Partial::Stored);
            }
            let mut partial = PartialBlob {
                file,
                path,
                digest: *digest,
                hasher: Sha256::new(),
                len: 0,
                writeback: writeback::Progress::default(),
                store: self.clone(),
            };
            partial.rehash(size).io_context("read", partial.path.clone())?;
            return Ok(Partial::Open(Box::new(partial)));
        }
        Ok(Partial::Busy)
    }
}

/// What [`BlobStore::open_partial`] found.
#[derive(Debug)]
pub enum Partial {
    /// The partial download, locked for this process (boxed: it holds a whole hasher).
    Open(Box<PartialBlob>),
    /// Another process is downloading this blob right now.
    Busy,
    /// The blob is already in the store.
    Stored,
}

/// Whether `file` is (still) the file at `path`.
#[cfg(unix)]
fn same_file(file: &File, path: &Utf8Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

/// Whether `file` is (still) the file at `path`: without inode numbers, whether a file is
/// there at all (Windows does not rename or delete open files anyway).
#[cfg(not(unix))]
fn same_file(_file: &File, path: &Utf8Path) -> bool {
    path.is_file()
}

/// A blob being downloaded into `<root>/partial/<hex>`, locked by this process until dropped.
/// Writes append and are hashed; [`PartialBlob::commit`] verifies the whole blob and renames
/// it into place.
#[derive(Debug)]
pub struct PartialBlob {
    file: File,
    path: Utf8PathBuf,
    digest: Sha256Digest,
    hasher: Sha256,
    len: u64,
    /// Writeback of the appended bytes starts as they arrive, so the sync in
    /// [`PartialBlob::commit`] waits for little.
    writeback: writeback::Progress,
    store: BlobStore,
}

impl PartialBlob {
    /// How many bytes are already there: where the download continues.
    pub fn offset(&self) -> u64 {
        self.len
    }

    /// The partial file (for error messages).
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// Hashes what is in the file; starts over when it is longer than `size`.
    fn rehash(&mut self, size: u64) -> io::Result<()> {
        let length = self.file.metadata()?.len();
        if length > size {
            return self.restart();
        }
        self.file.seek(SeekFrom::Start(0))?;
        let mut buffer = vec![0u8; 64 * 1024];
        let mut read_total = 0u64;
        loop {
            match self.file.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => {
                    timings::timed(Stage::Verify, || self.hasher.update(&buffer[..read]));
                    read_total += read as u64;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        self.len = read_total;
        self.file.seek(SeekFrom::Start(read_total))?;
        Ok(())
    }

    /// Throws away what was downloaded (the registry sent the whole blob, or the resumed
    /// blob did not verify).
    pub fn restart(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.hasher = Sha256::new();
        self.len = 0;
        self.writeback.truncated_to(0);
        Ok(())
    }

    /// Deletes the partial file (its bytes are known to be wrong).
    pub fn discard(self) -> io::Result<()> {
        // Still locked: nobody else appends to it while it goes.
        fs::remove_file(&self.path)
    }

    /// Verifies, syncs and renames the blob into place. A mismatch deletes the partial file,
    /// so the next attempt starts from zero.
    pub fn commit(self) -> Result<Sha256Digest, CommitError> {
        let actual = Sha256Digest(timings::timed(Stage::Verify, || self.hasher.finalize()).into());
        if actual != self.digest {
            // Still locked: nobody else appends to it while it goes.
            let _ = fs::remove_file(&self.path);
            return Err(CommitError::Mismatch(StoreMismatch {
                expected: self.digest.oci(),
                actual: actual.oci(),
            }));
        }
        let _span = timings::span(Stage::StoreWrite);
        self.file.sync_all().map_err(CommitError::Io)?;
        let target = self.store.path(&self.digest);
        fs::rename(&self.path, &target).map_err(CommitError::Io)?;
        Ok(actual)
    }
}

impl Write for PartialBlob {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = timings::timed(Stage::StoreWrite, || self.file.write(buf))?;
        timings::timed(Stage::Verify, || self.hasher.update(&buf[..written]));
        self.len += written as u64;
        self.writeback.wrote_up_to(&self.file, self.len);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
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
        let _span = timings::span(Stage::StoreWrite);
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
            CommitError::Mismatch(mismatch) => {
                Error::internal("a blob changed between its check and its commit", mismatch)
            }
            CommitError::Io(source) => Error::Io { action: "store", path: Utf8PathBuf::from("blob"), source },
        }
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        timings::timed(Stage::StoreWrite, || self.hashing.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.hashing.flush()
    }
}

/// Opens a stored blob for streaming.
pub(crate) fn open_blob(store: &BlobStore, digest: &Sha256Digest) -> Result<File> {
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

    fn open(store: &BlobStore, digest: &Sha256Digest, size: u64) -> PartialBlob {
        match store.open_partial(digest, size).unwrap() {
            Partial::Open(partial) => *partial,
            other => panic!("expected an open partial, got {other:?}"),
        }
    }

    #[test]
    fn a_partial_blob_resumes_where_it_stopped_and_is_not_a_blob() {
        let temp = tempfile::tempdir().unwrap();
        let store = BlobStore::open(Utf8Path::from_path(temp.path()).unwrap()).unwrap();
        let blob = b"0123456789abcdef".repeat(1000);
        let digest = Sha256Digest::of(&blob);
        let mut partial = open(&store, &digest, blob.len() as u64);
        assert_eq!(partial.offset(), 0);
        partial.write_all(&blob[..7000]).unwrap();
        drop(partial);
        assert!(!store.contains(&digest), "a partial download is not a blob");

        let mut partial = open(&store, &digest, blob.len() as u64);
        assert_eq!(partial.offset(), 7000, "the prefix survives");
        partial.write_all(&blob[7000..]).unwrap();
        assert_eq!(partial.commit().unwrap(), digest);
        assert_eq!(store.read(&digest).unwrap(), blob);
        assert!(!store.partial_path(&digest).exists());
        assert!(matches!(store.open_partial(&digest, blob.len() as u64).unwrap(), Partial::Stored));
    }

    #[test]
    fn a_locked_partial_is_busy_and_a_wrong_one_is_deleted() {
        let temp = tempfile::tempdir().unwrap();
        let store = BlobStore::open(Utf8Path::from_path(temp.path()).unwrap()).unwrap();
        let digest = Sha256Digest::of(b"the real bytes");
        let mut first = open(&store, &digest, 14);
        assert!(matches!(store.open_partial(&digest, 14).unwrap(), Partial::Busy), "locked by `first`");
        first.write_all(b"the fake bytes").unwrap();
        assert!(matches!(first.commit(), Err(CommitError::Mismatch(_))));
        let second = open(&store, &digest, 14);
        second.discard().unwrap();
        assert!(!store.partial_path(&digest).exists());
        assert!(!store.contains(&digest));
        assert!(!store.partial_path(&digest).exists(), "a wrong partial is discarded");

        // Longer than the blob: start over.
        fs::write(store.partial_path(&digest), b"far too many bytes for this blob").unwrap();
        let mut partial = open(&store, &digest, 14);
        assert_eq!(partial.offset(), 0);
        partial.write_all(b"the real bytes").unwrap();
        partial.commit().unwrap();
        assert_eq!(store.read(&digest).unwrap(), b"the real bytes");
    }

    #[test]
    fn restart_forgets_the_prefix() {
        let temp = tempfile::tempdir().unwrap();
        let store = BlobStore::open(Utf8Path::from_path(temp.path()).unwrap()).unwrap();
        let digest = Sha256Digest::of(b"abcdef");
        let mut partial = open(&store, &digest, 6);
        partial.write_all(b"xyz").unwrap();
        partial.restart().unwrap();
        partial.write_all(b"abcdef").unwrap();
        partial.commit().unwrap();
        assert_eq!(store.read(&digest).unwrap(), b"abcdef");
    }

    #[test]
    fn sweep_removes_only_old_leftovers_no_one_holds() {
        let temp = tempfile::tempdir().unwrap();
        let store = BlobStore::open(Utf8Path::from_path(temp.path()).unwrap()).unwrap();
        let root = store.root().to_path_buf();
        let write = |relative: &str| {
            fs::write(root.join(relative), b"x").unwrap();
            root.join(relative)
        };
        let (old_tmp, new_tmp) = (write("tmp/blob-old"), write("tmp/blob-new"));
        let (old_partial, held_partial) = (write("partial/aa"), write("partial/bb"));
        let held = OpenOptions::new().write(true).open(&held_partial).unwrap();
        assert!(fs4::fs_std::FileExt::try_lock_exclusive(&held).unwrap());
        let now = std::time::SystemTime::now();
        let long_ago = now - PARTIAL_MAX_AGE - std::time::Duration::from_secs(60);
        for path in [&old_tmp, &old_partial, &held_partial] {
            File::options().write(true).open(path).unwrap().set_modified(long_ago).unwrap();
        }
        store.sweep(now);
        assert!(!old_tmp.exists() && !old_partial.exists(), "old leftovers stay");
        assert!(new_tmp.exists(), "a recent temporary file is a live download");
        assert!(held_partial.exists(), "a partial download another process holds stays");
    }
}
