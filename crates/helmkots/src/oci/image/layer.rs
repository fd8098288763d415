//! Reproducible image layers: a sorted list of entries → tar → gzip, with both digests.
//!
//! Every header comes from [`crate::util::reproducible`] (uid/gid 0, no user names, one mtime) and
//! the gzip framing is the pinned one, so a layer's bytes depend only on its entries and the
//! mtime. The layer's **diff_id** is the sha256 of the uncompressed tar (it goes into the
//! config's `rootfs.diff_ids`); its **digest** is the sha256 of the gzip bytes (it goes into
//! the manifest). Mixing the two up is the classic image-building bug.

use std::io::{self, Write};

use crate::{
    util::digest::Sha256Digest,
    util::reproducible::{dir_header, file_header, gzip_writer},
};

/// The gzip level for image layers (what the Go tools use by default).
pub const LAYER_GZIP_LEVEL: u32 = 6;

/// One entry of a layer. Paths are relative, `/`-separated, without a leading `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerEntry {
    /// A directory, mode 0755.
    Directory {
        /// E.g. `apps`.
        path: String,
    },
    /// A regular file, mode 0644 or (executable) 0755.
    File {
        /// E.g. `apps/demo-app-1.0.0.tgz`.
        path: String,
        /// The contents.
        data: Vec<u8>,
        /// Mode 0755 instead of 0644.
        executable: bool,
    },
    /// A symbolic link, mode 0777.
    Symlink {
        /// E.g. `bin/sh`.
        path: String,
        /// E.g. `busybox`.
        target: String,
    },
}

impl LayerEntry {
    fn path(&self) -> &str {
        match self {
            LayerEntry::Directory { path }
            | LayerEntry::File { path, .. }
            | LayerEntry::Symlink { path, .. } => path,
        }
    }
}

/// A built layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The compressed blob.
    pub blob: Vec<u8>,
    /// sha256 of `blob` (the manifest's layer digest).
    pub digest: Sha256Digest,
    /// sha256 of the uncompressed tar (the config's diff_id).
    pub diff_id: Sha256Digest,
    /// The layer media type (OCI or Docker gzip, following the manifest it goes into).
    pub media_type: String,
}

/// Builds a gzip layer from `entries`, sorted by path, every entry stamped `mtime`.
pub fn build_layer(entries: &[LayerEntry], mtime: u64, media_type: &str) -> io::Result<Layer> {
    let mut sorted: Vec<&LayerEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.path().cmp(b.path()));
    if let Some(pair) = sorted.windows(2).find(|pair| pair[0].path() == pair[1].path()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("duplicate layer entry `{}`", pair[0].path()),
        ));
    }
    let mut builder = tar::Builder::new(Vec::new());
    for entry in sorted {
        match entry {
            LayerEntry::Directory { path } => {
                let mut header = dir_header(mtime);
                builder.append_data(&mut header, format!("{}/", path.trim_end_matches('/')), io::empty())?;
            }
            LayerEntry::File { path, data, executable } => {
                let mut header = file_header(data.len() as u64, mtime, *executable);
                builder.append_data(&mut header, path, data.as_slice())?;
            }
            LayerEntry::Symlink { path, target } => {
                let mut header = file_header(0, mtime, false);
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                builder.append_link(&mut header, path, target)?;
            }
        }
    }
    let tar_bytes = builder.into_inner()?;
    let diff_id = Sha256Digest::of(&tar_bytes);
    let mut gzip = gzip_writer(Vec::new(), LAYER_GZIP_LEVEL);
    gzip.write_all(&tar_bytes)?;
    let blob = gzip.finish()?;
    let digest = Sha256Digest::of(&blob);
    Ok(Layer { blob, digest, diff_id, media_type: media_type.to_string() })
}

/// The entries that put `file_name` into the directory `workdir` (an absolute path already
/// checked by [`normalize_workdir`]): each parent directory first, then the file (0644).
pub fn file_in_dir_entries(workdir: &str, file_name: &str, data: Vec<u8>) -> Vec<LayerEntry> {
    let mut entries = Vec::new();
    let mut prefix = String::new();
    for component in workdir.split('/').filter(|component| !component.is_empty()) {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(component);
        entries.push(LayerEntry::Directory { path: prefix.clone() });
    }
    let path = if prefix.is_empty() { file_name.to_string() } else { format!("{prefix}/{file_name}") };
    entries.push(LayerEntry::File { path, data, executable: false });
    entries
}

/// Checks an image working directory and writes it plainly: absolute, no `.`/`..`, no empty
/// components, no trailing `/` (except the root itself). `Err` says what is wrong.
pub fn normalize_workdir(workdir: &str) -> Result<String, &'static str> {
    if !workdir.starts_with('/') {
        return Err("it must be an absolute path");
    }
    let components: Vec<&str> = workdir.split('/').filter(|component| !component.is_empty()).collect();
    if components.iter().any(|component| *component == "." || *component == "..") {
        return Err("it must not contain `.` or `..`");
    }
    if workdir.contains('\0') || workdir.contains('\\') {
        return Err("it must not contain NUL or `\\`");
    }
    Ok(format!("/{}", components.join("/")))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn entries_of(layer: &Layer) -> Vec<(String, u32, u64, u64, tar::EntryType)> {
        let mut decoder = flate2::read::GzDecoder::new(layer.blob.as_slice());
        let mut tar_bytes = Vec::new();
        decoder.read_to_end(&mut tar_bytes).unwrap();
        assert_eq!(Sha256Digest::of(&tar_bytes), layer.diff_id, "diff_id is the uncompressed tar's digest");
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    entry.path().unwrap().to_string_lossy().into_owned(),
                    header.mode().unwrap(),
                    header.uid().unwrap(),
                    header.mtime().unwrap(),
                    header.entry_type(),
                )
            })
            .collect()
    }

    #[test]
    fn chart_layer_entries_dirs_first_fixed_owner_and_time() {
        let entries = file_in_dir_entries("/opt/charts", "app-1.0.0.tgz", b"chart".to_vec());
        let layer =
            build_layer(&entries, 946_684_800, "application/vnd.oci.image.layer.v1.tar+gzip").unwrap();
        assert_eq!(layer.digest, Sha256Digest::of(&layer.blob));
        assert_ne!(layer.digest, layer.diff_id);
        let listed = entries_of(&layer);
        let names: Vec<&str> = listed.iter().map(|entry| entry.0.as_str()).collect();
        assert_eq!(names, ["opt/", "opt/charts/", "opt/charts/app-1.0.0.tgz"]);
        assert_eq!(listed[0].1, 0o755);
        assert_eq!(listed[0].4, tar::EntryType::Directory);
        assert_eq!(listed[2].1, 0o644);
        assert!(listed.iter().all(|entry| entry.2 == 0 && entry.3 == 946_684_800));
    }

    #[test]
    fn layers_are_reproducible_and_order_independent() {
        let a = vec![
            LayerEntry::File { path: "bin/busybox".into(), data: b"x".to_vec(), executable: true },
            LayerEntry::Symlink { path: "bin/sh".into(), target: "busybox".into() },
            LayerEntry::Directory { path: "bin".into() },
        ];
        let mut b = a.clone();
        b.reverse();
        let first = build_layer(&a, 1, "m").unwrap();
        assert_eq!(first, build_layer(&b, 1, "m").unwrap());
        assert_ne!(first.digest, build_layer(&a, 2, "m").unwrap().digest);
        let listed = entries_of(&first);
        assert_eq!(listed[1].1, 0o755);
        assert_eq!(listed[2].4, tar::EntryType::Symlink);
        let duplicate = vec![a[0].clone(), a[0].clone()];
        assert!(build_layer(&duplicate, 1, "m").is_err());
    }

    #[test]
    fn workdirs() {
        assert_eq!(normalize_workdir("/apps").unwrap(), "/apps");
        assert_eq!(normalize_workdir("/apps/").unwrap(), "/apps");
        assert_eq!(normalize_workdir("//a//b").unwrap(), "/a/b");
        assert_eq!(normalize_workdir("/").unwrap(), "/");
        assert!(normalize_workdir("apps").is_err());
        assert!(normalize_workdir("/a/../b").is_err());
        assert_eq!(
            file_in_dir_entries("/", "c.tgz", vec![]),
            [LayerEntry::File { path: "c.tgz".into(), data: vec![], executable: false }]
        );
    }
}
