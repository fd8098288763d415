//! The one place that runs `helm template`: the airgap proof and rendered discovery both render
//! through it, so they see the chart exactly the same way.
//!
//! Values go in as a file (`-f`), never as `--set`: a values document keeps its types, and
//! JSON is YAML, so callers may pass either. A Kubernetes version, when given, becomes
//! `--kube-version`, which sets `.Capabilities.KubeVersion` as a cluster of that version would.
//!
//! Renders are cached ([`RenderCache`], under `target/helmkots/renders/` beside the release
//! file) by everything they depend on: the chart archive's digest, the values, the release
//! name, the namespace, the Kubernetes version and the `helm` program itself (its resolved
//! path, size and modification time). So a release after a release-notes edit, or a second
//! `verify --proof`, renders nothing; Helm's refusals are cached too (they are as
//! deterministic as its output).
//!
//! Architecture Invariant: the product only ever runs `helm template` (no cluster, no
//! network); the tests supply a `helm` front end on the real Helm engine (`tests/tools/helm`).

use camino::{Utf8Path, Utf8PathBuf};
use sha2::Digest as _;

/// The program the release runs to render charts.
pub const HELM_PROGRAM: &str = "helm";

/// One `helm template` call.
#[derive(Debug, Clone, Copy)]
pub struct Render<'a> {
    /// The `helm` program.
    pub helm: &'a str,
    /// The chart archive or directory.
    pub chart: &'a Utf8Path,
    /// The release name.
    pub release_name: &'a str,
    /// The namespace.
    pub namespace: &'a str,
    /// `--kube-version`, when not Helm's default.
    pub kube_version: Option<&'a str>,
}

/// Why `helm template` gave no manifests.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The program could not be started, or a temporary file not written: nothing can render.
    #[error("cannot run `{helm}`: {message}")]
    CannotRun {
        /// The program.
        helm: String,
        /// The OS error.
        message: String,
    },
    /// Helm ran and refused the chart or the values (its own error text, trimmed).
    #[error("{0}")]
    Helm(String),
}

impl Render<'_> {
    /// [`Render::run`], through `cache` when there is one.
    pub fn run_cached(&self, values: &str, cache: Option<&RenderCache>) -> Result<String, RenderError> {
        let Some(cache) = cache else { return self.run(values) };
        let path = cache.path(self, values);
        if let Some(cached) = cache.get(&path) {
            return cached;
        }
        let result = self.run(values);
        cache.put(&path, &result);
        result
    }

    /// Renders with `values` (a YAML or JSON document) and returns Helm's output stream.
    pub fn run(&self, values: &str) -> Result<String, RenderError> {
        let cannot_run = |message: String| RenderError::CannotRun { helm: self.helm.to_string(), message };
        let mut file = tempfile::Builder::new()
            .prefix("helmkots-values-")
            .suffix(".yaml")
            .tempfile()
            .map_err(|error| cannot_run(format!("cannot write a temporary values file: {error}")))?;
        std::io::Write::write_all(&mut file, values.as_bytes())
            .map_err(|error| cannot_run(format!("cannot write a temporary values file: {error}")))?;
        let sh = xshell::Shell::new().map_err(|error| cannot_run(error.to_string()))?;
        let (helm, release_name, chart, namespace) =
            (self.helm, self.release_name, self.chart.as_str(), self.namespace);
        let values_file = file.path();
        let kube_version: Vec<String> = self
            .kube_version
            .map(|version| vec!["--kube-version".to_string(), version.to_string()])
            .unwrap_or_default();
        let output = xshell::cmd!(
            sh,
            "{helm} template {release_name} {chart} -f {values_file} --namespace {namespace} {kube_version...}"
        )
        .quiet()
        .ignore_status()
        .output()
        .map_err(|error| cannot_run(error.to_string()))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(RenderError::Helm(String::from_utf8_lossy(&output.stderr).trim().to_string()))
        }
    }
}

/// True when `program` is an executable file in a folder of PATH.
pub fn on_path(program: &str) -> bool {
    find_on_path(program).is_some()
}

/// The first file named `program` in a folder of PATH.
fn find_on_path(program: &str) -> Option<std::path::PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(program)).find(|path| path.is_file())
}

/// The folder of the render cache, under a release's root.
pub const CACHE_DIR: &str = "target/helmkots/renders";

/// `helm template` outputs, keyed by everything a render depends on (module documentation).
#[derive(Debug, Clone)]
pub struct RenderCache {
    dir: Utf8PathBuf,
    /// What identifies the `helm` program and the chart: the part of every key they give.
    base_key: String,
}

impl RenderCache {
    /// The cache for renders by `helm` of the chart whose archive has digest `chart`, under
    /// `root`; `None` when the program is not on PATH (renders then simply run).
    pub fn open(
        root: &Utf8Path,
        helm: &str,
        chart: &crate::util::digest::Sha256Digest,
    ) -> Option<RenderCache> {
        let program = find_on_path(helm)?;
        let resolved = program.canonicalize().unwrap_or(program);
        let metadata = std::fs::metadata(&resolved).ok()?;
        let modified =
            metadata.modified().ok()?.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let base_key =
            format!("helm={} size={} modified={modified} chart={chart}", resolved.display(), metadata.len());
        Some(RenderCache { dir: root.join(CACHE_DIR), base_key })
    }

    fn path(&self, render: &Render<'_>, values: &str) -> Utf8PathBuf {
        let mut hasher = sha2::Sha256::new();
        for part in [
            self.base_key.as_str(),
            render.release_name,
            render.namespace,
            render.kube_version.unwrap_or(""),
            values,
        ] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        self.dir.join(hex::encode(hasher.finalize()))
    }

    fn get(&self, path: &Utf8Path) -> Option<Result<String, RenderError>> {
        let text = std::fs::read_to_string(path).ok()?;
        let (kind, body) = text.split_once('\n')?;
        match kind {
            "ok" => Some(Ok(body.to_string())),
            "refused" => Some(Err(RenderError::Helm(body.to_string()))),
            _ => None,
        }
    }

    /// Best effort: a cache that cannot be written only costs a render next time. Written to
    /// a temporary file and renamed, so a reader never sees half an entry.
    fn put(&self, path: &Utf8Path, result: &Result<String, RenderError>) {
        let text = match result {
            Ok(stream) => format!("ok\n{stream}"),
            Err(RenderError::Helm(message)) => format!("refused\n{message}"),
            Err(RenderError::CannotRun { .. }) => return,
        };
        if std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        if let Ok(mut file) = tempfile::NamedTempFile::new_in(&self.dir) {
            if std::io::Write::write_all(&mut file, text.as_bytes()).is_ok() {
                let _ = file.persist(path);
            }
        }
    }
}
