//! Loading a chart directory, and the step shared with archives: turning a set of files
//! (relative path → bytes) into a validated [`Chart`] with its vendored subcharts.
//!
//! The directory walk follows Helm's `LoadDir`: files in file-name order, `.helmignore`
//! (plus Helm's default rule) applied with ignored directories pruned, symlinks followed,
//! a UTF-8 BOM stripped from every file, at most 5 MiB a file. Like Helm, the parent's
//! `.helmignore` also filters the files of vendored subchart directories (a subchart's own
//! `.helmignore` is just one of its files). Unlike Helm we refuse a symlink that leads
//! outside the chart, and cap the whole chart, subcharts and nested archives included, at
//! 100 MiB, so that no input can make us read without bound.

use std::{collections::BTreeMap, io::Read};

use camino::{Utf8Path, Utf8PathBuf};

use super::{archive, dependencies, metadata, Chart, ChartFile, ChartOrigin};
use crate::{
    diagnostic::{FileProblems, Problem},
    error::{Error, IoContext, Result},
    input::helmignore::HelmIgnore,
};

/// The largest single file Helm accepts in a chart (`MaxDecompressedFileSize`): 5 MiB.
pub(crate) const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;

/// The most bytes one load may read, the chart and all it contains (Helm's
/// `MaxDecompressedChartSize`): 100 MiB.
pub(crate) const MAX_CHART_SIZE: u64 = 100 * 1024 * 1024;

/// How deep subcharts may nest; far beyond any real chart, it stops archives that contain
/// themselves.
const MAX_DEPTH: usize = 16;

/// The files of one chart before they are sorted into metadata, values, files and
/// subcharts: path relative to the chart root (`/`-separated) → bytes, BOM stripped.
pub(crate) type FileSet = BTreeMap<String, Vec<u8>>;

/// How many bytes a load may still read; shared by a chart, its subcharts and any
/// archives nested in them.
#[derive(Debug)]
pub(crate) struct Budget {
    remaining: u64,
}

impl Budget {
    /// The whole allowance, [`MAX_CHART_SIZE`].
    pub(crate) fn new() -> Budget {
        Budget { remaining: MAX_CHART_SIZE }
    }

    /// Bytes still allowed.
    pub(crate) fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Takes `bytes` from the allowance; false (and nothing taken) when they do not fit.
    pub(crate) fn take(&mut self, bytes: u64) -> bool {
        match self.remaining.checked_sub(bytes) {
            Some(left) => {
                self.remaining = left;
                true
            }
            None => false,
        }
    }
}

/// Where a set of files came from, for [`Chart::origin`] and for the paths in diagnostics.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    /// The directory or archive on disk.
    pub(crate) origin: ChartOrigin,
    /// For a chart inside an archive, the entry-name prefix of its files, e.g. `demo/` or
    /// `demo/charts/redis-1.0.0.tgz!redis/`; empty for a directory.
    pub(crate) inner: String,
    /// How many subchart levels down this chart is.
    pub(crate) depth: usize,
}

impl Place {
    /// A chart directory on disk.
    pub(crate) fn directory(root: &Utf8Path) -> Place {
        Place { origin: ChartOrigin::Directory(root.to_path_buf()), inner: String::new(), depth: 0 }
    }

    /// The path a user would recognise for a file of this chart: a real path for a
    /// directory, `<archive>!<entry name>` inside an archive.
    pub(crate) fn display(&self, relative: &str) -> Utf8PathBuf {
        match &self.origin {
            ChartOrigin::Directory(root) => root.join(relative),
            ChartOrigin::Archive(archive) => format!("{archive}!{}{relative}", self.inner).into(),
        }
    }

    /// The chart itself, for errors about it as a whole.
    pub(crate) fn chart_label(&self) -> Utf8PathBuf {
        match &self.origin {
            ChartOrigin::Directory(root) => root.clone(),
            ChartOrigin::Archive(archive) if self.inner.is_empty() => archive.clone(),
            ChartOrigin::Archive(archive) => format!("{archive}!{}", self.inner.trim_end_matches('/')).into(),
        }
    }

    /// The place of a subchart directory `charts/<name>/`.
    fn subchart_directory(&self, name: &str) -> Place {
        match &self.origin {
            ChartOrigin::Directory(root) => Place {
                origin: ChartOrigin::Directory(root.join("charts").join(name)),
                inner: String::new(),
                depth: self.depth + 1,
            },
            ChartOrigin::Archive(_) => Place {
                origin: self.origin.clone(),
                inner: format!("{}charts/{name}/", self.inner),
                depth: self.depth + 1,
            },
        }
    }

    /// The archive on disk holding the subchart archive at `relative`, and the prefix to put
    /// before its entry names: the `.tgz` itself with no prefix when this chart is a
    /// directory, else the outer archive with the path to the inner one.
    fn nested_archive(&self, relative: &str) -> (Utf8PathBuf, String) {
        match &self.origin {
            ChartOrigin::Directory(root) => (root.join(relative), String::new()),
            ChartOrigin::Archive(archive) => (archive.clone(), format!("{}{relative}!", self.inner)),
        }
    }
}

/// Removes a leading UTF-8 byte order mark, as Helm does for every chart file.
pub(crate) fn strip_bom(mut data: Vec<u8>) -> Vec<u8> {
    if data.starts_with(b"\xEF\xBB\xBF") {
        data.drain(..3);
    }
    data
}

/// Loads and validates a chart directory with its vendored subcharts.
pub(crate) fn load_dir(root: &Utf8Path) -> Result<Chart> {
    if !root.join("Chart.yaml").is_file() {
        return Err(Error::NotAChart {
            path: root.to_path_buf(),
            reason: "no Chart.yaml in this directory".to_string(),
            enclosing_chart: crate::input::chart::enclosing_chart(root),
        });
    }
    let mut budget = Budget::new();
    let files = walk(root, &mut budget)?;
    chart_from_files(files, &Place::directory(root), &mut budget)
}

/// The rules of `<root>/.helmignore` (when present) plus Helm's default rule.
fn ignore_rules(root: &Utf8Path) -> Result<HelmIgnore> {
    let path = root.join(".helmignore");
    if !path.is_file() {
        return Ok(HelmIgnore::default().with_defaults());
    }
    let bytes = std::fs::read(&path).io_context("read", &path)?;
    let file = metadata::text_file(path, &bytes)?;
    match HelmIgnore::parse(&file.text) {
        Ok(rules) => Ok(rules.with_defaults()),
        Err(error) => {
            let start = file.offset_of(error.line, 1);
            let end = file.text[start..].find('\n').map_or(file.text.len(), |i| start + i);
            let problem = Problem::at(start..end, format!("`{}`: {}", error.pattern, error.reason))
                .with_help(
                    "`.helmignore` uses Go `filepath.Match` patterns, one a line; `**` is not supported",
                );
            Err(Error::Invalid(FileProblems { file, problems: vec![problem] }))
        }
    }
}

/// Reads every file of a chart directory that `.helmignore` keeps, subchart directories
/// included, in file-name order.
fn walk(root: &Utf8Path, budget: &mut Budget) -> Result<FileSet> {
    let rules = ignore_rules(root)?;
    let canonical_root = std::fs::canonicalize(root).io_context("read", root)?;
    let mut files = FileSet::new();
    let mut walker = walkdir::WalkDir::new(root).follow_links(true).sort_by_file_name().into_iter();
    while let Some(entry) = walker.next() {
        let entry = entry.map_err(|error| walk_error(root, error))?;
        if entry.depth() == 0 {
            continue;
        }
        let path = Utf8Path::from_path(entry.path())
            .ok_or_else(|| Error::NonUtf8Path(entry.path().display().to_string()))?;
        let relative = path_in_chart(root, path);
        let file_type = entry.file_type();
        if rules.is_ignored(&relative, file_type.is_dir()) {
            if file_type.is_dir() {
                walker.skip_current_dir();
            }
            continue;
        }
        if entry.path_is_symlink() {
            let target = std::fs::canonicalize(path).io_context("read", path)?;
            if !target.starts_with(&canonical_root) {
                return Err(Error::Chart {
                    chart: root.to_path_buf(),
                    reason: format!(
                        "{relative} is a symbolic link to {}, outside the chart",
                        target.display()
                    ),
                    help: Some(
                        "copy the file into the chart instead of linking to it, or list it in .helmignore"
                            .into(),
                    ),
                });
            }
        }
        if file_type.is_dir() {
            continue;
        }
        if !file_type.is_file() {
            return Err(Error::Chart {
                chart: root.to_path_buf(),
                reason: format!("{relative} is {}, not a regular file", special_kind(&file_type)),
                help: Some("a chart holds regular files only; remove it or list it in .helmignore".into()),
            });
        }
        let data = read_file(root, path, &relative, budget)?;
        files.insert(relative, strip_bom(data));
    }
    Ok(files)
}

/// Reads one file, refusing it over [`MAX_FILE_SIZE`] or beyond the budget.
fn read_file(root: &Utf8Path, path: &Utf8Path, relative: &str, budget: &mut Budget) -> Result<Vec<u8>> {
    let too_big = |size: u64| Error::Chart {
        chart: root.to_path_buf(),
        reason: format!("{relative} is {size} bytes; Helm refuses files over 5 MiB ({MAX_FILE_SIZE} bytes)"),
        help: Some("keep large files out of the chart, e.g. by listing them in .helmignore".into()),
    };
    let size = std::fs::metadata(path).io_context("read", path)?.len();
    if size > MAX_FILE_SIZE {
        return Err(too_big(size));
    }
    if !budget.take(size) {
        return Err(chart_too_big(root));
    }
    let file = std::fs::File::open(path).io_context("read", path)?;
    let mut data = Vec::with_capacity(size as usize);
    // Read at most one byte more than allowed, in case the file grows while we read it.
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut data).io_context("read", path)?;
    let read = data.len() as u64;
    if read > MAX_FILE_SIZE {
        return Err(too_big(read));
    }
    if read > size && !budget.take(read - size) {
        return Err(chart_too_big(root));
    }
    Ok(data)
}

/// The error for a chart over [`MAX_CHART_SIZE`].
fn chart_too_big(root: &Utf8Path) -> Error {
    Error::Chart {
        chart: root.to_path_buf(),
        reason: format!("the chart is larger than Helm's 100 MiB limit ({MAX_CHART_SIZE} bytes)"),
        help: Some("list large files that the chart does not need in .helmignore".into()),
    }
}

/// `path` inside the chart folder `root`, `/`-separated, as the chart names its files.
fn path_in_chart(root: &Utf8Path, path: &Utf8Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative.components().map(|component| component.as_str()).collect::<Vec<_>>().join("/")
}

/// Names a file type that is neither a file nor a directory.
fn special_kind(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    let _ = file_type;
    "a special file"
}

/// Explains a failed walk step: a symlink loop, a broken symlink, or an I/O error.
fn walk_error(root: &Utf8Path, error: walkdir::Error) -> Error {
    let path = error.path().map(|p| p.display().to_string()).unwrap_or_else(|| root.to_string());
    if let Some(ancestor) = error.loop_ancestor() {
        return Error::Chart {
            chart: root.to_path_buf(),
            reason: format!("symbolic link loop: {path} leads back to {}", ancestor.display()),
            help: Some("remove the link or list it in .helmignore".into()),
        };
    }
    let broken_link = error
        .path()
        .is_some_and(|p| p.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) && !p.exists());
    if broken_link {
        return Error::Chart {
            chart: root.to_path_buf(),
            reason: format!("{path} is a broken symbolic link"),
            help: Some("fix or remove the link, or list it in .helmignore".into()),
        };
    }
    let source = error.into_io_error().unwrap_or_else(|| std::io::Error::other("directory walk failed"));
    Error::Io { action: "read", path: path.into(), source }
}

/// Turns a chart's files into a validated [`Chart`]: Chart.yaml (and requirements.yaml for
/// apiVersion v1) into metadata, values.yaml into values, `charts/<name>/…` and
/// `charts/*.tgz` into subcharts (loaded recursively; names starting with `_` or `.` are
/// skipped, as in Helm), everything else into files. Declared dependencies are then
/// checked against the subcharts.
pub(crate) fn chart_from_files(files: FileSet, place: &Place, budget: &mut Budget) -> Result<Chart> {
    if place.depth > MAX_DEPTH {
        return Err(Error::Chart {
            chart: place.chart_label(),
            reason: format!("subcharts are nested more than {MAX_DEPTH} levels deep"),
            help: None,
        });
    }
    let Some(chart_yaml) = files.get("Chart.yaml") else {
        return Err(Error::Chart {
            chart: place.chart_label(),
            reason: "no Chart.yaml".to_string(),
            help: Some("every chart, subcharts included, needs a Chart.yaml at its root".into()),
        });
    };
    let chart_yaml = metadata::text_file(place.display("Chart.yaml"), chart_yaml)?;
    let requirements = match files.get("requirements.yaml") {
        Some(bytes) => Some(metadata::text_file(place.display("requirements.yaml"), bytes)?),
        None => None,
    };
    let parsed = metadata::parse_chart_yaml(&chart_yaml, requirements.as_ref())?;
    let values = match files.get("values.yaml") {
        Some(bytes) => metadata::parse_values(&metadata::text_file(place.display("values.yaml"), bytes)?)?,
        None => serde_json::Value::Object(Default::default()),
    };
    if let Some(bytes) = files.get("values.schema.json") {
        metadata::check_schema(&metadata::text_file(place.display("values.schema.json"), bytes)?)?;
    }

    let mut own = Vec::new();
    let mut subchart_dirs: BTreeMap<String, FileSet> = BTreeMap::new();
    let mut subchart_archives: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (path, data) in files {
        let Some(below_charts) = path.strip_prefix("charts/") else {
            own.push(ChartFile { path, data });
            continue;
        };
        if path.ends_with(".prov") {
            own.push(ChartFile { path, data });
            continue;
        }
        let (name, rest) = match below_charts.split_once('/') {
            Some((name, rest)) => (name, Some(rest)),
            None => (below_charts, None),
        };
        if name.starts_with(['_', '.']) {
            continue;
        }
        match rest {
            Some(rest) => {
                subchart_dirs.entry(name.to_string()).or_default().insert(rest.to_string(), data);
            }
            None if name.ends_with(".tgz") => {
                subchart_archives.insert(path, data);
            }
            None => {
                return Err(Error::Chart {
                    chart: place.chart_label(),
                    reason: format!("{path} is neither a subchart directory nor a .tgz subchart"),
                    help: Some(
                        "Helm refuses other files directly under charts/; remove it, or list it in .helmignore"
                            .into(),
                    ),
                });
            }
        }
    }

    let mut subcharts = Vec::new();
    for (name, files) in subchart_dirs {
        subcharts.push(chart_from_files(files, &place.subchart_directory(&name), budget)?);
    }
    for (path, data) in subchart_archives {
        let (archive_path, entry_prefix) = place.nested_archive(&path);
        subcharts.push(archive::load_nested(&data, &archive_path, &entry_prefix, place.depth + 1, budget)?);
    }
    subcharts.sort_by(|a, b| {
        (&a.metadata.name, &a.metadata.version).cmp(&(&b.metadata.name, &b.metadata.version))
    });
    dependencies::check_vendored(&parsed, &subcharts)?;

    Ok(Chart {
        origin: place.origin.clone(),
        metadata: parsed.metadata,
        metadata_file: chart_yaml,
        values,
        files: own,
        dependencies: subcharts,
    })
}

/// Helpers shared by the chart tests: writing charts into temporary directories.
#[cfg(test)]
pub(crate) mod testing {
    use camino::{Utf8Path, Utf8PathBuf};

    /// Writes `files` (relative path → text) under `root`, creating folders.
    pub(crate) fn write_tree(root: &Utf8Path, files: &[(&str, &str)]) {
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("create dir");
            std::fs::write(&path, text).expect("write file");
        }
    }

    /// A temporary directory and its UTF-8 path.
    pub(crate) fn temp_dir() -> (tempfile::TempDir, Utf8PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = Utf8PathBuf::from_path_buf(dir.path().to_path_buf()).expect("UTF-8 temp dir");
        (dir, path)
    }

    /// A minimal Chart.yaml.
    pub(crate) fn chart_yaml(name: &str, version: &str) -> String {
        format!("apiVersion: v2\nname: {name}\nversion: \"{version}\"\n")
    }
}

#[cfg(test)]
mod tests {
    use super::{testing::*, *};

    fn paths(chart: &Chart) -> Vec<&str> {
        chart.files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn loads_a_directory_with_helmignore() -> Result<()> {
        let (_guard, root) = temp_dir();
        write_tree(
            &root,
            &[
                ("Chart.yaml", &chart_yaml("demo", "1.0.0")),
                ("values.yaml", "\u{feff}replicaCount: 2\n"),
                (".helmignore", "# comment\n*.bak\nsecret/\n"),
                ("templates/deploy.yaml", "kind: Deployment\n"),
                ("templates/.hidden", "ignored by Helm's default rule\n"),
                ("notes.bak", "ignored\n"),
                ("secret/key", "ignored with its folder\n"),
                ("README.md", "\u{feff}# Demo\n"),
            ],
        );
        let chart = load_dir(&root)?;
        assert_eq!(chart.metadata.name, "demo");
        assert_eq!(chart.values, serde_json::json!({"replicaCount": 2}));
        assert_eq!(
            paths(&chart),
            [".helmignore", "Chart.yaml", "README.md", "templates/deploy.yaml", "values.yaml"]
        );
        let readme = chart.files.iter().find(|f| f.path == "README.md").unwrap();
        assert_eq!(readme.data, b"# Demo\n", "the BOM is stripped");
        assert_eq!(chart.origin, ChartOrigin::Directory(root.clone()));
        assert_eq!(chart.metadata_file.path, root.join("Chart.yaml"));
        Ok(())
    }

    #[test]
    fn the_entry_point_takes_a_directory_not_chart_yaml() -> Result<()> {
        let (_guard, root) = temp_dir();
        write_tree(&root, &[("Chart.yaml", &chart_yaml("demo", "1.0.0"))]);
        assert_eq!(crate::input::chart::load(&root)?.metadata.name, "demo");
        match crate::input::chart::load(&root.join("Chart.yaml")) {
            Err(Error::NotAChart { enclosing_chart, .. }) => assert_eq!(enclosing_chart, Some(root.clone())),
            other => panic!("expected a chart error, got {other:?}"),
        }
        std::fs::create_dir(root.join("templates")).unwrap();
        match crate::input::chart::load(&root.join("templates")) {
            Err(Error::NotAChart { enclosing_chart, .. }) => assert_eq!(enclosing_chart, Some(root.clone())),
            other => panic!("expected a chart error, got {other:?}"),
        }
        assert!(matches!(crate::input::chart::load(&root.join("absent.tgz")), Err(Error::Io { .. })));
        Ok(())
    }

    #[test]
    fn missing_chart_yaml_names_the_directory() {
        let (_guard, root) = temp_dir();
        write_tree(&root, &[("values.yaml", "a: 1\n")]);
        match load_dir(&root) {
            Err(Error::NotAChart { path: chart, reason, .. }) => {
                assert_eq!(chart, root);
                assert!(reason.contains("Chart.yaml"), "{reason}");
            }
            other => panic!("expected a chart error, got {other:?}"),
        }
    }

    #[test]
    fn subchart_directories_and_archives() -> Result<()> {
        let (_guard, root) = temp_dir();
        let parent = format!(
            "{}dependencies:\n  - name: cache\n    version: ~1.2.0\n  - name: db\n    version: \">=2.0.0 <3.0.0\"\n",
            chart_yaml("app", "0.1.0")
        );
        write_tree(
            &root,
            &[
                ("Chart.yaml", &parent),
                ("charts/cache/Chart.yaml", &chart_yaml("cache", "1.2.5")),
                ("charts/cache/templates/x.yaml", "x: 1\n"),
                ("charts/_ignored/Chart.yaml", "not a chart at all"),
                ("charts/.cache/whatever", "skipped"),
                ("charts/db-2.1.0.tgz.prov", "signature"),
            ],
        );
        let db = super::super::archive::tests::tgz(&[
            ("db/Chart.yaml", chart_yaml("db", "2.1.0").as_bytes()),
            ("db/values.yaml", b"port: 5432\n"),
        ]);
        std::fs::write(root.join("charts/db-2.1.0.tgz"), db).unwrap();
        let chart = load_dir(&root)?;
        assert_eq!(paths(&chart), ["Chart.yaml", "charts/db-2.1.0.tgz.prov"]);
        let names: Vec<&str> = chart.dependencies.iter().map(|d| d.metadata.name.as_str()).collect();
        assert_eq!(names, ["cache", "db"]);
        let cache = &chart.dependencies[0];
        assert_eq!(cache.origin, ChartOrigin::Directory(root.join("charts/cache")));
        assert_eq!(paths(cache), ["Chart.yaml", "templates/x.yaml"]);
        let db = &chart.dependencies[1];
        assert_eq!(db.origin, ChartOrigin::Archive(root.join("charts/db-2.1.0.tgz")));
        assert_eq!(db.values, serde_json::json!({"port": 5432}));
        assert_eq!(db.metadata_file.path, format!("{root}/charts/db-2.1.0.tgz!db/Chart.yaml"));
        Ok(())
    }

    #[test]
    fn missing_dependency_is_named() {
        let (_guard, root) = temp_dir();
        let parent =
            format!("{}dependencies:\n  - name: redis\n    version: ^17.0.0\n", chart_yaml("app", "0.1.0"));
        write_tree(&root, &[("Chart.yaml", &parent)]);
        let Err(Error::Invalid(problems)) = load_dir(&root) else { panic!("expected a located problem") };
        let lines = problems.located_lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with(&format!("{root}/Chart.yaml:5:11: dependency `redis` is not vendored")),
            "{lines:?}"
        );
        assert!(lines[0].contains("charts/redis/"), "{lines:?}");
        assert!(lines[0].contains("helm dependency build"), "{lines:?}");
    }

    #[test]
    fn version_range_mismatch_is_reported() {
        let (_guard, root) = temp_dir();
        let parent =
            format!("{}dependencies:\n  - name: redis\n    version: ^17.0.0\n", chart_yaml("app", "0.1.0"));
        write_tree(
            &root,
            &[("Chart.yaml", &parent), ("charts/redis/Chart.yaml", &chart_yaml("redis", "16.1.0"))],
        );
        let Err(Error::Invalid(problems)) = load_dir(&root) else { panic!("expected a located problem") };
        let lines = problems.located_lines();
        assert!(lines[0].contains(":6:14: dependency `redis` needs version `^17.0.0`"), "{lines:?}");
        assert!(lines[0].contains("16.1.0"), "{lines:?}");
    }

    #[test]
    fn undeclared_subchart_is_accepted() -> Result<()> {
        let (_guard, root) = temp_dir();
        write_tree(
            &root,
            &[
                ("Chart.yaml", &chart_yaml("app", "0.1.0")),
                ("charts/extra/Chart.yaml", &chart_yaml("extra", "1.0.0")),
            ],
        );
        assert_eq!(load_dir(&root)?.dependencies.len(), 1);
        Ok(())
    }

    #[test]
    fn stray_file_under_charts_is_refused() {
        let (_guard, root) = temp_dir();
        write_tree(&root, &[("Chart.yaml", &chart_yaml("app", "0.1.0")), ("charts/README.md", "hi")]);
        assert!(matches!(load_dir(&root), Err(Error::Chart { .. })));
    }

    #[test]
    fn subchart_without_chart_yaml_is_named() {
        let (_guard, root) = temp_dir();
        write_tree(
            &root,
            &[("Chart.yaml", &chart_yaml("app", "0.1.0")), ("charts/broken/values.yaml", "a: 1")],
        );
        match load_dir(&root) {
            Err(Error::Chart { chart, .. }) => assert_eq!(chart, root.join("charts/broken")),
            other => panic!("expected a chart error, got {other:?}"),
        }
    }

    #[test]
    fn oversize_file_is_refused() {
        let (_guard, root) = temp_dir();
        write_tree(&root, &[("Chart.yaml", &chart_yaml("app", "0.1.0"))]);
        std::fs::write(root.join("big.bin"), vec![b'x'; MAX_FILE_SIZE as usize + 1]).unwrap();
        match load_dir(&root) {
            Err(Error::Chart { reason, .. }) => assert!(reason.contains("big.bin"), "{reason}"),
            other => panic!("expected a chart error, got {other:?}"),
        }
    }

    #[test]
    fn helmignore_syntax_error_is_located() {
        let (_guard, root) = temp_dir();
        write_tree(&root, &[("Chart.yaml", &chart_yaml("app", "0.1.0")), (".helmignore", "ok\n**/bad\n")]);
        let Err(Error::Invalid(problems)) = load_dir(&root) else { panic!("expected a located problem") };
        assert!(problems.located_lines()[0].starts_with(&format!("{root}/.helmignore:2:1:")), "{problems}");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_are_followed_and_outside_refused() -> Result<()> {
        let (_guard, root) = temp_dir();
        let (_outside_guard, outside) = temp_dir();
        write_tree(&root, &[("Chart.yaml", &chart_yaml("app", "0.1.0")), ("real/a.txt", "a")]);
        std::os::unix::fs::symlink(root.join("real"), root.join("linked")).unwrap();
        let chart = load_dir(&root)?;
        assert_eq!(paths(&chart), ["Chart.yaml", "linked/a.txt", "real/a.txt"]);

        write_tree(&outside, &[("secret.txt", "s")]);
        std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("escape.txt")).unwrap();
        match load_dir(&root) {
            Err(Error::Chart { reason, .. }) => assert!(reason.contains("outside the chart"), "{reason}"),
            other => panic!("expected a chart error, got {other:?}"),
        }
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn fifo_is_refused() {
        let (_guard, root) = temp_dir();
        write_tree(&root, &[("Chart.yaml", &chart_yaml("app", "0.1.0"))]);
        let fifo = root.join("pipe");
        let status = std::process::Command::new("mkfifo").arg(fifo.as_str()).status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("mkfifo is not available; skipping");
            return;
        }
        match load_dir(&root) {
            Err(Error::Chart { reason, .. }) => assert!(reason.contains("FIFO"), "{reason}"),
            other => panic!("expected a chart error, got {other:?}"),
        }
    }
}
