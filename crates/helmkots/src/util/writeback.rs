//! Large files that are synced once complete (store blobs, the bundle) start their writeback
//! while they are still being written, so the disk works alongside the network and the CPU,
//! and the final `fsync` waits only for the last few MiB instead of the whole file.
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
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd as _;
        let (Ok(offset), Ok(length)) = (libc::off64_t::try_from(offset), libc::off64_t::try_from(length))
        else {
            return;
        };
        // SAFETY: a plain syscall on a file descriptor `file` keeps open; no memory is passed.
        unsafe { libc::sync_file_range(file.as_raw_fd(), offset, length, libc::SYNC_FILE_RANGE_WRITE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, length);
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
