//! `.helmignore` rules with Helm's own semantics (not gitignore's).
//!
//! This is written by hand because the gitignore crates (`ignore`, `globset`) would
//! silently pick a different set of files than `helm package` does. Helm tests a rule
//! without a slash against the basename only, stops at the first decisive rule instead of
//! letting the last match win, treats a negated rule as "ignore everything that does not
//! match", and rejects `**` outright. Patterns use Go's `path/filepath.Match` syntax, so
//! the matcher below is a port of that function (Unix flavour, `\` escapes), checked
//! against Helm's `pkg/ignore` tests and Go's `filepath.Match` tests.

/// A parsed `.helmignore`.
#[derive(Debug, Clone, Default)]
pub struct HelmIgnore {
    rules: Vec<Rule>,
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

/// One rule, with its `!`, trailing `/` and leading `/` already interpreted.
#[derive(Debug, Clone)]
struct Rule {
    /// The trimmed line as written, kept for `Debug` output.
    #[allow(dead_code)]
    raw: String,
    /// The `filepath.Match` pattern left once the markers are stripped.
    glob: String,
    /// The line started with `!`.
    negate: bool,
    /// The line ended with `/`, so only directories can match.
    dir_only: bool,
    /// The pattern contains a `/`, so it is matched against the whole relative path
    /// instead of the basename.
    whole_path: bool,
}

/// The rule Helm's directory loader appends after the user's rules: dotfiles in `templates/`.
const DEFAULT_RULE: &str = "templates/.?*";

/// Helm's message for a line containing `**`.
const DOUBLE_STAR: &str = "double-star (**) syntax is not supported by .helmignore";

/// Go's `filepath.ErrBadPattern` message, with a hint at the usual culprits.
const BAD_PATTERN: &str = "syntax error in pattern (check its `[...]` classes and `\\` escapes)";

impl HelmIgnore {
    /// Parses the text of a `.helmignore` file.
    ///
    /// Lines are trimmed; blank lines and lines starting with `#` are skipped (there are no
    /// inline comments). A line containing `**`, or one that is not valid Go
    /// `filepath.Match` syntax, is an error, as it is for Helm.
    pub fn parse(text: &str) -> Result<HelmIgnore, HelmIgnoreError> {
        let mut ignore = HelmIgnore::default();
        for (index, line) in text.lines().enumerate() {
            // A UTF-8 byte order mark can only appear at the very start of the file.
            let line = if index == 0 { line.strip_prefix('\u{feff}').unwrap_or(line) } else { line };
            let refuse = |reason: &str| HelmIgnoreError {
                line: index + 1,
                pattern: line.trim().to_owned(),
                reason: reason.to_owned(),
            };
            match Rule::parse(line) {
                Ok(Some(rule)) => ignore.rules.push(rule),
                Ok(None) => {}
                Err(RuleError::DoubleStar) => return Err(refuse(DOUBLE_STAR)),
                Err(RuleError::BadPattern) => return Err(refuse(BAD_PATTERN)),
            }
        }
        Ok(ignore)
    }

    /// Adds Helm's default rule (`templates/.?*`), as Helm's directory loader does after parsing.
    pub fn with_defaults(mut self) -> HelmIgnore {
        if let Ok(Some(rule)) = Rule::parse(DEFAULT_RULE) {
            self.rules.push(rule);
        }
        self
    }

    /// Whether `path` (relative to the chart root, `/`-separated) is ignored.
    /// `is_dir` tells whether it names a directory (an ignored directory prunes its subtree).
    ///
    /// Rules are tried in order and the first decisive one wins. A positive rule that
    /// matches ignores the path. A negated rule `!p` ignores every path that does not match
    /// `p` (and, when `p` ends with `/`, every file), and lets a matching path fall through
    /// to the next rule. The chart root (`""`, `.` or `./`) is never ignored.
    pub fn is_ignored(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for rule in &self.rules {
            if rule.negate {
                if (rule.dir_only && !is_dir) || !rule.matches(path) {
                    return true;
                }
                continue;
            }
            if rule.dir_only && !is_dir {
                continue;
            }
            if rule.matches(path) {
                return true;
            }
        }
        false
    }
}

/// Why a single line is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleError {
    /// The line contains `**`.
    DoubleStar,
    /// The line is not valid `filepath.Match` syntax.
    BadPattern,
}

impl Rule {
    /// Parses one line; `Ok(None)` for blank lines and comments.
    fn parse(line: &str) -> Result<Option<Rule>, RuleError> {
        let raw = line.trim();
        if raw.is_empty() || raw.starts_with('#') {
            return Ok(None);
        }
        if raw.contains("**") {
            return Err(RuleError::DoubleStar);
        }
        // Helm validates the whole line, markers included, against a non-empty name.
        if go_match(raw.as_bytes(), b"abc").is_err() {
            return Err(RuleError::BadPattern);
        }
        let (negate, rest) = match raw.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let (dir_only, rest) = match rest.strip_suffix('/') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        // Only one leading slash is stripped, so `//x` never matches a relative path. (Helm's
        // closure strips one more slash each time it runs, so there `//x` starts matching `x`
        // from its second use; we keep the first, stateless reading.)
        let (whole_path, glob) = match rest.strip_prefix('/') {
            Some(anchored) => (true, anchored),
            None => (rest.contains('/'), rest),
        };
        Ok(Some(Rule { raw: raw.to_owned(), glob: glob.to_owned(), negate, dir_only, whole_path }))
    }

    /// Whether the rule's pattern matches `path`, ignoring `!` and the directory marker.
    fn matches(&self, path: &str) -> bool {
        let target = if self.whole_path { path } else { go_base(path) };
        // Stripping the markers can break a valid line (`a\/` becomes `a\`); Helm then
        // logs the error and treats the rule as not matching, and so do we.
        go_match(self.glob.as_bytes(), target.as_bytes()).unwrap_or(false)
    }
}

/// Go's `filepath.Base` for `/`-separated paths: the last element, trailing slashes
/// removed; `.` for an empty path and `/` for a path made only of slashes.
fn go_base(path: &str) -> &str {
    if path.is_empty() {
        return ".";
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    match trimmed.rfind('/') {
        Some(slash) => trimmed.get(slash + 1..).unwrap_or(trimmed),
        None => trimmed,
    }
}

/// The pattern is not valid `filepath.Match` syntax (Go's `ErrBadPattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BadPattern;

/// A port of Go's `path/filepath.Match` on Unix: whether `name` matches all of `pattern`.
///
/// `*` matches any run of bytes other than `/`, `?` one character other than `/`,
/// `[...]` (or `[^...]`) a character class with ranges, and `\` escapes the next
/// character. Like the Go releases Helm is built with (but not Go 1.19 and older), a
/// malformed pattern is an error even when the name stops matching before the malformed
/// part is reached, so `x*[` is refused.
fn go_match(pattern: &[u8], name: &[u8]) -> Result<bool, BadPattern> {
    let mut pattern = pattern;
    let mut name = name;
    'chunks: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing star matches the rest of the name unless it crosses a slash.
            return Ok(!name.contains(&b'/'));
        }
        // Try the chunk at the current position; the last chunk must use up the name.
        if let Some(after) = match_chunk(chunk, name)? {
            if after.is_empty() || !pattern.is_empty() {
                name = after;
                continue;
            }
        }
        if star {
            // Let the star swallow one more byte at a time, but never a slash.
            for (skip, &byte) in name.iter().enumerate() {
                if byte == b'/' {
                    break;
                }
                let candidate = name.get(skip + 1..).unwrap_or_default();
                if let Some(after) = match_chunk(chunk, candidate)? {
                    if pattern.is_empty() && !after.is_empty() {
                        continue;
                    }
                    name = after;
                    continue 'chunks;
                }
            }
        }
        // No match: still report a syntax error in the rest of the pattern.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Splits off the next chunk: leading stars (reported as a flag), then everything up to
/// the next star outside a character class.
fn scan_chunk(pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut pattern = pattern;
    let mut star = false;
    while let Some((b'*', rest)) = pattern.split_first() {
        pattern = rest;
        star = true;
    }
    let mut in_class = false;
    let mut end = 0;
    while let Some(&byte) = pattern.get(end) {
        match byte {
            // The escaped byte is skipped; a dangling `\` is reported by `match_chunk`.
            b'\\' if end + 1 < pattern.len() => end += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'*' if !in_class => break,
            _ => {}
        }
        end += 1;
    }
    let (chunk, rest) = pattern.split_at(end.min(pattern.len()));
    (star, chunk, rest)
}

/// Matches a star-free chunk against the start of `s` and returns what is left of `s`.
///
/// Once the match has failed the chunk is still read to the end, so that syntax errors
/// are found whatever the name.
fn match_chunk<'s>(chunk: &[u8], s: &'s [u8]) -> Result<Option<&'s [u8]>, BadPattern> {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while let Some((&first, after_first)) = chunk.split_first() {
        if s.is_empty() {
            failed = true;
        }
        match first {
            b'[' => {
                // Go leaves the rune at zero once the match has failed.
                let mut rune = 0;
                if !failed {
                    let (decoded, width) = decode_rune(s);
                    rune = decoded;
                    s = s.get(width..).unwrap_or_default();
                }
                chunk = after_first;
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = chunk.get(1..).unwrap_or_default();
                }
                let mut in_class = false;
                let mut ranges = 0;
                loop {
                    if ranges > 0 {
                        if let Some((b']', rest)) = chunk.split_first() {
                            chunk = rest;
                            break;
                        }
                    }
                    let (lo, rest) = class_char(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if let Some((b'-', rest)) = chunk.split_first() {
                        let (upper, rest) = class_char(rest)?;
                        hi = upper;
                        chunk = rest;
                    }
                    if lo <= rune && rune <= hi {
                        in_class = true;
                    }
                    ranges += 1;
                }
                if in_class == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s.first() == Some(&b'/') {
                        failed = true;
                    }
                    let (_, width) = decode_rune(s);
                    s = s.get(width..).unwrap_or_default();
                }
                chunk = after_first;
            }
            _ => {
                let literal = if first == b'\\' { after_first } else { chunk };
                let Some((&expected, rest)) = literal.split_first() else {
                    return Err(BadPattern);
                };
                if !failed {
                    if s.first() != Some(&expected) {
                        failed = true;
                    }
                    s = s.get(1..).unwrap_or_default();
                }
                chunk = rest;
            }
        }
    }
    Ok(if failed { None } else { Some(s) })
}

/// Reads one possibly escaped character of a class (Go's `getEsc`); like Go, the class
/// must go on after it (at least a `]`).
fn class_char(chunk: &[u8]) -> Result<(u32, &[u8]), BadPattern> {
    let chunk = match chunk.split_first() {
        None | Some((b'-' | b']', _)) => return Err(BadPattern),
        Some((b'\\', [])) => return Err(BadPattern),
        Some((b'\\', rest)) => rest,
        Some(_) => chunk,
    };
    let (rune, width) = decode_rune(chunk);
    if rune == REPLACEMENT && width == 1 {
        return Err(BadPattern);
    }
    let rest = chunk.get(width..).unwrap_or_default();
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((rune, rest))
}

/// U+FFFD, which Go's UTF-8 decoder returns for an invalid byte.
const REPLACEMENT: u32 = 0xFFFD;

/// Decodes the first character of `bytes` like Go's `utf8.DecodeRune`: the code point
/// and its width, U+FFFD with width 1 for an invalid byte, width 0 for no input.
///
/// The star loop in [`go_match`] advances byte by byte, so `bytes` may start inside a
/// character even though it was cut from a `&str`.
fn decode_rune(bytes: &[u8]) -> (u32, usize) {
    let width = match bytes.first() {
        None => return (REPLACEMENT, 0),
        Some(&byte) if byte < 0x80 => return (u32::from(byte), 1),
        Some(&byte) if byte >= 0xF0 => 4,
        Some(&byte) if byte >= 0xE0 => 3,
        Some(&byte) if byte >= 0xC0 => 2,
        Some(_) => return (REPLACEMENT, 1),
    };
    let decoded = bytes
        .get(..width)
        .and_then(|prefix| std::str::from_utf8(prefix).ok())
        .and_then(|text| text.chars().next());
    match decoded {
        Some(character) => (u32::from(character), width),
        None => (REPLACEMENT, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `rules` and asserts whether `path` is ignored.
    #[track_caller]
    fn check(rules: &str, path: &str, is_dir: bool, expected: bool) {
        let ignore = HelmIgnore::parse(rules).expect("rules should parse");
        assert_eq!(
            ignore.is_ignored(path, is_dir),
            expected,
            "rules {rules:?}, path {path:?} (dir: {is_dir})"
        );
    }

    #[track_caller]
    fn parse_error(rules: &str) -> HelmIgnoreError {
        match HelmIgnore::parse(rules) {
            Ok(parsed) => panic!("{rules:?} should be refused, parsed as {parsed:?}"),
            Err(error) => error,
        }
    }

    // The table of Helm's `TestIgnore`. Whether a name is a directory comes from Helm's
    // fixture tree: `cargo/` and `mast/` are directories, everything else is a file.
    #[test]
    fn helm_ignore_table() {
        let table: &[(&str, &str, bool, bool)] = &[
            // Globs.
            ("helm.txt", "helm.txt", false, true),
            ("helm.*", "helm.txt", false, true),
            ("helm.*", "rudder.txt", false, false),
            ("*.txt", "tiller.txt", false, true),
            ("*.txt", "cargo/a.txt", false, true),
            ("cargo/*.txt", "cargo/a.txt", false, true),
            ("cargo/*.*", "cargo/a.txt", false, true),
            ("cargo/*.txt", "mast/a.txt", false, false),
            ("ru[c-e]?er.txt", "rudder.txt", false, true),
            ("templates/.?*", "templates/.dotfile", false, true),
            // The chart root is never ignored (helm/helm#1776).
            (".*", ".", true, false),
            (".*", "./", true, false),
            (".*", ".joonix", false, true),
            (".*", "helm.txt", false, false),
            (".*", "", true, false),
            // Directories.
            ("cargo/", "cargo", true, true),
            ("cargo/", "cargo/", true, true),
            ("cargo/", "mast/", true, false),
            ("helm.txt/", "helm.txt", false, false),
            // Negation.
            ("!helm.txt", "helm.txt", false, false),
            ("!helm.txt", "tiller.txt", false, true),
            ("!*.txt", "cargo", true, true),
            ("!cargo/", "mast/", true, true),
            // Anchored at the chart root.
            ("/a.txt", "a.txt", false, true),
            ("/a.txt", "cargo/a.txt", false, false),
            ("/cargo/a.txt", "cargo/a.txt", false, true),
        ];
        for &(rules, path, is_dir, expected) in table {
            check(rules, path, is_dir, expected);
        }
    }

    // Helm's `TestParse`: comments, blank and indented lines are skipped.
    #[test]
    fn parse_skips_comments_and_blank_lines() {
        let text = "#ignore\n\n\t#ignore\nfoo\nbar/*\nbaz/bar/foo.txt\n\none/more\n";
        let ignore = HelmIgnore::parse(text).expect("rules should parse");
        let raw: Vec<&str> = ignore.rules.iter().map(|rule| rule.raw.as_str()).collect();
        assert_eq!(raw, ["foo", "bar/*", "baz/bar/foo.txt", "one/more"]);
    }

    // Helm's `TestParseFail`.
    #[test]
    fn parse_refuses_double_star_and_bad_class() {
        let error = parse_error("foo/**/bar");
        assert_eq!((error.line, error.pattern.as_str()), (1, "foo/**/bar"));
        assert!(error.reason.contains("**"), "{error}");
        let error = parse_error("[z-");
        assert_eq!((error.line, error.pattern.as_str()), (1, "[z-"));
        assert!(error.reason.contains("syntax error"), "{error}");
    }

    #[test]
    fn parse_errors_carry_line_and_trimmed_pattern() {
        let error = parse_error("# header\n*.txt\n\n  secrets/[abc  \nlater\n");
        assert_eq!(error.line, 4);
        assert_eq!(error.pattern, "secrets/[abc");
        assert_eq!(error.to_string(), format!("line 4: {}", error.reason));
        assert_eq!(parse_error("ok\n**\n").line, 2);
        // Any pair of stars is refused, even escaped or inside a class.
        parse_error("a\\**");
        parse_error("[**]");
        // A trailing backslash, an empty class and a dangling range are malformed.
        parse_error("foo\\");
        parse_error("[]");
        parse_error("[a-]");
        // The check covers the whole line, even past a point where `abc` stops matching.
        parse_error("x/y[");
        parse_error("!nope[");
        // That includes chunks after a star that current Go checks after the mismatch.
        parse_error("x*[");
        parse_error("*.txt\n!keep*[^");
    }

    #[test]
    fn comments_must_start_the_line() {
        // A `#` line may contain anything, including `**`.
        check("# not **/ a rule\nfoo", "foo", false, true);
        check("   # indented comment", "# indented comment", false, false);
        // There are no inline comments: the whole line is the pattern.
        check("foo # comment", "foo", false, false);
        check("foo # comment", "foo # comment", false, true);
        // Surrounding whitespace, including `\r` from CRLF files, is trimmed.
        check("  foo.txt \t\r\nbar", "foo.txt", false, true);
        check("a.txt\r\nb.txt\r\n", "b.txt", false, true);
    }

    #[test]
    fn byte_order_mark_is_dropped_from_the_first_line_only() {
        check("\u{feff}*.txt", "a.txt", false, true);
        check("\u{feff}# comment\nfoo", "foo", false, true);
        check("\u{feff}\nfoo", "foo", false, true);
        // On a later line the mark is part of the pattern.
        check("foo\n\u{feff}bar", "bar", false, false);
        check("foo\n\u{feff}bar", "\u{feff}bar", false, true);
    }

    #[test]
    fn empty_file_ignores_nothing() {
        let ignore = HelmIgnore::parse("").expect("empty text should parse");
        assert!(ignore.rules.is_empty());
        assert!(!ignore.is_ignored("Chart.yaml", false));
        assert!(!HelmIgnore::default().is_ignored("templates/.hidden", false));
    }

    #[test]
    fn rules_without_slash_test_the_basename() {
        check("*.md", "docs/deep/README.md", false, true);
        check("ci", "a/b/ci", true, true);
        check("ci", "a/ci/file", false, false);
        check("b?", "a/bc", false, true);
        // A path with a trailing slash still has a basename.
        check("ci", "a/ci/", true, true);
    }

    #[test]
    fn rules_with_slash_match_the_whole_path() {
        check("ci/*", "ci/test.yaml", false, true);
        check("ci/*", "sub/ci/test.yaml", false, false);
        // A star never crosses a slash, so nested files need their own rule.
        check("ci/*", "ci/nested/test.yaml", false, false);
        check("*/values-*.yaml", "ci/values-prod.yaml", false, true);
        check("*/values-*.yaml", "values-prod.yaml", false, false);
        // Leading-slash rules are anchored, which changes nothing for slashed patterns.
        check("/ci/*", "ci/test.yaml", false, true);
        check("/*.txt", "notes.txt", false, true);
        check("/*.txt", "docs/notes.txt", false, false);
        // Only one leading slash is stripped, so a doubled one never matches.
        check("//a.txt", "a.txt", false, false);
    }

    #[test]
    fn trailing_slash_means_directories_only() {
        check("tests/", "tests", true, true);
        check("tests/", "tests", false, false);
        check("tests/", "templates/tests", true, true);
        check("templates/tests/", "templates/tests", true, true);
        check("templates/tests/", "templates/tests", false, false);
        check("/tests/", "tests", true, true);
        check("/tests/", "charts/tests", true, false);
        // A bare `/` leaves an empty pattern, which never matches a basename.
        check("/", "anything", true, false);
    }

    #[test]
    fn first_decisive_rule_wins() {
        // A positive match stops evaluation before a later negation is consulted.
        check("*.yaml\n!values.yaml", "values.yaml", false, true);
        // A matching negation only passes the path on to the next rule.
        check("!values.yaml\n*.yaml", "values.yaml", false, true);
        // Helm's doc.go offers this as the way to keep only two files, but each file fails
        // one of the two negations, so the code ignores everything.
        let keep_only = "!Chart.yaml\n!values.yaml\n*";
        check(keep_only, "Chart.yaml", false, true);
        check(keep_only, "values.yaml", false, true);
        check(keep_only, "README.md", false, true);
    }

    #[test]
    fn negated_rule_ignores_everything_it_does_not_match() {
        // The gitignore reading of this file would keep Chart.yaml; Helm drops it.
        let rules = "*.md\n!README.md";
        check(rules, "Chart.yaml", false, true);
        check(rules, "NOTES.md", false, true);
        check(rules, "README.md", false, true);
        // A single negation keeps only what it matches (and unmatched directories go too).
        check("!*.yaml", "values.yaml", false, false);
        check("!*.yaml", "templates", true, true);
        check("!*.yaml", "templates/deployment.yaml", false, false);
        // Directories that match a negated rule fall through to the later rules.
        check("!templates/\n*.tpl", "templates", true, false);
        check("!templates/\n*.tpl", "other", true, true);
        // A lone `!` has an empty pattern and so ignores every path.
        check("!", "Chart.yaml", false, true);
    }

    #[test]
    fn negated_directory_rule_ignores_every_file() {
        check("!templates/", "templates/deployment.yaml", false, true);
        check("!templates/", "templates", false, true);
        check("!templates/", "Chart.yaml", false, true);
        check("!templates/", "templates", true, false);
        check("!*/", "charts", true, false);
    }

    #[test]
    fn marker_stripping_can_break_a_valid_line() {
        // `a\/` is valid (an escaped slash), but without its trailing `/` it ends in a lone
        // backslash; Helm's matcher then errors and the rule never matches.
        check("a\\/", "a", true, false);
        check("!a\\/", "a", true, true);
    }

    #[test]
    fn escapes_and_classes_in_rules() {
        check("\\#notes.txt", "#notes.txt", false, true);
        check("\\!keep", "!keep", false, true);
        check("file[0-9].txt", "file7.txt", false, true);
        check("file[^0-9].txt", "file7.txt", false, false);
        check("file[^0-9].txt", "fileX.txt", false, true);
        check("{a,b}.txt", "a.txt", false, false);
        check("{a,b}.txt", "{a,b}.txt", false, true);
    }

    #[test]
    fn default_rule_ignores_dotfiles_in_templates() {
        let ignore = HelmIgnore::parse("").expect("empty text should parse").with_defaults();
        assert_eq!(ignore.rules.len(), 1);
        assert!(ignore.is_ignored("templates/.dotfile", false));
        assert!(ignore.is_ignored("templates/.hidden-dir", true));
        // `.?*` needs at least two characters, so a bare `.` is kept.
        assert!(!ignore.is_ignored("templates/.", false));
        assert!(!ignore.is_ignored("templates/deployment.yaml", false));
        assert!(!ignore.is_ignored(".helmignore", false));
        // The star does not cross a slash, so nested dotfiles are kept.
        assert!(!ignore.is_ignored("templates/sub/.dotfile", false));
        assert!(!ignore.is_ignored("charts/sub/templates/.dotfile", false));
    }

    #[test]
    fn default_rule_comes_after_user_rules() {
        // A matching negation only passes the path on, so the default rule still ignores
        // it: there is no way to keep a dotfile in `templates/`.
        let ignore = HelmIgnore::parse("!templates/.keep").expect("rules should parse").with_defaults();
        assert!(ignore.is_ignored("templates/.keep", false));
        assert!(ignore.is_ignored("Chart.yaml", false));
        let ignore = HelmIgnore::parse("*.bak").expect("rules should parse").with_defaults();
        assert!(ignore.is_ignored("templates/.keep", false));
        assert!(!ignore.is_ignored("templates/keep", false));
    }

    #[test]
    fn go_base_follows_filepath_base() {
        assert_eq!(go_base(""), ".");
        assert_eq!(go_base("/"), "/");
        assert_eq!(go_base("///"), "/");
        assert_eq!(go_base("a"), "a");
        assert_eq!(go_base("a/b"), "b");
        assert_eq!(go_base("a/b//"), "b");
    }

    /// Part of Go's `TestMatch` table: pattern, name, match, whether the pattern is bad.
    #[test]
    fn go_filepath_match_table() {
        let table: &[(&str, &str, bool, bool)] = &[
            ("abc", "abc", true, false),
            ("*", "abc", true, false),
            ("*c", "abc", true, false),
            ("a*", "a", true, false),
            ("a*", "abc", true, false),
            ("a*", "ab/c", false, false),
            ("a*/b", "abc/b", true, false),
            ("a*/b", "a/c/b", false, false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true, false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true, false),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false, false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false, false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true, false),
            ("a*b?c*x", "abxbbxdbxebxczzy", false, false),
            ("ab[c]", "abc", true, false),
            ("ab[b-d]", "abc", true, false),
            ("ab[e-g]", "abc", false, false),
            ("ab[^c]", "abc", false, false),
            ("ab[^b-d]", "abc", false, false),
            ("ab[^e-g]", "abc", true, false),
            ("a\\*b", "a*b", true, false),
            ("a\\*b", "ab", false, false),
            ("a?b", "a☺b", true, false),
            ("a[^a]b", "a☺b", true, false),
            ("a???b", "a☺b", false, false),
            ("a[^a][^a][^a]b", "a☺b", false, false),
            ("[a-ζ]*", "α", true, false),
            ("*[a-ζ]", "A", false, false),
            ("a?b", "a/b", false, false),
            ("a*b", "a/b", false, false),
            ("[\\]a]", "]", true, false),
            ("[\\-]", "-", true, false),
            ("[x\\-]", "x", true, false),
            ("[x\\-]", "-", true, false),
            ("[x\\-]", "z", false, false),
            ("[\\-x]", "x", true, false),
            ("[\\-x]", "-", true, false),
            ("[\\-x]", "a", false, false),
            ("[]a]", "]", false, true),
            ("[-]", "-", false, true),
            ("[x-]", "x", false, true),
            ("[x-]", "-", false, true),
            ("[x-]", "z", false, true),
            ("[-x]", "x", false, true),
            ("[-x]", "-", false, true),
            ("[-x]", "a", false, true),
            ("\\", "a", false, true),
            ("[a-b-c]", "a", false, true),
            ("[", "a", false, true),
            ("[^", "a", false, true),
            ("[^bc", "a", false, true),
            ("a[", "a", false, true),
            ("a[", "ab", false, true),
            ("a[", "x", false, true),
            ("a/b[", "x", false, true),
            ("*x", "xxx", true, false),
        ];
        for &(pattern, name, matched, bad) in table {
            let expected = if bad { Err(BadPattern) } else { Ok(matched) };
            assert_eq!(
                go_match(pattern.as_bytes(), name.as_bytes()),
                expected,
                "Match({pattern:?}, {name:?})"
            );
        }
    }

    #[test]
    fn go_match_edge_cases() {
        assert_eq!(go_match(b"", b""), Ok(true));
        assert_eq!(go_match(b"", b"a"), Ok(false));
        assert_eq!(go_match(b"*", b""), Ok(true));
        assert_eq!(go_match(b"?", b""), Ok(false));
        assert_eq!(go_match(b"a*", b"a/"), Ok(false));
        // A star may not skip a slash even when the rest would match after it.
        assert_eq!(go_match(b"*b", b"a/b"), Ok(false));
        // A class or `?` consumes one whole character, not one byte.
        assert_eq!(go_match("[é]".as_bytes(), "é".as_bytes()), Ok(true));
        assert_eq!(go_match("?".as_bytes(), "é".as_bytes()), Ok(true));
        assert_eq!(go_match("*é".as_bytes(), "aé".as_bytes()), Ok(true));
        assert_eq!(go_match("*[^a]".as_bytes(), "xé".as_bytes()), Ok(true));
    }

    #[test]
    fn never_panics_on_odd_input() {
        let patterns = ["[", "[^", "[\\", "\\", "*[", "?*?", "[é-", "é*[^é]", "a/[b-a]", "*\\", "[]]"];
        let names = ["", "/", "é", "a/é/b", "\\", "[", "\u{feff}", "a\u{0}b"];
        for pattern in patterns {
            for name in names {
                let _ = go_match(pattern.as_bytes(), name.as_bytes());
                if let Ok(ignore) = HelmIgnore::parse(pattern) {
                    let _ = ignore.is_ignored(name, true);
                    let _ = ignore.is_ignored(name, false);
                }
            }
        }
        // Byte-level input that is not valid UTF-8 on its own is handled too.
        assert_eq!(go_match(b"?", b"\xa9"), Ok(true));
        assert_eq!(go_match(b"[^a]", b"\xff"), Ok(true));
        assert_eq!(go_match(b"[\xff]", b"a"), Err(BadPattern));
    }
}
