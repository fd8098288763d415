//! Reading a chart archive (`.tgz`) safely, entirely in memory: nothing is ever extracted
//! to disk, so no entry name can write anywhere.
//!
//! The rules follow Helm's archive loader and go further where an archive could mislead
//! or exhaust us. The first path component (the chart folder) is stripped, and all entries
//! must share it. Names with `..`, absolute names and drive letters are refused. Links of
//! any kind, devices and FIFOs are refused, as are files over 5 MiB and more than 100 MiB
//! in all. The limits are checked against each entry's declared size before its data is
//! read, and the decompressed stream itself is capped, so a gzip bomb stops at the limit.
//! Directory entries and pax headers are skipped; `\` is accepted as a separator. The
//! files then go through the same "file set → chart" step as a directory
//! ([`super::load::chart_from_files`]), so nested `charts/<sub>/…` and `charts/*.tgz`
//! become subcharts the same way.

use std::{
    cell::Cell,
    io::{self, BufReader, Read},
    rc::Rc,
};

use camino::Utf8Path;
use flate2::read::MultiGzDecoder;

use super::{
    load::{self, Budget, FileSet, Place, MAX_CHART_SIZE, MAX_FILE_SIZE},
    Chart, ChartOrigin,
};
use crate::error::{Error, IoContext, Result};

/// Room in the decompressed stream for tar headers and padding beyond the file data.
const HEADER_ALLOWANCE: u64 = 16 * 1024 * 1024;

/// Loads and validates a chart archive from disk.
pub(crate) fn load_archive(path: &Utf8Path) -> Result<Chart> {
    let file = std::fs::File::open(path).io_context("read", path)?;
    let mut budget = Budget::new();
    read_chart(BufReader::new(file), path, "", 0, &mut budget)
}

/// Loads a subchart archive held in memory (a `charts/*.tgz` file of another chart).
///
/// `archive` is the file on disk that holds it and `entry_prefix` what to put before its
/// entry names in messages (empty when `archive` is the `.tgz` itself).
pub(crate) fn load_nested(
    bytes: &[u8],
    archive: &Utf8Path,
    entry_prefix: &str,
    depth: usize,
    budget: &mut Budget,
) -> Result<Chart> {
    read_chart(bytes, archive, entry_prefix, depth, budget)
}

/// Reads the entries of a gzip-compressed tar stream and builds the chart.
fn read_chart(
    reader: impl Read,
    archive: &Utf8Path,
    entry_prefix: &str,
    depth: usize,
    budget: &mut Budget,
) -> Result<Chart> {
    let (top, files) = read_entries(reader, archive, entry_prefix, budget)?;
    let place = Place {
        origin: ChartOrigin::Archive(archive.to_path_buf()),
        inner: format!("{entry_prefix}{top}/"),
        depth,
    };
    load::chart_from_files(files, &place, budget)
}

/// A reader that fails once more than `remaining` bytes have come through, and says so
/// in a flag the caller keeps (the tar reader may wrap the error it sees).
struct CappedReader<R> {
    inner: R,
    remaining: u64,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            // Only an attempt to go past the cap is an error, not reaching it exactly.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    self.exceeded.set(true);
                    Err(io::Error::other("decompressed archive exceeds the size limit"))
                }
            };
        }
        let allowed = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buf[..allowed])?;
        self.remaining -= read as u64;
        Ok(read)
    }
}

/// The chart folder name and the chart's files, read from a `.tgz` stream.
fn read_entries(
    reader: impl Read,
    archive: &Utf8Path,
    entry_prefix: &str,
    budget: &mut Budget,
) -> Result<(String, FileSet)> {
    let refuse = |entry: Option<&str>, reason: String| Error::UnsafeArchive {
        archive: archive.to_path_buf(),
        entry: entry.map(|name| format!("{entry_prefix}{name}")),
        reason,
    };
    let too_big =
        || format!("more than {MAX_CHART_SIZE} bytes (100 MiB) decompressed; Helm refuses charts that large");
    let exceeded = Rc::new(Cell::new(false));
    let capped = CappedReader {
        inner: MultiGzDecoder::new(reader),
        remaining: budget.remaining() + HEADER_ALLOWANCE,
        exceeded: Rc::clone(&exceeded),
    };
    let malformed = |entry: Option<&str>, error: io::Error| {
        if exceeded.get() {
            refuse(entry, too_big())
        } else {
            refuse(entry, format!("not a readable gzip-compressed tar archive: {error}"))
        }
    };

    let mut tar = tar::Archive::new(capped);
    let mut top: Option<String> = None;
    let mut files = FileSet::new();
    let entries = tar.entries().map_err(|error| malformed(None, error))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| malformed(None, error))?;
        let name_bytes = entry.path_bytes().into_owned();
        let Ok(name) = String::from_utf8(name_bytes) else {
            let lossy = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            return Err(refuse(Some(&lossy), "the entry name is not UTF-8".into()));
        };
        let entry_type = entry.header().entry_type();
        match entry_type {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Directory | tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let kind =
                    if entry_type == tar::EntryType::Symlink { "a symbolic link" } else { "a hard link" };
                let target = entry
                    .link_name_bytes()
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .unwrap_or_default();
                return Err(refuse(
                    Some(&name),
                    format!(
                        "{kind} to `{target}`: a chart archive may hold regular files only, because a link can point outside the chart or make one entry overwrite another"
                    ),
                ));
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                return Err(refuse(
                    Some(&name),
                    "a device file: a chart archive may hold regular files only".into(),
                ));
            }
            tar::EntryType::Fifo => {
                return Err(refuse(
                    Some(&name),
                    "a FIFO: a chart archive may hold regular files only".into(),
                ));
            }
            other => {
                return Err(refuse(
                    Some(&name),
                    format!("unsupported entry type {other:?}: a chart archive may hold regular files only"),
                ));
            }
        }

        let (entry_top, relative) = split_entry_name(&name).map_err(|reason| refuse(Some(&name), reason))?;
        match &top {
            None => top = Some(entry_top.clone()),
            Some(existing) if *existing != entry_top => {
                return Err(refuse(
                    Some(&name),
                    format!(
                        "entries live under both `{existing}/` and `{entry_top}/`; a chart archive has one top folder"
                    ),
                ));
            }
            Some(_) => {}
        }

        let size = entry.size();
        if size > MAX_FILE_SIZE {
            return Err(refuse(
                Some(&name),
                format!("the file is {size} bytes; Helm refuses files over 5 MiB ({MAX_FILE_SIZE} bytes)"),
            ));
        }
        if !budget.take(size) {
            return Err(refuse(Some(&name), too_big()));
        }
        let mut data = Vec::with_capacity(size as usize);
        (&mut entry).take(size).read_to_end(&mut data).map_err(|error| malformed(Some(&name), error))?;
        if data.len() as u64 != size {
            return Err(refuse(Some(&name), "the archive ends in the middle of this file".into()));
        }
        if files.insert(relative.clone(), load::strip_bom(data)).is_some() {
            return Err(refuse(
                Some(&name),
                format!("`{relative}` appears twice; which copy Helm would use is ambiguous"),
            ));
        }
    }

    match top {
        Some(top) => Ok((top, files)),
        None => Err(refuse(None, "the archive holds no files".into())),
    }
}

/// Splits an entry name into the chart folder and the path below it, refusing names that
/// could point outside the chart: absolute, with a drive letter, or with `..`.
fn split_entry_name(name: &str) -> Result<(String, String), String> {
    let normalized = name.replace('\\', "/");
    if normalized.starts_with('/') {
        return Err("an absolute path; chart archive entries must be relative".into());
    }
    let components: Vec<&str> =
        normalized.split('/').filter(|component| !component.is_empty() && *component != ".").collect();
    if components.contains(&"..") {
        return Err("a `..` component, which would point outside the chart folder".into());
    }
    if components.iter().take(2).any(|component| has_drive_letter(component)) {
        return Err("a drive-letter path; chart archive entries must be relative".into());
    }
    match components.split_first() {
        Some((top, rest)) if !rest.is_empty() => Ok((top.to_string(), rest.join("/"))),
        _ => Err("a file at the top of the archive, outside the chart folder".into()),
    }
}

/// Whether a path component starts like a Windows drive: `C:`.
fn has_drive_letter(component: &str) -> bool {
    let bytes = component.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;
    use crate::input::chart::load::testing::{chart_yaml, temp_dir};

    /// Gzip-compresses bytes.
    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// A `.tgz` of regular files with ordinary names.
    pub(crate) fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, *data).unwrap();
        }
        gzip(&builder.into_inner().unwrap())
    }

    /// A tar header with a raw name (no checks), a type and a size, for hostile entries.
    fn raw_header(name: &str, entry_type: tar::EntryType, size: u64, link: Option<&str>) -> tar::Header {
        let mut header = tar::Header::new_ustar();
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(entry_type);
        header.set_size(size);
        header.set_mode(0o644);
        header.set_cksum();
        header
    }

    /// A `.tgz` with one good Chart.yaml followed by one raw entry.
    fn hostile(name: &str, entry_type: tar::EntryType, data: &[u8], link: Option<&str>) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let chart = chart_yaml("evil", "1.0.0");
        builder
            .append(
                &raw_header("evil/Chart.yaml", tar::EntryType::Regular, chart.len() as u64, None),
                chart.as_bytes(),
            )
            .unwrap();
        builder.append(&raw_header(name, entry_type, data.len() as u64, link), data).unwrap();
        gzip(&builder.into_inner().unwrap())
    }

    fn load_bytes(bytes: &[u8]) -> Result<Chart> {
        let mut budget = Budget::new();
        load_nested(bytes, Utf8Path::new("test.tgz"), "", 0, &mut budget)
    }

    fn refusal(bytes: &[u8]) -> (Option<String>, String) {
        match load_bytes(bytes) {
            Err(Error::UnsafeArchive { entry, reason, .. }) => (entry, reason),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_good_archive() -> Result<()> {
        let bytes = tgz(&[
            ("demo/Chart.yaml", chart_yaml("demo", "1.0.0").as_bytes()),
            ("demo/values.yaml", b"\xEF\xBB\xBFa: 1\n"),
            ("demo\\templates\\cm.yaml", b"kind: ConfigMap\n"),
            ("demo/charts/sub/Chart.yaml", chart_yaml("sub", "0.1.0").as_bytes()),
            ("demo/charts/sub/values.yaml", b"b: 2\n"),
        ]);
        let chart = load_bytes(&bytes)?;
        assert_eq!(chart.metadata.name, "demo");
        assert_eq!(chart.values, serde_json::json!({"a": 1}));
        let paths: Vec<&str> = chart.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["Chart.yaml", "templates/cm.yaml", "values.yaml"]);
        assert_eq!(chart.metadata_file.path, "test.tgz!demo/Chart.yaml");
        assert_eq!(chart.dependencies[0].metadata.name, "sub");
        assert_eq!(chart.dependencies[0].metadata_file.path, "test.tgz!demo/charts/sub/Chart.yaml");
        assert_eq!(chart.dependencies[0].origin, ChartOrigin::Archive("test.tgz".into()));
        Ok(())
    }

    #[test]
    fn nested_tgz_inside_an_archive_is_loaded() -> Result<()> {
        let inner = tgz(&[("sub/Chart.yaml", chart_yaml("sub", "0.1.0").as_bytes())]);
        let outer = tgz(&[
            ("demo/Chart.yaml", chart_yaml("demo", "1.0.0").as_bytes()),
            ("demo/charts/sub-0.1.0.tgz", &inner),
        ]);
        let chart = load_bytes(&outer)?;
        assert!(chart.files.iter().all(|f| !f.path.starts_with("charts/")));
        assert_eq!(
            chart.dependencies[0].metadata_file.path,
            "test.tgz!demo/charts/sub-0.1.0.tgz!sub/Chart.yaml"
        );
        Ok(())
    }

    #[test]
    fn refuses_parent_directory_entries() {
        let (entry, reason) = refusal(&hostile("evil/../evil", tar::EntryType::Regular, b"x", None));
        assert_eq!(entry.as_deref(), Some("evil/../evil"));
        assert!(reason.contains(".."), "{reason}");
        let (_, reason) = refusal(&hostile("../evil", tar::EntryType::Regular, b"x", None));
        assert!(reason.contains(".."), "{reason}");
        let (_, reason) = refusal(&hostile("evil\\..\\..\\x", tar::EntryType::Regular, b"x", None));
        assert!(reason.contains(".."), "{reason}");
    }

    #[test]
    fn refuses_absolute_and_drive_paths() {
        let (entry, reason) = refusal(&hostile("/etc/passwd", tar::EntryType::Regular, b"root", None));
        assert_eq!(entry.as_deref(), Some("/etc/passwd"));
        assert!(reason.contains("absolute"), "{reason}");
        let (_, reason) = refusal(&hostile("C:/Windows/x", tar::EntryType::Regular, b"x", None));
        assert!(reason.contains("drive"), "{reason}");
        let (_, reason) = refusal(&hostile("evil/c:\\x", tar::EntryType::Regular, b"x", None));
        assert!(reason.contains("drive"), "{reason}");
    }

    #[test]
    fn refuses_links_and_special_files() {
        let (entry, reason) = refusal(&hostile("evil/x", tar::EntryType::Symlink, b"", Some("../../etc")));
        assert_eq!(entry.as_deref(), Some("evil/x"));
        assert!(reason.contains("symbolic link to `../../etc`"), "{reason}");
        let (_, reason) = refusal(&hostile("evil/y", tar::EntryType::Link, b"", Some("evil/Chart.yaml")));
        assert!(reason.contains("hard link"), "{reason}");
        let (_, reason) = refusal(&hostile("evil/tty", tar::EntryType::Char, b"", None));
        assert!(reason.contains("device"), "{reason}");
        let (_, reason) = refusal(&hostile("evil/pipe", tar::EntryType::Fifo, b"", None));
        assert!(reason.contains("FIFO"), "{reason}");
    }

    #[test]
    fn refuses_mixed_top_folders_and_top_level_files() {
        let (_, reason) = refusal(&hostile("other/x.yaml", tar::EntryType::Regular, b"x", None));
        assert!(reason.contains("one top folder"), "{reason}");
        let (_, reason) = refusal(&hostile("Chart.yaml", tar::EntryType::Regular, b"x", None));
        assert!(reason.contains("top of the archive"), "{reason}");
    }

    #[test]
    fn refuses_duplicates_and_garbage() {
        let (_, reason) = refusal(&hostile("evil/Chart.yaml", tar::EntryType::Regular, b"x", None));
        assert!(reason.contains("twice"), "{reason}");
        let (_, reason) = refusal(b"this is not gzip");
        assert!(reason.contains("not a readable"), "{reason}");
        let (_, reason) = refusal(&gzip(&[0u8; 1024]));
        assert!(reason.contains("no files"), "{reason}");
    }

    #[test]
    fn refuses_an_oversize_file_before_reading_it() {
        let size = MAX_FILE_SIZE as usize + 1;
        let (entry, reason) =
            refusal(&hostile("evil/big.bin", tar::EntryType::Regular, &vec![0; size], None));
        assert_eq!(entry.as_deref(), Some("evil/big.bin"));
        assert!(reason.contains("5 MiB"), "{reason}");
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        // 30 files of 4 MiB of zeros: 120 MiB decompressed from about 120 KiB. The archive
        // is built as concatenated gzip members (valid gzip, read by Helm and by us), so the
        // 4 MiB of zeros is compressed once.
        let file_size = 4 * 1024 * 1024;
        let zeros = gzip(&vec![0u8; file_size]);
        let mut bomb = Vec::new();
        for index in 0..30 {
            let header =
                raw_header(&format!("bomb/f{index:02}"), tar::EntryType::Regular, file_size as u64, None);
            bomb.extend(gzip(header.as_bytes()));
            bomb.extend(&zeros);
        }
        bomb.extend(gzip(&[0u8; 1024]));
        assert!(bomb.len() < 1024 * 1024);
        let (entry, reason) = refusal(&bomb);
        assert_eq!(entry.as_deref(), Some("bomb/f25"), "stops at the first file past 100 MiB");
        assert!(reason.contains("100 MiB"), "{reason}");
    }

    #[test]
    fn a_huge_extension_header_stops_at_the_stream_cap() {
        // A pax header that claims 200 MiB: the tar reader would buffer it whole.
        let size = 200 * 1024 * 1024u64;
        let header = raw_header("bomb/pax", tar::EntryType::XHeader, size, None);
        let mut bomb = gzip(header.as_bytes());
        let chunk = gzip(&vec![b'a'; 1024 * 1024]);
        for _ in 0..130 {
            bomb.extend(&chunk);
        }
        let (_, reason) = refusal(&bomb);
        assert!(reason.contains("100 MiB"), "{reason}");
    }

    #[test]
    fn loads_from_disk() -> Result<()> {
        let (_guard, dir) = temp_dir();
        let path = dir.join("demo-1.0.0.tgz");
        std::fs::write(&path, tgz(&[("demo/Chart.yaml", chart_yaml("demo", "1.0.0").as_bytes())])).unwrap();
        let chart = load_archive(&path)?;
        assert_eq!(chart.origin, ChartOrigin::Archive(path.clone()));
        assert_eq!(chart.metadata_file.path, format!("{path}!demo/Chart.yaml"));
        Ok(())
    }

    #[test]
    fn split_names() {
        let split = |name: &str| split_entry_name(name).map(|(a, b)| format!("{a} | {b}"));
        assert_eq!(split("a/b/c").as_deref(), Ok("a | b/c"));
        assert_eq!(split("./a/b").as_deref(), Ok("a | b"));
        assert_eq!(split("a\\b").as_deref(), Ok("a | b"));
        assert!(split_entry_name("a").is_err());
        assert!(split_entry_name("a/").is_err());
    }
}
