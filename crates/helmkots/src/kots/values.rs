//! `kots-values.yaml`: the Helm values the Job passes to helm, as KOTS templates.
//!
//! Layers, lowest first: the static `[chart] values` of release.toml, then one template per
//! config item at its values path, then the image rewrites and pull secrets.

use serde_json::Value;

use crate::{
    release::{ConfigItem, ItemType, Release},
    value_path::{Segment, ValuePath},
    values_yaml::Node,
};

/// The values document and what the manifests need to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct KotsValues {
    /// The values tree, with KOTS templates as leaves.
    pub tree: Node,
    /// True when a secret item is mapped: the document then goes into a Secret.
    pub holds_secret: bool,
}

/// Builds the values document from the release's static values and config items.
/// `chart_values` are the chart's defaults, used to keep numbers numbers.
pub fn kots_values(release: &Release, chart_values: &Value) -> KotsValues {
    let mut tree = Node::from_json(&release.chart.values);
    let mut holds_secret = false;
    for item in release.config.iter().flat_map(|group| &group.items) {
        let Some(path) = &item.value else { continue };
        holds_secret |= item.secret;
        let default = lookup(chart_values, path);
        tree.set(path, Node::Template(item_template(item, default)));
    }
    KotsValues { tree, holds_secret }
}

/// The KOTS template that gives a config item's value its YAML type.
///
/// `repl{{ ... }}` is never quoted (KOTS strips quotes around it and the result must keep its
/// type); strings go through `toJson`, so that any text the customer types (quotes, colons,
/// several lines) stays one valid YAML scalar inside the values document.
pub fn item_template(item: &ConfigItem, chart_default: Option<&Value>) -> String {
    let name = item.name.get_ref();
    match item.item_type {
        ItemType::Bool => format!("repl{{{{ ConfigOptionEquals \"{name}\" \"1\" }}}}"),
        ItemType::File => format!("repl{{{{ ConfigOptionData \"{name}\" | toJson }}}}"),
        _ if matches!(chart_default, Some(Value::Number(_))) => {
            format!("repl{{{{ ConfigOption \"{name}\" }}}}")
        }
        _ => format!("repl{{{{ ConfigOption \"{name}\" | toJson }}}}"),
    }
}

/// The value at `path` in a values document, if there is one.
pub fn lookup<'a>(values: &'a Value, path: &ValuePath) -> Option<&'a Value> {
    path.segments().iter().try_fold(values, |current, segment| match segment {
        Segment::Key(key) => current.get(key),
        Segment::Index(index) => current.get(*index),
    })
}
