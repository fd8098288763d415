//! A real container registry for the tests: Debian's `docker-registry` (distribution 2.8)
//! on a free 127.0.0.1 port with its storage in a temporary directory, optionally behind
//! htpasswd Basic auth, killed when dropped; plus small base images the tests make
//! themselves (busybox from `busybox-static`), written as OCI layouts with helmkots' own
//! layer code and pushed with `skopeo`.
//!
//! Tools: `docker-registry`, `skopeo`, `umoci`, `htpasswd` (apache2-utils) and
//! `/bin/busybox` (busybox-static), all Debian packages.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use camino::Utf8Path;
use helmkots::{
    internals::oci::image::{
        json::to_canonical_vec,
        layer::{build_layer, Layer, LayerEntry},
        layout::{write_blob_bytes, write_index},
    },
    internals::oci::registry::media::{Descriptor, OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST},
};
use serde_json::json;

/// The Debian packages these helpers need, for messages.
pub const REGISTRY_TOOLS: &str = "docker-registry skopeo umoci apache2-utils busybox-static";

/// A running registry; stopped when dropped.
pub struct TestRegistry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    credentials: Option<(String, String)>,
}

/// A base image pushed to a test registry.
#[derive(Debug, Clone)]
pub struct SeededImage {
    /// `127.0.0.1:PORT/repo:tag`.
    pub reference: String,
    /// The digest the reference resolves to (manifest, or index for a multi-platform image).
    pub digest: String,
    /// Per platform (`linux/amd64`, ...): the digest of its one layer.
    pub layers: Vec<(String, String)>,
}

impl TestRegistry {
    /// Starts an open registry (no authentication).
    pub fn start() -> TestRegistry {
        TestRegistry::launch(None)
    }

    /// Starts a registry that wants Basic auth with this user and password (htpasswd, bcrypt).
    pub fn start_with_basic_auth(user: &str, password: &str) -> TestRegistry {
        TestRegistry::launch(Some((user.to_string(), password.to_string())))
    }

    fn launch(credentials: Option<(String, String)>) -> TestRegistry {
        require_tool("docker-registry");
        let dir = tempfile::Builder::new().prefix("helmkots-registry-").tempdir().expect("temp dir");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("storage dir");
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: helmkots-test-secret\n",
            storage.display()
        );
        if let Some((user, password)) = &credentials {
            require_tool("htpasswd");
            let output =
                Command::new("htpasswd").args(["-Bbn", user, password]).output().expect("run htpasswd");
            assert!(output.status.success(), "htpasswd failed: {}", String::from_utf8_lossy(&output.stderr));
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, &output.stdout).expect("write htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: helmkots-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("registry log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let mut registry = TestRegistry { child, port, dir, credentials };
        registry.wait_until_ready();
        registry
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT/<repository>`.
    pub fn image(&self, repository: &str) -> String {
        format!("{}/{repository}", self.host())
    }

    /// The registry's process id (the bench measures the CPU time it spends serving).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The registry's temporary directory (storage, config, htpasswd, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll docker-registry") {
                panic!("docker-registry exited ({status}) before answering:\n{}", self.log());
            }
            if let Some(code) = http_status(self.port, "/v2/") {
                // 200 when open, 401 when it wants credentials: either way it is serving.
                if code == 200 || code == 401 {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!("docker-registry did not answer GET /v2/ within 20 s:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Pushes a linux/amd64 OCI image with `layers` (e.g. made with `layer::build_layer`) to
    /// `repo_tag` (via an OCI layout and `skopeo copy`); returns the manifest digest.
    pub fn seed_layers(&self, repo_tag: &str, layers: &[&Layer]) -> String {
        let layout = tempfile::tempdir().expect("temp dir");
        let dir = Utf8Path::from_path(layout.path()).expect("utf-8 temp dir");
        let config = json!({
            "architecture": "amd64",
            "os": "linux",
            "created": "2000-01-01T00:00:00Z",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.oci()).collect::<Vec<_>>()},
        });
        let descriptor = write_image(dir, &config, layers);
        let manifest_digest = descriptor.digest.oci();
        let tag = tag_of(repo_tag);
        write_index(dir, &[(descriptor, Some(tag.to_string()))]).expect("index.json");
        self.skopeo_push(layout.path(), tag, repo_tag, false);
        manifest_digest
    }

    /// Pushes a one-layer busybox image for linux/amd64 (`bin/busybox`, `bin/sh` → busybox;
    /// `Entrypoint ["/bin/sh"]`, `Cmd ["-c", "true"]`, `User 1000`, an `Env`) to `repo_tag`.
    pub fn seed_busybox(&self, repo_tag: &str) -> SeededImage {
        let layout = tempfile::tempdir().expect("temp dir");
        let dir = Utf8Path::from_path(layout.path()).expect("utf-8 temp dir");
        let (manifest, layer) = write_platform_image(dir, "amd64", None, busybox_entries(None));
        let tag = tag_of(repo_tag);
        write_index(dir, &[(manifest.clone(), Some(tag.to_string()))]).expect("index.json");
        self.skopeo_push(layout.path(), tag, repo_tag, false);
        SeededImage {
            reference: self.image(repo_tag),
            digest: manifest.digest.oci(),
            layers: vec![("linux/amd64".to_string(), layer.digest.oci())],
        }
    }

    /// Pushes a multi-platform image (an OCI index with linux/amd64 and linux/arm64/v8
    /// manifests, each with a different layer) to `repo_tag`.
    pub fn seed_multi_platform(&self, repo_tag: &str) -> SeededImage {
        let layout = tempfile::tempdir().expect("temp dir");
        let dir = Utf8Path::from_path(layout.path()).expect("utf-8 temp dir");
        let (amd64, amd64_layer) = write_platform_image(dir, "amd64", None, busybox_entries(Some("amd64")));
        let (arm64, arm64_layer) =
            write_platform_image(dir, "arm64", Some("v8"), busybox_entries(Some("arm64")));
        let entry = |descriptor: &Descriptor, architecture: &str, variant: Option<&str>| {
            let mut platform = json!({"os": "linux", "architecture": architecture});
            if let Some(variant) = variant {
                platform["variant"] = json!(variant);
            }
            json!({"mediaType": OCI_MANIFEST, "digest": descriptor.digest.oci(), "size": descriptor.size, "platform": platform})
        };
        let index = to_canonical_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [entry(&amd64, "amd64", None), entry(&arm64, "arm64", Some("v8"))],
        }));
        let index_file = write_blob_bytes(dir, &index).expect("index blob");
        let index_descriptor = Descriptor {
            media_type: OCI_INDEX.to_string(),
            digest: index_file.sha256,
            size: index_file.size,
            platform: None,
        };
        let tag = tag_of(repo_tag);
        write_index(dir, &[(index_descriptor, Some(tag.to_string()))]).expect("index.json");
        self.skopeo_push(layout.path(), tag, repo_tag, true);
        SeededImage {
            reference: self.image(repo_tag),
            digest: index_file.sha256.oci(),
            layers: vec![
                ("linux/amd64".to_string(), amd64_layer.digest.oci()),
                ("linux/arm64".to_string(), arm64_layer.digest.oci()),
            ],
        }
    }

    fn skopeo_push(&self, layout: &Path, tag: &str, repo_tag: &str, all: bool) {
        let mut command = Command::new("skopeo");
        command.args(["--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"]);
        if all {
            command.arg("--all");
        }
        if let Some((user, password)) = &self.credentials {
            command.arg(format!("--dest-creds={user}:{password}"));
        }
        command
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}", self.image(repo_tag)));
        let output = run(&mut command);
        assert!(output.0, "skopeo copy to {repo_tag} failed:\n{}\nregistry log:\n{}", output.1, self.log());
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Panics with the package list when a tool is missing (`cargo xtask test` installs them).
pub fn require_tool(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false);
    assert!(found, "`{tool}` is not installed; these tests need the Debian packages {REGISTRY_TOOLS}");
}

/// Runs a command; `(success, stdout + stderr)`.
pub fn run(command: &mut Command) -> (bool, String) {
    let program = command.get_program().to_string_lossy().into_owned();
    require_tool(&program);
    let output = command.output().unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// `GET path` over plain HTTP/1.0 on 127.0.0.1:port; the status code, if anything answered.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut head = [0u8; 64];
    let read = stream.read(&mut head).ok()?;
    let text = String::from_utf8_lossy(&head[..read]);
    text.split_whitespace().nth(1)?.parse().ok()
}

fn tag_of(repo_tag: &str) -> &str {
    repo_tag.rsplit_once(':').map(|(_, tag)| tag).unwrap_or("latest")
}

/// `bin/`, `bin/busybox` (the real static binary), `bin/sh` → `busybox`; with a platform
/// marker `etc/platform` so that two platforms' layers differ.
fn busybox_entries(marker: Option<&str>) -> Vec<LayerEntry> {
    let busybox = std::fs::read("/bin/busybox")
        .unwrap_or_else(|error| panic!("cannot read /bin/busybox ({error}); install busybox-static"));
    let mut entries = vec![
        LayerEntry::Directory { path: "bin".into() },
        LayerEntry::File { path: "bin/busybox".into(), data: busybox, executable: true },
        LayerEntry::Symlink { path: "bin/sh".into(), target: "busybox".into() },
    ];
    if let Some(marker) = marker {
        entries.push(LayerEntry::Directory { path: "etc".into() });
        entries.push(LayerEntry::File {
            path: "etc/platform".into(),
            data: marker.as_bytes().to_vec(),
            executable: false,
        });
    }
    entries
}

/// Writes one single-layer OCI image into the layout; its manifest descriptor and layer.
fn write_platform_image(
    dir: &Utf8Path,
    architecture: &str,
    variant: Option<&str>,
    entries: Vec<LayerEntry>,
) -> (Descriptor, Layer) {
    let layer = build_layer(&entries, 946_684_800, OCI_LAYER_GZIP).expect("busybox layer");
    let mut config = json!({
        "architecture": architecture,
        "os": "linux",
        "created": "2000-01-01T00:00:00Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HELMKOTS_BASE=1"],
            "User": "1000",
            "Entrypoint": ["/bin/sh"],
            "Cmd": ["-c", "true"],
            "WorkingDir": "/",
            "Labels": {"org.opencontainers.image.title": "helmkots test base"}
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id.oci()]},
        "history": [{"created": "2000-01-01T00:00:00Z", "created_by": "helmkots test harness: busybox"}]
    });
    if let Some(variant) = variant {
        config["variant"] = json!(variant);
    }
    let descriptor = write_image(dir, &config, &[&layer]);
    (descriptor, layer)
}

/// Writes an image's layers, its config and its manifest into the OCI layout `dir`; returns
/// the manifest's descriptor.
fn write_image(dir: &Utf8Path, config: &serde_json::Value, layers: &[&Layer]) -> Descriptor {
    for layer in layers {
        write_blob_bytes(dir, &layer.blob).expect("layer blob");
    }
    let config_file = write_blob_bytes(dir, &to_canonical_vec(config)).expect("config blob");
    let manifest = to_canonical_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_file.sha256.oci(), "size": config_file.size},
        "layers": layers.iter().map(|l| json!({"mediaType": OCI_LAYER_GZIP, "digest": l.digest.oci(), "size": l.blob.len()})).collect::<Vec<_>>(),
    }));
    let manifest_file = write_blob_bytes(dir, &manifest).expect("manifest blob");
    Descriptor {
        media_type: OCI_MANIFEST.to_string(),
        digest: manifest_file.sha256,
        size: manifest_file.size,
        platform: None,
    }
}

/// Every regular file under `dir`, recursively (for "no secret in any file" checks).
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => stack.push(path),
                Ok(kind) if kind.is_file() => files.push(path),
                _ => {}
            }
        }
    }
    files.sort();
    files
}
