//! Hostile input for the chart loader (`helmkots::internals::input::chart::load`): `.tgz` archives and directories.
//!
//! Every archive here is built in code (nothing large or dangerous is committed): tar-slip,
//! absolute and drive-letter names, links out, devices, FIFOs, files over Helm's 5 MiB, charts
//! over its 100 MiB, gzip bombs (which must stop early and fast), duplicate and ambiguous
//! entries, broken gzip and tar. Property tests feed random bytes, random entries and damaged
//! archives. Each case must end in a clear error, never a panic, a hang, or a file outside the
//! chart.

use std::{
    io::{Read, Write},
    time::{Duration, Instant},
};

use camino::{Utf8Path, Utf8PathBuf};
use flate2::{write::GzEncoder, Compression};
use helmkots::{internals::input::chart::Chart, Error};
use proptest::prelude::*;

const MIB: usize = 1024 * 1024;

/// How long any one load may take, bombs included (debug build).
const TIME_LIMIT: Duration = Duration::from_secs(10);

fn chart_yaml(name: &str) -> String {
    format!("apiVersion: v2\nname: {name}\nversion: \"1.0.0\"\n")
}

/// The only code that loads a chart: loads `path` in time and checks the invariants of the
/// outcome.
fn check_path(path: &Utf8Path) -> helmkots::Result<Chart> {
    let start = Instant::now();
    let result = helmkots::internals::input::chart::load(path);
    let elapsed = start.elapsed();
    assert!(elapsed < TIME_LIMIT, "loading {path} took {elapsed:?}");
    match &result {
        Ok(chart) => {
            for file in &chart.files {
                let clean = !file.path.is_empty()
                    && !file.path.starts_with('/')
                    && !file.path.contains('\\')
                    && file.path.split('/').all(|part| !part.is_empty() && part != "." && part != "..");
                assert!(clean, "a file escapes or misnames the chart: {:?}", file.path);
                assert!(file.data.len() <= 5 * MIB, "{} is {} bytes", file.path, file.data.len());
            }
            let total: usize = chart.files.iter().map(|f| f.data.len()).sum();
            assert!(total <= 100 * MIB);
        }
        Err(error) => {
            let message = error.to_string();
            assert!(message.len() > 10, "unclear error: {message:?}");
            if let Error::UnsafeArchive { reason, .. } = error {
                assert!(!reason.trim().is_empty(), "{message}");
            }
        }
    }
    result
}

/// Writes `bytes` as `chart.tgz` in a fresh temporary directory and loads it.
fn check(bytes: &[u8]) -> helmkots::Result<Chart> {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::from_path_buf(dir.path().join("chart.tgz")).unwrap();
    std::fs::write(&path, bytes).unwrap();
    check_path(&path)
}

/// What a case must end in.
#[derive(Debug)]
enum Want {
    /// Loaded.
    Ok,
    /// `Error::UnsafeArchive` with the entry (when given) and the needle in its reason.
    Refused(Option<&'static str>, &'static str),
    /// Any other error whose message holds the needle.
    Error(&'static str),
}

fn outcome_matches(result: &helmkots::Result<Chart>, want: &Want) -> bool {
    match (result, want) {
        (Ok(_), Want::Ok) => true,
        (Err(Error::UnsafeArchive { entry, reason, .. }), Want::Refused(want_entry, needle)) => {
            reason.contains(needle) && want_entry.is_none_or(|want| entry.as_deref() == Some(want))
        }
        (Err(error), Want::Error(needle)) => error.to_string().contains(needle),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Building archives byte by byte.

/// A ustar header with a raw name (no checks), a type, a size and a link target.
fn header(name: &[u8], entry_type: tar::EntryType, size: u64, link: Option<&[u8]>) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    {
        let old = header.as_old_mut();
        let length = name.len().min(100);
        old.name[..length].copy_from_slice(&name[..length]);
        if let Some(link) = link {
            let length = link.len().min(100);
            old.linkname[..length].copy_from_slice(&link[..length]);
        }
    }
    header.set_entry_type(entry_type);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    header
}

/// A tar stream of entries (name, type, data, link), then the end-of-archive blocks.
/// One raw tar entry: name, type, data, link target.
type RawEntry<'a> = (&'a [u8], tar::EntryType, &'a [u8], Option<&'a [u8]>);

fn tar_of(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, entry_type, data, link) in entries {
        out.extend_from_slice(header(name, *entry_type, data.len() as u64, *link).as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A `.tgz` of regular files.
fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let entries: Vec<_> =
        files.iter().map(|(name, data)| (name.as_bytes(), tar::EntryType::Regular, *data, None)).collect();
    gzip(&tar_of(&entries))
}

/// A `.tgz` holding a good `evil/Chart.yaml` and then one hostile entry.
fn hostile(name: &str, entry_type: tar::EntryType, data: &[u8], link: Option<&str>) -> Vec<u8> {
    let chart = chart_yaml("evil");
    gzip(&tar_of(&[
        (b"evil/Chart.yaml", tar::EntryType::Regular, chart.as_bytes(), None),
        (name.as_bytes(), entry_type, data, link.map(str::as_bytes)),
    ]))
}

/// Gzip members, concatenated: how the bombs reach hundreds of MiB from a few KiB.
struct Members(Vec<u8>);

impl Members {
    fn new() -> Members {
        Members(Vec::new())
    }

    /// Appends `bytes` as one member.
    fn push(mut self, bytes: &[u8]) -> Members {
        self.0.extend(gzip(bytes));
        self
    }

    /// Appends `mib` MiB of zeros, one member per MiB (compressed once, then copied).
    fn zeros(mut self, mib: usize) -> Members {
        let member = gzip(&vec![0; MIB]);
        for _ in 0..mib {
            self.0.extend_from_slice(&member);
        }
        self
    }

    fn header(self, name: &str, entry_type: tar::EntryType, size: u64) -> Members {
        self.push(header(name.as_bytes(), entry_type, size, None).as_bytes())
    }

    fn file(self, name: &str, data: &[u8]) -> Members {
        let mut bytes =
            header(name.as_bytes(), tar::EntryType::Regular, data.len() as u64, None).as_bytes().to_vec();
        bytes.extend_from_slice(data);
        bytes.resize(bytes.len().div_ceil(512) * 512, 0);
        self.push(&bytes)
    }

    fn end(self) -> Vec<u8> {
        self.push(&[0; 1024]).0
    }
}

// ---------------------------------------------------------------------------------------------
// The archive cases.

fn archive_cases() -> Vec<(&'static str, Vec<u8>, Want)> {
    use tar::EntryType as T;
    let chart = chart_yaml("evil");
    let chart = chart.as_bytes();
    let sub = tgz(&[("sub/Chart.yaml", chart_yaml("sub").as_bytes())]);
    let nested_slip = tgz(&[("sub/Chart.yaml", chart_yaml("sub").as_bytes()), ("sub/../../x", b"x")]);
    let pax_slip = {
        let record = b"21 path=evil/../../x\n";
        gzip(&tar_of(&[
            (b"evil/Chart.yaml", T::Regular, chart, None),
            (b"PaxHeaders/x", T::XHeader, record, None),
            (b"evil/innocent", T::Regular, b"x", None),
        ]))
    };
    let long_name_slip = {
        let long = format!("evil/{}/../../../x\0", "d".repeat(150));
        gzip(&tar_of(&[
            (b"evil/Chart.yaml", T::Regular, chart, None),
            (b"././@LongLink", T::GNULongName, long.as_bytes(), None),
            (b"evil/short", T::Regular, b"x", None),
        ]))
    };
    let six_mib = gzip(&tar_of(&[
        (b"evil/Chart.yaml", T::Regular, chart, None),
        (b"evil/big.bin", T::Regular, &vec![0; 6 * MIB], None),
    ]));
    // A header that declares 6 MiB and then the archive ends: refused by the header alone.
    let declared_six_mib =
        Members::new().file("evil/Chart.yaml", chart).header("evil/big.bin", T::Regular, 6 * MIB as u64).0;
    let valid = tgz(&[("evil/Chart.yaml", chart), ("evil/values.yaml", b"a: 1\n")]);
    let mut truncated_tar = tar_of(&[
        (b"evil/Chart.yaml", T::Regular, chart, None),
        (b"evil/data", T::Regular, &[7; 4096], None),
    ]);
    truncated_tar.truncate(512 + 512 + 512 + 100);
    let bad_checksum = {
        let mut bytes = tar_of(&[(b"evil/Chart.yaml", T::Regular, chart, None)]);
        bytes[148] = b'9';
        gzip(&bytes)
    };
    let bad_size_field = {
        let mut bytes = tar_of(&[(b"evil/Chart.yaml", T::Regular, chart, None)]);
        bytes[124..136].copy_from_slice(b"zzzzzzzzzzz\0");
        let mut header = tar::Header::new_old();
        header.as_mut_bytes().copy_from_slice(&bytes[..512]);
        header.set_cksum();
        bytes[..512].copy_from_slice(header.as_bytes());
        gzip(&bytes)
    };
    let self_nesting = {
        // 20 levels of charts/sub.tgz inside charts/sub.tgz.
        let mut inner = tgz(&[("c/Chart.yaml", chart_yaml("c").as_bytes())]);
        for _ in 0..20 {
            inner = tgz(&[("c/Chart.yaml", chart_yaml("c").as_bytes()), ("c/charts/c-1.0.0.tgz", &inner)]);
        }
        inner
    };
    let nested_bombs = {
        // Three subchart archives of 40 MiB each: under 5 MiB compressed, 120 MiB in all.
        let bomb = Members::new()
            .file("sub/Chart.yaml", chart_yaml("sub").as_bytes())
            .header("sub/a", T::Regular, 4 * MIB as u64)
            .zeros(4)
            .header("sub/b", T::Regular, 4 * MIB as u64)
            .zeros(4)
            .header("sub/c", T::Regular, 4 * MIB as u64)
            .zeros(4)
            .header("sub/d", T::Regular, 4 * MIB as u64)
            .zeros(4)
            .header("sub/e", T::Regular, 4 * MIB as u64)
            .zeros(4)
            .header("sub/f", T::Regular, 4 * MIB as u64)
            .zeros(4)
            .header("sub/g", T::Regular, 4 * MIB as u64)
            .zeros(4)
            .header("sub/h", T::Regular, 4 * MIB as u64)
            .zeros(4)
            .header("sub/i", T::Regular, 4 * MIB as u64)
            .zeros(4)
            .header("sub/j", T::Regular, 4 * MIB as u64)
            .zeros(4)
            .end();
        tgz(&[
            ("evil/Chart.yaml", chart),
            ("evil/charts/a-1.0.0.tgz", &bomb),
            ("evil/charts/b-1.0.0.tgz", &bomb),
            ("evil/charts/c-1.0.0.tgz", &bomb),
        ])
    };

    let laughs = format!(
        "apiVersion: v2\nname: evil\nversion: 1.0.0\nannotations:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n{}",
        (1..9).map(|i| format!("  a{i}: &a{i} [{}]\n", vec![if i == 1 { "*a".to_string() } else { format!("*a{}", i - 1) }; 10].join(", "))).collect::<String>()
    );
    let deep = format!(
        "apiVersion: v2\nname: evil\nversion: 1.0.0\nannotations: {}x{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let big_description =
        format!("apiVersion: v2\nname: evil\nversion: 1.0.0\ndescription: \"{}\"\n", "d".repeat(4 * MIB));

    vec![
        ("good archive", valid.clone(), Want::Ok),
        (
            "subchart archive",
            tgz(&[("evil/Chart.yaml", chart), ("evil/charts/sub-1.0.0.tgz", &sub)]),
            Want::Ok,
        ),
        ("dot-slash prefix", tgz(&[("./evil/Chart.yaml", chart)]), Want::Ok),
        // Names that point outside the chart.
        ("tar-slip ../x", hostile("../x", T::Regular, b"x", None), Want::Refused(Some("../x"), "`..`")),
        ("tar-slip inside", hostile("evil/../../x", T::Regular, b"x", None), Want::Refused(None, "`..`")),
        (
            "tar-slip backslashes",
            hostile("evil\\..\\..\\x", T::Regular, b"x", None),
            Want::Refused(None, "`..`"),
        ),
        (
            "tar-slip in a subchart archive",
            tgz(&[("evil/Chart.yaml", chart), ("evil/charts/sub-1.0.0.tgz", &nested_slip)]),
            Want::Refused(Some("evil/charts/sub-1.0.0.tgz!sub/../../x"), "`..`"),
        ),
        ("tar-slip by pax path", pax_slip, Want::Refused(None, "`..`")),
        ("tar-slip by GNU long name", long_name_slip, Want::Refused(None, "`..`")),
        (
            "absolute /etc/x",
            hostile("/etc/x", T::Regular, b"root", None),
            Want::Refused(Some("/etc/x"), "absolute"),
        ),
        ("absolute //x", hostile("//evil/x", T::Regular, b"x", None), Want::Refused(None, "absolute")),
        ("absolute backslash", hostile("\\evil\\x", T::Regular, b"x", None), Want::Refused(None, "absolute")),
        ("drive letter", hostile("C:/evil/x", T::Regular, b"x", None), Want::Refused(None, "drive-letter")),
        (
            "drive letter below the top",
            hostile("evil/C:x", T::Regular, b"x", None),
            Want::Refused(None, "drive-letter"),
        ),
        // Links, devices and FIFOs.
        (
            "symlink out",
            hostile("evil/passwd", T::Symlink, b"", Some("/etc/passwd")),
            Want::Refused(Some("evil/passwd"), "symbolic link"),
        ),
        (
            "symlink up",
            hostile("evil/up", T::Symlink, b"", Some("../../..")),
            Want::Refused(None, "symbolic link"),
        ),
        (
            "symlink inside",
            hostile("evil/values.yaml", T::Symlink, b"", Some("Chart.yaml")),
            Want::Refused(None, "symbolic link"),
        ),
        (
            "hardlink",
            hostile("evil/h", T::Link, b"", Some("evil/Chart.yaml")),
            Want::Refused(Some("evil/h"), "hard link"),
        ),
        (
            "hardlink out",
            hostile("evil/h", T::Link, b"", Some("/etc/shadow")),
            Want::Refused(None, "hard link"),
        ),
        ("char device", hostile("evil/null", T::Char, b"", None), Want::Refused(Some("evil/null"), "device")),
        ("block device", hostile("evil/sda", T::Block, b"", None), Want::Refused(None, "device")),
        ("fifo", hostile("evil/pipe", T::Fifo, b"", None), Want::Refused(Some("evil/pipe"), "FIFO")),
        ("GNU sparse", hostile("evil/sparse", T::GNUSparse, b"", None), Want::Refused(None, "sparse")),
        (
            "unknown type",
            hostile("evil/odd", T::new(b'Z'), b"", None),
            Want::Refused(None, "regular files only"),
        ),
        // Sizes.
        ("6 MiB file", six_mib, Want::Refused(Some("evil/big.bin"), "5 MiB")),
        ("6 MiB declared, not present", declared_six_mib, Want::Refused(Some("evil/big.bin"), "5 MiB")),
        ("subcharts over 100 MiB together", nested_bombs, Want::Refused(None, "100 MiB")),
        ("archive inside itself 20 levels deep", self_nesting, Want::Error("nested more than")),
        // Ambiguity.
        (
            "duplicate entries",
            tgz(&[("evil/Chart.yaml", chart), ("evil/a", b"1"), ("evil/a", b"2")]),
            Want::Refused(Some("evil/a"), "appears twice"),
        ),
        (
            "duplicate by normalisation",
            tgz(&[("evil/Chart.yaml", chart), ("evil/a", b"1"), ("evil/./a", b"2")]),
            Want::Refused(None, "appears twice"),
        ),
        (
            "two top-level folders",
            tgz(&[("evil/Chart.yaml", chart), ("other/Chart.yaml", chart)]),
            Want::Refused(Some("other/Chart.yaml"), "both"),
        ),
        (
            "file at the top",
            tgz(&[("Chart.yaml", chart)]),
            Want::Refused(Some("Chart.yaml"), "top of the archive"),
        ),
        (
            "non-UTF-8 name",
            gzip(&tar_of(&[
                (b"evil/Chart.yaml", T::Regular, chart, None),
                (b"evil/\xff\xfe", T::Regular, b"x", None),
            ])),
            Want::Refused(None, "not UTF-8"),
        ),
        // Empty or broken containers.
        ("empty archive", gzip(&[0; 1024]), Want::Refused(None, "no files")),
        (
            "directories only",
            gzip(&tar_of(&[
                (b"evil/", T::Directory, b"", None),
                (b"evil/templates/", T::Directory, b"", None),
            ])),
            Want::Refused(None, "no files"),
        ),
        ("empty file", Vec::new(), Want::Refused(None, "not a readable gzip-compressed tar archive")),
        (
            "not gzip",
            b"PK\x03\x04 this is a zip file, not a tgz".to_vec(),
            Want::Refused(None, "not a readable gzip-compressed tar archive"),
        ),
        (
            "plain tar",
            tar_of(&[(b"evil/Chart.yaml", T::Regular, chart, None)]),
            Want::Refused(None, "not a readable gzip-compressed tar archive"),
        ),
        ("truncated gzip", valid[..valid.len() / 2].to_vec(), Want::Refused(None, "")),
        // Like Helm's reader, ours stops at the tar's end blocks, so the gzip trailer (CRC and
        // length) and anything after it are never read: accepted, as Helm accepts them.
        ("gzip without its trailer", valid[..valid.len() - 8].to_vec(), Want::Ok),
        ("truncated tar in good gzip", gzip(&truncated_tar), Want::Refused(None, "")),
        ("bad tar checksum", bad_checksum, Want::Refused(None, "")),
        ("bad tar size field", bad_size_field, Want::Refused(None, "")),
        ("gzip then garbage", [valid.clone(), b"garbage after the member".to_vec()].concat(), Want::Ok),
        // Not a usable chart.
        ("no Chart.yaml", tgz(&[("evil/values.yaml", b"a: 1\n")]), Want::Error("no Chart.yaml")),
        (
            "Chart.yaml not UTF-8",
            tgz(&[("evil/Chart.yaml", b"name: \xff\n")]),
            Want::Error("not valid UTF-8"),
        ),
        (
            "values.yaml not YAML",
            tgz(&[("evil/Chart.yaml", chart), ("evil/values.yaml", b"a: [\n")]),
            Want::Error("values.yaml"),
        ),
        (
            "stray file in charts/",
            tgz(&[("evil/Chart.yaml", chart), ("evil/charts/notes.txt", b"x")]),
            Want::Error("neither a subchart directory nor a .tgz"),
        ),
        (
            "subchart archive that is not gzip",
            tgz(&[("evil/Chart.yaml", chart), ("evil/charts/sub-1.0.0.tgz", b"nope")]),
            Want::Refused(None, "not a readable gzip-compressed tar archive"),
        ),
        // Hostile Chart.yaml: the name becomes the top folder of the archive helmkots writes.
        ("chart named ..", tgz(&[("evil/Chart.yaml", b"apiVersion: v2\nname: \"..\"\nversion: 1.0.0\n")]), Want::Error("`.` or `..`")),
        ("chart named a/b", tgz(&[("evil/Chart.yaml", b"apiVersion: v2\nname: a/../b\nversion: 1.0.0\n")]), Want::Error("path separator")),
        ("chart named a\\b", tgz(&[("evil/Chart.yaml", b"apiVersion: v2\nname: a\\b\nversion: 1.0.0\n")]), Want::Error("path separator")),
        ("chart version not SemVer", tgz(&[("evil/Chart.yaml", b"apiVersion: v2\nname: evil\nversion: one\n")]), Want::Error("version")),
        ("Chart.yaml alias bomb", tgz(&[("evil/Chart.yaml", laughs.as_bytes())]), Want::Error("Chart.yaml")),
        ("Chart.yaml nested 10,000 deep", tgz(&[("evil/Chart.yaml", deep.as_bytes())]), Want::Error("Chart.yaml")),
        ("Chart.yaml empty", tgz(&[("evil/Chart.yaml", b"")]), Want::Error("empty")),
        ("Chart.yaml a list", tgz(&[("evil/Chart.yaml", b"- a\n- b\n")]), Want::Error("Chart.yaml")),
        ("Chart.yaml with a 4 MiB description", tgz(&[("evil/Chart.yaml", big_description.as_bytes())]), Want::Ok),
        ("dependency not vendored", tgz(&[("evil/Chart.yaml", b"apiVersion: v2\nname: evil\nversion: 1.0.0\ndependencies:\n  - name: redis\n    version: 1.x\n")]), Want::Error("not vendored")),
        ("values.schema.json not JSON", tgz(&[("evil/Chart.yaml", chart), ("evil/values.schema.json", b"{")]), Want::Error("invalid JSON")),
    ]
}

#[test]
fn hostile_archives() {
    let cases = archive_cases();
    assert!(cases.len() >= 45, "lost cases: {}", cases.len());
    let mut failures = Vec::new();
    for (name, bytes, want) in &cases {
        assert!(bytes.len() < 8 * MIB, "{name}: the archive itself is {} bytes", bytes.len());
        match std::panic::catch_unwind(|| check(bytes)) {
            Ok(result) if outcome_matches(&result, want) => {}
            Ok(result) => {
                failures.push(format!("{name}: expected {want:?}, got {:?}", result.map(|c| c.metadata.name)))
            }
            Err(_) => failures.push(format!("{name}: panicked")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} archive cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Gzip bombs: each expands far past 100 MiB from a few hundred KiB, and must stop at the limit.

/// (name, archive, what it must end in)
fn bombs() -> Vec<(&'static str, Vec<u8>, Want)> {
    use tar::EntryType as T;
    let chart = chart_yaml("evil");
    let many_files = {
        let mut members = Members::new().file("evil/Chart.yaml", chart.as_bytes());
        for i in 0..25 {
            members = members.header(&format!("evil/f{i}"), T::Regular, 5 * MIB as u64).zeros(5);
        }
        members.end()
    };
    // A Chart.yaml, then an entry of `kind` claiming 300 MiB of data (zeros): refused at 100 MiB.
    let oversized = |name: &'static str, path: &str, kind: T| {
        let members = Members::new().file("evil/Chart.yaml", chart.as_bytes());
        (name, members.header(path, kind, 300 * MIB as u64).zeros(300).end(), Want::Refused(None, "100 MiB"))
    };
    vec![
        // 200 MiB of zeros: an empty tar; must stop after the first block.
        ("200 MiB of zeros", Members::new().zeros(200).0, Want::Refused(None, "no files")),
        // 200 MiB of 0xFF: not a tar header; must stop at the first block.
        (
            "200 MiB of 0xFF",
            {
                let member = gzip(&vec![0xFF; MIB]);
                member.repeat(200)
            },
            Want::Refused(None, "not a readable"),
        ),
        // 25 files of 5 MiB: 125 MiB, each file within the per-file limit.
        ("25 × 5 MiB files", many_files, Want::Refused(None, "100 MiB")),
        // A GNU long name of 300 MiB: the tar reader buffers it whole unless the stream is capped.
        oversized("300 MiB GNU long name", "././@LongLink", T::GNULongName),
        // A pax header of 300 MiB, the same through another door.
        oversized("300 MiB pax header", "PaxHeaders/x", T::XHeader),
        // A pax global header of 300 MiB, skipped by the loader.
        oversized("300 MiB pax global header", "PaxHeaders/g", T::XGlobalHeader),
        // Directory entries carrying 300 MiB of data, skipped by the loader.
        oversized("300 MiB directory entry", "evil/d/", T::Directory),
    ]
}

#[test]
fn gzip_bombs_stop_early_and_fast() {
    let mut failures = Vec::new();
    for (name, bytes, want) in bombs() {
        assert!(bytes.len() < 2 * MIB, "{name}: the bomb itself is {} bytes", bytes.len());
        let start = Instant::now();
        match std::panic::catch_unwind(|| check(&bytes)) {
            Ok(result) if outcome_matches(&result, &want) => {}
            Ok(result) => {
                failures.push(format!("{name}: expected {want:?}, got {:?}", result.map(|c| c.metadata.name)))
            }
            Err(_) => failures.push(format!("{name}: panicked or too slow")),
        }
        let elapsed = start.elapsed();
        eprintln!("bomb `{name}` ({} KiB): stopped in {elapsed:?}", bytes.len() / 1024);
        if elapsed > Duration::from_secs(5) {
            failures.push(format!("{name}: took {elapsed:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Chart directories.

#[cfg(unix)]
#[test]
fn hostile_directories() {
    use std::os::unix::fs::symlink;

    type Setup = fn(&Utf8Path);
    let cases: Vec<(&str, Setup, Want)> = vec![
        (
            "symlink to /etc/passwd",
            |root| symlink("/etc/passwd", root.join("passwd")).unwrap(),
            Want::Error("outside the chart"),
        ),
        (
            "symlink to /dev/zero",
            |root| symlink("/dev/zero", root.join("zero")).unwrap(),
            Want::Error("outside the chart"),
        ),
        (
            "symlink to the parent",
            |root| symlink("..", root.join("up")).unwrap(),
            Want::Error("symbolic link"),
        ),
        (
            "symlink loop",
            |root| {
                symlink(root.join("b"), root.join("a")).unwrap();
                symlink(root.join("a"), root.join("b")).unwrap();
            },
            Want::Error(""),
        ),
        (
            "directory loop",
            |root| {
                std::fs::create_dir(root.join("templates")).unwrap();
                symlink(root, root.join("templates/self")).unwrap();
            },
            Want::Error("loop"),
        ),
        (
            "broken symlink",
            |root| symlink(root.join("nowhere"), root.join("dangling")).unwrap(),
            Want::Error("broken symbolic link"),
        ),
        ("fifo", |root| make_fifo(&root.join("pipe")), Want::Error("FIFO")),
        (
            "symlink to a fifo inside",
            |root| {
                make_fifo(&root.join("pipe"));
                symlink(root.join("pipe"), root.join("link")).unwrap();
            },
            Want::Error("FIFO"),
        ),
        (
            "6 MiB sparse file",
            |root| {
                std::fs::File::create(root.join("big.bin")).unwrap().set_len(6 * MIB as u64).unwrap();
            },
            Want::Error("5 MiB"),
        ),
        (
            "21 × 5 MiB sparse files",
            |root| {
                for i in 0..21 {
                    std::fs::File::create(root.join(format!("f{i:02}")))
                        .unwrap()
                        .set_len(5 * MIB as u64)
                        .unwrap();
                }
            },
            Want::Error("100 MiB"),
        ),
        (
            "non-UTF-8 file name",
            |root| {
                use std::os::unix::ffi::OsStrExt;
                std::fs::write(root.as_std_path().join(std::ffi::OsStr::from_bytes(b"bad\xff")), "x")
                    .unwrap();
            },
            Want::Error("not UTF-8"),
        ),
        (
            "values.yaml not UTF-8",
            |root| std::fs::write(root.join("values.yaml"), b"a: \xff\n").unwrap(),
            Want::Error("not valid UTF-8"),
        ),
        (
            ".helmignore with **",
            |root| std::fs::write(root.join(".helmignore"), "ok\n**/x\n").unwrap(),
            Want::Error("double-star"),
        ),
        (
            "ignored fifo",
            |root| {
                make_fifo(&root.join("pipe"));
                std::fs::write(root.join(".helmignore"), "pipe\n").unwrap();
            },
            Want::Ok,
        ),
        (
            "ignored link out",
            |root| {
                symlink("/etc", root.join("etc")).unwrap();
                std::fs::write(root.join(".helmignore"), "etc/\n").unwrap();
            },
            Want::Ok,
        ),
    ];
    let mut failures = Vec::new();
    for (name, setup, want) in &cases {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().join("chart")).unwrap();
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("Chart.yaml"), chart_yaml("chart")).unwrap();
        setup(&root);
        match std::panic::catch_unwind(|| check_path(&root)) {
            Ok(result) if outcome_matches(&result, want) => {}
            Ok(result) => {
                failures.push(format!("{name}: expected {want:?}, got {:?}", result.map(|c| c.metadata.name)))
            }
            Err(_) => failures.push(format!("{name}: panicked")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} directory cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[cfg(unix)]
fn make_fifo(path: &Utf8Path) {
    let status = std::process::Command::new("mkfifo").arg(path.as_str()).status().unwrap();
    assert!(status.success(), "mkfifo {path}");
}

// ---------------------------------------------------------------------------------------------
// Properties.

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn entry_type() -> impl Strategy<Value = tar::EntryType> {
    use tar::EntryType as T;
    prop_oneof![
        6 => Just(T::Regular),
        1 => Just(T::Directory),
        1 => Just(T::Symlink),
        1 => Just(T::Link),
        1 => Just(T::Char),
        1 => Just(T::Fifo),
        1 => Just(T::XGlobalHeader),
        1 => any::<u8>().prop_map(T::new),
    ]
}

fn entry_name() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => Just(b"c".to_vec()),
            2 => Just(b"/".to_vec()),
            1 => Just(b"..".to_vec()),
            1 => Just(b".".to_vec()),
            1 => Just(b"\\".to_vec()),
            1 => Just(b"C:".to_vec()),
            2 => Just(b"Chart.yaml".to_vec()),
            1 => Just(b"values.yaml".to_vec()),
            1 => Just(b"charts".to_vec()),
            1 => Just(b"x.tgz".to_vec()),
            1 => Just("é".as_bytes().to_vec()),
            1 => Just(b"\xff".to_vec()),
        ],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

fn entry_data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(chart_yaml("c").into_bytes()),
        Just(b"a: 1\nimage: nginx:1\n".to_vec()),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// A valid archive to damage.
fn valid_archive() -> Vec<u8> {
    tgz(&[
        ("c/Chart.yaml", chart_yaml("c").as_bytes()),
        ("c/values.yaml", b"image: nginx:1.25\n"),
        ("c/templates/cm.yaml", b"kind: ConfigMap\n"),
        ("c/charts/sub/Chart.yaml", chart_yaml("sub").as_bytes()),
    ])
}

proptest! {
    #![proptest_config(config(64))]

    /// Any bytes as a `.tgz`.
    #[test]
    fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = check(&bytes);
    }

    /// Any bytes as the tar inside good gzip.
    #[test]
    fn any_tar_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = check(&gzip(&bytes));
    }

    /// Random entries with hostile names and types: a chart whose files all stay inside, or an
    /// error.
    #[test]
    fn random_entries_stay_inside(entries in prop::collection::vec((entry_name(), entry_type(), entry_data(), prop::option::of(entry_name())), 0..8)) {
        let entries: Vec<_> = entries
            .iter()
            .map(|(name, entry_type, data, link)| (name.as_slice(), *entry_type, data.as_slice(), link.as_deref()))
            .collect();
        let _ = check(&gzip(&tar_of(&entries)));
    }

    /// A good archive with one byte of its tar changed.
    #[test]
    fn damaged_tar_never_panics(at in any::<prop::sample::Index>(), byte: u8) {
        let archive = valid_archive();
        let mut decoder = flate2::read::GzDecoder::new(&archive[..]);
        let mut tar = Vec::new();
        decoder.read_to_end(&mut tar).unwrap();
        let at = at.index(tar.len());
        tar[at] = byte;
        let _ = check(&gzip(&tar));
    }

    /// A good archive with one byte of its gzip changed, or cut short.
    #[test]
    fn damaged_gzip_never_panics(at in any::<prop::sample::Index>(), byte: u8, cut: bool) {
        let mut bytes = valid_archive();
        let at = at.index(bytes.len());
        if cut {
            bytes.truncate(at);
        } else {
            bytes[at] ^= byte | 1;
        }
        let _ = check(&bytes);
    }
}
