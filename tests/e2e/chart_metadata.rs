//! What helmkots reads from a chart against what the real Helm engine reads (helm_python,
//! through `tests/tools/helmcheck.py`), for every chart of `../shared/fixtures/charts/corpus/`
//! and the tolerance fixtures of `tests/fixtures/charts-tolerance/`:
//!
//! - the metadata: name, version and appVersion as written, and each declared dependency's
//!   name, version range, alias, condition and tags (`helmcheck.py load`);
//! - the vendored subcharts: name, version and appVersion (`helmcheck.py load`);
//! - the default values with every subchart's values coalesced under its alias or name and
//!   `global` copied down (`Chart::coalesced_values` against `helmcheck.py values`, which has
//!   Helm render `{{ toJson .Values }}` with every subchart enabled). Numbers are compared as
//!   Helm holds them, as float64.
//!
//! A chart's test lists every difference at once. The corpus test skips, saying so, when
//! `../shared` is absent.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use camino::Utf8PathBuf;
use helmkots::internals::input::chart::Chart;
use helmkots_e2e::{python_tool, repo_root, shared_dir};
use serde_json::{json, Value};

/// The tolerance fixtures.
fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/charts-tolerance").join(name)
}

#[test]
fn leading_v() {
    let path = fixture("leading-v");
    assert_same_as_helm(&path);
    let chart = load(&path);
    assert_eq!(chart.version_text(), "v1.21.1");
    assert_eq!(chart.metadata.version, "1.21.1".parse().unwrap());
    assert_eq!(chart.metadata.app_version.as_deref(), Some("v2.0.0"));
    assert_eq!(chart.dependencies[0].version_text(), "v0.0.0");
    let packaged = helmkots::internals::input::chart::package(&chart, 0).expect("the chart packages");
    assert_eq!(
        packaged.file_name, "leading-v-v1.21.1.tgz",
        "Helm names the archive after the version as written"
    );
}

#[test]
fn long_comments() {
    let path = fixture("long-comments");
    assert_same_as_helm(&path);
    let values = load(&path).coalesced_values().unwrap();
    assert_eq!(values["app"]["replicas"], 3, "the merge key's own keys win");
    assert_eq!(values["app"]["resources"]["limits"]["cpu"], "100m", "merged from the anchor");
    assert_eq!(values["redis"]["image"]["tag"], "7.2", "the aliased subchart's values are under its alias");
}

#[test]
fn coalesce_rules() {
    assert_same_as_helm(&fixture("coalesce-rules"));
}

#[test]
fn corpus() {
    let Some(shared) = shared_dir() else {
        println!("skipped: ../shared is absent");
        return;
    };
    let dir = shared.join("fixtures/charts/corpus");
    let files = corpus_files(&dir.join("corpus.toml"));
    assert!(!files.is_empty(), "corpus.toml lists no chart");
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .iter()
            .map(|file| {
                let path = dir.join(file);
                scope.spawn(move || (file.clone(), differences(&path)))
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|handle| {
                let (file, differences) = handle.join().expect("a chart's check panicked");
                println!("chart_metadata: {file}: {}", if differences.is_empty() { "PASS" } else { "FAIL" });
                (!differences.is_empty()).then(|| format!("{file}:\n  {}", differences.join("\n  ")))
            })
            .collect()
    });
    assert!(failures.is_empty(), "helmkots and Helm read these charts differently:\n{}", failures.join("\n"));
}

/// The `file = "..."` of every `[[chart]]` of corpus.toml.
fn corpus_files(corpus_toml: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(corpus_toml)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", corpus_toml.display()));
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("file"))
        .filter_map(|rest| rest.trim_start().strip_prefix('='))
        .map(|value| value.trim().trim_matches('"').to_string())
        .collect()
}

fn load(path: &Path) -> Chart {
    let utf8 = Utf8PathBuf::from_path_buf(path.to_path_buf()).expect("a UTF-8 path");
    helmkots::internals::input::chart::load(&utf8)
        .unwrap_or_else(|e| panic!("helmkots cannot load {utf8}: {e:?}"))
}

fn assert_same_as_helm(path: &Path) {
    let differences = differences(path);
    assert!(
        differences.is_empty(),
        "helmkots and Helm read {} differently:\n  {}",
        path.display(),
        differences.join("\n  ")
    );
}

/// Every way helmkots's reading of the chart at `path` differs from Helm's.
fn differences(path: &Path) -> Vec<String> {
    let helm_load = python_tool(["load".as_ref(), path.as_os_str()]);
    helm_load.assert_success();
    let helm_load = helm_load.json();
    let helm_values = python_tool(["values".as_ref(), path.as_os_str()]);
    helm_values.assert_success();
    let helm_values = helm_values.json();

    let utf8 = Utf8PathBuf::from_path_buf(path.to_path_buf()).expect("a UTF-8 path");
    let chart = match helmkots::internals::input::chart::load(&utf8) {
        Ok(chart) => chart,
        Err(error) => return refusal_differences(&helm_load, error),
    };
    let mut out = Vec::new();
    compare("metadata", &ours_metadata(&chart), &helm_metadata(&helm_load), &mut out);
    match chart.coalesced_values() {
        Ok(values) => compare("values", &values, &helm_values, &mut out),
        Err(error) => out.push(format!("helmkots cannot coalesce the values, Helm can: {error:?}")),
    }
    out
}

/// A chart helmkots refuses is read the same way only when Helm could not install it
/// either: a declared dependency that is not vendored (Helm loads the chart, then `helm
/// template` and `helm install` stop at "found in Chart.yaml, but missing in charts/").
/// The refusal must point at the dependency in Chart.yaml and say how to fix it.
fn refusal_differences(helm_load: &Value, error: helmkots::Error) -> Vec<String> {
    let names = |key: &str| -> Vec<String> {
        helm_load[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|dep| dep["name"].as_str().map(str::to_string))
            .collect()
    };
    let vendored = names("dependencies");
    let missing: Vec<String> =
        names("declaredDependencies").into_iter().filter(|name| !vendored.contains(name)).collect();
    let helmkots::Error::Invalid(problems) = &error else {
        return vec![format!("helmkots refuses the chart, Helm loads it: {error:?}")];
    };
    let lines = problems.located_lines();
    let explained = !missing.is_empty()
        && problems.file.path.as_str().ends_with("Chart.yaml")
        && missing.iter().all(|name| {
            lines.iter().any(|line| {
                line.contains(&format!("dependency `{name}` is not vendored"))
                    && line.contains("Chart.yaml:")
                    && line.contains("helm dependency build")
            })
        });
    if explained {
        println!("chart_metadata: Helm cannot install it either, the dependencies {missing:?} are not vendored: {lines:?}");
        Vec::new()
    } else {
        vec![format!("helmkots refuses the chart, Helm loads it: {lines:?}")]
    }
}

/// The compared metadata as helmkots reads it.
fn ours_metadata(chart: &Chart) -> Value {
    let metadata = &chart.metadata;
    let mut subcharts: Vec<Value> = chart
        .dependencies
        .iter()
        .map(|sub| {
            json!({
                "name": sub.metadata.name,
                "version": sub.version_text(),
                "appVersion": sub.metadata.app_version.clone().unwrap_or_default(),
            })
        })
        .collect();
    subcharts.sort_by_key(|sub| sub["name"].as_str().unwrap_or_default().to_string());
    json!({
        "name": metadata.name,
        "version": chart.version_text(),
        "appVersion": metadata.app_version.clone().unwrap_or_default(),
        "dependencies": metadata.dependencies.iter().map(|spec| json!({
            "name": spec.name,
            "version": spec.version,
            "alias": spec.alias.clone().unwrap_or_default(),
            "condition": spec.condition.clone().unwrap_or_default(),
            "tags": spec.tags,
        })).collect::<Vec<_>>(),
        "subcharts": subcharts,
    })
}

/// The same from `helmcheck.py load` (Helm leaves empty fields out of its JSON).
fn helm_metadata(load: &Value) -> Value {
    let text =
        |value: &Value, key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let declared = load["declaredDependencies"].as_array().cloned().unwrap_or_default();
    let mut subcharts: Vec<Value> = load["dependencies"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|sub| json!({"name": text(sub, "name"), "version": text(sub, "version"), "appVersion": text(sub, "appVersion")}))
        .collect();
    subcharts.sort_by_key(|sub| sub["name"].as_str().unwrap_or_default().to_string());
    json!({
        "name": text(load, "name"),
        "version": text(load, "version"),
        "appVersion": text(load, "appVersion"),
        "dependencies": declared.iter().map(|dep| json!({
            "name": text(dep, "name"),
            "version": text(dep, "version"),
            "alias": text(dep, "alias"),
            "condition": text(dep, "condition"),
            "tags": dep.get("tags").cloned().unwrap_or_else(|| json!([])),
        })).collect::<Vec<_>>(),
        "subcharts": subcharts,
    })
}

/// Appends one line per difference between `ours` and `helm`, by path; numbers compare as
/// the float64 Helm holds them in.
fn compare(path: &str, ours: &Value, helm: &Value, out: &mut Vec<String>) {
    match (ours, helm) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let child = format!("{path}.{key}");
                match b.get(key) {
                    Some(other) => compare(&child, value, other, out),
                    None => out.push(format!("{child}: helmkots has {}, Helm has nothing", short(value))),
                }
            }
            for (key, value) in b {
                if !a.contains_key(key) {
                    out.push(format!("{path}.{key}: Helm has {}, helmkots has nothing", short(value)));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                compare(&format!("{path}[{index}]"), x, y, out);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{path}: helmkots has {}, Helm has {}", short(a), short(b))),
    }
}

/// A value for a message, cut to a readable length.
fn short(value: &Value) -> String {
    let mut text = value.to_string();
    if text.len() > 160 {
        let mut cut = 160;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        let _ = write!(text, "...");
    }
    text
}
