//! Chart versions and dependency version ranges, read the way Helm reads them: with
//! Masterminds/semver v3 (`NewVersion`, `NewConstraint`, `Constraints.Check`).
//!
//! Helm is lenient where SemVer 2 is strict, and a chart that Helm loads must load here:
//! - a version may start with `v` (lowercase only: `v1.2.3`, never `V1.2.3`), may leave out
//!   the patch or the minor (`1.2` is 1.2.0, `1` is 1.0.0) and may pad its numbers with
//!   zeros (`01.02.03` is 1.2.3); a prerelease numeric identifier still may not start with
//!   `0` (`1.2.3-01` is refused), and nothing may surround the version (no spaces);
//! - a range is alternatives separated by `||`, each a list of comparators separated by
//!   spaces or commas; a comparator is an operator (`=`, `!=`, `>`, `<`, `>=`, `=>`, `<=`,
//!   `=<`, `~`, `~>`, `^`, or none) and a version that may start with `v` and use `x`, `X`
//!   or `*` for a part, or leave parts out; `A - B` is `>= A, <= B`;
//! - a bare version is "exactly this" when complete (`1.2.3`) and "this series" when
//!   partial or wild (`1.2`, `1.x.x` are `~1.2`, `~1`); `~1.2.3` is `>=1.2.3 <1.3.0`;
//!   `^1.2` is `>=1.2.0 <2.0.0`, `^0.2` is `>=0.2.0 <0.3.0`, `^0.0.3` is exactly 0.0.3;
//!   `>1` means 2.0.0 or higher, `<=1.2` takes every 1.2.x;
//! - a prerelease version (`1.2.3-rc.1`) satisfies an alternative only when one of that
//!   alternative's comparators names a prerelease itself (`>=1.2.3-0`).
//!
//! The parsed version is a `semver::Version` (the text as written is kept by the caller):
//! Masterminds compares versions by SemVer precedence, build metadata ignored.

use std::cmp::Ordering;

use semver::{BuildMetadata, Prerelease, Version};

/// Parses a version as Masterminds' `NewVersion` does; the error says what is wrong.
pub(crate) fn parse_version(text: &str) -> Result<Version, String> {
    let loose = LooseVersion::parse(text, false)?;
    loose.into_version()
}

/// A version as written in a comparator or in Chart.yaml, before the parts are checked.
struct LooseVersion<'a> {
    /// Up to three parts; in a comparator a part may be `x`, `X` or `*`.
    parts: Vec<&'a str>,
    /// The prerelease, without its `-`.
    pre: Option<&'a str>,
    /// The build metadata, without its `+`.
    build: Option<&'a str>,
}

impl<'a> LooseVersion<'a> {
    /// Reads a whole version; `wildcards` allows `x`, `X` and `*` parts (comparators only).
    fn parse(text: &'a str, wildcards: bool) -> Result<LooseVersion<'a>, String> {
        if text.is_empty() {
            return Err("the version is empty".to_string());
        }
        if text.starts_with('V') {
            return Err("the prefix must be a lowercase `v`".to_string());
        }
        let body = text.strip_prefix('v').unwrap_or(text);
        let core_end = body.find(['-', '+']).unwrap_or(body.len());
        let (core, rest) = body.split_at(core_end);
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() > 3 {
            return Err("a version has at most three numbers, MAJOR.MINOR.PATCH".to_string());
        }
        for part in &parts {
            let valid_part = !part.is_empty()
                && (part.bytes().all(|b| b.is_ascii_digit())
                    || (wildcards && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'x' | b'X' | b'*'))));
            if !valid_part {
                return Err(if part.is_empty() {
                    "a part of the version is empty".to_string()
                } else {
                    format!("`{part}` is not a number")
                });
            }
        }
        let (pre, build) = match rest.strip_prefix('-') {
            Some(after) => match after.split_once('+') {
                Some((pre, build)) => (Some(pre), Some(build)),
                None => (Some(after), None),
            },
            None => (None, rest.strip_prefix('+')),
        };
        for (what, identifiers) in [("prerelease", pre), ("build metadata", build)] {
            let Some(identifiers) = identifiers else { continue };
            let valid = identifiers
                .split('.')
                .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
            if !valid {
                return Err(format!(
                    "the {what} `{identifiers}` must be dot-separated identifiers of letters, digits and `-`"
                ));
            }
        }
        Ok(LooseVersion { parts, pre, build })
    }

    /// Whether part `index` is absent or a wildcard.
    fn is_wild(&self, index: usize) -> bool {
        self.parts.get(index).is_none_or(|part| matches!(*part, "x" | "X" | "*"))
    }

    /// The version with absent parts as 0; every present part must be a number here.
    fn into_version(self) -> Result<Version, String> {
        let mut numbers = [0u64; 3];
        for (index, part) in self.parts.iter().enumerate() {
            numbers[index] =
                part.parse::<u64>().map_err(|_| format!("`{part}` is not a number or too large"))?;
        }
        let pre = match self.pre {
            Some(pre) => Prerelease::new(pre).map_err(|_| {
                format!("the prerelease `{pre}` has a number with a leading zero, which SemVer forbids")
            })?,
            None => Prerelease::EMPTY,
        };
        let build = match self.build {
            Some(build) => {
                BuildMetadata::new(build).map_err(|error| format!("build metadata `{build}`: {error}"))?
            }
            None => BuildMetadata::EMPTY,
        };
        Ok(Version { major: numbers[0], minor: numbers[1], patch: numbers[2], pre, build })
    }
}

/// A comparator's operator, named after the Masterminds function it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// none or `=`.
    TildeOrEqual,
    /// `!=`.
    NotEqual,
    /// `>`.
    Greater,
    /// `<`.
    Less,
    /// `>=` or `=>`.
    GreaterOrEqual,
    /// `<=` or `=<`.
    LessOrEqual,
    /// `~` or `~>`.
    Tilde,
    /// `^`.
    Caret,
}

/// Operators, longest first so that `>=` is not read as `>`.
const OPERATORS: [(&str, Op); 11] = [
    (">=", Op::GreaterOrEqual),
    ("=>", Op::GreaterOrEqual),
    ("<=", Op::LessOrEqual),
    ("=<", Op::LessOrEqual),
    ("~>", Op::Tilde),
    ("!=", Op::NotEqual),
    (">", Op::Greater),
    ("<", Op::Less),
    ("=", Op::TildeOrEqual),
    ("~", Op::Tilde),
    ("^", Op::Caret),
];

/// One comparator: an operator and a version, with which parts were left out or wild.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    version: Version,
    /// The minor (and so the patch) is wild: `1`, `1.x`, `~1`.
    minor_dirty: bool,
    /// The patch only is wild: `1.2`, `1.2.x`.
    patch_dirty: bool,
    /// Any part is wild, the major included (`*`).
    dirty: bool,
}

/// A version range as written in a dependency's `version:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionRange {
    /// The `||` alternatives; each holds its comparators and whether any of them names a
    /// prerelease (which lets prerelease versions through for the whole alternative).
    alternatives: Vec<(Vec<Comparator>, bool)>,
}

impl VersionRange {
    /// Parses a range as Masterminds' `NewConstraint` does, e.g. `~1.2.0`, `^1`, `1.2.x`,
    /// `>=v1.0.0 <2`, `1.2 - 1.4.5` or `^1.0.0 || ^2.0.0`.
    pub(crate) fn parse(text: &str) -> Result<VersionRange, String> {
        let mut alternatives = Vec::new();
        for alternative in text.split("||") {
            let comparators = parse_alternative(alternative)?;
            let has_pre = comparators.iter().any(|c| !c.version.pre.is_empty());
            alternatives.push((comparators, has_pre));
        }
        Ok(VersionRange { alternatives })
    }

    /// Whether `version` satisfies the range (Masterminds' `Constraints.Check`).
    pub(crate) fn matches(&self, version: &Version) -> bool {
        self.alternatives
            .iter()
            .any(|(comparators, has_pre)| comparators.iter().all(|c| c.check(version, *has_pre)))
    }
}

/// Go's `\s`: ASCII whitespace.
fn is_go_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r')
}

/// One `||` alternative: comparators separated by whitespace or a comma; `A - B` ranges.
fn parse_alternative(text: &str) -> Result<Vec<Comparator>, String> {
    let shown = text.trim_matches(is_go_space);
    if shown.is_empty() {
        return Err("the range, or an alternative between `||`, is empty".to_string());
    }
    let mut comparators = Vec::new();
    let mut rest = text.trim_start_matches(is_go_space);
    loop {
        let (op_text, op) = OPERATORS
            .iter()
            .find(|(symbol, _)| rest.starts_with(symbol))
            .map_or(("", Op::TildeOrEqual), |(symbol, op)| (*symbol, *op));
        rest = rest[op_text.len()..].trim_start_matches(is_go_space);
        let end = rest.find(|c: char| is_go_space(c) || c == ',').unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        if word.is_empty() {
            return Err(format!("`{}` has no version after `{op_text}`", shown));
        }
        let lower = comparator(op, word).map_err(|reason| format!("`{word}`: {reason}"))?;
        rest = after;
        // A hyphen range `A - B`: spaces on both sides of the `-`, no operator on either end.
        let trimmed = rest.trim_start_matches(is_go_space);
        let hyphen = op_text.is_empty()
            && trimmed.len() < rest.len()
            && trimmed.strip_prefix('-').is_some_and(|after| after.starts_with(is_go_space));
        if hyphen {
            let upper_text = trimmed[1..].trim_start_matches(is_go_space);
            let end = upper_text.find(|c: char| is_go_space(c) || c == ',').unwrap_or(upper_text.len());
            let (upper_word, after) = upper_text.split_at(end);
            if upper_word.is_empty()
                || upper_word.starts_with(|c: char| OPERATORS.iter().any(|(s, _)| s.starts_with(c)))
            {
                return Err(format!("`{word} -` has no upper bound"));
            }
            comparators.push(Comparator { op: Op::GreaterOrEqual, ..lower });
            comparators.push(
                comparator(Op::LessOrEqual, upper_word)
                    .map_err(|reason| format!("`{upper_word}`: {reason}"))?,
            );
            rest = after;
        } else {
            comparators.push(lower);
        }
        // Then the end, or a separator: whitespace, or a comma with optional whitespace.
        let trimmed = rest.trim_start_matches(is_go_space);
        if trimmed.is_empty() {
            return Ok(comparators);
        }
        if let Some(after_comma) = trimmed.strip_prefix(',') {
            rest = after_comma.trim_start_matches(is_go_space);
        } else if trimmed.len() < rest.len() {
            rest = trimmed;
        } else {
            return Err(format!("`{shown}`: expected a space or a comma after `{word}`"));
        }
        if rest.is_empty() {
            return Err(format!("`{shown}` ends with a separator"));
        }
    }
}

/// One comparator's version, as Masterminds' `parseConstraint` reads it: a wild or absent
/// major makes `0.0.0` (any), a wild minor `M.0.0`, a wild patch `M.m.0`, each keeping the
/// prerelease (not the build metadata).
fn comparator(op: Op, text: &str) -> Result<Comparator, String> {
    let loose = LooseVersion::parse(text, true)?;
    let (minor_dirty, patch_dirty, dirty) = if loose.is_wild(0) {
        (false, false, true)
    } else if loose.is_wild(1) {
        (true, false, true)
    } else if loose.is_wild(2) {
        (false, true, true)
    } else {
        (false, false, false)
    };
    let kept = if loose.is_wild(0) {
        0
    } else if loose.is_wild(1) {
        1
    } else if loose.is_wild(2) {
        2
    } else {
        3
    };
    let build = if dirty { None } else { loose.build };
    let concrete = LooseVersion { parts: loose.parts[..kept].to_vec(), pre: loose.pre, build };
    let version = concrete.into_version()?;
    Ok(Comparator { op, version, minor_dirty, patch_dirty, dirty })
}

/// SemVer precedence, build metadata ignored (Masterminds' `Compare`).
fn compare(a: &Version, b: &Version) -> Ordering {
    a.cmp_precedence(b)
}

impl Comparator {
    /// Masterminds' check functions; `include_pre` when the alternative names a prerelease.
    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        let c = &self.version;
        match self.op {
            Op::TildeOrEqual if self.dirty => self.tilde(v),
            Op::TildeOrEqual => compare(v, c) == Ordering::Equal,
            Op::Tilde => self.tilde(v),
            Op::NotEqual => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if self.minor_dirty {
                        return false;
                    }
                    if c.minor != v.minor {
                        return true;
                    }
                    if self.patch_dirty {
                        return (!v.pre.is_empty() || !c.pre.is_empty()) && v.pre != c.pre;
                    }
                }
                compare(v, c) != Ordering::Equal
            }
            Op::Greater => {
                if !self.dirty {
                    return compare(v, c) == Ordering::Greater;
                }
                if v.major != c.major {
                    return v.major > c.major;
                }
                if self.minor_dirty {
                    return false;
                }
                if self.patch_dirty {
                    return v.minor > c.minor;
                }
                compare(v, c) == Ordering::Greater
            }
            Op::Less => compare(v, c) == Ordering::Less,
            Op::GreaterOrEqual => compare(v, c) != Ordering::Less,
            Op::LessOrEqual => {
                if !self.dirty {
                    return compare(v, c) != Ordering::Greater;
                }
                !(v.major > c.major || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            Op::Caret => {
                if compare(v, c) == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                v.patch == c.patch
            }
        }
    }

    /// `~`: at least the version, within its minor (its major when the minor is wild);
    /// `~0.0.0` takes everything.
    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if compare(v, c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        v.major == c.major && (v.minor == c.minor || self.minor_dirty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> Version {
        parse_version(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    fn matches(range: &str, v: &str) -> bool {
        VersionRange::parse(range)
            .unwrap_or_else(|e| panic!("{range:?} should parse: {e}"))
            .matches(&version(v))
    }

    #[test]
    fn leading_v_is_accepted() {
        assert_eq!(version("v1.21.1"), Version::new(1, 21, 1));
        assert_eq!(version("v0.0.0"), Version::new(0, 0, 0));
        assert_eq!(version("v1.2"), Version::new(1, 2, 0));
    }

    #[test]
    fn uppercase_v_is_refused() {
        assert!(parse_version("V1.2.3").unwrap_err().contains("lowercase"));
    }

    #[test]
    fn partial_versions_are_completed_with_zeros() {
        assert_eq!(version("1.2"), Version::new(1, 2, 0));
        assert_eq!(version("1"), Version::new(1, 0, 0));
        assert_eq!(version("1.2-beta"), Version::parse("1.2.0-beta").unwrap());
    }

    #[test]
    fn zero_padded_numbers_are_read_as_numbers() {
        assert_eq!(version("01.02.03"), Version::new(1, 2, 3));
    }

    #[test]
    fn prerelease_and_build_are_kept() {
        assert_eq!(version("1.2.3-rc.1+build.01"), Version::parse("1.2.3-rc.1+build.01").unwrap());
    }

    #[test]
    fn malformed_versions_are_refused() {
        for text in [
            "",
            " 1.2.3",
            "1.2.3 ",
            "1.2.3.4",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-01",
            "banana",
            "1..2",
            "1.x",
            "99999999999999999999.0.0",
        ] {
            assert!(parse_version(text).is_err(), "{text:?} should be refused");
        }
    }

    #[test]
    fn bare_complete_version_is_exact() {
        assert!(matches("1.2.3", "1.2.3"));
        assert!(!matches("1.2.3", "1.2.4"));
        assert!(matches("=1.2.3", "v1.2.3"));
        assert!(matches("1.2.3+meta", "1.2.3"), "build metadata is ignored");
    }

    #[test]
    fn leading_v_in_ranges() {
        assert!(matches("v1.2.3", "1.2.3"));
        assert!(matches("v0.0.0", "v0.0.0"));
        assert!(!matches("v0.0.0", "0.0.1"));
        assert!(matches("~v1.2", "1.2.9"));
        assert!(matches("^v1.2", "1.9.0"));
        assert!(matches("v1 - v2", "2.5.0"));
        assert!(VersionRange::parse("V1.2.3").is_err());
    }

    #[test]
    fn bare_partial_version_is_a_series() {
        assert!(matches("1.2", "1.2.7"));
        assert!(!matches("1.2", "1.3.0"));
        assert!(matches("1", "1.9.9"));
        assert!(!matches("1", "2.0.0"));
    }

    #[test]
    fn wildcards() {
        assert!(matches("1.x.x", "1.0.0"));
        assert!(matches("1.x.x", "1.99.3"));
        assert!(!matches("1.x.x", "2.0.0"));
        assert!(matches("2.x.x", "2.31.10"));
        assert!(!matches("2.x.x", "1.31.10"));
        assert!(matches("1.2.x", "1.2.7"));
        assert!(!matches("1.2.x", "1.3.0"));
        assert!(matches("x", "7.0.0"));
        assert!(matches("*", "0.0.1"));
    }

    #[test]
    fn tilde() {
        assert!(matches("~1.2.3", "1.2.9"));
        assert!(!matches("~1.2.3", "1.2.2"));
        assert!(!matches("~1.2.3", "1.3.0"));
        assert!(matches("~1.2", "1.2.0"));
        assert!(matches("~1", "1.9.0"));
        assert!(!matches("~1", "2.0.0"));
        assert!(matches("~>1.2", "1.2.9"));
        assert!(matches("~0.0.0", "3.0.0"), "~0.0.0 takes every release");
    }

    #[test]
    fn caret() {
        assert!(matches("^1.2", "1.9.0"));
        assert!(!matches("^1.2", "1.1.0"));
        assert!(!matches("^1.2", "2.0.0"));
        assert!(matches("^1", "1.0.0"));
        assert!(matches("^0.2.3", "0.2.9"));
        assert!(!matches("^0.2.3", "0.3.0"));
        assert!(matches("^0.2", "0.2.0"));
        assert!(matches("^0.0.3", "0.0.3"));
        assert!(!matches("^0.0.3", "0.0.4"));
        assert!(matches("^0.0", "0.0.9"));
        assert!(!matches("^0.0", "0.1.0"));
        assert!(matches("^0", "0.9.0"));
        assert!(!matches("^0", "1.0.0"));
    }

    #[test]
    fn comparisons_with_partial_versions() {
        assert!(!matches(">1", "1.9.0"), ">1 means 2.0.0 or higher");
        assert!(matches(">1", "2.0.0"));
        assert!(!matches(">1.2", "1.2.9"));
        assert!(matches(">1.2", "1.3.0"));
        assert!(matches("<=1.2", "1.2.9"));
        assert!(!matches("<=1.2", "1.3.0"));
        assert!(matches("<=1", "1.9.0"));
        assert!(matches("<1.3", "1.2.9"));
        assert!(!matches("<1.3", "1.3.0"));
        assert!(matches("!=1.2.3", "1.2.4"));
        assert!(!matches("!=1.2.3", "1.2.3"));
    }

    #[test]
    fn comparator_lists() {
        assert!(matches(">=v1.0.0 <2", "1.5.0"));
        assert!(!matches(">=v1.0.0 <2", "2.0.0"));
        assert!(matches(">= 1.0.0, < 2.0.0", "1.0.0"));
        assert!(matches(">=1.0.0,<2", "1.0.0"));
        assert!(matches("=>1.0.0", "1.0.1"));
        assert!(matches("=<1.5", "1.5.3"));
        assert!(matches("  1.2.3  ", "1.2.3"));
    }

    #[test]
    fn hyphen_ranges() {
        assert!(matches("1.2 - 1.4.5", "1.4.5"));
        assert!(matches("1.2 - 1.4.5", "1.2.0"));
        assert!(!matches("1.2 - 1.4.5", "1.4.6"));
    }

    #[test]
    fn alternatives() {
        assert!(matches("^1.0.0 || ^3.0.0", "3.1.0"));
        assert!(!matches("^1.0.0 || ^3.0.0", "2.1.0"));
        assert!(matches("1.2.3 || 2.x", "2.4.0"));
    }

    #[test]
    fn prereleases_need_a_prerelease_in_the_alternative() {
        assert!(!matches("^1.0.0", "1.2.0-rc.1"));
        assert!(!matches(">=1.0.0", "1.2.0-rc.1"));
        assert!(matches(">=1.2.3-0", "1.2.3-rc.1"));
        assert!(
            matches(">=1.0.0-0 <2.0.0", "1.5.0-rc.1"),
            "the prerelease in one comparator opens the group"
        );
        assert!(matches("^1.0.0-0", "1.2.0-rc.1"));
        assert!(matches("1.2.3-rc.1", "1.2.3-rc.1"));
        assert!(!matches("1.x || >=2.0.0-0 <3", "1.5.0-rc.1"));
        assert!(matches("1.x || >=2.0.0-0 <3", "2.5.0-rc.1"));
    }

    #[test]
    fn malformed_ranges_are_refused() {
        for range in
            ["", "  ", ">=", "banana", "1.0.0 -", "^1 ||", "|| ^1", ">=1<2", "1.2.3,", "V1", "~1.2.3.4"]
        {
            assert!(VersionRange::parse(range).is_err(), "{range:?} should be refused");
        }
    }
}
