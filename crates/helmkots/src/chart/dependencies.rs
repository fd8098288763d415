//! Dependencies declared in Chart.yaml checked against the subcharts vendored under
//! `charts/`: each must be present, at a version inside its range. Also the small
//! grammars of a dependency entry: Helm-style version ranges and `condition` paths.
//!
//! Helm ranges use the Masterminds syntax (`>=1.0.0 <2.0.0`, `1.2 - 1.4`, `^1 || ^2`, bare
//! `1.2.3` meaning exactly that version); they are rewritten into the `semver` crate's
//! comma-separated syntax and parsed by it. A vendored subchart that no dependency declares
//! is accepted, as Helm accepts it.

use semver::{Version, VersionReq};

use super::{metadata::ParsedMetadata, Chart};
use crate::diagnostic::{FileProblems, Problem, ProblemSink};

/// A Helm-style version range: one or more alternatives (`||`), each a set of comparators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionRange {
    alternatives: Vec<VersionReq>,
}

impl VersionRange {
    /// Parses a range as written in Chart.yaml, e.g. `~1.2.0`, `^1`, `1.2.x`,
    /// `>=1.0.0 <2.0.0` or `^1.0.0 || ^2.0.0`.
    pub(crate) fn parse(text: &str) -> Result<VersionRange, String> {
        let mut alternatives = Vec::new();
        for alternative in text.split("||") {
            let rewritten = to_semver_syntax(alternative)?;
            let requirement = VersionReq::parse(&rewritten)
                .map_err(|error| format!("`{}`: {error}", alternative.trim()))?;
            alternatives.push(requirement);
        }
        Ok(VersionRange { alternatives })
    }

    /// Whether `version` is inside the range.
    pub(crate) fn matches(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|requirement| requirement.matches(version))
    }
}

/// Rewrites one Masterminds comparator list as the `semver` crate's syntax: comparators
/// separated by commas, bare versions as `=`, `A - B` as `>=A, <=B`, no `v` prefixes.
fn to_semver_syntax(text: &str) -> Result<String, String> {
    let tokens: Vec<&str> =
        text.split(|c: char| c.is_whitespace() || c == ',').filter(|token| !token.is_empty()).collect();
    if tokens.is_empty() {
        return Err("the range is empty".to_string());
    }
    let mut comparators = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let token = tokens[index];
        if tokens.get(index + 1) == Some(&"-") {
            // A hyphen range: `1.2 - 1.4.5` means `>=1.2, <=1.4.5`.
            let upper = tokens.get(index + 2).ok_or_else(|| format!("`{token} -` has no upper bound"))?;
            comparators.push(format!(">={}", strip_v(token)));
            comparators.push(format!("<={}", strip_v(upper)));
            index += 3;
        } else if token.chars().all(is_operator_char) {
            // An operator written apart from its version: `>= 1.0.0`.
            let version =
                tokens.get(index + 1).ok_or_else(|| format!("`{token}` has no version after it"))?;
            comparators.push(comparator(&format!("{token}{version}"))?);
            index += 2;
        } else {
            comparators.push(comparator(token)?);
            index += 1;
        }
    }
    Ok(comparators.join(", "))
}

fn is_operator_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '~' | '^' | '!')
}

/// One comparator in `semver` syntax.
fn comparator(text: &str) -> Result<String, String> {
    let split = text.find(|c: char| !is_operator_char(c)).unwrap_or(text.len());
    let (operator, version) = text.split_at(split);
    let version = strip_v(version);
    if version.is_empty() {
        return Err(format!("`{text}` has no version"));
    }
    let operator = match operator {
        "=>" => ">=",
        "=<" => "<=",
        "~>" => "~",
        "!=" => {
            return Err(format!("`{text}`: `!=` ranges are not supported; list the allowed versions instead"))
        }
        other => other,
    };
    let wildcard_only = version.split('.').all(|part| matches!(part, "*" | "x" | "X"));
    if operator.is_empty() && !wildcard_only {
        // Masterminds reads a bare version as "exactly this" (or "this series" when partial);
        // the `semver` crate would read it as a caret range.
        return Ok(format!("={version}"));
    }
    Ok(format!("{operator}{version}"))
}

fn strip_v(version: &str) -> &str {
    version.strip_prefix(['v', 'V']).unwrap_or(version)
}

/// Checks a dependency's `condition`: values paths like `redis.enabled`, separated by commas.
pub(crate) fn check_condition(text: &str) -> Result<(), String> {
    for path in text.split(',') {
        let path = path.trim();
        if path.is_empty() {
            return Err("an empty path in the comma-separated list".to_string());
        }
        for segment in path.split('.') {
            if segment.is_empty() {
                return Err(format!("`{path}` has an empty segment"));
            }
            if segment.chars().any(char::is_whitespace) {
                return Err(format!("`{path}` contains whitespace"));
            }
        }
    }
    Ok(())
}

/// Checks that every declared dependency is vendored (a subchart of that name) at a
/// version inside its range. Problems point at the dependency's entry in the file that
/// declares it.
pub(crate) fn check_vendored(parsed: &ParsedMetadata, vendored: &[Chart]) -> Result<(), FileProblems> {
    let mut sink = ProblemSink::new(parsed.dependency_file.clone());
    for (spec, site) in parsed.metadata.dependencies.iter().zip(&parsed.dependency_sites) {
        let name = &spec.name;
        let candidates: Vec<&Chart> = vendored.iter().filter(|chart| &chart.metadata.name == name).collect();
        if candidates.is_empty() {
            let problem = Problem {
                message: format!(
                    "dependency `{name}` is not vendored: no chart named `{name}` under charts/"
                ),
                span: site.name_or_entry(),
                help: Some(format!(
                    "vendor it: copy the chart into charts/{name}/ or run `helm dependency build`"
                )),
            };
            sink.push(problem);
            continue;
        }
        // An unparseable range was already reported by the metadata check.
        let Ok(range) = VersionRange::parse(&spec.version) else { continue };
        if candidates.iter().any(|chart| range.matches(&chart.metadata.version)) {
            continue;
        }
        let found: Vec<String> = candidates
            .iter()
            .map(|chart| {
                let path = chart.metadata_file.path.as_str();
                let place = path.strip_suffix("/Chart.yaml").unwrap_or(path);
                format!("{} at {place}", chart.metadata.version)
            })
            .collect();
        sink.push(Problem {
            message: format!(
                "dependency `{name}` needs version `{}`, but the vendored chart is version {}",
                spec.version,
                found.join(", ")
            ),
            span: site.version_or_name(),
            help: Some(format!(
                "vendor a matching version (copy it into charts/{name}/ or run `helm dependency build`), or change the range"
            )),
        });
    }
    sink.finish(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(range: &str, version: &str) -> bool {
        VersionRange::parse(range).unwrap().matches(&Version::parse(version).unwrap())
    }

    #[test]
    fn helm_style_ranges() {
        assert!(matches("~1.2.0", "1.2.9"));
        assert!(!matches("~1.2.0", "1.3.0"));
        assert!(matches("^1", "1.9.0"));
        assert!(!matches("^1", "2.0.0"));
        assert!(matches(">=1.0.0 <2.0.0", "1.5.0"));
        assert!(!matches(">=1.0.0 <2.0.0", "2.0.0"));
        assert!(matches(">= 1.0.0, < 2.0.0", "1.0.0"));
        assert!(matches("1.2.x", "1.2.7"));
        assert!(!matches("1.2.x", "1.3.0"));
        assert!(matches("x", "7.0.0"));
        assert!(matches("*", "7.0.0"));
        assert!(matches("1.2.3", "1.2.3"));
        assert!(!matches("1.2.3", "1.2.4"), "a bare version is exact, as in Helm");
        assert!(matches("1.2", "1.2.4"));
        assert!(matches("v1.2.3", "1.2.3"));
        assert!(matches("1.2 - 1.4.5", "1.4.5"));
        assert!(!matches("1.2 - 1.4.5", "1.4.6"));
        assert!(matches("^1.0.0 || ^3.0.0", "3.1.0"));
        assert!(!matches("^1.0.0 || ^3.0.0", "2.1.0"));
        assert!(matches("=>1.0.0", "1.0.1"));
        assert!(matches("~>1.2", "1.2.9"));
    }

    #[test]
    fn bad_ranges_are_refused() {
        for range in ["", "  ", "!=1.0.0", ">=", "banana", "1.0.0 -", "^1 ||"] {
            assert!(VersionRange::parse(range).is_err(), "{range:?} should be refused");
        }
    }

    #[test]
    fn conditions() {
        assert!(check_condition("a.enabled").is_ok());
        assert!(check_condition("a.enabled, global.a.enabled").is_ok());
        assert!(check_condition("").is_err());
        assert!(check_condition("a..b").is_err());
        assert!(check_condition("a.b,").is_err());
        assert!(check_condition("a b").is_err());
    }
}
