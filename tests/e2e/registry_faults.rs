//! Registry faults during the airgap pull (issue #7): `cargo xtask release` against a real
//! `docker-registry` behind the fault proxy. Every fault either yields the very bundle a
//! fault-free run writes (and `verify` passes), or fails with an error that names the image,
//! the blob and the registry, leaving no bundle and no bad blob in the store. A download cut
//! short (by the registry, or by `kill -9` of the release) resumes with a `Range` request.
//!
//! Stalls are detected after `HELMKOTS_STALL_TIMEOUT_SECS=1`, so no test waits long.

use std::{
    fs,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use helmkots::{
    internals::oci::image::layer::{build_layer, Layer, LayerEntry},
    internals::oci::registry::media::OCI_LAYER_GZIP,
};
use helmkots_e2e::{
    fault_proxy::{Fault, FaultProxy},
    registry::TestRegistry,
    sha256_file, testdir, TestCommand, TestDir, TestOutput,
};
use serde_json::json;

/// `<slug>-<version>` of the test release.
const TREE: &str = "faults-test-0.1.0";
const EPOCH: u64 = 946_684_800;
/// The uncompressed size of the big layer's file; random bytes, so the blob is as large.
const BIG: usize = 3 * 1024 * 1024;

// --- the fixture ------------------------------------------------------------------------------

/// A layer holding `opt/<name>` with `size` pseudo-random (incompressible) bytes.
fn random_layer(name: &str, seed: u64, size: usize) -> Layer {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut data = Vec::with_capacity(size + 8);
    while data.len() < size {
        // xorshift64: fast, deterministic, and gzip cannot shrink it.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(size);
    let entries = vec![
        LayerEntry::Directory { path: "opt".into() },
        LayerEntry::File { path: format!("opt/{name}"), data, executable: false },
    ];
    build_layer(&entries, EPOCH, OCI_LAYER_GZIP).expect("build layer")
}

/// A release whose chart images (`a/big:1` with a multi-MB layer, `b/small:1`) come through a
/// fault proxy; the helm-cli base and push go to the registry directly.
struct Fixture {
    /// Kept alive for the proxy.
    _registry: TestRegistry,
    proxy: FaultProxy,
    dir: TestDir,
    /// `sha256:<hex>` of the big layer.
    big: String,
    /// Its size in bytes.
    big_size: u64,
    /// Its bytes.
    big_blob: Vec<u8>,
}

impl Fixture {
    fn new(dir: TestDir) -> Fixture {
        let registry = TestRegistry::start();
        let base = registry.seed_busybox("base/busybox:1");
        let big = random_layer("big.bin", 1, BIG);
        let small = random_layer("small.bin", 2, 8 * 1024);
        registry.seed_layers("a/big:1", &[&big]);
        registry.seed_layers("b/small:1", &[&small]);
        let proxy = FaultProxy::start(&registry.host(), Fault::None);
        let chart_host = proxy.host();
        dir.write(
            "chart/Chart.yaml",
            "apiVersion: v2\nname: faults-test\nversion: 0.1.0\nappVersion: \"1.0\"\ndescription: registry faults test chart\n",
        );
        dir.write(
            "chart/values.yaml",
            format!("big:\n  image: \"{chart_host}/a/big:1\"\nsmall:\n  image: \"{chart_host}/b/small:1\"\n"),
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
        - name: big
          image: {{ .Values.big.image | quote }}
        - name: small
          image: {{ .Values.small.image | quote }}
"#,
        );
        dir.write(
            "release.toml",
            format!(
                r#"[app]
slug = "faults-test"
title = "Faults Test"

[chart]
path = "chart"
release_name = "faults-test"

[helm_cli]
base = "{base}"
name = "{registry_host}/acme/helm-cli"

[images]
platforms = ["linux/amd64"]

[airgap]
channel_id = "test-channel"
update_cursor = 1
"#,
                base = base.reference,
                registry_host = registry.host(),
            ),
        );
        fs::create_dir_all(dir.join("docker-config")).unwrap();
        let big_size = big.blob.len() as u64;
        Fixture { _registry: registry, proxy, dir, big: big.digest.oci(), big_size, big_blob: big.blob }
    }

    /// `release --no-proof --out <out>`, anonymous, with a 1 s stall timeout.
    fn command(&self, out: &str) -> TestCommand {
        let mut command = self.dir.xtask("release");
        command
            .args(["--no-proof", "--out", out])
            .env("DOCKER_CONFIG", self.dir.join("docker-config"))
            .env("HELMKOTS_STALL_TIMEOUT_SECS", "1");
        command
    }

    fn release(&self, out: &str) -> TestOutput {
        self.command(out).run()
    }

    fn bundle(&self, out: &str) -> PathBuf {
        self.dir.join(out).join(TREE).join(format!("{TREE}.airgap"))
    }

    fn store(&self) -> PathBuf {
        self.dir.join("target/helmkots-store")
    }

    fn big_image(&self) -> String {
        format!("{}/a/big:1", self.proxy.host())
    }

    /// The partial download of the big layer.
    fn big_partial(&self) -> PathBuf {
        self.store().join("partial").join(self.big.trim_start_matches("sha256:"))
    }

    /// Leaves `bytes` in the store as an interrupted download of the big layer.
    fn plant_partial(&self, bytes: &[u8]) {
        fs::create_dir_all(self.store().join("partial")).unwrap();
        fs::write(self.big_partial(), bytes).unwrap();
    }

    fn wipe_store(&self) {
        let _ = fs::remove_dir_all(self.store());
    }

    fn verify(&self, out: &str) {
        let output = self.dir.xtask("verify").arg(self.dir.join(out).join(TREE)).arg("--json").run();
        output.assert_success();
        assert_eq!(output.json()["problems"], json!([]), "{}", output.stdout);
    }

    /// Every blob in the store hashes to its name; nothing is left in `tmp/`.
    fn assert_store_sound(&self) {
        helmkots_e2e::assert_store_sound(self.store());
        assert_eq!(count(&self.store().join("tmp")), 0, "store tmp is empty");
    }
}

fn count(dir: &Path) -> usize {
    fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// A fault-free run, then (store emptied) a run with `fault`: the same bundle bytes.
fn assert_fault_gives_the_clean_bundle(dir: TestDir, fault: Fault) -> Fixture {
    let fixture = Fixture::new(dir);
    fixture.release("clean").assert_success();
    fixture.wipe_store();
    fixture.proxy.set_fault(fault.clone());
    let output = fixture.release("faulty");
    output.assert_success();
    assert!(fixture.proxy.faults() >= 1, "{fault:?} was not injected: {:#?}", fixture.proxy.log());
    assert_eq!(
        sha256_file(fixture.bundle("faulty")),
        sha256_file(fixture.bundle("clean")),
        "{fault:?} changed the bundle: {:#?}",
        fixture.proxy.log()
    );
    fixture.verify("faulty");
    fixture.assert_store_sound();
    assert_eq!(count(&fixture.store().join("partial")), 0, "no partial download is left");
    fixture
}

// --- faults the pull survives -------------------------------------------------------------------

#[test]
fn answers_500_are_retried() {
    assert_fault_gives_the_clean_bundle(testdir!(), Fault::ServerError { n: 2 });
}

/// The blob refused with `status` was asked for again no sooner than `Retry-After` said.
fn assert_retry_after_honoured(status: u16) {
    let fixture =
        assert_fault_gives_the_clean_bundle(testdir!(), Fault::Busy { n: 1, status, retry_after: 1 });
    let gets = fixture.proxy.blob_get_log();
    let refused = gets.iter().find(|get| get.status == status).expect("the refused GET");
    let again = gets
        .iter()
        .find(|get| get.digest == refused.digest && get.at > refused.at)
        .unwrap_or_else(|| panic!("{} was not asked for again: {gets:#?}", refused.digest));
    let waited = again.at - refused.at;
    assert!(waited >= Duration::from_millis(950), "Retry-After: 1 was not honoured: {waited:?}");
}

#[test]
fn answers_503_with_retry_after_are_retried_after_the_wait() {
    assert_retry_after_honoured(503);
}

#[test]
fn answers_429_with_retry_after_are_retried_after_the_wait() {
    assert_retry_after_honoured(429);
}

#[test]
fn connections_dropped_mid_body_are_retried() {
    assert_fault_gives_the_clean_bundle(testdir!(), Fault::DropMidBody { n: 2 });
}

#[test]
fn a_stalled_download_is_abandoned_and_retried() {
    let started = Instant::now();
    assert_fault_gives_the_clean_bundle(testdir!(), Fault::Stall { n: 1, stall: Duration::from_secs(4) });
    assert!(started.elapsed() < Duration::from_secs(30), "the stall was waited out: {:?}", started.elapsed());
}

#[test]
fn a_truncated_body_is_resumed() {
    let fixture = assert_fault_gives_the_clean_bundle(testdir!(), Fault::Truncate { digest: None, n: 2 });
    assert!(
        fixture
            .proxy
            .range_requests()
            .iter()
            .any(|r| r.start().is_some_and(|start| start > 0) && r.status == 206),
        "a short body is resumed with a Range request: {:#?}",
        fixture.proxy.log()
    );
}

#[test]
fn a_blob_dropped_mid_body_resumes_with_a_range_request() {
    let fixture = Fixture::new(testdir!());
    fixture.proxy.set_fault(Fault::DropBlobMidBody { digest: fixture.big.clone(), n: 1 });
    let output = fixture.command("out").arg("--json").run();
    output.assert_success();
    for line in ["pulled ", "retrying ", "resuming "] {
        assert!(!output.stderr.contains(line), "--json prints no progress, yet: {}", output.stderr);
    }
    assert_eq!(fixture.proxy.faults(), 1, "{:#?}", fixture.proxy.log());
    let ranges: Vec<_> =
        fixture.proxy.range_requests().into_iter().filter(|r| r.digest == fixture.big).collect();
    assert!(
        ranges.iter().any(|r| r.start().is_some_and(|start| start > 0) && r.status == 206),
        "the big layer resumes with `Range: bytes=N-`, N > 0: {:#?}",
        fixture.proxy.log()
    );
    let sent = fixture.proxy.bytes_sent(&fixture.big);
    assert!(
        sent < 2 * fixture.big_size,
        "{sent} bytes sent for a blob of {} (the resume did not restart): {:#?}",
        fixture.big_size,
        fixture.proxy.log()
    );
    fixture.verify("out");
    fixture.assert_store_sound();
}

#[test]
fn a_registry_without_range_support_sends_the_whole_blob_again() {
    let fixture = Fixture::new(testdir!());
    let half = fixture.big_blob.len() / 2;
    fixture.plant_partial(&fixture.big_blob[..half]);
    fixture.proxy.set_fault(Fault::IgnoreRange);
    let output = fixture.release("out");
    output.assert_success().assert_stderr_contains("the registry sent the whole blob");
    let ranges: Vec<_> =
        fixture.proxy.range_requests().into_iter().filter(|r| r.digest == fixture.big).collect();
    assert!(
        ranges.iter().any(|r| r.start() == Some(half as u64) && r.status == 200),
        "asked for the rest, got all of it: {:#?}",
        fixture.proxy.log()
    );
    fixture.verify("out");
    fixture.assert_store_sound();
    assert!(!fixture.big_partial().exists());
}

#[test]
fn a_resumed_blob_that_does_not_verify_is_fetched_again_from_zero() {
    let fixture = Fixture::new(testdir!());
    // A prefix of the right length with the wrong bytes (a disk that lost the page cache).
    let wrong = vec![0u8; fixture.big_blob.len() / 3];
    fixture.plant_partial(&wrong);
    let output = fixture.release("out");
    output.assert_success().assert_stderr_contains("does not match its digest");
    let gets: Vec<_> = fixture.proxy.blob_get_log().into_iter().filter(|g| g.digest == fixture.big).collect();
    assert_eq!(gets.iter().map(|g| g.status).collect::<Vec<_>>(), [206, 200], "{:#?}", fixture.proxy.log());
    fixture.verify("out");
    fixture.assert_store_sound();
}

// --- faults the pull refuses ------------------------------------------------------------------

/// The run failed naming the big layer's image, digest and registry; no tree, no bad blob.
fn assert_refused_big_layer(fixture: &Fixture, output: &TestOutput) {
    output
        .assert_failure()
        .assert_stderr_contains(&fixture.big_image())
        .assert_stderr_contains(&fixture.big)
        .assert_stderr_contains(&format!("registry {}", fixture.proxy.host()));
    let out = fixture.dir.join("out");
    assert!(!out.join(TREE).exists(), "a failed release wrote a tree");
    assert_eq!(count(&out), 0, "a failed release left files in {}", out.display());
    assert!(
        !fixture.store().join("blobs/sha256").join(fixture.big.trim_start_matches("sha256:")).exists(),
        "the bad blob entered the store"
    );
    fixture.assert_store_sound();
}

#[test]
fn wrong_bytes_fail_naming_image_blob_and_registry() {
    let fixture = Fixture::new(testdir!());
    fixture.proxy.set_fault(Fault::WrongBytes { digest: fixture.big.clone() });
    let output = fixture.release("out");
    assert_refused_big_layer(&fixture, &output);
    assert!(!fixture.big_partial().exists(), "wrong bytes are not kept for a resume");
}

#[test]
fn a_persistently_truncated_blob_fails_naming_image_blob_and_registry() {
    let fixture = Fixture::new(testdir!());
    fixture.proxy.set_fault(Fault::Truncate { digest: Some(fixture.big.clone()), n: usize::MAX });
    let output = fixture.release("out");
    assert_refused_big_layer(&fixture, &output);
    let kept = fs::metadata(fixture.big_partial()).map(|m| m.len()).unwrap_or(0);
    assert!(kept < fixture.big_size, "a partial download is never whole: {kept}");
}

// --- kill -9 mid-pull -------------------------------------------------------------------------

#[test]
fn a_release_killed_mid_blob_resumes_on_the_next_run() {
    let fixture = Fixture::new(testdir!());
    // About 3 MB/s: the big layer takes about a second, long enough to be killed in.
    fixture.proxy.set_fault(Fault::Throttle { chunk: 32 * 1024, pause: Duration::from_millis(10) });
    let mut child = fixture.command("out").spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    while fixture.proxy.bytes_sent(&fixture.big) < 512 * 1024 {
        assert!(Instant::now() < deadline, "the big layer never started: {:#?}", fixture.proxy.log());
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the release ended ({status}) before it was killed: {:#?}", fixture.proxy.log());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let kept = fs::metadata(fixture.big_partial()).map(|m| m.len()).unwrap_or(0);
    assert!(
        kept > 0 && kept < fixture.big_size,
        "the partial download survives the kill: {kept} of {} bytes",
        fixture.big_size
    );
    assert!(!fixture.store().join("blobs/sha256").join(fixture.big.trim_start_matches("sha256:")).exists());

    fixture.proxy.set_fault(Fault::None);
    let output = fixture.release("out");
    // Not a terminal: plain lines, one for the resume and one per image.
    output
        .assert_success()
        .assert_stderr_contains(&format!("resuming {}", &fixture.big[..19]))
        .assert_stderr_contains(&format!("pulled {}", fixture.big_image()));
    let ranges: Vec<_> =
        fixture.proxy.range_requests().into_iter().filter(|r| r.digest == fixture.big).collect();
    assert!(
        ranges.iter().any(|r| r.start() == Some(kept) && r.status == 206),
        "the rerun asks for the rest, from byte {kept}: {:#?}",
        fixture.proxy.log()
    );
    assert!(fixture.proxy.bytes_sent(&fixture.big) < 2 * fixture.big_size);
    assert!(!fixture.big_partial().exists(), "the partial download became the blob");
    fixture.verify("out");
    fixture.assert_store_sound();
}

// --- two processes, one store ------------------------------------------------------------------

#[test]
fn two_releases_sharing_one_store_at_once_both_complete() {
    let fixture = Fixture::new(testdir!());
    // Slow enough that both processes are pulling the big layer at the same time.
    fixture.proxy.set_fault(Fault::Throttle { chunk: 64 * 1024, pause: Duration::from_millis(5) });
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| fixture.release("out-a"));
        let second = scope.spawn(|| fixture.release("out-b"));
        (first.join().unwrap(), second.join().unwrap())
    });
    first.assert_success();
    second.assert_success();
    assert_eq!(
        sha256_file(fixture.bundle("out-a")),
        sha256_file(fixture.bundle("out-b")),
        "two concurrent releases wrote different bundles"
    );
    fixture.verify("out-a");
    fixture.verify("out-b");
    fixture.assert_store_sound();
    assert_eq!(count(&fixture.store().join("partial")), 0, "no partial download is left");
}
