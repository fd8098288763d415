//! `cargo xtask check` and `cargo xtask release --offline` end to end: the real binary on
//! a copy of the example release, checked with real tools (the Helm engine through
//! `tests/tools/helmcheck.py`, `kubernetes-validate`) and by re-hashing every output.

use std::{
    collections::BTreeMap,
    fs,
    io::Read,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use helmkots_e2e::{
    assert_tree_intact, files_under, golden_outputs, python_tool, set_mtimes, sha256_file, sha256_hex,
    shared_dir, testdir, tree_digests, tree_golden_lines, TestDir,
};

/// The tree `release --offline` writes for the example: `<slug>-<version>`.
const EXAMPLE_TREE: &str = "demo-app-1.4.2";
/// The packaged example chart inside that tree.
const EXAMPLE_CHART: &str = "charts/demo-app-1.4.2.tgz";
/// 2000-01-01T00:00:00Z, the timestamp of every archive entry when SOURCE_DATE_EPOCH is unset.
const DEFAULT_EPOCH: u64 = 946_684_800;

/// Runs `release --offline --out out` on `dir` and returns the release tree.
fn release(dir: &TestDir) -> PathBuf {
    dir.xtask("release").args(["--offline", "--out", "out"]).run().assert_success();
    dir.join("out").join(EXAMPLE_TREE)
}

fn example() -> TestDir {
    let dir = testdir!();
    dir.copy_example();
    dir
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Siblings of the tree in `out` left by unfinished runs (`.<name>.partial-*`, `.<name>.old-*`).
fn leftovers(out: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(out) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&format!(".{EXAMPLE_TREE}.")))
        .collect();
    names.sort();
    names
}

// --- check and the output tree ------------------------------------------------------------

#[test]
fn check_accepts_the_example() {
    let dir = example();
    dir.xtask("check").run().assert_success().assert_stderr_contains("is valid");
    assert!(files_under(dir.join("dist")).is_empty(), "`check` must not write anything");
    let json = dir.xtask("check").arg("--json").run().assert_success().json();
    assert_eq!(json["slug"], "demo-app", "{json:#}");
    assert_eq!(json["version"], "1.4.2", "{json:#}");
    assert_eq!(json["chart"]["name"], "demo-app", "{json:#}");
    assert_eq!(json["problems"], serde_json::json!([]), "{json:#}");
}

#[test]
fn release_writes_the_expected_tree() {
    let dir = example();
    dir.xtask("release").arg("--offline").run().assert_success();
    let dist = dir.join("dist");
    let tree = dist.join(EXAMPLE_TREE);
    let files = files_under(&tree);
    for required in [EXAMPLE_CHART, "SHA256SUMS", "release.lock.json", "helmkots-proof.json"] {
        assert!(files.iter().any(|f| f == required), "{required} is missing from {files:#?}");
    }
    let unexpected: Vec<&String> = files
        .iter()
        .filter(|f| {
            ![EXAMPLE_CHART, "SHA256SUMS", "release.lock.json", "helmkots-proof.json"].contains(&f.as_str())
        })
        .filter(|f| !f.starts_with("manifests/"))
        .collect();
    assert!(unexpected.is_empty(), "unexpected files in the tree: {unexpected:#?}");
    let top: Vec<String> = fs::read_dir(&dist)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(top, vec![EXAMPLE_TREE.to_string()], "dist/ should hold the tree and nothing else");
}

#[test]
fn sha256sums_matches_every_file() {
    let dir = example();
    let tree = release(&dir);
    let sums = assert_tree_intact(&tree);
    assert!(sums.contains_key(EXAMPLE_CHART), "SHA256SUMS does not list the chart: {sums:#?}");
    assert!(sums.contains_key("release.lock.json"), "SHA256SUMS does not list the build record: {sums:#?}");
}

#[test]
fn lock_file_records_every_output_and_input() {
    let dir = example();
    let tree = release(&dir);
    let lock = read_json(&tree.join("release.lock.json"));
    assert_eq!(lock["schema_version"], 1, "{lock:#}");
    assert_eq!(lock["slug"], "demo-app", "{lock:#}");
    assert_eq!(lock["version"], "1.4.2", "{lock:#}");
    assert_eq!(lock["source_date_epoch"], DEFAULT_EPOCH, "{lock:#}");

    let outputs = lock["outputs"].as_array().expect("`outputs` is not a list");
    let recorded: BTreeMap<String, (String, u64)> = outputs
        .iter()
        .map(|o| {
            let path = o["path"].as_str().expect("output without path").to_string();
            let sha = o["sha256"].as_str().expect("output without sha256").to_string();
            (path, (sha, o["size"].as_u64().expect("output without size")))
        })
        .collect();
    assert_eq!(recorded.len(), outputs.len(), "`outputs` lists a path twice: {outputs:#?}");
    let expected: Vec<String> =
        files_under(&tree).into_iter().filter(|f| f != "release.lock.json" && f != "SHA256SUMS").collect();
    assert_eq!(
        recorded.keys().cloned().collect::<Vec<_>>(),
        expected,
        "`outputs` must list every other file of the tree"
    );
    for (path, (sha, size)) in &recorded {
        let file = tree.join(path);
        assert_eq!(sha, &format!("sha256:{}", sha256_file(&file)), "wrong sha256 for output {path}");
        assert_eq!(*size, fs::metadata(&file).unwrap().len(), "wrong size for output {path}");
    }
    assert_eq!(lock["chart"]["path"], EXAMPLE_CHART, "{lock:#}");
    assert_eq!(
        lock["chart"]["sha256"],
        format!("sha256:{}", sha256_file(tree.join(EXAMPLE_CHART))),
        "{lock:#}"
    );

    // Inputs are relative to the release file's folder; each must hash to the file there.
    let inputs = lock["inputs"].as_array().expect("`inputs` is not a list");
    let input_paths: Vec<&str> = inputs.iter().filter_map(|i| i["path"].as_str()).collect();
    for required in [
        "release.toml",
        "charts/demo-app/Chart.yaml",
        "charts/demo-app/values.yaml",
        "charts/demo-app/charts/cache/Chart.yaml",
    ] {
        assert!(input_paths.contains(&required), "`inputs` lacks {required}: {input_paths:#?}");
    }
    for input in inputs {
        let path = input["path"].as_str().unwrap();
        assert_eq!(
            input["sha256"],
            format!("sha256:{}", sha256_file(dir.join(path))),
            "wrong sha256 for input {path}"
        );
    }
}

#[test]
fn json_output_lists_the_outputs() {
    let dir = example();
    let output = dir.xtask("release").args(["--offline", "--out", "out", "--json"]).run();
    let json = output.assert_success().json();
    assert_eq!(json["up_to_date"], false, "{json:#}");
    let json = json["record"].clone();
    let outputs = json["outputs"].as_array().unwrap_or_else(|| panic!("no `outputs` list in {json:#}"));
    assert!(!outputs.is_empty(), "`outputs` is empty: {json:#}");
    let tree = dir.join("out").join(EXAMPLE_TREE);
    for output in outputs {
        let path = output["path"].as_str().expect("output without path");
        assert_eq!(
            output["sha256"],
            format!("sha256:{}", sha256_file(tree.join(path))),
            "--json disagrees with {path}"
        );
    }
    assert_eq!(json, read_json(&tree.join("release.lock.json")), "--json should print the build record");
}

#[test]
fn bad_flags_exit_with_2() {
    let dir = example();
    for args in [&["--no-such-flag"][..], &["--offline", "--out"], &["--offline", "extra"]] {
        dir.xtask("release").args(args).run().assert_code(2);
    }
    dir.xtask("check").arg("--offline").run().assert_code(2);
    assert!(files_under(dir.path().join("dist")).is_empty(), "a refused command must write nothing");
}

// --- reproducibility ----------------------------------------------------------------------

/// The example's tree, build record included, is byte-identical to the committed golden: a
/// refactor changes no output (`UPDATE_GOLDEN=1` rewrites it after an intended change).
#[test]
fn example_tree_is_byte_identical_to_its_golden() {
    let dir = example();
    let tree = release(&dir);
    if let Err(message) = golden_outputs("example-offline.SHA256SUMS", &tree_golden_lines(&tree, &[])) {
        panic!("{message}");
    }
}

/// `release -v` says why a release was built: the first time, and then which input changed.
#[test]
fn release_verbose_says_which_input_made_it_run_again() {
    let dir = example();
    let run = || dir.xtask("release").args(["--offline", "--no-proof", "-v"]).run();
    run()
        .assert_success()
        .assert_stderr_contains("built because no earlier release of this tree is recorded");
    run().assert_success().assert_stderr_contains("is up to date");
    let values = dir.read("charts/demo-app/values.yaml");
    dir.write("charts/demo-app/values.yaml", format!("{values}\n# a comment\n"));
    let output = run();
    output
        .assert_success()
        .assert_stderr_contains("built because inputs changed: charts/demo-app/values.yaml");
    assert!(
        !output.stderr.contains("release.toml,"),
        "only the changed input is named:\n{}",
        output.describe()
    );
    dir.write("release.toml", dir.read("release.toml").replace("title = ", "# edited\ntitle = "));
    run().assert_success().assert_stderr_contains("built because inputs changed: release-file, release.toml");
}

#[test]
fn chart_is_identical_across_runs() {
    let dir = example();
    let first = sha256_file(release(&dir).join(EXAMPLE_CHART));
    let second = sha256_file(release(&dir).join(EXAMPLE_CHART));
    assert_eq!(first, second, "two runs on the same inputs packaged different charts");
}

#[test]
fn tree_is_identical_across_copies_with_different_mtimes_and_modes() {
    let old = TestDir::new("mtimes-2001");
    let new = TestDir::new("mtimes-2020");
    old.copy_example();
    new.copy_example();
    set_mtimes(old.path(), SystemTime::UNIX_EPOCH + Duration::from_secs(978_307_200)); // 2001-01-01
    set_mtimes(new.path(), SystemTime::UNIX_EPOCH + Duration::from_secs(1_592_222_400)); // 2020-06-15
    set_modes(old.path(), 0o600);
    set_modes(new.path(), 0o664);
    let (old_tree, new_tree) = (release(&old), release(&new));
    assert_eq!(
        sha256_file(old_tree.join(EXAMPLE_CHART)),
        sha256_file(new_tree.join(EXAMPLE_CHART)),
        "the packaged chart depends on file mtimes (or on the checkout path)"
    );
    assert_eq!(
        fs::read_to_string(old_tree.join("SHA256SUMS")).unwrap(),
        fs::read_to_string(new_tree.join("SHA256SUMS")).unwrap(),
        "the release tree depends on file mtimes (or on the checkout path)"
    );
}

/// Sets the permission bits of every file under `dir` (none of the example's is executable).
fn set_modes(dir: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    for file in files_under(dir) {
        fs::set_permissions(dir.join(&file), fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("cannot chmod {file}: {e}"));
    }
}

#[test]
fn helmignored_files_do_not_change_the_chart() {
    let dir = example();
    let before = sha256_file(release(&dir).join(EXAMPLE_CHART));
    dir.write("charts/demo-app/values.yaml.bak", "leftover: true\n");
    dir.write("charts/demo-app/.git/HEAD", "ref: refs/heads/main\n");
    dir.write("charts/demo-app/ci/test-values.yaml", "replicaCount: 9\n");
    let after = sha256_file(release(&dir).join(EXAMPLE_CHART));
    assert_eq!(before, after, "files that .helmignore excludes changed the packaged chart");
}

#[test]
fn source_date_epoch_is_honoured() {
    let dir = example();
    dir.xtask("release")
        .args(["--offline", "--out", "out"])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .run()
        .assert_success();
    let tree = dir.join("out").join(EXAMPLE_TREE);
    assert_eq!(read_json(&tree.join("release.lock.json"))["source_date_epoch"], 1_700_000_000u64);
    let entries = tgz_entries(&tree.join(EXAMPLE_CHART));
    assert!(
        entries.iter().all(|e| e.mtime == 1_700_000_000),
        "entries not stamped SOURCE_DATE_EPOCH: {entries:#?}"
    );
}

/// One entry of a `.tgz`, as far as reproducibility is concerned.
#[derive(Debug)]
struct TgzEntry {
    path: String,
    kind: tar::EntryType,
    mtime: u64,
    uid: u64,
    gid: u64,
    owner_names: (Vec<u8>, Vec<u8>),
    mode: u32,
}

fn tgz_entries(path: &Path) -> Vec<TgzEntry> {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut entries = Vec::new();
    for entry in archive.entries().expect("not a tar.gz") {
        let mut entry = entry.expect("unreadable tar entry");
        let header = entry.header();
        let owner_names = (
            header.username_bytes().map(<[u8]>::to_vec).unwrap_or_default(),
            header.groupname_bytes().map(<[u8]>::to_vec).unwrap_or_default(),
        );
        let item = TgzEntry {
            path: String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
            kind: header.entry_type(),
            mtime: header.mtime().unwrap(),
            uid: header.uid().unwrap(),
            gid: header.gid().unwrap(),
            owner_names,
            mode: header.mode().unwrap(),
        };
        let mut sink = Vec::new();
        entry.read_to_end(&mut sink).unwrap();
        entries.push(item);
    }
    entries
}

#[test]
fn packaged_chart_follows_helm_layout() {
    let dir = example();
    let entries = tgz_entries(&release(&dir).join(EXAMPLE_CHART));
    assert_eq!(
        entries.first().map(|e| e.path.as_str()),
        Some("demo-app/Chart.yaml"),
        "Chart.yaml must come first"
    );
    for entry in &entries {
        assert!(entry.path.starts_with("demo-app/"), "entry outside demo-app/: {entry:?}");
        assert_eq!((entry.uid, entry.gid), (0, 0), "entry not owned by 0:0: {entry:?}");
        assert_eq!(entry.owner_names, (Vec::new(), Vec::new()), "entry carries owner names: {entry:?}");
        assert_eq!(entry.mtime, DEFAULT_EPOCH, "entry not stamped 2000-01-01: {entry:?}");
        assert!(entry.kind.is_file() || entry.kind.is_dir(), "entry is neither file nor folder: {entry:?}");
        assert!(
            entry.mode == 0o644 || entry.mode == 0o755,
            "mode {:o} is not normalized: {entry:?}",
            entry.mode
        );
    }
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    for required in
        ["demo-app/values.yaml", "demo-app/templates/deployment.yaml", "demo-app/charts/cache/Chart.yaml"]
    {
        assert!(paths.contains(&required), "{required} is missing from the package: {paths:#?}");
    }
    let mut unique = paths.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), paths.len(), "the package has duplicate entries: {paths:#?}");
}

// --- the real Helm engine -------------------------------------------------------------------

/// `helmcheck.py load` on the chart, as JSON.
fn helm_load(chart: &Path) -> serde_json::Value {
    python_tool([Path::new("load"), chart]).assert_success().json()
}

/// `helmcheck.py lint` must report no errors.
fn helm_lint_clean(chart: &Path) {
    let output = python_tool([Path::new("lint"), chart]);
    let report = output.assert_success().json();
    assert_eq!(
        report["errors"],
        serde_json::json!([]),
        "helm lint reports errors for {}: {report:#}",
        chart.display()
    );
}

/// `helmcheck.py render`, with `extra` flags such as `--set k=v`.
fn helm_render(chart: &Path, name: &str, extra: &[&str]) -> String {
    let chart = chart.to_str().unwrap();
    let mut args = vec!["render", chart, "--name", name];
    args.extend_from_slice(extra);
    python_tool(args).assert_success().stdout.clone()
}

#[test]
fn packaged_chart_is_accepted_by_helm() {
    let dir = example();
    let chart = release(&dir).join(EXAMPLE_CHART);
    let source = dir.join("charts/demo-app");

    let loaded = helm_load(&chart);
    assert_eq!(loaded["name"], "demo-app", "{loaded:#}");
    assert_eq!(loaded["version"], "1.4.2", "{loaded:#}");
    assert_eq!(
        loaded,
        helm_load(&source),
        "Helm sees a different chart in the package than in the source folder"
    );
    helm_lint_clean(&chart);

    let rendered = helm_render(&chart, "demo-app", &[]);
    assert!(rendered.contains("kind: Deployment"), "the render holds no Deployment:\n{rendered}");
    assert_eq!(
        rendered,
        helm_render(&source, "demo-app", &[]),
        "the package renders differently from the source folder"
    );
    let manifests = dir.write("rendered.yaml", &rendered);
    let manifests = manifests.to_str().unwrap();
    python_tool(["k8s-validate", manifests, "--version", "1.30"]).assert_success();
}

#[test]
fn grafana_fixture_is_repacked_for_helm() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: ../shared is absent");
        return;
    };
    let fixture = shared.join("fixtures/charts/grafana-6.1.16.tgz");
    let dir = testdir!();
    dir.write(
        "release.toml",
        format!(
            "[app]\nslug = \"grafana\"\ntitle = \"Grafana\"\n\n[chart]\npath = {}\nrelease_name = \"grafana\"\n",
            serde_json::to_string(fixture.to_str().unwrap()).unwrap()
        ),
    );
    dir.xtask("release").args(["--offline", "--out", "out"]).run().assert_success();
    let tree = dir.join("out/grafana-6.1.16");
    let chart = tree.join("charts/grafana-6.1.16.tgz");
    assert!(chart.is_file(), "no repacked chart; the tree holds {:#?}", files_under(&tree));
    assert_tree_intact(&tree);

    let loaded = helm_load(&chart);
    assert_eq!(loaded["name"], "grafana", "{loaded:#}");
    assert_eq!(loaded["version"], "6.1.16", "{loaded:#}");
    assert_eq!(loaded, helm_load(&fixture), "Helm sees a different chart after repacking");
    helm_lint_clean(&chart);
    // The chart generates a random admin password unless one is set.
    let fixed = ["--set", "adminPassword=e2e"];
    let rendered = helm_render(&chart, "grafana", &fixed);
    assert!(rendered.contains("kind: Deployment"), "the render holds no Deployment:\n{rendered}");
    assert_eq!(rendered, helm_render(&fixture, "grafana", &fixed), "the repacked chart renders differently");
}

// --- untrusted chart archives -----------------------------------------------------------------

/// One tar entry, written with a raw header so that names the `tar` crate would refuse to
/// write (`..`, absolute paths) really get into the archive.
enum Raw {
    File(String, Vec<u8>),
    Symlink(String, String),
    HardLink(String, String),
    CharDevice(String),
}

fn file(name: &str, text: &str) -> Raw {
    Raw::File(name.to_string(), text.as_bytes().to_vec())
}

fn raw_name(field: &mut [u8], name: &str) {
    assert!(name.len() < field.len(), "{name} does not fit a tar header");
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
}

fn raw_tgz(entries: &[Raw]) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for entry in entries {
        let mut header = tar::Header::new_ustar();
        header.set_mode(0o644);
        header.set_mtime(DEFAULT_EPOCH);
        let (name, data) = match entry {
            Raw::File(name, data) => {
                header.set_entry_type(tar::EntryType::Regular);
                (name, data.as_slice())
            }
            Raw::CharDevice(name) => {
                header.set_entry_type(tar::EntryType::Char);
                (name, &[][..])
            }
            Raw::Symlink(name, target) | Raw::HardLink(name, target) => {
                let kind = if matches!(entry, Raw::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                header.set_entry_type(kind);
                raw_name(&mut header.as_old_mut().linkname, target);
                (name, &[][..])
            }
        };
        raw_name(&mut header.as_old_mut().name, name);
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data).expect("cannot append a tar entry");
    }
    builder.into_inner().and_then(|encoder| encoder.finish()).expect("cannot finish the archive")
}

fn good_entries() -> Vec<Raw> {
    vec![
        file("demo/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.1.0\n"),
        file("demo/values.yaml", "replicaCount: 1\n"),
        file("demo/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n"),
    ]
}

const ARCHIVE_RELEASE: &str = r#"[app]
slug = "demo"
title = "Demo"

[chart]
path = "input/chart.tgz"
release_name = "demo"
"#;

/// Releases a chart archive made of `entries`. Returns the run and the test dir, after
/// asserting that nothing appeared outside `out/` (but the release fingerprint, helmkots's
/// own build state under `target/`) and that `sentinels` do not exist.
fn release_archive(entries: Vec<Raw>, sentinels: &[PathBuf]) -> (helmkots_e2e::TestOutput, TestDir) {
    let dir = TestDir::new("archive");
    for sentinel in sentinels {
        assert!(!sentinel.exists(), "sentinel {} exists before the run; remove it", sentinel.display());
    }
    dir.write("input/chart.tgz", raw_tgz(&entries));
    dir.write("release.toml", ARCHIVE_RELEASE);
    let output = dir.xtask("release").args(["--offline", "--out", "out"]).run();
    for sentinel in sentinels {
        assert!(!sentinel.exists(), "the archive wrote {} outside the output dir", sentinel.display());
    }
    let outside: Vec<String> = files_under(dir.path())
        .into_iter()
        .filter(|f| !f.starts_with("out/") && f != "input/chart.tgz" && f != "release.toml")
        .filter(|f| !(f.starts_with("target/helmkots/fingerprints/release-") && f.ends_with(".json")))
        .collect();
    assert!(outside.is_empty(), "files appeared outside out/: {outside:#?}");
    (output, dir)
}

#[test]
fn well_formed_archive_is_released() {
    // The control case: the good entries alone make a chart that releases, so the refusals
    // below are caused by the one bad entry each adds.
    let (output, dir) = release_archive(good_entries(), &[]);
    output.assert_success();
    assert_tree_intact(dir.join("out/demo-0.1.0"));
}

#[test]
fn unsafe_archives_are_refused() {
    let unique = format!("helmkots-e2e-{}", std::process::id());
    let temp = std::env::temp_dir();
    let big = Raw::File("demo/big.bin".into(), vec![0; 5 * 1024 * 1024 + 1]);
    // (bad entry, texts the diagnostic must contain, paths a naive extraction would create)
    let cases: Vec<(Raw, Vec<String>, Vec<PathBuf>)> = vec![
        (
            file(&format!("../{unique}-dotdot"), "pwned\n"),
            vec![format!("../{unique}-dotdot"), "..".into()],
            vec![temp.join(format!("{unique}-dotdot"))],
        ),
        (
            file(&format!("demo/../../{unique}-nested"), "pwned\n"),
            vec![format!("demo/../../{unique}-nested")],
            vec![temp.join(format!("{unique}-nested"))],
        ),
        (
            file(&format!("{}/{unique}-absolute", temp.display()), "pwned\n"),
            vec![format!("{}/{unique}-absolute", temp.display())],
            vec![temp.join(format!("{unique}-absolute"))],
        ),
        (
            Raw::Symlink("demo/evil".into(), format!("../../{unique}-outside")),
            vec!["demo/evil".into(), "symbolic link".into()],
            vec![temp.join(format!("{unique}-outside")), temp.join(format!("{unique}-outside/pwned"))],
        ),
        (
            Raw::HardLink("demo/passwd".into(), "/etc/passwd".into()),
            vec!["demo/passwd".into(), "hard link".into()],
            vec![],
        ),
        (Raw::CharDevice("demo/tty".into()), vec!["demo/tty".into(), "device".into()], vec![]),
        (big, vec!["demo/big.bin".into(), "5 MiB".into()], vec![]),
    ];
    for (bad, needles, sentinels) in cases {
        let mut entries = good_entries();
        let follow_through = matches!(bad, Raw::Symlink(..));
        entries.insert(1, bad);
        if follow_through {
            // A file written through the link, as a tar-slip via symlink would.
            entries.push(file("demo/evil/pwned", "pwned\n"));
        }
        let (output, dir) = release_archive(entries, &sentinels);
        output.assert_code(2).assert_stderr_contains("refusing chart archive");
        for needle in &needles {
            output.assert_stderr_contains(needle);
        }
        let written = files_under(dir.join("out"));
        assert!(written.is_empty(), "a refused archive produced files: {written:#?}");
    }
}

#[test]
fn chart_directory_symlink_out_of_the_chart_is_refused() {
    let dir = example();
    let outside = dir.write("outside/secret.txt", "secret\n");
    std::os::unix::fs::symlink(&outside, dir.join("charts/demo-app/templates/leak.txt")).unwrap();
    dir.xtask("release")
        .args(["--offline", "--out", "out"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("templates/leak.txt")
        .assert_stderr_contains("outside the chart");
    assert!(files_under(dir.join("out")).is_empty(), "a refused chart produced files");
}

// --- the build record of a chart that is not a folder beside release.toml --------------------

/// `release.lock.json` says inputs are files "relative to the release file's folder"; each
/// must exist there with the recorded digest.
fn assert_inputs_are_files(dir: &TestDir, tree: &Path) {
    let lock = read_json(&tree.join("release.lock.json"));
    for input in lock["inputs"].as_array().expect("`inputs` is not a list") {
        let path = input["path"].as_str().expect("input without path");
        assert!(Path::new(path).is_relative(), "input {path} is not relative to the release file's folder");
        let file = dir.join(path);
        assert!(file.is_file(), "input {path} is not a file beside release.toml");
        assert_eq!(
            input["sha256"],
            format!("sha256:{}", sha256_file(&file)),
            "wrong sha256 for input {path}"
        );
    }
}

#[test]
fn archive_chart_inputs_are_files() {
    let (output, dir) = release_archive(good_entries(), &[]);
    output.assert_success();
    assert_inputs_are_files(&dir, &dir.join("out/demo-0.1.0"));
}

#[test]
fn absolute_chart_path_is_recorded_relative() {
    // The chart folder lives outside the release folder and is named by its absolute path.
    let charts = TestDir::new("abs-charts");
    charts.copy_example();
    let chart = charts.join("charts/demo-app");
    let dir = testdir!();
    let path = serde_json::to_string(chart.to_str().unwrap()).unwrap();
    dir.write("release.toml", MINIMAL.replace("\"charts/demo-app\"", &path));
    dir.xtask("release").args(["--offline", "--out", "out"]).run().assert_success();
    let tree = dir.join("out").join(EXAMPLE_TREE);
    let lock = fs::read_to_string(tree.join("release.lock.json")).unwrap();
    assert!(
        !lock.contains(charts.path().to_str().unwrap()),
        "release.lock.json records the machine's absolute chart path:\n{lock}"
    );
    assert_inputs_are_files(&dir, &tree);
}

// --- malformed inputs -----------------------------------------------------------------------

/// Lines 1-7; `with_items` adds a group on lines 9-11 and its items from line 12.
const MINIMAL: &str = r#"[app]
slug = "demo-app"
title = "Demo"

[chart]
path = "charts/demo-app"
release_name = "demo-app"
"#;

fn with_items(items: &str) -> String {
    format!("{MINIMAL}\n[[config.groups]]\nname = \"settings\"\ntitle = \"Settings\"\n{items}")
}

/// The example chart's Chart.yaml, cut down; the `cache` dependency is on line 6.
const CHART_YAML: &str = r#"apiVersion: v2
name: demo-app
version: "1.4.2"
appVersion: "2.3.0"
dependencies:
  - name: cache
    version: "~0.3.0"
    repository: "file://charts/cache"
    condition: cache.enabled
"#;

fn release_toml(text: &str) -> impl Fn(&TestDir) + '_ {
    move |dir| {
        dir.write("release.toml", text);
    }
}

fn chart_yaml(text: &str) -> impl Fn(&TestDir) + '_ {
    move |dir| {
        dir.write("release.toml", MINIMAL);
        dir.write("charts/demo-app/Chart.yaml", text);
    }
}

/// Applies `edit` to a copy of the example, then asserts that `check` and
/// `release --offline` both fail with a diagnostic at `<file>:<line>:` containing every
/// needle, without panicking and without writing a tree.
fn check_bad(edit: impl Fn(&TestDir), file: &str, line: usize, needles: &[&str]) {
    let dir = example();
    edit(&dir);
    let location = format!("/{file}:{line}:");
    for subcommand in ["check", "release"] {
        let mut command = dir.xtask(subcommand);
        if subcommand == "release" {
            command.args(["--offline", "--out", "out"]);
        }
        let output = command.run();
        output.assert_code(2).assert_stderr_contains(&location);
        for needle in needles {
            output.assert_stderr_contains(needle);
        }
    }
    assert!(
        files_under(dir.join("out")).is_empty(),
        "a failed release wrote {:#?}",
        files_under(dir.join("out"))
    );
}

#[test]
fn bad_release_toml_unknown_key() {
    let text = MINIMAL.replace("title = \"Demo\"\n", "title = \"Demo\"\nicno = \"x\"\n");
    check_bad(release_toml(&text), "release.toml", 4, &["unknown key `icno`", "did you mean `icon`?"]);
}

#[test]
fn bad_release_toml_unknown_key_in_item() {
    let text = with_items("  [[config.groups.items]]\n  name = \"a\"\n  type = \"text\"\n  titel = \"A\"\n");
    check_bad(release_toml(&text), "release.toml", 15, &["unknown key `titel`", "did you mean `title`?"]);
}

#[test]
fn bad_release_toml_wrong_type() {
    check_bad(
        release_toml(&MINIMAL.replace("release_name = \"demo-app\"", "release_name = 3")),
        "release.toml",
        7,
        &["invalid type"],
    );
}

#[test]
fn bad_release_toml_syntax() {
    check_bad(release_toml(&MINIMAL.replace("title = \"Demo\"", "title = \"Demo")), "release.toml", 3, &[]);
}

#[test]
fn bad_release_toml_slug() {
    check_bad(
        release_toml(&MINIMAL.replace("slug = \"demo-app\"", "slug = \"Demo_App\"")),
        "release.toml",
        2,
        &["not a DNS-1123 label"],
    );
}

#[test]
fn bad_release_toml_long_release_name() {
    let text =
        MINIMAL.replace("release_name = \"demo-app\"", &format!("release_name = \"{}\"", "a".repeat(54)));
    check_bad(release_toml(&text), "release.toml", 7, &["more than 53"]);
}

#[test]
fn bad_release_toml_missing_chart() {
    check_bad(
        release_toml(&MINIMAL.replace("charts/demo-app", "charts/nope")),
        "release.toml",
        6,
        &["charts/nope", "does not exist"],
    );
}

#[test]
fn bad_release_toml_duplicate_item() {
    let text = with_items(
        "  [[config.groups.items]]\n  name = \"a\"\n  type = \"text\"\n  [[config.groups.items]]\n  name = \"a\"\n  type = \"text\"\n",
    );
    check_bad(release_toml(&text), "release.toml", 16, &["duplicate item name `a`"]);
}

#[test]
fn bad_release_toml_value_path() {
    let text = with_items(
        "  [[config.groups.items]]\n  name = \"size\"\n  type = \"text\"\n  value = \"persistence..size\"\n",
    );
    check_bad(release_toml(&text), "release.toml", 15, &["malformed values path"]);
}

#[test]
fn bad_release_toml_item_type() {
    let text = with_items("  [[config.groups.items]]\n  name = \"a\"\n  type = \"texte\"\n");
    check_bad(release_toml(&text), "release.toml", 14, &["not a KOTS item type", "did you mean \"text\""]);
}

#[test]
fn bad_release_toml_select_without_choices() {
    let text = with_items("  [[config.groups.items]]\n  name = \"level\"\n  type = \"select_one\"\n");
    check_bad(release_toml(&text), "release.toml", 13, &["has no choices"]);
}

#[test]
fn bad_release_toml_bool_default() {
    let text =
        with_items("  [[config.groups.items]]\n  name = \"on\"\n  type = \"bool\"\n  default = \"yes\"\n");
    check_bad(release_toml(&text), "release.toml", 15, &["not a bool default"]);
}

#[test]
fn bad_release_toml_default_not_a_choice() {
    let text = with_items(
        "  [[config.groups.items]]\n  name = \"level\"\n  type = \"radio\"\n  default = \"loud\"\n  choices = [{ name = \"quiet\" }]\n",
    );
    check_bad(release_toml(&text), "release.toml", 15, &["default `loud` is not one of the choices"]);
}

#[test]
fn bad_chart_yaml_version() {
    check_bad(
        chart_yaml(&CHART_YAML.replace("\"1.4.2\"", "\"one.two\"")),
        "demo-app/Chart.yaml",
        3,
        &["one.two", "SemVer"],
    );
}

#[test]
fn bad_chart_yaml_unquoted_float_version() {
    check_bad(
        chart_yaml(&CHART_YAML.replace("\"1.4.2\"", "1.10")),
        "demo-app/Chart.yaml",
        3,
        &["YAML number"],
    );
}

#[test]
fn bad_chart_yaml_api_version() {
    check_bad(
        chart_yaml(&CHART_YAML.replace("apiVersion: v2", "apiVersion: v3")),
        "demo-app/Chart.yaml",
        1,
        &["unsupported chart apiVersion `v3`"],
    );
}

#[test]
fn bad_chart_yaml_name_with_path() {
    check_bad(
        chart_yaml(&CHART_YAML.replace("name: demo-app", "name: ../evil")),
        "demo-app/Chart.yaml",
        2,
        &["path separator"],
    );
}

#[test]
fn bad_chart_missing_vendored_dependency() {
    let edit = |dir: &TestDir| {
        chart_yaml(CHART_YAML)(dir);
        dir.remove("charts/demo-app/charts/cache");
    };
    check_bad(edit, "demo-app/Chart.yaml", 6, &["dependency `cache` is not vendored"]);
}

#[test]
fn bad_chart_dependency_out_of_range() {
    check_bad(
        chart_yaml(&CHART_YAML.replace("~0.3.0", "~9.0.0")),
        "demo-app/Chart.yaml",
        7,
        &["dependency `cache` needs version `~9.0.0`"],
    );
}

// --- atomic writes ----------------------------------------------------------------------------

#[test]
fn failed_run_leaves_the_previous_tree_intact() {
    let dir = example();
    let tree = release(&dir);
    let sums_before = fs::read_to_string(tree.join("SHA256SUMS")).unwrap();
    let digests_before = tree_digests(&tree);

    let values = dir.read("charts/demo-app/values.yaml");
    dir.write("charts/demo-app/values.yaml", format!("{values}# changed\n"));
    dir.xtask("release")
        .args(["--offline", "--out", "out"])
        .env("HELMKOTS_INJECT_FAILURE", "before-swap")
        .run()
        .assert_code(2)
        .assert_stderr_contains("HELMKOTS_INJECT_FAILURE");

    assert_eq!(fs::read_to_string(tree.join("SHA256SUMS")).unwrap(), sums_before, "SHA256SUMS changed");
    assert_eq!(tree_digests(&tree), digests_before, "a failed run changed the previous tree");
    assert_tree_intact(&tree);
    assert_eq!(leftovers(&dir.join("out")), Vec::<String>::new(), "a failed run left siblings behind");

    // The change was real: without the injected failure the tree is replaced.
    release(&dir);
    assert_ne!(tree_digests(&tree), digests_before, "the chart change did not change the tree");
}

#[test]
fn killed_runs_leave_the_previous_tree_intact() {
    let dir = example();
    let out = dir.join("out");
    let tree = release(&dir);
    let values = dir.read("charts/demo-app/values.yaml");
    let mut killed = 0;
    for (run, delay_ms) in [0u64, 2, 5, 10, 15, 20, 25, 35, 50, 80].into_iter().enumerate() {
        // Every run packages a different chart, so a torn tree would show.
        let new_values = format!("{values}# run {run}\n");
        dir.write("charts/demo-app/values.yaml", &new_values);
        let mut child = dir.xtask("release").args(["--offline", "--out", "out"]).spawn();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let status = child.wait().expect("cannot wait for the killed run");
        if std::os::unix::process::ExitStatusExt::signal(&status) == Some(9) {
            killed += 1;
        }

        if tree.exists() {
            assert_tree_intact(&tree);
        } else {
            // Killed between the two renames: the previous tree is aside, whole, and the
            // next run puts it back (README, "The output tree").
            let aside: Vec<String> = leftovers(&out).into_iter().filter(|n| n.contains(".old-")).collect();
            assert_eq!(
                aside.len(),
                1,
                "run {run} (killed after {delay_ms} ms, {status}): no tree and no tree aside: {:#?}",
                leftovers(&out)
            );
            assert_tree_intact(out.join(&aside[0]));
        }

        release(&dir);
        assert_tree_intact(&tree);
        assert_eq!(
            leftovers(&out),
            Vec::<String>::new(),
            "run {run}: a normal run after a kill left siblings behind"
        );
        let lock = read_json(&tree.join("release.lock.json"));
        let recorded = lock["inputs"]
            .as_array()
            .and_then(|inputs| inputs.iter().find(|i| i["path"] == "charts/demo-app/values.yaml"))
            .map(|i| i["sha256"].clone());
        assert_eq!(
            recorded,
            Some(serde_json::json!(format!("sha256:{}", sha256_hex(new_values.as_bytes())))),
            "run {run}: the tree after a kill and a normal run is not built from the current inputs"
        );
    }
    assert!(killed > 0, "every run finished before its kill, so nothing was tested");
}

#[test]
fn verify_checks_an_offline_tree_against_its_checksums() {
    let dir = example();
    let tree = release(&dir);
    dir.xtask("verify").arg(&tree).run().assert_success();
    let job = tree.join("manifests/helm-cli-job.yaml");
    let mut text = fs::read_to_string(&job).unwrap();
    text.push_str("# edited by hand\n");
    fs::write(&job, text).unwrap();
    dir.xtask("verify")
        .arg(&tree)
        .run()
        .assert_code(1)
        .assert_stderr_contains("`manifests/helm-cli-job.yaml` changed after the release was written");
}

/// Issue 16: `--timings` prints each stage that ran (with `-q` too: it was asked for) and
/// changes nothing the release writes.
#[test]
fn timings_list_the_stages_and_change_nothing_written() {
    let dir = example();
    dir.xtask("release").args(["--offline", "--no-proof", "--out", "plain"]).run().assert_success();
    let plain = tree_digests(dir.join("plain").join(EXAMPLE_TREE));
    let timed =
        dir.xtask("release").args(["--offline", "--no-proof", "--out", "out", "--timings", "-q"]).run();
    timed.assert_success();
    let table: Vec<&str> = timed.stderr.lines().skip_while(|line| !line.starts_with("timings")).collect();
    for stage in ["check", "plan", "checksums", "tree write", "other", "total"] {
        assert!(
            table.iter().any(|line| line.trim_start().starts_with(stage)),
            "no `{stage}` row:\n{}",
            timed.stderr
        );
    }
    assert!(
        !table.iter().any(|line| line.trim_start().starts_with("fetch")),
        "an offline release fetches nothing"
    );
    assert_eq!(tree_digests(dir.join("out").join(EXAMPLE_TREE)), plain);
}
