//! Secrets (issue #7, item 5): credentials from Docker's `config.json` never reach an output
//! file, a log line, an error message, a lock file or a panic message.
//!
//! A real `docker-registry` wants htpasswd Basic auth with a password made fresh for each run.
//! Every image (the helm-cli base, the chart's images, the pushed helm-cli image) lives on it,
//! and the real `xtask` binary runs against it: successful releases, `lock`, `lock --update`,
//! `verify`, `image --push` (with credentials from `auths`, from a `credHelpers` helper and
//! from a `credsStore` helper), and failing runs (no credentials, a wrong password, an image
//! that does not exist, blob downloads answered with 500 until the retries give up, a run
//! killed halfway). Then every byte of every file under the work directory (gzip and tar
//! contents opened, recursively) and every captured stdout and stderr is searched for the
//! password, for `base64(user:password)` and for the password's base64 at every alignment.
//!
//! A second test formats the registry types (`Debug` and `Display` of errors, credentials and
//! the client) after real failures and searches those strings the same way.

use std::{
    fmt::Write as _,
    fs,
    io::Read,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use camino::Utf8PathBuf;
use helmkots::{
    internals::input::image_ref::ImageRef,
    internals::oci::registry::{credentials::DockerConfig, media::Descriptor, Registry, RegistryOptions},
};
use helmkots_e2e::{
    base64,
    fault_proxy::{Fault, FaultProxy},
    registry::{SeededImage, TestRegistry},
    testdir, TestDir, TestOutput,
};

const USER: &str = "hk-secrets-user";
/// The credential helper's name: `docker-credential-<HELPER>` on `PATH`.
const HELPER: &str = "helmkots-e2e-secrets";
const TREE: &str = "secrets-test-0.1.0";

// --- skipping ---------------------------------------------------------------------------------

/// The tools these tests need that are not on `PATH`.
fn missing_tools() -> Vec<&'static str> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut missing: Vec<&'static str> = ["docker-registry", "htpasswd", "skopeo"]
        .into_iter()
        .filter(|tool| !std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
        .collect();
    if !Path::new("/bin/busybox").is_file() {
        missing.push("/bin/busybox");
    }
    missing
}

/// Prints why and returns true when a tool is missing.
fn skip() -> bool {
    let missing = missing_tools();
    if missing.is_empty() {
        return false;
    }
    eprintln!(
        "skipping: {} not installed (Debian packages docker-registry apache2-utils skopeo busybox-static)",
        missing.join(", ")
    );
    true
}

// --- secrets and the needles to search for -----------------------------------------------------

/// 24 random letters and digits from `/dev/urandom`.
fn random_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 96];
    fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).expect("read /dev/urandom");
    // Rejection sampling keeps the letters uniform (248 = 4 × 62).
    let password: String =
        bytes.iter().filter(|b| **b < 248).map(|b| ALPHABET[usize::from(*b) % 62] as char).take(24).collect();
    assert_eq!(password.len(), 24, "not enough random bytes");
    password
}

/// The base64 characters that encode `secret` alone when it sits at byte offset `k` (0, 1 or
/// 2 modulo 3) inside any longer base64-encoded text: the part of the encoding that does not
/// depend on the bytes around it.
fn base64_fragment(secret: &str, k: usize) -> String {
    let mut padded = vec![0u8; k];
    padded.extend_from_slice(secret.as_bytes());
    let encoded = base64(&padded);
    let first = (8 * k).div_ceil(6);
    let last = (8 * (k + secret.len())) / 6;
    encoded[first..last].to_string()
}

/// What must never appear: `(description, bytes)`.
struct Needles(Vec<(String, Vec<u8>)>);

impl Needles {
    fn new(user: &str, secrets: &[&str]) -> Needles {
        let mut needles = Vec::new();
        for (index, secret) in secrets.iter().enumerate() {
            let name = format!("secret #{index}");
            needles.push((format!("{name} (plain)"), secret.as_bytes().to_vec()));
            let pair = format!("{user}:{secret}");
            needles.push((format!("base64({user}:{name})"), base64(pair.as_bytes()).into_bytes()));
            needles.push((
                format!("base64({user}:{name}) unpadded"),
                base64(pair.as_bytes()).trim_end_matches('=').as_bytes().to_vec(),
            ));
            needles.push((format!("base64({name})"), base64(secret.as_bytes()).into_bytes()));
            for k in 0..3 {
                needles.push((
                    format!("base64 of {name} at offset {k}"),
                    base64_fragment(secret, k).into_bytes(),
                ));
            }
            needles.push((format!("hex({name})"), hex::encode(secret).into_bytes()));
        }
        Needles(needles)
    }

    /// Every `(needle, offset)` found in `haystack`.
    fn find(&self, haystack: &[u8]) -> Vec<(String, usize)> {
        let mut first = [false; 256];
        for (_, needle) in &self.0 {
            first[usize::from(needle[0])] = true;
        }
        let mut hits = Vec::new();
        for (offset, byte) in haystack.iter().enumerate() {
            if !first[usize::from(*byte)] {
                continue;
            }
            for (name, needle) in &self.0 {
                if haystack[offset..].starts_with(needle) {
                    hits.push((name.clone(), offset));
                }
            }
        }
        hits
    }
}

/// What a scan found and how much it read.
#[derive(Default)]
struct Scan {
    files: usize,
    bytes: u64,
    /// Bytes read inside gzip streams and tar archives (counted again after expansion).
    expanded_bytes: u64,
    streams: usize,
    stream_bytes: u64,
    hits: Vec<String>,
}

impl Scan {
    /// Searches `bytes`, then what a gzip stream or tar archive in it holds.
    fn bytes(&mut self, needles: &Needles, name: &str, bytes: &[u8], depth: usize) {
        for (needle, offset) in needles.find(bytes) {
            self.hits.push(format!("{name} at byte {offset}: {needle}"));
        }
        if depth > 4 {
            return;
        }
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut expanded = Vec::new();
            // At most 1 GiB: the test's images are small.
            let read = flate2::read::MultiGzDecoder::new(bytes).take(1 << 30).read_to_end(&mut expanded);
            if read.is_ok() || !expanded.is_empty() {
                self.expanded_bytes += expanded.len() as u64;
                self.bytes(needles, &format!("{name}!gunzip"), &expanded, depth + 1);
            }
        } else if bytes.len() > 262 && &bytes[257..262] == b"ustar" {
            let mut archive = tar::Archive::new(bytes);
            let Ok(entries) = archive.entries() else { return };
            for entry in entries {
                let Ok(mut entry) = entry else { break };
                let path = entry.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
                let entry_name = format!("{name}!{path}");
                // Names and link targets, too.
                for (needle, offset) in needles.find(path.as_bytes()) {
                    self.hits.push(format!("{entry_name} (entry name) at byte {offset}: {needle}"));
                }
                if let Ok(Some(target)) = entry.link_name() {
                    let target = target.to_string_lossy().into_owned();
                    for (needle, offset) in needles.find(target.as_bytes()) {
                        self.hits.push(format!("{entry_name} (link target) at byte {offset}: {needle}"));
                    }
                }
                let mut data = Vec::new();
                if entry.read_to_end(&mut data).is_ok() && !data.is_empty() {
                    self.expanded_bytes += data.len() as u64;
                    self.bytes(needles, &entry_name, &data, depth + 1);
                }
            }
        }
    }

    /// Every file (and symlink target, and file name) under `dir`.
    fn tree(&mut self, needles: &Needles, dir: &Path) {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(current) = stack.pop() {
            let entries =
                fs::read_dir(&current).unwrap_or_else(|e| panic!("cannot list {}: {e}", current.display()));
            for entry in entries {
                let entry = entry.expect("directory entry");
                let path = entry.path();
                let shown = path.display().to_string();
                for (needle, offset) in needles.find(entry.file_name().as_encoded_bytes()) {
                    self.hits.push(format!("the name of {shown} at byte {offset}: {needle}"));
                }
                let kind = entry.file_type().expect("file type");
                if kind.is_dir() {
                    stack.push(path);
                } else if kind.is_symlink() {
                    let target = fs::read_link(&path).expect("read link");
                    for (needle, offset) in needles.find(target.as_os_str().as_encoded_bytes()) {
                        self.hits.push(format!("the link target of {shown} at byte {offset}: {needle}"));
                    }
                } else {
                    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("cannot read {shown}: {e}"));
                    self.files += 1;
                    self.bytes += bytes.len() as u64;
                    self.bytes(needles, &shown, &bytes, 0);
                }
            }
        }
    }

    fn output(&mut self, needles: &Needles, output: &TestOutput) {
        for (stream, text) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
            self.streams += 1;
            self.stream_bytes += text.len() as u64;
            self.bytes(needles, &format!("{stream} of `{}`", output.command), text.as_bytes(), 0);
        }
    }

    fn text(&mut self, needles: &Needles, name: &str, text: &str) {
        self.streams += 1;
        self.stream_bytes += text.len() as u64;
        self.bytes(needles, name, text.as_bytes(), 0);
    }

    fn assert_clean(&self) {
        assert!(
            self.hits.is_empty(),
            "a credential leaked ({} hits):\n{}",
            self.hits.len(),
            self.hits.iter().take(50).cloned().collect::<Vec<_>>().join("\n")
        );
    }
}

// --- Docker configs (outside the scanned work directory) --------------------------------------

/// Docker config directories and the helper's `bin/`, in a temp dir of their own: they are the
/// only files allowed to hold the password.
struct Configs {
    dir: tempfile::TempDir,
}

impl Configs {
    fn new(hosts: &[String], password: &str, wrong_password: &str) -> Configs {
        let dir =
            tempfile::Builder::new().prefix("helmkots-e2e-secrets-config-").tempdir().expect("temp dir");
        let configs = Configs { dir };
        let auths = |password: &str| {
            let auth = base64(format!("{USER}:{password}").as_bytes());
            let entries: serde_json::Map<String, serde_json::Value> =
                hosts.iter().map(|host| (host.clone(), serde_json::json!({ "auth": auth }))).collect();
            serde_json::json!({ "auths": entries })
        };
        configs.write("auths", &auths(password));
        configs.write("wrong", &auths(wrong_password));
        let helpers: serde_json::Map<String, serde_json::Value> =
            hosts.iter().map(|host| (host.clone(), serde_json::json!(HELPER))).collect();
        configs.write("helper", &serde_json::json!({ "credHelpers": helpers }));
        configs.write("store", &serde_json::json!({ "credsStore": HELPER }));
        fs::create_dir_all(configs.path("anonymous")).expect("anonymous config dir");
        let bin = configs.path("bin");
        fs::create_dir_all(&bin).expect("helper bin dir");
        let helper = bin.join(format!("docker-credential-{HELPER}"));
        fs::write(
            &helper,
            format!(
                "#!/bin/sh\n# A Docker credential helper for the tests: `get` answers every host.\n\
                 [ \"$1\" = get ] || exit 1\ncat >/dev/null\n\
                 printf '{{\"ServerURL\":\"x\",\"Username\":\"%s\",\"Secret\":\"%s\"}}' '{USER}' '{password}'\n"
            ),
        )
        .expect("write helper");
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&helper, fs::Permissions::from_mode(0o755)).expect("chmod helper");
        configs
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, config: &serde_json::Value) {
        let dir = self.path(name);
        fs::create_dir_all(&dir).expect("config dir");
        fs::write(dir.join("config.json"), serde_json::to_vec_pretty(config).unwrap()).expect("config.json");
    }

    /// `PATH` with the helper's folder first.
    fn path_env(&self) -> std::ffi::OsString {
        let mut paths = vec![self.path("bin")];
        paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
        std::env::join_paths(paths).expect("PATH")
    }
}

// --- the release ------------------------------------------------------------------------------

/// Writes `<sub>/release.toml` and `<sub>/chart/` with `images` (`values key → reference`).
fn write_release(dir: &TestDir, sub: &str, base: &str, helm_cli_host: &str, images: &[(&str, String)]) {
    dir.write(
        format!("{sub}/chart/Chart.yaml"),
        "apiVersion: v2\nname: secrets-test\nversion: 0.1.0\nappVersion: \"1.0\"\ndescription: secrets e2e test chart\n",
    );
    let mut values = String::new();
    let mut containers = String::new();
    for (key, reference) in images {
        let _ = write!(values, "{key}:\n  image: \"{reference}\"\n");
        let _ = write!(
            containers,
            "        - name: {key}\n          image: {{{{ .Values.{key}.image | quote }}}}\n"
        );
    }
    dir.write(format!("{sub}/chart/values.yaml"), values);
    dir.write(
        format!("{sub}/chart/templates/deployment.yaml"),
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{{{ .Release.Name }}}}\nspec:\n  selector:\n    matchLabels:\n      app: x\n  template:\n    metadata:\n      labels:\n        app: x\n    spec:\n      containers:\n{containers}"
        ),
    );
    dir.write(
        format!("{sub}/release.toml"),
        format!(
            "[app]\nslug = \"secrets-test\"\ntitle = \"Secrets Test\"\n\n[chart]\npath = \"chart\"\nrelease_name = \"secrets-test\"\n\n\
             [helm_cli]\nbase = \"{base}\"\nname = \"{helm_cli_host}/acme/helm-cli\"\n\n\
             [images]\nplatforms = [\"linux/amd64\"]\n\n[airgap]\nchannel_id = \"test-channel\"\nupdate_cursor = 1\n"
        ),
    );
}

/// Runs the xtask binary for the release in `<sub>/` with Docker config `config`, `HOME` and
/// `TMPDIR` inside the work directory (so that any stray file is scanned too).
struct Runner<'a> {
    dir: &'a TestDir,
    configs: &'a Configs,
    outputs: Vec<TestOutput>,
}

impl Runner<'_> {
    fn command(&self, sub: &str, config: &str, subcommand: &str, args: &[&str]) -> helmkots_e2e::TestCommand {
        let work = self.dir.join(sub);
        let home = self.dir.join("home");
        let tmp = self.dir.join("tmp");
        fs::create_dir_all(&home).unwrap();
        fs::create_dir_all(&tmp).unwrap();
        let mut command = helmkots_e2e::TestCommand::new(&work);
        command.arg(subcommand);
        // `verify` reads only what it verifies.
        if subcommand != "verify" {
            command.arg("-f").arg(work.join("release.toml"));
        }
        command
            .args(args)
            .env("DOCKER_CONFIG", self.configs.path(config))
            .env("HOME", &home)
            .env("TMPDIR", &tmp)
            .env("PATH", self.configs.path_env());
        command
    }

    fn run(&mut self, sub: &str, config: &str, subcommand: &str, args: &[&str]) -> &TestOutput {
        let started = Instant::now();
        let output = self.command(sub, config, subcommand, args).run();
        eprintln!(
            "[{:>5.1}s] {sub}: DOCKER_CONFIG={config} xtask {subcommand} {} -> {}",
            started.elapsed().as_secs_f32(),
            args.join(" "),
            output.status
        );
        self.outputs.push(output);
        self.outputs.last().unwrap()
    }
}

/// Seeds the helm-cli base (returned) and the chart's images `a/one:1` and `b/two:2` (two
/// platforms) on `registry` (Basic auth, via skopeo).
fn seed(registry: &TestRegistry) -> SeededImage {
    let base = registry.seed_busybox("base/busybox:1");
    registry.seed_busybox("a/one:1");
    registry.seed_multi_platform("b/two:2");
    base
}

#[test]
fn no_credential_reaches_any_file_log_or_error() {
    if skip() {
        return;
    }
    let started = Instant::now();
    let password = random_password();
    let wrong_password = random_password();
    let registry = TestRegistry::start_with_basic_auth(USER, &password);
    let base = seed(&registry);
    // Blob downloads through these proxies are answered with 500: three times (the retries
    // win), or always (the retries give up).
    let flaky = FaultProxy::start(&registry.host(), Fault::ServerError { n: 3 });
    let broken = FaultProxy::start(&registry.host(), Fault::ServerError { n: 1_000_000 });
    let configs = Configs::new(&[registry.host(), flaky.host(), broken.host()], &password, &wrong_password);
    let dir = testdir!();
    let host = registry.host();
    let chart_images =
        |host: &str| vec![("one", format!("{host}/a/one:1")), ("two", format!("{host}/b/two:2"))];
    write_release(&dir, "main", &base.reference, &host, &chart_images(&host));
    let mut missing = chart_images(&host);
    missing.push(("three", format!("{host}/c/no-such-image:9")));
    write_release(&dir, "missing", &base.reference, &host, &missing);
    write_release(&dir, "flaky", &base.reference, &host, &chart_images(&flaky.host()));
    write_release(&dir, "broken", &base.reference, &host, &chart_images(&broken.host()));
    write_release(&dir, "killed", &base.reference, &host, &chart_images(&broken.host()));
    // Like `main`, but never released: an empty store and no fingerprints, so a release must
    // reach the registry (an incremental `main` would not need it, and not fail).
    write_release(&dir, "fresh", &base.reference, &host, &chart_images(&host));

    let mut runner = Runner { dir: &dir, configs: &configs, outputs: Vec::new() };
    let tree = dir.join("main/out").join(TREE);
    let tree_arg = tree.to_str().unwrap().to_string();
    let bundle_arg = tree.join(format!("{TREE}.airgap")).to_str().unwrap().to_string();

    // Successful runs, with credentials from `auths`, a `credHelpers` helper and a `credsStore`.
    runner.run("main", "auths", "lock", &[]).assert_success();
    runner.run("main", "auths", "release", &["--no-proof", "--out", "out", "--json"]).assert_success();
    runner.run("main", "auths", "release", &["--no-proof", "--out", "out"]).assert_success();
    runner.run("main", "helper", "lock", &["--update"]).assert_success();
    runner.run("main", "helper", "release", &["--no-proof", "--out", "out-helper"]).assert_success();
    runner.run("main", "store", "lock", &["--update"]).assert_success();
    runner.run("main", "auths", "verify", &[&tree_arg, "--json"]).assert_success();
    runner.run("main", "auths", "verify", &[&tree_arg]).assert_success();
    runner.run("main", "auths", "verify", &[&bundle_arg, "--json"]).assert_success();
    runner.run("main", "auths", "image", &["--out", "image-out", "--push", "--json"]).assert_success();
    runner.run("main", "store", "image", &["--out", "image-store", "--push"]).assert_success();
    runner.run("flaky", "auths", "release", &["--no-proof", "--out", "out"]).assert_success();
    assert_eq!(flaky.faults(), 3, "the flaky proxy injected its 500s: {:#?}", flaky.log());
    assert!(tree.join(format!("{TREE}.airgap")).is_file(), "the release wrote its bundle");
    assert!(dir.join("main/helmkots.lock").is_file(), "lock wrote helmkots.lock");

    // Failing runs: each must fail cleanly (no panic), and say why without the secret.
    runner
        .run("fresh", "wrong", "release", &["--no-proof", "--out", "out-wrong"])
        .assert_failure()
        .assert_stderr_contains(&host)
        .assert_stderr_contains("were refused");
    runner.run("fresh", "wrong", "release", &["--no-proof", "--out", "out-wrong", "--json"]).assert_failure();
    runner.run("main", "wrong", "lock", &["--update"]).assert_failure();
    runner.run("main", "wrong", "image", &["--out", "image-wrong", "--push", "--json"]).assert_failure();
    runner.run("main", "anonymous", "lock", &["--update"]).assert_failure();
    runner
        .run("missing", "auths", "release", &["--no-proof", "--out", "out"])
        .assert_failure()
        .assert_stderr_contains("no-such-image");
    runner.run("missing", "helper", "lock", &[]).assert_failure();
    runner
        .run("broken", "auths", "release", &["--no-proof", "--out", "out"])
        .assert_failure()
        .assert_stderr_contains("HTTP 500");
    runner.run("broken", "auths", "release", &["--no-proof", "--out", "out", "--json"]).assert_failure();
    assert!(broken.faults() >= 2, "the broken proxy answered 500s: {:#?}", broken.log());

    // A run killed while it retries leaves whatever partial files it had.
    let mut child = runner.command("killed", "auths", "release", &["--no-proof", "--out", "out"]).spawn();
    std::thread::sleep(Duration::from_millis(1500));
    let _ = child.kill();
    let _ = child.wait();
    eprintln!("the killed run left {:?}", helmkots_e2e::files_under(dir.join("killed")));

    // Search everything.
    let needles = Needles::new(USER, &[&password, &wrong_password]);
    let mut scan = Scan::default();
    scan.tree(&needles, dir.path());
    for output in &runner.outputs {
        scan.output(&needles, output);
    }
    let store_files = helmkots_e2e::files_under(dir.join("main/target/helmkots-store")).len();
    eprintln!(
        "scanned {} files ({} bytes, {} more bytes inside gzip/tar), {} streams ({} bytes); {} store files; {} xtask runs; {:.1}s",
        scan.files,
        scan.bytes,
        scan.expanded_bytes,
        scan.streams,
        scan.stream_bytes,
        store_files,
        runner.outputs.len() + 1,
        started.elapsed().as_secs_f32()
    );
    assert!(store_files > 0 && scan.files > store_files, "the scan saw the store and more");
    scan.assert_clean();

    // The scan itself works: the password's own config file is a hit.
    let mut control = Scan::default();
    control.tree(&needles, &configs.path("auths"));
    assert!(!control.hits.is_empty(), "the scan does not find base64(user:password) in config.json");
    let mut control = Scan::default();
    control.tree(&needles, &configs.path("bin"));
    assert!(!control.hits.is_empty(), "the scan does not find the password in the helper script");
}

// --- unit level: what the registry types print -------------------------------------------------

fn client(docker_config: &Path) -> Registry {
    Registry::new(RegistryOptions {
        docker_config_dir: Some(Utf8PathBuf::from_path_buf(docker_config.to_path_buf()).expect("utf-8 path")),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(30),
        ..RegistryOptions::from_env().expect("registry options from the environment")
    })
    .expect("registry client")
}

#[test]
fn debug_and_display_of_registry_types_hide_the_password() {
    if skip() {
        return;
    }
    let password = random_password();
    let wrong_password = random_password();
    let registry = TestRegistry::start_with_basic_auth(USER, &password);
    let one = registry.seed_busybox("a/one:1");
    let broken = FaultProxy::start(&registry.host(), Fault::ServerError { n: 1_000_000 });
    let configs = Configs::new(&[registry.host(), broken.host()], &password, &wrong_password);
    let needles = Needles::new(USER, &[&password, &wrong_password]);
    let mut scan = Scan::default();

    for name in ["auths", "wrong", "helper", "store"] {
        let dir = Utf8PathBuf::from_path_buf(configs.path(name)).unwrap();
        let config = DockerConfig::load(&dir).expect("load config.json");
        scan.text(&needles, &format!("Debug of DockerConfig ({name})"), &format!("{config:?}"));
        // Helpers are looked up on PATH; only `auths` and `wrong` resolve without them.
        if let Ok(Some(found)) = config.lookup(&registry.host()) {
            scan.text(&needles, &format!("Debug of FoundCredential ({name})"), &format!("{found:?}"));
            scan.text(&needles, &format!("Debug of Credential ({name})"), &format!("{:?}", found.credential));
            scan.text(&needles, &format!("Display of its source ({name})"), &found.source.to_string());
        }
    }

    let mut errors = Vec::new();
    let authed = client(&configs.path("auths"));
    let resolved = authed.resolve(&ImageRef::parse(&one.reference).unwrap()).expect("resolve with auth");
    scan.text(&needles, "Debug of a RawManifest", &format!("{resolved:?}"));
    scan.text(&needles, "Debug of the client after use", &format!("{authed:?}"));
    // Not found, with the right credentials.
    errors.push(authed.resolve(&ImageRef::parse(&registry.image("c/no-such-image:9")).unwrap()).unwrap_err());
    // A blob answered with 500 every time, with the right credentials.
    let through_proxy = ImageRef::parse(&format!("{}/a/one:1", broken.host())).unwrap();
    let manifest = authed.resolve(&through_proxy).expect("manifests pass the proxy");
    let parsed: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
    let layer = Descriptor {
        media_type: parsed["layers"][0]["mediaType"].as_str().unwrap().to_string(),
        digest: helmkots::internals::util::digest::Sha256Digest::parse(
            parsed["layers"][0]["digest"].as_str().unwrap(),
        )
        .expect("layer digest"),
        size: parsed["layers"][0]["size"].as_u64().unwrap(),
        platform: None,
    };
    errors.push(authed.fetch_blob(&through_proxy, &layer, &mut Vec::new()).unwrap_err());
    // A wrong password.
    let wrong = client(&configs.path("wrong"));
    errors.push(wrong.resolve(&ImageRef::parse(&one.reference).unwrap()).unwrap_err());
    scan.text(&needles, "Debug of the client with a wrong password", &format!("{wrong:?}"));
    // An unreachable port, with credentials configured for it.
    let closed = helmkots_e2e::registry::free_port();
    errors.push(authed.resolve(&ImageRef::parse(&format!("127.0.0.1:{closed}/x:1")).unwrap()).unwrap_err());

    for error in errors {
        let wrapped = helmkots::Error::from(error);
        let mut chain = format!("{wrapped}");
        let mut source = std::error::Error::source(&wrapped);
        while let Some(inner) = source {
            let _ = write!(chain, " | {inner} | {inner:?}");
            source = inner.source();
        }
        eprintln!("error: {wrapped}");
        scan.text(&needles, "Display and sources of an error", &chain);
        scan.text(&needles, "Debug of an error", &format!("{wrapped:?} {wrapped:#?}"));
    }
    scan.assert_clean();
}
