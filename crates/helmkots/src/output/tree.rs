//! The output tree `dist/<slug>-<version>/`, written all at once or not at all.
//!
//! Every file of a release is first planned in an [`OutputTree`]; [`write_atomically`] writes
//! the whole tree into a temporary sibling, syncs it, and only then swaps it into place, so a
//! failed or killed run never leaves a half-written tree and never damages the previous one.

use std::{
    collections::BTreeMap,
    fs::{self, File},
    io::Write,
};

use camino::{Utf8Path, Utf8PathBuf};

use crate::{
    error::{Error, IoContext, Result},
    util::digest::Sha256Digest,
};

/// The name of the checksum file at the top of every release tree.
pub const CHECKSUMS_FILE: &str = "SHA256SUMS";

/// Environment variable that makes [`write_atomically`] fail on purpose just before the swap;
/// tests use it to prove that a failed run leaves the previous tree intact.
pub(crate) const INJECT_FAILURE_ENV: &str = "HELMKOTS_INJECT_FAILURE";

/// Every file of a release tree, keyed by `/`-separated relative path (sorted).
#[derive(Debug, Default, Clone)]
pub struct OutputTree {
    files: BTreeMap<String, Vec<u8>>,
    /// Large files already written elsewhere (the airgap bundle): moved into the tree when it
    /// is written, with their digest and size known from when they were written.
    moved: BTreeMap<String, (Utf8PathBuf, Sha256Digest, u64)>,
}

impl OutputTree {
    /// An empty tree.
    pub fn new() -> OutputTree {
        OutputTree::default()
    }

    /// Adds (or replaces) a file.
    pub fn insert(&mut self, path: impl Into<String>, contents: Vec<u8>) {
        self.files.insert(path.into(), contents);
    }

    /// Adds a file already on disk (on the same filesystem as the output directory), to be
    /// moved into the tree; `sha256` and `size` describe its bytes.
    pub fn insert_moved(
        &mut self,
        path: impl Into<String>,
        source: Utf8PathBuf,
        sha256: Sha256Digest,
        size: u64,
    ) {
        self.moved.insert(path.into(), (source, sha256, size));
    }

    /// The files moved into the tree: path, digest, size.
    pub fn moved_files(&self) -> impl Iterator<Item = (&str, &Sha256Digest, u64)> {
        self.moved.iter().map(|(path, (_, digest, size))| (path.as_str(), digest, *size))
    }

    /// The files, sorted by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
    }

    /// A file's contents.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// `SHA256SUMS` text (`<hex>  <path>` lines, sorted by path) for every file so far.
    pub fn checksums(&self) -> String {
        let mut lines: BTreeMap<&str, String> =
            self.files.iter().map(|(path, bytes)| (path.as_str(), Sha256Digest::of(bytes).hex())).collect();
        lines.extend(self.moved.iter().map(|(path, (_, digest, _))| (path.as_str(), digest.hex())));
        lines.iter().map(|(path, hex)| format!("{hex}  {path}\n")).collect()
    }
}

/// What [`check_checksums`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChecksumCheck {
    /// How many files listed in `SHA256SUMS` were found and hashed.
    pub files_checked: usize,
    /// What differs, one line each.
    pub problems: Vec<String>,
}

/// Checks a written tree against its `SHA256SUMS`: every file listed, none missing, each with
/// the bytes it was written with.
pub fn check_checksums(dir: &Utf8Path) -> Result<ChecksumCheck> {
    let sums_path = dir.join(CHECKSUMS_FILE);
    let text = fs::read_to_string(&sums_path).io_context("read", &sums_path)?;
    let mut listed: BTreeMap<String, String> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut files_checked = 0;
    for (number, line) in text.lines().enumerate() {
        match line.split_once("  ") {
            Some((hex, path)) if hex.len() == 64 && !path.is_empty() => {
                listed.insert(path.to_string(), hex.to_string());
            }
            _ => problems.push(format!("{CHECKSUMS_FILE} line {} is not `<sha256>  <path>`", number + 1)),
        }
    }
    for file in crate::util::tree_files::tree_files(dir)? {
        let (path, relative) = (&file.path, file.relative);
        if relative == CHECKSUMS_FILE {
            continue;
        }
        let actual = Sha256Digest::of_reader(File::open(path).io_context("open", path)?)
            .io_context("read", path)?
            .hex();
        match listed.remove(&relative) {
            None => problems.push(format!(
                "`{relative}` is not listed in {CHECKSUMS_FILE}: it was added after the release was written"
            )),
            Some(expected) => {
                files_checked += 1;
                if expected != actual {
                    problems.push(format!(
                        "`{relative}` changed after the release was written: its sha256 is {actual}, {CHECKSUMS_FILE} lists {expected}"
                    ));
                }
            }
        }
    }
    for missing in listed.keys() {
        problems.push(format!("`{missing}` is listed in {CHECKSUMS_FILE} but missing"));
    }
    if !problems.is_empty() {
        problems.push(format!(
            "{dir} is not the tree a release wrote: run `cargo xtask release` to write it again"
        ));
    }
    Ok(ChecksumCheck { files_checked, problems })
}

/// Writes one file as a whole or not at all: a temporary file beside it, synced, then
/// renamed over it. A reader never sees half a file, and a failed write leaves the old one.
pub(crate) fn write_file_atomically(path: &Utf8Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_str().is_empty() => dir,
        _ => Utf8Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir).io_context("create", dir)?;
    std::io::Write::write_all(&mut temp, bytes).io_context("write", path)?;
    // A file the user keeps (and commits): readable as any file they write, where a
    // temporary file is created 0600; a file replaced keeps its mode.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).map_or(0o644, |old| old.permissions().mode() & 0o777);
        temp.as_file().set_permissions(std::fs::Permissions::from_mode(mode)).io_context("write", path)?;
    }
    temp.as_file().sync_all().io_context("sync", path)?;
    temp.persist(path).map_err(|e| e.error).io_context("rename", path)?;
    Ok(())
}

/// Writes `tree` as `out_dir/name`, replacing any previous tree only once the new one is
/// complete and synced. Returns the final directory.
pub(crate) fn write_atomically(out_dir: &Utf8Path, name: &str, tree: &OutputTree) -> Result<Utf8PathBuf> {
    replace_dir(out_dir, name, |staging| write_tree(staging, tree))
}

/// Makes `out_dir/name` with `fill`, which writes into a staging folder beside it (a path
/// that does not exist yet); the staging folder then replaces any previous `name` with
/// [`swap_into_place`], and is removed when `fill` fails. Leftovers of killed runs under
/// this name are swept first. Returns the final directory.
pub(crate) fn replace_dir(
    out_dir: &Utf8Path,
    name: &str,
    fill: impl FnOnce(&Utf8Path) -> Result<()>,
) -> Result<Utf8PathBuf> {
    fs::create_dir_all(out_dir).io_context("create", out_dir)?;
    let final_dir = out_dir.join(name);
    let staging = out_dir.join(format!(".{name}.partial-{}", std::process::id()));
    sweep_leftovers(out_dir, name);
    // A leftover of an earlier process that had this pid.
    let _ = fs::remove_dir_all(&staging);
    let result = fill(&staging).and_then(|()| {
        if std::env::var(INJECT_FAILURE_ENV).is_ok_and(|v| v == "before-swap") {
            return Err(Error::Io {
                action: "finish",
                path: staging.clone(),
                source: std::io::Error::other(format!("failure injected by {INJECT_FAILURE_ENV}")),
            });
        }
        swap_into_place(&staging, &final_dir)
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result.map(|()| final_dir)
}

/// A file that will be moved into the tree `out_dir/name` (the airgap bundle, written while
/// the blobs arrive): `.<name>.<what>-partial-<pid>`, after the leftovers of killed runs
/// under this name are swept.
pub(crate) fn staging_file(out_dir: &Utf8Path, name: &str, what: &str) -> Utf8PathBuf {
    sweep_leftovers(out_dir, name);
    out_dir.join(format!(".{name}.{what}-partial-{}", std::process::id()))
}

fn write_tree(root: &Utf8Path, tree: &OutputTree) -> Result<()> {
    if root.exists() {
        fs::remove_dir_all(root).io_context("remove", root)?;
    }
    fs::create_dir_all(root).io_context("create", root)?;
    for (relative, bytes) in tree.files() {
        let path = root.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).io_context("create", parent)?;
        }
        let mut file = File::create(&path).io_context("create", &path)?;
        file.write_all(bytes).io_context("write", &path)?;
        file.sync_all().io_context("sync", &path)?;
    }
    for (relative, (source, _, _)) in &tree.moved {
        let path = root.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).io_context("create", parent)?;
        }
        fs::rename(source, &path).io_context("move", source)?;
    }
    Ok(())
}

/// Moves `staging` to `final_dir`. An existing tree is first moved aside, and removed only
/// once the new one is in place; a run killed between the two renames is repaired by the
/// next run ([`sweep_leftovers`] puts the old tree back).
fn swap_into_place(staging: &Utf8Path, final_dir: &Utf8Path) -> Result<()> {
    if !final_dir.exists() {
        return fs::rename(staging, final_dir).io_context("rename", staging);
    }
    let aside = final_dir.with_file_name(format!(
        ".{}.old-{}",
        final_dir.file_name().unwrap_or("release"),
        std::process::id()
    ));
    fs::rename(final_dir, &aside).io_context("rename", final_dir)?;
    if let Err(error) = fs::rename(staging, final_dir) {
        // Put the previous tree back: it must survive a failed run.
        let _ = fs::rename(&aside, final_dir);
        return Err(Error::Io { action: "rename", path: staging.to_path_buf(), source: error });
    }
    fs::remove_dir_all(&aside).io_context("remove", &aside)
}

/// Removes what killed runs left beside `out_dir/name` (`.name.partial-*` folders,
/// `.name.<what>-partial-*` files), and restores a previous tree that a run killed between
/// its two renames left aside (`.name.old-*` with no `name`). The one sweep of the out dir.
fn sweep_leftovers(out_dir: &Utf8Path, name: &str) {
    let Ok(entries) = out_dir.read_dir_utf8() else { return };
    let final_dir = out_dir.join(name);
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let Some(rest) = entry.file_name().strip_prefix(&prefix) else { continue };
        if belongs_to_a_live_run(rest) {
            continue;
        }
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if rest.starts_with("old-") {
            if final_dir.exists() {
                let _ = fs::remove_dir_all(entry.path());
            } else {
                let _ = fs::rename(entry.path(), &final_dir);
            }
        } else if rest.starts_with("partial-") && is_dir {
            let _ = fs::remove_dir_all(entry.path());
        } else if rest.contains("-partial-") && !is_dir {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether a leftover's name ends in the pid of a process that is still running: this one
/// (its bundle waits beside the tree) or a concurrent run into the same directory, which
/// must not lose its files.
fn belongs_to_a_live_run(file_name: &str) -> bool {
    let Some(pid) = file_name.rsplit('-').next().and_then(|pid| pid.parse::<u32>().ok()) else {
        return false;
    };
    pid == std::process::id() || Utf8Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(contents: &str) -> OutputTree {
        let mut tree = OutputTree::new();
        tree.insert("a.txt", contents.as_bytes().to_vec());
        tree.insert("sub/b.txt", b"b".to_vec());
        tree
    }

    #[test]
    fn replaces_previous_tree() -> Result<()> {
        let temp = tempfile::tempdir().unwrap();
        let out = Utf8Path::from_path(temp.path()).unwrap();
        write_atomically(out, "r", &tree("one"))?;
        let dir = write_atomically(out, "r", &tree("two"))?;
        assert_eq!(fs::read_to_string(dir.join("a.txt")).unwrap(), "two");
        let leftovers: Vec<_> = fs::read_dir(out).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers, vec!["r"]);
        Ok(())
    }

    #[test]
    fn restores_tree_left_aside_by_a_killed_run() -> Result<()> {
        let temp = tempfile::tempdir().unwrap();
        let out = Utf8Path::from_path(temp.path()).unwrap();
        let dir = write_atomically(out, "r", &tree("one"))?;
        fs::rename(&dir, out.join(".r.old-4000000001")).unwrap();
        fs::create_dir(out.join(".r.partial-4000000002")).unwrap();
        sweep_leftovers(out, "r");
        assert_eq!(fs::read_to_string(dir.join("a.txt")).unwrap(), "one");
        assert!(!out.join(".r.partial-4000000002").exists());
        Ok(())
    }

    #[test]
    fn a_written_tree_matches_its_checksums_until_a_file_changes() {
        let temp = tempfile::tempdir().unwrap();
        let out = Utf8Path::from_path(temp.path()).unwrap();
        let mut planned = tree("x");
        let sums = planned.checksums();
        planned.insert(CHECKSUMS_FILE, sums.into_bytes());
        let dir = write_atomically(out, "t", &planned).unwrap();
        assert_eq!(check_checksums(&dir).unwrap(), ChecksumCheck { files_checked: 2, problems: Vec::new() });
        fs::write(dir.join("a.txt"), b"changed").unwrap();
        fs::write(dir.join("extra"), b"new").unwrap();
        fs::remove_file(dir.join("sub/b.txt")).unwrap();
        let check = check_checksums(&dir).unwrap();
        assert_eq!(check.files_checked, 1, "only `a.txt` is both listed and there");
        let problems = check.problems.join("\n");
        for expected in
            ["`a.txt` changed", "`extra` is not listed", "`sub/b.txt` is listed in SHA256SUMS but missing"]
        {
            assert!(problems.contains(expected), "{expected}: {problems}");
        }
    }

    #[test]
    fn checksums_are_sorted_lines() {
        let sums = tree("x").checksums();
        let paths: Vec<&str> = sums.lines().map(|l| l.split("  ").nth(1).unwrap()).collect();
        assert_eq!(paths, vec!["a.txt", "sub/b.txt"]);
    }

    #[test]
    fn stale_staging_files_go_and_live_runs_keep_theirs() {
        let temp = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(temp.path()).unwrap();
        let prefix = ".app-1.0.0.airgap-partial-";
        // This run's own bundle, a dead run's, pid 1's (alive, not us).
        let names =
            [format!("{prefix}{}", std::process::id()), format!("{prefix}4294967"), format!("{prefix}1")];
        for name in &names {
            fs::write(dir.join(name), b"x").unwrap();
        }
        fs::write(dir.join("unrelated"), b"x").unwrap();
        assert_eq!(staging_file(dir, "app-1.0.0", "airgap"), dir.join(&names[0]));
        let mut left: Vec<String> =
            dir.read_dir_utf8().unwrap().flatten().map(|e| e.file_name().to_string()).collect();
        left.sort();
        let mut expected = vec![names[0].clone(), names[2].clone(), "unrelated".to_string()];
        expected.sort();
        assert_eq!(left, expected);
    }
}
