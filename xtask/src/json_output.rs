//! The `--json` documents of every task that reports something, one function each. Their
//! shapes are a compatibility contract: README.md ("JSON output") documents them and
//! `tests/golden/cli/*.json` pins them. Add fields freely; never rename or remove one.

use camino::Utf8Path;
use helmkots::{
    commands::{self as pipeline, init::Starter},
    diagnostic::FileProblems,
};
use serde_json::{json, Value};

/// `check --json` when the release is valid.
pub fn check(file: &Utf8Path, checked: &pipeline::Checked) -> Value {
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
        Some(helmkots::Error::ProofFailed(report)) => json!(report),
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
pub fn release(outcome: &pipeline::ReleaseOutcome) -> Value {
    json!({
        "dir": outcome.dir.as_str(),
        "up_to_date": outcome.up_to_date,
        "pushed": outcome.pushed,
        "warnings": outcome.warnings,
        "proof": outcome.proof,
        "record": outcome.record,
    })
}

/// `preview --json`: every manifest by file name, and the resolved values.
pub fn preview(preview: &pipeline::Preview) -> Value {
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
    images: &helmkots::commands::ImageSet,
    sizes: &std::collections::BTreeMap<helmkots::commands::ImageRef, u64>,
) -> Value {
    let mut document = serde_json::to_value(images).unwrap_or(Value::Null);
    for (key, list) in [("images", &images.images), ("test_only", &images.test_only)] {
        if let Some(entries) = document.get_mut(key).and_then(Value::as_array_mut) {
            for (entry, image) in entries.iter_mut().zip(list) {
                if let Some(object) = entry.as_object_mut() {
                    object.insert("found_by".to_string(), serde_json::json!(image.found_by()));
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
