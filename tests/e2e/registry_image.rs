//! The helm-cli image against a real registry (Debian's `docker-registry`), read back with
//! real tools (`skopeo`, `umoci`): build and push through the library API, reproducibility,
//! the local OCI layout, Basic auth from a Docker `config.json`, multi-platform bases, and
//! what an unreachable registry says.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use camino::{Utf8Path, Utf8PathBuf};
use helmkots::{
    internals::input::chart::{self, PackagedChart},
    internals::input::image_ref::ImageRef,
    internals::oci::image::{
        self as oci_image, HelmCliImage, HelmCliSpec, LABEL_CHART_SHA256, LABEL_REVISION, LABEL_VERSION,
    },
    internals::oci::registry::{Platform, Registry, RegistryError, RegistryOptions},
    internals::oci::store,
    Error,
};
use helmkots_e2e::{
    base64,
    registry::{all_files, free_port, run, SeededImage, TestRegistry},
    repo_root, sha256_file,
};
use serde_json::Value;

const EPOCH: u64 = 946_684_800;
const WORKDIR: &str = "/apps";
const USER: &str = "helmkots";
const PASSWORD: &str = "pw-Zq83-never-in-output";

/// A registry client whose Docker config directory is `docker_config` (anonymous when it has
/// no `config.json`).
/// The blob store of a test's work folder (the base layers the layout and the push use).
fn store(work: &std::path::Path) -> store::BlobStore {
    store::BlobStore::open(Utf8Path::from_path(&work.join("store")).unwrap()).expect("open the store")
}

fn client(docker_config: &Path) -> Registry {
    Registry::new(RegistryOptions {
        insecure_registries: Vec::new(),
        docker_config_dir: Some(Utf8PathBuf::from_path_buf(docker_config.to_path_buf()).expect("utf-8 path")),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(30),
        stall_timeout: Duration::from_secs(30),
    })
    .expect("registry client")
}

/// The example chart, loaded from `dir` and packaged with the fixed epoch.
fn package(dir: &Path) -> (PackagedChart, String) {
    let dir = Utf8Path::from_path(dir).expect("utf-8 path");
    let chart = chart::load(dir).expect("load chart");
    let version = chart.metadata.version.to_string();
    (chart::package(&chart, EPOCH).expect("package chart"), version)
}

fn example_chart() -> (PackagedChart, String) {
    package(&repo_root().join("charts").join("demo-app"))
}

fn build(
    registry: &Registry,
    base: &str,
    platform: &str,
    chart: &PackagedChart,
    version: &str,
) -> helmkots::Result<HelmCliImage> {
    let platform = Platform::parse(platform).expect("platform");
    oci_image::build_helm_cli_image(
        registry,
        &ImageRef::parse(base).expect("base ref"),
        &spec(&platform, chart, version),
    )
}

/// The spec every build of these tests uses.
fn spec<'a>(platform: &'a Platform, chart: &'a PackagedChart, version: &'a str) -> HelmCliSpec<'a> {
    HelmCliSpec {
        workdir: WORKDIR,
        platform,
        chart,
        chart_version: version,
        revision: Some("0123456789abcdef0123456789abcdef01234567"),
        source: Some("https://example.com/acme/demo-app"),
        created: EPOCH,
    }
}

fn skopeo_json(args: &[&str]) -> Value {
    let (ok, output) = run(Command::new("skopeo").args(args));
    assert!(ok, "skopeo {args:?} failed:\n{output}");
    serde_json::from_str(&output)
        .unwrap_or_else(|error| panic!("skopeo {args:?} printed no JSON ({error}):\n{output}"))
}

/// `skopeo copy` the pushed image into an OCI layout and `umoci unpack --rootless` it; the
/// bundle's rootfs.
fn unpack_pushed(reference: &str, work: &Path, creds: Option<&str>) -> PathBuf {
    std::fs::create_dir_all(work).expect("work dir");
    let layout = work.join("pulled");
    let mut copy = Command::new("skopeo");
    copy.args(["--insecure-policy", "copy", "--quiet", "--src-tls-verify=false"]);
    if let Some(creds) = creds {
        copy.arg(format!("--src-creds={creds}"));
    }
    copy.arg(format!("docker://{reference}")).arg(format!("oci:{}:pulled", layout.display()));
    let (ok, output) = run(&mut copy);
    assert!(ok, "skopeo copy {reference} failed:\n{output}");
    unpack_layout(&layout, "pulled", &work.join("bundle-pulled"))
}

fn unpack_layout(layout: &Path, tag: &str, bundle: &Path) -> PathBuf {
    let (ok, output) = run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:{tag}", layout.display()))
        .arg(bundle));
    assert!(ok, "umoci unpack {}:{tag} failed:\n{output}", layout.display());
    bundle.join("rootfs")
}

fn layer_digests(inspect: &Value) -> Vec<String> {
    inspect["Layers"]
        .as_array()
        .expect("Layers")
        .iter()
        .map(|layer| layer.as_str().unwrap_or_default().to_string())
        .collect()
}

fn seeded_layer(seed: &SeededImage, platform: &str) -> String {
    seed.layers
        .iter()
        .find(|(name, _)| name == platform)
        .map(|(_, digest)| digest.clone())
        .expect("seeded platform")
}

#[test]
fn builds_pushes_and_reads_back_with_skopeo_and_umoci() {
    let registry = TestRegistry::start();
    let base = registry.seed_busybox("base:1");
    let work = tempfile::tempdir().unwrap();
    let client = client(work.path());
    let (chart, version) = example_chart();

    let image = build(&client, &base.reference, "linux/amd64", &chart, &version).expect("build");
    assert_eq!(image.base.resolved.top.digest.oci(), base.digest, "the base resolves to the seeded digest");
    // The tag is a digest of everything the image is made from, the resolved base included.
    let amd64 = Platform::parse("linux/amd64").unwrap();
    let expected_tag = oci_image::helm_cli_tag(
        &spec(&amd64, &chart, &version),
        &image.base.image.repository(),
        Some(&image.base.resolved.top.digest),
    );
    assert_eq!(image.tag, expected_tag);
    assert!(image.tag.starts_with(&format!("{version}-")), "{}", image.tag);
    assert_eq!(image.chart_path, format!("{WORKDIR}/{}", chart.file_name));

    let name = ImageRef::parse(&registry.image("acme/demo-app-helm-cli")).unwrap();
    let summary = oci_image::push(&client, &image, &name, &store(work.path())).expect("push");
    let expected =
        format!("{}:{}@{}", registry.image("acme/demo-app-helm-cli"), image.tag, image.digest().oci());
    assert_eq!(summary.reference.to_string(), expected);
    assert_eq!(
        (summary.mounted, summary.uploaded),
        (1, 2),
        "base layer mounted, chart layer + config uploaded: {summary:?}"
    );

    // Pushing again finds everything there.
    let again = oci_image::push(&client, &image, &name, &store(work.path())).expect("second push");
    assert_eq!((again.present, again.mounted, again.uploaded), (3, 0, 0));

    let tagged = format!("{}:{}", registry.image("acme/demo-app-helm-cli"), image.tag);
    let inspect = skopeo_json(&["inspect", "--tls-verify=false", &format!("docker://{tagged}")]);
    assert_eq!(inspect["Digest"], image.digest().oci());
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Labels"][LABEL_VERSION], version);
    assert_eq!(inspect["Labels"][LABEL_CHART_SHA256], chart.sha256.hex());
    assert_eq!(inspect["Labels"][LABEL_REVISION], "0123456789abcdef0123456789abcdef01234567");
    let layers = layer_digests(&inspect);
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0], seeded_layer(&base, "linux/amd64"), "the base layer is reused as is");
    assert_eq!(layers[1], image.layer.digest.oci());

    let config = skopeo_json(&["inspect", "--config", "--tls-verify=false", &format!("docker://{tagged}")]);
    let settings = &config["config"];
    assert_eq!(settings["WorkingDir"], WORKDIR);
    assert!(settings.get("Entrypoint").is_none_or(Value::is_null), "Entrypoint cleared: {settings}");
    assert!(settings.get("Cmd").is_none_or(Value::is_null), "Cmd cleared: {settings}");
    assert_eq!(settings["User"], "1000", "the base's User is kept");
    assert!(
        settings["Env"].as_array().unwrap().iter().any(|env| env == "HELMKOTS_BASE=1"),
        "the base's Env is kept"
    );
    assert_eq!(config["created"], "2000-01-01T00:00:00Z");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    assert_eq!(config["rootfs"]["diff_ids"][1], image.layer.diff_id.oci());

    let rootfs = unpack_pushed(&tagged, work.path(), None);
    let chart_file = rootfs.join(WORKDIR.trim_start_matches('/')).join(&chart.file_name);
    assert_eq!(sha256_file(&chart_file), chart.sha256.hex(), "the chart in the image is the packaged chart");
    assert!(rootfs.join("bin/busybox").is_file(), "base files are intact");
    assert!(rootfs.join("bin/sh").symlink_metadata().unwrap().file_type().is_symlink());
}

#[test]
fn same_inputs_give_the_same_digest_and_one_chart_byte_changes_it() {
    let registry = TestRegistry::start();
    let base = registry.seed_busybox("base:1");
    let work = tempfile::tempdir().unwrap();
    let (chart, version) = example_chart();

    // Two independent clients, two independent builds.
    let first = build(&client(work.path()), &base.reference, "linux/amd64", &chart, &version).unwrap();
    let second =
        build(&client(work.path()), &base.reference, "linux/amd64", &example_chart().0, &version).unwrap();
    assert_eq!(first.digest(), second.digest());
    assert_eq!(first.manifest.bytes, second.manifest.bytes);
    assert_eq!(first.config.bytes, second.config.bytes);

    // One more byte in values.yaml (a YAML comment) changes the chart, and so the image.
    let copy = work.path().join("demo-app");
    copy_tree(&repo_root().join("charts").join("demo-app"), &copy);
    let values = copy.join("values.yaml");
    let mut text = std::fs::read(&values).unwrap();
    text.extend_from_slice(b"#");
    std::fs::write(&values, text).unwrap();
    let (changed_chart, _) = package(&copy);
    assert_ne!(changed_chart.sha256, chart.sha256);
    let changed =
        build(&client(work.path()), &base.reference, "linux/amd64", &changed_chart, &version).unwrap();
    assert_ne!(changed.digest(), first.digest());
    assert_ne!(changed.tag, first.tag);
}

#[test]
fn the_local_oci_layout_is_read_by_skopeo_and_umoci() {
    let registry = TestRegistry::start();
    let base = registry.seed_busybox("base:1");
    let work = tempfile::tempdir().unwrap();
    let client = client(work.path());
    let (chart, version) = example_chart();
    let image = build(&client, &base.reference, "linux/amd64", &chart, &version).unwrap();

    let layout = work.path().join("helm-cli");
    let layout_dir = Utf8Path::from_path(&layout).unwrap();
    let files =
        oci_image::write_layout(&client, &store(work.path()), &image, layout_dir).expect("write layout");
    let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
    assert!(paths.contains(&"oci-layout") && paths.contains(&"index.json"), "{paths:?}");
    assert_eq!(
        paths.iter().filter(|path| path.starts_with("blobs/sha256/")).count(),
        4,
        "base layer, chart layer, config, manifest"
    );
    for file in &files {
        assert_eq!(
            sha256_file(layout.join(&file.path)),
            file.sha256.hex(),
            "{} hashes to its record",
            file.path
        );
    }
    assert!(
        !all_files(&layout).iter().any(|path| path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".partial")),
        "no temporary files are left"
    );
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], image.tag.as_str());
    assert_eq!(index["manifests"][0]["digest"], image.digest().oci());

    let inspect = skopeo_json(&["inspect", &format!("oci:{}:{}", layout.display(), image.tag)]);
    assert_eq!(inspect["Digest"], image.digest().oci());
    assert_eq!(inspect["Labels"][LABEL_VERSION], version);

    let (ok, stat) = run(Command::new("umoci").args(["stat", "--image"]).arg(format!(
        "{}:{}",
        layout.display(),
        image.tag
    )));
    assert!(ok, "umoci stat failed:\n{stat}");
    assert!(stat.contains("helmkots: add chart"), "umoci shows our history entry:\n{stat}");
    let rootfs = unpack_layout(&layout, &image.tag, &work.path().join("bundle-local"));
    assert_eq!(sha256_file(rootfs.join("apps").join(&chart.file_name)), chart.sha256.hex());
    assert!(rootfs.join("bin/busybox").is_file());

    // Writing again into the same directory fetches nothing new and changes nothing.
    let before = helmkots_e2e::tree_digests(&layout);
    oci_image::write_layout(&client, &store(work.path()), &image, layout_dir).expect("rewrite layout");
    assert_eq!(helmkots_e2e::tree_digests(&layout), before);

    // The store the layout was written from is the upload source when pushing to another registry.
    let other = TestRegistry::start();
    let name = ImageRef::parse(&other.image("mirror/helm-cli")).unwrap();
    let summary = oci_image::push(&client, &image, &name, &store(work.path())).expect("push from the store");
    assert_eq!((summary.mounted, summary.uploaded), (0, 3));
    assert_eq!(summary.reference.digest(), Some(image.digest().oci().as_str()));
}

#[test]
fn basic_auth_uses_docker_config_and_never_shows_the_password() {
    let open = TestRegistry::start();
    let base = open.seed_busybox("base:1");
    let locked = TestRegistry::start_with_basic_auth(USER, PASSWORD);
    let work = tempfile::tempdir().unwrap();
    let (chart, version) = example_chart();
    let name = ImageRef::parse(&locked.image("acme/helm-cli")).unwrap();

    // Without credentials: a clear refusal naming the host, the image and the fix.
    let anonymous_dir = work.path().join("no-credentials");
    std::fs::create_dir_all(&anonymous_dir).unwrap();
    let anonymous = client(&anonymous_dir);
    let image = build(&anonymous, &base.reference, "linux/amd64", &chart, &version).unwrap();
    let error = oci_image::push(&anonymous, &image, &name, &store(work.path()))
        .expect_err("push without credentials");
    let message = error.to_string();
    eprintln!("without credentials: {message}");
    assert!(matches!(error, Error::Registry(RegistryError::Unauthorized { .. })), "{error:?}");
    assert!(message.contains(&locked.host()) && message.contains("acme/helm-cli"), "{message}");
    let help = error.help().unwrap_or_default();
    assert!(help.contains("docker login"), "the fix is the error's help: {help}");

    // With a wrong password: refused, and the wrong password is nowhere in the message.
    let wrong_dir = work.path().join("wrong-credentials");
    write_docker_config(&wrong_dir, &locked.host(), USER, "wrong-Pw-77");
    let error = oci_image::push(&client(&wrong_dir), &image, &name, &store(work.path()))
        .expect_err("push with a wrong password");
    let message = format!("{error} {error:?} {}", error.help().unwrap_or_default());
    eprintln!("wrong password: {message}");
    assert!(message.contains("were refused"), "the help says the credentials were refused: {message}");
    assert!(
        !message.contains("wrong-Pw-77") && !message.contains(&base64(format!("{USER}:wrong-Pw-77"))),
        "{message}"
    );

    // With the right credentials in DOCKER_CONFIG's config.json: the push works.
    let docker_config = work.path().join("docker-config");
    write_docker_config(&docker_config, &locked.host(), USER, PASSWORD);
    let authed = client(&docker_config);
    let image = build(&authed, &base.reference, "linux/amd64", &chart, &version).unwrap();
    let out = work.path().join("out");
    oci_image::write_layout(&authed, &store(work.path()), &image, Utf8Path::from_path(&out).unwrap())
        .unwrap();
    let summary =
        oci_image::push(&authed, &image, &name, &store(work.path())).expect("push with credentials");
    assert_eq!((summary.mounted, summary.uploaded), (0, 3), "another host: everything is uploaded");
    let reference = format!("{}:{}", locked.image("acme/helm-cli"), image.tag);
    let creds = format!("{USER}:{PASSWORD}");
    let inspect = skopeo_json(&[
        "inspect",
        "--tls-verify=false",
        &format!("--creds={creds}"),
        &format!("docker://{reference}"),
    ]);
    assert_eq!(inspect["Digest"], image.digest().oci());
    let rootfs = unpack_pushed(&reference, &work.path().join("pull"), Some(&creds));
    assert!(rootfs.join("apps").join(&chart.file_name).is_file());

    // The password is in no file we wrote (only in the config.json the test wrote itself)
    // and in no error.
    let encoded = base64(&creds);
    for file in all_files(work.path()) {
        if file.starts_with(&docker_config) || file.starts_with(&wrong_dir) {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap_or_default();
        for secret in [PASSWORD, encoded.as_str()] {
            assert!(!contains(&bytes, secret.as_bytes()), "{} contains a credential", file.display());
        }
    }
    let again =
        oci_image::push(&authed, &image, &name, &store(work.path())).expect("push again with credentials");
    assert_eq!(again.present, 3);
    let error = build(
        &authed,
        &format!("{}:no-such-tag", locked.image("acme/helm-cli")),
        "linux/amd64",
        &chart,
        &version,
    )
    .expect_err("missing tag");
    assert!(matches!(error, Error::Registry(RegistryError::NotFound { .. })), "{error:?}");
    let message = format!("{error} {error:?}");
    assert!(!message.contains(PASSWORD) && !message.contains(&encoded), "{message}");
}

#[test]
fn a_multi_platform_base_gives_the_requested_platform() {
    let registry = TestRegistry::start();
    let base = registry.seed_multi_platform("multi:1");
    let work = tempfile::tempdir().unwrap();
    let client = client(work.path());
    let (chart, version) = example_chart();

    for (platform, architecture) in [("linux/arm64", "arm64"), ("linux/amd64", "amd64")] {
        let image = build(&client, &base.reference, platform, &chart, &version).expect("build");
        assert_eq!(image.base.resolved.top.digest.oci(), base.digest, "the pin is the index digest");
        assert_ne!(image.base.resolved.manifest.digest, image.base.resolved.top.digest);
        assert_eq!(
            image.base_layers()[0].digest.oci(),
            seeded_layer(&base, platform),
            "{platform}: its own base layer"
        );
        let config: Value = serde_json::from_slice(&image.config.bytes).unwrap();
        assert_eq!(config["architecture"], architecture);

        let name = ImageRef::parse(&registry.image(&format!("acme/helm-cli-{architecture}"))).unwrap();
        let summary = oci_image::push(&client, &image, &name, &store(work.path())).expect("push");
        let tagged = format!("{}:{}", registry.image(&format!("acme/helm-cli-{architecture}")), image.tag);
        let inspect = skopeo_json(&["inspect", "--tls-verify=false", &format!("docker://{tagged}")]);
        assert_eq!(inspect["Architecture"], architecture);
        assert_eq!(layer_digests(&inspect)[0], seeded_layer(&base, platform));
        assert_eq!(summary.reference.digest(), Some(image.digest().oci().as_str()));
    }

    let error = build(&client, &base.reference, "linux/s390x", &chart, &version).expect_err("no s390x");
    let message = error.to_string();
    assert!(matches!(error, Error::Registry(RegistryError::NoMatchingPlatform { .. })), "{error:?}");
    assert!(message.contains("linux/amd64") && message.contains("linux/arm64/v8"), "{message}");
    let help = error.help().unwrap_or_default();
    assert!(help.contains("[helm_cli] platform"), "the fix is the error's help: {help}");
}

#[test]
fn an_unreachable_registry_names_the_image_the_host_and_the_fix() {
    let port = free_port();
    let work = tempfile::tempdir().unwrap();
    let client = client(work.path());
    let (chart, version) = example_chart();
    let base = format!("127.0.0.1:{port}/library/helm:3.16.2");
    let error = build(&client, &base, "linux/amd64", &chart, &version).expect_err("closed port");
    let Error::Registry(registry_error) = &error else { panic!("expected a registry error, got {error:?}") };
    let RegistryError::Unreachable { image, host, cause } = registry_error else {
        panic!("expected Unreachable, got {registry_error:?}")
    };
    assert_eq!(image, &base);
    assert_eq!(host, &format!("127.0.0.1:{port}"));
    assert!(!cause.is_empty());
    let message = error.to_string();
    eprintln!("unreachable: {message}");
    for needle in [base.as_str(), &format!("127.0.0.1:{port}")] {
        assert!(message.contains(needle), "`{needle}` missing from: {message}");
    }
    // The fix is the error's help (the CLI's `help:` line), not part of its message.
    let help = error.help().unwrap_or_default();
    for needle in ["--offline", "mirror", "docker login"] {
        assert!(help.contains(needle), "`{needle}` missing from the help: {help}");
    }
}

fn write_docker_config(dir: &Path, host: &str, user: &str, password: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let config = serde_json::json!({"auths": {host: {"auth": base64(format!("{user}:{password}"))}}});
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config).unwrap()).unwrap();
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
