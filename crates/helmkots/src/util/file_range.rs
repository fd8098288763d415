//! Reading a range of a large file (a store blob, an earlier bundle) a piece at a time into one
//! buffer, for a consumer that hashes or frames each piece.
//!
//! One reused 1 MiB buffer: the kernel's copy into it goes through its direct map, and the
//! piece is still in the CPU's cache when it is hashed. Measured against reading the same
//! bytes through an 8 MiB memory-map window (no copy, but a page fault and a TLB miss every
//! 4 KiB, and a TLB shootdown on every unmap in a threaded process), the buffer hashed a
//! cached 353 MiB bundle in 0.29-0.33 s against 0.36-0.38 s, and wrote the warm-store bundle
//! in 0.35 s against 0.40-1.11 s.

use std::{fs::File, io, os::unix::fs::FileExt};

/// The size of each piece.
const PIECE: usize = 1 << 20;

/// Calls `each` with the bytes of `file` from `offset`, `length` of them in all, a piece at a
/// time, in order; a file shorter than the range is an `UnexpectedEof` error.
pub(crate) fn for_each_piece(
    file: &File,
    offset: u64,
    length: u64,
    mut each: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let end = offset.checked_add(length).ok_or_else(|| io::Error::other("file range past 2^64"))?;
    let mut buffer = vec![0; PIECE.min(usize::try_from(length).unwrap_or(PIECE))];
    let mut position = offset;
    while position < end {
        let len = buffer.len().min(usize::try_from(end - position).unwrap_or(PIECE));
        file.read_exact_at(&mut buffer[..len], position)?;
        each(&buffer[..len])?;
        position += len as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_range_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let data: Vec<u8> = (0..(2 * PIECE + 12_345)).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        for (offset, length) in [(0, data.len()), (4_097, data.len() - 5_000), (17, 0), (data.len() - 1, 1)] {
            let mut seen = Vec::new();
            for_each_piece(&file, offset as u64, length as u64, |piece| {
                assert!(piece.len() <= PIECE);
                seen.extend_from_slice(piece);
                Ok(())
            })
            .unwrap();
            assert!(seen == data[offset..offset + length], "{offset}+{length}");
        }
        let past_the_end = for_each_piece(&file, 10, data.len() as u64, |_| Ok(()));
        assert_eq!(past_the_end.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
