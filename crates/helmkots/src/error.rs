//! The engine's typed errors. Variants carry data, not preformatted reports; the CLI turns
//! them into diagnostics (file, line, underlined text, a hint).

use camino::Utf8PathBuf;

use crate::diagnostic::FileProblems;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Mistakes located in an input file (release.toml, Chart.yaml, .helmignore, ...).
    #[error("{0}")]
    Invalid(#[from] FileProblems),

    /// A file or directory could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What we tried to do: "read", "write", "create", "rename", ...
        action: &'static str,
        /// The path involved.
        path: Utf8PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// A chart archive (`.tgz`) was refused: unsafe or malformed entry, or over a size limit.
    #[error("refusing chart archive {archive}: {reason}{}", entry.as_ref().map(|e| format!(" (entry `{e}`)")).unwrap_or_default())]
    UnsafeArchive {
        /// The archive file.
        archive: Utf8PathBuf,
        /// The entry that was refused, when the problem is one entry.
        entry: Option<String>,
        /// Why it was refused.
        reason: String,
    },

    /// A chart directory or archive is not a usable chart (no Chart.yaml, a missing
    /// vendored dependency, ...), where no single line of a file is to blame.
    #[error("chart {chart}: {reason}")]
    Chart {
        /// The chart directory or archive.
        chart: Utf8PathBuf,
        /// What is wrong.
        reason: String,
        /// How to fix it.
        help: Option<String>,
    },

    /// A path given as a chart is not one: a directory without Chart.yaml (such as the
    /// chart's `templates/`), or the Chart.yaml file itself.
    #[error("{path} is not a chart: {reason}")]
    NotAChart {
        /// The path given.
        path: Utf8PathBuf,
        /// Why it is not a chart.
        reason: String,
        /// The chart directory that holds it, when one does.
        enclosing_chart: Option<Utf8PathBuf>,
    },

    /// A value a caller passed in (such as `init`'s slug) that cannot be used; no file holds it.
    #[error("{what} `{value}` {reason}")]
    InvalidArgument {
        /// What the value is: "app slug", ...
        what: &'static str,
        /// The value.
        value: String,
        /// What is wrong with it.
        reason: String,
        /// How to fix it.
        help: String,
    },

    /// Image references in the chart that cannot be used (invalid, or without a tag), each
    /// naming the chart and the values path.
    #[error("the chart's images cannot be used as they are:\n  {}", display_lines(.0))]
    Images(Vec<crate::plan::discover::DiscoveryProblem>),

    /// Rendered discovery was asked for and could not run.
    #[error(transparent)]
    Discovery(#[from] crate::commands::DiscoveryError),

    /// `--locked` was given and `helmkots.lock` would change, or does not hold what the run needs.
    #[error("helmkots.lock is out of date and --locked forbids changing it: {reason}")]
    LockOutdated {
        /// What differs.
        reason: String,
        /// How to bring the lock up to date.
        help: String,
    },

    /// Two images would land on the same name in the customer's registry.
    #[error("{0}")]
    ImageCollision(Box<crate::plan::kots::ImageCollision>),

    /// KOTS templates could not be previewed.
    #[error("cannot preview the release: {0}")]
    Preview(#[from] crate::commands::PreviewError),

    /// The airgap proof could not run.
    #[error("the airgap proof could not run: {0}")]
    Proof(#[from] crate::proof::ProofError),

    /// The KOTS manifests could not be rendered from helmkots's own templates: a bug.
    #[error("internal error (please report it): cannot render the KOTS manifests: {0}")]
    Manifests(#[from] crate::plan::kots::RenderError),

    /// The airgap proof found images that would fail at the customer.
    #[error("the airgap proof failed: {} problem(s); nothing was written", .0.failures().count())]
    ProofFailed(Box<crate::proof::ProofReport>),

    /// A broken invariant inside helmkots: a bug, not a problem with the input.
    #[error("internal error (please report it): {what}{}", source.as_ref().map(|s| format!(": {s}")).unwrap_or_default())]
    Internal {
        /// What went wrong.
        what: String,
        /// The error that revealed it, when one did.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A capability this build of helmkots does not have yet.
    #[error("not supported yet: {what}")]
    Unsupported {
        /// What was asked for.
        what: String,
        /// What to do instead.
        help: String,
    },

    /// A file helmkots reads or writes besides the chart (`helmkots.lock`, a file of
    /// `manifests/`) that cannot be used as it is.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: Utf8PathBuf,
        /// What is wrong.
        reason: String,
        /// How to fix it.
        help: Option<String>,
    },

    /// An environment variable helmkots reads holds a value it cannot use.
    #[error("{var}={value:?} is not {expected}")]
    Environment {
        /// The variable.
        var: &'static str,
        /// What it holds.
        value: String,
        /// What it should hold.
        expected: &'static str,
        /// How to fix it.
        help: String,
    },

    /// A path that is not UTF-8 (helmkots works with UTF-8 paths only).
    #[error("path is not UTF-8: {0}")]
    NonUtf8Path(String),

    /// A registry could not be reached, refused a request, or served bad content.
    #[error(transparent)]
    Registry(#[from] crate::oci::registry::RegistryError),

    /// The helm-cli image could not be built from its base image and the chart.
    #[error(transparent)]
    Image(#[from] crate::oci::image::ImageError),
}

impl Error {
    /// How to fix it, when the error knows (the CLI's `help:` line, `--json`'s `help`).
    pub fn help(&self) -> Option<String> {
        match self {
            Error::Chart { help, .. } | Error::File { help, .. } => help.clone(),
            Error::LockOutdated { help, .. }
            | Error::Unsupported { help, .. }
            | Error::Environment { help, .. }
            | Error::InvalidArgument { help, .. } => Some(help.clone()),
            Error::NotAChart { enclosing_chart, .. } => Some(match enclosing_chart {
                Some(dir) => format!("point at the chart directory, {dir}"),
                None => {
                    "point at the chart directory (the one holding Chart.yaml) or at a chart .tgz".to_string()
                }
            }),
            Error::UnsafeArchive { .. } => {
                Some("only use chart archives you trust; repackage the chart from its sources".to_string())
            }
            Error::Registry(error) => Some(error.help()),
            _ => None,
        }
    }

    /// A broken invariant (a bug) revealed by `source`.
    pub(crate) fn internal(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error::Internal { what: what.into(), source: Some(source.into()) }
    }

    /// A broken invariant (a bug) with no error behind it.
    pub(crate) fn bug(what: impl Into<String>) -> Error {
        Error::Internal { what: what.into(), source: None }
    }
}

/// One item a line.
fn display_lines<T: std::fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  ")
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches the path and the action to an I/O error.
pub trait IoContext<T> {
    /// Wraps the error as [`Error::Io`].
    fn io_context(self, action: &'static str, path: impl Into<Utf8PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn io_context(self, action: &'static str, path: impl Into<Utf8PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io { action, path: path.into(), source })
    }
}
