//! Dependencies declared in Chart.yaml checked against the subcharts vendored under
//! `charts/`: each must be present, at a version inside its range (ranges and versions as
//! Helm reads them, see `version.rs`). Also the small grammar of a dependency's
//! `condition` paths. A vendored subchart that no dependency declares is accepted, as Helm
//! accepts it.

use super::{metadata::ParsedMetadata, version::VersionRange, Chart};
use crate::diagnostic::{FileProblems, Problem, ProblemSink};

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
                format!("{} at {place}", chart.version_text())
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
