//! The build record `release.lock.json`: every input and output of a release with its sha256.
//!
//! This is a compatibility contract (tools and later runs read it), so it lives in its own
//! module with a schema version, and only these types derive `Serialize`.

use serde::{Deserialize, Serialize};

/// The file name of the build record inside a release tree.
pub const FILE_NAME: &str = "release.lock.json";

/// The schema version written into every record; bump it on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole build record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    /// [`SCHEMA_VERSION`] at the time of writing.
    pub schema_version: u32,
    /// `helmkots <version>`.
    pub generator: String,
    /// The app slug.
    pub slug: String,
    /// The release version.
    pub version: String,
    /// The timestamp stamped into archives (`SOURCE_DATE_EPOCH` or the default).
    pub source_date_epoch: u64,
    /// The packaged chart.
    pub chart: ChartRecord,
    /// Every input file, relative to the release file's folder, sorted.
    pub inputs: Vec<FileRecord>,
    /// Every output file, relative to the release tree, sorted (this record and SHA256SUMS excluded).
    pub outputs: Vec<FileRecord>,
    /// The airgap bundle, when the release has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub airgap: Option<AirgapRecord>,
}

/// The airgap bundle of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AirgapRecord {
    /// Path of the bundle inside the release tree.
    pub path: String,
    /// `sha256:<hex>` of its `app.tar.gz`.
    pub app_tar_gz: String,
    /// Its `savedImages`.
    pub saved_images: Vec<String>,
    /// The helm-cli image the Job runs, pinned.
    pub helm_cli_image: String,
}

/// The packaged chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartRecord {
    /// Chart name.
    pub name: String,
    /// Chart version.
    pub version: String,
    /// Path of the archive inside the release tree.
    pub path: String,
    /// `sha256:<hex>` of the archive.
    pub sha256: String,
}

/// One file and its digest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileRecord {
    /// `/`-separated relative path.
    pub path: String,
    /// `sha256:<hex>`.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl BuildRecord {
    /// Pretty JSON with a trailing newline; field order is fixed by the struct, so the bytes
    /// are reproducible.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}
