//! The airgap bundle end to end: `cargo xtask release` (online) against a real local registry
//! (Debian's `docker-registry`) with images the tests make, then the bundle read back the way
//! KOTS reads it — a second `docker-registry` serving the extracted `images/` as its storage
//! root, and `skopeo copy` of every `savedImages` entry from it — plus `verify`, a fault proxy
//! between helmkots and the registry, and byte-reproducibility.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use helmkots::{
    internals::oci::image::layer::{build_layer, Layer, LayerEntry},
    internals::oci::registry::media::OCI_LAYER_GZIP,
};
use helmkots_e2e::{
    assert_tree_intact,
    fault_proxy::{Fault, FaultProxy},
    golden_outputs,
    registry::{all_files, free_port, require_tool, run, SeededImage, TestRegistry},
    sha256_file, sha256_hex, shared_dir, testdir, TestDir, TestOutput,
};
use serde_json::{json, Value};

/// `<slug>-<version>` of the test release.
const TREE: &str = "airgap-test-0.1.0";
const EPOCH: u64 = 946_684_800;

// --- images the tests make ------------------------------------------------------------------

/// One small layer holding `opt/<name>` with `size` bytes of `seed`-derived data.
fn small_layer(name: &str, seed: u8, size: usize) -> Layer {
    let data: Vec<u8> = (0..size).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
    let entries = vec![
        LayerEntry::Directory { path: "opt".into() },
        LayerEntry::File { path: format!("opt/{name}"), data, executable: false },
    ];
    build_layer(&entries, EPOCH, OCI_LAYER_GZIP).expect("build layer")
}

/// `sha256:<hex>` of what `reference` resolves to, as `skopeo inspect --raw` reads it.
fn raw_digest(reference: &str) -> (String, Value) {
    let (ok, output) = run(Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}")));
    assert!(ok, "skopeo inspect --raw {reference} failed:\n{output}");
    let value: Value = serde_json::from_str(&output).unwrap_or_else(|e| panic!("not JSON ({e}): {output}"));
    (format!("sha256:{}", sha256_hex(output.as_bytes())), value)
}

/// Everything the tests seeded, with the digests the source registry serves.
struct Seeds {
    /// `[helm_cli] base`.
    base: SeededImage,
    /// `a/one:1` and `d/four:4` share `shared_layer`; each has one layer of its own.
    one_digest: String,
    four_digest: String,
    shared_layer: String,
    one_layer: String,
    /// `b/two:2`, linux/amd64 + linux/arm64.
    two: SeededImage,
    /// The linux/amd64 manifest of `b/two:2`.
    two_amd64: String,
    /// `c/three:3`, referenced by digest.
    three_digest: String,
}

fn seed(registry: &TestRegistry) -> Seeds {
    let base = registry.seed_busybox("base/busybox:1");
    let shared = small_layer("shared.txt", 1, 64 * 1024);
    let own_one = small_layer("one.txt", 2, 4096);
    let own_four = small_layer("four.txt", 3, 4096);
    let own_three = small_layer("three.txt", 4, 4096);
    let one_digest = registry.seed_layers("a/one:1", &[&shared, &own_one]);
    let four_digest = registry.seed_layers("d/four:4", &[&shared, &own_four]);
    let three_digest = registry.seed_layers("c/three:3", &[&own_three]);
    let two = registry.seed_multi_platform("b/two:2");
    let (index_digest, index) = raw_digest(&two.reference);
    assert_eq!(index_digest, two.digest);
    let two_amd64 = index["manifests"]
        .as_array()
        .expect("index manifests")
        .iter()
        .find(|m| m["platform"]["architecture"] == "amd64")
        .and_then(|m| m["digest"].as_str())
        .expect("amd64 entry")
        .to_string();
    for (reference, digest) in
        [("a/one:1", &one_digest), ("d/four:4", &four_digest), ("c/three:3", &three_digest)]
    {
        assert_eq!(&raw_digest(&registry.image(reference)).0, digest, "{reference} as pushed");
    }
    Seeds {
        base,
        one_digest,
        four_digest,
        shared_layer: shared.digest.oci(),
        one_layer: own_one.digest.oci(),
        two,
        two_amd64,
        three_digest,
    }
}

// --- the release ----------------------------------------------------------------------------

/// Writes a chart whose images live on `chart_host` (the registry, or a proxy in front of
/// it) and a release.toml whose helm-cli image is based on and pushed to `registry_host`.
fn write_release(dir: &TestDir, seeds: &Seeds, chart_host: &str, registry_host: &str) {
    dir.write(
        "chart/Chart.yaml",
        "apiVersion: v2\nname: airgap-test\nversion: 0.1.0\nappVersion: \"1.0\"\ndescription: airgap e2e test chart\n",
    );
    dir.write(
        "chart/values.yaml",
        format!(
            "one:\n  image: \"{chart_host}/a/one:1\"\n\
             four:\n  image:\n    repository: {chart_host}/d/four\n    tag: \"4\"\n\
             two:\n  image:\n    repository: {chart_host}/b/two\n    tag: \"2\"\n\
             three:\n  image: \"{chart_host}/c/three@{}\"\n",
            seeds.three_digest
        ),
    );
    dir.write(
        "chart/templates/deployment.yaml",
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
    spec:
      containers:
        - name: one
          image: {{ .Values.one.image | quote }}
        - name: four
          image: "{{ .Values.four.image.repository }}:{{ .Values.four.image.tag }}"
        - name: two
          image: "{{ .Values.two.image.repository }}:{{ .Values.two.image.tag }}"
        - name: three
          image: {{ .Values.three.image | quote }}
"#,
    );
    dir.write(
        "release.toml",
        format!(
            r#"[app]
slug = "airgap-test"
title = "Airgap Test"

[chart]
path = "chart"
release_name = "airgap-test"

[helm_cli]
base = "{base}"
name = "{registry_host}/acme/helm-cli"

[images]
platforms = ["linux/amd64"]

[airgap]
channel_id = "test-channel"
update_cursor = 7
"#,
            base = seeds.base.reference
        ),
    );
}

/// A release directory with the seeded images on a fresh registry.
struct Fixture {
    registry: TestRegistry,
    seeds: Seeds,
    dir: TestDir,
}

impl Fixture {
    fn new(dir: TestDir) -> Fixture {
        let registry = TestRegistry::start();
        let seeds = seed(&registry);
        write_release(&dir, &seeds, &registry.host(), &registry.host());
        Fixture { registry, seeds, dir }
    }

    /// `release --no-proof --out <out>`, anonymous (an empty Docker config directory).
    fn release(&self, out: &str) -> TestOutput {
        release(&self.dir, out)
    }

    fn image(&self, repository: &str) -> String {
        self.registry.image(repository)
    }
}

fn release(dir: &TestDir, out: &str) -> TestOutput {
    fs::create_dir_all(dir.join("docker-config")).unwrap();
    dir.xtask("release")
        .args(["--no-proof", "--out", out])
        .env("DOCKER_CONFIG", dir.join("docker-config"))
        .run()
}

fn verify(dir: &TestDir, target: &Path) -> TestOutput {
    let mut command = dir.xtask("verify");
    command.arg(target).arg("--json");
    command.run()
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every entry of a gzip tar: (path, is a regular file, contents of regular files).
fn bundle_entries(bundle: &Path) -> Vec<(String, bool, Vec<u8>)> {
    let file = fs::File::open(bundle).unwrap_or_else(|e| panic!("cannot open {}: {e}", bundle.display()));
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
    let mut entries = Vec::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let path = entry.path().expect("entry path").to_string_lossy().into_owned();
        let is_file = entry.header().entry_type().is_file();
        let mut data = Vec::new();
        if is_file {
            entry.read_to_end(&mut data).expect("entry data");
        }
        entries.push((path, is_file, data));
    }
    entries
}

fn blob_entry(digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    format!("images/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2])
}

// --- a registry on the extracted images/ (what KOTS does) ----------------------------------

/// `docker-registry` serving an existing storage root, read-only; killed when dropped.
struct StorageRegistry {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl StorageRegistry {
    fn serve(root: &Path, work: &Path) -> StorageRegistry {
        require_tool("docker-registry");
        let port = free_port();
        let config = work.join("bundle-registry.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  maintenance:\n    uploadpurging:\n      enabled: false\n    readonly:\n      enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: helmkots-bundle-test\n",
                root.display()
            ),
        )
        .unwrap();
        let log = work.join("bundle-registry.log");
        let log_file = fs::File::create(&log).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("start docker-registry");
        let mut registry = StorageRegistry { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = registry.child.try_wait().unwrap() {
                panic!("docker-registry exited ({status}):\n{}", registry.log());
            }
            if get_status(port, "/v2/") == Some(200) {
                break;
            }
            assert!(Instant::now() < deadline, "docker-registry did not answer:\n{}", registry.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for StorageRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get_status(port: u16, path: &str) -> Option<u16> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut head = [0u8; 64];
    let read = stream.read(&mut head).ok()?;
    String::from_utf8_lossy(&head[..read]).split_whitespace().nth(1)?.parse().ok()
}

/// `skopeo copy --all --preserve-digests` of `source` into a new OCI layout; returns the
/// layout and the digest its `index.json` names.
fn copy_to_oci(source: &str, layout: &Path, served: &StorageRegistry) -> String {
    let (ok, output) = run(Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "--quiet",
            "--all",
            "--preserve-digests",
            "--src-tls-verify=false",
        ])
        .arg(format!("docker://{source}"))
        .arg(format!("oci:{}:pulled", layout.display())));
    assert!(ok, "skopeo copy {source} from the bundle's registry failed:\n{output}\n{}", served.log());
    let index = read_json(&layout.join("index.json"));
    index["manifests"][0]["digest"].as_str().expect("index.json digest").to_string()
}

fn oci_blob(layout: &Path, digest: &str) -> Vec<u8> {
    fs::read(layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).expect("blob in layout")
}

/// The `image:` of the helm-cli Job in `app.tar.gz`.
fn job_image(app_tar_gz: &[u8]) -> String {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(app_tar_gz));
    for entry in archive.entries().expect("app.tar.gz entries") {
        let mut entry = entry.expect("app.tar.gz entry");
        if entry.path().unwrap().to_string_lossy() != "helm-cli-job.yaml" {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        let line = text.lines().map(str::trim).find(|l| l.starts_with("image:")).expect("image: line");
        return line.trim_start_matches("image:").trim().trim_matches(['\'', '"']).to_string();
    }
    panic!("app.tar.gz has no helm-cli-job.yaml");
}

// --- 1. the bundle serves every image, as KOTS reads it -------------------------------------

#[test]
fn bundle_serves_every_image_from_a_registry_on_its_images_dir() {
    let fixture = Fixture::new(testdir!());
    let seeds = &fixture.seeds;
    fixture.release("out").assert_success();
    let tree = fixture.dir.join("out").join(TREE);
    let bundle = tree.join(format!("{TREE}.airgap"));
    assert!(bundle.is_file(), "no bundle in {}", tree.display());

    // SHA256SUMS covers the bundle; the build record has an airgap section.
    let sums = assert_tree_intact(&tree);
    assert_eq!(
        sums.get(&format!("{TREE}.airgap")),
        Some(&sha256_file(&bundle)),
        "SHA256SUMS lists the bundle"
    );
    let record = read_json(&tree.join("release.lock.json"));
    let airgap = &record["airgap"];
    assert_eq!(airgap["path"], format!("{TREE}.airgap"), "build record: {record:#}");
    let saved: Vec<String> = airgap["saved_images"]
        .as_array()
        .expect("saved_images")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(record["outputs"].as_array().unwrap().iter().any(|o| o["path"] == format!("{TREE}.airgap")));

    // helmkots.lock beside release.toml pins every tag reference to what the source serves.
    let lock = read_json(&fixture.dir.join("helmkots.lock"));
    let locked = |reference: &str| lock["images"][reference].as_str().map(str::to_string);
    assert_eq!(locked(&fixture.image("a/one:1")), Some(seeds.one_digest.clone()), "{lock:#}");
    assert_eq!(locked(&fixture.image("d/four:4")), Some(seeds.four_digest.clone()), "{lock:#}");
    assert_eq!(
        locked(&fixture.image("b/two:2")),
        Some(seeds.two.digest.clone()),
        "the index, unfiltered: {lock:#}"
    );
    assert_eq!(locked(&seeds.base.reference), Some(seeds.base.digest.clone()), "{lock:#}");

    // The first two entries are airgap.yaml and app.tar.gz, regular files, before any directory.
    let entries = bundle_entries(&bundle);
    let names: Vec<&str> = entries.iter().map(|(p, _, _)| p.as_str()).take(3).collect();
    assert_eq!(&names[..2], ["airgap.yaml", "app.tar.gz"], "first entries: {names:?}");
    assert!(entries[0].1 && entries[1].1, "airgap.yaml and app.tar.gz are regular files");
    let airgap_yaml: Value = serde_json::from_slice(&entries[0].2).expect("airgap.yaml (JSON is YAML)");
    let spec = &airgap_yaml["spec"];
    assert_eq!(airgap_yaml["apiVersion"], "kots.io/v1beta1");
    assert_eq!(airgap_yaml["kind"], "Airgap");
    assert_eq!(spec["channelID"], "test-channel");
    assert_eq!(spec["updateCursor"], "7");
    assert_eq!(spec["appSlug"], "airgap-test");
    assert_eq!(spec["versionLabel"], "0.1.0");
    assert_eq!(spec["format"], "docker");
    let saved_yaml: Vec<String> =
        spec["savedImages"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(saved_yaml, saved, "airgap.yaml and the build record list the same savedImages");

    // The helm-cli image is saved and is the image the Job runs.
    let helm_cli = job_image(&entries[1].2);
    assert_eq!(airgap["helm_cli_image"], helm_cli.as_str());
    assert!(
        helm_cli.starts_with(&fixture.image("acme/helm-cli:")) && helm_cli.contains("@sha256:"),
        "{helm_cli}"
    );
    assert!(saved.contains(&helm_cli), "the Job's image {helm_cli} is not in savedImages {saved:?}");
    let three = format!("{}@{}", fixture.image("c/three"), seeds.three_digest);
    let mut expected_saved = vec![
        fixture.image("a/one:1"),
        fixture.image("b/two:2"),
        three.clone(),
        fixture.image("d/four:4"),
        helm_cli.clone(),
    ];
    expected_saved.sort();
    assert_eq!(saved, expected_saved);

    // airgap.yaml against the KOTS schema.
    match shared_dir() {
        None => eprintln!("skipping the airgap.yaml schema check: ../shared is absent"),
        Some(shared) => {
            let schema = shared.join("schemas/kots/json/airgap-kots-v1beta1.json");
            let document = fixture.dir.write("airgap.yaml", &entries[0].2);
            let (ok, output) = run(Command::new("python3")
                .arg("-c")
                .arg(
                    "import json,sys,jsonschema\n\
                 schema=json.load(open(sys.argv[1]))\n\
                 doc=json.load(open(sys.argv[2]))\n\
                 jsonschema.validate(doc, schema)\n\
                 print('ok')",
                )
                .arg(&schema)
                .arg(&document));
            assert!(ok, "airgap.yaml does not validate against {}:\n{output}", schema.display());
        }
    }

    // Extract, serve images/ with a second registry, and pull every savedImages entry.
    let extracted = fixture.dir.join("extracted");
    fs::create_dir_all(&extracted).unwrap();
    let (ok, output) = run(Command::new("tar").arg("-xzf").arg(&bundle).arg("-C").arg(&extracted));
    assert!(ok, "tar -xzf failed:\n{output}");
    let served = StorageRegistry::serve(&extracted.join("images"), fixture.dir.path());
    let mut source_digests: BTreeMap<String, String> = BTreeMap::new();
    source_digests.insert(fixture.image("a/one:1"), seeds.one_digest.clone());
    source_digests.insert(fixture.image("d/four:4"), seeds.four_digest.clone());
    source_digests.insert(three.clone(), seeds.three_digest.clone());
    let helm_cli_digest = helm_cli.rsplit_once('@').unwrap().1.to_string();
    assert_eq!(
        raw_digest(&format!("{}@{helm_cli_digest}", fixture.image("acme/helm-cli"))).0,
        helm_cli_digest,
        "the helm-cli image as pushed"
    );
    source_digests.insert(helm_cli.clone(), helm_cli_digest.clone());
    for (i, entry) in saved.iter().enumerate() {
        // KOTS pulls `localhost:<port>/<last path component>`, by digest when the reference has
        // one (it drops the tag of a tag+digest reference), else by tag.
        let (name, digest) = match entry.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (entry.as_str(), None),
        };
        let last = name.rsplit('/').next().unwrap();
        let source = match digest {
            Some(digest) => format!("{}/{}@{digest}", served.host(), last.split(':').next().unwrap()),
            None => format!("{}/{last}", served.host()),
        };
        let layout = fixture.dir.join(format!("pulled-{i}"));
        let pulled = copy_to_oci(&source, &layout, &served);
        if entry == &fixture.image("b/two:2") {
            // A multi-platform image referenced by tag is filtered to `[images] platforms`, so
            // its top digest differs from the source's index by design; the platform manifest
            // must be the very one the source serves.
            assert_ne!(pulled, seeds.two.digest, "the index was filtered to linux/amd64");
            let index: Value = serde_json::from_slice(&oci_blob(&layout, &pulled)).unwrap();
            let manifests = index["manifests"].as_array().unwrap();
            assert_eq!(manifests.len(), 1, "only linux/amd64 is kept: {index:#}");
            assert_eq!(manifests[0]["platform"]["architecture"], "amd64");
            assert_eq!(
                manifests[0]["digest"],
                seeds.two_amd64.as_str(),
                "the amd64 manifest keeps its digest"
            );
            let amd64: Value = serde_json::from_slice(&oci_blob(&layout, &seeds.two_amd64)).unwrap();
            let layer = amd64["layers"][0]["digest"].as_str().unwrap();
            assert_eq!(layer, seeds.two.layers[0].1, "the amd64 layer");
            assert!(layout.join("blobs/sha256").join(layer.trim_start_matches("sha256:")).is_file());
        } else {
            let expected =
                source_digests.get(entry).unwrap_or_else(|| panic!("unexpected saved image {entry}"));
            assert_eq!(&pulled, expected, "{entry} arrives from the bundle with its original digest");
        }
    }
    // The shared layer arrived in both images that use it.
    for (i, entry) in saved.iter().enumerate() {
        if entry == &fixture.image("a/one:1") || entry == &fixture.image("d/four:4") {
            let blob = fixture.dir.join(format!(
                "pulled-{i}/blobs/sha256/{}",
                seeds.shared_layer.trim_start_matches("sha256:")
            ));
            assert!(blob.is_file(), "{entry} lacks the shared layer");
        }
    }
    drop(served);
}

// --- 2. a layer shared by two images is stored once -----------------------------------------

#[test]
fn a_shared_layer_is_stored_once() {
    let fixture = Fixture::new(testdir!());
    fixture.release("out").assert_success();
    let bundle = fixture.dir.join("out").join(TREE).join(format!("{TREE}.airgap"));
    let entries = bundle_entries(&bundle);
    let hex = fixture.seeds.shared_layer.trim_start_matches("sha256:");
    let data: Vec<&String> = entries
        .iter()
        .map(|(p, _, _)| p)
        .filter(|p| {
            p.starts_with("images/docker/registry/v2/blobs/sha256/") && p.ends_with(&format!("/{hex}/data"))
        })
        .collect();
    assert_eq!(data, vec![&blob_entry(&fixture.seeds.shared_layer)], "the shared layer's data entries");
    for repository in ["one", "four"] {
        let link = format!("images/docker/registry/v2/repositories/{repository}/_layers/sha256/{hex}/link");
        let found = entries.iter().find(|(p, _, _)| p == &link);
        let (_, _, text) =
            found.unwrap_or_else(|| panic!("{repository} does not link the shared layer ({link})"));
        assert_eq!(String::from_utf8_lossy(text), fixture.seeds.shared_layer);
    }
    let mut paths: Vec<&String> = entries.iter().map(|(p, _, _)| p).collect();
    let total = paths.len();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), total, "no entry appears twice");
}

// --- 3. verify -------------------------------------------------------------------------------

/// Rewrites a gzip tar with one byte of `target`'s data flipped.
fn flip_one_byte(from: &Path, to: &Path, target: &str) {
    let input = fs::File::open(from).unwrap();
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(input));
    let output = fs::File::create(to).unwrap();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(output, flate2::Compression::fast()));
    let mut flipped = false;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        let path = entry.path().unwrap().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if path.to_string_lossy() == target {
            let middle = data.len() / 2;
            data[middle] ^= 0x01;
            flipped = true;
        }
        let mut header = header;
        builder.append_data(&mut header, &path, data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
    assert!(flipped, "{target} is not in {}", from.display());
}

#[test]
fn verify_passes_and_names_a_corrupt_blob() {
    let fixture = Fixture::new(testdir!());
    fixture.release("out").assert_success();
    let tree = fixture.dir.join("out").join(TREE);
    let bundle = tree.join(format!("{TREE}.airgap"));
    for target in [&tree, &bundle] {
        let output = verify(&fixture.dir, target);
        output.assert_success();
        let report = output.json();
        assert_eq!(report["problems"], json!([]), "{report:#}");
        assert_eq!(report["saved_images"].as_array().unwrap().len(), 5, "{report:#}");
        assert!(report["blobs_checked"].as_u64().unwrap() >= 10, "{report:#}");
    }

    let corrupt = fixture.dir.join("corrupt.airgap");
    flip_one_byte(&bundle, &corrupt, &blob_entry(&fixture.seeds.one_layer));
    let output = verify(&fixture.dir, &corrupt);
    output.assert_code(1);
    let report = output.json();
    let problems = report["problems"].as_array().unwrap();
    let hex = fixture.seeds.one_layer.trim_start_matches("sha256:");
    assert!(
        problems.iter().any(|p| p.as_str().unwrap().contains(hex)),
        "verify does not name the corrupt blob {hex}: {report:#}"
    );
    // The text output names it too.
    let mut command = fixture.dir.xtask("verify");
    let output = command.arg(&corrupt).run();
    output.assert_failure().assert_stderr_contains(hex);
}

// --- 4. faults between helmkots and the registry ---------------------------------------------

/// A fixture whose chart images go through a fault proxy (the helm-cli base and push do not).
fn behind_proxy(dir: TestDir, fault: impl FnOnce(&Seeds) -> Fault) -> (Fixture, FaultProxy) {
    let registry = TestRegistry::start();
    let seeds = seed(&registry);
    let proxy = FaultProxy::start(&registry.host(), fault(&seeds));
    write_release(&dir, &seeds, &proxy.host(), &registry.host());
    (Fixture { registry, seeds, dir }, proxy)
}

fn assert_release_survives(fault: Fault) {
    let (fixture, proxy) = behind_proxy(testdir!(), |_| fault.clone());
    let output = fixture.release("out");
    output.assert_success();
    assert_eq!(proxy.faults(), 3, "the proxy injected its faults: {:#?}", proxy.log());
    let tree = fixture.dir.join("out").join(TREE);
    let report = verify(&fixture.dir, &tree);
    report.assert_success();
    assert_eq!(report.json()["problems"], json!([]));
    let saved = read_json(&tree.join("release.lock.json"))["airgap"]["saved_images"].clone();
    assert!(
        saved.as_array().unwrap().iter().any(|s| s == &json!(format!("{}/a/one:1", proxy.host()))),
        "images came through the proxy: {saved:#}"
    );
    // Nothing half-downloaded stays in the store.
    let store_tmp = fixture.dir.join("target/helmkots-store/tmp");
    assert_eq!(fs::read_dir(&store_tmp).map(|d| d.count()).unwrap_or(0), 0, "store tmp is empty");
}

#[test]
fn release_retries_blob_downloads_answered_with_500() {
    assert_release_survives(Fault::ServerError { n: 3 });
}

#[test]
fn release_retries_blob_downloads_cut_short() {
    assert_release_survives(Fault::DropMidBody { n: 3 });
}

#[test]
fn release_refuses_a_blob_with_wrong_bytes_and_writes_no_tree() {
    let (fixture, proxy) =
        behind_proxy(testdir!(), |seeds| Fault::WrongBytes { digest: seeds.one_layer.clone() });
    let output = fixture.release("out");
    output.assert_failure();
    assert!(proxy.faults() >= 1, "the proxy served wrong bytes: {:#?}", proxy.log());
    output
        .assert_stderr_contains(&format!("{}/a/one:1", proxy.host()))
        .assert_stderr_contains(&fixture.seeds.one_layer)
        .assert_stderr_contains(&format!("registry {}", proxy.host()));
    let out = fixture.dir.join("out");
    assert!(!out.join(TREE).exists(), "a failed release wrote a tree");
    let leftovers: Vec<String> = fs::read_dir(&out)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "a failed release left {leftovers:?} in {}", out.display());
    let store = fixture.dir.join("target/helmkots-store");
    assert!(
        !store.join("blobs/sha256").join(fixture.seeds.one_layer.trim_start_matches("sha256:")).exists(),
        "the wrong bytes entered the store"
    );
    assert_eq!(fs::read_dir(store.join("tmp")).map(|d| d.count()).unwrap_or(0), 0, "store tmp is empty");
}

// --- 5. reproducible ---------------------------------------------------------------------------

#[test]
fn two_runs_give_the_same_bundle_bytes() {
    let fixture = Fixture::new(testdir!());
    fixture.release("out1").assert_success();
    fixture.release("out2").assert_success();
    let first = fixture.dir.join("out1").join(TREE);
    let second = fixture.dir.join("out2").join(TREE);
    let bundle = format!("{TREE}.airgap");
    assert_eq!(
        sha256_file(first.join(&bundle)),
        sha256_file(second.join(&bundle)),
        "two runs wrote different bundles"
    );
    assert_eq!(fs::read(first.join("SHA256SUMS")).unwrap(), fs::read(second.join("SHA256SUMS")).unwrap());
}

/// The images the bundle saved from the fixture registry are byte-identical to the committed
/// golden: a refactor changes no output. The helm-cli image and `airgap.yaml` are left out:
/// the fixture's chart (which the helm-cli image carries) names the registry's random port.
#[test]
fn the_bundle_is_byte_identical_to_its_golden() {
    let fixture = Fixture::new(testdir!());
    fixture.release("out").assert_success();
    let bundle = fixture.dir.join("out").join(TREE).join(format!("{TREE}.airgap"));
    let entries: Vec<(String, Vec<u8>)> = bundle_entries(&bundle)
        .into_iter()
        .filter(|(path, is_file, _)| *is_file && path.starts_with("images/"))
        .map(|(path, _, bytes)| (path, bytes))
        .collect();
    // Digests in a path: `.../sha256/<hex>/...`; a blob is the helm-cli's alone when no other
    // repository links it.
    let digest_in = |path: &str| path.split('/').find(|part| part.len() == 64).map(str::to_string);
    let linked_by = |helm_cli: bool| -> BTreeSet<String> {
        entries
            .iter()
            .filter(|(path, _)| {
                path.contains("/repositories/helm-cli/") == helm_cli && path.contains("/repositories/")
            })
            .filter_map(|(path, _)| digest_in(path))
            .collect()
    };
    let others = linked_by(false);
    let helm_cli_only: BTreeSet<String> = linked_by(true).difference(&others).cloned().collect();
    let lines: Vec<String> = entries
        .iter()
        .filter(|(path, _)| !path.contains("/repositories/helm-cli/"))
        .filter(|(path, _)| !digest_in(path).is_some_and(|digest| helm_cli_only.contains(&digest)))
        .map(|(path, bytes)| format!("{}  {path}", sha256_hex(bytes)))
        .collect();
    assert!(lines.len() > 10, "the fixture's images are missing from the bundle: {lines:#?}");
    if let Err(message) = golden_outputs("airgap-bundle-images.SHA256SUMS", &lines) {
        panic!("{message}");
    }
}

// --- helmkots.lock ---------------------------------------------------------------------------

fn tag_link(bundle: &Path, repository: &str, tag: &str) -> String {
    let link =
        format!("images/docker/registry/v2/repositories/{repository}/_manifests/tags/{tag}/current/link");
    let entries = bundle_entries(bundle);
    let (_, _, text) = entries.iter().find(|(p, _, _)| p == &link).unwrap_or_else(|| panic!("no {link}"));
    String::from_utf8_lossy(text).into_owned()
}

#[test]
fn the_lock_pins_a_moved_tag_until_lock_update() {
    let fixture = Fixture::new(testdir!());
    let seeds = &fixture.seeds;
    let lock_path = fixture.dir.join("helmkots.lock");
    let lock = |args: &[&str]| {
        fixture.dir.xtask("lock").args(args).env("DOCKER_CONFIG", fixture.dir.join("docker-config")).run()
    };
    fs::create_dir_all(fixture.dir.join("docker-config")).unwrap();
    lock(&[]).assert_success();
    let locked = read_json(&lock_path);
    assert_eq!(locked["images"][fixture.image("a/one:1")], seeds.one_digest.as_str(), "{locked:#}");
    assert_eq!(locked["images"][fixture.image("b/two:2")], seeds.two.digest.as_str(), "{locked:#}");
    assert_eq!(locked["images"][&seeds.base.reference], seeds.base.digest.as_str(), "{locked:#}");
    assert!(locked["images"].get(format!("{}@{}", fixture.image("c/three"), seeds.three_digest)).is_none());

    // The tag moves upstream; the release still ships what the lock pins.
    let moved = fixture.registry.seed_layers("a/one:1", &[&small_layer("moved.txt", 9, 1024)]);
    assert_ne!(moved, seeds.one_digest);
    fixture.release("out").assert_success();
    let bundle = fixture.dir.join("out").join(TREE).join(format!("{TREE}.airgap"));
    assert_eq!(tag_link(&bundle, "one", "1"), seeds.one_digest, "the locked digest is bundled");
    verify(&fixture.dir, &fixture.dir.join("out").join(TREE)).assert_success();

    // `lock --update` follows the tag; the next release ships the new image.
    lock(&["--update"]).assert_success();
    assert_eq!(read_json(&lock_path)["images"][fixture.image("a/one:1")], moved.as_str());
    fixture.release("out").assert_success();
    assert_eq!(tag_link(&bundle, "one", "1"), moved, "the updated digest is bundled");
    verify(&fixture.dir, &fixture.dir.join("out").join(TREE)).assert_success();
}

// --- incremental releases --------------------------------------------------------------------

/// Blob downloads the registry has logged so far (its access log).
fn blob_gets(registry: &TestRegistry) -> usize {
    registry
        .log()
        .lines()
        .filter(|line| line.contains("\"GET /v2/") && line.contains("/blobs/sha256:"))
        .count()
}

/// Requests of any kind the registry has logged so far.
fn requests(registry: &TestRegistry) -> usize {
    registry.log().lines().filter(|line| line.contains(" /v2/") && line.contains(" HTTP/1.1\" ")).count()
}

/// Path, size and modification time of every file under `dir`.
fn stamps(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    all_files(dir)
        .into_iter()
        .map(|path| {
            let metadata = fs::metadata(&path).unwrap();
            (path, metadata.len(), metadata.modified().unwrap())
        })
        .collect()
}

#[test]
fn a_second_release_with_nothing_changed_is_up_to_date_and_touches_nothing() {
    let fixture = Fixture::new(testdir!());
    fixture.release("out").assert_success();
    let tree = fixture.dir.join("out").join(TREE);
    let before = stamps(&tree);
    let (lock_before, requests_before) = (fixture.dir.read("helmkots.lock"), requests(&fixture.registry));
    assert!(requests_before > 0, "the registry logs requests:\n{}", fixture.registry.log());
    let again = fixture.release("out");
    again.assert_success().assert_stderr_contains("is up to date");
    assert_eq!(stamps(&tree), before, "an up-to-date release rewrote its tree");
    assert_eq!(fixture.dir.read("helmkots.lock"), lock_before);
    assert_eq!(requests(&fixture.registry), requests_before, "an up-to-date release used the network");

    // A file of the tree changed by hand is not trusted: the release runs again and repairs it.
    let job = tree.join("manifests/helm-cli-job.yaml");
    let original = fs::read(&job).unwrap();
    fs::write(&job, b"tampered\n").unwrap();
    let repaired = fixture.release("out");
    repaired.assert_success();
    assert!(!repaired.stderr.contains("up to date"), "{}", repaired.stderr);
    assert_eq!(fs::read(&job).unwrap(), original);
    assert_tree_intact(&tree);
}

#[test]
fn a_manifest_change_rewrites_the_bundle_head_and_copies_its_images() {
    let fixture = Fixture::new(testdir!());
    let bundle_name = format!("{TREE}.airgap");
    fixture.release("out").assert_success();
    let tree = fixture.dir.join("out").join(TREE);
    let first = fs::read(tree.join(&bundle_name)).unwrap();

    // A new update cursor changes airgap.yaml only.
    let release_toml = fixture.dir.read("release.toml");
    fixture.dir.write("release.toml", release_toml.replace("update_cursor = 7", "update_cursor = 8"));
    let blobs_before = blob_gets(&fixture.registry);
    assert!(blobs_before > 0, "the registry logs blob downloads:\n{}", fixture.registry.log());
    let requests_before = requests(&fixture.registry);
    let changed = fixture.release("out");
    changed.assert_success();
    assert!(!changed.stderr.contains("up to date"), "{}", changed.stderr);
    assert_eq!(blob_gets(&fixture.registry), blobs_before, "a manifest change downloaded blobs again");
    assert_eq!(
        requests(&fixture.registry),
        requests_before,
        "a manifest change used the registry: the helm-cli image is unchanged and every image is in the store"
    );
    let second = fs::read(tree.join(&bundle_name)).unwrap();
    assert_ne!(first, second, "the bundle did not change");
    let entries = bundle_entries(&tree.join(&bundle_name));
    let airgap_yaml: Value = serde_json::from_slice(&entries[0].2).unwrap();
    assert_eq!(airgap_yaml["spec"]["updateCursor"], "8");
    // The images member was copied: the two bundles end with the same bytes, the member
    // starts where the recorded span says, with a gzip header.
    let record: Value = read_json(&fixture.dir.join("target/helmkots/fingerprints/airgap-images.json"));
    let (offset, length) = (
        record["record"]["span"]["offset"].as_u64().unwrap() as usize,
        record["record"]["span"]["length"].as_u64().unwrap() as usize,
    );
    assert_eq!(offset + length, second.len());
    assert_eq!(&second[offset..offset + 2], &[0x1f, 0x8b], "the images member is a gzip member");
    assert_eq!(&second[offset..], &first[first.len() - length..], "the images member was rewritten");
    let report = verify(&fixture.dir, &tree);
    report.assert_success();
    assert_eq!(report.json()["problems"], json!([]));

    // Back to the first cursor: byte-identical to the first bundle, and to a cold release
    // with an empty store and no fingerprints.
    fixture.dir.write("release.toml", &release_toml);
    fixture.release("out").assert_success();
    assert_eq!(
        fs::read(tree.join(&bundle_name)).unwrap(),
        first,
        "incremental bundle differs from the first"
    );
    fs::remove_dir_all(fixture.dir.join("target")).unwrap();
    fixture.release("cold").assert_success();
    assert_eq!(
        fs::read(fixture.dir.join("cold").join(TREE).join(&bundle_name)).unwrap(),
        first,
        "a cold release wrote different bytes"
    );
}

#[test]
fn online_releases_killed_at_any_moment_leave_the_tree_whole_and_the_next_run_completes() {
    let fixture = Fixture::new(testdir!());
    let tree = fixture.dir.join("out").join(TREE);
    fixture.release("out").assert_success();
    let release_toml = fixture.dir.read("release.toml");
    fs::create_dir_all(fixture.dir.join("docker-config")).unwrap();
    // Each run changes the manifests (the update cursor) and, every other run, the chart (so
    // the helm-cli image is rebuilt and pushed): the kills land in every step, from the
    // helm-cli push through the bundle to the swap.
    for (run, delay_ms) in [0u64, 30, 80, 150, 250, 400, 600, 900].into_iter().enumerate() {
        let cursor = 100 + run;
        fixture.dir.write(
            "release.toml",
            release_toml.replace("update_cursor = 7", &format!("update_cursor = {cursor}")),
        );
        if run % 2 == 1 {
            fixture.dir.write("chart/templates/note.txt", format!("run {run}\n"));
        }
        let mut child = fixture
            .dir
            .xtask("release")
            .args(["--no-proof", "--out", "out"])
            .env("DOCKER_CONFIG", fixture.dir.join("docker-config"))
            .spawn();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let status = child.wait().expect("wait for the killed run");
        if tree.exists() {
            assert_tree_intact(&tree);
        }
        helmkots_e2e::assert_store_sound(fixture.dir.join("target/helmkots-store"));

        let output = fixture.release("out");
        output.assert_success();
        assert_tree_intact(&tree);
        let entries = bundle_entries(&tree.join(format!("{TREE}.airgap")));
        let airgap_yaml: Value = serde_json::from_slice(&entries[0].2).unwrap();
        assert_eq!(
            airgap_yaml["spec"]["updateCursor"],
            cursor.to_string(),
            "run {run} (killed after {delay_ms} ms, {status}): the tree is not built from the current inputs"
        );
        let report = verify(&fixture.dir, &tree);
        report.assert_success();
        assert_eq!(report.json()["problems"], json!([]), "run {run}");
    }
}

#[test]
fn channel_and_update_cursor_flags_replace_the_release_file_and_count_as_changes() {
    let fixture = Fixture::new(testdir!());
    let tree = fixture.dir.join("out").join(TREE);
    let run = |cursor: &str| {
        fs::create_dir_all(fixture.dir.join("docker-config")).unwrap();
        fixture
            .dir
            .xtask("release")
            .args(["--no-proof", "--out", "out", "--channel-id", "ci-channel", "--update-cursor", cursor])
            .env("DOCKER_CONFIG", fixture.dir.join("docker-config"))
            .run()
    };
    let spec = || {
        let entries = bundle_entries(&tree.join(format!("{TREE}.airgap")));
        serde_json::from_slice::<Value>(&entries[0].2).unwrap()["spec"].clone()
    };
    run("41").assert_success();
    assert_eq!(
        (spec()["channelID"].clone(), spec()["updateCursor"].clone()),
        (json!("ci-channel"), json!("41"))
    );
    run("41").assert_success().assert_stderr_contains("is up to date");
    let next = run("42");
    next.assert_success();
    assert!(!next.stderr.contains("up to date"), "a new cursor is a change: {}", next.stderr);
    assert_eq!(spec()["updateCursor"], "42");
    // Without the flags, release.toml's values come back.
    fixture.release("out").assert_success();
    assert_eq!(
        (spec()["channelID"].clone(), spec()["updateCursor"].clone()),
        (json!("test-channel"), json!("7"))
    );
}

#[test]
fn the_lock_drops_images_the_release_no_longer_uses() {
    let fixture = Fixture::new(testdir!());
    let release_toml = fixture.dir.read("release.toml");
    let extra = fixture.image("c/three:3");
    fixture.dir.write(
        "release.toml",
        release_toml.replace("[images]\n", &format!("[images]\ninclude = [\"{extra}\"]\n")),
    );
    fixture.release("out").assert_success();
    let locked =
        |reference: &str| read_json(&fixture.dir.join("helmkots.lock"))["images"].get(reference).is_some();
    assert!(locked(&extra), "the included image is locked");
    assert!(locked(&fixture.image("a/one:1")));
    fixture.dir.write("release.toml", &release_toml);
    fixture.release("out").assert_success();
    assert!(!locked(&extra), "an image the release no longer uses stays in the lock");
    assert!(locked(&fixture.image("a/one:1")) && locked(&fixture.seeds.base.reference));
}

#[test]
fn a_locked_release_refuses_a_lock_that_would_change() {
    let fixture = Fixture::new(testdir!());
    // Discovery from values needs no renders in the lock: this test is about the pins.
    let release_toml = fixture.dir.read("release.toml");
    fixture
        .dir
        .write("release.toml", release_toml.replace("[images]\n", "[images]\ndiscover = \"values\"\n"));
    fixture.release("out").assert_success();
    let locked_release = |out: &str| {
        fs::create_dir_all(fixture.dir.join("docker-config")).unwrap();
        fixture
            .dir
            .xtask("release")
            .args(["--no-proof", "--locked", "--out", out])
            .env("DOCKER_CONFIG", fixture.dir.join("docker-config"))
            .run()
    };
    // Nothing changed: the lock holds, --locked passes.
    locked_release("same").assert_success();
    // An image the lock does not pin yet: the lock would change, so nothing is written.
    let before = fs::read(fixture.dir.join("helmkots.lock")).unwrap();
    let extra = fixture.image("c/three:3");
    let release_toml = fixture.dir.read("release.toml");
    fixture.dir.write(
        "release.toml",
        release_toml.replace("[images]\n", &format!("[images]\ninclude = [\"{extra}\"]\n")),
    );
    locked_release("grown")
        .assert_code(2)
        .assert_stderr_contains("helmkots.lock is out of date and --locked forbids changing it")
        .assert_stderr_contains(&format!("`{extra}`"));
    assert_eq!(
        fs::read(fixture.dir.join("helmkots.lock")).unwrap(),
        before,
        "--locked changed helmkots.lock"
    );
    assert!(!fixture.dir.join("grown").exists(), "a refused --locked release wrote a tree");
}

#[test]
fn values_only_images_are_bundled_with_their_size() {
    helmkots_e2e::require_helm();
    let fixture = Fixture::new(testdir!());
    // `three` is named in the values but rendered by no configuration.
    let template = fixture.dir.read("chart/templates/deployment.yaml");
    fixture.dir.write(
        "chart/templates/deployment.yaml",
        template.replace(
            "        - name: three\n          image: {{ .Values.three.image | quote }}\n",
            "        {{- if .Values.three.enabled }}\n        - name: three\n          image: {{ .Values.three.image | quote }}\n        {{- end }}\n",
        ),
    );
    fs::create_dir_all(fixture.dir.join("docker-config")).unwrap();
    let three = format!("{}@{}", fixture.image("c/three"), fixture.seeds.three_digest);
    let (_, manifest) = raw_digest(&three);
    let expected: u64 = std::iter::once(&manifest["config"])
        .chain(manifest["layers"].as_array().expect("layers"))
        .map(|descriptor| descriptor["size"].as_u64().expect("size"))
        .sum();
    let output = fixture
        .dir
        .xtask("release")
        .args(["--no-proof", "--out", "out"])
        .env("DOCKER_CONFIG", fixture.dir.join("docker-config"))
        .env("PATH", helmkots_e2e::path_with_tools())
        .run();
    output
        .assert_success()
        .assert_stderr_contains("1 image(s) found in the values are bundled although no configuration")
        .assert_stderr_contains(&format!("{three} ({:.1} MiB)", expected as f64 / 1048576.0));
    let images = fixture.dir.xtask("images").arg("--json").env("PATH", helmkots_e2e::path_with_tools()).run();
    images.assert_success();
    let json = images.json();
    let entry = json["images"]
        .as_array()
        .expect("images")
        .iter()
        .find(|image| image["reference"] == three.as_str())
        .unwrap_or_else(|| panic!("{three} is not listed: {json:#}"));
    assert_eq!(entry["found_by"], "values", "{entry:#}");
    assert_eq!(entry["size"], expected, "the size is not what the bundle holds of it: {entry:#}");
}

#[test]
fn verify_proof_of_a_bundle_alone_gives_the_same_report_from_any_directory() {
    helmkots_e2e::require_helm();
    let fixture = Fixture::new(testdir!());
    fs::create_dir_all(fixture.dir.join("docker-config")).unwrap();
    fixture
        .dir
        .xtask("release")
        .args(["--no-proof", "--out", "out"])
        .env("DOCKER_CONFIG", fixture.dir.join("docker-config"))
        .env("PATH", helmkots_e2e::path_with_tools())
        .run()
        .assert_success();
    let tree = fixture.dir.join("out").join(TREE);
    let bundle = tree.join(format!("{TREE}.airgap"));
    let proof_of = |target: &Path, cwd: &Path| {
        let output = helmkots_e2e::TestCommand::new(cwd)
            .arg("verify")
            .arg(target)
            .args(["--proof", "--json"])
            .env("PATH", helmkots_e2e::path_with_tools())
            .run();
        output.assert_success();
        output.json()
    };
    let from_tree = proof_of(&tree, fixture.dir.path());
    let own = proof_of(&bundle, fixture.dir.path());
    assert!(own["runs"].as_array().is_some_and(|runs| !runs.is_empty()), "{own:#}");
    assert_eq!(own["runs"], from_tree["runs"], "the bundle proves what the tree proves");
    let elsewhere = testdir!();
    assert_eq!(proof_of(&bundle, elsewhere.path()), own, "from another directory");
    // A release.toml lying in the current directory changes nothing.
    let unrelated = testdir!();
    unrelated.write("release.toml", "[app]\nslug = \"other\"\ntitle = \"Other\"\n\n[chart]\npath = \"nowhere\"\nrelease_name = \"other\"\n");
    assert_eq!(proof_of(&bundle, unrelated.path()), own, "beside an unrelated release.toml");
}

// --- issue 18: what leaves the machine, and under which name ---------------------------------

/// The tags of `repository` on `registry`; empty when the repository does not exist.
fn tags(registry: &TestRegistry, repository: &str) -> Vec<String> {
    let (ok, output) = run(Command::new("skopeo")
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://{}", registry.image(repository))));
    if !ok {
        assert!(
            output.contains("NAME_UNKNOWN") || output.contains("404"),
            "skopeo list-tags failed:\n{output}"
        );
        return Vec::new();
    }
    let listed: Value = serde_json::from_str(&output).unwrap_or_else(|e| panic!("not JSON ({e}): {output}"));
    let mut tags: Vec<String> = listed["Tags"]
        .as_array()
        .map(|tags| tags.iter().filter_map(|tag| tag.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    tags.sort();
    tags
}

/// The helm-cli image a written tree's build record names (`name:tag@digest`).
fn recorded_helm_cli(dir: &TestDir, out: &str) -> String {
    let record = read_json(&dir.join(out).join("airgap-test-0.1.0").join("release.lock.json"));
    record["airgap"]["helm_cli_image"].as_str().expect("helm_cli_image in the record").to_string()
}

/// Item 6: a release that fails after the helm-cli image is built (here: an image the
/// registry does not have) pushes nothing; the same release once fixed pushes it.
#[test]
fn issue_18_6_a_release_that_fails_pushes_nothing() {
    let fixture = Fixture::new(testdir!());
    let values = fixture.dir.read("chart/values.yaml");
    fixture.dir.write(
        "chart/values.yaml",
        format!("{values}missing:\n  image: \"{}\"\n", fixture.image("z/missing:1")),
    );
    let failed = fixture.release("dist");
    failed.assert_code(2);
    assert_eq!(tags(&fixture.registry, "acme/helm-cli"), Vec::<String>::new(), "{}", failed.stderr);
    assert!(!fixture.dir.join("dist/airgap-test-0.1.0").exists(), "a failed release wrote its tree");

    fixture.dir.write("chart/values.yaml", values);
    let done = fixture.release("dist");
    done.assert_success();
    let pushed = recorded_helm_cli(&fixture.dir, "dist");
    let tag = pushed.split('@').next().and_then(|name| name.rsplit(':').next()).expect("a tag").to_string();
    assert_eq!(tags(&fixture.registry, "acme/helm-cli"), vec![tag], "{}", done.stderr);
    done.assert_stderr_contains(&format!("pushed {pushed}"));
    let digest = pushed.split('@').nth(1).expect("a digest");
    assert_eq!(raw_digest(pushed.split('@').next().unwrap()).0, digest, "the tag names the recorded digest");
}

/// Item 7: the helm-cli tag names one content. Its revision label changes with the commit, so
/// an empty commit gives another tag (and digest); the tag pushed first still names the
/// digest it named.
#[test]
fn issue_18_7_the_helm_cli_tag_names_one_content() {
    let fixture = Fixture::new(testdir!());
    let dir = &fixture.dir;
    let git = |args: &[&str]| {
        let (ok, output) = run(Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(dir.path()));
        assert!(ok, "git {args:?} failed:\n{output}");
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "one"]);
    fixture.release("dist").assert_success();
    let first = recorded_helm_cli(dir, "dist");
    git(&["commit", "-q", "--allow-empty", "-m", "two"]);
    fixture.release("dist").assert_success();
    let second = recorded_helm_cli(dir, "dist");
    let (first_name, first_digest) = first.split_once('@').expect("pinned");
    let (second_name, second_digest) = second.split_once('@').expect("pinned");
    assert_ne!(first_digest, second_digest, "the revision label is part of the image");
    assert_ne!(first_name, second_name, "two contents under one tag: {first} and {second}");
    assert_eq!(raw_digest(first_name).0, first_digest, "{first_name} was moved");
    assert_eq!(raw_digest(second_name).0, second_digest);
}

/// Item 10: a plain-HTTP registry under a name that is not a loopback name is refused with
/// the fix, and used once `[images] insecure` lists it.
#[test]
fn issue_18_10_a_plain_http_registry_listed_as_insecure_is_used() {
    let Some((hostname, address)) = local_hostname() else {
        eprintln!("skipped: this machine's hostname does not resolve to a local address");
        return;
    };
    let registry = TestRegistry::start();
    let seeds = seed(&registry);
    let proxy = FaultProxy::start_on(address, &registry.host(), Fault::None);
    let host = format!("{hostname}:{}", proxy.port());
    let dir = testdir!();
    write_release(&dir, &seeds, &registry.host(), &host);
    let refused = release(&dir, "dist");
    refused.assert_code(2).assert_stderr_contains("[images] insecure");
    assert_eq!(tags(&registry, "acme/helm-cli"), Vec::<String>::new());

    let text = dir.read("release.toml");
    dir.write("release.toml", text.replace("[images]\n", &format!("[images]\ninsecure = [\"{host}\"]\n")));
    let done = release(&dir, "dist");
    done.assert_success();
    assert_eq!(tags(&registry, "acme/helm-cli").len(), 1, "{}", done.stderr);
}

/// The machine's hostname and a local address it resolves to, when it is not a loopback name
/// (`localhost`) and resolves to an address this machine can listen on.
fn local_hostname() -> Option<(String, std::net::IpAddr)> {
    use std::net::ToSocketAddrs;
    let hostname = fs::read_to_string("/proc/sys/kernel/hostname").ok()?.trim().to_string();
    if hostname.is_empty()
        || hostname.eq_ignore_ascii_case("localhost")
        || hostname.parse::<std::net::IpAddr>().is_ok()
    {
        return None;
    }
    let address =
        (hostname.as_str(), 0).to_socket_addrs().ok()?.map(|addr| addr.ip()).find(|ip| ip.is_ipv4())?;
    std::net::TcpListener::bind((address, 0)).ok()?;
    Some((hostname, address))
}

// --- issue 18: no documented key is a no-op ---------------------------------------------------

/// The keys of README's release.toml tables: (`[section]` or `config.groups`/`config.groups.items`,
/// key), from its "release.toml reference" section.
fn readme_release_keys() -> Vec<(String, String)> {
    let readme = fs::read_to_string(helmkots_e2e::repo_root().join("README.md")).expect("README.md");
    let start = readme.find("## release.toml reference").expect("README has a release.toml reference");
    let end = start + readme[start..].find("\n## The output tree").expect("the reference ends");
    let mut section = String::new();
    let mut keys = Vec::new();
    for line in readme[start..end].lines() {
        if let Some(title) = line.strip_prefix("### `[") {
            section = title.split(['`', ']']).next().unwrap_or_default().trim_start_matches('[').to_string();
            continue;
        }
        let Some(cell) = line.strip_prefix("| ").and_then(|row| row.split(" |").next()) else { continue };
        if cell == "key" || cell.starts_with("---") {
            continue;
        }
        // `item `required`, `hidden`, `readonly``: one row, three keys.
        let (scope, names) = match cell.split_once(' ') {
            Some(("group", names)) => ("config.groups".to_string(), names),
            Some(("item", names)) => ("config.groups.items".to_string(), names),
            _ => (section.clone(), cell),
        };
        for name in names.split(", ") {
            keys.push((scope.clone(), name.trim_matches('`').to_string()));
        }
    }
    keys
}

/// A release.toml kept as sections of `key = value` lines, so one key can be changed.
#[derive(Clone)]
struct ReleaseToml(Vec<(String, Vec<(String, String)>)>);

impl ReleaseToml {
    fn set(&mut self, section: &str, key: &str, value: &str) {
        let index = match self.0.iter().position(|(name, _)| name == section) {
            Some(index) => index,
            None => {
                self.0.push((section.to_string(), Vec::new()));
                self.0.len() - 1
            }
        };
        let entries = &mut self.0[index].1;
        match entries.iter_mut().find(|(name, _)| name == key) {
            Some(entry) => entry.1 = value.to_string(),
            None => entries.push((key.to_string(), value.to_string())),
        }
    }

    fn text(&self) -> String {
        let mut text = String::new();
        for (section, entries) in &self.0 {
            let header = match section.as_str() {
                "config.groups" | "config.groups.items" => format!("[[{section}]]"),
                _ => format!("[{section}]"),
            };
            text.push_str(&format!("{header}\n"));
            for (key, value) in entries {
                text.push_str(&format!("{key} = {value}\n"));
            }
            text.push('\n');
        }
        text
    }
}

/// What a release run shows: its exit code, every file it wrote (by digest) but the build
/// record and its checksums, helmkots.lock, and its stderr (for messages; not compared).
fn observe(dir: &TestDir, out: &str) -> (Option<i32>, BTreeMap<String, String>, String, String) {
    let output = run_with_helm(dir, "release", &["--no-proof", "--out", out]);
    if !output.status.success() {
        assert!(
            output.stderr.contains("error") || output.stderr.contains('×'),
            "{}: failed without an error message:\n{}",
            output.command,
            output.stderr
        );
    }
    let mut tree =
        if dir.join(out).exists() { helmkots_e2e::tree_digests(dir.join(out)) } else { BTreeMap::new() };
    // The build record names release.toml's digest (and SHA256SUMS the record's): any edit
    // changes them, so they tell nothing about what a key does.
    tree.retain(|path, _| !path.ends_with("/release.lock.json") && !path.ends_with("/SHA256SUMS"));
    let lock = fs::read_to_string(dir.join("helmkots.lock")).unwrap_or_default();
    (output.status.code(), tree, lock, output.stderr)
}

/// `xtask <task> -f <dir>/release.toml ARGS`, anonymous (an empty Docker config directory),
/// with the test `helm` on PATH.
fn run_with_helm(dir: &TestDir, task: &str, args: &[impl AsRef<std::ffi::OsStr>]) -> TestOutput {
    fs::create_dir_all(dir.join("docker-config")).unwrap();
    dir.xtask(task)
        .args(args)
        .env("DOCKER_CONFIG", dir.join("docker-config"))
        .env("PATH", helmkots_e2e::path_with_tools())
        .run()
}

/// Every key of README's release.toml tables changes what a release writes, or is refused
/// with a clear error: a key documented without an effect (or added to README without a
/// change listed here) fails this test.
#[test]
fn issue_18_every_documented_release_toml_key_changes_an_output() {
    let registry = TestRegistry::start();
    let seeds = seed(&registry);
    let dir = testdir!();
    write_release(&dir, &seeds, &registry.host(), &registry.host());
    let host = registry.host();
    let other_base = registry.seed_busybox("other/busybox:1").reference;
    // A `helm test` pod whose image nothing else deploys (what ship_test_images ships).
    dir.write(
        "chart/templates/test-pod.yaml",
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{{{ .Release.Name }}}}-test\n  annotations:\n    helm.sh/hook: test\nspec:\n  containers:\n    - name: test\n      image: \"{}\"\n",
            other_base
        ),
    );
    // An image only a render shows (what `discover` decides about).
    let hard_coded = registry.seed_busybox("hard/coded:1").reference;
    dir.write(
        "chart/templates/hard-coded.yaml",
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{{{ .Release.Name }}}}-hard\nspec:\n  containers:\n    - name: hard\n      image: \"{hard_coded}\"\n"
        ),
    );
    let values = dir.read("chart/values.yaml");
    dir.write("chart/values.yaml", format!("{values}settings:\n  replicas: 1\n  surge: 1\n"));
    helmkots_e2e::copy_dir(&dir.join("chart"), &dir.join("chart-copy"));
    dir.write(
        "chart-copy/Chart.yaml",
        dir.read("chart/Chart.yaml").replace("airgap e2e test chart", "a copy"),
    );
    let quoted = |text: &str| format!("{text:?}");
    let mut base = ReleaseToml(Vec::new());
    for (section, key, value) in [
        ("app", "slug", quoted("airgap-test")),
        ("app", "title", quoted("Airgap Test")),
        ("chart", "path", quoted("chart")),
        ("chart", "release_name", quoted("airgap-test")),
        ("helm_cli", "base", quoted(&seeds.base.reference)),
        ("helm_cli", "name", quoted(&format!("{host}/acme/helm-cli"))),
        ("images", "platforms", "[\"linux/amd64\"]".to_string()),
        ("images", "private", format!("[\"{host}/c/*\"]")),
        ("airgap", "channel_id", quoted("test-channel")),
        ("airgap", "update_cursor", "7".to_string()),
        ("config.groups", "name", quoted("settings")),
        ("config.groups", "title", quoted("Settings")),
        ("config.groups.items", "name", quoted("replicas")),
        ("config.groups.items", "type", quoted("text")),
        ("config.groups.items", "default", quoted("1")),
        ("config.groups.items", "value", quoted("settings.replicas")),
    ] {
        base.set(section, key, &value);
    }
    // One change for each documented key.
    let changes: Vec<(&str, &str, String)> = vec![
        ("app", "slug", quoted("other-app")),
        ("app", "title", quoted("Other")),
        ("app", "icon", quoted("https://example.com/icon.png")),
        ("app", "version", quoted("2.0.0")),
        ("app", "status_informers", "[\"deployment/airgap-test\"]".to_string()),
        ("chart", "path", quoted("chart-copy")),
        ("chart", "release_name", quoted("other")),
        ("chart", "namespace", quoted("monitoring")),
        ("chart", "values", "{ podAnnotations = { a = \"b\" } }".to_string()),
        ("chart", "helm_args", "[\"--wait\"]".to_string()),
        ("chart", "kube_versions", "[\"1.33.0\"]".to_string()),
        ("helm_cli", "base", quoted(&other_base)),
        ("helm_cli", "name", quoted(&format!("{host}/acme/other-cli"))),
        ("helm_cli", "workdir", quoted("/charts")),
        ("helm_cli", "platform", quoted("linux/arm64")),
        ("job", "name", quoted("install-it")),
        ("job", "service_account", quoted("installer")),
        ("job", "backoff_limit", "5".to_string()),
        ("images", "discover", quoted("values")),
        ("images", "include", format!("[{}]", quoted(&other_base))),
        ("images", "exclude", "[\"*/d/four*\"]".to_string()),
        ("images", "proxy", quoted("proxy.example.com/other")),
        ("images", "private", format!("[\"{host}/d/*\"]")),
        ("images", "platforms", "[\"linux/amd64\", \"linux/arm64\"]".to_string()),
        ("images", "ship_test_images", "true".to_string()),
        ("airgap", "channel_id", quoted("other-channel")),
        ("airgap", "channel_name", quoted("Stable")),
        ("airgap", "update_cursor", "8".to_string()),
        ("airgap", "release_notes", quoted("Notes")),
        ("proof", "strength", "2".to_string()),
        ("config.groups", "name", quoted("other")),
        ("config.groups", "title", quoted("Other")),
        ("config.groups", "description", quoted("How it runs.")),
        ("config.groups", "when", quoted("repl{{ ConfigOptionEquals \"replicas\" \"1\" }}")),
        ("config.groups.items", "name", quoted("copies")),
        ("config.groups.items", "title", quoted("Copies")),
        ("config.groups.items", "type", quoted("textarea")),
        ("config.groups.items", "default", quoted("2")),
        ("config.groups.items", "value", quoted("settings.surge")),
        ("config.groups.items", "when", quoted("repl{{ ConfigOptionEquals \"replicas\" \"1\" }}")),
        ("config.groups.items", "help_text", quoted("How many.")),
        ("config.groups.items", "secret", "true".to_string()),
        ("config.groups.items", "required", "true".to_string()),
        ("config.groups.items", "hidden", "true".to_string()),
        ("config.groups.items", "readonly", "true".to_string()),
        ("config.groups.items", "choices", "[{ name = \"a\", title = \"A\" }]".to_string()),
    ];
    // Keys whose effect needs a setting no single release shows, with the test that shows it.
    let shown_elsewhere =
        [("images", "insecure", "issue_18_10_a_plain_http_registry_listed_as_insecure_is_used")];

    let documented = readme_release_keys();
    let listed: Vec<(String, String)> = changes
        .iter()
        .map(|(section, key, _)| (section.to_string(), key.to_string()))
        .chain(shown_elsewhere.iter().map(|(section, key, _)| (section.to_string(), key.to_string())))
        .collect();
    let unlisted: Vec<&(String, String)> = documented.iter().filter(|key| !listed.contains(key)).collect();
    assert!(unlisted.is_empty(), "README documents keys this test does not change: {unlisted:?}");
    let undocumented: Vec<&(String, String)> =
        listed.iter().filter(|key| !documented.contains(key)).collect();
    assert!(undocumented.is_empty(), "keys changed here that README does not document: {undocumented:?}");

    dir.write("release.toml", base.text());
    let baseline = observe(&dir, "out-base");
    assert_eq!(baseline.0, Some(0), "the baseline release failed:\n{}", baseline.3);
    let mut no_ops = Vec::new();
    for (index, (section, key, value)) in changes.iter().enumerate() {
        let mut changed = base.clone();
        changed.set(section, key, value);
        dir.write("release.toml", changed.text());
        let observed = observe(&dir, &format!("out-{index}"));
        if observed.0 == Some(0) && observed.1 == baseline.1 && observed.2 == baseline.2 {
            no_ops.push(format!("[{section}] {key} = {value}"));
        }
    }
    assert!(no_ops.is_empty(), "documented keys that changed nothing: {no_ops:#?}");
}

/// A registry name that does not resolve is reported at once, with the fix, not retried.
#[test]
fn issue_18_a_name_that_does_not_resolve_is_not_retried() {
    let fixture = Fixture::new(testdir!());
    let text = fixture.dir.read("release.toml");
    fixture.dir.write(
        "release.toml",
        text.replace("[images]\n", "[images]\ninclude = [\"registry.nonexistent.invalid/acme/tool:1.0\"]\n"),
    );
    let output = fixture.release("dist");
    output.assert_code(2).assert_stderr_contains("does not resolve");
    assert!(
        !output.stderr.contains("retrying"),
        "a name that does not resolve was retried:\n{}",
        output.stderr
    );
}

// --- issue 18: no documented flag is a no-op ---------------------------------------------------

/// The flags of README's commands table: (task, `--flag`).
fn readme_flags() -> Vec<(String, String)> {
    let readme = fs::read_to_string(helmkots_e2e::repo_root().join("README.md")).expect("README.md");
    let mut flags = Vec::new();
    for line in readme.lines() {
        let Some(command) = line.strip_prefix("| `cargo xtask ").and_then(|row| row.split('`').next()) else {
            continue;
        };
        let mut words = command.split([' ', '[', ']', '=']);
        let task = words.next().unwrap_or_default().to_string();
        for word in words.filter(|word| word.starts_with("--")) {
            let flag = word.trim_end_matches("...").to_string();
            if !flags.contains(&(task.clone(), flag.clone())) {
                flags.push((task.clone(), flag));
            }
        }
    }
    flags
}

/// What a command shows: its exit code, its stdout (with the directory's path taken out), the
/// lines of its stderr (without digits, sorted), and every file of the directory but the
/// caches whose bytes depend on the time (fingerprints, renders), by digest.
fn observe_command(
    dir: &TestDir,
    args: &[String],
) -> (Option<i32>, String, Vec<String>, BTreeMap<String, String>) {
    let output = run_with_helm(dir, &args[0], &args[1..]);
    let stdout = output.stdout.replace(&dir.path().display().to_string(), "<dir>");
    // What stderr says, not the numbers (times, sizes) nor the order of concurrent lines.
    let mut stderr: Vec<String> = output
        .stderr
        .replace(&dir.path().display().to_string(), "<dir>")
        .lines()
        .map(|line| line.chars().filter(|c| !c.is_ascii_digit()).collect())
        .collect();
    stderr.sort();
    let mut files = helmkots_e2e::tree_digests(dir.path());
    files.retain(|path, _| {
        !path.contains("fingerprints") && !path.contains("/renders/") && !path.starts_with("docker-config")
    });
    (output.status.code(), stdout, stderr, files)
}

/// Every flag of README's commands table changes what its command does (its exit code, its
/// output, or the files it leaves), tried on two identical directories, with and without the
/// flag: a flag documented without an effect (or added without a case here) fails this test.
#[test]
fn issue_18_every_documented_flag_changes_what_its_command_does() {
    let registry = TestRegistry::start();
    let seeds = seed(&registry);
    let host = registry.host();
    let online = |dir: &TestDir| write_release(dir, &seeds, &host, &host);
    let released = |dir: &TestDir| {
        write_release(dir, &seeds, &host, &host);
        release(dir, "dist").assert_success();
    };
    let example = |dir: &TestDir| {
        dir.copy_example();
    };
    // A chart and no release file yet: what `init` starts from.
    let chart_only = |dir: &TestDir| {
        write_release(dir, &seeds, &host, &host);
        dir.remove("release.toml");
    };
    let tree = "dist/airgap-test-0.1.0";
    type Setup<'a> = &'a dyn Fn(&TestDir);
    // (task, flag, setup, arguments without the flag, with it)
    type Case<'a> = (&'a str, &'a str, Setup<'a>, Vec<String>, Vec<String>);
    let words = |text: &str| text.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let cases: Vec<Case<'_>> = vec![
        ("init", "--chart", &chart_only, words("init"), words("init --chart chart")),
        (
            "init",
            "--slug",
            &chart_only,
            words("init --chart chart"),
            words("init --chart chart --slug other"),
        ),
        ("init", "--force", &online, words("init --chart chart"), words("init --chart chart --force")),
        ("init", "--json", &chart_only, words("init --chart chart"), words("init --chart chart --json")),
        ("check", "--json", &online, words("check"), words("check --json")),
        ("images", "--locked", &online, words("images"), words("images --locked")),
        ("images", "--json", &online, words("images"), words("images --json")),
        ("release", "--offline", &online, words("release --no-proof"), words("release --no-proof --offline")),
        (
            "release",
            "--no-proof",
            &online,
            words("release --offline --json"),
            words("release --offline --json --no-proof"),
        ),
        ("release", "--locked", &online, words("release --no-proof"), words("release --no-proof --locked")),
        (
            "release",
            "--channel-id",
            &online,
            words("release --no-proof"),
            words("release --no-proof --channel-id other"),
        ),
        (
            "release",
            "--update-cursor",
            &online,
            words("release --no-proof"),
            words("release --no-proof --update-cursor 9"),
        ),
        (
            "release",
            "--out",
            &online,
            words("release --no-proof --offline"),
            words("release --no-proof --offline --out elsewhere"),
        ),
        (
            "release",
            "--json",
            &online,
            words("release --no-proof --offline"),
            words("release --no-proof --offline --json"),
        ),
        (
            "release",
            "--timings",
            &online,
            words("release --no-proof --offline"),
            words("release --no-proof --offline --timings"),
        ),
        ("image", "--push", &online, words("image --json"), words("image --json --push")),
        ("image", "--out", &online, words("image"), words("image --out layout")),
        ("image", "--json", &online, words("image"), words("image --json")),
        ("lock", "--update", &released, words("lock"), words("lock --update")),
        ("preview", "--airgap", &example, words("preview"), words("preview --airgap")),
        ("preview", "--registry", &example, words("preview"), words("preview --registry registry.lan/ns")),
        ("preview", "--set", &example, words("preview"), words("preview --set replicas=3")),
        ("preview", "--namespace", &example, words("preview"), words("preview --namespace other")),
        ("preview", "--json", &example, words("preview"), words("preview --json")),
        (
            "verify",
            "--json",
            &released,
            words(&format!("verify {tree}")),
            words(&format!("verify {tree} --json")),
        ),
        (
            "verify",
            "--proof",
            &released,
            words(&format!("verify {tree} --json")),
            words(&format!("verify {tree} --proof --json")),
        ),
        (
            "inspect",
            "--json",
            &released,
            words(&format!("inspect {tree}")),
            words(&format!("inspect {tree} --json")),
        ),
        ("clean", "--dry-run", &released, words("clean"), words("clean --dry-run")),
        ("clean", "--json", &released, words("clean"), words("clean --json")),
    ];
    // Flags of tasks a test cannot run: `bench` measures for minutes, and `test` runs this
    // test suite. Each is exercised where it belongs (CI runs `cargo xtask test`).
    let not_run = ["bench", "test"];

    let documented = readme_flags();
    let covered: Vec<(String, String)> =
        cases.iter().map(|(task, flag, ..)| (task.to_string(), flag.to_string())).collect();
    let unlisted: Vec<&(String, String)> = documented
        .iter()
        .filter(|(task, _)| !not_run.contains(&task.as_str()))
        .filter(|key| !covered.contains(key))
        .collect();
    assert!(unlisted.is_empty(), "README documents flags this test does not try: {unlisted:?}");
    let undocumented: Vec<&(String, String)> =
        covered.iter().filter(|key| !documented.contains(key)).collect();
    assert!(undocumented.is_empty(), "flags tried here that README does not document: {undocumented:?}");

    let mut no_ops = Vec::new();
    for (index, (task, flag, setup, without, with)) in cases.iter().enumerate() {
        let (plain, flagged) =
            (TestDir::new(&format!("flag-{index}-without")), TestDir::new(&format!("flag-{index}-with")));
        setup(&plain);
        setup(&flagged);
        if *task == "lock" {
            // The tag moves after both locks pinned it: what `--update` follows.
            registry.seed_layers("a/one:1", &[&small_layer("moved.txt", 9, 4096)]);
        }
        let before = observe_command(&plain, without);
        let after = observe_command(&flagged, with);
        if before == after {
            no_ops.push(format!("{task} {flag}"));
        }
    }
    assert!(no_ops.is_empty(), "documented flags that changed nothing: {no_ops:#?}");
}
