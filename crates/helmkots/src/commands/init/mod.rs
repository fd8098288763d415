//! `cargo xtask init`: a starter `release.toml` for an existing chart.
//!
//! Stages, in order:
//! 1. load the chart ([`crate::input::chart::load`]) and discover its images
//!    ([`crate::plan::discover::discover`]);
//! 2. suggest a Config screen from the chart's values ([`suggest_items`]): one bool item per
//!    optional component (an `enabled` flag), a text item for a few obvious string settings
//!    whose default is a plain string, and a password item (no default) for every secret-like
//!    string the values hold or the templates read;
//! 3. with `helm` on PATH, render the chart once with its defaults and once per component
//!    flipped ([`impact`]): only the components that add or remove images or workloads are
//!    proposed, at most [`MAX_PROPOSED`], the ones that change the most first; every other
//!    suggestion is written as a comment, one line each, that a `#` deleted turns on. Titles
//!    and help text come from values.yaml comments (helm-docs `# --` annotations first);
//! 4. render the file from a handlebars template, every value quoted by the `toml` crate;
//! 5. validate the text with [`crate::input::release::parse`], so a starter that would not pass
//!    `check` is an error here, never a file on disk.
//!
//! [`starter`] only reads; [`write`] is the one function that writes, and it refuses to
//! replace an existing file unless asked to.
//!
//! Architecture Invariant: no network; the only Helm is `helm template` through
//! [`crate::render::helm_template`], and without it the suggestions are heuristics over the chart's
//! values and templates, documented on [`suggest_items`] (said in the file).

mod impact;

use std::collections::BTreeSet;

use camino::{Utf8Path, Utf8PathBuf};
use handlebars::{Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason};
use serde::Serialize;
use serde_json::{json, Value};

use crate::util::paths::relative_path;
use crate::{
    error::{Error, IoContext, Result},
    input::chart::{self, Chart},
    input::release::{self, defaults},
    input::value_path::{Segment, ValuePath},
    plan::discover::{self, ImageShape, ImageSource},
};

const TEMPLATE: &str = include_str!("release.toml.hbs");

/// How deep in the values the suggestions look (`a.b.c.enabled` is depth 4).
const MAX_DEPTH: usize = 4;

/// At most this many items are proposed; the rest are comments.
pub const MAX_PROPOSED: usize = 8;

/// What `init` asks for.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The chart: a directory or a `.tgz`.
    pub chart: Utf8PathBuf,
    /// The release file to write; `[chart] path` is written relative to its folder.
    pub release_file: Utf8PathBuf,
    /// The app slug; default: the chart's name, made a DNS-1123 label.
    pub slug: Option<String>,
}

/// A starter release file and what went into it (the JSON of `init --json`).
#[derive(Debug, Clone, Serialize)]
pub struct Starter {
    /// Where it goes.
    pub release_file: Utf8PathBuf,
    /// `[app] slug`.
    pub slug: String,
    /// `[app] title`.
    pub title: String,
    /// The chart, as `[chart]` names it.
    pub chart: StarterChart,
    /// Every image the chart may pull, with where it was found.
    pub images: Vec<StarterImage>,
    /// The suggested Config items, in file order.
    pub items: Vec<StarterItem>,
    /// Discovery problems, also written as comments in the file.
    pub problems: Vec<String>,
    /// The release.toml text.
    pub text: String,
}

/// The chart of a [`Starter`].
#[derive(Debug, Clone, Serialize)]
pub struct StarterChart {
    /// `[chart] path`: relative to the release file's folder when possible.
    pub path: String,
    /// The chart's name.
    pub name: String,
    /// The chart's version.
    pub version: String,
}

/// One discovered image of a [`Starter`].
#[derive(Debug, Clone, Serialize)]
pub struct StarterImage {
    /// The reference, familiar form.
    pub reference: String,
    /// Where it was found, e.g. ``values `image` (repository_tag)``.
    pub sources: Vec<String>,
}

/// One suggested Config item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StarterItem {
    /// The group it goes in.
    pub group: String,
    /// Item name, unique.
    pub name: String,
    /// Title on the Config screen.
    pub title: String,
    /// The KOTS item type: `bool`, `text` or `password`.
    #[serde(rename = "type")]
    pub item_type: &'static str,
    /// The values path it sets.
    pub value: String,
    /// The chart's default, in KOTS's form; `None` for passwords.
    pub default: Option<String>,
    /// A KOTS `when`: shown only while the component it belongs to is on.
    pub when: Option<String>,
    /// The customer must fill it in (a password whose chart default is not empty).
    pub required: bool,
    /// Help text on the Config screen.
    pub help_text: String,
    /// Written as an item; `false`: written as a comment a `#` deleted turns on.
    pub proposed: bool,
    /// What turning it on or off changes, when rendered (`adds 2 image(s), 1 workload(s)`).
    pub impact: Option<String>,
}

/// Builds the starter release file for a chart; reads the chart, writes nothing.
pub fn starter(options: &InitOptions) -> Result<Starter> {
    // A slug given by the caller is checked here, against what it was given as: the release
    // file it would end up in is never written.
    if let Some(slug) = &options.slug {
        release::dns_label(slug, 63).map_err(|reason| Error::InvalidArgument {
            what: "app slug",
            value: slug.clone(),
            reason: format!("is not a DNS-1123 label: {reason}"),
            help: release::dns_label_help(slug, 63),
        })?;
    }
    let chart = chart::load(&options.chart)?;
    let release_dir =
        options.release_file.parent().map_or_else(|| Utf8PathBuf::from("."), Utf8Path::to_path_buf);
    let release_dir = if release_dir.as_str().is_empty() { Utf8PathBuf::from(".") } else { release_dir };
    let chart_path = relative_path(&release_dir, &options.chart);
    let slug = options.slug.clone().unwrap_or_else(|| dns_label(&chart.metadata.name));
    let title = chart
        .metadata
        .name
        .split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(humanize)
        .collect::<Vec<_>>()
        .join(" ");
    let release_name: String = slug.chars().take(53).collect::<String>().trim_end_matches('-').to_string();

    let set = discover::discover(&chart, &[], &[]);
    let images: Vec<StarterImage> = set
        .images
        .iter()
        .map(|image| StarterImage {
            reference: image.reference.familiar(),
            sources: image.sources.iter().map(describe_source).collect(),
        })
        .collect();
    let mut problems: Vec<String> = set.problems.iter().map(ToString::to_string).collect();
    let mut items = suggest_items(&chart);
    describe_from_comments(&chart, &mut items);
    if let Some(problem) = propose(&options.chart, &release_name, &mut items) {
        problems.push(problem);
    }

    let data = json!({
        "title": title,
        "slug": slug,
        "icon": chart_icon(&chart),
        "release_name": release_name,
        "chart": { "path": chart_path, "name": chart.metadata.name, "version": chart.version_text() },
        "helm_cli_base": defaults::HELM_CLI_BASE,
        "job": {
            "name": defaults::JOB_NAME,
            "service_account": defaults::SERVICE_ACCOUNT,
            "backoff_limit": defaults::BACKOFF_LIMIT,
        },
        "images": images,
        "problems": problems,
        "release_notes": match &chart.metadata.app_version {
            Some(app_version) => format!("{title} {app_version}"),
            None => format!("{title} {}", chart.version_text()),
        },
        "groups": groups(&items, &title),
    });
    let mut text = render(&data)?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    // The starter must pass `check` as it is: validate it as `check` would read it.
    release::parse(&options.release_file, &text)?;
    Ok(Starter {
        release_file: options.release_file.clone(),
        slug,
        title,
        chart: StarterChart {
            path: chart_path,
            name: chart.metadata.name.clone(),
            version: chart.version_text(),
        },
        images,
        items,
        problems,
        text,
    })
}

/// Marks the items to propose: the components whose flip changes the most images and
/// workloads, at most [`MAX_PROPOSED`]; everything else stays a comment. Without Helm (or
/// when the chart does not render with its defaults) the first components in values order
/// are proposed instead, and the returned line says so.
fn propose(chart_path: &Utf8Path, release_name: &str, items: &mut [StarterItem]) -> Option<String> {
    let bools: Vec<usize> = (0..items.len()).filter(|&index| items[index].item_type == "bool").collect();
    let candidates: Vec<(Vec<Segment>, bool)> = bools
        .iter()
        .filter_map(|&index| {
            let path = ValuePath::parse(&items[index].value).ok()?;
            Some((path.segments().to_vec(), items[index].default.as_deref() == Some("1")))
        })
        .collect();
    let helm = crate::render::helm_template::HELM_PROGRAM;
    let mut base_values = Value::Object(serde_json::Map::new());
    let measured = if crate::render::helm_template::on_path(helm) {
        let mut measured = impact::measure(helm, chart_path, release_name, &base_values, &candidates);
        if matches!(measured, Err(impact::ImpactError::DefaultsRefused(_))) {
            // A chart that needs secrets to render: propose those, generated for each install.
            if let Some(required) = required_secrets(helm, chart_path, release_name, items) {
                for &index in &required {
                    let item = &mut items[index];
                    item.proposed = true;
                    item.required = false;
                    item.default = Some(GENERATED_SECRET.to_string());
                    item.impact = Some("needed to render".to_string());
                    item.help_text = format!(
                        "Sets `{}`, which the chart needs to render; KOTS generates one for each install.",
                        item.value
                    );
                    if let Ok(path) = ValuePath::parse(&item.value) {
                        impact::merge(
                            &mut base_values,
                            impact::set_at(path.segments(), Value::String(SAMPLE_SECRET.to_string())),
                        );
                    }
                }
                measured = impact::measure(helm, chart_path, release_name, &base_values, &candidates);
            }
        }
        match measured {
            Err(impact::ImpactError::DefaultsRefused(reason)) => {
                // Nothing can be checked, so nothing is proposed unchecked.
                return Some(format!(
                    "the chart does not render with its defaults ({}): nothing is proposed; set the values it \
                     requires in [chart] values, then offer the suggestions you need by deleting their `#`",
                    reason.lines().next().unwrap_or_default()
                ));
            }
            other => other.map_err(|error| error.to_string()),
        }
    } else {
        Err(format!("no `{helm}` on PATH to render the chart with"))
    };
    match measured {
        Ok(impacts) => {
            let mut ranked: Vec<(usize, impact::Impact)> = bools
                .iter()
                .zip(impacts)
                .filter_map(|(&index, impact)| Some((index, impact?)))
                .filter(|(_, impact)| impact.weight() > 0)
                .collect();
            ranked.sort_by_key(|(index, impact)| (std::cmp::Reverse(impact.weight()), *index));
            for (index, impact) in ranked.into_iter().take(MAX_PROPOSED) {
                let item = &mut items[index];
                item.proposed = true;
                item.impact =
                    Some(format!("{} image(s), {} workload(s)", impact.images.len(), impact.workloads.len()));
                item.help_text = format!(
                    "{} Changes {} image(s) and {} workload(s).",
                    item.help_text.trim_end(),
                    impact.images.len(),
                    impact.workloads.len()
                );
            }
            None
        }
        Err(reason) => {
            for &index in bools.iter().take(MAX_PROPOSED) {
                items[index].proposed = true;
            }
            Some(format!(
                "the components were not rendered ({reason}): the first {MAX_PROPOSED} are proposed unchecked; \
                 run `cargo xtask init` again with helm on PATH to propose the ones that change images"
            ))
        }
    }
}

/// The default of a secret the chart needs to render: KOTS draws one for each install.
const GENERATED_SECRET: &str = "repl{{ RandomString 24 }}";
/// What stands for a secret in the renders that decide which ones the chart needs.
const SAMPLE_SECRET: &str = "helmkots-sample-secret";

/// The password suggestions the chart needs to render, when setting them makes it render:
/// all of them set renders, and each one left out breaks it again. `None` when secrets are
/// not what stops it.
fn required_secrets(
    helm: &str,
    chart: &Utf8Path,
    release_name: &str,
    items: &[StarterItem],
) -> Option<Vec<usize>> {
    let secrets: Vec<(usize, Vec<Segment>)> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| item.item_type == "password")
        .filter_map(|(index, item)| Some((index, ValuePath::parse(&item.value).ok()?.segments().to_vec())))
        .collect();
    let values_without = |skip: Option<usize>| {
        let mut values = Value::Object(serde_json::Map::new());
        for (index, path) in &secrets {
            if Some(*index) != skip {
                impact::merge(&mut values, impact::set_at(path, Value::String(SAMPLE_SECRET.to_string())));
            }
        }
        values
    };
    if secrets.is_empty() || !impact::renders(helm, chart, release_name, &values_without(None)) {
        return None;
    }
    let required: Vec<usize> = secrets
        .iter()
        .map(|(index, _)| *index)
        .filter(|index| !impact::renders(helm, chart, release_name, &values_without(Some(*index))))
        .collect();
    (!required.is_empty()).then_some(required)
}

/// Titles and help text from the values.yaml comments above each item's key (a component's
/// `enabled` flag falls back to its component's comment).
fn describe_from_comments(chart: &Chart, items: &mut [StarterItem]) {
    let Some(file) = chart.files.iter().find(|file| file.path == "values.yaml") else { return };
    let comments = impact::values_comments(&String::from_utf8_lossy(&file.data));
    for item in items {
        let component = item.value.strip_suffix(".enabled").unwrap_or(&item.value);
        if let Some(comment) = comments.get(&item.value).or_else(|| comments.get(component)) {
            let comment: String = comment.chars().take(300).collect();
            item.help_text = format!("{comment} (`{}`)", item.value);
        }
    }
}

/// Writes the starter; an existing file is replaced only with `force`.
/// Writes the starter release file. With `force`, a file already there is kept beside it
/// as `<file>.bak` (returned), so nothing is lost.
pub fn write(starter: &Starter, force: bool) -> Result<Option<Utf8PathBuf>> {
    let path = &starter.release_file;
    let mut kept = None;
    if path.exists() {
        if !force {
            return Err(Error::File {
                path: path.clone(),
                reason: "already exists; init does not overwrite it".to_string(),
                help: Some("pass --force to replace it (the old file is kept as .bak), or -f PATH to write another file".to_string()),
            });
        }
        let backup = Utf8PathBuf::from(format!("{path}.bak"));
        std::fs::rename(path, &backup).io_context("rename", path)?;
        kept = Some(backup);
    }
    crate::output::tree::write_file_atomically(path, starter.text.as_bytes())?;
    Ok(kept)
}

/// The Config items suggested for a chart, from its own values (subcharts are reached through
/// the root chart's values, e.g. a `condition: cache.enabled`), sorted by values path within
/// each kind:
///
/// - **bool** for every boolean `enabled` key up to [`MAX_DEPTH`] deep, outside `global`
///   (`persistence.enabled`, `sidecar.dashboards.enabled`), default the chart's;
/// - **text** for a string whose key is an obvious setting (`adminUser`, `host`, `domain`,
///   `storageClass`, a persistence `size`, `logLevel`, ...) and whose default is a plain,
///   non-empty, one-line string, or a one-string list such as `ingress.hosts` (as `[0]`, which
///   Helm's list replacement keeps exact); never maps or longer lists;
/// - **password**, with no default, for every string whose key names a secret (`password`,
///   `token`, `apiKey`, `secretKey`, `clientSecret`, ...; not references such as
///   `existingSecret`, `passwordKey` or `secretName`), and for top-level ones the templates
///   read but the values leave out (grafana's `adminPassword`); required when the chart's own
///   default is not empty, so that an empty field never replaces it.
///
/// A text or password item under a component gets a `when` that shows it only while the
/// component is on.
pub fn suggest_items(chart: &Chart) -> Vec<StarterItem> {
    let mut found = Found::default();
    walk(&chart.values, &mut Vec::new(), &mut found);
    for key in template_value_keys(chart) {
        if is_secret_key(&key) && chart.values.get(&key).is_none() {
            found.passwords.push((vec![Segment::Key(key)], None));
        }
    }

    let mut names = BTreeSet::new();
    let mut items = Vec::new();
    let mut components: Vec<(Vec<Segment>, String)> = Vec::new();
    for (path, enabled) in &found.bools {
        let component = &path[..path.len() - 1];
        let name = unique_name(&mut names, &format!("enable_{}", snake_name(component)));
        let value = ValuePath::from_segments(path.clone()).to_string();
        items.push(StarterItem {
            group: "components".to_string(),
            name: name.clone(),
            title: humanize(&words(component)),
            item_type: "bool",
            value: value.clone(),
            default: Some(if *enabled { "1" } else { "0" }.to_string()),
            when: None,
            required: false,
            help_text: format!(
                "Sets `{value}` in the chart's values (chart default: {}).",
                if *enabled { "on" } else { "off" }
            ),
            proposed: false,
            impact: None,
        });
        components.push((component.to_vec(), name));
    }
    let when_for = |path: &[Segment]| {
        components
            .iter()
            .filter(|(component, _)| path.len() > component.len() && path.starts_with(component))
            .max_by_key(|(component, _)| component.len())
            .map(|(_, name)| format!("repl{{{{ ConfigOptionEquals \"{name}\" \"1\" }}}}"))
    };
    for (path, default) in &found.texts {
        let value = ValuePath::from_segments(path.clone()).to_string();
        items.push(StarterItem {
            group: "settings".to_string(),
            name: unique_name(&mut names, &snake_name(path)),
            title: humanize(&words(path)),
            item_type: "text",
            value: value.clone(),
            default: Some(default.clone()),
            when: when_for(path),
            required: false,
            help_text: format!("Sets `{value}` in the chart's values."),
            proposed: false,
            impact: None,
        });
    }
    for (path, chart_default) in &found.passwords {
        let value = ValuePath::from_segments(path.clone()).to_string();
        let required = chart_default.as_deref().is_some_and(|d| !d.is_empty());
        items.push(StarterItem {
            group: "settings".to_string(),
            name: unique_name(&mut names, &snake_name(path)),
            title: humanize(&words(path)),
            item_type: "password",
            value: value.clone(),
            default: None,
            when: when_for(path),
            required,
            help_text: if required {
                format!(
                    "Sets `{value}` in the chart's values. Required: the chart's own default is not shipped."
                )
            } else {
                format!("Sets `{value}` in the chart's values; leave it empty to keep the chart's behaviour.")
            },
            proposed: false,
            impact: None,
        });
    }
    items
}

#[derive(Default)]
struct Found {
    bools: Vec<(Vec<Segment>, bool)>,
    texts: Vec<(Vec<Segment>, String)>,
    passwords: Vec<(Vec<Segment>, Option<String>)>,
}

fn walk(value: &Value, path: &mut Vec<Segment>, found: &mut Found) {
    let Value::Object(map) = value else { return };
    for (key, child) in map {
        if path.is_empty() && key == "global" {
            continue;
        }
        path.push(Segment::Key(key.clone()));
        match child {
            Value::Bool(enabled) if key == "enabled" && path.len() > 1 => {
                found.bools.push((path.clone(), *enabled))
            }
            Value::String(text) if is_secret_key(key) => {
                found.passwords.push((path.clone(), Some(text.clone())))
            }
            Value::String(text) if is_obvious_setting(path) && is_plain(text) => {
                found.texts.push((path.clone(), text.clone()));
            }
            Value::Array(list) if is_obvious_setting(path) => {
                if let [Value::String(text)] = list.as_slice() {
                    if is_plain(text) {
                        path.push(Segment::Index(0));
                        found.texts.push((path.clone(), text.clone()));
                        path.pop();
                    }
                }
            }
            Value::Object(_) if path.len() < MAX_DEPTH => walk(child, path, found),
            _ => {}
        }
        path.pop();
    }
}

/// A key in lower case without `_` and `-`.
fn squash(key: &str) -> String {
    key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

/// Whether a key names a secret value (not a reference to a Secret or to a key in one).
fn is_secret_key(key: &str) -> bool {
    let key = squash(key);
    let reference = key.starts_with("existing")
        || ["name", "ref", "file", "path", "url", "secret", "secrets", "policy"]
            .iter()
            .any(|suffix| key.ends_with(suffix) && key != "secret" && !key.ends_with("clientsecret"))
        || ((key.contains("password") || key.contains("token")) && key.ends_with("key"));
    let secret =
        ["password", "passwd", "token", "apikey", "accesskey", "secretkey", "privatekey", "clientsecret"]
            .iter()
            .any(|word| key.contains(word))
            || key == "secret";
    secret && !reference
}

/// Whether a values path is an obvious setting to offer as text.
fn is_obvious_setting(path: &[Segment]) -> bool {
    let Some(Segment::Key(key)) = path.last() else { return false };
    let key = squash(key);
    let in_persistence =
        path.iter().any(|s| matches!(s, Segment::Key(k) if squash(k).contains("persistence")));
    matches!(
        key.as_str(),
        "adminuser"
            | "adminusername"
            | "adminemail"
            | "username"
            | "email"
            | "domain"
            | "hostname"
            | "host"
            | "hosts"
            | "externalurl"
            | "baseurl"
            | "rooturl"
            | "publicurl"
            | "storageclass"
            | "storageclassname"
            | "loglevel"
            | "timezone"
    ) || (key == "size" && in_persistence)
}

/// A default that is safe to offer as text: one line, no template, not empty.
fn is_plain(text: &str) -> bool {
    !text.is_empty() && !text.chars().any(char::is_control) && !text.contains("{{")
}

/// The keys `.Values.<key>` the root chart's templates read.
fn template_value_keys(chart: &Chart) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for file in chart.files.iter().filter(|f| f.path.starts_with("templates/")) {
        let Ok(text) = std::str::from_utf8(&file.data) else { continue };
        for (start, _) in text.match_indices(".Values.") {
            let rest = &text[start + ".Values.".len()..];
            let key: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !key.is_empty() {
                keys.insert(key);
            }
        }
    }
    keys
}

fn unique_name(names: &mut BTreeSet<String>, wanted: &str) -> String {
    let mut name = wanted.to_string();
    let mut counter = 2;
    while !names.insert(name.clone()) {
        name = format!("{wanted}_{counter}");
        counter += 1;
    }
    name
}

/// `sidecar.dashboards` → `sidecar_dashboards`, `imageRenderer` → `image_renderer`.
fn snake_name(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        let Segment::Key(key) = segment else { continue };
        let mut previous_lower = false;
        for c in key.chars() {
            if c.is_ascii_uppercase() && previous_lower {
                out.push('_');
            }
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with('_') {
                out.push('_');
            }
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
        if !out.ends_with('_') {
            out.push('_');
        }
    }
    let name = out.trim_matches('_').to_string();
    if name.is_empty() {
        "item".to_string()
    } else {
        name
    }
}

/// `sidecar.dashboards` → `sidecar dashboards`, `imageRenderer` → `image renderer`.
fn words(path: &[Segment]) -> String {
    snake_name(path).replace('_', " ")
}

/// The first letter upper case.
fn humanize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A chart name as a DNS-1123 label: lower case, other characters as `-`, at most 63.
fn dns_label(name: &str) -> String {
    let label: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let label: String = label.trim_matches('-').chars().take(63).collect();
    let label = label.trim_end_matches('-').to_string();
    if label.is_empty() {
        "app".to_string()
    } else {
        label
    }
}

fn describe_source(source: &ImageSource) -> String {
    let shape = match &source.shape {
        ImageShape::String => "string",
        ImageShape::RepositoryTag { .. } => "repository_tag",
        ImageShape::RegistryRepositoryTag { .. } => "registry_repository_tag",
        ImageShape::RegistryNameTag { .. } => "registry_name_tag",
        ImageShape::SiblingNameTag { .. } => "sibling_name_tag",
        ImageShape::Annotation { .. } => "annotation",
        ImageShape::Include => "include",
        ImageShape::Rendered { .. } => "rendered",
    };
    let fallback = if source.tag_from_app_version { ", tag from appVersion" } else { "" };
    match (&source.chart, &source.values_path) {
        (Some(chart), Some(path)) if path.is_empty() => {
            format!("values (top level) of chart {chart} ({shape}{fallback})")
        }
        (Some(chart), Some(path)) => format!("values `{path}` of chart {chart} ({shape}{fallback})"),
        (Some(_), None) if matches!(source.shape, ImageShape::Rendered { .. }) => {
            let ImageShape::Rendered { place } = &source.shape else { unreachable!() };
            format!("hard-coded in {place}")
        }
        (Some(chart), None) => format!("Chart.yaml annotation of chart {chart} ({shape})"),
        (None, _) => "[images] include".to_string(),
    }
}

/// `icon:` of Chart.yaml, when it is an http(s) URL.
fn chart_icon(chart: &Chart) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Icon {
        icon: Option<String>,
    }
    let icon = serde_saphyr::from_str::<Icon>(&chart.metadata_file.text).ok()?.icon?;
    (icon.starts_with("https://") || icon.starts_with("http://")).then_some(icon)
}

fn groups(items: &[StarterItem], title: &str) -> Vec<Value> {
    let group = |name: &str, group_title: &str, description: String| {
        let members: Vec<Value> = items
            .iter()
            .filter(|item| item.group == name)
            .map(|item| json!({ "line": item_line(item), "proposed": item.proposed }))
            .collect();
        (!members.is_empty()).then(
            || json!({ "name": name, "title": group_title, "description": description, "items": members }),
        )
    };
    [
        group("components", "Optional components", format!("Parts of {title} to turn on or off.")),
        group("settings", "Settings", format!("Settings of {title}.")),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// One item as a one-line TOML inline table, so that a commented item is turned on by
/// deleting one `#`.
fn item_line(item: &StarterItem) -> String {
    let quote = |text: &str| toml::Value::String(text.to_string()).to_string();
    let mut fields = vec![
        format!("name = {}", quote(&item.name)),
        format!("title = {}", quote(&item.title)),
        format!("type = {}", quote(item.item_type)),
    ];
    if let Some(default) = &item.default {
        fields.push(format!("default = {}", quote(default)));
    }
    if let Some(when) = &item.when {
        fields.push(format!("when = {}", quote(when)));
    }
    if item.required {
        fields.push("required = true".to_string());
    }
    fields.push(format!("value = {}", quote(&item.value)));
    fields.push(format!("help_text = {}", quote(&item.help_text)));
    format!("{{ {} }}", fields.join(", "))
}

fn render(data: &Value) -> Result<String> {
    let mut handlebars = Handlebars::new();
    handlebars.set_strict_mode(true);
    // Output is TOML: values are quoted by the `toml` helper, comments by `comment`.
    handlebars.register_escape_fn(handlebars::no_escape);
    handlebars.register_helper("toml", Box::new(toml_helper));
    handlebars.register_helper("comment", Box::new(comment_helper));
    handlebars
        .register_template_string("release.toml", TEMPLATE)
        .map_err(|error| Error::internal("the release.toml template does not compile", error))?;
    handlebars
        .render("release.toml", data)
        .map_err(|error| Error::internal("cannot render release.toml", error))
}

/// A TOML value, quoted and escaped by the `toml` crate.
fn toml_helper(
    helper: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &handlebars::Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let value = helper.param(0).ok_or(RenderErrorReason::ParamNotFoundForIndex("toml", 0))?.value();
    let text = match value {
        Value::String(text) => toml::Value::String(text.clone()).to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::Null => "\"\"".to_string(),
        other => return Err(RenderErrorReason::Other(format!("`toml` cannot quote {other}")).into()),
    };
    out.write(&text)?;
    Ok(())
}

/// Text for a `#` comment: one line, control characters as spaces.
fn comment_helper(
    helper: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &handlebars::Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let value = helper.param(0).ok_or(RenderErrorReason::ParamNotFoundForIndex("comment", 0))?.value();
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    out.write(&text)?;
    Ok(())
}

#[cfg(test)]
mod tests;
