//! Test harness for the end-to-end tests in `tests/e2e/`: a temp-dir fixture, a command
//! runner for the real `xtask` binary, and small helpers for digests, trees and the
//! Python front ends to the real Helm engine (`tests/tools/helmcheck.py`).
//!
//! Modelled on ripgrep's `tests/util.rs`: tests say what they run and what they expect;
//! every process boundary goes through one helper here.

use std::{
    collections::{BTreeMap, BTreeSet},
    ffi::OsStr,
    fmt::Write as _,
    fs,
    io::{Read, Write as _},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::OnceLock,
};

use sha2::{Digest, Sha256};

/// The repository root: the parent of this crate's folder.
pub fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// `<repo_root>/../shared` (fixtures, schemas) when it exists. Tests that need it print
/// `skipping: ../shared is absent` and return when this is `None`.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = repo_root().join("..").join("shared");
    dir.is_dir().then(|| dir.canonicalize().unwrap_or(dir))
}

/// The `xtask` binary, built once per test process with `$CARGO build -q -p xtask`.
/// Cargo reports where it put the binary, so `CARGO_TARGET_DIR` and profiles are honoured.
pub fn xtask_bin() -> &'static Path {
    // The outcome is kept even when the build fails, so one broken build is reported by
    // every test at once instead of being retried by each.
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BIN.get_or_init(build_xtask) {
        Ok(path) => path,
        Err(error) => panic!("{error}"),
    }
}

fn build_xtask() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    // `cargo test` sets this package's variables for the test process; a nested cargo that
    // inherits them rebuilds every crate whose build script tracks them (ring, and all above).
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                name.as_str(),
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE" | "OUT_DIR"
            )
        {
            command.env_remove(name);
        }
    }
    let output = command
        .args(["build", "-q", "-p", "xtask", "--bin", "xtask", "--message-format=json-render-diagnostics"])
        .current_dir(repo_root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("cannot run {cargo:?} build -p xtask: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo build -p xtask` failed ({}); see the compiler output above",
            output.status
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let executable = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact" && message["target"]["name"] == "xtask")
        .filter_map(|message| message["executable"].as_str().map(PathBuf::from))
        .next_back()
        .ok_or("cargo reported no `xtask` executable")?;
    if !executable.is_file() {
        return Err(format!("cargo reported {} but it does not exist", executable.display()));
    }
    Ok(executable)
}

/// Creates a [`TestDir`] named after the enclosing test function.
#[macro_export]
macro_rules! testdir {
    () => {{
        fn f() {}
        let name = std::any::type_name_of_val(&f);
        let name = name.strip_suffix("::f").unwrap_or(name);
        $crate::TestDir::new(name.rsplit("::").find(|part| !part.starts_with('{')).unwrap_or("test"))
    }};
}

/// A temporary directory, removed when dropped.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    /// A new empty temp dir whose name starts with `helmkots-e2e-<name>-`.
    pub fn new(name: &str) -> TestDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("helmkots-e2e-{name}-"))
            .tempdir()
            .expect("cannot create a temp dir");
        TestDir { dir }
    }

    /// The directory (canonical, so it compares equal to paths the product prints).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `self.path().join(relative)`.
    pub fn join(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.path().join(relative)
    }

    /// Copies the example release (`release.toml`, `charts/`, and `manifests/` when present)
    /// of the repository into this directory.
    pub fn copy_example(&self) -> &TestDir {
        let root = repo_root();
        fs::copy(root.join("release.toml"), self.join("release.toml")).expect("cannot copy release.toml");
        copy_dir(&root.join("charts"), &self.join("charts"));
        if root.join("manifests").is_dir() {
            copy_dir(&root.join("manifests"), &self.join("manifests"));
        }
        self
    }

    /// Writes `text` to `relative`, creating parent folders.
    pub fn write(&self, relative: impl AsRef<Path>, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
        }
        fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// Reads `relative` as UTF-8.
    pub fn read(&self, relative: impl AsRef<Path>) -> String {
        let path = self.join(relative);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    /// Removes a file or a whole folder.
    pub fn remove(&self, relative: impl AsRef<Path>) {
        let path = self.join(relative);
        let result = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
        result.unwrap_or_else(|e| panic!("cannot remove {}: {e}", path.display()));
    }

    /// `cargo xtask <subcommand> -f <dir>/release.toml`, run in this directory.
    pub fn xtask(&self, subcommand: &str) -> TestCommand {
        let mut command = TestCommand::new(self.path());
        command.arg(subcommand);
        // `verify` and `inspect` read only the tree or bundle they are given.
        if subcommand != "verify" && subcommand != "inspect" {
            command.arg("-f").arg(self.join("release.toml"));
        }
        command
    }
}

impl TestDir {
    /// `release --offline --no-proof` without `helm` on PATH (so discovery reads the values
    /// only): the quickest tree of this directory's release, for tests of what reads trees.
    pub fn release_offline_unproved(&self) -> TestOutput {
        let output =
            self.xtask("release").args(["--offline", "--no-proof"]).env("PATH", path_without_helm()).run();
        output.assert_success();
        output
    }
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
    let entries = fs::read_dir(from).unwrap_or_else(|e| panic!("cannot list {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.expect("cannot read a directory entry");
        let target = to.join(entry.file_name());
        let kind = entry.file_type().expect("cannot stat a directory entry");
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap_or_else(|e| {
                panic!("cannot copy {} to {}: {e}", entry.path().display(), target.display())
            });
        }
    }
}

/// The `xtask` binary with arguments, a working directory and environment overrides.
/// `SOURCE_DATE_EPOCH` is removed and colours are off unless a test sets them.
pub struct TestCommand {
    command: Command,
    shown: Vec<String>,
}

impl TestCommand {
    /// `xtask` run in `dir` with no arguments yet.
    pub fn new(dir: &Path) -> TestCommand {
        let mut command = Command::new(xtask_bin());
        command
            .current_dir(dir)
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("HELMKOTS_INJECT_FAILURE")
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null());
        TestCommand { command, shown: vec!["xtask".to_string()] }
    }

    /// Adds one argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut TestCommand {
        self.shown.push(arg.as_ref().to_string_lossy().into_owned());
        self.command.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut TestCommand {
        for arg in args {
            self.arg(arg);
        }
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(&mut self, key: &str, value: impl AsRef<OsStr>) -> &mut TestCommand {
        self.shown.insert(0, format!("{key}={}", value.as_ref().to_string_lossy()));
        self.command.env(key, value);
        self
    }

    /// Runs to completion and captures the output.
    pub fn run(&mut self) -> TestOutput {
        let output =
            self.command.output().unwrap_or_else(|e| panic!("cannot run `{}`: {e}", self.shown.join(" ")));
        TestOutput {
            command: self.shown.join(" "),
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Starts the child as a shell starts a foreground job: the leader of a process group of
    /// its own (so that [`ctrl_c`] reaches it and every process it started, as the terminal's
    /// Ctrl-C does), with its output captured for [`TestCommand::finish`].
    pub fn spawn_job(&mut self) -> Child {
        use std::os::unix::process::CommandExt as _;
        self.command
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", self.shown.join(" ")))
    }

    /// Waits for a child of [`TestCommand::spawn_job`] and captures its output.
    pub fn finish(&self, child: Child) -> TestOutput {
        let output = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("cannot wait for `{}`: {e}", self.shown.join(" ")));
        TestOutput {
            command: self.shown.join(" "),
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Starts the child with its output discarded (for kill tests).
    pub fn spawn(&mut self) -> Child {
        self.command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", self.shown.join(" ")))
    }
}

/// Ctrl-C on a terminal: SIGINT to every process of the job `child` leads
/// ([`TestCommand::spawn_job`]).
pub fn ctrl_c(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status()
        .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
    assert!(status.success(), "kill -INT -{} failed: {status}", child.id());
}

/// The outcome of a [`TestCommand`] or a [`python_tool`] run.
#[derive(Debug)]
pub struct TestOutput {
    /// The command line, for messages.
    pub command: String,
    /// The exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl TestOutput {
    /// The command line, exit status, stdout and stderr, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "command: {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }

    fn assert_no_panic(&self) {
        assert!(
            self.status.code() != Some(101) && !self.stderr.contains("panicked"),
            "the command panicked\n{}",
            self.describe()
        );
    }

    /// Asserts exit code 0.
    pub fn assert_success(&self) -> &TestOutput {
        self.assert_no_panic();
        assert!(self.status.success(), "expected success\n{}", self.describe());
        self
    }

    /// Asserts a non-zero exit code that is not a panic.
    pub fn assert_failure(&self) -> &TestOutput {
        self.assert_no_panic();
        assert!(!self.status.success(), "expected failure\n{}", self.describe());
        self
    }

    /// Asserts this exact exit code (and no panic).
    pub fn assert_code(&self, code: i32) -> &TestOutput {
        self.assert_no_panic();
        assert_eq!(self.status.code(), Some(code), "unexpected exit code\n{}", self.describe());
        self
    }

    /// Asserts that stderr contains `needle`, ignoring whitespace and box drawing, so that
    /// a message miette wrapped at 80 columns (even inside a path) still matches.
    pub fn assert_stderr_contains(&self, needle: &str) -> &TestOutput {
        assert!(
            squash_diagnostics(&self.stderr).contains(&squash_diagnostics(needle)),
            "expected stderr to contain {needle:?}\n{}",
            self.describe()
        );
        self
    }

    /// Parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", self.describe()))
    }
}

/// Text with every whitespace and box-drawing character (miette's `│`, `╰`, `·`, ...)
/// removed, for searching diagnostics regardless of where they were wrapped.
pub fn squash_diagnostics(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !('\u{2500}'..='\u{257f}').contains(c) && *c != '·')
        .collect()
}

/// Hex sha256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Hex sha256 of a file.
pub fn sha256_file(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    let mut file = fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    sha256_hex(&bytes)
}

/// Every file (and symlink) under `dir`, as sorted `/`-separated relative paths; folders
/// are not listed. Symlinks are listed, never followed. An absent `dir` has no files.
pub fn files_under(dir: impl AsRef<Path>) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let kind = entry.file_type().expect("cannot stat a directory entry");
            if kind.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).expect("walked outside the root");
                let parts: Vec<String> =
                    relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                out.push(parts.join("/"));
            }
        }
    }
    let dir = dir.as_ref();
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `relative path → sha256` of every file under `dir`.
pub fn tree_digests(dir: impl AsRef<Path>) -> BTreeMap<String, String> {
    let dir = dir.as_ref();
    files_under(dir)
        .into_iter()
        .map(|file| {
            let digest = sha256_file(dir.join(&file));
            (file, digest)
        })
        .collect()
}

/// The lines of a `SHA256SUMS` file as `path → hex`, asserting the `<hex>  <path>` form.
pub fn parse_sha256sums(text: &str) -> BTreeMap<String, String> {
    let mut sums = BTreeMap::new();
    for line in text.lines() {
        let (hex, path) =
            line.split_once("  ").unwrap_or_else(|| panic!("malformed SHA256SUMS line {line:?}"));
        assert!(
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "malformed digest in SHA256SUMS line {line:?}"
        );
        assert!(sums.insert(path.to_string(), hex.to_string()).is_none(), "SHA256SUMS lists {path} twice");
    }
    sums
}

/// Asserts that a release tree is whole: it has a `SHA256SUMS` that lists every other file
/// of the tree exactly once, and every listed file has that digest. Returns the digests.
pub fn assert_tree_intact(tree: impl AsRef<Path>) -> BTreeMap<String, String> {
    let tree = tree.as_ref();
    let sums_path = tree.join("SHA256SUMS");
    let text = fs::read_to_string(&sums_path).unwrap_or_else(|e| {
        panic!("cannot read {}: {e} (files: {:?})", sums_path.display(), files_under(tree))
    });
    let sums = parse_sha256sums(&text);
    let files: Vec<String> = files_under(tree).into_iter().filter(|f| f != "SHA256SUMS").collect();
    let listed: Vec<String> = sums.keys().cloned().collect();
    assert_eq!(listed, files, "SHA256SUMS of {} does not list exactly the files of the tree", tree.display());
    for (path, hex) in &sums {
        assert_eq!(
            &sha256_file(tree.join(path)),
            hex,
            "{path} in {} does not match its SHA256SUMS line",
            tree.display()
        );
    }
    sums
}

/// Runs `python3 tests/tools/helmcheck.py ARGS...` from the repository root.
pub fn python_tool<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> TestOutput {
    run_python_script("helmcheck.py", args)
}

/// Runs `python3 tests/tools/kotscheck.py ARGS...` from the repository root (the KOTS kinds
/// against the kotskinds JSON schemas, every other kind against kubernetes-validate).
pub fn kotscheck<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> TestOutput {
    run_python_script("kotscheck.py", args)
}

/// The files a `kotscheck.py` run reports as `checked <file>: ...` on stderr, relative to
/// `manifests` where they are under it, sorted.
pub fn kotscheck_checked(output: &TestOutput, manifests: &Path) -> Vec<String> {
    let mut checked: Vec<String> = output
        .stderr
        .lines()
        .filter_map(|line| line.strip_prefix("checked "))
        .filter_map(|line| line.split_once(": ").map(|(file, _)| file.to_string()))
        .map(|file| Path::new(&file).strip_prefix(manifests).map(|p| p.display().to_string()).unwrap_or(file))
        .collect();
    checked.sort();
    checked
}

/// Runs `python3 tests/tools/<script> ARGS...` from the repository root.
fn run_python_script<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(script: &str, args: I) -> TestOutput {
    let script = tools_dir().join(script);
    let mut command = Command::new("python3");
    command.arg(&script).current_dir(repo_root()).stdin(Stdio::null());
    let mut shown = vec!["python3".to_string(), script.display().to_string()];
    for arg in args {
        shown.push(arg.as_ref().to_string_lossy().into_owned());
        command.arg(arg);
    }
    let output = command.output().unwrap_or_else(|e| panic!("cannot run `{}`: {e}", shown.join(" ")));
    TestOutput {
        command: shown.join(" "),
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Parses YAML with PyYAML's `safe_load` (installed with the test tools) and returns it as
/// JSON, or PyYAML's error.
pub fn yaml_to_json(text: &str) -> Result<serde_json::Value, String> {
    let mut child = Command::new("python3")
        .args(["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run python3");
    child.stdin.take().unwrap().write_all(text.as_bytes()).expect("cannot write to python3");
    let output = child.wait_with_output().expect("cannot wait for python3");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&output.stdout).expect("python3 printed no JSON"))
}

/// [`yaml_to_json`], asserting that `text` (`what`, for the message) is valid YAML.
pub fn parse_yaml(text: &str, what: &str) -> serde_json::Value {
    yaml_to_json(text)
        .unwrap_or_else(|error| panic!("{what} is not valid YAML: {error}\n--- text ---\n{text}"))
}

/// Sets the modification time of every file under `dir`.
pub fn set_mtimes(dir: impl AsRef<Path>, time: std::time::SystemTime) {
    let dir = dir.as_ref();
    for file in files_under(dir) {
        let path = dir.join(file);
        let handle = fs::File::options()
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        handle
            .set_modified(time)
            .unwrap_or_else(|e| panic!("cannot set the mtime of {}: {e}", path.display()));
    }
}

pub mod fault_proxy;
pub mod registry;

/// Asserts that every blob of a helmkots store (`<store>/blobs/sha256/<hex>`) hashes to its
/// name: the store's invariant, whatever killed or faulty runs did before.
pub fn assert_store_sound(store: impl AsRef<Path>) {
    let blobs = store.as_ref().join("blobs/sha256");
    for entry in std::fs::read_dir(&blobs).unwrap_or_else(|e| panic!("{}: {e}", blobs.display())) {
        let path = entry.expect("store entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        assert_eq!(sha256_file(&path), name, "{} does not match its name", path.display());
    }
}

/// Standard base64 with padding (Docker `config.json` `auth` values).
pub fn base64(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `tests/tools/`: the `helm` front end on the real Helm engine and the Python checkers.
pub fn tools_dir() -> PathBuf {
    repo_root().join("tests").join("tools")
}

/// PATH with [`tools_dir`] (and its `helm`) first, for runs whose airgap proof or rendered
/// discovery must go through the real Helm engine.
pub fn path_with_tools() -> std::ffi::OsString {
    path_with_first(tools_dir())
}

/// PATH with `dir` first.
pub fn path_with_first(dir: impl Into<PathBuf>) -> std::ffi::OsString {
    let mut dirs = vec![dir.into()];
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(dirs).expect("PATH entries cannot be joined")
}

/// PATH without any folder that holds a `helm`, so that `release` skips the airgap proof.
pub fn path_without_helm() -> std::ffi::OsString {
    let dirs: Vec<PathBuf> = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .filter(|dir| !dir.join("helm").exists())
        .collect();
    std::env::join_paths(dirs).expect("PATH entries cannot be joined")
}

/// Asserts once per test process that `tests/tools/helm` runs (it needs Python with
/// helm-python-sdk, which `cargo xtask test` installs): without it discovery reads the values
/// only and the airgap proof is skipped or cannot render, so a test would fail (or pass) for
/// the wrong reason.
pub fn require_helm() {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECKED.get_or_init(|| {
        let output = Command::new(tools_dir().join("helm"))
            .args(["version", "--short"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run tests/tools/helm: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "tests/tools/helm does not run ({}); install the test tools with `cargo xtask test`:\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    });
    if let Err(message) = result {
        panic!("{message}");
    }
}

/// Compares `actual` with the committed golden `tests/golden/<relative>`, or rewrites the
/// golden with `UPDATE_GOLDEN=1` (then it passes). `Err(expected)` when they differ; a
/// golden that cannot be read panics, saying how to write it. The one golden mechanism of
/// the tests: each caller words its own difference.
pub fn golden_file(relative: &str, actual: &str) -> Result<(), String> {
    let path = repo_root().join("tests/golden").join(relative);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::create_dir_all(path.parent().expect("golden folder")).expect("cannot create the golden folder");
        fs::write(&path, actual).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("UPDATE_GOLDEN=1: rewrote {}", path.display());
        return Ok(());
    }
    let expected = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read {} ({e}); run with UPDATE_GOLDEN=1 to create it", path.display())
    });
    if expected == actual {
        Ok(())
    } else {
        Err(expected)
    }
}

/// Compares `lines` (one output each, `<sha256>  <name>`) with the committed golden
/// `tests/golden/outputs/<name>` ([`golden_file`]): the release trees and bundles stay
/// byte-identical across refactors.
pub fn golden_outputs(name: &str, lines: &[String]) -> Result<(), String> {
    let relative = format!("outputs/{name}");
    let actual: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let Err(expected) = golden_file(&relative, &actual) else { return Ok(()) };
    let expected: BTreeSet<&str> = expected.lines().collect();
    let actual: BTreeSet<&str> = actual.lines().collect();
    let gone: Vec<&&str> = expected.difference(&actual).collect();
    let new: Vec<&&str> = actual.difference(&expected).collect();
    Err(format!(
        "the outputs differ from tests/golden/{relative} (an unintended change of output; if intended, re-run with \
         UPDATE_GOLDEN=1 and commit the golden)\nexpected, not written: {gone:#?}\nwritten, not expected: {new:#?}"
    ))
}

/// The golden lines of a release tree: its `SHA256SUMS` without the files named in `skip`.
pub fn tree_golden_lines(tree: &Path, skip: &[&str]) -> Vec<String> {
    assert_tree_intact(tree)
        .into_iter()
        .filter(|(path, _)| !skip.contains(&path.as_str()))
        .map(|(path, hex)| format!("{hex}  {path}"))
        .collect()
}
