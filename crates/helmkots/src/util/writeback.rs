//! Large files that are synced once complete (store blobs, the bundle) start their writeback
//! while they are still being written, so the disk works alongside the network and the CPU,
//! and the final `fsync` waits only for the last few MiB instead of the whole file; a large
//! file about to be removed can leave the page cache ahead of time ([`forget`]).
//!
//! `sync_file_range(SYNC_FILE_RANGE_WRITE)` asks the kernel to start writing a range out and
//! returns without waiting for it: it promises nothing about durability, which the `fsync`
//! before every rename still gives. Without it the kernel starts writeback only when dirty
//! pages pile up (or after 30 s), so a 350 MiB bundle reached its `fsync` almost all dirty.

use std::{
    fs::File,
    io::{self, Write},
};

/// How many bytes are written between two writeback requests.
pub(crate) const WRITEBACK_EVERY: u64 = 8 << 20;

/// Starts writing `length` bytes of `file` from `offset` to disk, without waiting; best effort
/// (an error only means the final `fsync` has more to do).
pub(crate) fn start(file: &File, offset: u64, length: u64) {
    on_range(file, offset, length, |_fd, _offset, _length| {
        // SAFETY: a plain syscall on a file descriptor `file` keeps open; no memory is passed.
        #[cfg(target_os = "linux")]
        unsafe {
            libc::sync_file_range(_fd, _offset, _length, libc::SYNC_FILE_RANGE_WRITE)
        };
    });
}

/// Drops `length` bytes of `file` from `offset` from the page cache, once they are on disk and
/// read: a file about to be removed then frees only its blocks when it goes. Best effort
/// (pages that stay are freed at the removal).
pub(crate) fn forget(file: &File, offset: u64, length: u64) {
    on_range(file, offset, length, |_fd, _offset, _length| {
        // SAFETY: a plain syscall on a file descriptor `file` keeps open; no memory is passed.
        #[cfg(target_os = "linux")]
        unsafe {
            libc::posix_fadvise(_fd, _offset, _length, libc::POSIX_FADV_DONTNEED)
        };
    });
}

/// Calls `advise` with `file`'s descriptor and the range as the kernel takes it (`off64_t`);
/// nothing when the range does not fit (past 2^63).
fn on_range(file: &File, offset: u64, length: u64, advise: impl FnOnce(i32, i64, i64)) {
    use std::os::fd::AsRawFd as _;
    if let (Ok(offset), Ok(length)) = (i64::try_from(offset), i64::try_from(length)) {
        advise(file.as_raw_fd(), offset, length);
    }
}

/// Where the next writeback request of a file starts, and when it is due.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Progress {
    started: u64,
}

impl Progress {
    /// `file` now holds `written` bytes from its start: requests writeback of what it has not
    /// asked for yet, once that is [`WRITEBACK_EVERY`] or more.
    pub(crate) fn wrote_up_to(&mut self, file: &File, written: u64) {
        if written >= self.started + WRITEBACK_EVERY {
            start(file, self.started, written - self.started);
            self.started = written;
        }
    }

    /// The file was cut back to `length` bytes (a restarted download).
    pub(crate) fn truncated_to(&mut self, length: u64) {
        self.started = self.started.min(length);
    }
}

/// A file written from its start, whose writeback starts as it grows.
#[derive(Debug)]
pub(crate) struct WriteBehind {
    file: File,
    written: u64,
    progress: Progress,
}

impl WriteBehind {
    /// Wraps a new, empty file.
    pub(crate) fn new(file: File) -> WriteBehind {
        WriteBehind { file, written: 0, progress: Progress::default() }
    }

    /// The file, for writes that go around this writer; call [`WriteBehind::wrote_up_to`]
    /// after them.
    pub(crate) fn file_mut(&mut self) -> &mut File {
        &mut self.file
    }

    /// The file now holds `written` bytes (written through [`WriteBehind::file_mut`]).
    pub(crate) fn wrote_up_to(&mut self, written: u64) {
        self.written = written;
        self.progress.wrote_up_to(&self.file, written);
    }

    /// The bytes written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// The file was cut back to `length` bytes.
    pub(crate) fn truncated_to(&mut self, length: u64) {
        self.written = length;
        self.progress.truncated_to(length);
    }

    /// The file.
    pub(crate) fn into_inner(self) -> File {
        self.file
    }
}

impl Write for WriteBehind {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        let written = self.written + n as u64;
        self.wrote_up_to(written);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
