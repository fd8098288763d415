//! The release pipeline: gather every input, plan every output, then write the tree once.
//!
//! Stages, in order:
//! 1. [`check`]: read and validate `release.toml` ([`crate::release`]), then load and
//!    validate the chart it points at ([`crate::chart`]). No network, no writes.
//! 2. [`release`]: package the chart, plan the output tree (chart archive, build record,
//!    checksums), and hand it to [`crate::dist::write_atomically`].
//!
//! Architecture Invariant: this is the only module that sequences stages; each stage is a
//! function of its inputs and returns data.

use camino::{Utf8Path, Utf8PathBuf};

use crate::{
    chart::{self, Chart},
    diagnostic::{FileProblems, Problem},
    digest::Sha256Digest,
    dist::{self, OutputTree},
    error::{Error, Result},
    lock::{self, BuildRecord, ChartRecord, FileRecord},
    release::{self, Release},
    reproducible,
};

/// A validated release and its loaded chart.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The validated release file.
    pub release: Release,
    /// The chart it points at, with its vendored subcharts.
    pub chart: Chart,
}

impl Checked {
    /// The release version: `[app] version`, else the chart's version.
    pub fn version(&self) -> String {
        match &self.release.app.version {
            Some(version) => version.get_ref().clone(),
            None => self.chart.metadata.version.to_string(),
        }
    }

    /// `<slug>-<version>`: the name of the release tree.
    pub fn tree_name(&self) -> String {
        format!("{}-{}", self.release.app.slug.get_ref(), self.version())
    }
}

/// Validates the release file and the chart; reads files, never the network.
pub fn check(release_file: &Utf8Path) -> Result<Checked> {
    let release = release::load(release_file)?;
    let chart_path = release.chart_path();
    if !chart_path.exists() {
        let spec = &release.chart.path;
        return Err(Error::Invalid(FileProblems {
            file: release.file.clone(),
            problems: vec![Problem::at(spec.span(), format!("chart `{}` does not exist", spec.get_ref()))
                .with_help(format!(
                    "`chart.path` is resolved from {}; point it at a chart directory (with Chart.yaml) or a .tgz",
                    release.root
                ))],
        }));
    }
    let chart = chart::load(&chart_path)?;
    Ok(Checked { release, chart })
}

/// What `release` needs besides the release file.
#[derive(Debug, Clone)]
pub struct ReleaseOptions {
    /// The release file.
    pub release_file: Utf8PathBuf,
    /// Where release trees go; `dist/` beside the release file when absent.
    pub out_dir: Option<Utf8PathBuf>,
    /// Skip every step that needs a registry.
    pub offline: bool,
}

/// What `release` produced.
#[derive(Debug, Clone)]
pub struct ReleaseOutcome {
    /// The release tree.
    pub dir: Utf8PathBuf,
    /// The build record written into it.
    pub record: BuildRecord,
}

/// Builds the release tree `dist/<slug>-<version>/`.
pub fn release(options: &ReleaseOptions) -> Result<ReleaseOutcome> {
    let checked = check(&options.release_file)?;
    if !options.offline {
        return Err(Error::Unsupported {
            what: "building the helm-cli image and the airgap bundle (they need a registry client)".into(),
            help: "run `cargo xtask release --offline` to build the chart, manifests and build record".into(),
        });
    }
    let out_dir = match &options.out_dir {
        Some(dir) => dir.clone(),
        None => checked.release.root.join("dist"),
    };
    let epoch = reproducible::source_date_epoch();
    let tree = plan_tree(&checked, epoch)?;
    let record = build_record(&checked, &tree, epoch)?;
    let mut tree = tree;
    tree.insert(lock::FILE_NAME, record.to_json().into_bytes());
    let sums = tree.checksums();
    tree.insert(dist::CHECKSUMS_FILE, sums.into_bytes());
    let dir = dist::write_atomically(&out_dir, &checked.tree_name(), &tree)?;
    Ok(ReleaseOutcome { dir, record })
}

/// Every output file except the build record and the checksums.
fn plan_tree(checked: &Checked, epoch: u64) -> Result<OutputTree> {
    let packaged = chart::package(&checked.chart, epoch)?;
    let mut tree = OutputTree::new();
    tree.insert(format!("charts/{}", packaged.file_name), packaged.bytes);
    Ok(tree)
}

fn build_record(checked: &Checked, tree: &OutputTree, epoch: u64) -> Result<BuildRecord> {
    let metadata = &checked.chart.metadata;
    let chart_path = format!("charts/{}-{}.tgz", metadata.name, metadata.version);
    let chart_sha = tree.get(&chart_path).map(Sha256Digest::of).map(|d| d.oci()).unwrap_or_default();
    Ok(BuildRecord {
        schema_version: lock::SCHEMA_VERSION,
        generator: format!("helmkots {}", env!("CARGO_PKG_VERSION")),
        slug: checked.release.app.slug.get_ref().clone(),
        version: checked.version(),
        source_date_epoch: epoch,
        chart: ChartRecord {
            name: metadata.name.clone(),
            version: metadata.version.to_string(),
            path: chart_path,
            sha256: chart_sha,
        },
        inputs: input_records(checked),
        outputs: tree.files().map(|(path, bytes)| file_record(path, bytes)).collect(),
    })
}

/// The release file and every chart file that went into the package.
fn input_records(checked: &Checked) -> Vec<FileRecord> {
    let release = &checked.release;
    let mut records = vec![file_record(
        release.file.path.file_name().unwrap_or("release.toml"),
        release.file.text.as_bytes(),
    )];
    let chart_prefix = relative_to(&release.chart_path(), &release.root);
    collect_chart_inputs(&checked.chart, &chart_prefix, &mut records);
    records.sort();
    records
}

fn collect_chart_inputs(chart: &Chart, prefix: &str, records: &mut Vec<FileRecord>) {
    for file in &chart.files {
        records.push(file_record(&format!("{prefix}/{}", file.path), &file.data));
    }
    for dependency in &chart.dependencies {
        let sub_prefix = format!("{prefix}/charts/{}", dependency.metadata.name);
        collect_chart_inputs(dependency, &sub_prefix, records);
    }
}

fn file_record(path: &str, bytes: &[u8]) -> FileRecord {
    FileRecord { path: path.to_string(), sha256: Sha256Digest::of(bytes).oci(), size: bytes.len() as u64 }
}

fn relative_to(path: &Utf8Path, root: &Utf8Path) -> String {
    path.strip_prefix(root).map_or_else(|_| path.to_string(), |p| p.to_string())
}
