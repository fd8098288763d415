//! The chart corpus end to end, the yardstick of the project: every real public chart of
//! `../shared/fixtures/charts/corpus/` (see its `corpus.toml` and README.md) through the real
//! `xtask` binary, with the `helm` front end of `tests/tools/` (the real Helm engine) first on
//! PATH so that the airgap proof runs.
//!
//! For each `[[chart]]` of corpus.toml, in a fresh temp dir:
//! 1. a release.toml: the chart's `.tgz`, release name `rel`, the entry's `required_values` as
//!    static values, and one `bool` item per `switches` path (default off);
//! 2. `xtask images --json` must list every image of `images_all_switches` (compared as Docker
//!    compares references, after normalising both sides);
//! 3. `xtask release --offline` must succeed, with the airgap proof run;
//! 4. the written tree must match its SHA256SUMS, and its `manifests/` must validate: the KOTS
//!    kinds against the kotskinds schemas of `../shared/schemas/kots/json` and every other kind
//!    against the Kubernetes schemas (`kotscheck.py validate`, then `helmcheck.py k8s-validate`).
//!
//! The one exception is [`MISSING_DEPENDENCY`]: mattermost-team-edition declares `mysql`, which
//! the corpus could not vendor. `images` and `release` may each refuse it with exit code 2 and
//! an error naming Chart.yaml and `mysql` and saying how to fix it, or pass like any other chart.
//!
//! One `#[test]` per chart (`cargo test -p helmkots-e2e corpus::wordpress`); cargo's
//! harness runs them in parallel, one thread per CPU (`--test-threads` / `RUST_TEST_THREADS`).
//! A chart's test runs every step it can and then fails once, listing every failed check of
//! that chart; each test prints one `corpus: <chart>: PASS|FAIL` line, and cargo's summary
//! lists every failing chart.

use std::{
    collections::BTreeSet,
    ffi::OsStr,
    fmt::Write as _,
    path::{Path, PathBuf},
    sync::OnceLock,
    time::Instant,
};

use helmkots_e2e::{
    assert_tree_intact, golden_outputs, kotscheck, kotscheck_checked, path_with_tools, python_tool,
    require_helm, shared_dir, squash_diagnostics, tree_golden_lines, TestDir, TestOutput,
};
use serde_json::Value;

/// The corpus, under `../shared`.
const CORPUS: &str = "fixtures/charts/corpus";
/// The kotskinds JSON schemas, under `../shared`.
const KOTS_SCHEMAS: &str = "schemas/kots/json";
/// The manifests `release` generates; the temp dir has no `manifests/` to pass through.
const GENERATED: [&str; 4] = ["helm-cli-job.yaml", "helm-values.yaml", "kots-app.yaml", "kots-config.yaml"];
/// The chart whose declared dependency the corpus could not vendor, and that dependency.
const MISSING_DEPENDENCY: (&str, &str) = ("mattermost-team-edition", "mysql");

// --- one test per chart ------------------------------------------------------------------------

macro_rules! corpus_tests {
    ($($test:ident => $chart:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_chart($chart);
            }
        )*
        /// The charts that have a test, as corpus.toml names them.
        const TESTED: &[&str] = &[$($chart),*];
    };
}

corpus_tests! {
    wordpress => "wordpress",
    kafka => "kafka",
    keycloak => "keycloak",
    prometheus_blackbox_exporter => "prometheus-blackbox-exporter",
    prometheus_adapter => "prometheus-adapter",
    argo_rollouts => "argo-rollouts",
    kibana => "kibana",
    traefik => "traefik",
    external_dns => "external-dns",
    opentelemetry_collector => "opentelemetry-collector",
    fluent_bit => "fluent-bit",
    harbor => "harbor",
    velero => "velero",
    metrics_server => "metrics-server",
    mattermost_team_edition => "mattermost-team-edition",
    keycloakx => "keycloakx",
}

/// A chart added to (or renamed in) corpus.toml must get its test above.
#[test]
fn every_corpus_chart_has_a_test() {
    let Some(corpus) = corpus() else { return };
    let listed: BTreeSet<&str> = corpus.iter().map(|entry| entry.name.as_str()).collect();
    let tested: BTreeSet<&str> = TESTED.iter().copied().collect();
    assert_eq!(listed.len(), corpus.len(), "corpus.toml names a chart twice");
    assert_eq!(tested, listed, "the tests of corpus.rs and the [[chart]] entries of corpus.toml differ");
}

// --- corpus.toml -------------------------------------------------------------------------------

/// One `[[chart]]` of corpus.toml (the fields this test uses).
#[derive(Debug)]
struct Entry {
    file: String,
    name: String,
    version: String,
    switches: Vec<String>,
    required_values: toml::Table,
    images_all_switches: Vec<String>,
}

/// The corpus folder, or `None` (saying so) when `../shared` is absent.
fn corpus_dir() -> Option<PathBuf> {
    match shared_dir() {
        Some(shared) => Some(shared.join(CORPUS)),
        None => {
            println!("skipped: ../shared is absent");
            None
        }
    }
}

/// The entries of corpus.toml, parsed once, or `None` when `../shared` is absent.
fn corpus() -> Option<&'static [Entry]> {
    static CORPUS_TOML: OnceLock<Result<Vec<Entry>, String>> = OnceLock::new();
    let dir = corpus_dir()?;
    match CORPUS_TOML.get_or_init(|| parse_corpus(&dir.join("corpus.toml"))) {
        Ok(entries) => Some(entries),
        Err(error) => panic!("{error}"),
    }
}

fn parse_corpus(path: &Path) -> Result<Vec<Entry>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|e| format!("{} is not TOML: {e}", path.display()))?;
    let charts = table
        .get("chart")
        .and_then(toml::Value::as_array)
        .ok_or_else(|| format!("{} has no [[chart]] entries", path.display()))?;
    charts
        .iter()
        .enumerate()
        .map(|(index, chart)| {
            let where_ = format!("{} [[chart]] #{}", path.display(), index + 1);
            let string = |key: &str| {
                chart
                    .get(key)
                    .and_then(toml::Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| format!("{where_}: `{key}` is missing or not a string"))
            };
            let strings = |key: &str| {
                chart
                    .get(key)
                    .and_then(toml::Value::as_array)
                    .ok_or_else(|| format!("{where_}: `{key}` is missing or not an array"))?
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| format!("{where_}: `{key}` holds a non-string: {item}"))
                    })
                    .collect::<Result<Vec<String>, String>>()
            };
            Ok(Entry {
                file: string("file")?,
                name: string("name")?,
                version: string("version")?,
                switches: strings("switches")?,
                required_values: chart
                    .get("required_values")
                    .and_then(toml::Value::as_table)
                    .cloned()
                    .ok_or_else(|| format!("{where_}: `required_values` is missing or not a table"))?,
                images_all_switches: strings("images_all_switches")?,
            })
        })
        .collect()
}

// --- release.toml ------------------------------------------------------------------------------

/// `name` made a DNS-1123 label of at most `max_len` characters.
fn dns_label(name: &str, max_len: usize) -> String {
    let mut label: String = name
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' })
        .collect();
    label.truncate(max_len);
    let label = label.trim_matches('-');
    if label.is_empty() {
        "chart".to_string()
    } else {
        label.to_string()
    }
}

/// A TOML value on one line: tables inline (`{ "a" = 1 }`), arrays as `[a, b]`.
fn inline_toml(value: &toml::Value) -> String {
    match value {
        toml::Value::Table(table) => inline_table(table),
        toml::Value::Array(items) => {
            format!("[{}]", items.iter().map(inline_toml).collect::<Vec<_>>().join(", "))
        }
        leaf => leaf.to_string(),
    }
}

fn inline_table(table: &toml::Table) -> String {
    if table.is_empty() {
        return "{}".to_string();
    }
    let pairs: Vec<String> =
        table.iter().map(|(key, value)| format!("{} = {}", toml_string(key), inline_toml(value))).collect();
    format!("{{ {} }}", pairs.join(", "))
}

/// A TOML basic string (escaped by the toml crate).
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The release.toml of a corpus chart: `[app]`, `[chart]` with the required values, and one
/// group with a `bool` item per switch (an empty group when there is none: it validates).
fn release_toml(entry: &Entry, chart: &Path) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "[app]");
    let _ = writeln!(text, "slug = {}", toml_string(&dns_label(&entry.name, 40)));
    let _ = writeln!(text, "title = {}", toml_string(&entry.name));
    let _ = writeln!(text);
    let _ = writeln!(text, "[chart]");
    let _ = writeln!(text, "path = {}", toml_string(&chart.to_string_lossy()));
    let _ = writeln!(text, "release_name = \"rel\"");
    let _ = writeln!(text, "values = {}", inline_table(&entry.required_values));
    let _ = writeln!(text);
    let _ = writeln!(text, "[[config.groups]]");
    let _ = writeln!(text, "name = \"switches\"");
    let _ = writeln!(text, "title = \"Switches\"");
    for (index, switch) in entry.switches.iter().enumerate() {
        let _ = writeln!(text);
        let _ = writeln!(text, "  [[config.groups.items]]");
        let _ = writeln!(text, "  name = \"switch_{index}\"");
        let _ = writeln!(text, "  title = {}", toml_string(switch));
        let _ = writeln!(text, "  type = \"bool\"");
        let _ = writeln!(text, "  default = \"0\"");
        let _ = writeln!(text, "  value = {}", toml_string(switch));
    }
    text
}

// --- references --------------------------------------------------------------------------------

/// A reference as Docker normalises it (`distribution/reference.ParseNormalizedNamed` plus the
/// default tag): no domain → `docker.io`; a single `docker.io` component → `library/`; `latest`
/// when there is neither tag nor digest; a `tag@digest` kept whole.
fn docker_normalized(reference: &str) -> String {
    let (name_and_tag, digest) = match reference.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (reference, None),
    };
    let last_component = name_and_tag.rfind('/').map_or(0, |slash| slash + 1);
    let (name, tag) = match name_and_tag[last_component..].rfind(':') {
        Some(colon) => {
            let colon = last_component + colon;
            (&name_and_tag[..colon], Some(&name_and_tag[colon + 1..]))
        }
        None => (name_and_tag, None),
    };
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first, rest.to_string())
        }
        _ => ("docker.io", name.to_string()),
    };
    let domain = if domain == "index.docker.io" { "docker.io" } else { domain };
    let path = if domain == "docker.io" && !path.contains('/') { format!("library/{path}") } else { path };
    let mut normalized = format!("{domain}/{path}");
    match (tag, digest) {
        (Some(tag), _) => normalized.push_str(&format!(":{tag}")),
        (None, None) => normalized.push_str(":latest"),
        (None, Some(_)) => {}
    }
    if let Some(digest) = digest {
        normalized.push_str(&format!("@{digest}"));
    }
    normalized
}

#[test]
fn references_are_compared_as_docker_normalises_them() {
    let digest = "sha256:425b1e065a3433f4a7b10d8091fe83b3459c008647cc1e3c3707974832d2ef30";
    for (reference, expected) in [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:latest", "docker.io/library/busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/library/busybox:1", "docker.io/library/busybox:1"),
        ("bats/bats:v1.1.0", "docker.io/bats/bats:v1.1.0"),
        ("docker.io/bitnami/os-shell:12-debian-12-r50", "docker.io/bitnami/os-shell:12-debian-12-r50"),
        ("quay.io/prometheus/blackbox-exporter:v0.28.0", "quay.io/prometheus/blackbox-exporter:v0.28.0"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/app:1", "localhost:5000/app:1"),
        ("reg:5000/a/b", "reg:5000/a/b:latest"),
        ("otel/opentelemetry-collector-k8s:0.158.0", "docker.io/otel/opentelemetry-collector-k8s:0.158.0"),
    ] {
        assert_eq!(docker_normalized(reference), expected, "{reference}");
    }
    assert_eq!(
        docker_normalized(&format!("mattermost/mattermost-team-edition:11.6.1@{digest}")),
        format!("docker.io/mattermost/mattermost-team-edition:11.6.1@{digest}")
    );
    assert_eq!(
        docker_normalized(&format!("busybox@{digest}")),
        format!("docker.io/library/busybox@{digest}")
    );
    assert_ne!(docker_normalized(&format!("busybox:1@{digest}")), docker_normalized("busybox:1"));
}

#[test]
fn slugs_are_dns_labels() {
    assert_eq!(dns_label("prometheus-blackbox-exporter", 40), "prometheus-blackbox-exporter");
    assert_eq!(dns_label("My_Chart.v2", 40), "my-chart-v2");
    assert_eq!(dns_label(&"a".repeat(50), 40), "a".repeat(40));
    assert_eq!(dns_label(&format!("{}-b", "a".repeat(39)), 40), "a".repeat(39));
}

#[test]
fn required_values_are_written_as_an_inline_table() {
    let values: toml::Table = r#"mode = "deployment"
image = { repository = "otel/x", "dotted.key" = [1, true, "a\"b"] }"#
        .parse()
        .unwrap();
    let line = format!("values = {}", inline_table(&values));
    let parsed: toml::Table = line.parse().unwrap_or_else(|e| panic!("{line} is not TOML: {e}"));
    assert_eq!(parsed["values"].as_table(), Some(&values), "{line}");
    assert_eq!(inline_table(&toml::Table::new()), "{}");
}

// --- running one chart ---------------------------------------------------------------------------

fn panicked(output: &TestOutput) -> bool {
    output.status.code() == Some(101) || output.stderr.contains("panicked")
}

/// Whether a failed `images`/`release` of the [`MISSING_DEPENDENCY`] chart is the accepted
/// refusal: exit code 2 (in the JSON error too, when there is one), and an error that names
/// Chart.yaml and the dependency and says how to fix it.
fn is_missing_dependency_refusal(output: &TestOutput, dependency: &str) -> Result<(), String> {
    if panicked(output) || output.status.code() != Some(2) {
        return Err(format!("expected exit code 2 without a panic, got {}", output.status));
    }
    if let Ok(json) = serde_json::from_str::<Value>(&output.stdout) {
        if json["error"]["exit_code"] != 2 {
            return Err(format!("the JSON error does not say exit code 2: {json:#}"));
        }
    }
    let text = squash_diagnostics(&format!("{}\n{}", output.stdout, output.stderr));
    let fix =
        ["helm dependency build", "vendor it"].iter().any(|fix| text.contains(&squash_diagnostics(fix)));
    if text.contains("Chart.yaml") && text.contains(dependency) && fix {
        Ok(())
    } else {
        Err(format!(
            "the error must name Chart.yaml and `{dependency}` and say how to fix it (vendor it / `helm dependency build`)"
        ))
    }
}

/// What the test found for one chart.
struct Report {
    chart: String,
    steps: Vec<String>,
    failures: Vec<String>,
}

impl Report {
    fn ok(&mut self, step: impl Into<String>) {
        self.steps.push(step.into());
    }

    fn fail(&mut self, step: &str, reason: impl AsRef<str>) {
        self.steps.push(format!("{step} FAILED"));
        self.failures.push(format!("[{}] {step}: {}", self.chart, reason.as_ref()));
    }
}

/// Runs every step for the corpus chart `name`, then fails once with every failed check.
fn check_chart(name: &str) {
    let Some(corpus) = corpus() else { return };
    let Some(dir) = corpus_dir() else { return };
    let entry = corpus
        .iter()
        .find(|entry| entry.name == name)
        .unwrap_or_else(|| panic!("corpus.toml has no [[chart]] named {name}"));
    require_helm();
    let started = Instant::now();
    let mut report = Report { chart: name.to_string(), steps: Vec::new(), failures: Vec::new() };
    let exception = (MISSING_DEPENDENCY.0 == name).then_some(MISSING_DEPENDENCY.1);

    // 1. release.toml
    let chart = dir.join(&entry.file);
    assert!(chart.is_file(), "{} is listed in corpus.toml but absent", chart.display());
    let temp = TestDir::new(&format!("corpus-{name}"));
    let slug = dns_label(&entry.name, 40);
    let release_text = release_toml(entry, &chart);
    temp.write("release.toml", &release_text);

    // 2. images
    let images = temp.xtask("images").arg("--json").env("PATH", path_with_tools()).run();
    check_images(&mut report, entry, &images, exception);

    // 3. release --offline, proved through the real Helm engine
    let release = temp.xtask("release").arg("--offline").env("PATH", path_with_tools()).run();
    let released = check_release(&mut report, &release, exception);

    // 4. the written tree and its manifests
    if released {
        let tree = temp.join("dist").join(format!("{slug}-{}", entry.version));
        check_tree(&mut report, &tree);
        check_golden(&mut report, name, &tree);
    }

    // 5. init proposes what changes the release, and its release.toml releases and proves
    if exception.is_none() {
        check_init(&mut report, entry, &chart);
    }

    let verdict = if report.failures.is_empty() { "PASS" } else { "FAIL" };
    println!("corpus: {name}: {verdict} in {:.1?} ({})", started.elapsed(), report.steps.join("; "));
    if !report.failures.is_empty() {
        panic!(
            "corpus chart {name} failed {} check(s):\n\n{}\n\n--- release.toml ---\n{release_text}",
            report.failures.len(),
            report.failures.join("\n\n")
        );
    }
}

/// Step 5: `init` on the chart proposes at most eight items, each a part whose flip changes
/// the rendered images or workloads; the release.toml it writes (with the chart's required
/// values added) releases with the proof passing.
fn check_init(report: &mut Report, entry: &Entry, chart: &Path) {
    let temp = TestDir::new(&format!("corpus-init-{}", entry.name));
    let init = |extra: &[&str]| {
        temp.xtask("init").arg("--chart").arg(chart).args(extra).env("PATH", path_with_tools()).run()
    };
    let dry_run = init(&["--json"]);
    if !dry_run.status.success() {
        return report.fail("init --json", dry_run.describe());
    }
    let json = dry_run.json();
    let proposed: Vec<&serde_json::Value> =
        json["items"].as_array().into_iter().flatten().filter(|item| item["proposed"] == true).collect();
    if proposed.len() > 8 {
        return report.fail("init", format!("{} items proposed, more than 8: {proposed:#?}", proposed.len()));
    }
    let unchecked: Vec<&&serde_json::Value> =
        proposed.iter().filter(|item| item["impact"].is_null()).collect();
    if !unchecked.is_empty() {
        return report.fail(
            "init",
            format!(
                "proposed without a rendered change of images or workloads: {unchecked:#?}\n{}",
                dry_run.stderr
            ),
        );
    }
    let written = init(&[]);
    if !written.status.success() {
        return report.fail("init", written.describe());
    }
    let text = temp.read("release.toml");
    temp.write(
        "release.toml",
        text.replacen(
            "\n[chart]\n",
            &format!("\n[chart]\nvalues = {}\n", inline_table(&entry.required_values)),
            1,
        ),
    );
    let release = temp.xtask("release").arg("--offline").env("PATH", path_with_tools()).run();
    if !release.status.success() || !release.stderr.contains("airgap proof passed") {
        return report.fail("init's release.toml", release.describe());
    }
    report.ok(format!("init proposed {} item(s), released and proved", proposed.len()));
}

/// The exit of step 2 or 3 (`step` is `images` or `release`): a failure is accepted only as
/// the [`MISSING_DEPENDENCY`] refusal (else reported with `expected`), a success must not have
/// panicked. Returns whether the command succeeded, so that its output can be checked further.
fn check_exit(
    report: &mut Report,
    step: &str,
    output: &TestOutput,
    exception: Option<&str>,
    expected: &str,
) -> bool {
    if !output.status.success() {
        match exception {
            Some(dependency) => match is_missing_dependency_refusal(output, dependency) {
                Ok(()) => {
                    report.ok(format!("{step} refused the missing `{dependency}` dependency (accepted)"))
                }
                Err(why) => report.fail(step, format!("{why}\n{}", output.describe())),
            },
            None => report.fail(step, format!("{expected}\n{}", output.describe())),
        }
        return false;
    }
    if panicked(output) {
        report.fail(step, format!("exit 0, but the command panicked\n{}", output.describe()));
        return false;
    }
    true
}

/// Step 2: `images --json` lists every image of `images_all_switches`.
fn check_images(report: &mut Report, entry: &Entry, output: &TestOutput, exception: Option<&str>) {
    if !check_exit(report, "images", output, exception, "expected success") {
        return;
    }
    let json: Value = match serde_json::from_str(&output.stdout) {
        Ok(json) => json,
        Err(error) => {
            report.fail("images", format!("stdout is not JSON: {error}\n{}", output.describe()));
            return;
        }
    };
    let Some(images) = json["images"].as_array() else {
        report.fail("images", format!("no `images` list in\n{json:#}"));
        return;
    };
    // Images only `helm test` pods pull are listed apart (shown, not bundled): found all the same.
    let test_only = json["test_only"].as_array().cloned().unwrap_or_default();
    let mut found = BTreeSet::new();
    for image in images.iter().chain(&test_only) {
        match image["reference"].as_str() {
            Some(reference) => {
                found.insert(docker_normalized(reference));
            }
            None => {
                report.fail("images", format!("an image without a string `reference`: {image}\n{json:#}"));
                return;
            }
        }
    }
    let missing: Vec<&str> = entry
        .images_all_switches
        .iter()
        .map(String::as_str)
        .filter(|expected| !found.contains(&docker_normalized(expected)))
        .collect();
    if missing.is_empty() {
        report.ok(format!(
            "images: all {} expected found ({} listed)",
            entry.images_all_switches.len(),
            found.len()
        ));
    } else {
        report.fail(
            "images",
            format!(
                "{} of {} images of images_all_switches are not listed: {missing:#?}\n--- images --json ---\n{json:#}",
                missing.len(),
                entry.images_all_switches.len()
            ),
        );
    }
    // Precision: what discovery says Helm renders (`rendered`, `both`) must be what Helm
    // renders with every switch on (the configurations only turn switches on and off).
    let expected: BTreeSet<String> =
        entry.images_all_switches.iter().map(|image| docker_normalized(image)).collect();
    let rendered: Vec<String> = images
        .iter()
        .chain(&test_only)
        .filter(|image| matches!(image["found_by"].as_str(), Some("rendered" | "both")))
        .filter_map(|image| image["reference"].as_str().map(docker_normalized))
        .collect();
    let invented: Vec<&String> = rendered.iter().filter(|image| !expected.contains(*image)).collect();
    if !invented.is_empty() && invented.len() * 20 > rendered.len() {
        report.fail(
            "images",
            format!(
                "precision under 0.95: listed as rendered but not rendered by Helm: {invented:#?}\n{json:#}"
            ),
        );
    }
}

/// Step 3: `release --offline` succeeds with the proof run. Returns whether a tree was written.
fn check_release(report: &mut Report, output: &TestOutput, exception: Option<&str>) -> bool {
    if !check_exit(report, "release", output, exception, "expected exit code 0") {
        return false;
    }
    if output.stderr.contains("airgap proof skipped") || !output.stderr.contains("airgap proof: ") {
        report.fail(
            "release",
            format!("the airgap proof did not run with helm on PATH\n{}", output.describe()),
        );
    } else {
        report.ok("release --offline: proof passed");
    }
    true
}

/// Step 4 (cont.): the tree is byte-identical to the committed golden. The build record is left
/// out: it names the chart by its path from the test's temporary folder.
fn check_golden(report: &mut Report, name: &str, tree: &Path) {
    let intact = std::panic::catch_unwind(|| tree_golden_lines(tree, &["release.lock.json"]));
    let Ok(lines) = intact else { return };
    match golden_outputs(&format!("corpus-{name}.SHA256SUMS"), &lines) {
        Ok(()) => report.ok("tree byte-identical to its golden"),
        Err(message) => report.fail("golden", message),
    }
}

/// Step 4: the tree is whole and its manifests validate.
fn check_tree(report: &mut Report, tree: &Path) {
    if !tree.is_dir() {
        let dist = tree.parent().map(helmkots_e2e::files_under).unwrap_or_default();
        report.fail("tree", format!("release wrote no {}; dist/ holds {dist:#?}", tree.display()));
        return;
    }
    let intact = std::panic::catch_unwind(|| {
        assert_tree_intact(tree);
    });
    if let Err(panic) = intact {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        report.fail("tree", format!("the tree does not match its SHA256SUMS: {message}"));
    }

    let manifests = tree.join("manifests");
    let Some(schemas) = shared_dir().map(|shared| shared.join(KOTS_SCHEMAS)) else { return };
    if !schemas.is_dir() {
        report.fail("schemas", format!("{} is absent", schemas.display()));
        return;
    }
    let output = kotscheck([
        OsStr::new("validate"),
        manifests.as_os_str(),
        OsStr::new("--schemas"),
        schemas.as_os_str(),
    ]);
    let checked = kotscheck_checked(&output, &manifests);
    if output.status.code() != Some(0) {
        report.fail("kotscheck", format!("the manifests do not validate\n{}", output.describe()));
    } else if checked != GENERATED {
        report.fail(
            "kotscheck",
            format!("checked {checked:?}, expected exactly {GENERATED:?}\n{}", output.describe()),
        );
    } else {
        report.ok("kotscheck: KOTS and Kubernetes schemas ok");
    }

    let files: Vec<PathBuf> = GENERATED.iter().map(|file| manifests.join(file)).collect();
    let output =
        python_tool(std::iter::once(OsStr::new("k8s-validate")).chain(files.iter().map(|f| f.as_os_str())));
    if output.status.success() {
        report.ok("k8s-validate ok");
    } else {
        report.fail("k8s-validate", format!("Kubernetes objects do not validate\n{}", output.describe()));
    }
}
