//! The one place that runs `helm template`: the airgap proof and rendered discovery both render
//! through it, so they see the chart exactly the same way.
//!
//! Values go in as a file (`-f`), never as `--set`: a values document keeps its types, and
//! JSON is YAML, so callers may pass either. A Kubernetes version, when given, becomes
//! `--kube-version`, which sets `.Capabilities.KubeVersion` as a cluster of that version would.
//!
//! Architecture Invariant: the product only ever runs `helm template` (no cluster, no
//! network); the tests supply a `helm` front end on the real Helm engine (`tests/tools/helm`).

use camino::Utf8Path;

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
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
