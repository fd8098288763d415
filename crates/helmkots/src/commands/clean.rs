//! `clean`: removes what helmkots keeps beside a release file between runs, and says what
//! that frees: the image store (`target/helmkots-store/`, every pulled blob and partial
//! download) and the render cache (`target/helmkots/renders/`), plus the scratch directories
//! of runs that ended without removing theirs (`kill -9`).
//!
//! Everything removed is a cache: the next `release` pulls and renders again. The release
//! fingerprints (`target/helmkots/fingerprints/`) stay, so an unchanged tree is still up to
//! date. Do not clean while a release of the same folder runs: its pulls would start over.

use camino::{Utf8Path, Utf8PathBuf};

use crate::{
    error::{IoContext, Result},
    oci::store,
    render::helm_template,
    util::scratch,
};

/// One folder `clean` removes (or would remove, in a dry run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    /// What it is, for people: "image store", "render cache", ...
    pub what: &'static str,
    /// The folder.
    pub path: Utf8PathBuf,
    /// The regular files it held.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Removes the image store and the render cache beside the release file `release_file`, and
/// the scratch directories of ended runs; with `dry_run`, only measures them. Folders that
/// are not there are left out of the result.
pub fn clean(release_file: &Utf8Path, dry_run: bool) -> Result<Vec<Cleaned>> {
    let root = match release_file.parent() {
        Some(parent) if !parent.as_str().is_empty() => parent.to_path_buf(),
        _ => Utf8PathBuf::from("."),
    };
    let mut targets = vec![
        ("image store", root.join(store::DEFAULT_DIR)),
        ("render cache", root.join(helm_template::CACHE_DIR)),
    ];
    targets.extend(scratch::orphans().into_iter().map(|dir| ("temporary files of an ended run", dir)));
    let mut cleaned = Vec::new();
    for (what, path) in targets {
        if !path.is_dir() {
            continue;
        }
        let (mut files, mut bytes) = (0, 0);
        for file in crate::util::tree_files::tree_files(&path)? {
            files += 1;
            bytes += std::fs::symlink_metadata(&file.path).io_context("read", &file.path)?.len();
        }
        if !dry_run {
            std::fs::remove_dir_all(&path).io_context("remove", &path)?;
        }
        cleaned.push(Cleaned { what, path, files, bytes });
    }
    Ok(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_measures_then_removes_the_store_and_the_render_cache_only() -> Result<()> {
        let temp = tempfile::tempdir().io_context("create", "a temporary directory")?;
        let root = Utf8Path::from_path(temp.path()).expect("UTF-8 temp dir");
        let write = |relative: &str, bytes: usize| -> Result<()> {
            let path = root.join(relative);
            std::fs::create_dir_all(path.parent().expect("a parent")).io_context("create", &path)?;
            std::fs::write(&path, vec![b'x'; bytes]).io_context("write", &path)
        };
        write("release.toml", 3)?;
        write("target/helmkots-store/blobs/sha256/aa", 1000)?;
        write("target/helmkots-store/partial/bb", 24)?;
        write("target/helmkots/renders/cc", 7)?;
        write("target/helmkots/fingerprints/release.json", 5)?;
        let expected = vec![
            Cleaned { what: "image store", path: root.join(store::DEFAULT_DIR), files: 2, bytes: 1024 },
            Cleaned { what: "render cache", path: root.join(helm_template::CACHE_DIR), files: 1, bytes: 7 },
        ];
        let release_file = root.join("release.toml");
        let mut measured = clean(&release_file, true)?;
        measured.retain(|cleaned| cleaned.path.starts_with(root));
        assert_eq!(measured, expected);
        assert!(root.join("target/helmkots-store/partial/bb").exists(), "a dry run removes nothing");
        let mut removed = clean(&release_file, false)?;
        removed.retain(|cleaned| cleaned.path.starts_with(root));
        assert_eq!(removed, expected);
        assert!(!root.join(store::DEFAULT_DIR).exists() && !root.join(helm_template::CACHE_DIR).exists());
        assert!(root.join("target/helmkots/fingerprints/release.json").exists(), "fingerprints stay");
        let mut again = clean(&release_file, false)?;
        again.retain(|cleaned| cleaned.path.starts_with(root));
        assert_eq!(again, Vec::new(), "nothing is left to clean");
        Ok(())
    }
}
