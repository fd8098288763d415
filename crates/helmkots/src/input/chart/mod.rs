//! Helm charts: loading (a directory or a `.tgz`), validation, and reproducible packaging.
//!
//! Data flow: `charts/<name>/` or `<name>-<version>.tgz` → [`load`] → [`Chart`]
//! (metadata, values, files, vendored subcharts) → [`package`] → `<name>-<version>.tgz` + sha256.
//!
//! Loading is as tolerant as Helm 4: versions and ranges as Masterminds/semver reads them
//! (`v1.2.3`, `1.2`, `~v1.2`, `1.x.x`), YAML as go-yaml v2 reads it (YAML 1.1 scalars,
//! anchors and merge keys, comment blocks of any length). It is stricter only where Helm
//! would silently change what the author wrote, and every refusal names the file, the line
//! and the fix. [`Chart::coalesced_values`] gives the default values as a release sees them.
//!
//! Architecture Invariant: nothing here touches the network or the output tree; `package`
//! returns bytes and the caller decides where they go.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};

use crate::{diagnostic::SourceFile, util::digest::Sha256Digest};

// Submodules (one job each): metadata (Chart.yaml), load (directory walk + .helmignore),
// archive (safe .tgz reading), package (reproducible .tgz writing), dependencies (vendored
// subcharts checked against Chart.yaml), version (Helm's versions and ranges), helm_yaml
// (YAML as Helm reads it), coalesce (default values as Helm merges them), schema
// (values.schema.json validation as Helm does it).
mod archive;
mod coalesce;
mod dependencies;
mod helm_yaml;
mod load;
mod metadata;
mod package;
pub mod schema;
mod version;

pub(crate) use coalesce::{charts_with_values, ChartValues, OnMismatch};
pub(crate) use helm_yaml::merge_maps;

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
    /// The chart version as Helm reads it (`v1.2` is 1.2.0); [`Chart::version_text`] is
    /// the text as written, which Helm keeps and names the package after.
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
    /// The version range the vendored chart's version must satisfy, as written (Helm's
    /// Masterminds/semver syntax: `~1.2`, `^v1`, `>=1.0.0 <2`, `1.x.x`).
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

impl Chart {
    /// `version:` as written in Chart.yaml (`v1.21.1`, `1.2`), which Helm keeps as the
    /// chart's version and names the package after; `metadata.version` is its parsed value.
    /// Read back from [`Chart::metadata_file`]; a chart built in memory without one gives
    /// `metadata.version` printed.
    pub fn version_text(&self) -> String {
        metadata::version_as_written(&self.metadata_file).unwrap_or_else(|| self.metadata.version.to_string())
    }

    /// The chart's default values as Helm computes them for a release: values.yaml with each
    /// vendored subchart's values coalesced under its alias (else its name), the parent's
    /// values winning, maps merged, `null` defaults dropped, and `global` copied down into
    /// every subchart. Every subchart counts, whatever its `condition` or `tags`; import
    /// values are not applied.
    ///
    /// Fails, as Helm would, when a parent's values give a subchart's key something other
    /// than a map ([`crate::Error::Invalid`] at the key in values.yaml when it is there).
    pub fn coalesced_values(&self) -> crate::Result<serde_json::Value> {
        coalesce::coalesced_values(self)
    }

    /// The vendored subcharts as a release sees them: the key their values live under
    /// (the dependency's alias, else the chart name) and the chart. A chart declared twice
    /// with two aliases appears twice; a vendored chart no dependency declares appears
    /// under its own name.
    pub fn subcharts_by_key(&self) -> Vec<(String, &Chart)> {
        coalesce::effective_subcharts(self)
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

/// Loads and validates a chart: a directory (with `.helmignore` applied) or a `.tgz`
/// archive (read in memory, never extracted), with its vendored subcharts under `charts/`.
///
/// Mistakes in Chart.yaml, requirements.yaml, values.yaml, values.schema.json or
/// .helmignore come back as [`crate::Error::Invalid`], all of a file's problems at once;
/// a path that is not a chart (no Chart.yaml, or Chart.yaml itself) as
/// [`crate::Error::NotAChart`]; a refused archive entry as
/// [`crate::Error::UnsafeArchive`]. Every declared dependency must be vendored at a
/// version inside its range.
pub fn load(path: &Utf8Path) -> crate::Result<Chart> {
    if path.is_dir() {
        return load::load_dir(path);
    }
    if path.file_name().is_some_and(|name| name == "Chart.yaml" || name == "Chart.yml") {
        return Err(crate::Error::NotAChart {
            path: path.to_path_buf(),
            reason: "this is a chart's metadata file".to_string(),
            enclosing_chart: enclosing_chart(path),
        });
    }
    archive::load_archive(path)
}

/// The nearest folder above `path` that holds a Chart.yaml: the chart a path inside it
/// (its `templates/`, its Chart.yaml) belongs to.
pub(crate) fn enclosing_chart(path: &Utf8Path) -> Option<camino::Utf8PathBuf> {
    path.ancestors().skip(1).find(|dir| dir.join("Chart.yaml").is_file()).map(Utf8Path::to_path_buf)
}

/// Packages a chart as `<name>-<version>.tgz` (the version as written, as Helm names it) in
/// Helm's layout, with subcharts expanded
/// under `<name>/charts/<subname>/`, every entry stamped `mtime` (seconds since the epoch).
///
/// The bytes depend only on the chart's content and `mtime`: the same chart packaged twice
/// gives the same sha256, whatever the files' timestamps or the order they were found in.
pub fn package(chart: &Chart, mtime: u64) -> crate::Result<PackagedChart> {
    package::package(chart, mtime)
}
