//! Platforms (`os/architecture[/variant]`) and picking one image out of an index.
//!
//! `[helm_cli] platform` (default `linux/amd64`) decides which manifest of a multi-platform
//! base image the helm-cli image is built on; the airgap bundle uses the same matcher.

use std::fmt;

use super::media::{Descriptor, ImageIndex, ManifestKind};

/// A platform, e.g. `linux/amd64` or `linux/arm/v7`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    /// `linux`, `windows`, ...
    pub os: String,
    /// `amd64`, `arm64`, `arm`, ...
    pub architecture: String,
    /// `v8`, `v7`, ... when given.
    pub variant: Option<String>,
}

/// Why a platform string is not `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid platform `{input}`: expected `os/architecture` or `os/architecture/variant`, e.g. `linux/amd64`"
)]
pub struct PlatformError {
    /// The string as given.
    pub input: String,
}

impl Platform {
    /// Parses `os/architecture[/variant]`; parts are lower-case letters, digits, `_` and `.`.
    pub fn parse(input: &str) -> Result<Platform, PlatformError> {
        let fail = || PlatformError { input: input.to_string() };
        let parts: Vec<&str> = input.split('/').collect();
        let valid = |part: &str| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|part| valid(part)) {
            return Err(fail());
        }
        Ok(Platform {
            os: parts[0].to_string(),
            architecture: parts[1].to_string(),
            variant: parts.get(2).map(|variant| variant.to_string()),
        })
    }

    /// `linux/amd64`, the default of `[helm_cli] platform`.
    pub fn linux_amd64() -> Platform {
        Platform { os: "linux".into(), architecture: "amd64".into(), variant: None }
    }

    /// The variant an architecture has when none is written (`arm64` → `v8`, `arm` → `v7`),
    /// as containerd's platform matcher normalises it.
    fn default_variant(&self) -> Option<&'static str> {
        match self.architecture.as_str() {
            "arm64" => Some("v8"),
            "arm" => Some("v7"),
            _ => None,
        }
    }

    /// The variant, with the architecture's default filled in.
    fn normalized_variant(&self) -> Option<&str> {
        self.variant.as_deref().or(self.default_variant())
    }

    /// True when `other` (an index entry's platform) is this platform.
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && self.normalized_variant() == other.normalized_variant()
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Platform {
    type Err = PlatformError;

    fn from_str(input: &str) -> Result<Platform, PlatformError> {
        Platform::parse(input)
    }
}

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
