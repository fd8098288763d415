//! Reads a KOTS Config manifest back into config groups: `verify --proof` proves a written
//! tree from its own Config screen (`manifests/kots-config.yaml`), never from a release.toml.
//!
//! Only what the proof reads is kept: names, types, defaults, choices and `when`; values
//! paths live in the values template, not in the Config screen.

use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

use crate::input::release::{Choice, ConfigGroup, ConfigItem, ItemType};

#[derive(Deserialize)]
struct Document {
    kind: Option<String>,
    spec: Option<Spec>,
}

#[derive(Deserialize)]
struct Spec {
    #[serde(default)]
    groups: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
    name: String,
    #[serde(default)]
    title: String,
    description: Option<String>,
    when: Option<Value>,
    #[serde(default)]
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    name: String,
    #[serde(default)]
    title: String,
    #[serde(rename = "type")]
    item_type: String,
    help_text: Option<String>,
    default: Option<Value>,
    when: Option<Value>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    readonly: bool,
    #[serde(default)]
    items: Vec<ChoiceDocument>,
}

#[derive(Deserialize)]
struct ChoiceDocument {
    name: String,
    #[serde(default)]
    title: String,
}

/// The config groups of a `kots.io/v1beta1` Config manifest; `Err` says what is wrong.
pub(crate) fn read_config(text: &str) -> Result<Vec<ConfigGroup>, String> {
    let document: Document = serde_saphyr::from_str(text).map_err(|error| error.to_string())?;
    if document.kind.as_deref() != Some("Config") {
        return Err(format!("not a KOTS Config (kind {:?})", document.kind.unwrap_or_default()));
    }
    let groups = document.spec.map(|spec| spec.groups).unwrap_or_default();
    groups
        .into_iter()
        .map(|group| {
            let items = group.items.into_iter().map(item).collect::<Result<Vec<_>, String>>()?;
            Ok(ConfigGroup {
                name: unspanned(group.name),
                title: group.title,
                description: group.description,
                when: group.when.as_ref().map(scalar),
                items,
            })
        })
        .collect()
}

fn item(item: Item) -> Result<ConfigItem, String> {
    let item_type = ItemType::ALL
        .iter()
        .find(|(name, _)| *name == item.item_type)
        .map(|(_, item_type)| *item_type)
        .ok_or_else(|| format!("item `{}` has an unknown type `{}`", item.name, item.item_type))?;
    Ok(ConfigItem {
        name: unspanned(item.name),
        title: item.title,
        item_type,
        help_text: item.help_text,
        default: item.default.as_ref().map(scalar),
        when: item.when.as_ref().map(scalar),
        value: None,
        value_span: None,
        secret: item_type == ItemType::Password,
        required: item.required,
        hidden: item.hidden,
        readonly: item.readonly,
        choices: item
            .items
            .into_iter()
            .map(|choice| Choice { name: choice.name, title: choice.title })
            .collect(),
    })
}

/// A YAML scalar as KOTS reads it: a string as it is, anything else as written.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn unspanned(text: String) -> Spanned<String> {
    Spanned::new(0..0, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_config_reads_back() {
        let text = r#"
apiVersion: kots.io/v1beta1
kind: Config
metadata:
  name: app
spec:
  groups:
    - name: parts
      title: Parts
      when: 'repl{{ ConfigOptionEquals "mode" "on" }}'
      items:
        - name: metrics
          title: Metrics
          type: bool
          default: "1"
        - name: size
          title: Size
          type: select_one
          default: small
          items:
            - name: small
              title: Small
            - name: large
              title: Large
        - name: secret
          title: Secret
          type: password
"#;
        let groups = read_config(text).unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].when.as_deref(), Some(r#"repl{{ ConfigOptionEquals "mode" "on" }}"#));
        let items = &groups[0].items;
        assert_eq!((items[0].item_type, items[0].default.as_deref()), (ItemType::Bool, Some("1")));
        assert_eq!(items[1].choices.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["small", "large"]);
        assert!(items[2].secret);
        assert!(read_config("kind: Application\n").unwrap_err().contains("not a KOTS Config"));
    }
}
