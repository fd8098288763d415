//! Helm charts: loading (a directory or a `.tgz`), validation, and reproducible packaging.
//!
//! Data flow: `charts/<name>/` or `<name>-<version>.tgz` → [`load`] → [`Chart`]
//! (metadata, values, files, vendored subcharts) → [`package`] → `<name>-<version>.tgz` + sha256.
//!
//! Architecture Invariant: nothing here touches the network or the output tree; `package`
//! returns bytes and the caller decides where they go.

use std::collections::BTreeMap;

use camino::Utf8PathBuf;

use crate::{diagnostic::SourceFile, digest::Sha256Digest};

// Submodules (one job each): metadata (Chart.yaml), load (directory walk + .helmignore),
// archive (safe .tgz reading), package (reproducible .tgz writing), dependencies (vendored
// subcharts checked against Chart.yaml).

/// A loaded, validated chart with its vendored subcharts.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Where the chart came from.
    pub origin: ChartOrigin,
    /// Parsed and validated `Chart.yaml`.
    pub metadata: ChartMetadata,
    /// The `Chart.yaml` text, for diagnostics that point into it.
    pub metadata_file: SourceFile,
    /// Parsed `values.yaml` (an empty map when the file is absent or empty).
    pub values: serde_json::Value,
    /// Every file of this chart except those of its subcharts, `Chart.yaml` and
    /// `values.yaml` included, after `.helmignore`; sorted by path.
    pub files: Vec<ChartFile>,
    /// Vendored subcharts found under `charts/` (directories or `.tgz`), sorted by name.
    pub dependencies: Vec<Chart>,
}

/// Where a chart was loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartOrigin {
    /// A chart directory.
    Directory(Utf8PathBuf),
    /// A chart archive; for a subchart inside another archive, the outer archive.
    Archive(Utf8PathBuf),
}

/// One file of a chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFile {
    /// Path relative to the chart root, `/`-separated, e.g. `templates/deployment.yaml`.
    pub path: String,
    /// The file's bytes (a UTF-8 BOM already stripped, as Helm does).
    pub data: Vec<u8>,
}

/// The validated contents of `Chart.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartMetadata {
    /// `v1` or `v2`.
    pub api_version: String,
    /// The chart name (also the top folder in the archive).
    pub name: String,
    /// The chart version, SemVer 2.
    pub version: semver::Version,
    /// `appVersion`, when set.
    pub app_version: Option<String>,
    /// `application` (default) or `library`.
    pub chart_type: ChartType,
    /// `description`, when set.
    pub description: Option<String>,
    /// Declared dependencies (from `Chart.yaml`, or `requirements.yaml` for apiVersion v1).
    pub dependencies: Vec<DependencySpec>,
    /// `annotations`, e.g. `artifacthub.io/images`.
    pub annotations: BTreeMap<String, String>,
}

/// `type:` in Chart.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartType {
    /// An installable chart.
    Application,
    /// A chart of helpers only.
    Library,
}

/// One entry of `dependencies:` in Chart.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencySpec {
    /// The subchart's name.
    pub name: String,
    /// The SemVer range the vendored chart's version must satisfy.
    pub version: String,
    /// `repository`, when set.
    pub repository: Option<String>,
    /// `alias`: the key under which the parent passes values to the subchart.
    pub alias: Option<String>,
    /// `condition`: values path(s) that enable the subchart.
    pub condition: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
}

impl DependencySpec {
    /// The key in the parent's values that holds this subchart's values.
    pub fn values_key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// A packaged chart: `<name>-<version>.tgz` bytes and their digest.
#[derive(Debug, Clone)]
pub struct PackagedChart {
    /// `<name>-<version>.tgz`.
    pub file_name: String,
    /// The archive bytes.
    pub bytes: Vec<u8>,
    /// sha256 of `bytes`.
    pub sha256: Sha256Digest,
}
