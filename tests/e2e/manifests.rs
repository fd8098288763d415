//! The KOTS manifests `cargo xtask release --offline` writes, end to end: the real binary on
//! copies of the example release and on the grafana fixture chart, checked with real tools
//! (`tests/tools/kotscheck.py`: PyYAML, the kotskinds JSON schemas from `../shared`,
//! `kubernetes-validate`), against golden files, and for the images `xtask images` finds.
//!
//! Golden files live in `tests/golden/demo-app/`; run with `UPDATE_GOLDEN=1` to rewrite them
//! from the current output, then review the diff.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use helmkots_e2e::{
    assert_tree_intact, files_under, golden_file, kotscheck, kotscheck_checked, repo_root, shared_dir,
    testdir, TestDir,
};
use serde_json::{json, Value};

/// The tree `release --offline` writes for the example: `<slug>-<version>`.
const EXAMPLE_TREE: &str = "demo-app-1.4.2";
/// The four manifests helmkots generates (the rest of `manifests/` is passed through).
const GENERATED: [&str; 4] = ["kots-app.yaml", "kots-config.yaml", "helm-values.yaml", "helm-cli-job.yaml"];
/// The grafana chart of the shared fixtures, and the tree a release of it writes.
const GRAFANA_FIXTURE: &str = "fixtures/charts/grafana-6.1.16.tgz";
const GRAFANA_TREE: &str = "grafana-6.1.16";

// --- helpers ---------------------------------------------------------------------------------

fn example() -> TestDir {
    let dir = testdir!();
    dir.copy_example();
    dir
}

/// Runs `release --offline --out <out>` on `dir` and returns the `manifests/` folder of `tree`.
fn release_into(dir: &TestDir, out: &str, tree: &str) -> PathBuf {
    dir.xtask("release").args(["--offline", "--out", out]).run().assert_success();
    let tree = dir.join(out).join(tree);
    assert_tree_intact(&tree);
    tree.join("manifests")
}

/// `--schemas <shared>/schemas/kots/json`, or `--no-schemas` (saying so) when it is absent.
fn schema_args() -> Vec<String> {
    match shared_dir().map(|shared| shared.join("schemas/kots/json")).filter(|dir| dir.is_dir()) {
        Some(dir) => vec!["--schemas".to_string(), dir.display().to_string()],
        None => {
            eprintln!("skipping the KOTS schema check: ../shared/schemas/kots/json is absent");
            vec!["--no-schemas".to_string()]
        }
    }
}

/// Asserts that every YAML file under `manifests` parses and validates (see kotscheck.py),
/// and that exactly `expected_files` were checked.
fn assert_manifests_valid(manifests: &Path, expected_files: &[&str]) {
    let mut args = vec!["validate".to_string(), manifests.display().to_string()];
    args.extend(schema_args());
    let output = kotscheck(&args);
    assert!(
        output.status.code() == Some(0),
        "the manifests in {} do not validate (exit {:?}):\n{}\n--- stderr ---\n{}",
        manifests.display(),
        output.status.code(),
        output.stdout,
        output.stderr
    );
    let checked = kotscheck_checked(&output, manifests);
    let mut expected: Vec<String> = expected_files.iter().map(|f| f.to_string()).collect();
    expected.sort();
    assert_eq!(checked, expected, "kotscheck did not check the files expected\n{}", output.stderr);
}

/// The documents of one YAML file, as JSON (through kotscheck.py, so with PyYAML).
fn yaml_documents(file: &Path) -> Vec<Value> {
    let output = kotscheck(["json".as_ref(), file.as_os_str()]);
    output.assert_success();
    let mut all = output.json();
    let key = file.display().to_string();
    match all[&key].take() {
        Value::Array(documents) => documents,
        other => panic!("kotscheck json gave no documents for {key}: {other}"),
    }
}

/// The one document of a YAML file.
fn yaml_document(file: &Path) -> Value {
    let mut documents = yaml_documents(file);
    assert_eq!(documents.len(), 1, "{} should hold one document: {documents:#?}", file.display());
    documents.remove(0)
}

/// `{file, kind, name, key_of, values}` of the ConfigMap or Secret carrying `kots-values.yaml`.
fn kots_values(manifests: &Path) -> Value {
    let output = kotscheck(["values".as_ref(), manifests.as_os_str()]);
    output.assert_success();
    output.json()
}

/// The value at a dotted path (`a.b.c`) of a JSON document.
fn at<'a>(document: &'a Value, dotted: &str) -> &'a Value {
    dotted.split('.').fold(document, |value, key| &value[key])
}

/// A Docker reference in its normalised form, as Docker normalises it: `busybox:1` →
/// `docker.io/library/busybox:1`, `bats/bats:v1` → `docker.io/bats/bats:v1`.
fn normalized(reference: &str) -> String {
    let (first, rest) = reference.split_once('/').unwrap_or(("", reference));
    let has_domain =
        !first.is_empty() && (first.contains('.') || first.contains(':') || first == "localhost");
    match (has_domain, first) {
        (true, _) => reference.to_string(),
        (false, "") => format!("docker.io/library/{reference}"),
        (false, _) => format!("docker.io/{first}/{rest}"),
    }
}

/// `reference → [(values path, shape kind)]` of `xtask images --json`, sorted.
fn discovered(json: &Value) -> BTreeMap<String, Vec<(String, String)>> {
    let images = json["images"].as_array().unwrap_or_else(|| panic!("no `images` list: {json:#}"));
    images
        .iter()
        .map(|image| {
            let reference = image["reference"].as_str().unwrap_or_else(|| panic!("no reference: {image:#}"));
            let mut sources: Vec<(String, String)> = image["sources"]
                .as_array()
                .unwrap_or_else(|| panic!("no sources: {image:#}"))
                .iter()
                .map(|source| {
                    (
                        source["values_path"].as_str().unwrap_or("<none>").to_string(),
                        source["shape"]["kind"].as_str().unwrap_or("<none>").to_string(),
                    )
                })
                .collect();
            sources.sort();
            (normalized(reference), sources)
        })
        .collect()
}

/// A temp dir with a release.toml whose chart is the grafana fixture, or `None` (saying so)
/// when `../shared` or the fixture is absent.
fn grafana_release() -> Option<TestDir> {
    let Some(chart) = shared_dir().map(|shared| shared.join(GRAFANA_FIXTURE)).filter(|path| path.is_file())
    else {
        eprintln!("skipping: ../shared/{GRAFANA_FIXTURE} is absent");
        return None;
    };
    let dir = testdir!();
    dir.write(
        "release.toml",
        format!(
            r#"[app]
slug = "grafana"
title = "Grafana"

[chart]
path = {chart:?}
release_name = "grafana"

[helm_cli]
name = "registry.example.com/acme/grafana-helm-cli"
"#,
            chart = chart.display().to_string()
        ),
    );
    Some(dir)
}

/// The image rewrite a `{repository, tag}` value (or a name beside its tag) gets: the
/// customer's registry when there is one, else the original repository.
fn repository_rewrite(last_component: &str, online_repository: &str) -> String {
    format!(
        "{{{{repl if HasLocalRegistry }}}}{{{{repl LocalRegistryAddress }}}}/{last_component}\
         {{{{repl else }}}}{online_repository}{{{{repl end }}}}"
    )
}

// --- 1, 8: every file parses and validates ----------------------------------------------------

/// The checker itself must find what it is there to find, or the tests that use it prove
/// nothing.
#[test]
fn kotscheck_reports_broken_manifests() {
    let dir = testdir!();
    dir.write(
        "app.yaml",
        "apiVersion: kots.io/v1beta1\nkind: Application\nmetadata:\n  name: x\nspec:\n  statusInformer: []\n",
    );
    dir.write("job.yaml", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n  backofLimit: 3\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: a\n          image: x\n");
    dir.write("values.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: v\ndata:\n  kots-values.yaml: |\n    a: {{repl Namespace }}\n");
    dir.write("dup.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\nmetadata:\n  name: e\n");
    dir.write("template.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{repl Namespace }}\n");
    dir.write(
        "ok.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\ndata:\n  a: '{{repl Namespace }}'\n",
    );
    let mut args = vec!["validate".to_string(), dir.path().display().to_string()];
    args.extend(schema_args());
    let output = kotscheck(&args);
    assert_eq!(output.status.code(), Some(1), "kotscheck should fail\n{}\n{}", output.stdout, output.stderr);
    let mut expected = vec![
        ("job.yaml", "backofLimit"),
        ("values.yaml", "kots-values.yaml is not YAML"),
        ("dup.yaml", "duplicate key 'metadata'"),
        ("template.yaml", "YAML parse error"),
    ];
    if args.last().map(String::as_str) != Some("--no-schemas") {
        expected.push(("app.yaml", "'title' is a required property"));
        expected.push(("app.yaml", "'statusInformer' was unexpected"));
    }
    for (file, needle) in expected {
        assert!(
            output.stdout.lines().any(|line| line.contains(file) && line.contains(needle)),
            "kotscheck did not report {needle:?} in {file}:\n{}",
            output.stdout
        );
    }
    assert!(!output.stdout.contains("ok.yaml"), "ok.yaml is valid:\n{}", output.stdout);
}

#[test]
fn generated_manifests_parse_and_validate() {
    let dir = example();
    let manifests = release_into(&dir, "out", EXAMPLE_TREE);
    let mut expected: Vec<&str> = GENERATED.to_vec();
    let passthrough = files_under(repo_root().join("manifests"));
    expected.extend(passthrough.iter().map(String::as_str));
    assert_manifests_valid(&manifests, &expected);
    let values = kots_values(&manifests);
    assert_eq!(values["kind"], "ConfigMap", "no secret item: the values belong in a ConfigMap\n{values:#}");
    assert!(values["values"].is_object(), "kots-values.yaml is not a mapping\n{values:#}");
}

// --- 2: golden files ------------------------------------------------------------------------

#[test]
fn generated_manifests_match_golden_files() {
    let dir = example();
    let manifests = release_into(&dir, "out", EXAMPLE_TREE);
    let mut mismatches = Vec::new();
    for file in GENERATED {
        let actual = fs::read_to_string(manifests.join(file))
            .unwrap_or_else(|e| panic!("cannot read the generated {file}: {e}"));
        if let Err(expected) = golden_file(&format!("demo-app/{file}"), &actual) {
            mismatches.push(format!("{file}:\n{}", first_difference(&expected, &actual)));
        }
    }
    assert!(
        mismatches.is_empty(),
        "generated manifests differ from tests/golden/demo-app (run \
         `UPDATE_GOLDEN=1 cargo test -p helmkots-e2e manifests::` to accept, then review the diff):\n{}",
        mismatches.join("\n")
    );
}

/// The first line that differs, with two lines of context before it.
fn first_difference(expected: &str, actual: &str) -> String {
    let expected_lines: Vec<&str> = expected.split('\n').collect();
    let actual_lines: Vec<&str> = actual.split('\n').collect();
    let index = (0..expected_lines.len().max(actual_lines.len()))
        .find(|&i| expected_lines.get(i) != actual_lines.get(i))
        .unwrap_or(0);
    let mut out = String::new();
    let context_start = index.saturating_sub(2);
    for (offset, line) in expected_lines[context_start..index].iter().enumerate() {
        out.push_str(&format!("    {:>4}   {line}\n", context_start + offset + 1));
    }
    let shown = |line: Option<&&str>| line.map_or("<end of file>".to_string(), |line| format!("{line:?}"));
    out.push_str(&format!("    {:>4} - {}\n", index + 1, shown(expected_lines.get(index))));
    out.push_str(&format!("    {:>4} + {}", index + 1, shown(actual_lines.get(index))));
    out
}

// --- 3: images ----------------------------------------------------------------------------

#[test]
fn example_images_are_discovered_with_their_paths() {
    let dir = example();
    let json = dir.xtask("images").arg("--json").run().assert_success().json();
    let expected: BTreeMap<String, Vec<(String, String)>> = [
        ("ghcr.io/acme/demo-web:2.3.0", "image", "repository_tag"),
        ("docker.io/acme/demo-migrate:2.3.0", "migrations.image", "string"),
        (
            "quay.io/prometheuscommunity/json-exporter:v0.6.0",
            "metricsExporter.image",
            "registry_repository_tag",
        ),
        ("docker.io/library/busybox:1.36.1", "tests", "sibling_name_tag"),
        ("docker.io/library/redis:7.2.4-alpine", "cache.image", "repository_tag"),
    ]
    .into_iter()
    .map(|(reference, path, shape)| (reference.to_string(), vec![(path.to_string(), shape.to_string())]))
    .collect();
    assert_eq!(discovered(&json), expected, "{json:#}");
    assert_eq!(json["problems"], json!([]), "{json:#}");

    let by_reference = |wanted: &str| -> &Value {
        json["images"]
            .as_array()
            .and_then(|images| {
                images.iter().find(|image| normalized(image["reference"].as_str().unwrap_or("")) == wanted)
            })
            .unwrap_or_else(|| panic!("{wanted} is not listed: {json:#}"))
    };
    // The web image's tag is empty in values.yaml: it comes from the chart's appVersion.
    assert_eq!(
        by_reference("ghcr.io/acme/demo-web:2.3.0")["sources"][0]["tag_from_app_version"],
        true,
        "{json:#}"
    );
    assert_eq!(
        by_reference("docker.io/library/redis:7.2.4-alpine")["sources"][0]["chart"],
        "cache",
        "{json:#}"
    );
}

#[test]
fn grafana_images_are_discovered_and_rewritten() {
    let Some(dir) = grafana_release() else { return };
    // (reference as grafana's values write it, values path, the key the rewrite sets)
    let images = [
        ("grafana/grafana:7.3.5", "image", "image.repository"),
        ("bats/bats:v1.1.0", "testFramework", "testFramework.image"),
        ("curlimages/curl:7.73.0", "downloadDashboardsImage", "downloadDashboardsImage.repository"),
        ("busybox:1.31.1", "initChownData.image", "initChownData.image.repository"),
        ("kiwigrid/k8s-sidecar:1.1.0", "sidecar.image", "sidecar.image.repository"),
        ("grafana/grafana-image-renderer:latest", "imageRenderer.image", "imageRenderer.image.repository"),
    ];

    let json = dir.xtask("images").arg("--json").run().assert_success().json();
    let found: BTreeMap<String, Vec<String>> = discovered(&json)
        .into_iter()
        .map(|(reference, sources)| (reference, sources.into_iter().map(|(path, _)| path).collect()))
        .collect();
    let expected: BTreeMap<String, Vec<String>> =
        images.iter().map(|(reference, path, _)| (normalized(reference), vec![path.to_string()])).collect();
    assert_eq!(found, expected, "{json:#}");

    let manifests = release_into(&dir, "out", GRAFANA_TREE);
    assert_manifests_valid(&manifests, &GENERATED);

    let app = yaml_document(&manifests.join("kots-app.yaml"));
    let additional: Vec<&str> = app["spec"]["additionalImages"]
        .as_array()
        .unwrap_or_else(|| panic!("no additionalImages: {app:#}"))
        .iter()
        .map(|image| image.as_str().unwrap_or_else(|| panic!("not a string: {image}")))
        .collect();
    let mut additional_normalized: Vec<String> = additional.iter().map(|image| normalized(image)).collect();
    additional_normalized.sort();
    let mut expected_images: Vec<String> =
        images.iter().map(|(reference, ..)| normalized(reference)).collect();
    expected_images.sort();
    assert_eq!(additional_normalized, expected_images, "additionalImages: {additional:#?}");

    let values = kots_values(&manifests);
    for (reference, _, rewritten) in images {
        let repository =
            normalized(reference).rsplit_once(':').map(|(repo, _)| repo.to_string()).unwrap_or_default();
        let last_component = repository.rsplit('/').next().unwrap_or_default();
        assert_eq!(
            at(&values["values"], rewritten),
            &Value::String(repository_rewrite(last_component, &repository)),
            "kots-values.yaml does not rewrite `{rewritten}` for {reference}\n{:#}",
            values["values"]
        );
    }
}

// --- 4: collisions and invalid references ----------------------------------------------------

#[test]
fn colliding_images_are_refused() {
    let dir = example();
    let values_file = "charts/demo-app/values.yaml";
    let mut values = dir.read(values_file);
    values.push_str("\nextra:\n  image:\n    repository: docker.io/other/redis\n    tag: \"1\"\n");
    dir.write(values_file, values);
    let output = dir.xtask("release").args(["--offline", "--out", "out"]).run();
    output
        .assert_failure()
        .assert_stderr_contains("redis:7.2.4-alpine")
        .assert_stderr_contains("cache.image")
        .assert_stderr_contains("other/redis:1")
        .assert_stderr_contains("extra.image");
    assert!(
        files_under(dir.join("out")).is_empty(),
        "a refused release wrote {:?}",
        files_under(dir.join("out"))
    );
}

#[test]
fn invalid_image_references_are_refused() {
    for bad in ["Docker.io/ACME/x:1", "nginx:bad tag"] {
        let dir = example();
        let values_file = "charts/demo-app/values.yaml";
        let original = dir.read(values_file);
        let line = "image: \"docker.io/acme/demo-migrate:2.3.0\"";
        assert!(original.contains(line), "the example's values.yaml no longer has {line:?}");
        dir.write(values_file, original.replace(line, &format!("image: {bad:?}")));
        let output = dir.xtask("release").args(["--offline", "--out", "out"]).run();
        output.assert_failure().assert_stderr_contains("migrations.image").assert_stderr_contains(bad);
        assert!(
            files_under(dir.join("out")).is_empty(),
            "a refused release wrote {:?}",
            files_under(dir.join("out"))
        );
    }
}

// --- 5: secrets -----------------------------------------------------------------------------

#[test]
fn password_item_puts_the_values_in_a_secret() {
    let dir = example();
    let mut release = dir.read("release.toml");
    release.push_str(
        r#"
[[config.groups]]
name = "database"
title = "Database"

  [[config.groups.items]]
  name = "db_password"
  title = "Database password"
  type = "password"
  value = "database.password"
"#,
    );
    dir.write("release.toml", release);
    let manifests = release_into(&dir, "out", EXAMPLE_TREE);
    let mut expected: Vec<&str> = GENERATED.to_vec();
    let passthrough = files_under(repo_root().join("manifests"));
    expected.extend(passthrough.iter().map(String::as_str));
    assert_manifests_valid(&manifests, &expected);

    let values = kots_values(&manifests);
    assert_eq!(values["kind"], "Secret", "{values:#}");
    assert_eq!(values["key_of"], "stringData", "{values:#}");
    let password = at(&values["values"], "database.password").as_str().unwrap_or_default();
    assert!(
        password.contains("ConfigOption \"db_password\""),
        "database.password is {password:?}\n{values:#}"
    );

    let job = yaml_document(&manifests.join("helm-cli-job.yaml"));
    let volumes = &job["spec"]["template"]["spec"]["volumes"];
    assert_eq!(
        volumes,
        &json!([{"name": "helm-values", "secret": {"secretName": values["name"].clone()}}]),
        "{job:#}"
    );

    for file in files_under(&manifests) {
        for document in yaml_documents(&manifests.join(&file)) {
            if document["kind"] == "ConfigMap" {
                assert!(
                    !document.to_string().contains("db_password"),
                    "the password's template is in a ConfigMap of {file}: {document:#}"
                );
            }
        }
    }
}

// --- 6, 7: reproducibility and passthrough ---------------------------------------------------

#[test]
fn release_is_byte_identical_across_runs() {
    let first = example();
    let second = example();
    let runs = [
        (&first, release_into(&first, "out1", EXAMPLE_TREE)),
        (&first, release_into(&first, "out2", EXAMPLE_TREE)),
        (&second, release_into(&second, "out", EXAMPLE_TREE)),
    ];
    let trees: Vec<PathBuf> =
        runs.iter().map(|(_, manifests)| manifests.parent().unwrap().to_path_buf()).collect();
    let sums = fs::read(trees[0].join("SHA256SUMS")).expect("cannot read SHA256SUMS");
    let files = files_under(&trees[0]);
    for tree in &trees[1..] {
        assert_eq!(
            fs::read(tree.join("SHA256SUMS")).expect("cannot read SHA256SUMS"),
            sums,
            "{}",
            tree.display()
        );
        assert_eq!(files_under(tree), files, "{} holds other files", tree.display());
        for file in &files {
            let left = fs::read(trees[0].join(file)).expect("cannot read a release file");
            let right = fs::read(tree.join(file)).expect("cannot read a release file");
            assert!(left == right, "{file} differs between {} and {}", trees[0].display(), tree.display());
        }
    }
}

#[test]
fn passthrough_manifests_are_copied_unchanged() {
    let dir = example();
    // Bytes a YAML round trip would change: CRLF, comments, odd quoting, a KOTS template,
    // non-ASCII text and no final newline; in a subfolder.
    dir.write(
        "manifests/extra/notes.yaml",
        "# Kept as is.\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name:   \"demo-notes\"\r\ndata:\r\n  \
         namespace: '{{repl Namespace }}'\r\n  greeting: \"Grüße\"   # trailing comment\r\n  empty: ''",
    );
    let manifests = release_into(&dir, "out", EXAMPLE_TREE);
    let sources = files_under(dir.join("manifests"));
    assert!(sources.len() >= 3, "the example should have passthrough manifests: {sources:?}");
    for file in &sources {
        let source = fs::read(dir.join("manifests").join(file)).expect("cannot read a source manifest");
        let copied = fs::read(manifests.join(file))
            .unwrap_or_else(|e| panic!("manifests/{file} is not in the release: {e}"));
        assert!(source == copied, "manifests/{file} was changed on its way into the release");
    }
    let mut expected: Vec<&str> = GENERATED.to_vec();
    expected.extend(sources.iter().map(String::as_str));
    assert_manifests_valid(&manifests, &expected);
}

// --- names that look like other YAML scalars -------------------------------------------------

/// A slug or Job name is a DNS-1123 label, and `2048`, `true`, `null` or `yes` are valid
/// ones; in the manifests they must stay strings, or Kubernetes and KOTS refuse the objects
/// (`metadata.name: 2048` is a number, `name: true` a boolean).
#[test]
fn names_that_look_like_numbers_or_booleans_stay_strings() {
    let dir = example();
    let mut release = dir.read("release.toml");
    for (from, to) in
        [("slug = \"demo-app\"", "slug = \"2048\""), ("name = \"kots-helm-cli\"", "name = \"true\"")]
    {
        assert!(release.contains(from), "the example's release.toml no longer has {from:?}");
        release = release.replace(from, to);
    }
    dir.write("release.toml", release);
    let manifests = release_into(&dir, "out", "2048-1.4.2");
    let expected_names = [
        ("kots-app.yaml", "2048"),
        ("kots-config.yaml", "2048-config"),
        ("helm-values.yaml", "2048-helm-values"),
        ("helm-cli-job.yaml", "true"),
    ];
    let mut wrong = Vec::new();
    for (file, name) in expected_names {
        let document = yaml_document(&manifests.join(file));
        if document["metadata"]["name"] != json!(name) {
            wrong.push(format!(
                "{file}: metadata.name is {} instead of the string {name:?}",
                document["metadata"]["name"]
            ));
        }
        let mut label_maps = vec![("metadata.labels", &document["metadata"]["labels"])];
        label_maps
            .push(("spec.template.metadata.labels", &document["spec"]["template"]["metadata"]["labels"]));
        for (where_, labels) in label_maps {
            for (key, value) in labels.as_object().into_iter().flatten() {
                if !value.is_string() {
                    wrong.push(format!("{file}: {where_}.{key} is {value}, not a string"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "PRODUCT BUG: the kots templates write slugs and Job names unquoted (`{{{{slug}}}}`, \
         `{{{{job_name}}}}` instead of `{{{{yaml ...}}}}`), so YAML reads them as numbers, booleans \
         or null:\n{}",
        wrong.join("\n")
    );
    let mut expected: Vec<&str> = GENERATED.to_vec();
    let passthrough = files_under(repo_root().join("manifests"));
    expected.extend(passthrough.iter().map(String::as_str));
    assert_manifests_valid(&manifests, &expected);
}
