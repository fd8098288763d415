//! Rendered discovery end to end: small charts of `tests/fixtures/rendered/`, each with one
//! way a chart builds or hides an image, through the real `xtask` binary with the `helm` front
//! end of `tests/tools/` (the real Helm engine) first on PATH, so that `[images] discover`
//! (default `both`) renders the chart and `release --offline` runs the airgap proof.
//!
//! Each test writes a release.toml for its chart in a fresh temp dir, checks `images --json`,
//! and where the case says so `release --offline` (proof passes or fails, and why) and the
//! written tree: `additionalImages` of `manifests/kots-app.yaml` and the `kots-values.yaml` of
//! `manifests/helm-values.yaml`. One `#[test]` per case, so cargo runs them in parallel:
//! `cargo test -p helmkots-e2e rendered_discovery::kube_version`.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use helmkots_e2e::{
    assert_tree_intact, parse_yaml, path_with_tools, repo_root, require_helm, testdir, tools_dir, TestDir,
    TestOutput,
};
use serde_json::Value;

/// The fixture charts, relative to the repository root.
const FIXTURES: &str = "tests/fixtures/rendered";
/// The release name every release.toml uses.
const RELEASE_NAME: &str = "rel";

// --- helpers -------------------------------------------------------------------------------------

/// The folder of fixture chart `name`.
fn fixture(name: &str) -> PathBuf {
    repo_root().join(FIXTURES).join(name)
}

/// A temp dir holding a release.toml for fixture `chart` (slug = the chart's name), with
/// `chart_extra` appended to `[chart]` and `images_extra` to `[images]`.
fn release_dir(dir: TestDir, chart: &str, chart_extra: &str, images_extra: &str) -> TestDir {
    write_release(&dir, chart, chart_extra, images_extra);
    dir
}

fn write_release(dir: &TestDir, chart: &str, chart_extra: &str, images_extra: &str) {
    let path = fixture(chart);
    assert!(path.join("Chart.yaml").is_file(), "fixture {} is missing", path.display());
    dir.write(
        "release.toml",
        format!(
            r#"[app]
slug = "{chart}"
title = "{chart}"

[chart]
path = {path:?}
release_name = "{RELEASE_NAME}"
{chart_extra}

[images]
{images_extra}
"#,
            path = path.display().to_string()
        ),
    );
}

/// `xtask images --json` with helm on PATH; asserts success and that discovery rendered the
/// chart without a refused configuration.
fn images_json(dir: &TestDir) -> Value {
    require_helm();
    let output = dir.xtask("images").arg("--json").env("PATH", path_with_tools()).run();
    output.assert_success();
    let json = output.json();
    assert!(
        json["rendered"].is_object(),
        "discovery did not render the chart (`rendered` is {}), although helm is on PATH and \
         [images] discover defaults to \"both\"\n{json:#}",
        json["rendered"]
    );
    assert_eq!(
        json["rendered"]["failures"],
        Value::Array(Vec::new()),
        "Helm refused a configuration of rendered discovery\n{json:#}"
    );
    json
}

/// `xtask release --offline` (default out dir `dist`) with helm on PATH.
fn release_offline(dir: &TestDir, extra: &[&str]) -> TestOutput {
    require_helm();
    dir.xtask("release").arg("--offline").args(extra).env("PATH", path_with_tools()).run()
}

/// Asserts that `release --offline` succeeded with the airgap proof run (not skipped).
fn assert_proved(output: &TestOutput) {
    output.assert_success().assert_stderr_contains("airgap proof:").assert_stderr_contains("✓ wrote");
    assert!(!output.stderr.contains("airgap proof skipped"), "the proof did not run:\n{}", output.stderr);
    assert!(!output.stderr.contains("FAIL"), "a proof run failed:\n{}", output.stderr);
}

/// Where a release of fixture `chart` writes its tree (every fixture is version 0.1.0).
fn tree_path(dir: &TestDir, chart: &str) -> PathBuf {
    dir.join("dist").join(format!("{chart}-0.1.0"))
}

/// The written tree of a release of fixture `chart`, checked against its SHA256SUMS.
fn release_tree(dir: &TestDir, chart: &str) -> PathBuf {
    let tree = tree_path(dir, chart);
    assert_tree_intact(&tree);
    tree
}

/// `release --offline` of fixture `chart`: asserts that it succeeded with the airgap proof
/// run and passed, and that stderr holds each of `stderr_has`; returns the written tree.
fn release_proved(dir: &TestDir, chart: &str, stderr_has: &[&str]) -> PathBuf {
    let output = release_offline(dir, &[]);
    assert_proved(&output);
    for needle in stderr_has {
        output.assert_stderr_contains(needle);
    }
    release_tree(dir, chart)
}

/// Asserts that `release --offline` failed (exit 1) its airgap proof on the hard-coded
/// `image` of `template`.
fn assert_hardcoded_refused(output: &TestOutput, template: &str, image: &str) {
    output
        .assert_code(1)
        .assert_stderr_contains("the airgap proof failed")
        .assert_stderr_contains(template)
        .assert_stderr_contains(image)
        .assert_stderr_contains("hard-coded");
}

/// The references of `json[key]` (`images` or `test_only`).
fn references(json: &Value, key: &str) -> Vec<String> {
    json[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` is not an array\n{json:#}"))
        .iter()
        .map(|image| image["reference"].as_str().expect("reference is a string").to_string())
        .collect()
}

/// The entry of `json[key]` whose reference is `reference`.
fn entry<'a>(json: &'a Value, key: &str, reference: &str) -> &'a Value {
    json[key]
        .as_array()
        .into_iter()
        .flatten()
        .find(|image| image["reference"] == reference)
        .unwrap_or_else(|| panic!("`{reference}` is not in `{key}`: {:?}\n{json:#}", references(json, key)))
}

/// The only source of an image entry.
fn only_source(image: &Value) -> &Value {
    let sources = image["sources"].as_array().expect("sources is an array");
    assert_eq!(sources.len(), 1, "expected exactly one source: {image:#}");
    &sources[0]
}

/// A reference as Docker normalises it (enough for these fixtures: `docker.io`, `library/`).
fn normalise(reference: &str) -> String {
    let first = reference.split('/').next().unwrap_or_default();
    let has_domain =
        reference.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    match (has_domain, reference.contains('/')) {
        (true, _) => reference.to_string(),
        (false, true) => format!("docker.io/{reference}"),
        (false, false) => format!("docker.io/library/{reference}"),
    }
}

/// The tree's `manifests/<file>`, parsed, and its text.
fn manifest(tree: &Path, file: &str) -> (Value, String) {
    let path = tree.join("manifests").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (parse_yaml(&text, file), text)
}

/// `spec.additionalImages` of the tree's `manifests/kots-app.yaml`, normalised and sorted.
fn additional_images(tree: &Path) -> Vec<String> {
    let (app, text) = manifest(tree, "kots-app.yaml");
    let mut images: Vec<String> = app["spec"]["additionalImages"]
        .as_array()
        .unwrap_or_else(|| panic!("kots-app.yaml has no spec.additionalImages:\n{text}"))
        .iter()
        .map(|image| normalise(image.as_str().expect("additionalImages holds strings")))
        .collect();
    images.sort();
    images
}

/// The `kots-values.yaml` of the tree's `manifests/helm-values.yaml` (its KOTS templates
/// unresolved, as quoted strings), and its text.
fn kots_values(tree: &Path) -> (Value, String) {
    let (manifest, text) = manifest(tree, "helm-values.yaml");
    let values = manifest["data"]["kots-values.yaml"]
        .as_str()
        .or_else(|| manifest["stringData"]["kots-values.yaml"].as_str())
        .unwrap_or_else(|| panic!("helm-values.yaml holds no kots-values.yaml:\n{text}"))
        .to_string();
    (parse_yaml(&values, "kots-values.yaml"), values)
}

/// `value[a][b]...` for a dotted path.
fn at<'a>(value: &'a Value, dotted: &str) -> &'a Value {
    dotted.split('.').fold(value, |value, key| &value[key])
}

/// The `error: [...]` lines of a failed proof, each with its reason line.
fn proof_errors(stderr: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let mut lines = stderr.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("error: [") {
            let reason = lines.next_if(|next| next.starts_with("  ")).unwrap_or_default();
            errors.push(format!("{line}\n{reason}"));
        }
    }
    errors
}

/// The one image (and its one source) a single-image fixture lists; nothing test-only.
fn single_image(json: &Value, reference: &str) -> Value {
    assert_eq!(references(json, "images"), vec![reference.to_string()], "{json:#}");
    assert_eq!(references(json, "test_only"), Vec::<String>::new(), "{json:#}");
    entry(json, "images", reference).clone()
}

fn assert_found_by_rendering(image: &Value) {
    let found_by = image["found_by"].as_str().unwrap_or_default();
    assert!(
        found_by == "rendered" || found_by == "both",
        "the image should be found by the renders (rendered or both), not {found_by:?}: {image:#}"
    );
}

/// Asserts that the renders found `image`, through one source: `values_path`, of shape `kind`.
fn assert_rendered_source(image: &Value, values_path: &str, kind: &str) {
    assert_found_by_rendering(image);
    let source = only_source(image);
    assert_eq!(source["values_path"], values_path, "{image:#}");
    assert_eq!(source["shape"]["kind"], kind, "{image:#}");
}

/// The one tag pin of `json`, which pins `values_path`.
fn only_tag_pin<'a>(json: &'a Value, values_path: &str) -> &'a Value {
    let pins = json["tag_pins"].as_array().expect("tag_pins is an array");
    assert_eq!(pins.len(), 1, "{json:#}");
    assert_eq!(pins[0]["values_path"], values_path, "{json:#}");
    &pins[0]
}

// --- 1. a suffix appended to the tag -----------------------------------------------------------

#[test]
fn tag_suffix_lists_the_rendered_tag_and_proves() {
    let dir = release_dir(testdir!(), "tag-suffix", "", "");
    let json = images_json(&dir);
    // Only the rendered reference: `...:1.0` (the values' own) does not exist upstream.
    let image = single_image(&json, "ghcr.io/acme/suffixed:1.0-distroless");
    assert_rendered_source(&image, "image", "repository_tag");
    assert_eq!(json["problems"], Value::Array(Vec::new()), "{json:#}");

    let tree = release_proved(&dir, "tag-suffix", &[]);
    assert_eq!(additional_images(&tree), vec!["ghcr.io/acme/suffixed:1.0-distroless".to_string()]);
    let (values, text) = kots_values(&tree);
    // The repository is rewritten; the tag (which the template suffixes) is left alone.
    assert!(at(&values, "image.repository").as_str().is_some_and(|r| r.contains("LocalRegistry")), "{text}");
    assert!(!text.contains("distroless"), "the suffix must not be written into the values:\n{text}");
}

// --- 2. an empty tag that becomes v<appVersion> ----------------------------------------------------

#[test]
fn v_prefix_app_version_tag_is_listed_and_proves() {
    let dir = release_dir(testdir!(), "v-prefix", "", "");
    let json = images_json(&dir);
    let image = single_image(&json, "ghcr.io/acme/vprefixed:v2.3.4");
    assert_rendered_source(&image, "image", "repository_tag");
    assert_eq!(json["problems"], Value::Array(Vec::new()), "{json:#}");

    let tree = release_proved(&dir, "v-prefix", &[]);
    assert_eq!(additional_images(&tree), vec!["ghcr.io/acme/vprefixed:v2.3.4".to_string()]);
}

// --- 3. global.imageRegistry over the image's registry -----------------------------------------------

#[test]
fn global_registry_default_is_found_and_proves() {
    // Two Kubernetes versions: nothing here follows the cluster, so nothing is pinned.
    let dir = release_dir(testdir!(), "global-registry", r#"kube_versions = ["1.30", "1.36"]"#, "");
    let json = images_json(&dir);
    let image = single_image(&json, "quay.io/acme/globreg:3.1");
    assert_rendered_source(&image, "image", "registry_repository_tag");
    assert_eq!(json["tag_pins"], Value::Array(Vec::new()), "{json:#}");
    assert_eq!(json["problems"], Value::Array(Vec::new()), "{json:#}");

    let tree = release_proved(&dir, "global-registry", &["kube 1.30", "kube 1.36"]);
    assert_eq!(additional_images(&tree), vec!["quay.io/acme/globreg:3.1".to_string()]);
}

// --- 4. a parent's values over its subchart's ----------------------------------------------------

#[test]
fn parent_overrides_subchart_repository() {
    let dir = release_dir(testdir!(), "parent-overrides-subchart", "", "");
    let json = images_json(&dir);
    let image = single_image(&json, "docker.io/b/two:1.0");
    assert_rendered_source(&image, "sub.image", "repository_tag");
    assert!(
        !json.to_string().contains("a/one"),
        "the subchart's own default a/one is never deployed:\n{json:#}"
    );

    let tree = release_proved(&dir, "parent-overrides-subchart", &[]);
    assert_eq!(additional_images(&tree), vec!["docker.io/b/two:1.0".to_string()]);
}

// --- 5. images only in objects an operator reads -------------------------------------------------

#[test]
fn operator_images_outside_pod_specs_are_listed() {
    let dir = release_dir(testdir!(), "configmap-operator", "", "");
    let json = images_json(&dir);
    assert_eq!(
        references(&json, "images"),
        ["ghcr.io/acme/operator:0.9.0", "ghcr.io/acme/sidecar:1.4.0", "ghcr.io/acme/worker:2.0.0"],
        "{json:#}"
    );
    for (reference, path) in [
        ("ghcr.io/acme/sidecar:1.4.0", "operator.sidecarImage"),
        ("ghcr.io/acme/worker:2.0.0", "operator.workerImage"),
    ] {
        assert_rendered_source(entry(&json, "images", reference), path, "string");
    }

    let tree = release_proved(&dir, "configmap-operator", &[]);
    assert_eq!(
        additional_images(&tree),
        ["ghcr.io/acme/operator:0.9.0", "ghcr.io/acme/sidecar:1.4.0", "ghcr.io/acme/worker:2.0.0"]
    );
}

// --- 6. a hard-coded image in a Deployment -------------------------------------------------------

#[test]
fn hardcoded_deployed_image_is_listed_and_fails_the_proof() {
    let dir = release_dir(testdir!(), "hardcoded-deployed", "", "");
    let json = images_json(&dir);
    assert_eq!(
        references(&json, "images"),
        ["docker.io/library/busybox:1.36", "ghcr.io/acme/hc-app:1.0.0"],
        "{json:#}"
    );
    let busybox = entry(&json, "images", "docker.io/library/busybox:1.36");
    assert_eq!(busybox["found_by"], "rendered", "{busybox:#}");
    let source = only_source(busybox);
    assert_eq!(source["values_path"], Value::Null, "{busybox:#}");
    assert_eq!(source["shape"]["kind"], "rendered", "{busybox:#}");
    assert!(
        source["shape"]["place"].as_str().is_some_and(|place| place.contains("templates/deployment.yaml")),
        "the place names the template: {busybox:#}"
    );

    let output = release_offline(&dir, &[]);
    assert_hardcoded_refused(&output, "hardcoded-deployed/templates/deployment.yaml", "busybox:1.36");
    let errors = proof_errors(&output.stderr);
    assert!(!errors.is_empty(), "no error lines:\n{}", output.stderr);
    for error in &errors {
        assert!(
            error.contains("busybox:1.36") && error.contains("hard-coded") && !error.contains("hc-app"),
            "every failure is the hard-coded busybox, never the values' image:\n{error}"
        );
    }
    assert!(!tree_path(&dir, "hardcoded-deployed").exists(), "a failed proof writes nothing");
}

// --- 7. a hard-coded image in a helm test pod ------------------------------------------------------

#[test]
fn hardcoded_test_hook_image_is_test_only_unless_shipped() {
    const BATS: &str = "docker.io/bats/bats:1.10";
    let dir = release_dir(testdir!(), "hardcoded-test-hook", "", "");
    let json = images_json(&dir);
    assert_eq!(references(&json, "images"), ["ghcr.io/acme/th-app:1.0.0"], "{json:#}");
    assert_eq!(references(&json, "test_only"), [BATS], "{json:#}");
    let source = only_source(entry(&json, "test_only", BATS));
    assert_eq!(source["shape"]["kind"], "rendered", "{json:#}");
    assert_eq!(source["values_path"], Value::Null, "{json:#}");

    let tree = release_proved(&dir, "hardcoded-test-hook", &["bats/bats:1.10", "ship_test_images"]);
    assert_eq!(additional_images(&tree), ["ghcr.io/acme/th-app:1.0.0"], "a test-only image is not bundled");

    // Shipped: bundled, but hard-coded, so the airgap runs cannot rewrite it.
    write_release(&dir, "hardcoded-test-hook", "", "ship_test_images = true");
    dir.remove("dist");
    let json = images_json(&dir);
    assert_eq!(references(&json, "images"), [BATS, "ghcr.io/acme/th-app:1.0.0"], "{json:#}");
    assert_eq!(references(&json, "test_only"), Vec::<String>::new(), "{json:#}");

    let output = release_offline(&dir, &[]);
    assert_hardcoded_refused(
        &output,
        "hardcoded-test-hook/templates/tests/test-connection.yaml",
        "bats/bats:1.10",
    );
    for error in proof_errors(&output.stderr) {
        assert!(error.contains("Pod/rel-test-connection") && error.contains("bats/bats:1.10"), "{error}");
        assert!(error.contains("[airgap "), "online the image is as discovered, only airgap fails:\n{error}");
    }
    assert!(!tree_path(&dir, "hardcoded-test-hook").exists(), "a failed proof writes nothing");

    let output = release_offline(&dir, &["--no-proof"]);
    output.assert_success();
    let tree = release_tree(&dir, "hardcoded-test-hook");
    assert_eq!(
        additional_images(&tree),
        [BATS, "ghcr.io/acme/th-app:1.0.0"],
        "a shipped test image is bundled"
    );
}

// --- 8. a tag that follows the cluster's Kubernetes version ---------------------------------------

#[test]
fn kube_version_tag_is_pinned_to_the_newest_version() {
    // The default Kubernetes version (Helm 4's, 1.36.0).
    let dir = release_dir(testdir!(), "kube-version-tag", "", "");
    let json = images_json(&dir);
    only_tag_pin(&json, "kubectl.image.tag");

    // Two declared versions: the newest one's tag is pinned, and only that image is pulled.
    write_release(&dir, "kube-version-tag", r#"kube_versions = ["1.30.2", "1.33.1"]"#, "");
    let json = images_json(&dir);
    let pin = only_tag_pin(&json, "kubectl.image.tag");
    assert_eq!(pin["tag"], "v1.33.1", "{json:#}");
    assert_eq!(pin["image"], "registry.k8s.io/kubectl:v1.33.1", "{json:#}");
    let image = entry(&json, "images", "registry.k8s.io/kubectl:v1.33.1");
    assert_found_by_rendering(image);
    assert_eq!(only_source(image)["values_path"], "kubectl.image", "{image:#}");
    assert_eq!(
        references(&json, "images"),
        ["registry.k8s.io/kubectl:v1.33.1"],
        "with `kubectl.image.tag` pinned to v1.33.1 no install pulls another kubectl tag, so none is bundled\n{json:#}"
    );

    let tree = release_proved(&dir, "kube-version-tag", &["kube 1.30.2", "kube 1.33.1"]);
    let (values, text) = kots_values(&tree);
    assert_eq!(at(&values, "kubectl.image.tag"), "v1.33.1", "helm-values.yaml pins the tag:\n{text}");
    assert_eq!(
        additional_images(&tree),
        ["registry.k8s.io/kubectl:v1.33.1"],
        "additionalImages holds the pinned kubectl only"
    );
}

// --- 9. pull secrets in four shapes --------------------------------------------------------------

#[test]
fn pull_secrets_in_every_shape_get_the_kots_secret() {
    let dir = release_dir(testdir!(), "pull-secrets", "", "");
    let json = images_json(&dir);
    assert_eq!(
        references(&json, "images"),
        [
            "ghcr.io/acme/ps-agent:1.0.0",
            "ghcr.io/acme/ps-app:1.0.0",
            "ghcr.io/acme/ps-cache:1.0.0",
            "ghcr.io/acme/ps-worker:1.0.0"
        ],
        "{json:#}"
    );
    let paths: Vec<&str> = json["pull_secret_paths"]
        .as_array()
        .expect("pull_secret_paths is an array")
        .iter()
        .map(|path| path["values_path"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        paths,
        ["cache.image.pullSecrets", "global.imagePullSecrets", "imagePullSecrets", "worker.imagePullSecrets"],
        "{json:#}"
    );

    // The proof checks that every pod pulls with the `pull-secrets-registry` secret, and Helm
    // checks the lists against values.schema.json.
    let tree = release_proved(&dir, "pull-secrets", &[]);
    let (values, text) = kots_values(&tree);
    let secret = "{{repl ImagePullSecretName }}";
    assert_eq!(at(&values, "imagePullSecrets"), &serde_json::json!([{ "name": secret }]), "{text}");
    for names in ["global.imagePullSecrets", "cache.image.pullSecrets", "worker.imagePullSecrets"] {
        assert_eq!(at(&values, names), &serde_json::json!([secret]), "{names} lists names:\n{text}");
    }
}

// --- 10. a Bitnami-style check that the images were not changed -------------------------------------

#[test]
fn bitnami_image_check_is_allowed_when_rewriting() {
    let dir = release_dir(testdir!(), "bitnami-check", "", "");
    // The fixture's check bites: Helm refuses a replaced repository while the flag is false.
    let refused = Command::new(tools_dir().join("helm"))
        .args(["template", RELEASE_NAME])
        .arg(fixture("bitnami-check"))
        .args(["--set", "image.repository=proof-ns/app"])
        .stdin(Stdio::null())
        .output()
        .expect("cannot run tests/tools/helm");
    assert!(
        !refused.status.success()
            && String::from_utf8_lossy(&refused.stderr).contains("Original containers have been substituted"),
        "the fixture's NOTES.txt check should refuse a replaced image: {}\n{}",
        refused.status,
        String::from_utf8_lossy(&refused.stderr)
    );

    let json = images_json(&dir);
    let image = single_image(&json, "docker.io/acme/app:1.0.0");
    assert_found_by_rendering(&image);
    assert_eq!(only_source(&image)["values_path"], "image", "{image:#}");

    let tree = release_proved(&dir, "bitnami-check", &[]);
    let (values, text) = kots_values(&tree);
    assert_eq!(at(&values, "global.security.allowInsecureImages"), &Value::Bool(true), "{text}");
}

#[test]
fn bitnami_image_check_flag_is_not_added_when_undeclared() {
    let dir = release_dir(testdir!(), "bitnami-check-undeclared", "", "");
    let json = images_json(&dir);
    single_image(&json, "docker.io/acme/plain:1.0.0");

    let tree = release_proved(&dir, "bitnami-check-undeclared", &[]);
    let (values, text) = kots_values(&tree);
    assert!(!text.contains("allowInsecureImages"), "the chart does not declare the flag:\n{text}");
    assert_eq!(values.get("global"), None, "no global key is added:\n{text}");
}

// --- 11. helmkots.lock: the same release without Helm -------------------------------------------

/// Every file of a tree, with its bytes, by relative path.
fn tree_contents(tree: &Path) -> Vec<(String, Vec<u8>)> {
    helmkots_e2e::files_under(tree)
        .into_iter()
        .map(|file| {
            let bytes = std::fs::read(tree.join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            (file, bytes)
        })
        .collect()
}

#[test]
fn the_lock_makes_the_same_tree_without_helm() {
    // A chart whose bundle and rewrites depend on renders: a test-only image, a pinned tag
    // that follows the cluster's version, and an image built in a template.
    let dir = release_dir(testdir!(), "kube-version-tag", "", "");
    let with_helm =
        dir.xtask("release").args(["--offline", "--out", "with-helm"]).env("PATH", path_with_tools()).run();
    assert_proved(&with_helm);
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("helmkots.lock")).expect("helmkots.lock"))
            .expect("helmkots.lock is JSON");
    assert!(lock["rendered"]["inputs"].as_str().is_some_and(|d| d.starts_with("sha256:")), "{lock:#}");

    let without_helm = dir
        .xtask("release")
        .args(["--offline", "--out", "without-helm"])
        .env("PATH", helmkots_e2e::path_without_helm())
        .run();
    without_helm
        .assert_success()
        .assert_stderr_contains("discovery used the renders recorded in helmkots.lock")
        .assert_stderr_contains("airgap proof skipped");
    let tree = "kube-version-tag-0.1.0";
    assert_eq!(
        tree_contents(&dir.join("without-helm").join(tree)),
        tree_contents(&dir.join("with-helm").join(tree)),
        "the tree made from helmkots.lock without helm differs from the one made with helm"
    );

    // The record matches what Helm renders now: `--locked` has nothing to refuse.
    dir.xtask("images").arg("--locked").env("PATH", path_with_tools()).run().assert_success();

    // `[images] include` does not change what Helm renders: the record still holds.
    let text = std::fs::read_to_string(dir.join("release.toml")).unwrap();
    dir.write("release.toml", text.replace("[images]", "[images]\ninclude = [\"docker.io/acme/extra:1.0\"]"));
    let from_lock = dir.xtask("images").env("PATH", helmkots_e2e::path_without_helm()).run();
    from_lock.assert_success().assert_stderr_contains("discovery used the renders recorded in helmkots.lock");

    // Values Helm gets do: the record is stale, discovery reads values only and says so.
    let text = std::fs::read_to_string(dir.join("release.toml")).unwrap();
    dir.write("release.toml", text.replace("[chart]", "[chart]\nvalues = { extra = 1 }"));
    // Values alone cannot tell the tag the chart takes from the cluster.
    let values_only = dir.xtask("images").env("PATH", helmkots_e2e::path_without_helm()).run();
    values_only
        .assert_failure()
        .assert_stderr_contains("`tag` of `")
        .assert_stderr_contains("renders were made from another chart or configuration");
    // With `--locked`, a stale record is an error, with Helm and without it, naming the fix.
    for path in [helmkots_e2e::path_without_helm(), path_with_tools()] {
        dir.xtask("images")
            .arg("--locked")
            .env("PATH", path)
            .run()
            .assert_code(2)
            .assert_stderr_contains("helmkots.lock is out of date and --locked forbids changing it")
            .assert_stderr_contains("its renders were made for other inputs")
            .assert_stderr_contains("commit helmkots.lock");
    }
    let before = std::fs::read(dir.join("helmkots.lock")).unwrap();
    dir.xtask("release")
        .args(["--offline", "--locked", "--out", "locked"])
        .env("PATH", path_with_tools())
        .run()
        .assert_code(2)
        .assert_stderr_contains("--locked forbids changing it");
    assert_eq!(std::fs::read(dir.join("helmkots.lock")).unwrap(), before, "--locked changed helmkots.lock");
    assert!(!dir.join("locked").exists(), "a --locked release that failed wrote a tree");
}

// --- 11b. renders shared by configurations with the same values -----------------------------------

#[test]
fn configurations_with_the_same_values_share_their_renders() {
    // Two toggles on one values path: four configurations, two distinct sets of values.
    let items = r#"
[[config.groups]]
name = "g"
title = "G"
[[config.groups.items]]
name = "first"
title = "First"
type = "bool"
default = "0"
value = "extra.flag"
[[config.groups.items]]
name = "second"
title = "Second"
type = "bool"
default = "0"
value = "extra.flag"
"#;
    let dir = testdir!();
    write_release(&dir, "tag-suffix", "", "");
    let text = std::fs::read_to_string(dir.join("release.toml")).unwrap();
    dir.write("release.toml", format!("{text}{items}"));
    let json = images_json(&dir);
    assert_eq!(json["rendered"]["configurations"], 4, "{json:#}");
    // Each distinct set of values: one render, one probe, one patch-level check.
    assert_eq!(json["rendered"]["renders"], 6, "renders were not shared: {json:#}");
    let human = dir.xtask("images").env("PATH", path_with_tools()).run();
    human.assert_success().assert_stderr_contains("2 rendering(s) reused");
}

// --- 12. `{registry, image, tag}` ------------------------------------------------------------------

#[test]
fn registry_and_image_map_is_rewritten_in_both_fields() {
    let dir = release_dir(testdir!(), "registry-image-map", "", "");
    let json = images_json(&dir);
    let image = single_image(&json, "quay.io/acme/controller:1.2.0");
    assert_rendered_source(&image, "controller", "registry_name_tag");
    let tree = release_proved(&dir, "registry-image-map", &[]);
    assert_eq!(additional_images(&tree), vec!["quay.io/acme/controller:1.2.0".to_string()]);
}

// --- 13. an image in a list of the chart's defaults -------------------------------------------------

#[test]
fn an_image_in_a_default_list_is_mapped_to_its_element() {
    let dir = release_dir(testdir!(), "list-image", "", "");
    let json = images_json(&dir);
    let image = entry(&json, "images", "ghcr.io/acme/sidecar:2.0.0").clone();
    // Probed in a copy of the list: mapped to the element, not reported as hard-coded.
    assert_rendered_source(&image, "extraContainers[0].image", "string");
    release_proved(&dir, "list-image", &[]);
}
