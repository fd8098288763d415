//! The `--json` documents of every task that reports something, one function each. Their
//! shapes are a compatibility contract: README.md ("JSON output") documents them and
//! `tests/golden/cli/*.json` pins them. Add fields freely; never rename or remove one.

use camino::Utf8Path;
use helmkots::{
    commands::{self, init::Starter},
    diagnostic::FileProblems,
};
use serde_json::{json, Value};

/// `check --json` when the release is valid.
pub fn check(file: &Utf8Path, checked: &commands::Checked) -> Value {
    json!({
        "release_file": file.as_str(),
        "valid": true,
        "slug": checked.release.app.slug.get_ref(),
        "version": checked.version(),
        "chart": {
            "name": checked.chart.metadata.name,
            "version": checked.chart.version_text(),
        },
        "problems": [],
    })
}

/// `check --json` when a file has mistakes: every problem, located.
pub fn check_failed(file: &Utf8Path, problems: &FileProblems) -> Value {
    json!({
        "release_file": file.as_str(),
        "valid": false,
        "slug": null,
        "version": null,
        "chart": null,
        "problems": located(problems),
    })
}

/// Every problem of a file, with its line and column (null when it is about the whole file).
fn located(problems: &FileProblems) -> Vec<Value> {
    problems
        .problems
        .iter()
        .map(|problem| {
            let (line, column) = match &problem.span {
                Some(span) => {
                    let (line, column) = problems.file.line_col(span.start);
                    (json!(line), json!(column))
                }
                None => (Value::Null, Value::Null),
            };
            json!({
                "file": problems.file.path.as_str(),
                "line": line,
                "column": column,
                "message": problem.message,
                "help": problem.help,
            })
        })
        .collect()
}

/// Any task's `--json` when it stops with an error: the message with its causes, the exit
/// code, the located problems of a file with mistakes, and the proof when it failed.
pub fn error(error: &anyhow::Error, exit_code: u8) -> Value {
    let engine = error.downcast_ref::<helmkots::Error>();
    let problems = match engine {
        Some(helmkots::Error::Invalid(problems)) => located(problems),
        _ => Vec::new(),
    };
    let proof = match engine {
        Some(helmkots::Error::ProofFailed(report)) => proof(report),
        _ => Value::Null,
    };
    json!({
        "error": {
            // An engine error's text already ends with its cause; others list their chain.
            "message": match engine {
                Some(engine) => engine.to_string(),
                None => format!("{error:#}"),
            },
            "help": engine.and_then(helmkots::Error::help),
            "exit_code": exit_code,
            "problems": problems,
            "proof": proof,
        }
    })
}

/// `release --json`: the tree, whether it was already up to date, the warnings, the proof
/// (when it ran) and the build record as written to `release.lock.json`.
pub fn release(outcome: &commands::ReleaseOutcome) -> Value {
    json!({
        "dir": outcome.dir.as_str(),
        "up_to_date": outcome.up_to_date,
        "pushed": outcome.pushed,
        "warnings": outcome.warnings,
        "proof": outcome.proof.as_ref().map(proof),
        "record": outcome.record,
    })
}

/// `preview --json`: every manifest by file name, and the resolved values.
pub fn preview(preview: &commands::Preview) -> Value {
    let manifests: Vec<Value> =
        preview.manifests.iter().map(|(name, text)| json!({ "file": name, "text": text })).collect();
    json!({ "manifests": manifests, "values": preview.values })
}

/// `init --json`: what `init` would write, and why.
pub fn init(starter: &Starter) -> Value {
    json!({
        "release_file": starter.release_file.as_str(),
        "written": false,
        "slug": starter.slug,
        "title": starter.title,
        "chart": starter.chart,
        "images": starter.images,
        "items": starter.items,
        "problems": starter.problems,
        "text": starter.text,
    })
}

/// `images --json`: the image set, each image with how it was found (`values`, `rendered`,
/// `both`, `annotation`, `include`) and, when the store holds it, what it adds to a bundle
/// (`size`, bytes).
pub fn images(
    images: &ImageSet,
    sizes: &std::collections::BTreeMap<helmkots::commands::ImageRef, u64>,
) -> Value {
    let mut document = image_set(images);
    for (key, list) in [("images", &images.images), ("test_only", &images.test_only)] {
        if let Some(entries) = document.get_mut(key).and_then(Value::as_array_mut) {
            for (entry, image) in entries.iter_mut().zip(list) {
                if let Some(object) = entry.as_object_mut() {
                    object.insert("found_by".to_string(), json!(image.found_by().to_string()));
                    if let Some(size) = sizes.get(&image.reference) {
                        object.insert("size".to_string(), serde_json::json!(size));
                    }
                }
            }
        }
    }
    document
}

/// `inspect --json`: what a release tree or a bundle holds.
pub fn inspect(inspection: &helmkots::commands::inspect::Inspection) -> Value {
    use helmkots::commands::inspect::Artifact;
    let kind = match inspection.artifact {
        Artifact::Tree(_) => "tree",
        Artifact::Bundle(_) => "bundle",
    };
    let bundle = inspection.bundle.as_ref().map(|head| {
        json!({
            "path": head.path.as_str(),
            "app_slug": head.app_slug,
            "version_label": head.version_label,
            "channel_id": head.channel_id,
            "channel_name": head.channel_name,
            "update_cursor": head.update_cursor,
        })
    });
    let images: Vec<Value> = inspection
        .images
        .iter()
        .map(|image| json!({"reference": image.reference, "digest": image.digest, "size": image.size}))
        .collect();
    let config: Vec<Value> = inspection
        .config
        .iter()
        .map(|group| {
            let items: Vec<Value> = group
                .items
                .iter()
                .map(|item| {
                    json!({
                        "name": item.name.get_ref(),
                        "title": item.title,
                        "type": item.item_type.to_string(),
                        "default": item.default,
                        "required": item.required,
                        "hidden": item.hidden,
                        "when": item.when,
                    })
                })
                .collect();
            json!({"name": group.name.get_ref(), "title": group.title, "when": group.when, "items": items})
        })
        .collect();
    json!({
        "path": inspection.artifact.path().as_str(),
        "kind": kind,
        "bundle": bundle,
        "images": images,
        "config": config,
        "record": inspection.record,
        "problems": inspection.problems,
    })
}

/// `clean --json`: what was removed (or would be, with `--dry-run`).
pub fn clean(cleaned: &[helmkots::commands::clean::Cleaned], dry_run: bool) -> Value {
    let removed: Vec<Value> = cleaned
        .iter()
        .map(|c| json!({"what": c.what, "path": c.path.as_str(), "files": c.files, "bytes": c.bytes}))
        .collect();
    json!({
        "dry_run": dry_run,
        "removed": removed,
        "files": cleaned.iter().map(|c| c.files).sum::<u64>(),
        "bytes": cleaned.iter().map(|c| c.bytes).sum::<u64>(),
    })
}

// --- The engine's report types as JSON -------------------------------------------------------
// The engine's types do not derive `Serialize` (only its on-disk formats do): their JSON
// shapes are the CLI's contract, written out here and pinned by `tests/golden/cli/json/`.

use helmkots::commands::{
    DiscoveredImage, DiscoveryProblem, DiscoveryProblemKind, ImageRefError, ImageRefErrorKind, ImageSet,
    ImageSource, ProblemSite, ProofFailure, ProofReport, VerifyReport,
};

/// `verify --json`.
pub fn verify(report: &VerifyReport) -> Value {
    let images: Vec<Value> = report
        .images
        .iter()
        .map(|image| json!({"reference": image.reference, "digest": image.digest, "size": image.size}))
        .collect();
    json!({
        "files_checked": report.files_checked,
        "blobs_checked": report.blobs_checked,
        "saved_images": report.saved_images,
        "images": images,
        "app_tar_gz_sha256": report.app_tar_gz_sha256,
        "problems": report.problems,
    })
}

/// The airgap proof (`verify --proof --json`, `release --json`, a failed proof's error).
pub fn proof(report: &ProofReport) -> Value {
    let runs: Vec<Value> = report
        .runs
        .iter()
        .map(|run| {
            json!({
                "configuration": run.configuration,
                "mode": run.mode,
                "images_checked": run.images_checked,
                "failures": run.failures.iter().map(proof_failure).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "coverage": match report.coverage {
            helmkots::commands::Coverage::Exhaustive => "exhaustive",
            helmkots::commands::Coverage::CoveringArray => "covering_array",
        },
        "strength": report.strength,
        "configurations": report.configurations,
        "all_combinations": report.all_combinations,
        "renders": report.renders,
        "same_values": report.same_values,
        "items": report.items,
        "runs": runs,
        "notes": report.notes,
    })
}

fn proof_failure(failure: &ProofFailure) -> Value {
    json!({
        "configuration": failure.configuration,
        "mode": failure.mode,
        "template": failure.template,
        "object": failure.object,
        "image": failure.image,
        "reason": failure.reason,
        "values_path": failure.values_path,
    })
}

/// The image set of `images --json` (without the per-image `found_by` and `size`, which
/// [`images`] adds).
fn image_set(set: &ImageSet) -> Value {
    json!({
        "images": set.images.iter().map(discovered_image).collect::<Vec<_>>(),
        "test_only": set.test_only.iter().map(discovered_image).collect::<Vec<_>>(),
        "tag_pins": set.tag_pins,
        "rendered": set.rendered.as_ref().map(|summary| json!({
            "from_lock": summary.from_lock,
            "configurations": summary.configurations,
            "renders": summary.renders,
            "failures": summary.failures,
        })),
        "excluded": set.excluded.iter().map(|excluded| json!({
            "image": discovered_image(&excluded.image),
            "pattern": excluded.pattern,
        })).collect::<Vec<_>>(),
        "pull_secret_paths": set.pull_secret_paths.iter().map(|path| json!({
            "values_path": path.values_path,
            "chart": path.chart,
            "in_values": path.in_values,
            "in_templates": path.in_templates,
        })).collect::<Vec<_>>(),
        "problems": set.problems.iter().map(discovery_problem).collect::<Vec<_>>(),
    })
}

fn discovered_image(image: &DiscoveredImage) -> Value {
    json!({
        "reference": image.reference.to_string(),
        "sources": image.sources.iter().map(image_source).collect::<Vec<_>>(),
    })
}

fn image_source(source: &ImageSource) -> Value {
    json!({
        "chart": source.chart,
        "values_path": source.values_path,
        // The shape is also written into helmkots.lock, so it keeps its own serde form.
        "shape": source.shape,
        "tag_from_app_version": source.tag_from_app_version,
        "found_by": source.found_by.to_string(),
    })
}

fn discovery_problem(problem: &DiscoveryProblem) -> Value {
    let site = match &problem.site {
        ProblemSite::Values { chart, values_path } => {
            json!({"in": "values", "chart": chart, "values_path": values_path})
        }
        ProblemSite::Annotation { chart, key } => json!({"in": "annotation", "chart": chart, "key": key}),
        ProblemSite::Include { index } => json!({"in": "include", "index": index}),
        ProblemSite::Exclude { index } => json!({"in": "exclude", "index": index}),
        ProblemSite::Rendered { place } => json!({"in": "rendered", "place": place}),
        ProblemSite::Lock => json!({"in": "lock"}),
    };
    let kind = match &problem.kind {
        DiscoveryProblemKind::InvalidReference { error } => {
            json!({"kind": "invalid_reference", "error": image_ref_error(error)})
        }
        DiscoveryProblemKind::MissingTag { image, tag_path, tag_key, app_version_fallback } => json!({
            "kind": "missing_tag",
            "image": image,
            "tag_path": tag_path,
            "tag_key": tag_key,
            "app_version_fallback": app_version_fallback,
        }),
        DiscoveryProblemKind::InvalidAnnotation { reason } => {
            json!({"kind": "invalid_annotation", "reason": reason})
        }
        DiscoveryProblemKind::UnusedExclude { pattern } => {
            json!({"kind": "unused_exclude", "pattern": pattern})
        }
        DiscoveryProblemKind::NotRewritable { reason } => json!({"kind": "not_rewritable", "reason": reason}),
        DiscoveryProblemKind::StaleRenders => json!({"kind": "stale_renders"}),
        DiscoveryProblemKind::LeftOut { image, collides_with } => {
            json!({"kind": "left_out", "image": image, "collides_with": collides_with})
        }
        DiscoveryProblemKind::UntaggedGuess { tag_key } => {
            json!({"kind": "untagged_guess", "tag_key": tag_key})
        }
        _ => json!({"kind": "other", "message": problem.to_string()}),
    };
    json!({"site": site, "kind": kind})
}

fn image_ref_error(error: &ImageRefError) -> Value {
    let reason = match &error.reason {
        ImageRefErrorKind::Empty => json!({"kind": "empty"}),
        ImageRefErrorKind::EmptyName => json!({"kind": "empty_name"}),
        ImageRefErrorKind::EmptyTag => json!({"kind": "empty_tag"}),
        ImageRefErrorKind::InvalidTag => json!({"kind": "invalid_tag"}),
        ImageRefErrorKind::TagTooLong { length } => json!({"kind": "tag_too_long", "length": length}),
        ImageRefErrorKind::EmptyDigest => json!({"kind": "empty_digest"}),
        ImageRefErrorKind::InvalidDigest => json!({"kind": "invalid_digest"}),
        ImageRefErrorKind::DigestLength { algorithm, expected, found } => {
            json!({"kind": "digest_length", "algorithm": algorithm, "expected": expected, "found": found})
        }
        ImageRefErrorKind::UppercaseRepository => json!({"kind": "uppercase_repository"}),
        ImageRefErrorKind::InvalidDomain => json!({"kind": "invalid_domain"}),
        ImageRefErrorKind::EmptyPathComponent => json!({"kind": "empty_path_component"}),
        ImageRefErrorKind::InvalidPathComponent => json!({"kind": "invalid_path_component"}),
        ImageRefErrorKind::NameTooLong { length } => json!({"kind": "name_too_long", "length": length}),
        ImageRefErrorKind::HexIdentifier => json!({"kind": "hex_identifier"}),
        other => json!({"kind": "other", "message": other.to_string()}),
    };
    json!({"input": error.input, "reason": reason, "offset": error.offset})
}

#[cfg(test)]
mod tests {
    use helmkots::commands::{FoundBy, ImageRef, ImageShape};

    use super::*;

    #[test]
    fn the_image_set_is_tagged_json() {
        let set = ImageSet {
            images: vec![DiscoveredImage {
                reference: ImageRef::parse("busybox:1.31.1").unwrap(),
                sources: vec![ImageSource {
                    chart: Some("demo".into()),
                    values_path: Some("image".into()),
                    shape: ImageShape::RepositoryTag { digest_key: Some("sha".into()) },
                    tag_from_app_version: false,
                    found_by: FoundBy::Values,
                }],
            }],
            ..ImageSet::default()
        };
        assert_eq!(
            images(&set, &Default::default()),
            json!({
                "images": [{
                    "reference": "docker.io/library/busybox:1.31.1",
                    "sources": [{
                        "chart": "demo",
                        "values_path": "image",
                        "shape": {"kind": "repository_tag", "digest_key": "sha"},
                        "tag_from_app_version": false,
                        "found_by": "values",
                    }],
                    "found_by": "values",
                }],
                "test_only": [],
                "tag_pins": [],
                "rendered": null,
                "excluded": [],
                "pull_secret_paths": [],
                "problems": [],
            })
        );
    }
}
