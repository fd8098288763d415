//! The Docker Distribution (registry v2) filesystem storage layout that KOTS serves an
//! airgap bundle's `images/` from (`format: docker`).
//!
//! KOTS starts a `registry` on the extracted `images/` and pulls each `savedImages` entry from
//! `localhost:<port>/<last path component>`, so every image is stored under its last path
//! component only. Blobs are stored once however many images share them.

use std::collections::BTreeMap;

use crate::{oci::airgap::PulledImage, util::digest::Sha256Digest};

/// What a file of the layout holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A blob from the store.
    Blob(Sha256Digest),
    /// A link file: `sha256:<hex>`.
    Link(Sha256Digest),
}

/// The storage root's prefix inside `images/`.
pub const ROOT: &str = "docker/registry/v2";

/// Every file of the storage root, keyed by path relative to `images/`, sorted.
pub fn files(images: &[PulledImage]) -> BTreeMap<String, Content> {
    let mut files = BTreeMap::new();
    for image in images {
        let repository = format!("{ROOT}/repositories/{}", image.repository_name());
        for digest in image.manifests.iter().chain(&image.blobs) {
            files.insert(blob_path(digest), Content::Blob(*digest));
        }
        for digest in &image.blobs {
            files
                .insert(format!("{repository}/_layers/sha256/{}/link", digest.hex()), Content::Link(*digest));
        }
        for digest in &image.manifests {
            files.insert(
                format!("{repository}/_manifests/revisions/sha256/{}/link", digest.hex()),
                Content::Link(*digest),
            );
        }
        if let (Some(tag), None) = (image.reference.tag(), image.reference.digest()) {
            let tag_dir = format!("{repository}/_manifests/tags/{tag}");
            files.insert(format!("{tag_dir}/current/link"), Content::Link(image.top));
            files
                .insert(format!("{tag_dir}/index/sha256/{}/link", image.top.hex()), Content::Link(image.top));
        }
    }
    files
}

/// Where a blob's bytes live.
pub fn blob_path(digest: &Sha256Digest) -> String {
    let hex = digest.hex();
    format!("{ROOT}/blobs/sha256/{}/{hex}/data", &hex[..2])
}

/// Every directory that holds a file of `paths`, sorted, each once.
pub fn directories<'a>(paths: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut dirs = std::collections::BTreeSet::new();
    for path in paths {
        let mut current = path.as_str();
        while let Some((parent, _)) = current.rsplit_once('/') {
            if !dirs.insert(parent.to_string()) {
                break;
            }
            current = parent;
        }
    }
    dirs.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::image_ref::ImageRef;

    #[test]
    fn shared_blobs_are_stored_once_and_tags_link_the_top() {
        let layer = Sha256Digest::of(b"layer");
        let image = |name: &str, manifest: &[u8]| PulledImage {
            reference: ImageRef::parse(name).unwrap(),
            resolved: Sha256Digest::of(manifest),
            top: Sha256Digest::of(manifest),
            top_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            manifests: vec![Sha256Digest::of(manifest)],
            blobs: vec![Sha256Digest::of(manifest.repeat(2).as_slice()), layer],
        };
        let files = files(&[image("docker.io/grafana/grafana:7.3.5", b"m1"), image("busybox:1", b"m2")]);
        let layer_data: Vec<_> =
            files.keys().filter(|k| k.ends_with(&format!("{}/data", layer.hex()))).collect();
        assert_eq!(layer_data.len(), 1);
        let tag = format!("{ROOT}/repositories/grafana/_manifests/tags/7.3.5/current/link");
        assert_eq!(files.get(&tag), Some(&Content::Link(Sha256Digest::of(b"m1"))));
        let dirs = directories(files.keys());
        assert!(dirs.contains(&"docker/registry/v2/repositories/busybox/_layers".to_string()));
    }
}
