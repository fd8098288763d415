//! Every regular file under a directory, sorted, with its `/`-separated path relative to the
//! directory: the one walk that `manifests/` pass-through, release-tree fingerprints and the
//! `SHA256SUMS` check share.

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{Error, Result};

/// A regular file found under a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeFile {
    /// Its path (the directory joined with `relative`).
    pub path: Utf8PathBuf,
    /// Its path below the directory, `/`-separated.
    pub relative: String,
}

/// Every regular file under `dir`, recursively, sorted by path; links are not followed.
pub(crate) fn tree_files(dir: &Utf8Path) -> Result<Vec<TreeFile>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|error| Error::Io {
            action: "read",
            path: dir.to_path_buf(),
            source: error.into(),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let path = Utf8Path::from_path(entry.path())
            .ok_or_else(|| Error::NonUtf8Path(entry.path().display().to_string()))?;
        let relative = path.strip_prefix(dir).map(|p| p.as_str().replace('\\', "/")).unwrap_or_default();
        files.push(TreeFile { path: path.to_path_buf(), relative });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_come_sorted_with_relative_paths_and_no_directories() {
        let temp = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(temp.path()).unwrap();
        std::fs::create_dir_all(dir.join("b/c")).unwrap();
        std::fs::write(dir.join("b/c/d.txt"), b"").unwrap();
        std::fs::write(dir.join("a.txt"), b"").unwrap();
        let relative: Vec<String> = tree_files(dir).unwrap().into_iter().map(|f| f.relative).collect();
        assert_eq!(relative, ["a.txt", "b/c/d.txt"]);
    }
}
