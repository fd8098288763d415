//! `kots-values.yaml`: the Helm values the Job passes to helm, as KOTS templates.
//!
//! Layers, lowest first: the static `[chart] values` of release.toml, then one template per
//! config item at its values path, then the image rewrites and pull secrets.
//!
//! Image rewrites follow where KOTS puts an airgap image: `<LocalRegistryHost>/
//! <LocalRegistryNamespace>/<last path component>` (kots `DestImage`; the organisation is
//! dropped, and an empty namespace leaves no empty segment). Online, public images stay as
//! they are and private ones go through the proxy ([`crate::plan::image_routing`]).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{
    input::chart::Chart,
    input::image_ref::ImageRef,
    input::release::{ConfigItem, ItemType, Release},
    input::value_path::{Segment, ValuePath},
    plan::conventions::{self, WhenRewritten},
    plan::discover::{ImageSet, ImageShape, PullSecretPath},
    plan::image_routing::{local_suffix, Routing},
    plan::kots::PULL_SECRET_TEMPLATE,
    plan::values_yaml::Node,
};

/// The values document and what the manifests need to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct KotsValues {
    /// The values tree, with KOTS templates as leaves.
    pub tree: Node,
    /// True when a secret item is mapped: the document then goes into a Secret.
    pub holds_secret: bool,
    /// Every values path that was rewritten for an image, with the image (familiar form).
    pub image_rewrites: BTreeMap<String, String>,
    /// Values paths set to the KOTS pull secret.
    pub pull_secret_paths: Vec<String>,
    /// Images that no values path can rewrite (from annotations or `[images] include`);
    /// they reach the bundle through `additionalImages` only.
    pub not_rewritable: Vec<String>,
}

/// Two images that KOTS would push to the same place in the customer's registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "images `{first}` (values {first_paths}) and `{second}` (values {second_paths}) both end in \
     `{last_component}`: KOTS pushes airgap images to <registry>/<namespace>/{last_component}, so \
     they would collide in the customer's registry"
)]
pub struct ImageCollision {
    /// The shared last path component.
    pub last_component: String,
    /// The first image.
    pub first: String,
    /// Its values paths (or where else it came from).
    pub first_paths: String,
    /// The second image.
    pub second: String,
    /// Its values paths.
    pub second_paths: String,
}

/// Builds the values document from the release's static values, its config items and the
/// discovered images. The chart's default values keep numbers numbers and keep the pull
/// secrets a chart already lists; its (and its subcharts') values tell which family
/// conventions ([`crate::plan::conventions`]) the rewrites must honour.
pub(crate) fn kots_values(
    release: &Release,
    chart: &Chart,
    images: &ImageSet,
) -> Result<KotsValues, ImageCollision> {
    let chart_values = &chart.values;
    check_collisions(images)?;
    let mut tree = Node::from_json(&release.chart.values);
    // Tags the chart would take from the cluster; `[chart] values` may already pin them.
    for pin in &images.tag_pins {
        let Ok(path) = ValuePath::parse(&pin.values_path) else { continue };
        if lookup(&release.chart.values, &path).is_none() {
            tree.set(&path, Node::Scalar(Value::String(pin.tag.clone())));
        }
    }
    let mut holds_secret = false;
    for item in release.config.iter().flat_map(|group| &group.items) {
        let Some(path) = &item.value else { continue };
        holds_secret |= item.secret;
        // What the item replaces: `[chart] values` where it sets the path, else the chart's own.
        let underlying = lookup(&release.chart.values, path).or_else(|| lookup(chart_values, path));
        tree.set(path, Node::Template(item_template(item, underlying)));
    }
    let routing = Routing::from_release(release);
    let mut image_rewrites = BTreeMap::new();
    let mut not_rewritable = Vec::new();
    let mut registry_maps = false;
    for image in &images.images {
        let mut rewritten = false;
        for source in &image.sources {
            let Some(path) = source.values_path.as_deref() else { continue };
            for (key_path, template) in rewrites(&image.reference, path, &source.shape, &routing) {
                image_rewrites.insert(key_path.to_string(), image.reference.familiar());
                tree.set(&key_path, Node::Template(template));
                rewritten = true;
            }
            registry_maps |= matches!(
                source.shape,
                ImageShape::RegistryRepositoryTag { .. } | ImageShape::RegistryNameTag { .. }
            );
        }
        if !rewritten {
            not_rewritable.push(image.reference.familiar());
        }
    }
    if !image_rewrites.is_empty() {
        for convention in conventions::followed_by(chart) {
            let path = convention.values_path();
            match convention.when_rewritten {
                WhenRewritten::True => tree.set(&path, Node::Scalar(Value::Bool(true))),
                // Only where a map's own `registry` is rewritten: the global replaces it.
                WhenRewritten::LocalRegistryHost if registry_maps => {
                    let original = lookup(chart_values, &path).and_then(Value::as_str).unwrap_or_default();
                    tree.set(
                        &path,
                        Node::Template(if_local_registry("{{repl LocalRegistryHost }}", original)),
                    );
                }
                WhenRewritten::LocalRegistryHost => {}
            }
        }
    }
    let pull_secret_paths = set_pull_secrets(&mut tree, chart, &images.pull_secret_paths);
    Ok(KotsValues { tree, holds_secret, image_rewrites, pull_secret_paths, not_rewritable })
}

/// `'{{repl if HasLocalRegistry }}LOCAL{{repl else }}ONLINE{{repl end }}'`, quoted because a
/// plain YAML scalar cannot start with `{`.
fn if_local_registry(local: &str, online: &str) -> String {
    format!("'{{{{repl if HasLocalRegistry }}}}{local}{{{{repl else }}}}{online}{{{{repl end }}}}'")
}

/// The values paths rewritten for an image found at `path` (in [`ValuePath`] syntax) in
/// `shape`, in the order [`rewrites`] sets them: the string itself, the map's `repository`,
/// the sibling name, or the map's `registry` and `repository`.
pub(crate) fn rewrite_targets(path: &str, shape: &ImageShape) -> Vec<ValuePath> {
    let base: Vec<Segment> = match ValuePath::parse(path) {
        Ok(parsed) => parsed.segments().to_vec(),
        Err(_) if path.is_empty() => Vec::new(),
        Err(_) => return Vec::new(),
    };
    let at = |key: &str| {
        let mut segments = base.clone();
        segments.push(Segment::Key(key.to_string()));
        ValuePath::from_segments(segments)
    };
    match shape {
        ImageShape::String if !base.is_empty() => vec![ValuePath::from_segments(base.clone())],
        ImageShape::String => Vec::new(),
        ImageShape::RepositoryTag { .. } => vec![at("repository")],
        ImageShape::SiblingNameTag { name_key, .. } => vec![at(name_key)],
        ImageShape::RegistryRepositoryTag { .. } => vec![at("registry"), at("repository")],
        ImageShape::RegistryNameTag { name_key, .. } => vec![at("registry"), at(name_key)],
        ImageShape::Annotation { .. } | ImageShape::Include | ImageShape::Rendered { .. } => Vec::new(),
    }
}

/// [`rewrite_targets`] as text, for messages.
pub(crate) fn rewrite_paths(path: &str, shape: &ImageShape) -> Vec<String> {
    rewrite_targets(path, shape).iter().map(ToString::to_string).collect()
}

/// The values to set, and their templates, for one image found at `path` in `shape`.
fn rewrites(image: &ImageRef, path: &str, shape: &ImageShape, routing: &Routing) -> Vec<(ValuePath, String)> {
    let last = image.last_component();
    let local_repository = format!("{{{{repl LocalRegistryAddress }}}}/{last}");
    let online = routing.online_repository(image);
    let templates = match shape {
        ImageShape::String => vec![if_local_registry(
            &format!("{local_repository}{}", local_suffix(image)),
            &routing.online_reference(image),
        )],
        ImageShape::RepositoryTag { .. } | ImageShape::SiblingNameTag { .. } => {
            vec![if_local_registry(&local_repository, &online)]
        }
        ImageShape::RegistryRepositoryTag { .. } | ImageShape::RegistryNameTag { .. } => {
            let (online_registry, online_path) =
                online.split_once('/').unwrap_or((image.domain(), image.path()));
            let local_path = format!(
                "{{{{repl if LocalRegistryNamespace }}}}{{{{repl LocalRegistryNamespace }}}}/{{{{repl end }}}}{last}"
            );
            vec![
                if_local_registry("{{repl LocalRegistryHost }}", online_registry),
                if_local_registry(&local_path, online_path),
            ]
        }
        ImageShape::Annotation { .. } | ImageShape::Include | ImageShape::Rendered { .. } => Vec::new(),
    };
    rewrite_targets(path, shape).into_iter().zip(templates).collect()
}

/// Points every pull-secret value the chart offers at the secret KOTS creates for the
/// customer's local registry and the proxy, keeping the secrets the chart already lists.
/// A missing secret is harmless for public images (the kubelet only logs it), so this is
/// set for online installs too.
fn set_pull_secrets(tree: &mut Node, chart: &Chart, paths: &[PullSecretPath]) -> Vec<String> {
    let mut set = Vec::new();
    for secret_path in paths {
        let Ok(path) = ValuePath::parse(&secret_path.values_path) else { continue };
        let existing = lookup(&chart.values, &path).and_then(Value::as_array).cloned().unwrap_or_default();
        let as_names = pull_secrets_are_names(chart, &path, &existing);
        let mut items: Vec<Node> = existing.iter().map(Node::from_json).collect();
        let secret = Node::Template(format!("'{PULL_SECRET_TEMPLATE}'"));
        items.push(if as_names { secret } else { Node::Map(BTreeMap::from([("name".to_string(), secret)])) });
        tree.set(&path, Node::List(items));
        set.push(secret_path.values_path.clone());
    }
    set
}

/// Whether a pull-secret list holds names (`[a]`) rather than pod-spec entries (`[{name: a}]`).
/// In order: the chart's own default entries; its `values.schema.json` (Helm refuses values
/// of the wrong type); how its templates read the list (`range` formats each name itself,
/// `toYaml`/`with` copy the entries as they are); and the key, `imagePullSecrets` being the
/// pod-spec field's own name while `pullSecrets` lists are names (Bitnami, grafana).
fn pull_secrets_are_names(chart: &Chart, path: &ValuePath, existing: &[Value]) -> bool {
    match existing.first() {
        Some(Value::String(_)) => return true,
        Some(_) => return false,
        None => {}
    }
    let keys: Vec<&str> = path
        .segments()
        .iter()
        .map(|segment| match segment {
            Segment::Key(key) => key.as_str(),
            Segment::Index(_) => "",
        })
        .collect();
    if let Some(names) = schema_says_names(chart, &keys) {
        return names;
    }
    if let Some(names) = templates_say_names(chart, &keys) {
        return names;
    }
    !path_key_is(path, "imagePullSecrets")
}

/// The chart (or subchart) that owns `keys`, and the keys relative to it.
fn owner<'a, 'k>(chart: &'a Chart, keys: &'k [&'k str]) -> (&'a Chart, &'k [&'k str]) {
    let Some((first, rest)) = keys.split_first() else { return (chart, keys) };
    let subchart = chart
        .metadata
        .dependencies
        .iter()
        .find(|spec| spec.values_key() == *first)
        .and_then(|spec| chart.dependencies.iter().find(|sub| sub.metadata.name == spec.name));
    match subchart {
        Some(subchart) if !rest.is_empty() => owner(subchart, rest),
        _ => (chart, keys),
    }
}

fn schema_says_names(chart: &Chart, keys: &[&str]) -> Option<bool> {
    let (chart, keys) = owner(chart, keys);
    let file = chart.files.iter().find(|file| file.path == "values.schema.json")?;
    let schema: Value = serde_json::from_slice(&file.data).ok()?;
    let node = keys.iter().try_fold(&schema, |node, key| node.get("properties")?.get(*key))?;
    match node.pointer("/items/type").and_then(Value::as_str)? {
        "string" => Some(true),
        "object" => Some(false),
        _ => None,
    }
}

fn templates_say_names(chart: &Chart, keys: &[&str]) -> Option<bool> {
    let (chart, keys) = owner(chart, keys);
    let reference = format!(".Values.{}", keys.join("."));
    let mut verdict = None;
    for file in chart.files.iter().filter(|file| file.path.starts_with("templates/")) {
        let text = String::from_utf8_lossy(&file.data);
        for (position, _) in text.match_indices(&reference) {
            let after = text[position + reference.len()..].chars().next();
            if after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let action_start = text[..position].rfind("{{").unwrap_or(0);
            let action = &text[action_start..position];
            if action.contains("toYaml") {
                return Some(false);
            }
            // The block the action opens (`range`, `with`), up to the first `end`.
            let block = &text[position..];
            let block = &block[..block.find("end").unwrap_or(block.len())];
            if block.contains("kindIs") {
                continue; // the chart takes both forms
            }
            if block.contains("toYaml") {
                return Some(false);
            }
            if (action.contains("range") || block.contains("range")) && formats_each_name(block) {
                verdict = Some(true);
            }
        }
    }
    verdict
}

/// `name: {{ . }}` (or `{{ . | quote }}`): the template writes each entry as a name.
fn formats_each_name(block: &str) -> bool {
    block.match_indices("name:").any(|(at, _)| {
        let rest = block[at + "name:".len()..].trim_start();
        let Some(inside) = rest.strip_prefix("{{") else { return false };
        let inside = inside.trim_start_matches('-').trim_start();
        inside.strip_prefix('.').is_some_and(|tail| tail.trim_start().starts_with(['|', '}', '-']))
    })
}

fn path_key_is(path: &ValuePath, key: &str) -> bool {
    matches!(path.segments().last(), Some(Segment::Key(last)) if last == key)
}

/// Refuses two different repositories with the same last path component.
fn check_collisions(images: &ImageSet) -> Result<(), ImageCollision> {
    match collisions(images).into_iter().next() {
        Some(collision) => Err(collision),
        None => Ok(()),
    }
}

/// Every pair of different repositories with the same last path component (each image
/// against the first one with its last component).
pub(crate) fn collisions(images: &ImageSet) -> Vec<ImageCollision> {
    let mut by_last: BTreeMap<&str, &crate::plan::discover::DiscoveredImage> = BTreeMap::new();
    let mut found = Vec::new();
    for image in &images.images {
        let last = image.reference.last_component();
        if let Some(first) = by_last.get(last) {
            if first.reference.repository() != image.reference.repository() {
                found.push(ImageCollision {
                    last_component: last.to_string(),
                    first: first.reference.familiar(),
                    first_paths: describe_sources(first),
                    second: image.reference.familiar(),
                    second_paths: describe_sources(image),
                });
            }
        } else {
            by_last.insert(last, image);
        }
    }
    found
}

fn describe_sources(image: &crate::plan::discover::DiscoveredImage) -> String {
    let places: Vec<String> = image
        .sources
        .iter()
        .map(|source| match (&source.values_path, &source.shape) {
            (Some(path), _) => format!("`{path}`"),
            (None, ImageShape::Include) => "[images] include".to_string(),
            (None, ImageShape::Annotation { key, .. }) => format!("annotation {key}"),
            (None, _) => "?".to_string(),
        })
        .collect();
    places.join(", ")
}

/// The KOTS template that gives a config item's value its YAML type.
///
/// `repl{{ ... }}` is never quoted (KOTS strips quotes around it and the result must keep its
/// type); strings go through `toJson`, so that any text the customer types (quotes, colons,
/// several lines) stays one valid YAML scalar inside the values document; where the value it
/// replaces (`underlying`: `[chart] values`, else the chart's default) is an integer,
/// `ParseInt` keeps it a number and refuses anything else, so no text can reach the document
/// unquoted.
///
/// An item left empty (no value and no item default) keeps `underlying`: Sprig's `default`
/// falls back to it, so an optional password or text item never writes `""` over the chart's
/// value. Lists and maps have no template literal; there an empty item still writes `""`.
pub(super) fn item_template(item: &ConfigItem, underlying: Option<&Value>) -> String {
    let name = item.name.get_ref();
    match item.item_type {
        ItemType::Bool => format!("repl{{{{ ConfigOptionEquals \"{name}\" \"1\" }}}}"),
        ItemType::File => format!("repl{{{{ ConfigOptionData \"{name}\" | toJson }}}}"),
        _ => match underlying {
            Some(Value::Number(number)) if number.is_i64() || number.is_u64() => {
                let fallback = template_string(&number.to_string());
                format!("repl{{{{ ConfigOption \"{name}\" | default {fallback} | ParseInt }}}}")
            }
            _ => match underlying.and_then(template_literal) {
                Some(fallback) => {
                    format!("repl{{{{ ConfigOption \"{name}\" | default {fallback} | toJson }}}}")
                }
                None => format!("repl{{{{ ConfigOption \"{name}\" | toJson }}}}"),
            },
        },
    }
}

/// `value` as a Go template literal that `toJson` turns back into the same JSON: strings,
/// booleans, floats and null (`nil`). Empty strings need no fallback; lists and maps have
/// no literal.
fn template_literal(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if text.is_empty() => None,
        Value::String(text) => Some(template_string(text)),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => number.as_f64().filter(|n| n.is_finite()).map(|_| number.to_string()),
        Value::Null => Some("nil".to_string()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// A Go template string literal for `text`. Everything but letters, digits, spaces and
/// `-_./@+=,` is written as a `\u` escape, so that the literal holds nothing that YAML (the
/// template sits unquoted in the values document), KOTS's delimiters (`{{`, `}}`) or quote
/// handling could read.
fn template_string(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('"');
    for c in text.chars() {
        match c {
            c if c.is_ascii_alphanumeric() || " -_./@+=,".contains(c) => literal.push(c),
            c => match u32::from(c) {
                code if code <= 0xffff => literal.push_str(&format!("\\u{code:04x}")),
                code => literal.push_str(&format!("\\U{code:08x}")),
            },
        }
    }
    literal.push('"');
    literal
}

/// The value at `path` in a values document, if there is one.
pub(super) fn lookup<'a>(values: &'a Value, path: &ValuePath) -> Option<&'a Value> {
    path.segments().iter().try_fold(values, |current, segment| match segment {
        Segment::Key(key) => current.get(key),
        Segment::Index(index) => current.get(*index),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use camino::Utf8Path;
    use serde_json::json;

    use super::*;
    use crate::plan::kots_template::{render, Context};

    /// The template of a `type` item without a default over `underlying`, rendered with the
    /// item left empty and set to `typed`: `(empty, typed)`.
    fn check(item_type: &str, underlying: Option<Value>, typed: &str) -> (String, String) {
        let text = format!(
            "[app]\nslug = \"a\"\ntitle = \"A\"\n[chart]\npath = \"c\"\nrelease_name = \"r\"\n\
             [[config.groups]]\nname = \"g\"\ntitle = \"G\"\n[[config.groups.items]]\nname = \"x\"\n\
             type = \"{item_type}\"\nvalue = \"a.b\"\n"
        );
        let release =
            crate::input::release::parse(Utf8Path::new("release.toml"), &text).expect("valid release");
        let template = item_template(&release.config[0].items[0], underlying.as_ref());
        let rendered = |set: BTreeMap<String, String>| {
            let ctx = Context::from_release(&release, &set).expect("context");
            render(&template, &ctx, "kots-values.yaml").unwrap_or_else(|e| panic!("{template}: {e}"))
        };
        (rendered(BTreeMap::new()), rendered(BTreeMap::from([("x".to_string(), typed.to_string())])))
    }

    /// Issue 18, item 5: an empty password or text item keeps the value it replaces.
    #[test]
    fn issue_18_5_an_empty_item_keeps_the_chart_default() {
        let cases = [
            ("password", Some(json!("Harbor12345")), "s3cret", "\"Harbor12345\"", "\"s3cret\""),
            (
                "text",
                Some(json!("a: b #c {{ x }} \"q\" 'é' \n")),
                "t",
                r#""a: b #c {{ x }} \"q\" 'é' \n""#,
                "\"t\"",
            ),
            ("text", Some(json!(2)), "5", "2", "5"),
            ("text", Some(json!(true)), "no", "true", "\"no\""),
            ("text", Some(json!(0.5)), "1", "0.5", "\"1\""),
            ("text", Some(Value::Null), "1", "null", "\"1\""),
            ("text", None, "", "\"\"", "\"\""),
            ("textarea", Some(json!("")), "two\nlines", "\"\"", "\"two\\nlines\""),
            ("text", Some(json!(["a"])), "t", "\"\"", "\"t\""),
        ];
        for (item_type, underlying, typed, empty, set) in cases {
            let (got_empty, got_set) = check(item_type, underlying.clone(), typed);
            assert_eq!(
                (got_empty.as_str(), got_set.as_str()),
                (empty, set),
                "{item_type} over {underlying:?}"
            );
        }
    }

    #[test]
    fn fallback_literals_hold_nothing_yaml_or_kots_would_read() {
        let literal = template_string("a: b #c {{repl x }} 'q' \"q\" é 😀 ok-1.2/x@y+z=w,v");
        assert_eq!(
            literal,
            r#""a\u003a b \u0023c \u007b\u007brepl x \u007d\u007d \u0027q\u0027 \u0022q\u0022 \u00e9 \U0001f600 ok-1.2/x@y+z=w,v""#
        );
    }
}
