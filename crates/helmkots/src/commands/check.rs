//! What `check` proves before anything is built, pushed or written: every mistake of a
//! release that would stop `images` or `release` later, or that would make a setting do
//! nothing, reported at once with the line of release.toml to change.
//!
//! - images the chart names that cannot be used (no tag, an invalid reference), as
//!   discovery finds them (renders included, when `[images] discover` asks for them);
//! - two images that would land on one name in the customer's registry;
//! - values the chart's `values.schema.json` refuses, in the Config screen's default
//!   configuration (Helm refuses to render then; [`crate::input::chart::schema`]);
//! - a config item whose `value` names a path that neither the chart's values nor its
//!   templates know (a typo: the item would change nothing).

use camino::{Utf8Path, Utf8PathBuf};

use crate::{
    diagnostic::nearest,
    input::chart::schema,
    input::release::ConfigItem,
    input::value_path::Segment,
    plan::discover::{DiscoveryProblem, DiscoveryProblemKind, ProblemSite},
};
use crate::{
    diagnostic::{FileProblems, Problem},
    error::{Error, Result},
    input::chart::{self, Chart},
    input::release::{self, Release},
    plan::discover::ImageSet,
    plan::kots::{self, KotsValues},
};
use serde_json::Value;
use std::ops::Range;

/// A release `check` found ready to build: its images and the values document.
#[derive(Debug, Clone)]
pub struct Validated {
    /// Every image discovery found (with its warnings).
    pub images: ImageSet,
    /// The generated Helm values.
    pub values: KotsValues,
}

/// Runs every check of the module doc on a loaded release; all problems come back together
/// as [`Error::Invalid`], located in release.toml.
pub fn validate(checked: &Checked) -> Result<Validated> {
    let release = &checked.release;
    let chart_span = release.chart.path.span();
    let images = super::images::discovered_images(checked)?;
    let mut problems: Vec<Problem> = super::images::fatal_image_problems(&images)
        .into_iter()
        .map(|problem| discovery_problem(release, &chart_span, problem))
        .collect();
    let collisions = kots::collisions(&images);
    for collision in &collisions {
        problems.push(Problem::at(chart_span.clone(), collision.to_string()).with_help(format!(
            "leave one out with [images] exclude = [\"{}\"], or ship the other under another name through [chart] values",
            collision.second
        )));
    }
    problems.extend(schema_problems(release, &checked.chart, &chart_span)?);
    problems.extend(unknown_value_paths(release, &checked.chart)?);
    if !problems.is_empty() {
        return Err(invalid(release, problems));
    }
    // `collisions` found none, which is all `kots_values` refuses.
    let values = kots::kots_values(release, &checked.chart, &images)
        .map_err(|collision| Error::ImageCollision(Box::new(collision)))?;
    Ok(Validated { images, values })
}

fn invalid(release: &Release, problems: Vec<Problem>) -> Error {
    Error::Invalid(FileProblems { file: release.file.clone(), problems })
}

/// A discovery problem at the line of release.toml that fixes it: the `include` entry it
/// names, else `[chart] path` (the chart whose values hold it).
fn discovery_problem(release: &Release, chart_span: &Range<usize>, problem: &DiscoveryProblem) -> Problem {
    let span = match &problem.site {
        ProblemSite::Include { index } => release.images.include.get(*index).map(|entry| entry.span()),
        _ => None,
    }
    .unwrap_or_else(|| chart_span.clone());
    let help = match &problem.kind {
        DiscoveryProblemKind::MissingTag { image, tag_path, .. } => format!(
            "set `{tag_path}` in [chart] values, or leave the image out with [images] exclude = [\"{image}\"]"
        ),
        DiscoveryProblemKind::InvalidReference { error } => format!(
            "correct it in [chart] values (or [images] include), or leave it out with [images] exclude = [\"{}\"]",
            error.input
        ),
        DiscoveryProblemKind::StaleRenders => {
            "put `helm` on PATH, or run `cargo xtask release` where it is, to record the renders again".to_string()
        }
        _ => "correct the chart, or leave the image out with [images] exclude".to_string(),
    };
    Problem::at(span, problem.to_string()).with_help(help)
}

/// The values of the Config screen's default configuration against every enabled chart's
/// `values.schema.json`, as `helm install` would check them.
fn schema_problems(release: &Release, chart: &Chart, chart_span: &Range<usize>) -> Result<Vec<Problem>> {
    let defaults = std::collections::BTreeMap::new();
    let values = match crate::plan::discover::rendered::base_values(release, chart, &defaults) {
        Ok(Value::Object(values)) => values,
        // The values template cannot be resolved (a collision, a KOTS template mistake):
        // reported where it is made; the schema is checked against `[chart] values` alone.
        _ => release.chart.values.as_object().cloned().unwrap_or_default(),
    };
    let report = match schema::validate_values(chart, &values) {
        Ok(report) => report,
        // A subchart's key that is not a map: Helm refuses it, and so does `release`.
        Err(error) => return Ok(vec![Problem::at(chart_span.clone(), error.to_string())]),
    };
    Ok(report
        .violations
        .iter()
        .map(|violation| {
            let place = if violation.chart_path.is_empty() {
                format!("chart `{}`", violation.chart)
            } else {
                format!("subchart `{}` (values `{}`)", violation.chart, violation.chart_path.join("."))
            };
            Problem::at(
                chart_span.clone(),
                format!(
                    "{place}: its values.schema.json refuses the values of the default configuration, so Helm would \
                     refuse to install it: {}",
                    violation.errors.join("; ")
                ),
            )
            .with_help(
                "set the values it requires in [chart] values (or give a config item's `value` a default); \
                 `cargo xtask preview` shows the values the chart gets",
            )
        })
        .collect())
}

/// Config items whose `value` names a path that the chart's values (with `[chart] values`)
/// do not have and whose last key no template of the chart mentions: a typo, which would
/// make the item change nothing.
fn unknown_value_paths(release: &Release, chart: &Chart) -> Result<Vec<Problem>> {
    let user_values = release.chart.values.as_object().cloned().unwrap_or_default();
    let root = match chart::charts_with_values(chart, &user_values, chart::OnMismatch::Replace)?
        .into_iter()
        .next()
    {
        Some(root) => Value::Object(root.values),
        None => return Ok(Vec::new()),
    };
    let mut problems = Vec::new();
    for item in release.config.iter().flat_map(|group| &group.items) {
        let (Some(path), Some(span)) = (&item.value, &item.value_span) else { continue };
        let Some((missing, siblings)) = first_missing_key(&root, path.segments()) else { continue };
        if mentioned_in_templates(chart, &missing) {
            continue;
        }
        problems.push(unknown_path_problem(item, span, &path.to_string(), &missing, &siblings));
    }
    Ok(problems)
}

fn unknown_path_problem(
    item: &ConfigItem,
    span: &Range<usize>,
    path: &str,
    missing: &str,
    siblings: &[String],
) -> Problem {
    let message = format!(
        "config item `{}` sets `{path}`, but the chart's values have no `{missing}` there and no template of the \
         chart reads a `{missing}`: the item would change nothing",
        item.name.get_ref()
    );
    let help = match nearest(missing, siblings.iter().map(String::as_str)) {
        Some(best) => format!("did you mean `{}`?", path.replacen(missing, best, 1)),
        None => "check the path against the chart's values.yaml".to_string(),
    };
    Problem::at(span.clone(), message).with_help(help)
}

/// The first map key of `segments` that `values` lacks, with the keys beside it; `None` when
/// the path exists, or leaves the maps (a list, or a scalar the path goes through, which only
/// the chart's templates can judge).
fn first_missing_key(values: &Value, segments: &[Segment]) -> Option<(String, Vec<String>)> {
    let mut here = values;
    for segment in segments {
        match (segment, here) {
            (Segment::Key(key), Value::Object(map)) => match map.get(key) {
                Some(next) => here = next,
                None => return Some((key.clone(), map.keys().cloned().collect())),
            },
            (Segment::Index(index), Value::Array(list)) => here = list.get(*index)?,
            _ => return None,
        }
    }
    None
}

/// Whether any template of `chart` or its subcharts has `key` as a whole word: a chart may
/// read a value its values.yaml does not declare (`{{ .Values.x.extra | default … }}`).
fn mentioned_in_templates(chart: &Chart, key: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let in_text = |text: &str| {
        text.match_indices(key).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + key.len()..].chars().next();
            !before.is_some_and(is_word) && !after.is_some_and(is_word)
        })
    };
    chart
        .files
        .iter()
        .filter(|file| file.path.starts_with("templates/"))
        .any(|file| in_text(&String::from_utf8_lossy(&file.data)))
        || chart.dependencies.iter().any(|sub| mentioned_in_templates(sub, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_missing_key_comes_with_its_siblings() {
        let values = serde_json::json!({"worker": {"enabled": false, "replicas": 1}, "list": [{"a": 1}]});
        let path = crate::input::value_path::ValuePath::parse("worker.enabeld").unwrap();
        let (missing, siblings) = first_missing_key(&values, path.segments()).unwrap();
        assert_eq!(missing, "enabeld");
        assert_eq!(siblings, ["enabled", "replicas"]);
        assert_eq!(nearest(&missing, siblings.iter().map(String::as_str)), Some("enabled"));
        for present in ["worker.enabled", "list[0].a", "worker.replicas.deeper"] {
            let path = crate::input::value_path::ValuePath::parse(present).unwrap();
            assert_eq!(first_missing_key(&values, path.segments()), None, "{present}");
        }
    }
}

/// A validated release and its loaded chart.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The validated release file.
    pub release: Release,
    /// The chart it points at, with its vendored subcharts.
    pub chart: Chart,
    /// `--locked`: `helmkots.lock` must hold what the run needs and must not change.
    pub locked: bool,
}

impl Checked {
    /// The release version: `[app] version`, else the chart's version.
    pub fn version(&self) -> String {
        match &self.release.app.version {
            Some(version) => version.get_ref().clone(),
            None => self.chart.version_text(),
        }
    }

    /// `<slug>-<version>`: the name of the release tree.
    pub fn tree_name(&self) -> String {
        format!("{}-{}", self.release.app.slug.get_ref(), self.version())
    }
}

/// The chart `release_file` points at, read from the release file alone (for `build.rs`,
/// which watches it even when the release does not check).
pub fn chart_path(release_file: &Utf8Path) -> Result<Utf8PathBuf> {
    Ok(release::load(release_file)?.chart_path())
}

/// Validates the release file and the chart; reads files, never the network.
pub fn check(release_file: &Utf8Path) -> Result<Checked> {
    let release = release::load(release_file)?;
    let chart_path = release.chart_path();
    if !chart_path.exists() {
        let spec = &release.chart.path;
        return Err(Error::Invalid(FileProblems {
            file: release.file.clone(),
            problems: vec![Problem::at(spec.span(), format!("chart `{}` does not exist", spec.get_ref()))
                .with_help(format!(
                "`chart.path` is resolved from {}; point it at a chart directory (with Chart.yaml) or a .tgz",
                release.root
            ))],
        }));
    }
    let chart = chart::load(&chart_path).map_err(|error| match error {
        Error::NotAChart { reason, enclosing_chart, .. } => not_a_chart(&release, &reason, enclosing_chart),
        other => other,
    })?;
    Ok(Checked { release, chart, locked: false })
}

/// `[chart] path` names a folder inside a chart, or its Chart.yaml: the problem is that line
/// of release.toml, and the fix the chart's own folder.
fn not_a_chart(release: &Release, reason: &str, enclosing_chart: Option<Utf8PathBuf>) -> Error {
    let spec = &release.chart.path;
    let fix = match enclosing_chart {
        Some(dir) => {
            let relative =
                dir.strip_prefix(&release.root).map_or_else(|_| dir.to_string(), |r| r.to_string());
            format!("point `[chart] path` at the chart directory: path = \"{relative}\"")
        }
        None => "point `[chart] path` at the chart directory (the one holding Chart.yaml) or at a .tgz"
            .to_string(),
    };
    Error::Invalid(FileProblems {
        file: release.file.clone(),
        problems: vec![Problem::at(
            spec.span(),
            format!("chart `{}` is not a chart: {reason}", spec.get_ref()),
        )
        .with_help(fix)],
    })
}
