//! Writing a loaded chart as `<name>-<version>.tgz` in Helm's layout, byte-reproducibly.
//!
//! Entries are `<name>/<path>`, regular files only, no directory entries, in Helm's
//! order: Chart.yaml, Chart.lock, values.yaml, values.schema.json, templates (sorted),
//! other files (sorted), then subcharts sorted by name, each expanded under
//! `<name>/charts/<subname>/` (a `.tgz` subchart too, as Helm does). Every header and the
//! gzip framing come from [`crate::util::reproducible`], and file bytes are written as loaded
//! (Chart.yaml is not re-marshalled), so the output depends only on the chart's content
//! and the given mtime, never on file timestamps or walk order.

use std::collections::BTreeSet;

use super::{Chart, ChartFile, PackagedChart};
use crate::{
    error::{Error, Result},
    util::digest::Sha256Digest,
    util::reproducible::{append_file, gzip_writer, TEXT_LEVEL},
};

/// The files Helm writes first, in this order.
const LEADING_FILES: [&str; 4] = ["Chart.yaml", "Chart.lock", "values.yaml", "values.schema.json"];

/// Packages `chart` with every entry stamped `mtime` (seconds since the epoch).
pub(crate) fn package(chart: &Chart, mtime: u64) -> Result<PackagedChart> {
    // Helm names the archive after the version as written (`demo-v1.2.tgz`).
    let file_name = format!("{}-{}.tgz", chart.metadata.name, chart.version_text());
    let write_error =
        |source: std::io::Error| Error::Io { action: "write", path: file_name.clone().into(), source };
    let mut builder = tar::Builder::new(gzip_writer(Vec::new(), TEXT_LEVEL));
    append_chart(&mut builder, chart, &chart.metadata.name, mtime).map_err(|error| match error {
        AppendError::Io(source) => write_error(source),
        AppendError::Chart(error) => error,
    })?;
    let bytes = builder.into_inner().and_then(|gzip| gzip.finish()).map_err(write_error)?;
    let sha256 = Sha256Digest::of(&bytes);
    Ok(PackagedChart { file_name, bytes, sha256 })
}

/// Why appending failed: the stream (cannot really fail for a `Vec`) or the chart itself.
enum AppendError {
    Io(std::io::Error),
    Chart(Error),
}

impl From<std::io::Error> for AppendError {
    fn from(error: std::io::Error) -> AppendError {
        AppendError::Io(error)
    }
}

/// Appends `chart`'s files under `prefix`, then its subcharts under `prefix/charts/<name>`.
fn append_chart<W: std::io::Write>(
    builder: &mut tar::Builder<W>,
    chart: &Chart,
    prefix: &str,
    mtime: u64,
) -> std::result::Result<(), AppendError> {
    for file in entry_order(&chart.files) {
        append_file(builder, &format!("{prefix}/{}", file.path), &file.data, mtime)?;
    }
    let mut subcharts: Vec<&Chart> = chart.dependencies.iter().collect();
    subcharts.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut names = BTreeSet::new();
    for subchart in subcharts {
        let name = &subchart.metadata.name;
        if !names.insert(name.as_str()) {
            return Err(AppendError::Chart(Error::Chart {
                chart: chart.metadata_file.path.parent().map(|p| p.to_path_buf()).unwrap_or_default(),
                reason: format!(
                    "two vendored subcharts are named `{name}`; both would be packaged as charts/{name}/"
                ),
                help: Some(format!("keep one version of `{name}` under charts/")),
            }));
        }
        append_chart(builder, subchart, &format!("{prefix}/charts/{name}"), mtime)?;
    }
    Ok(())
}

/// Helm's write order: the leading files, then `templates/*`, then the rest, each sorted.
fn entry_order(files: &[ChartFile]) -> Vec<&ChartFile> {
    let rank = |file: &ChartFile| -> (usize, usize) {
        match LEADING_FILES.iter().position(|leading| *leading == file.path) {
            Some(position) => (0, position),
            None if file.path.starts_with("templates/") => (1, 0),
            None => (2, 0),
        }
    };
    let mut ordered: Vec<&ChartFile> = files.iter().collect();
    ordered.sort_by(|a, b| (rank(a), &a.path).cmp(&(rank(b), &b.path)));
    ordered
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use camino::Utf8Path;

    use super::*;
    use crate::input::chart::{
        archive,
        load::{self, testing::*},
    };

    fn entry_names(bytes: &[u8]) -> Vec<(String, u64, u32, u64)> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    entry.path().unwrap().to_string_lossy().into_owned(),
                    header.mtime().unwrap(),
                    header.mode().unwrap(),
                    header.uid().unwrap(),
                )
            })
            .collect()
    }

    fn demo_tree(root: &Utf8Path) {
        let parent = format!(
            "{}# A comment that must survive.\ndependencies:\n  - name: zeta\n    version: 1.x\n  - name: alpha\n    version: 2.x\n",
            chart_yaml("demo", "1.2.3")
        );
        write_tree(
            root,
            &[
                ("Chart.yaml", &parent),
                ("Chart.lock", "digest: x\n"),
                ("values.yaml", "a: 1\n"),
                ("values.schema.json", "{}"),
                ("templates/b.yaml", "b\n"),
                ("templates/a.yaml", "a\n"),
                ("templates/_helpers.tpl", "h\n"),
                ("README.md", "readme\n"),
                (".helmignore", "*.tmp\n"),
                ("crds/crd.yaml", "crd\n"),
                ("charts/zeta/Chart.yaml", &chart_yaml("zeta", "1.0.0")),
                ("charts/zeta/templates/z.yaml", "z\n"),
            ],
        );
        let alpha = archive::tests::tgz(&[
            ("alpha/Chart.yaml", chart_yaml("alpha", "2.0.0").as_bytes()),
            ("alpha/templates/a.yaml", b"alpha\n"),
        ]);
        std::fs::write(root.join("charts/alpha-2.0.0.tgz"), alpha).unwrap();
    }

    #[test]
    fn entries_follow_helms_order() -> Result<()> {
        let (_guard, root) = temp_dir();
        demo_tree(&root);
        let chart = load::load_dir(&root)?;
        let packaged = package(&chart, 1_700_000_000)?;
        assert_eq!(packaged.file_name, "demo-1.2.3.tgz");
        assert_eq!(packaged.sha256, Sha256Digest::of(&packaged.bytes));
        let entries = entry_names(&packaged.bytes);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "demo/Chart.yaml",
                "demo/Chart.lock",
                "demo/values.yaml",
                "demo/values.schema.json",
                "demo/templates/_helpers.tpl",
                "demo/templates/a.yaml",
                "demo/templates/b.yaml",
                "demo/.helmignore",
                "demo/README.md",
                "demo/crds/crd.yaml",
                "demo/charts/alpha/Chart.yaml",
                "demo/charts/alpha/templates/a.yaml",
                "demo/charts/zeta/Chart.yaml",
                "demo/charts/zeta/templates/z.yaml",
            ]
        );
        assert!(entries.iter().all(|e| e.1 == 1_700_000_000 && e.2 == 0o644 && e.3 == 0));
        // Chart.yaml is written as it was, comments included.
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(packaged.bytes.as_slice()));
        let mut first = archive.entries().unwrap().next().unwrap().unwrap();
        let mut text = String::new();
        first.read_to_string(&mut text).unwrap();
        assert!(text.contains("# A comment that must survive."));
        Ok(())
    }

    #[test]
    fn packaging_is_reproducible() -> Result<()> {
        let (_guard_a, a) = temp_dir();
        let (_guard_b, b) = temp_dir();
        demo_tree(&a);
        demo_tree(&b);
        // Different file times must not matter.
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        for entry in
            walkdir::WalkDir::new(&b).into_iter().filter_map(|e| e.ok()).filter(|e| e.file_type().is_file())
        {
            std::fs::File::options().write(true).open(entry.path()).unwrap().set_modified(old).unwrap();
        }
        let first = package(&load::load_dir(&a)?, 946_684_800)?;
        let second = package(&load::load_dir(&b)?, 946_684_800)?;
        assert_eq!(first.sha256, second.sha256);
        assert_eq!(first.bytes, second.bytes);
        let later = package(&load::load_dir(&a)?, 946_684_801)?;
        assert_ne!(first.sha256, later.sha256, "the given mtime is what the entries carry");
        Ok(())
    }

    #[test]
    fn packaged_chart_loads_back_the_same() -> Result<()> {
        let (_guard, root) = temp_dir();
        demo_tree(&root);
        let chart = load::load_dir(&root)?;
        let packaged = package(&chart, 946_684_800)?;
        let path = root.join(&packaged.file_name);
        std::fs::write(&path, &packaged.bytes).unwrap();
        let reloaded = archive::load_archive(&path)?;
        assert_same_content(&chart, &reloaded);
        // Packaging the reloaded chart gives the same bytes.
        assert_eq!(package(&reloaded, 946_684_800)?.sha256, packaged.sha256);
        Ok(())
    }

    /// Same metadata, values and files, recursively (origins differ).
    fn assert_same_content(a: &Chart, b: &Chart) {
        assert_eq!(a.metadata, b.metadata);
        assert_eq!(a.values, b.values);
        assert_eq!(a.files, b.files, "files of {}", a.metadata.name);
        assert_eq!(a.dependencies.len(), b.dependencies.len());
        for (x, y) in a.dependencies.iter().zip(&b.dependencies) {
            assert_same_content(x, y);
        }
    }

    #[test]
    fn the_grafana_fixture_round_trips() -> Result<()> {
        let fixture = Utf8Path::new("/work/shared/fixtures/charts/grafana-6.1.16.tgz");
        if !fixture.exists() {
            eprintln!("{fixture} is absent; skipping");
            return Ok(());
        }
        let chart = crate::input::chart::load(fixture)?;
        assert_eq!(chart.metadata.name, "grafana");
        assert_eq!(chart.metadata.version.to_string(), "6.1.16");
        assert!(chart.values.get("image").is_some());
        let packaged = crate::input::chart::package(&chart, 946_684_800)?;
        assert_eq!(packaged.file_name, "grafana-6.1.16.tgz");
        let (_guard, dir) = temp_dir();
        let path = dir.join(&packaged.file_name);
        std::fs::write(&path, &packaged.bytes).unwrap();
        let reloaded = crate::input::chart::load(&path)?;
        assert_same_content(&chart, &reloaded);
        assert_eq!(crate::input::chart::package(&reloaded, 946_684_800)?.bytes, packaged.bytes);
        Ok(())
    }
}
