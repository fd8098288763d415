//! Reading a range of a large file a window at a time through a memory map, so its bytes are
//! hashed and written straight from the page cache, without first being copied into a buffer.
//!
//! Only files nobody changes while they are read go through here: store blobs (renamed into
//! place once verified, never written again) and a finished earlier bundle (replaced by a
//! rename, never rewritten). A mapped file cut shorter underneath would fault (`SIGBUS`), which
//! is why nothing else is mapped. A window at a time keeps the resident memory of a mapping to
//! [`WINDOW`] whatever the file's size (mapped pages count in the process's RSS).

use std::{fs::File, io, os::unix::fs::FileExt};

/// The bytes mapped at once.
pub(crate) const WINDOW: u64 = 8 << 20;

/// Calls `each` with the bytes of `file` from `offset`, `length` of them in all, a window at a
/// time, in order. Where the file cannot be mapped (a filesystem without `mmap`), the windows
/// are read into a buffer instead.
pub(crate) fn for_each_window(
    file: &File,
    offset: u64,
    length: u64,
    mut each: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let end = offset.checked_add(length).ok_or_else(|| io::Error::other("file range past 2^64"))?;
    if file.metadata()?.len() < end {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file is shorter than the range"));
    }
    let mut position = offset;
    let mut buffer = Vec::new();
    while position < end {
        let len = WINDOW.min(end - position) as usize;
        // SAFETY: the callers map only files that are never written again once complete (see
        // the module documentation), and the length was checked against the file's above.
        let mapped = unsafe { memmap2::MmapOptions::new().offset(position).len(len).map(file) };
        match mapped {
            Ok(window) => {
                let _ = window.advise(memmap2::Advice::Sequential);
                each(&window)?;
            }
            Err(_) => {
                buffer.resize(len, 0);
                file.read_exact_at(&mut buffer, position)?;
                each(&buffer)?;
            }
        }
        position += len as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_range_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let data: Vec<u8> = (0..(2 * WINDOW as usize + 12_345)).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        for (offset, length) in [(0, data.len()), (4_097, data.len() - 5_000), (17, 0), (data.len() - 1, 1)] {
            let mut seen = Vec::new();
            for_each_window(&file, offset as u64, length as u64, |window| {
                assert!(window.len() as u64 <= WINDOW);
                seen.extend_from_slice(window);
                Ok(())
            })
            .unwrap();
            assert!(seen == data[offset..offset + length], "{offset}+{length}");
        }
        let past_the_end = for_each_window(&file, 10, data.len() as u64, |_| Ok(()));
        assert_eq!(past_the_end.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
