//! The airgap proof and `preview`, end to end: the real `xtask` binary with the `helm` front
//! end of `tests/tools/` first on PATH (the real Helm engine through PyPI helm-python-sdk).
//!
//! A full proof renders the chart once per configuration and mode (~37 s for the example's
//! 192 runs on 2 cores), so each full proof sits in its own `#[test]` and there are few of
//! them: the example (passes), grafana (passes), grafana with a rewrite removed from the
//! written tree (fails, blaming the values path), and a chart whose hook hard-codes its image
//! (fails, blaming the template). The proof's JSON gives only a count of checked images per
//! run, so which images were checked is asserted two ways: the count of every run against
//! what the configuration enables, and one `preview` of that configuration rendered with
//! the same `helm`, whose images must all be rewritten.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
    process::{Command, Stdio},
};

use helmkots_e2e::{
    assert_tree_intact, files_under, parse_yaml, path_with_tools, path_without_helm, repo_root, require_helm,
    shared_dir, testdir, tools_dir, yaml_to_json, TestDir, TestOutput,
};
use serde_json::Value;

/// The grafana chart of the shared fixtures, and the tree a release of it writes.
const GRAFANA_FIXTURE: &str = "fixtures/charts/grafana-6.1.16.tgz";
const GRAFANA_TREE: &str = "grafana-6.1.16";
/// The example's release tree.
const EXAMPLE_TREE: &str = "demo-app-1.4.2";
/// The chart of `tests/fixtures/proof/hardcoded-hook/`.
const HOOK_FIXTURE: &str = "tests/fixtures/proof/hardcoded-hook";
const HOOK_IMAGE: &str = "docker.io/library/alpine:3.19";
/// The registry the preview-and-render checks pretend the customer has.
const REGISTRY: &str = "reg.example:5000/ns";

// --- helm on PATH ----------------------------------------------------------------------------

/// `helm template NAME CHART -f VALUES --namespace helmkots-proof` with `tests/tools/helm`.
fn helm_template(chart: &Path, release_name: &str, values: &Path) -> String {
    let output = Command::new(tools_dir().join("helm"))
        .arg("template")
        .arg(release_name)
        .arg(chart)
        .arg("-f")
        .arg(values)
        .args(["--namespace", "helmkots-proof"])
        .stdin(Stdio::null())
        .output()
        .expect("cannot run tests/tools/helm");
    assert!(
        output.status.success(),
        "helm template {} failed: {}",
        chart.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every `image:` of a `helm template` stream as `(template, image)`, the template being the
/// `# Source:` path of its document.
fn images_by_template(stream: &str) -> Vec<(String, String)> {
    let mut template = String::new();
    let mut images = Vec::new();
    for line in stream.lines() {
        if let Some(source) = line.strip_prefix("# Source: ") {
            template = source.trim().to_string();
            continue;
        }
        let trimmed = line.trim_start().trim_start_matches("- ");
        if let Some(value) = trimmed.strip_prefix("image:") {
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
            images.push((template.clone(), value.to_string()));
        }
    }
    images
}

// --- the proof table `release` prints ----------------------------------------------------------

#[derive(Debug)]
struct ProofTable {
    configurations: usize,
    items: Vec<String>,
    modes: usize,
    rows: Vec<ProofRow>,
}

#[derive(Debug)]
struct ProofRow {
    ok: bool,
    images: usize,
    mode: String,
    configuration: BTreeMap<String, String>,
}

/// Parses `airgap proof: N configuration(s) of [a, b] (...) × M mode(s)` and the
/// `result images mode configuration` rows below it.
fn proof_table(output: &TestOutput) -> ProofTable {
    let describe = || format!("command: {}\n--- stderr ---\n{}", output.command, output.stderr);
    let mut lines = output.stderr.lines().skip_while(|line| !line.starts_with("airgap proof: "));
    let header = lines.next().unwrap_or_else(|| panic!("no proof table printed\n{}", describe()));
    let rest = header.strip_prefix("airgap proof: ").unwrap();
    let (count, rest) =
        rest.split_once(" configuration(s) of [").unwrap_or_else(|| panic!("bad header {header:?}"));
    let (items, rest) = rest.split_once(']').unwrap_or_else(|| panic!("bad header {header:?}"));
    let modes = rest
        .rsplit_once('×')
        .and_then(|(_, m)| m.trim().strip_suffix(" mode(s)"))
        .unwrap_or_else(|| panic!("bad header {header:?}"));
    let column_line = lines.next().unwrap_or_default();
    assert!(
        column_line.trim_start().starts_with("result"),
        "no column line after {header:?}\n{}",
        describe()
    );
    let mut rows = Vec::new();
    for line in lines {
        let mut words = line.split_whitespace();
        let ok = match words.next() {
            Some("ok") => true,
            Some("FAIL") => false,
            _ => break,
        };
        let images = words.next().and_then(|w| w.parse().ok()).unwrap_or_else(|| panic!("bad row {line:?}"));
        let mode = match words.next() {
            Some("airgap") => format!("airgap {}", words.next().unwrap_or_default()),
            Some(other) => other.to_string(),
            None => panic!("bad row {line:?}"),
        };
        let configuration = words
            .filter(|w| *w != "(defaults)")
            .map(|w| {
                let (k, v) = w.split_once('=').unwrap_or_else(|| panic!("bad configuration in {line:?}"));
                (k.to_string(), v.to_string())
            })
            .collect();
        rows.push(ProofRow { ok, images, mode, configuration });
    }
    ProofTable {
        configurations: count.trim().parse().unwrap_or_else(|_| panic!("bad header {header:?}")),
        items: if items.is_empty() { vec![] } else { items.split(", ").map(str::to_string).collect() },
        modes: modes.parse().unwrap_or_else(|_| panic!("bad header {header:?}")),
        rows,
    }
}

/// `item=value item=value` (the proof's configuration text) as a map.
fn configuration_map(text: &str) -> BTreeMap<String, String> {
    text.split_whitespace()
        .filter(|w| *w != "(defaults)")
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Asserts the common shape of a proof table: `configurations` × 3 modes, every
/// configuration in each of the three modes exactly once.
fn assert_table_shape(table: &ProofTable, configurations: usize) {
    assert_eq!(table.configurations, configurations, "configurations in the header: {table:#?}");
    assert_eq!(table.modes, 3, "modes in the header");
    assert_eq!(table.rows.len(), configurations * 3, "one row per configuration and mode: {table:#?}");
    let mut per_config: BTreeMap<&BTreeMap<String, String>, BTreeSet<&str>> = BTreeMap::new();
    for row in &table.rows {
        assert!(
            per_config.entry(&row.configuration).or_default().insert(&row.mode),
            "configuration {:?} is proved twice in mode {}",
            row.configuration,
            row.mode
        );
    }
    let expected_modes: BTreeSet<&str> =
        ["airgap registry.airgap.invalid:5000/proof-ns", "airgap registry.airgap.invalid:5000", "online"]
            .into();
    for (config, modes) in &per_config {
        assert_eq!(modes, &expected_modes, "modes of configuration {config:?}");
    }
}

/// Asserts that every combination of three items' `0`/`1` values appears in some configuration.
fn assert_every_triple_covered(configs: &BTreeSet<BTreeMap<String, String>>, items: &[&str]) {
    for (i, a) in items.iter().enumerate() {
        for (j, b) in items.iter().enumerate().skip(i + 1) {
            for c in items.iter().skip(j + 1) {
                for bits in 0..8u8 {
                    let want = [(a, bits & 1), (b, (bits >> 1) & 1), (c, (bits >> 2) & 1)];
                    assert!(
                        configs.iter().any(|config| want
                            .iter()
                            .all(|(item, bit)| config.get(**item).map(String::as_str)
                                == Some(if *bit == 1 { "1" } else { "0" }))),
                        "no proved configuration has {want:?}: {configs:#?}"
                    );
                }
            }
        }
    }
}

fn flag(config: &BTreeMap<String, String>, item: &str) -> usize {
    match config.get(item).map(String::as_str) {
        Some("1") => 1,
        Some("0") => 0,
        other => panic!("configuration has {item}={other:?}, expected 0 or 1: {config:?}"),
    }
}

// --- preview -------------------------------------------------------------------------------------

/// The resolved `kots-values.yaml` section `preview` prints last.
fn resolved_values(stdout: &str) -> &str {
    stdout
        .split_once("# ---- kots-values.yaml (resolved)\n")
        .unwrap_or_else(|| panic!("preview printed no resolved kots-values.yaml:\n{stdout}"))
        .1
}

/// The `manifests/<name>` section of `preview`'s output.
fn preview_manifest<'a>(stdout: &'a str, name: &str) -> &'a str {
    let start = format!("# ---- manifests/{name}\n");
    let text = stdout.split_once(&start).unwrap_or_else(|| panic!("preview printed no {name}:\n{stdout}")).1;
    text.split_once("\n# ---- ").map_or(text, |(section, _)| section)
}

fn at<'a>(document: &'a Value, dotted: &str) -> &'a Value {
    dotted.split('.').fold(document, |value, key| &value[key])
}

/// Runs `preview` with `args`, asserts success, and returns its stdout.
/// `preview` with the `helm` front end on PATH, so that discovery renders as the release did.
fn preview(dir: &TestDir, args: &[&str]) -> String {
    dir.xtask("preview").args(args).env("PATH", path_with_tools()).run().assert_success().stdout.clone()
}

/// Previews the release in `dir` for `args`, writes the resolved values, renders `chart` with
/// them, and returns its images by template.
fn preview_and_render(
    dir: &TestDir,
    args: &[&str],
    chart: &Path,
    release_name: &str,
) -> Vec<(String, String)> {
    let stdout = preview(dir, args);
    let values = dir.write(
        format!("resolved-{}.yaml", args.join("_").replace(['/', ':', '='], "-")),
        resolved_values(&stdout),
    );
    images_by_template(&helm_template(chart, release_name, &values))
}

// --- fixtures ------------------------------------------------------------------------------------

/// The five optional parts of grafana as bool items; the dashboard download is always on
/// (static values give a provider and a `url` dashboard, so `download-dashboards` renders).
const GRAFANA_ITEMS: [(&str, &str); 5] = [
    ("persistence", "persistence.enabled"),
    ("dashboard_sidecar", "sidecar.dashboards.enabled"),
    ("datasource_sidecar", "sidecar.datasources.enabled"),
    ("image_renderer", "imageRenderer.enabled"),
    ("test_framework", "testFramework.enabled"),
];

/// A temp dir with a grafana release.toml, or `None` (saying so) without ../shared.
fn grafana_release() -> Option<TestDir> {
    let Some(chart) = shared_dir().map(|shared| shared.join(GRAFANA_FIXTURE)).filter(|path| path.is_file())
    else {
        eprintln!("skipping: ../shared/{GRAFANA_FIXTURE} is absent");
        return None;
    };
    let dir = testdir!();
    let mut text = format!(
        r#"[app]
slug = "grafana"
title = "Grafana"

[chart]
path = {chart:?}
release_name = "grafana"

[chart.values.dashboardProviders."dashboardproviders.yaml"]
apiVersion = 1
providers = [{{ name = "default", orgId = 1, folder = "", type = "file", disableDeletion = false, editable = true, options = {{ path = "/var/lib/grafana/dashboards/default" }} }}]

[chart.values.dashboards.default.remote-dashboard]
url = "https://example.com/dashboards/remote.json"

[helm_cli]
name = "registry.example.com/acme/grafana-helm-cli"

[[config.groups]]
name = "components"
title = "Optional components"
"#,
        chart = chart.display().to_string()
    );
    for (name, path) in GRAFANA_ITEMS {
        text.push_str(&format!(
            "\n  [[config.groups.items]]\n  name = \"{name}\"\n  title = \"{name}\"\n  type = \"bool\"\n  default = \"0\"\n  value = \"{path}\"\n"
        ));
    }
    dir.write("release.toml", text);
    Some(dir)
}

/// The six grafana images, as `<last component>:<tag>`.
const GRAFANA_IMAGES: [&str; 6] = [
    "grafana:7.3.5",                 // image
    "curl:7.73.0",                   // downloadDashboardsImage (dashboards with a url)
    "busybox:1.31.1",                // initChownData.image (persistence)
    "k8s-sidecar:1.1.0",             // sidecar.image (dashboards and datasources sidecars)
    "grafana-image-renderer:latest", // imageRenderer.image
    "bats:v1.1.0",                   // testFramework
];

/// A temp dir with a release.toml for the hard-coded-hook fixture; `extra` goes after [chart].
fn hook_release(extra: &str) -> TestDir {
    let dir = testdir!();
    let chart = repo_root().join(HOOK_FIXTURE);
    dir.write(
        "release.toml",
        format!(
            r#"[app]
slug = "hook-app"
title = "Hook App"

[chart]
path = {chart:?}
release_name = "hook-app"

[helm_cli]
name = "registry.example.com/acme/hook-app-helm-cli"
{extra}
[[config.groups]]
name = "settings"
title = "Settings"

  [[config.groups.items]]
  name = "replicas"
  title = "Replicas"
  type = "text"
  default = "1"
"#,
            chart = chart.display().to_string()
        ),
    );
    dir
}

/// The `error: [mode] [configuration] Kind/name in template (image)` blocks the proof prints,
/// each with its reason line.
fn proof_errors(stderr: &str) -> Vec<String> {
    let mut errors: Vec<String> = Vec::new();
    let mut lines = stderr.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("error: [") {
            let reason = lines.next_if(|next| next.starts_with("  ")).unwrap_or_default();
            errors.push(format!("{line}\n{reason}"));
        }
    }
    errors
}

// --- 1. grafana ----------------------------------------------------------------------------------

#[test]
fn grafana_proof_passes_in_every_combination() {
    let Some(dir) = grafana_release() else { return };
    require_helm();
    let started = std::time::Instant::now();
    let output =
        dir.xtask("release").args(["--offline", "--out", "out", "-v"]).env("PATH", path_with_tools()).run();
    eprintln!("grafana release with proof: {:.1?}", started.elapsed());
    output.assert_success().assert_stderr_contains("✓ wrote");
    assert_tree_intact(dir.join("out").join(GRAFANA_TREE));

    let table = proof_table(&output);
    let items: Vec<&str> = GRAFANA_ITEMS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        table.items.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        items.iter().copied().collect::<BTreeSet<_>>(),
        "items the proof varied"
    );
    // Five items: a 3-way covering array (every combination of three items' values) and
    // the all-on configuration, far fewer than the 32 combinations.
    assert_table_shape(&table, table.configurations);
    assert!(
        table.configurations < 1 << items.len(),
        "{} configurations: not a covering array",
        table.configurations
    );
    let proved: BTreeSet<BTreeMap<String, String>> =
        table.rows.iter().map(|r| r.configuration.clone()).collect();
    assert_eq!(proved.len(), table.configurations);
    assert_every_triple_covered(&proved, &items);
    assert!(
        proved.iter().any(|config| config.values().all(|v| v == "1")),
        "the all-on configuration is proved"
    );
    for row in &table.rows {
        assert!(row.ok, "run failed: {row:?}\n{}", output.stderr);
        // grafana and the dashboard download always; each optional part adds one image
        // (busybox, sidecar twice for two sidecars, image renderer); bats runs only in the
        // `helm test` pod, which `helm upgrade --install` never creates: not checked.
        let expected = 2 + items
            .iter()
            .filter(|item| **item != "test_framework")
            .map(|item| flag(&row.configuration, item))
            .sum::<usize>();
        assert_eq!(
            row.images, expected,
            "images checked in {} {:?}: the proof missed (or invented) an image",
            row.mode, row.configuration
        );
    }

    // Which images: render the all-on configuration as the customer's helm would, from the
    // values preview resolves for an airgap install, with the chart the tree ships.
    let all_on: Vec<String> = items.iter().map(|item| format!("{item}=1")).collect();
    let mut args = vec!["--airgap", "--registry", REGISTRY];
    for assignment in &all_on {
        args.extend(["--set", assignment.as_str()]);
    }
    let chart = dir.join("out").join(GRAFANA_TREE).join("charts").join(format!("{GRAFANA_TREE}.tgz"));
    let rendered = preview_and_render(&dir, &args, &chart, "grafana");
    let all_on_rows: Vec<&ProofRow> =
        table.rows.iter().filter(|r| r.configuration.values().all(|v| v == "1")).collect();
    assert_eq!(all_on_rows.len(), 3);
    // grafana's `helm test` pod (templates/tests/) is never created by `helm upgrade
    // --install`: its image is test-only, neither shipped nor rewritten nor checked.
    let (test_pods, deployed): (Vec<_>, Vec<_>) =
        rendered.iter().partition(|(template, _)| template.contains("/templates/tests/"));
    assert_eq!(
        test_pods.iter().map(|(_, image)| image.as_str()).collect::<Vec<_>>(),
        vec![format!("bats/bats:{}", "v1.1.0").as_str()],
        "the test pod keeps the chart's own image"
    );
    for row in all_on_rows {
        assert_eq!(
            row.images,
            deployed.len(),
            "the proof checked {} images but helm renders {deployed:?} outside test pods",
            row.images
        );
    }
    for (template, image) in &deployed {
        assert!(
            image.starts_with(&format!("{REGISTRY}/")) && !image[REGISTRY.len() + 1..].contains('/'),
            "{image} in {template} is not rewritten to {REGISTRY}"
        );
    }
    let distinct: BTreeSet<&str> = deployed.iter().map(|(_, image)| &image[REGISTRY.len() + 1..]).collect();
    let shipped: BTreeSet<&str> =
        GRAFANA_IMAGES.into_iter().filter(|image| !image.starts_with("bats:")).collect();
    assert_eq!(distinct, shipped, "the five deployed grafana images, rewritten");
}

#[test]
fn grafana_proof_blames_a_removed_image_renderer_rewrite() {
    let Some(dir) = grafana_release() else { return };
    require_helm();
    dir.xtask("release").args(["--offline", "--no-proof", "--out", "out"]).run().assert_success();
    let tree = dir.join("out").join(GRAFANA_TREE);

    // Put the chart's own repository back where helmkots wrote the rewrite.
    let values_file = tree.join("manifests").join("helm-values.yaml");
    let text = fs::read_to_string(&values_file).expect("cannot read helm-values.yaml");
    let rewritten: Vec<&str> = text
        .lines()
        .filter(|line| {
            line.trim_start().starts_with("repository:") && line.contains("grafana-image-renderer")
        })
        .collect();
    assert_eq!(rewritten.len(), 1, "expected one imageRenderer.image.repository rewrite:\n{text}");
    let line = rewritten[0];
    assert!(line.contains("LocalRegistry"), "the rewrite should use the local registry: {line}");
    let indent = &line[..line.len() - line.trim_start().len()];
    let edited = text.replace(line, &format!("{indent}repository: grafana/grafana-image-renderer"));
    fs::write(&values_file, edited).expect("cannot write helm-values.yaml");

    let started = std::time::Instant::now();
    let output =
        dir.xtask("verify").arg(&tree).args(["--proof", "--json"]).env("PATH", path_with_tools()).run();
    eprintln!("grafana verify --proof: {:.1?}", started.elapsed());
    output.assert_code(1);
    let report = output.json();
    assert_eq!(report["coverage"], "covering_array");
    assert_eq!(report["strength"], 3);
    assert_eq!(report["all_combinations"], 32, "2^5 combinations");
    let configurations = report["configurations"].as_u64().expect("configurations") as usize;
    assert!(configurations < 32, "{configurations} configurations: not a covering array");
    assert_eq!(report["items"].as_array().map(Vec::len), Some(5));
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), configurations * 3);
    assert_eq!(report["renders"], configurations * 3);
    let with_renderer = runs
        .iter()
        .filter(|run| run["mode"] == "online")
        .filter(|run| configuration_map(run["configuration"].as_str().unwrap())["image_renderer"] == "1")
        .count();
    assert!(with_renderer > 0);
    let mut failed = 0;
    for run in runs {
        let config = configuration_map(run["configuration"].as_str().unwrap());
        let mode = run["mode"].as_str().unwrap();
        let failures = run["failures"].as_array().unwrap();
        let expect_failure = config["image_renderer"] == "1" && mode.starts_with("airgap");
        assert_eq!(
            !failures.is_empty(),
            expect_failure,
            "run {mode} {config:?}: the renderer runs only with image_renderer=1 and is wrong only in airgap mode: {run:#}"
        );
        for failure in failures {
            failed += 1;
            assert_eq!(failure["values_path"], "imageRenderer.image.repository", "blame: {failure:#}");
            assert!(
                failure["reason"].as_str().unwrap().contains("imageRenderer.image.repository"),
                "the reason names the values path: {failure:#}"
            );
            assert_eq!(failure["image"], "grafana/grafana-image-renderer:latest", "{failure:#}");
            assert_eq!(failure["object"], "Deployment/grafana-image-renderer", "{failure:#}");
            assert!(
                failure["template"].as_str().unwrap().ends_with("templates/image-renderer-deployment.yaml"),
                "{failure:#}"
            );
        }
    }
    assert_eq!(failed, with_renderer * 2, "one failure per airgap run with the renderer on");
}

// --- 1b. an interaction of three items ------------------------------------------------------------

/// The three-way fixture: six toggles; the gadget image renders only with alpha and bravo on
/// and echo off, and discovery reads values only, so nothing rewrites it.
fn three_way_release(strength: usize) -> TestDir {
    let dir = testdir!();
    let chart = repo_root().join("tests/fixtures/proof/three-way");
    let mut text = format!(
        r#"[app]
slug = "three-way"
title = "Three way"

[chart]
path = {chart:?}
release_name = "three-way"

[images]
discover = "values"

[proof]
strength = {strength}

[[config.groups]]
name = "parts"
title = "Parts"
"#,
        chart = chart.display().to_string()
    );
    for name in ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"] {
        text.push_str(&format!(
            "\n  [[config.groups.items]]\n  name = \"{name}\"\n  title = \"{name}\"\n  type = \"bool\"\n  default = \"0\"\n  value = \"{name}\"\n"
        ));
    }
    dir.write("release.toml", text);
    dir
}

#[test]
fn a_three_way_proof_finds_an_image_only_three_items_deploy() {
    require_helm();
    let output = three_way_release(3)
        .xtask("release")
        .args(["--offline", "--out", "out", "-v"])
        .env("PATH", path_with_tools())
        .run();
    output.assert_code(1).assert_stderr_contains("docker.io/acme/gadget:2.0");
    let table = proof_table(&output);
    assert!(table.configurations < 64, "{} configurations: not a covering array", table.configurations);
    let failing: Vec<&ProofRow> = table.rows.iter().filter(|row| !row.ok).collect();
    assert!(!failing.is_empty(), "no run failed\n{}", output.stderr);
    for row in failing {
        let config = &row.configuration;
        assert!(
            config["alpha"] == "1" && config["bravo"] == "1" && config["echo"] == "0",
            "only alpha=1 bravo=1 echo=0 deploys the gadget: {row:?}"
        );
    }

    // The same release proved pairwise: no configuration of that array has the three values
    // together, so the unrewritten image goes unseen (why the default is 3).
    let output = three_way_release(2)
        .xtask("release")
        .args(["--offline", "--out", "out", "-v"])
        .env("PATH", path_with_tools())
        .run();
    output.assert_success();
    let table = proof_table(&output);
    assert!(
        table.rows.iter().all(|row| {
            let config = &row.configuration;
            !(config["alpha"] == "1" && config["bravo"] == "1" && config["echo"] == "0")
        }),
        "the pairwise array now reaches alpha=1 bravo=1 echo=0: choose another triple for this fixture"
    );
}

// --- 1c. renders are cached -------------------------------------------------------------------------

#[test]
fn a_second_proof_of_an_unchanged_release_renders_nothing() {
    require_helm();
    let dir = three_way_release(2);
    // A `helm` that counts its runs, in front of the tests' front end.
    let calls = dir.join("helm-calls.log");
    let tools = repo_root().join("tests/tools/helm");
    dir.write(
        "bin/helm",
        format!("#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n", calls.display(), tools.display()),
    );
    let wrapper = dir.join("bin/helm");
    let mut permissions = fs::metadata(&wrapper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    fs::set_permissions(&wrapper, permissions).unwrap();
    let path = helmkots_e2e::path_with_first(dir.join("bin"));
    let runs = || fs::read_to_string(&calls).map_or(0, |text| text.lines().count());

    dir.xtask("release").args(["--offline", "--out", "out", "-v"]).env("PATH", &path).run().assert_success();
    let first = runs();
    assert!(first > 0, "the release rendered nothing");
    let tree = dir.join("out").join("three-way-0.1.0");
    let verify = dir.xtask("verify").arg(&tree).arg("--proof").env("PATH", &path).run();
    verify.assert_success();
    assert_eq!(
        runs() - first,
        0,
        "verify --proof of the unchanged tree ran helm again:\n{}",
        fs::read_to_string(&calls).unwrap()
    );

    // Another values file is another render: the cache is keyed by what Helm gets.
    let text = dir.read("release.toml");
    dir.write("release.toml", text.replace("[images]", "[chart.values]\nextra = 1\n\n[images]"));
    dir.xtask("release").args(["--offline", "--out", "out", "-v"]).env("PATH", &path).run().assert_success();
    assert!(runs() > first, "a release with other values rendered nothing new");
}

// --- 1d. verify --proof reads only the tree --------------------------------------------------------

#[test]
fn verify_proof_gives_the_same_report_from_any_directory() {
    require_helm();
    let dir = three_way_release(3);
    dir.xtask("release").args(["--offline", "--no-proof", "--out", "out"]).run().assert_success();
    let tree = dir.join("out").join("three-way-0.1.0");
    let report_from = |cwd: &Path| {
        let output = helmkots_e2e::TestCommand::new(cwd)
            .arg("verify")
            .arg(&tree)
            .args(["--proof", "--json"])
            .env("PATH", path_with_tools())
            .run();
        output.assert_code(1);
        output.json()
    };
    let own = report_from(dir.path());
    // The tree's own Config screen was proved: the three-way gadget is found.
    assert_eq!(own["strength"], 3, "{own:#}");
    assert!(own.to_string().contains("docker.io/acme/gadget:2.0"), "{own:#}");

    let elsewhere = testdir!();
    assert_eq!(report_from(elsewhere.path()), own, "verify --proof from another directory");
    // A release.toml lying in the current directory changes nothing.
    let unrelated = hook_release("");
    assert!(unrelated.join("release.toml").is_file());
    assert_eq!(report_from(unrelated.path()), own, "verify --proof beside an unrelated release.toml");
}

// --- 2. an image hard-coded in a hook --------------------------------------------------------------

#[test]
fn hardcoded_hook_image_fails_the_proof_and_writes_nothing() {
    require_helm();
    let dir = hook_release("");
    let output =
        dir.xtask("release").args(["--offline", "--out", "out", "-v"]).env("PATH", path_with_tools()).run();
    output
        .assert_failure()
        .assert_stderr_contains("the airgap proof failed")
        .assert_stderr_contains("nothing was written")
        .assert_stderr_contains("templates/hook.yaml")
        .assert_stderr_contains(HOOK_IMAGE)
        .assert_stderr_contains("hard-coded in template");
    assert_eq!(files_under(dir.join("out")), Vec::<String>::new(), "a failed proof must write nothing");

    let table = proof_table(&output);
    assert_table_shape(&table, 1);
    for row in &table.rows {
        // Rendered discovery finds the hard-coded image, so online (where it is pulled as
        // written) is fine; no value can point it at a local registry.
        let airgap = row.mode.starts_with("airgap");
        assert_eq!(row.ok, !airgap, "the hook's image fails exactly the airgap runs: {row:?}");
        assert_eq!(row.images, 2, "the Deployment and the hook Job");
    }
    let errors = proof_errors(&output.stderr);
    assert!(!errors.is_empty(), "no error lines:\n{}", output.stderr);
    for error in &errors {
        assert!(
            error.contains("Job/hook-app-prepare")
                && error.contains("templates/hook.yaml")
                && error.contains(HOOK_IMAGE),
            "every error is about the hook's image, not the Deployment's:\n{error}"
        );
    }
    for mode in ["registry.airgap.invalid:5000/proof-ns", "registry.airgap.invalid:5000]"] {
        assert!(errors.iter().any(|e| e.contains(mode)), "no error in mode {mode}:\n{}", output.stderr);
    }
    assert!(!errors.iter().any(|e| e.contains("[online]")), "online pulls it as written:\n{}", output.stderr);
}

#[test]
fn hardcoded_hook_image_is_written_with_no_proof_or_without_helm() {
    let dir = hook_release("");
    let output = dir
        .xtask("release")
        .args(["--offline", "--no-proof", "--out", "out"])
        .env("PATH", path_with_tools())
        .run();
    output.assert_success();
    assert!(!output.stderr.contains("airgap proof"), "--no-proof must not run the proof:\n{}", output.stderr);
    assert_tree_intact(dir.join("out").join("hook-app-0.1.0"));

    let output =
        dir.xtask("release").args(["--offline", "--out", "out2"]).env("PATH", path_without_helm()).run();
    output.assert_success().assert_stderr_contains("airgap proof skipped");
    assert_tree_intact(dir.join("out2").join("hook-app-0.1.0"));
}

/// The proof's hint for a hard-coded image says "or add it to [images] include". Doing so
/// ships the image but cannot rewrite it, so the airgap runs still fail; they must then
/// still say the image is hard-coded in its template, not blame an empty values path.
#[test]
fn hardcoded_hook_image_in_include_is_still_blamed_on_its_template() {
    require_helm();
    let dir = hook_release(&format!("\n[images]\ninclude = [{HOOK_IMAGE:?}]\n"));
    let output =
        dir.xtask("release").args(["--offline", "--out", "out", "-v"]).env("PATH", path_with_tools()).run();
    output.assert_failure().assert_stderr_contains("the airgap proof failed");
    let table = proof_table(&output);
    for row in &table.rows {
        assert_eq!(
            row.ok,
            row.mode == "online",
            "included, the image is known online but not rewritable airgap: {row:?}"
        );
    }
    let errors = proof_errors(&output.stderr);
    assert!(!errors.is_empty(), "no error lines:\n{}", output.stderr);
    for error in &errors {
        assert!(
            !error.contains("values path  should") && !error.contains("values path should"),
            "PRODUCT BUG (proof.rs `blame`): an image listed in [images] include but hard-coded in a template is \
             blamed on an empty values path instead of its template:\n{error}"
        );
        assert!(
            error.contains("hard-coded") && error.contains("templates/hook.yaml"),
            "the airgap failure should say the image is hard-coded in templates/hook.yaml:\n{error}"
        );
    }
    assert_eq!(files_under(dir.join("out")), Vec::<String>::new());
}

// --- 3. the embedded example -----------------------------------------------------------------------

#[test]
fn example_proof_passes_with_hook_test_pod_and_subchart() {
    require_helm();
    let dir = testdir!();
    dir.copy_example();
    let started = std::time::Instant::now();
    let output =
        dir.xtask("release").args(["--offline", "--out", "out", "-v"]).env("PATH", path_with_tools()).run();
    eprintln!("example release with proof: {:.1?}", started.elapsed());
    output.assert_success().assert_stderr_contains("✓ wrote");
    assert_tree_intact(dir.join("out").join(EXAMPLE_TREE));

    let table = proof_table(&output);
    let items: BTreeSet<&str> = table.items.iter().map(String::as_str).collect();
    assert_eq!(
        items,
        ["log_level", "enable_signup", "enable_persistence", "enable_cache", "enable_metrics"].into(),
        "the bool and select items that set values (text items do not multiply configurations)"
    );
    // A 3-way covering array of the 4 × 2 × 2 × 2 × 2 = 64 combinations.
    assert_table_shape(&table, table.configurations);
    assert!(table.configurations < 64, "{} configurations: not a covering array", table.configurations);
    for row in &table.rows {
        assert!(row.ok, "run failed: {row:?}\n{}", output.stderr);
        // web and the migration hook always (the test pod is a `helm test` hook, which
        // `helm upgrade --install` never creates: a note, not a check); redis with the
        // cache; the exporter sidecar with metrics.
        let expected =
            2 + flag(&row.configuration, "enable_cache") + flag(&row.configuration, "enable_metrics");
        assert_eq!(row.images, expected, "images checked in {} {:?}", row.mode, row.configuration);
    }

    // The JSON report has no image names, so render what the proof rendered for one
    // airgap configuration and check the hook, the test pod and the subchart.
    let chart = dir.join("out").join(EXAMPLE_TREE).join("charts").join(format!("{EXAMPLE_TREE}.tgz"));
    let rendered = preview_and_render(
        &dir,
        &["--airgap", "--registry", REGISTRY, "--set", "enable_cache=1", "--set", "enable_metrics=1"],
        &chart,
        "demo-app",
    );
    assert_eq!(rendered.len(), 5, "web, exporter, migration hook, test pod, redis: {rendered:?}");
    for (template, image) in &rendered {
        assert!(
            image.starts_with(&format!("{REGISTRY}/")) && !image[REGISTRY.len() + 1..].contains('/'),
            "{image} in {template} is not rewritten to {REGISTRY}"
        );
    }
    for (template, image) in [
        ("demo-app/templates/hooks/migrate-job.yaml", "demo-migrate:2.3.0"),
        ("demo-app/templates/tests/test-connection.yaml", "busybox:1.36.1"),
        ("demo-app/charts/cache/templates/deployment.yaml", "redis:7.2.4-alpine"),
    ] {
        let expected = (template.to_string(), format!("{REGISTRY}/{image}"));
        assert!(rendered.contains(&expected), "expected {expected:?} among {rendered:#?}");
    }
}

// --- 4. preview ----------------------------------------------------------------------------------

fn example() -> TestDir {
    let dir = testdir!();
    dir.copy_example();
    dir
}

#[test]
fn preview_rewrites_for_online_and_both_registry_forms() {
    let dir = example();
    let online = parse_yaml(resolved_values(&preview(&dir, &[])), "online values");
    assert_eq!(at(&online, "image.repository"), "proxy.replicated.com/proxy/demo-app/ghcr.io/acme/demo-web");
    assert_eq!(
        at(&online, "migrations.image"),
        "proxy.replicated.com/proxy/demo-app/docker.io/acme/demo-migrate:2.3.0"
    );
    assert_eq!(at(&online, "tests.image"), "docker.io/library/busybox");
    assert_eq!(at(&online, "cache.image.repository"), "docker.io/library/redis");
    assert_eq!(at(&online, "metricsExporter.image.registry"), "quay.io");
    assert_eq!(at(&online, "metricsExporter.image.repository"), "prometheuscommunity/json-exporter");
    assert_eq!(at(&online, "global.imageRegistry"), "");

    for (registry, host, prefix) in
        [("host:5000", "host:5000", "host:5000/"), ("host:5000/ns", "host:5000", "host:5000/ns/")]
    {
        let namespace = prefix[host.len()..].trim_matches('/');
        let values = parse_yaml(
            resolved_values(&preview(&dir, &["--airgap", "--registry", registry])),
            &format!("values for {registry}"),
        );
        assert_eq!(at(&values, "image.repository"), &format!("{prefix}demo-web"), "{registry}");
        assert_eq!(at(&values, "migrations.image"), &format!("{prefix}demo-migrate:2.3.0"), "{registry}");
        assert_eq!(at(&values, "tests.image"), &format!("{prefix}busybox"), "{registry}");
        assert_eq!(at(&values, "cache.image.repository"), &format!("{prefix}redis"), "{registry}");
        assert_eq!(at(&values, "metricsExporter.image.registry"), host, "{registry}");
        let exporter = if namespace.is_empty() {
            "json-exporter".to_string()
        } else {
            format!("{namespace}/json-exporter")
        };
        assert_eq!(at(&values, "metricsExporter.image.repository"), &exporter, "{registry}");
    }

    // What the chart makes of it with every component on, without a namespace.
    require_helm();
    let rendered = preview_and_render(
        &dir,
        &["--airgap", "--registry", "host:5000", "--set", "enable_cache=1", "--set", "enable_metrics=1"],
        &dir.join("charts").join("demo-app"),
        "demo-app",
    );
    let images: BTreeSet<&str> = rendered.iter().map(|(_, image)| image.as_str()).collect();
    assert_eq!(
        images,
        [
            "host:5000/busybox:1.36.1",
            "host:5000/demo-migrate:2.3.0",
            "host:5000/demo-web:2.3.0",
            "host:5000/json-exporter:v0.6.0",
            "host:5000/redis:7.2.4-alpine",
        ]
        .into(),
        "{rendered:#?}"
    );
}

#[test]
fn preview_set_bool_item_changes_its_value() {
    let dir = example();
    for (args, expected) in [
        (&[][..], false),
        (&["--set", "enable_metrics=1"][..], true),
        (&["--set", "enable_metrics=0"][..], false),
    ] {
        let values = parse_yaml(resolved_values(&preview(&dir, args)), "resolved values");
        assert_eq!(at(&values, "metricsExporter.enabled"), &Value::Bool(expected), "preview {args:?}");
    }
}

#[test]
fn preview_set_text_stays_one_yaml_string() {
    let dir = example();
    for greeting in [
        r#"a "quoted": value"#,
        "it's # not a comment",
        "line one\nline two: x",
        "- not a list",
        r#"repl{{ ConfigOption "replicas" }}"#,
    ] {
        let stdout = preview(&dir, &["--set", &format!("greeting={greeting}")]);
        let values = parse_yaml(resolved_values(&stdout), "resolved values");
        assert_eq!(at(&values, "config.greeting"), greeting, "the greeting must stay one string");
        // The same text inside the ConfigMap the Job mounts.
        let config_map = parse_yaml(preview_manifest(&stdout, "helm-values.yaml"), "helm-values.yaml");
        let inner = config_map["data"]["kots-values.yaml"].as_str().expect("data.kots-values.yaml");
        assert_eq!(at(&parse_yaml(inner, "kots-values.yaml in the ConfigMap"), "config.greeting"), greeting);
    }
}

#[test]
fn preview_set_unknown_item_fails_naming_it() {
    let dir = example();
    dir.xtask("preview")
        .args(["--set", "nosuchitem=1"])
        .run()
        .assert_failure()
        .assert_stderr_contains("nosuchitem");
    dir.xtask("preview")
        .args(["--set", "greeting"])
        .run()
        .assert_failure()
        .assert_stderr_contains("ITEM=VALUE");
    dir.xtask("preview").args(["--airgap"]).run().assert_failure().assert_stderr_contains("--registry");
}

/// `replicas` is a text item whose chart default is a number, so helmkots writes
/// `replicaCount: repl{{ ConfigOption "replicas" }}` without `toJson`: whatever the customer
/// types is pasted into the values document as YAML.
#[test]
fn preview_numeric_text_item_cannot_inject_yaml() {
    let dir = example();
    for typed in ["a: b", "{evil: true}", "3\nevil: true"] {
        let output = dir.xtask("preview").args(["--set", &format!("replicas={typed}")]).run();
        if !output.status.success() {
            output.assert_failure().assert_stderr_contains("replicas");
            continue;
        }
        let text = resolved_values(&output.stdout);
        let values = yaml_to_json(text).unwrap_or_else(|error| {
            panic!(
                "PRODUCT BUG (kots/values.rs `item_template`): text item `replicas`={typed:?} is pasted unquoted into \
                 kots-values.yaml, which is no longer valid YAML (the Job's helm would fail):\n{error}\n{text}"
            )
        });
        assert!(
            values.get("evil").is_none() && !at(&values, "replicaCount").is_object(),
            "PRODUCT BUG (kots/values.rs `item_template`): text item `replicas`={typed:?} changes the structure \
             of kots-values.yaml: {values:#}"
        );
    }
}
