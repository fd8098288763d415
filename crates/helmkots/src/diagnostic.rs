//! Problems located in an input file (release.toml, Chart.yaml, .helmignore, ...).
//!
//! The engine reports every user mistake as a [`Problem`] with a byte span into a
//! [`SourceFile`]; the CLI turns them into rustc-style diagnostics and `build.rs` into
//! `cargo:warning=FILE:LINE:COL: ...` lines. Nothing here prints.

use std::{fmt, ops::Range, sync::Arc};

use camino::Utf8PathBuf;

/// An input file kept in memory so that problems can point into it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user would recognise it (relative to the release file's folder when possible).
    pub path: Utf8PathBuf,
    /// The whole text of the file.
    pub text: Arc<str>,
}

impl SourceFile {
    /// A file with the given path and text.
    pub fn new(path: impl Into<Utf8PathBuf>, text: impl Into<Arc<str>>) -> SourceFile {
        SourceFile { path: path.into(), text: text.into() }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// Byte offset of the start of a 1-based line and column (in characters).
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let mut offset = 0;
        for (index, text_line) in self.text.split_inclusive('\n').enumerate() {
            if index + 1 == line {
                let in_line: usize =
                    text_line.chars().take(column.saturating_sub(1)).map(char::len_utf8).sum();
                return offset + in_line;
            }
            offset += text_line.len();
        }
        self.text.len()
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// One mistake in an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong, in one line, without a trailing period.
    pub message: String,
    /// Where it is: a byte range into the file, when known.
    pub span: Option<Range<usize>>,
    /// How to fix it, when there is something useful to say.
    pub help: Option<String>,
}

impl Problem {
    /// A problem at a span.
    pub fn at(span: Range<usize>, message: impl Into<String>) -> Problem {
        Problem { message: one_line(&message.into()), span: Some(span), help: None }
    }

    /// A problem about the whole file.
    pub fn whole_file(message: impl Into<String>) -> Problem {
        Problem { message: one_line(&message.into()), span: None, help: None }
    }

    /// The same problem with a hint on how to fix it.
    pub fn with_help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(one_line(&help.into()));
        self
    }
}

/// Messages quote what the user wrote; control characters in it (a newline in a name) are
/// shown escaped, so that every message stays one line (`build.rs` warnings, logs).
fn one_line(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

/// Every problem found in one file: the error returned for bad input.
#[derive(Debug, Clone)]
pub struct FileProblems {
    /// The file the problems point into.
    pub file: SourceFile,
    /// At least one problem, in file order.
    pub problems: Vec<Problem>,
}

impl FileProblems {
    /// `FILE:LINE:COL: message` lines, one a problem, for `cargo:warning=` and plain logs.
    pub fn located_lines(&self) -> Vec<String> {
        self.problems
            .iter()
            .map(|problem| {
                let (line, column) = self.file.line_col(problem.span.as_ref().map_or(0, |s| s.start));
                let mut text = format!("{}:{line}:{column}: {}", self.file.path, problem.message);
                if let Some(help) = &problem.help {
                    text.push_str(&format!(" (help: {help})"));
                }
                text
            })
            .collect()
    }
}

impl fmt::Display for FileProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = self.located_lines();
        write!(f, "{}", lines.join("\n"))
    }
}

impl std::error::Error for FileProblems {}

/// Collects problems for one file while a checker runs, so that a user sees all of them at once.
#[derive(Debug)]
pub struct ProblemSink {
    file: SourceFile,
    problems: Vec<Problem>,
}

impl ProblemSink {
    /// An empty sink for `file`.
    pub fn new(file: SourceFile) -> ProblemSink {
        ProblemSink { file, problems: Vec::new() }
    }

    /// The file problems point into.
    pub fn file(&self) -> &SourceFile {
        &self.file
    }

    /// Records one problem.
    pub fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// `Ok(value)` when nothing was recorded, else every problem, sorted by position.
    pub fn finish<T>(mut self, value: T) -> Result<T, FileProblems> {
        if self.problems.is_empty() {
            return Ok(value);
        }
        self.problems.sort_by_key(|p| p.span.as_ref().map_or(0, |s| s.start));
        Err(FileProblems { file: self.file, problems: self.problems })
    }
}

/// The known name closest to `unknown`, if one is close enough to be a likely typo.
pub fn nearest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(unknown, candidate), candidate))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let file = SourceFile::new("x.toml", "a = 1\nbé = 2\n");
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(6), (2, 1));
        assert_eq!(file.line_col(9), (2, 3));
        assert_eq!(file.offset_of(2, 3), 9);
    }

    #[test]
    fn nearest_suggests_typos_only() {
        assert_eq!(nearest("slgu", ["slug", "title", "icon"]), Some("slug"));
        assert_eq!(nearest("zzzz", ["slug", "title"]), None);
    }
}
