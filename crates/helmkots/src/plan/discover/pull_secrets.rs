//! Pull-secret values: where the rewrites point a chart at the KOTS pull secret.
//!
//! Pull-secret values (`imagePullSecrets`, `pullSecrets`, at any depth, `global` included) are
//! listed from the values and from the `.Values.…` paths the templates read, so that the
//! rewrites can point them at the KOTS pull secret.

use serde_json::Value;

use super::*;
use crate::input::value_path::Segment;

/// Keys whose values are image pull secrets.
pub(super) fn is_pull_secret_key(key: &str) -> bool {
    key == "imagePullSecrets" || key == "pullSecrets"
}

pub(super) fn find_pull_secrets(view: &View<'_>, found: &mut Found) {
    fn walk(view: &View<'_>, value: &Value, path: &mut Vec<Segment>, found: &mut Found) {
        if path.len() > MAX_VALUES_DEPTH {
            return;
        }
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    path.push(Segment::Key(key.clone()));
                    if is_pull_secret_key(key) {
                        record_pull_secret(view, render_path(path), true, found);
                    } else {
                        walk(view, child, path, found);
                    }
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    path.push(Segment::Index(index));
                    walk(view, item, path, found);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    for (key, value) in &view.values {
        if view.subchart_keys.contains(key) {
            continue;
        }
        let mut path = view.root_path(&[Segment::Key(key.clone())]);
        if is_pull_secret_key(key) {
            record_pull_secret(view, render_path(&path), true, found);
        } else {
            walk(view, value, &mut path, found);
        }
    }
    for values_path in &view.template_pull_secrets {
        record_pull_secret(view, values_path.clone(), false, found);
    }
}

pub(super) fn record_pull_secret(view: &View<'_>, values_path: String, in_values: bool, found: &mut Found) {
    let entry = found.pull_secrets.entry(values_path.clone()).or_insert_with(|| PullSecretPath {
        values_path,
        chart: view.chart_name(),
        in_values: false,
        in_templates: false,
    });
    if in_values {
        entry.in_values = true;
    } else {
        entry.in_templates = true;
    }
}
