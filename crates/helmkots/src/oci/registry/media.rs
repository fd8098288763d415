//! Media types and read-only views of manifests and indexes.
//!
//! Manifests and configs travel through helmkots as the exact bytes the registry served
//! ([`super::RawManifest`]): their digests are over those bytes, so nothing here ever
//! re-serialises them. This module only *reads* them, through small serde views that accept
//! both the OCI and the Docker schema 2 spelling and ignore fields they do not need.
//!
//! The views are our own rather than `oci-spec`'s `ImageManifest`/`ImageIndex`: those are
//! strict where registries are loose (a missing `mediaType`, Docker's media types, unknown
//! descriptor fields), and the callers need sha256 digests as [`Sha256Digest`] anyway.

use serde::Deserialize;

use crate::util::digest::Sha256Digest;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI gzip-compressed layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Docker schema 2 image manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema 2 manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker gzip-compressed layer.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Every manifest media type a pull accepts (sent as `Accept`): without the index types some
/// registries quietly answer with one platform's manifest.
pub const ACCEPTED_MANIFEST_TYPES: [&str; 4] =
    [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST];

/// The largest manifest or config helmkots reads into memory. The distribution spec asks
/// registries to accept manifests up to 4 MiB; configs of real images are far smaller.
pub const MAX_DOCUMENT_SIZE: u64 = 8 * 1024 * 1024;

/// What a manifest document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManifestKind {
    /// [`OCI_MANIFEST`].
    OciManifest,
    /// [`DOCKER_MANIFEST`].
    DockerManifest,
    /// [`OCI_INDEX`].
    OciIndex,
    /// [`DOCKER_MANIFEST_LIST`].
    DockerManifestList,
}

impl ManifestKind {
    /// The kind for a media type, if it is one of the four.
    pub fn from_media_type(media_type: &str) -> Option<ManifestKind> {
        match media_type {
            OCI_MANIFEST => Some(ManifestKind::OciManifest),
            DOCKER_MANIFEST => Some(ManifestKind::DockerManifest),
            OCI_INDEX => Some(ManifestKind::OciIndex),
            DOCKER_MANIFEST_LIST => Some(ManifestKind::DockerManifestList),
            _ => None,
        }
    }

    /// The media type, sent as `Content-Type` when pushing.
    pub fn media_type(self) -> &'static str {
        match self {
            ManifestKind::OciManifest => OCI_MANIFEST,
            ManifestKind::DockerManifest => DOCKER_MANIFEST,
            ManifestKind::OciIndex => OCI_INDEX,
            ManifestKind::DockerManifestList => DOCKER_MANIFEST_LIST,
        }
    }

    /// True for an index or manifest list.
    pub fn is_index(self) -> bool {
        matches!(self, ManifestKind::OciIndex | ManifestKind::DockerManifestList)
    }

    /// True for the Docker schema 2 family.
    pub fn is_docker(self) -> bool {
        matches!(self, ManifestKind::DockerManifest | ManifestKind::DockerManifestList)
    }

    /// The gzip layer media type that goes with this manifest family.
    pub fn gzip_layer_media_type(self) -> &'static str {
        if self.is_docker() {
            DOCKER_LAYER_GZIP
        } else {
            OCI_LAYER_GZIP
        }
    }
}

/// Works out what a manifest document is: its `mediaType` field when present, else its shape
/// (an OCI document may omit `mediaType`: `manifests` means an index, `config` a manifest).
/// `None` for anything else (schema 1, artifacts of unknown types, not JSON).
pub fn detect_kind(bytes: &[u8]) -> Option<ManifestKind> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        schema_version: Option<i64>,
        media_type: Option<String>,
        manifests: Option<serde::de::IgnoredAny>,
        config: Option<serde::de::IgnoredAny>,
    }
    let probe: Probe = serde_json::from_slice(bytes).ok()?;
    if probe.schema_version != Some(2) {
        return None;
    }
    match probe.media_type.as_deref() {
        Some(media_type) => ManifestKind::from_media_type(media_type),
        None if probe.manifests.is_some() => Some(ManifestKind::OciIndex),
        None if probe.config.is_some() => Some(ManifestKind::OciManifest),
        None => None,
    }
}

/// A content descriptor as found in a manifest or index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// The blob's media type.
    pub media_type: String,
    /// sha256 of the blob.
    pub digest: Sha256Digest,
    /// The blob's size in bytes.
    pub size: u64,
    /// The platform, for an index entry that has one.
    pub platform: Option<super::Platform>,
}

/// A parsed image manifest (OCI or Docker schema 2): what to fetch, nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageManifest {
    /// OCI or Docker.
    pub kind: ManifestKind,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, base first.
    pub layers: Vec<Descriptor>,
}

/// A parsed image index or manifest list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageIndex {
    /// OCI or Docker.
    pub kind: ManifestKind,
    /// The entries, in document order.
    pub manifests: Vec<Descriptor>,
}

/// Why a manifest document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestProblem {
    /// Not JSON, or a required field is missing or of the wrong type.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// "manifest" or "index".
        what: &'static str,
        /// The JSON parser's message.
        detail: String,
    },
    /// A digest that is not `sha256:` and 64 lower-case hex digits.
    #[error("unsupported digest `{0}` (helmkots handles sha256 only)")]
    UnsupportedDigest(String),
    /// A size that does not fit what the document says.
    #[error("negative or missing size for {0}")]
    BadSize(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: i64,
    platform: Option<RawPlatform>,
}

#[derive(Deserialize)]
struct RawPlatform {
    architecture: String,
    os: String,
    variant: Option<String>,
}

impl RawDescriptor {
    fn into_descriptor(self) -> Result<Descriptor, ManifestProblem> {
        let digest = Sha256Digest::parse(&self.digest)
            .ok_or_else(|| ManifestProblem::UnsupportedDigest(self.digest.clone()))?;
        let size = u64::try_from(self.size).map_err(|_| ManifestProblem::BadSize(self.digest.clone()))?;
        let platform = self.platform.map(|platform| super::Platform {
            os: platform.os,
            architecture: platform.architecture,
            variant: platform.variant.filter(|variant| !variant.is_empty()),
        });
        Ok(Descriptor { media_type: self.media_type, digest, size, platform })
    }
}

/// Reads an image manifest of the given kind.
pub fn parse_manifest(kind: ManifestKind, bytes: &[u8]) -> Result<ImageManifest, ManifestProblem> {
    #[derive(Deserialize)]
    struct Raw {
        config: RawDescriptor,
        #[serde(default)]
        layers: Vec<RawDescriptor>,
    }
    let raw: Raw = serde_json::from_slice(bytes)
        .map_err(|error| ManifestProblem::Malformed { what: "manifest", detail: error.to_string() })?;
    let config = raw.config.into_descriptor()?;
    let layers = raw.layers.into_iter().map(RawDescriptor::into_descriptor).collect::<Result<_, _>>()?;
    Ok(ImageManifest { kind, config, layers })
}

/// Reads an image index or manifest list of the given kind.
pub fn parse_index(kind: ManifestKind, bytes: &[u8]) -> Result<ImageIndex, ManifestProblem> {
    #[derive(Deserialize)]
    struct Raw {
        manifests: Vec<RawDescriptor>,
    }
    let raw: Raw = serde_json::from_slice(bytes)
        .map_err(|error| ManifestProblem::Malformed { what: "index", detail: error.to_string() })?;
    let manifests =
        raw.manifests.into_iter().map(RawDescriptor::into_descriptor).collect::<Result<_, _>>()?;
    Ok(ImageIndex { kind, manifests })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const SHA_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn kind_from_media_type_or_shape() {
        let docker = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"{DOCKER_CONFIG}","digest":"{SHA_A}","size":3}},"layers":[]}}"#
        );
        assert_eq!(detect_kind(docker.as_bytes()), Some(ManifestKind::DockerManifest));
        let bare_oci =
            format!(r#"{{"schemaVersion":2,"config":{{"digest":"{SHA_A}","size":3}},"layers":[]}}"#);
        assert_eq!(detect_kind(bare_oci.as_bytes()), Some(ManifestKind::OciManifest));
        let bare_index = r#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(detect_kind(bare_index.as_bytes()), Some(ManifestKind::OciIndex));
        assert_eq!(detect_kind(br#"{"schemaVersion":1,"fsLayers":[]}"#), None);
        assert_eq!(detect_kind(b"not json"), None);
        assert_eq!(detect_kind(br#"{"schemaVersion":2,"mediaType":"application/x-other"}"#), None);
    }

    #[test]
    fn manifest_and_index_views() {
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{OCI_CONFIG}","digest":"{SHA_A}","size":3,"extra":1}},
               "layers":[{{"mediaType":"{OCI_LAYER_GZIP}","digest":"{SHA_B}","size":10,"annotations":{{"a":"b"}}}}]}}"#
        );
        let parsed = parse_manifest(ManifestKind::OciManifest, manifest.as_bytes()).unwrap();
        assert_eq!(parsed.config.digest.oci(), SHA_A);
        assert_eq!(parsed.layers.len(), 1);
        assert_eq!(parsed.layers[0].size, 10);

        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{SHA_A}","size":5,
               "platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#
        );
        let parsed = parse_index(ManifestKind::OciIndex, index.as_bytes()).unwrap();
        let platform = parsed.manifests[0].platform.as_ref().unwrap();
        assert_eq!((platform.os.as_str(), platform.architecture.as_str()), ("linux", "arm64"));
        assert_eq!(platform.variant.as_deref(), Some("v8"));
    }

    #[test]
    fn bad_documents_are_errors_not_panics() {
        let sha512 = r#"{"schemaVersion":2,"config":{"digest":"sha512:00","size":3},"layers":[]}"#;
        assert!(matches!(
            parse_manifest(ManifestKind::OciManifest, sha512.as_bytes()),
            Err(ManifestProblem::UnsupportedDigest(_))
        ));
        let negative =
            format!(r#"{{"schemaVersion":2,"config":{{"digest":"{SHA_A}","size":-1}},"layers":[]}}"#);
        assert!(matches!(
            parse_manifest(ManifestKind::OciManifest, negative.as_bytes()),
            Err(ManifestProblem::BadSize(_))
        ));
        assert!(matches!(parse_index(ManifestKind::OciIndex, b"[]"), Err(ManifestProblem::Malformed { .. })));
    }

    #[test]
    fn sha256_parsing() {
        assert_eq!(Sha256Digest::parse(SHA_A).map(|d| d.oci()), Some(SHA_A.to_string()));
        assert_eq!(Sha256Digest::parse("sha256:AAAA"), None);
        assert_eq!(Sha256Digest::parse(&SHA_A.to_uppercase()), None);
        assert_eq!(Sha256Digest::parse("md5:aaaa"), None);
    }
}
