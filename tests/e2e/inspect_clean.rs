//! `cargo xtask inspect` (what a release tree or a bundle holds) and `cargo xtask clean` (the
//! store and the render cache, and what removing them frees), against real releases.

use helmkots_e2e::{
    path_without_helm,
    registry::{SeededImage, TestRegistry},
    testdir, TestDir, TestOutput,
};
use serde_json::Value;

/// A release whose one image lives on `registry`, with a one-item Config screen and a
/// helm-cli image based on and pushed to the same registry. Returns the image.
fn online_release_with_config(dir: &TestDir, registry: &TestRegistry) -> SeededImage {
    let base = registry.seed_busybox("base/busybox:1");
    let seeded = registry.seed_multi_platform("apps/web:2");
    let image = &seeded.reference;
    let host = registry.host();
    dir.write("chart/Chart.yaml", "apiVersion: v2\nname: inspected\nversion: 0.2.0\n");
    dir.write("chart/values.yaml", format!("image: \"{image}\"\ntls: false\n"));
    dir.write(
        "chart/templates/pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n      image: {{ .Values.image | quote }}\n",
    );
    dir.write(
        "release.toml",
        format!(
            "[app]\nslug = \"inspected\"\ntitle = \"Inspected\"\n\n[chart]\npath = \"chart\"\nrelease_name = \"inspected\"\n\n\
             [helm_cli]\nbase = \"{}\"\nname = \"{host}/acme/helm-cli\"\n\n[images]\ndiscover = \"values\"\n\
             platforms = [\"linux/amd64\", \"linux/arm64/v8\"]\n\n\
             [airgap]\nchannel_id = \"chan-1\"\nchannel_name = \"Stable\"\nupdate_cursor = 7\n\n\
             [[config.groups]]\nname = \"security\"\ntitle = \"Security\"\n\n\
             [[config.groups.items]]\nname = \"tls\"\ntitle = \"TLS\"\ntype = \"bool\"\ndefault = \"0\"\nvalue = \"tls\"\n",
            base.reference
        ),
    );
    std::fs::create_dir_all(dir.join("docker-config")).expect("cannot create docker-config");
    seeded
}

fn run_online(dir: &TestDir, task: &str, args: &[&str]) -> TestOutput {
    dir.xtask(task)
        .args(args)
        .env("DOCKER_CONFIG", dir.join("docker-config"))
        .env("PATH", path_without_helm())
        .run()
}

#[test]
fn inspect_shows_a_tree_and_its_bundle_with_digests_sizes_config_and_record() {
    let dir = testdir!();
    let registry = TestRegistry::start();
    let seeded = online_release_with_config(&dir, &registry);
    let image = seeded.reference.clone();
    run_online(&dir, "release", &["--no-proof"]).assert_success();
    let tree = dir.join("dist/inspected-0.2.0");
    let bundle = tree.join("inspected-0.2.0.airgap");

    let inspected = dir.xtask("inspect").arg(&tree).arg("--json").run().assert_success().json();
    assert_eq!(inspected["kind"], "tree");
    let record: Value = serde_json::from_str(&dir.read("dist/inspected-0.2.0/release.lock.json")).unwrap();
    assert_eq!(inspected["record"], record, "the build record as written");
    assert_eq!(inspected["bundle"]["app_slug"], "inspected");
    assert_eq!(inspected["bundle"]["channel_id"], "chan-1");
    assert_eq!(inspected["bundle"]["update_cursor"], "7");
    assert_eq!(inspected["config"][0]["name"], "security");
    assert_eq!(inspected["config"][0]["items"][0]["name"], "tls");
    assert_eq!(inspected["config"][0]["items"][0]["type"], "bool");
    assert_eq!(inspected["problems"], Value::Array(Vec::new()));

    // Every saved image (the chart's and the helm-cli image), with the digest the bundle
    // holds and the size `images` reads off the store for the same image.
    let images = inspected["images"].as_array().expect("images");
    let saved = record["airgap"]["saved_images"].as_array().expect("saved_images");
    assert_eq!(images.len(), saved.len(), "{inspected:#}");
    let web =
        images.iter().find(|i| i["reference"] == image.as_str()).unwrap_or_else(|| panic!("{inspected:#}"));
    assert_eq!(web["digest"], seeded.digest, "{web:#}");
    let listed = run_online(&dir, "images", &["--json"]).assert_success().json();
    let size =
        listed["images"].as_array().unwrap().iter().find(|i| i["reference"] == image.as_str()).unwrap()
            ["size"]
            .clone();
    assert!(size.as_u64().is_some_and(|s| s > 0), "{listed:#}");
    assert_eq!(web["size"], size, "the bundle's blobs weigh what the store's do");

    // The bundle alone: the same images and Config screen, and no build record.
    let alone = dir.xtask("inspect").arg(&bundle).arg("--json").run().assert_success().json();
    assert_eq!(alone["kind"], "bundle");
    assert_eq!(alone["record"], Value::Null);
    assert_eq!(alone["images"], inspected["images"]);
    assert_eq!(alone["config"], inspected["config"]);

    let human = dir.xtask("inspect").arg(&tree).run().assert_success().stdout.clone();
    for needle in [
        image.as_str(),
        web["digest"].as_str().unwrap(),
        "config screen (1 group(s), 1 item(s))",
        "tls",
        "release.lock.json",
    ] {
        assert!(human.contains(needle), "no {needle:?} in:\n{human}");
    }

    // A damaged bundle is a finding of `inspect` as of `verify`.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let len = bytes.len();
    bytes.truncate(len * 9 / 10);
    std::fs::write(&bundle, bytes).unwrap();
    dir.xtask("inspect").arg(&bundle).run().assert_code(1).assert_stderr_contains("is damaged");
}

#[test]
fn inspect_and_verify_of_an_offline_tree_say_what_they_read() {
    let dir = testdir!();
    dir.copy_example();
    dir.release_offline_unproved();
    let tree = dir.join("dist/demo-app-1.4.2");
    let inspected = dir.xtask("inspect").arg(&tree).arg("--json").run().assert_success().json();
    assert_eq!(inspected["bundle"], Value::Null);
    let app =
        helmkots_e2e::parse_yaml(&dir.read("dist/demo-app-1.4.2/manifests/kots-app.yaml"), "kots-app.yaml");
    let references: Vec<&Value> =
        inspected["images"].as_array().unwrap().iter().map(|i| &i["reference"]).collect();
    assert_eq!(references, app["spec"]["additionalImages"].as_array().unwrap().iter().collect::<Vec<_>>());
    assert!(inspected["images"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["digest"].is_null() && i["size"].is_null()));
    assert_eq!(inspected["config"].as_array().map(Vec::len), Some(3), "the example's three groups");

    let listed = helmkots_e2e::parse_sha256sums(&dir.read("dist/demo-app-1.4.2/SHA256SUMS")).len();
    let verified = dir.xtask("verify").arg(&tree).run();
    verified.assert_success().assert_stderr_contains(&format!(
        "{listed} file(s) checked against SHA256SUMS, no airgap bundle (built with --offline), 0 problem(s)"
    ));
    let json = dir.xtask("verify").arg(&tree).arg("--json").run().assert_success().json();
    assert_eq!(json["files_checked"], listed);
}

fn stored_files(dir: &TestDir) -> usize {
    helmkots_e2e::files_under(dir.join("target/helmkots-store")).len()
}

#[test]
fn clean_says_what_it_frees_and_a_dry_run_removes_nothing() {
    let dir = testdir!();
    let registry = TestRegistry::start();
    online_release_with_config(&dir, &registry);
    run_online(&dir, "release", &["--no-proof"]).assert_success();
    assert!(stored_files(&dir) > 0, "the release pulled nothing into the store");
    dir.write("target/helmkots/renders/0123", "ok\n---\n");
    dir.write("target/helmkots/fingerprints/kept.json", "{}");

    let dry = dir.xtask("clean").args(["--dry-run", "--json"]).run().assert_success().json();
    assert_eq!(dry["dry_run"], true);
    let removed = dry["removed"].as_array().expect("removed");
    let store = removed.iter().find(|r| r["what"] == "image store").unwrap_or_else(|| panic!("{dry:#}"));
    assert_eq!(store["files"], stored_files(&dir));
    assert!(store["bytes"].as_u64().is_some_and(|b| b > 0), "{dry:#}");
    let cache = removed.iter().find(|r| r["what"] == "render cache").unwrap_or_else(|| panic!("{dry:#}"));
    assert_eq!((cache["files"].as_u64(), cache["bytes"].as_u64()), (Some(1), Some(7)));
    assert!(
        stored_files(&dir) > 0 && dir.join("target/helmkots/renders/0123").exists(),
        "a dry run removed files"
    );

    let output = dir.xtask("clean").run();
    output.assert_success().assert_stderr_contains(&format!("freed {} file(s)", dry["files"]));
    assert!(!dir.join("target/helmkots-store").exists() && !dir.join("target/helmkots/renders").exists());
    assert!(dir.join("target/helmkots/fingerprints/kept.json").exists(), "clean keeps the fingerprints");
    dir.xtask("clean").run().assert_success().assert_stderr_contains("freed 0 file(s), 0 B");

    // The tree still verifies, and the next release pulls again into a new store.
    dir.xtask("verify").arg(dir.join("dist/inspected-0.2.0")).run().assert_success();
    run_online(&dir, "release", &["--no-proof", "--update-cursor", "8"]).assert_success();
    assert!(stored_files(&dir) > 0);
}
