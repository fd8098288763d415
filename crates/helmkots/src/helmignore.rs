//! `.helmignore` rules with Helm's own semantics (not gitignore's).
//! API fixed here; the implementation is being written.

/// A parsed `.helmignore`.
#[derive(Debug, Clone, Default)]
pub struct HelmIgnore {
    _private: (),
}

/// A line of `.helmignore` that Helm would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct HelmIgnoreError {
    /// 1-based line number.
    pub line: usize,
    /// The offending pattern as written.
    pub pattern: String,
    /// Why it is refused.
    pub reason: String,
}

impl HelmIgnore {
    /// Parses the text of a `.helmignore` file.
    pub fn parse(_text: &str) -> Result<HelmIgnore, HelmIgnoreError> {
        todo!()
    }

    /// Adds Helm's default rule (`templates/.?*`), as Helm's directory loader does after parsing.
    pub fn with_defaults(self) -> HelmIgnore {
        todo!()
    }

    /// Whether `path` (relative to the chart root, `/`-separated) is ignored.
    /// `is_dir` tells whether it names a directory (an ignored directory prunes its subtree).
    pub fn is_ignored(&self, _path: &str, _is_dir: bool) -> bool {
        todo!()
    }
}
