//! `cargo xtask init` end to end: a starter release.toml for the example chart and for
//! grafana 6.1.16 (from `../shared`), which must pass `check` and `release --offline` as it is,
//! list the chart's images and offer its optional parts as bool items. The charts are then
//! rendered with the real Helm engine (`tests/tools/`) with the values the starter produces.

use std::fs;

use helmkots_e2e::{files_under, path_with_tools, python_tool, shared_dir, testdir, TestDir};

/// A temp dir with the example's chart and `manifests/`, but no release.toml.
fn vendor_dir(dir: &TestDir) {
    dir.copy_example();
    dir.remove("release.toml");
}

/// `init --chart CHART` in `dir`, writing `dir/release.toml`.
fn init(dir: &TestDir, chart: &str, extra: &[&str]) -> helmkots_e2e::TestOutput {
    helmkots_e2e::require_helm();
    // With helm on PATH, init renders each component to propose only those that matter.
    dir.xtask("init").args(["--chart", chart]).args(extra).env("PATH", path_with_tools()).run()
}

/// The values paths of the items init proposes (the rest are comments in the file).
fn proposed(json: &serde_json::Value) -> Vec<String> {
    json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|item| item["proposed"] == true)
        .map(|item| item["value"].as_str().unwrap().to_string())
        .collect()
}

/// The `value` and `default` of every item of `type` in the starter (from `init --json`).
fn items_of(json: &serde_json::Value, item_type: &str) -> Vec<(String, Option<String>)> {
    json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|item| item["type"] == item_type)
        .map(|item| {
            (item["value"].as_str().unwrap().to_string(), item["default"].as_str().map(str::to_string))
        })
        .collect()
}

/// Every image `images --json` finds, familiar form, must be named in the starter's comments.
fn assert_images_listed(dir: &TestDir) {
    let text = dir.read("release.toml");
    let images = dir.xtask("images").arg("--json").run().assert_success().json();
    let images = images["images"].as_array().expect("images");
    assert!(!images.is_empty(), "no images discovered");
    for image in images {
        let familiar = familiar(image["reference"].as_str().expect("reference"));
        let listed =
            text.lines().any(|line| line.starts_with('#') && line.split_whitespace().any(|w| w == familiar));
        assert!(listed, "image {familiar} is not listed in the starter release.toml:\n{text}");
    }
}

/// `docker.io/library/busybox:1.36.1` → `busybox:1.36.1`, as `images` and the starter print.
fn familiar(reference: &str) -> String {
    let short = reference.strip_prefix("docker.io/").unwrap_or(reference);
    short.strip_prefix("library/").unwrap_or(short).to_string()
}

/// Renders the chart with the real Helm engine and the values KOTS would resolve for the
/// default configuration (`preview --json`), as the Job would install it.
fn assert_renders_with_default_values(dir: &TestDir, chart: &str) {
    let preview = dir.xtask("preview").arg("--json").run().assert_success().json();
    let values = dir.write("kots-values.yaml", preview["values"].as_str().expect("values"));
    let output =
        python_tool(["render".as_ref(), dir.join(chart).as_os_str(), "-f".as_ref(), values.as_os_str()]);
    assert!(output.status.success(), "helm template failed:\n{}\n{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("kind: Deployment"), "no Deployment rendered:\n{}", output.stdout);
}

#[test]
fn init_on_the_example_chart_passes_check_release_and_the_proof() {
    let dir = testdir!();
    vendor_dir(&dir);
    let dry_run = init(&dir, "charts/demo-app", &["--json"]).assert_success().json();
    assert!(!dir.join("release.toml").exists(), "--json is a dry run and must not write");
    assert_eq!(dry_run["written"], false);
    assert_eq!(dry_run["slug"], "demo-app");
    assert_eq!(dry_run["chart"]["path"], "charts/demo-app");

    let written = init(&dir, "charts/demo-app", &[]);
    written.assert_success().assert_stderr_contains("wrote");
    // The next steps name the file init wrote (here not the repository's own release.toml).
    written.assert_stderr_contains(&format!("cargo xtask check -f {}", dir.join("release.toml").display()));
    assert_eq!(
        dir.read("release.toml"),
        dry_run["text"].as_str().unwrap(),
        "--json shows exactly what init writes"
    );

    let bools = items_of(&dry_run, "bool");
    for (path, default) in [
        ("cache.enabled", "1"),
        ("ingress.enabled", "0"),
        ("metricsExporter.enabled", "0"),
        ("migrations.enabled", "1"),
        ("persistence.enabled", "0"),
    ] {
        assert!(
            bools.contains(&(path.to_string(), Some(default.to_string()))),
            "no bool item {path}: {bools:?}"
        );
    }
    assert!(items_of(&dry_run, "text").contains(&("persistence.size".to_string(), Some("1Gi".to_string()))));
    assert_images_listed(&dir);

    dir.xtask("check").run().assert_success().assert_stderr_contains("is valid");
    // With `helm` on PATH, `release` runs the airgap proof over every configuration.
    let output = dir.xtask("release").arg("--offline").env("PATH", path_with_tools()).run();
    output.assert_success().assert_stderr_contains("airgap proof").assert_stderr_contains("✓ wrote");
    assert!(!output.stderr.contains("FAIL"), "the proof failed:\n{}", output.stderr);
    let files = files_under(dir.join("dist/demo-app-1.4.2"));
    assert!(files.contains(&"manifests/kots-config.yaml".to_string()), "{files:#?}");
    let config = dir.read("dist/demo-app-1.4.2/manifests/kots-config.yaml");
    // Proposed: the components that change images or workloads; the rest are comments.
    let proposed = proposed(&dry_run);
    for path in ["cache.enabled", "metricsExporter.enabled"] {
        assert!(proposed.contains(&path.to_string()), "{path} is not proposed: {proposed:?}");
    }
    for path in ["ingress.enabled", "persistence.enabled", "persistence.size"] {
        assert!(!proposed.contains(&path.to_string()), "{path} changes no image or workload: {proposed:?}");
    }
    for item in ["enable_cache", "enable_metrics_exporter"] {
        assert!(config.contains(item), "{item} not in kots-config.yaml:\n{config}");
    }
    assert!(!config.contains("persistence_size"), "a commented suggestion is not an item:\n{config}");
    assert!(dir.read("release.toml").contains("# { name = \"persistence_size\""), "offered as a comment");
    let validate = python_tool([
        "k8s-validate".as_ref(),
        dir.join("dist/demo-app-1.4.2/manifests/helm-values.yaml").as_os_str(),
        dir.join("dist/demo-app-1.4.2/manifests/helm-cli-job.yaml").as_os_str(),
    ]);
    assert!(validate.status.success(), "kubernetes-validate:\n{}\n{}", validate.stdout, validate.stderr);
    assert_renders_with_default_values(&dir, "charts/demo-app");
}

#[test]
fn init_on_grafana_passes_check_and_release() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: ../shared is absent (it holds fixtures/charts/grafana-6.1.16.tgz)");
        return;
    };
    let dir = testdir!();
    fs::create_dir_all(dir.join("charts")).unwrap();
    fs::copy(shared.join("fixtures/charts/grafana-6.1.16.tgz"), dir.join("charts/grafana-6.1.16.tgz"))
        .unwrap();
    let dry_run = init(&dir, "charts/grafana-6.1.16.tgz", &["--json"]).assert_success().json();
    init(&dir, "charts/grafana-6.1.16.tgz", &[]).assert_success();
    let text = dir.read("release.toml");
    assert!(text.contains("slug = \"grafana\""), "{text}");
    assert!(text.contains("path = \"charts/grafana-6.1.16.tgz\""), "{text}");

    let bools: Vec<String> = items_of(&dry_run, "bool").into_iter().map(|(path, _)| path).collect();
    for path in [
        "persistence.enabled",
        "sidecar.dashboards.enabled",
        "imageRenderer.enabled",
        "testFramework.enabled",
    ] {
        assert!(bools.contains(&path.to_string()), "no bool item for {path}: {bools:?}");
    }
    assert!(items_of(&dry_run, "text").contains(&("adminUser".to_string(), Some("admin".to_string()))));
    let passwords = items_of(&dry_run, "password");
    assert_eq!(passwords, vec![("adminPassword".to_string(), None)], "passwords have no default");
    for reference in
        ["grafana/grafana:7.3.5", "kiwigrid/k8s-sidecar:1.1.0", "bats/bats:v1.1.0", "busybox:1.31.1"]
    {
        assert!(text.contains(reference), "{reference} is not listed:\n{text}");
    }
    assert_images_listed(&dir);

    // At most eight proposals, each one a part that changes images or workloads.
    let proposed = proposed(&dry_run);
    assert!(!proposed.is_empty() && proposed.len() <= 8, "{proposed:?}");
    for path in ["sidecar.dashboards.enabled", "imageRenderer.enabled"] {
        assert!(proposed.contains(&path.to_string()), "{path} is not proposed: {proposed:?}");
    }
    assert!(!proposed.contains(&"adminPassword".to_string()), "a password changes no image: {proposed:?}");
    assert!(text.contains("# { name = \"admin_password\""), "offered as a comment:\n{text}");

    dir.xtask("check").run().assert_success();
    let output = dir.xtask("release").arg("--offline").env("PATH", path_with_tools()).run();
    output.assert_success().assert_stderr_contains("airgap proof passed").assert_stderr_contains("wrote");
    let config = dir.read("dist/grafana-6.1.16/manifests/kots-config.yaml");
    assert!(!config.contains("type: password"), "commented suggestions are not items:\n{config}");
    assert_renders_with_default_values(&dir, "charts/grafana-6.1.16.tgz");
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = testdir!();
    dir.copy_example();
    let before = dir.read("release.toml");
    init(&dir, "charts/demo-app", &[])
        .assert_code(2)
        .assert_stderr_contains("already exists")
        .assert_stderr_contains("--force");
    assert_eq!(dir.read("release.toml"), before, "a refused init must not touch the file");
    init(&dir, "charts/demo-app", &["--force"]).assert_success();
    assert_ne!(dir.read("release.toml"), before);
    dir.xtask("check").run().assert_success();
}

#[test]
fn init_with_a_bad_slug_or_chart_is_bad_input() {
    let dir = testdir!();
    vendor_dir(&dir);
    init(&dir, "charts/demo-app", &["--slug", "Not A Slug"])
        .assert_code(2)
        .assert_stderr_contains("DNS-1123");
    init(&dir, "charts/no-such-chart", &[]).assert_code(2);
    assert!(!dir.join("release.toml").exists());
    init(&dir, "charts/demo-app", &["--slug", "my-app"]).assert_success();
    dir.xtask("check").run().assert_success().assert_stderr_contains("my-app-1.4.2");
}

/// A small chart with secrets and no optional component: passwords get no default (and are
/// required when the chart's default would otherwise be lost), a one-host list becomes a text
/// item at `[0]`, references to Secrets are left alone, and the release still builds.
#[test]
fn init_on_a_chart_with_secrets_and_no_components() {
    let dir = testdir!();
    dir.write(
        "charts/tiny/Chart.yaml",
        "apiVersion: v2\nname: Tiny_Chart\nversion: 0.1.0\nappVersion: \"1.0\"\n",
    );
    dir.write(
        "charts/tiny/values.yaml",
        "image: \"nginx:1.25\"\nauth:\n  password: \"changeme\"\n  existingSecret: \"\"\n  passwordKey: password\n  apiKey: \"\"\ningress:\n  hosts:\n    - tiny.local\n",
    );
    dir.write(
        "charts/tiny/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  selector:\n    matchLabels: {app: tiny}\n  template:\n    metadata:\n      labels: {app: tiny}\n    spec:\n      containers:\n        - name: web\n          image: {{ .Values.image }}\n          env:\n            - name: PASSWORD\n              value: {{ .Values.auth.password | quote }}\n            - name: TOKEN\n              value: {{ .Values.adminToken | default \"x\" | quote }}\n",
    );
    let json = init(&dir, "charts/tiny", &["--json"]).assert_success().json();
    assert_eq!(json["slug"], "tiny-chart");
    assert_eq!(items_of(&json, "bool"), vec![], "no `enabled` flag, no bool item");
    assert_eq!(
        items_of(&json, "text"),
        vec![("ingress.hosts[0]".to_string(), Some("tiny.local".to_string()))]
    );
    let passwords: Vec<String> = items_of(&json, "password")
        .into_iter()
        .map(|(path, default)| {
            assert_eq!(default, None, "{path} has a default");
            path
        })
        .collect();
    assert_eq!(passwords, ["auth.apiKey", "auth.password", "adminToken"]);
    let required: Vec<&str> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["required"] == true)
        .map(|item| item["value"].as_str().unwrap())
        .collect();
    assert_eq!(required, ["auth.password"], "only a password whose chart default is not empty is required");

    init(&dir, "charts/tiny", &[]).assert_success();
    dir.xtask("check").run().assert_success();
    let output = dir.xtask("release").arg("--offline").env("PATH", path_with_tools()).run();
    output.assert_success().assert_stderr_contains("airgap proof");
    assert!(!output.stderr.contains("FAIL"), "{}", output.stderr);
    // No component changes an image: nothing is proposed, every suggestion is a comment, so
    // an empty password can never wipe the chart's `changeme`.
    assert_eq!(proposed(&json), Vec::<String>::new());
    assert!(dir.read("release.toml").contains("# { name = \"auth_password\""));
    let values = dir.read("dist/tiny-chart-0.1.0/manifests/helm-values.yaml");
    assert!(values.contains("kind: ConfigMap"), "no password item, no Secret:\n{values}");
}

/// A chart that does not render without a secret: init proposes that password with a default
/// KOTS generates for each install (`RandomString`), and the release proves.
#[test]
fn init_generates_a_secret_the_chart_needs_to_render() {
    let dir = testdir!();
    dir.write(
        "charts/needy/Chart.yaml",
        "apiVersion: v2\nname: needy\nversion: 0.1.0\nappVersion: \"1.0\"\n",
    );
    dir.write(
        "charts/needy/values.yaml",
        "image: \"nginx:1.25\"\nadminPassword: \"\"\nsmtpPassword: \"\"\nworker:\n  enabled: false\n  image: \"busybox:1.36\"\n",
    );
    dir.write(
        "charts/needy/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  selector:\n    matchLabels: {app: needy}\n  template:\n    metadata:\n      labels: {app: needy}\n    spec:\n      containers:\n        - name: web\n          image: {{ .Values.image }}\n          env:\n            - name: ADMIN_PASSWORD\n              value: {{ required \"adminPassword is required\" .Values.adminPassword | quote }}\n            - name: SMTP_PASSWORD\n              value: {{ .Values.smtpPassword | quote }}\n        {{- if .Values.worker.enabled }}\n        - name: worker\n          image: {{ .Values.worker.image }}\n        {{- end }}\n",
    );
    let json = init(&dir, "charts/needy", &["--json"]).assert_success().json();
    let proposed = proposed(&json);
    assert_eq!(proposed, ["worker.enabled", "adminPassword"], "{json:#}");
    let admin =
        json["items"].as_array().unwrap().iter().find(|item| item["value"] == "adminPassword").unwrap();
    assert_eq!(admin["default"], "repl{{ RandomString 24 }}", "{admin:#}");
    init(&dir, "charts/needy", &[]).assert_success();
    assert!(dir.read("release.toml").contains("# { name = \"smtp_password\""), "not needed: a comment");
    let output = dir.xtask("release").arg("--offline").env("PATH", path_with_tools()).run();
    output.assert_success().assert_stderr_contains("airgap proof passed");
}
