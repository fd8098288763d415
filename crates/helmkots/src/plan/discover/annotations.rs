//! Chart.yaml annotations that list a chart's images: `artifacthub.io/images` and `helm.sh/images`,
//! each a YAML list of strings or of `{name, image}` maps.

use serde_json::Value;

use super::*;

pub(super) fn read_annotations(view: &View<'_>, found: &mut Found) {
    for key in IMAGE_ANNOTATIONS {
        let Some(text) = view.chart.metadata.annotations.get(key) else { continue };
        let site = || ProblemSite::Annotation { chart: view.chart_name(), key: key.to_string() };
        let invalid = |reason: String| DiscoveryProblem {
            site: site(),
            kind: DiscoveryProblemKind::InvalidAnnotation { reason },
        };
        let entries = match serde_saphyr::from_str::<Value>(text) {
            Ok(Value::Array(entries)) => entries,
            Ok(Value::Null) => continue,
            Ok(_) => {
                found
                    .annotations
                    .push(Candidate::Problem(invalid("expected a YAML list of images".to_string())));
                continue;
            }
            Err(error) => {
                found.annotations.push(Candidate::Problem(invalid(format!("not YAML: {error}"))));
                continue;
            }
        };
        for (index, entry) in entries.iter().enumerate() {
            let (name, image) = match entry {
                Value::String(image) => (None, image.as_str()),
                Value::Object(map) => match map.get("image").and_then(Value::as_str) {
                    Some(image) => (map.get("name").and_then(Value::as_str).map(str::to_string), image),
                    None => {
                        found.annotations.push(Candidate::Problem(invalid(format!(
                            "entry {index} has no `image` string"
                        ))));
                        continue;
                    }
                },
                _ => {
                    found.annotations.push(Candidate::Problem(invalid(format!(
                        "entry {index} is neither a string nor a map with `image`"
                    ))));
                    continue;
                }
            };
            let candidate = match ImageRef::parse(image) {
                Ok(reference) => {
                    let shape = ImageShape::Annotation { key: key.to_string(), name };
                    let source = ImageSource {
                        chart: Some(view.chart_name()),
                        values_path: None,
                        shape,
                        tag_from_app_version: false,
                        found_by: FoundBy::Annotation,
                    };
                    Candidate::Image(reference, source)
                }
                Err(error) => Candidate::Problem(DiscoveryProblem {
                    site: site(),
                    kind: DiscoveryProblemKind::InvalidReference { error },
                }),
            };
            found.annotations.push(candidate);
        }
    }
}
