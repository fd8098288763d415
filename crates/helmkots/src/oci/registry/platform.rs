//! Picking one image out of an index for a [`Platform`] (the value, and how it is written in
//! release.toml, is `input/platform.rs`).
//!
//! `[helm_cli] platform` (default `linux/amd64`) decides which manifest of a multi-platform
//! base image the helm-cli image is built on; the airgap bundle uses the same matcher.

use super::media::{Descriptor, ImageIndex, ManifestKind};
pub use crate::input::platform::{Platform, PlatformError};

/// The index entry for `wanted`: the first image manifest whose platform matches. Entries
/// that are not image manifests (attestations, nested indexes, artifacts) and entries
/// without a platform or with `unknown/unknown` are skipped.
pub fn select<'a>(index: &'a ImageIndex, wanted: &Platform) -> Option<&'a Descriptor> {
    image_entries(index).find(|(_, platform)| wanted.matches(platform)).map(|(entry, _)| entry)
}

/// The platforms an index offers images for, in document order (for error messages).
pub fn available(index: &ImageIndex) -> Vec<Platform> {
    image_entries(index).map(|(_, platform)| platform.clone()).collect()
}

fn image_entries(index: &ImageIndex) -> impl Iterator<Item = (&Descriptor, &Platform)> {
    index.manifests.iter().filter_map(|entry| {
        let kind = ManifestKind::from_media_type(&entry.media_type);
        let is_image = matches!(kind, Some(kind) if !kind.is_index()) || entry.media_type.is_empty();
        let platform = entry.platform.as_ref()?;
        (is_image && platform.os != "unknown" && platform.architecture != "unknown")
            .then_some((entry, platform))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::registry::media::{DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
    use crate::util::digest::Sha256Digest;

    fn entry(media_type: &str, platform: &str, seed: u8) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: Sha256Digest([seed; 32]),
            size: 1,
            platform: Some(Platform::parse(platform).unwrap()),
        }
    }

    fn pick(index: &ImageIndex, wanted: &str) -> Option<u8> {
        select(index, &Platform::parse(wanted).unwrap()).map(|entry| entry.digest.0[0])
    }

    #[test]
    fn parse_and_display() {
        assert_eq!(Platform::parse("linux/amd64").unwrap().to_string(), "linux/amd64");
        assert_eq!(Platform::parse("linux/arm/v7").unwrap().variant.as_deref(), Some("v7"));
        for bad in ["", "linux", "linux/", "/amd64", "linux/amd64/v8/x", "Linux/amd64", "linux amd64"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn selection_skips_attestations_and_normalises_variants() {
        let index = ImageIndex {
            kind: ManifestKind::OciIndex,
            manifests: vec![
                entry(OCI_MANIFEST, "unknown/unknown", 9),
                entry(OCI_INDEX, "linux/amd64", 8),
                entry(OCI_MANIFEST, "linux/amd64", 1),
                entry(DOCKER_MANIFEST, "linux/arm64/v8", 2),
                entry(OCI_MANIFEST, "linux/arm/v6", 3),
                entry(OCI_MANIFEST, "linux/arm/v7", 4),
            ],
        };
        assert_eq!(pick(&index, "linux/amd64"), Some(1));
        assert_eq!(pick(&index, "linux/arm64"), Some(2));
        assert_eq!(pick(&index, "linux/arm64/v8"), Some(2));
        assert_eq!(pick(&index, "linux/arm"), Some(4));
        assert_eq!(pick(&index, "linux/arm/v6"), Some(3));
        assert_eq!(pick(&index, "linux/s390x"), None);
        assert_eq!(pick(&index, "windows/amd64"), None);
        let offered: Vec<String> = available(&index).iter().map(Platform::to_string).collect();
        assert_eq!(offered, ["linux/amd64", "linux/arm64/v8", "linux/arm/v6", "linux/arm/v7"]);
    }
}
