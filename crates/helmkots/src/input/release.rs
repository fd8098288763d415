//! The release model: `release.toml` → a typed, validated [`Release`].
//!
//! Parsing is serde + toml with spans kept ([`toml::Spanned`]) for every value a later stage
//! may need to point at. Validation collects every problem into one [`FileProblems`] so a
//! user fixes them all in one go. Unknown keys are errors that suggest the nearest known key;
//! every one of them is reported, not only the first serde meets.
//!
//! Architecture Invariant: this module reads only the release file itself; whether the chart
//! exists is checked by [`crate::commands`], which owns all other I/O.

use std::{collections::BTreeSet, fmt, ops::Range};

use camino::{Utf8Path, Utf8PathBuf};
use serde::Deserialize;
use toml::Spanned;

use crate::input::{image_ref::ImageRef, platform::Platform};
use crate::{
    diagnostic::{nearest, FileProblems, Problem, ProblemSink, SourceFile},
    error::{IoContext, Result},
    input::value_path::ValuePath,
};

/// A validated `release.toml`.
#[derive(Debug, Clone)]
pub struct Release {
    /// The release file, for diagnostics that point into it.
    pub file: SourceFile,
    /// The folder holding the release file; relative paths in it resolve from here.
    pub root: Utf8PathBuf,
    /// `[app]`: the KOTS Application.
    pub app: App,
    /// `[chart]`: the Helm chart and how it is installed.
    pub chart: ChartSpec,
    /// `[helm_cli]`: the image the Job runs.
    pub helm_cli: HelmCli,
    /// `[job]`: the Job that runs `helm upgrade --install`.
    pub job: Job,
    /// `[images]`: discovery and registry settings.
    pub images: Images,
    /// `[[config.groups]]`: the KOTS Config screen.
    pub config: Vec<ConfigGroup>,
    /// `[airgap]`: what the airgap bundle's `airgap.yaml` says.
    pub airgap: Airgap,
    /// `[proof]`: how the airgap proof chooses configurations.
    pub proof: ProofSettings,
}

/// `[proof]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofSettings {
    /// Every combination of this many items' values is proved (a t-way covering array).
    pub strength: usize,
}

/// `[app]`.
#[derive(Debug, Clone)]
pub struct App {
    /// The KOTS app slug, a DNS-1123 label.
    pub slug: Spanned<String>,
    /// The title shown in the KOTS admin console.
    pub title: String,
    /// Icon URL.
    pub icon: Option<String>,
    /// The release version; the chart's version when absent.
    pub version: Option<Spanned<String>>,
    /// KOTS status informers, e.g. `deployment/web`.
    pub status_informers: Vec<String>,
}

/// `[chart]`.
#[derive(Debug, Clone)]
pub struct ChartSpec {
    /// Chart directory or `.tgz`, as written (relative to [`Release::root`]).
    pub path: Spanned<String>,
    /// The Helm release name (DNS-1123 label, at most 53 characters).
    pub release_name: Spanned<String>,
    /// Target namespace; empty means the namespace KOTS deploys into.
    pub namespace: String,
    /// Static values merged under the generated ones.
    pub values: serde_json::Value,
    /// Extra `helm upgrade --install` flags.
    pub helm_args: Vec<String>,
    /// The Kubernetes versions the release supports (`major.minor.patch`, no `v`): the chart
    /// is rendered for each (`helm template --kube-version`) by discovery and the proof.
    pub kube_versions: Vec<String>,
}

impl Release {
    /// The chart path resolved against the release file's folder.
    pub fn chart_path(&self) -> Utf8PathBuf {
        self.root.join(self.chart.path.get_ref())
    }
}

/// `[helm_cli]`.
#[derive(Debug, Clone)]
pub struct HelmCli {
    /// Base image: any image with `/bin/sh` and `helm` on PATH (parsed once, here).
    pub base: Spanned<ImageRef>,
    /// Name of the built image (registry/repository), needed to push it.
    pub name: Option<Spanned<String>>,
    /// Where the chart is placed in the image.
    pub workdir: String,
    /// Platform picked from a multi-platform base, e.g. `linux/amd64`.
    pub platform: Platform,
}

/// `[job]`.
#[derive(Debug, Clone)]
pub struct Job {
    /// The Job's name.
    pub name: String,
    /// The service account helm runs as.
    pub service_account: String,
    /// `backoffLimit`.
    pub backoff_limit: u32,
}

/// `[images]`.
#[derive(Debug, Clone)]
pub struct Images {
    /// How images are discovered.
    pub discover: Discover,
    /// Extra images the chart may pull that discovery cannot see.
    pub include: Vec<Spanned<String>>,
    /// Glob patterns of images to drop.
    pub exclude: Vec<String>,
    /// Online prefix for private images, e.g. `proxy.replicated.com/proxy/<slug>`.
    pub proxy: String,
    /// Registries (globs) whose images go through `proxy` online.
    pub private: Vec<String>,
    /// Platforms kept from multi-platform images in the airgap bundle.
    pub platforms: Vec<Platform>,
    /// Bundle and rewrite the images that only `helm test` pods pull.
    pub ship_test_images: bool,
    /// Registries (`host` or `host:port`) reached over plain HTTP, besides loopback ones.
    pub insecure: Vec<String>,
}

/// `[images] discover`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discover {
    /// Walk the chart's values.
    Values,
    /// Render the chart with `helm template` and read pod specs.
    Rendered,
    /// Both (the default; values only, with a warning, when no Helm is on PATH).
    Both,
}

/// One `[[config.groups]]`.
#[derive(Debug, Clone)]
pub struct ConfigGroup {
    /// Group name, unique.
    pub name: Spanned<String>,
    /// Title shown on the Config screen.
    pub title: String,
    /// Description shown under the title.
    pub description: Option<String>,
    /// KOTS `when` expression, passed through.
    pub when: Option<String>,
    /// The group's items.
    pub items: Vec<ConfigItem>,
}

/// One `[[config.groups.items]]`.
#[derive(Debug, Clone)]
pub struct ConfigItem {
    /// Item name, unique across all groups.
    pub name: Spanned<String>,
    /// Title shown on the Config screen.
    pub title: String,
    /// The KOTS item type.
    pub item_type: ItemType,
    /// Help text.
    pub help_text: Option<String>,
    /// The default, normalized to KOTS's string form (`"1"`/`"0"` for bool).
    pub default: Option<String>,
    /// KOTS `when` expression, passed through.
    pub when: Option<String>,
    /// The chart values path this item sets.
    pub value: Option<ValuePath>,
    /// Where `value` is written in release.toml (`None` for items not read from one).
    pub value_span: Option<std::ops::Range<usize>>,
    /// True for password items and items marked `secret = true`: never in a ConfigMap.
    pub secret: bool,
    /// KOTS `required`.
    pub required: bool,
    /// KOTS `hidden`.
    pub hidden: bool,
    /// KOTS `readonly`.
    pub readonly: bool,
    /// Choices of a select_one/radio/dropdown item.
    pub choices: Vec<Choice>,
}

/// One choice of a select item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The value stored when chosen.
    pub name: String,
    /// The label shown.
    pub title: String,
}

/// KOTS config item types (kots `pkg/kotsadmconfig/types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemType {
    /// One line of text.
    Text,
    /// Several lines of text.
    Textarea,
    /// A secret string.
    Password,
    /// A checkbox: `"1"` or `"0"`.
    Bool,
    /// One of `choices`, as a list.
    SelectOne,
    /// One of `choices`, as radio buttons.
    Radio,
    /// One of `choices`, as a drop-down.
    Dropdown,
    /// An uploaded file (base64).
    File,
    /// Read-only text.
    Label,
    /// A heading.
    Heading,
}

impl ItemType {
    /// Every type, with its release.toml spelling.
    pub const ALL: [(&'static str, ItemType); 10] = [
        ("text", ItemType::Text),
        ("textarea", ItemType::Textarea),
        ("password", ItemType::Password),
        ("bool", ItemType::Bool),
        ("select_one", ItemType::SelectOne),
        ("radio", ItemType::Radio),
        ("dropdown", ItemType::Dropdown),
        ("file", ItemType::File),
        ("label", ItemType::Label),
        ("heading", ItemType::Heading),
    ];

    /// The KOTS spelling.
    pub fn as_str(self) -> &'static str {
        ItemType::ALL.iter().find(|(_, t)| *t == self).map_or("text", |(name, _)| name)
    }

    /// Whether the item offers a choice among `choices`.
    pub fn has_choices(self) -> bool {
        matches!(self, ItemType::SelectOne | ItemType::Radio | ItemType::Dropdown)
    }

    /// Whether the item holds a value a user sets (label and heading do not).
    pub fn holds_value(self) -> bool {
        !matches!(self, ItemType::Label | ItemType::Heading)
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[airgap]`: fields of the bundle's `airgap.yaml`.
#[derive(Debug, Clone, Default)]
pub struct Airgap {
    /// The channel ID a customer's license must list.
    pub channel_id: String,
    /// The channel name.
    pub channel_name: String,
    /// KOTS orders versions by this increasing number.
    pub update_cursor: Option<u64>,
    /// Release notes shown in the admin console.
    pub release_notes: String,
}

// ---------------------------------------------------------------------------------------
// The raw layer: exactly what serde reads, spans kept, unknown keys refused.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    app: RawApp,
    chart: RawChart,
    helm_cli: Option<RawHelmCli>,
    job: Option<RawJob>,
    images: Option<RawImages>,
    config: Option<RawConfig>,
    airgap: Option<RawAirgap>,
    proof: Option<RawProof>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProof {
    strength: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    slug: Spanned<String>,
    title: String,
    icon: Option<String>,
    version: Option<Spanned<String>>,
    status_informers: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChart {
    path: Spanned<String>,
    release_name: Spanned<String>,
    namespace: Option<Spanned<String>>,
    values: Option<toml::Table>,
    helm_args: Option<Vec<String>>,
    kube_versions: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHelmCli {
    base: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    workdir: Option<Spanned<String>>,
    platform: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: Option<Spanned<String>>,
    service_account: Option<String>,
    backoff_limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImages {
    discover: Option<Spanned<String>>,
    include: Option<Vec<Spanned<String>>>,
    exclude: Option<Vec<String>>,
    proxy: Option<Spanned<String>>,
    private: Option<Vec<String>>,
    platforms: Option<Vec<Spanned<String>>>,
    ship_test_images: Option<bool>,
    insecure: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    groups: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: Spanned<String>,
    title: String,
    description: Option<String>,
    when: Option<String>,
    #[serde(default)]
    items: Vec<RawItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    name: Spanned<String>,
    title: Option<String>,
    #[serde(rename = "type")]
    item_type: Spanned<String>,
    help_text: Option<String>,
    default: Option<Spanned<toml::Value>>,
    when: Option<String>,
    value: Option<Spanned<String>>,
    secret: Option<bool>,
    required: Option<bool>,
    hidden: Option<bool>,
    readonly: Option<bool>,
    choices: Option<Vec<RawChoice>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChoice {
    name: Spanned<String>,
    title: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAirgap {
    channel_id: Option<String>,
    channel_name: Option<String>,
    update_cursor: Option<u64>,
    release_notes: Option<String>,
}

// ---------------------------------------------------------------------------------------

/// Defaults applied when release.toml leaves a setting out; one place for all of them.
pub mod defaults {
    /// `[helm_cli] base`.
    pub const HELM_CLI_BASE: &str = "docker.io/alpine/helm:3.16.2";
    /// `[helm_cli] workdir`.
    pub const HELM_CLI_WORKDIR: &str = "/apps";
    /// `[helm_cli] platform` and `[images] platforms`.
    pub const PLATFORM: &str = "linux/amd64";
    /// `[job] name`.
    pub const JOB_NAME: &str = "kots-helm-cli";
    /// `[job] service_account`.
    pub const SERVICE_ACCOUNT: &str = "kotsadm";
    /// `[job] backoff_limit`.
    pub const BACKOFF_LIMIT: u32 = 3;
    /// `[chart] kube_versions`: the Kubernetes version Helm 4 renders for by default.
    pub const KUBE_VERSIONS: &[&str] = &["1.36.0"];
    /// `[airgap] update_cursor` (`release` warns when it is not set).
    pub const UPDATE_CURSOR: u64 = 0;
    /// `[proof] strength`.
    pub const PROOF_STRENGTH: usize = 3;
    /// The largest `[proof] strength` accepted (beyond it, arrays near exhaustive anyway).
    pub const PROOF_STRENGTH_MAX: usize = 6;
}

/// Reads and validates a release file.
pub fn load(path: &Utf8Path) -> Result<Release> {
    let text = std::fs::read_to_string(path).io_context("read", path)?;
    Ok(parse(path, &text)?)
}

/// Parses and validates release.toml text; `path` is used for diagnostics and to resolve
/// relative paths.
pub fn parse(path: &Utf8Path, text: &str) -> Result<Release, FileProblems> {
    let file = SourceFile::new(path, text);
    let mut sink = ProblemSink::new(file.clone());
    let mut document = match toml::de::DeTable::parse(text) {
        Ok(document) => document,
        Err(error) => {
            sink.push(toml_problem(&error, text));
            return Err(sink.finish(()).unwrap_err());
        }
    };
    // Every unknown key is reported here, then dropped, so that serde (whose
    // `deny_unknown_fields` stops at the first) types the rest and its checks run too.
    let slug = document
        .get_ref()
        .get("app")
        .and_then(|app| app.get_ref().as_table())
        .and_then(|app| app.get("slug"))
        .and_then(|slug| slug.get_ref().as_str())
        .unwrap_or("<slug>")
        .to_string();
    drop_unknown_keys(document.get_mut(), RawTable::Root, &slug, &mut sink);
    let raw = match RawRelease::deserialize(toml::de::Deserializer::from(document)) {
        Ok(raw) => raw,
        Err(error) => {
            sink.push(toml_problem(&error, text));
            return Err(sink.finish(()).unwrap_err());
        }
    };
    let root = path.parent().map_or_else(
        || Utf8PathBuf::from("."),
        |p| {
            if p.as_str().is_empty() {
                Utf8PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        },
    );
    let release = resolve(raw, file, root, &mut sink);
    sink.finish(release)
}

/// The tables of release.toml whose keys are checked: one per `Raw*` struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawTable {
    Root,
    App,
    Chart,
    HelmCli,
    Job,
    Images,
    Config,
    Group,
    Item,
    Choice,
    Airgap,
    Proof,
}

impl RawTable {
    #[cfg(test)]
    const ALL: [RawTable; 12] = [
        RawTable::Root,
        RawTable::App,
        RawTable::Chart,
        RawTable::HelmCli,
        RawTable::Job,
        RawTable::Images,
        RawTable::Config,
        RawTable::Group,
        RawTable::Item,
        RawTable::Choice,
        RawTable::Airgap,
        RawTable::Proof,
    ];

    /// The keys the table's `Raw*` struct accepts, read from its derived `Deserialize`, so
    /// that this walk and serde can never disagree.
    fn keys(self) -> &'static [&'static str] {
        match self {
            RawTable::Root => struct_fields::<RawRelease>(),
            RawTable::App => struct_fields::<RawApp>(),
            RawTable::Chart => struct_fields::<RawChart>(),
            RawTable::HelmCli => struct_fields::<RawHelmCli>(),
            RawTable::Job => struct_fields::<RawJob>(),
            RawTable::Images => struct_fields::<RawImages>(),
            RawTable::Config => struct_fields::<RawConfig>(),
            RawTable::Group => struct_fields::<RawGroup>(),
            RawTable::Item => struct_fields::<RawItem>(),
            RawTable::Choice => struct_fields::<RawChoice>(),
            RawTable::Airgap => struct_fields::<RawAirgap>(),
            RawTable::Proof => struct_fields::<RawProof>(),
        }
    }

    /// The table (or the array of tables) below `key` whose keys are checked too;
    /// `[chart] values` takes any key.
    fn child(self, key: &str) -> Option<RawTable> {
        Some(match (self, key) {
            (RawTable::Root, "app") => RawTable::App,
            (RawTable::Root, "chart") => RawTable::Chart,
            (RawTable::Root, "helm_cli") => RawTable::HelmCli,
            (RawTable::Root, "job") => RawTable::Job,
            (RawTable::Root, "images") => RawTable::Images,
            (RawTable::Root, "config") => RawTable::Config,
            (RawTable::Root, "airgap") => RawTable::Airgap,
            (RawTable::Root, "proof") => RawTable::Proof,
            (RawTable::Config, "groups") => RawTable::Group,
            (RawTable::Group, "items") => RawTable::Item,
            (RawTable::Item, "choices") => RawTable::Choice,
            _ => return None,
        })
    }

    /// The table as a reader of release.toml knows it, for help texts.
    fn header(self) -> &'static str {
        match self {
            RawTable::Root => "at the top level",
            RawTable::App => "in [app]",
            RawTable::Chart => "in [chart]",
            RawTable::HelmCli => "in [helm_cli]",
            RawTable::Job => "in [job]",
            RawTable::Images => "in [images]",
            RawTable::Config => "in [config]",
            RawTable::Group => "in [[config.groups]]",
            RawTable::Item => "in [[config.groups.items]]",
            RawTable::Choice => "in an item's choices",
            RawTable::Airgap => "in [airgap]",
            RawTable::Proof => "in [proof]",
        }
    }
}

/// Reports every key of `table` (and of the tables below it) that its `Raw*` struct does not
/// accept, with the nearest known key, and removes it.
fn drop_unknown_keys(table: &mut toml::de::DeTable<'_>, kind: RawTable, slug: &str, sink: &mut ProblemSink) {
    let known = kind.keys();
    let mut unknown = BTreeSet::new();
    for (key, value) in table.iter_mut() {
        let name: &str = key.get_ref();
        if !known.contains(&name) {
            sink.push(unknown_key_problem(key.span(), name, kind, slug));
            unknown.insert(name.to_string());
            continue;
        }
        let Some(child) = kind.child(name) else { continue };
        match value.get_mut() {
            toml::de::DeValue::Table(table) => drop_unknown_keys(table, child, slug, sink),
            toml::de::DeValue::Array(array) => {
                for element in array.iter_mut() {
                    if let toml::de::DeValue::Table(table) = element.get_mut() {
                        drop_unknown_keys(table, child, slug, sink);
                    }
                }
            }
            // Other types are serde's to report ("invalid type").
            _ => {}
        }
    }
    for name in &unknown {
        table.remove(name.as_str());
    }
}

fn unknown_key_problem(span: Range<usize>, name: &str, kind: RawTable, slug: &str) -> Problem {
    let known = kind.keys();
    let problem = Problem::at(span, format!("unknown key `{name}`"));
    if (kind, name) == (RawTable::Images, "pull_secret") {
        return problem.with_help(format!(
            "`[images] pull_secret` was removed: KOTS itself names the pull secret `{slug}-registry` \
             (ImagePullSecretName), for its local registry and for the proxy, and helmkots gives that name \
             to every pull-secret value of the chart; delete this line"
        ));
    }
    match nearest(name, known.iter().copied()) {
        Some(best) => problem.with_help(format!("did you mean `{best}`?")),
        None => problem.with_help(format!("known keys {}: {}", kind.header(), known.join(", "))),
    }
}

/// The field names (renames applied) that serde's derive passes to `deserialize_struct`.
fn struct_fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    /// A deserializer that only records the fields a struct asks for, then stops.
    struct FieldNames<'a>(&'a mut &'static [&'static str]);

    impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(serde::de::Error::custom("fields recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

/// Turns a toml/serde error into a located problem; unknown keys get a "did you mean", and
/// values of the wrong type how to write the right one.
fn toml_problem(error: &toml::de::Error, text: &str) -> Problem {
    let span = error.span().unwrap_or(0..0);
    let message = error.message().trim().to_string();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let unknown = rest.split('`').next().unwrap_or_default().to_string();
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        let problem = Problem::at(span, format!("unknown key `{unknown}`"));
        return match nearest(&unknown, expected.iter().copied()) {
            Some(best) => problem.with_help(format!("did you mean `{best}`?")),
            None if expected.is_empty() => problem,
            None => problem.with_help(format!("known keys here: {}", expected.join(", "))),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return Problem::at(span, format!("missing key `{field}`")).with_help(format!(
            "add `{field} = ...` to this table (see the release.toml reference in README.md)"
        ));
    }
    let mut problem = Problem::at(span.clone(), message.replace('\n', " "));
    if message.starts_with("invalid type") {
        // The key is what precedes the value on its line: `key = <value>`.
        let line_start = text[..span.start.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
        let key = text[line_start..span.start.min(text.len())].trim().trim_end_matches('=').trim();
        problem = problem.with_help(type_help(&message, key));
    }
    problem
}

/// How to write a value of the type serde expected, from its message (`invalid type: string
/// "7b", expected u64`), for the key `key` (empty when the value is not on a `key =` line).
fn type_help(message: &str, key: &str) -> String {
    let expected = message.rsplit("expected ").next().unwrap_or_default();
    let key = if key.is_empty() { "the key" } else { key };
    let found_digits: String = message
        .split('"')
        .nth(1)
        .map(|found| found.chars().filter(char::is_ascii_digit).collect())
        .unwrap_or_default();
    let example = if found_digits.is_empty() { "42".to_string() } else { found_digits };
    let integer = ["u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize"];
    if integer.contains(&expected) || expected.contains("integer") {
        format!("`{key}` takes a whole number, without quotes: `{key} = {example}`")
    } else if expected.contains("boolean") {
        format!("`{key}` takes `true` or `false`, without quotes")
    } else if expected.contains("string") {
        format!("`{key}` takes a string, in quotes: `{key} = \"...\"`")
    } else if expected.contains("sequence") {
        format!("`{key}` takes a list: `{key} = [\"...\"]`")
    } else {
        "check the value's type: strings need quotes, lists use [ ]".to_string()
    }
}

fn resolve(raw: RawRelease, file: SourceFile, root: Utf8PathBuf, sink: &mut ProblemSink) -> Release {
    let app = resolve_app(raw.app, sink);
    let chart = resolve_chart(raw.chart, sink);
    let helm_cli = resolve_helm_cli(raw.helm_cli, sink);
    let job = resolve_job(raw.job, sink);
    let images = resolve_images(raw.images, sink);
    let config = resolve_config(raw.config, sink);
    let airgap = raw.airgap.map_or_else(Airgap::default, |raw| Airgap {
        channel_id: raw.channel_id.unwrap_or_default(),
        channel_name: raw.channel_name.unwrap_or_default(),
        update_cursor: raw.update_cursor,
        release_notes: raw.release_notes.unwrap_or_default(),
    });
    let proof = resolve_proof(raw.proof, sink);
    Release { file, root, app, chart, helm_cli, job, images, config, airgap, proof }
}

fn resolve_proof(raw: Option<RawProof>, sink: &mut ProblemSink) -> ProofSettings {
    let strength = match raw.and_then(|raw| raw.strength) {
        None => defaults::PROOF_STRENGTH,
        Some(strength) => match usize::try_from(*strength.get_ref()) {
            Ok(value @ 1..=defaults::PROOF_STRENGTH_MAX) => value,
            _ => {
                sink.push(
                    Problem::at(strength.span(), format!("`proof.strength` is {}", strength.get_ref()))
                        .with_help(format!(
                        "give a number from 1 to {}: every combination of that many items' values is proved \
                             (2 is pairwise, 3 the default)",
                        defaults::PROOF_STRENGTH_MAX
                    )),
                );
                defaults::PROOF_STRENGTH
            }
        },
    };
    ProofSettings { strength }
}

fn resolve_app(raw: RawApp, sink: &mut ProblemSink) -> App {
    check_dns_label(&raw.slug, 63, "app slug", sink);
    if raw.title.trim().is_empty() {
        sink.push(Problem::whole_file("`app.title` is empty").with_help("give the application a title"));
    }
    if let Some(version) = &raw.version {
        if semver::Version::parse(version.get_ref()).is_err() {
            sink.push(
                Problem::at(version.span(), format!("`{}` is not a SemVer 2 version", version.get_ref()))
                    .with_help(
                    "write it as MAJOR.MINOR.PATCH, e.g. \"1.0.0\", or remove it to use the chart's version",
                ),
            );
        }
    }
    let status_informers = raw.status_informers.unwrap_or_default();
    for informer in &status_informers {
        let valid = informer
            .get_ref()
            .split_once('/')
            .is_some_and(|(kind, name)| !kind.is_empty() && is_dns_subdomain(name));
        if !valid {
            sink.push(
                Problem::at(informer.span(), format!("`{}` is not a status informer", informer.get_ref()))
                    .with_help("write `<kind>/<name>`, e.g. \"deployment/web\""),
            );
        }
    }
    App {
        slug: raw.slug,
        title: raw.title,
        icon: raw.icon,
        version: raw.version,
        status_informers: status_informers.into_iter().map(Spanned::into_inner).collect(),
    }
}

fn resolve_chart(raw: RawChart, sink: &mut ProblemSink) -> ChartSpec {
    if raw.path.get_ref().trim().is_empty() {
        sink.push(
            Problem::at(raw.path.span(), "`chart.path` is empty")
                .with_help("point it at a chart directory or a .tgz"),
        );
    }
    check_dns_label(&raw.release_name, 53, "helm release name", sink);
    let namespace = raw.namespace.map(|namespace| {
        if !namespace.get_ref().is_empty() {
            check_dns_label(&namespace, 63, "namespace", sink);
        }
        namespace.into_inner()
    });
    let values = raw.values.map_or_else(
        || serde_json::Value::Object(Default::default()),
        |table| toml_to_json(&toml::Value::Table(table)),
    );
    let kube_versions = match raw.kube_versions {
        None => defaults::KUBE_VERSIONS.iter().map(|v| v.to_string()).collect(),
        Some(versions) => {
            if versions.get_ref().is_empty() {
                sink.push(Problem::at(versions.span(), "`chart.kube_versions` is empty").with_help(format!(
                    "list at least one Kubernetes version, e.g. [\"{}\"]",
                    defaults::KUBE_VERSIONS[0]
                )));
            }
            versions.get_ref().iter().filter_map(|version| kube_version(version, sink)).collect()
        }
    };
    ChartSpec {
        path: raw.path,
        release_name: raw.release_name,
        namespace: namespace.unwrap_or_default(),
        values,
        helm_args: raw.helm_args.unwrap_or_default(),
        kube_versions,
    }
}

/// A Kubernetes version as `helm template --kube-version` reads it, normalised to
/// `major.minor.patch` (a leading `v` and a missing patch are accepted, as Helm accepts them).
fn kube_version(version: &Spanned<String>, sink: &mut ProblemSink) -> Option<String> {
    let text = version.get_ref().trim();
    let bare = text.strip_prefix('v').unwrap_or(text);
    let parts: Vec<&str> = bare.split('.').collect();
    let numeric = |part: &&str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if (2..=3).contains(&parts.len()) && parts.iter().all(numeric) && parts[0] == "1" {
        let patch = parts.get(2).copied().unwrap_or("0");
        return Some(format!("{}.{}.{patch}", parts[0], parts[1]));
    }
    sink.push(
        Problem::at(version.span(), format!("`{text}` is not a Kubernetes version"))
            .with_help("write it as major.minor or major.minor.patch, e.g. \"1.33\" or \"1.33.2\""),
    );
    None
}

/// [`defaults::HELM_CLI_BASE`] as a reference (a unit test checks it parses).
fn default_base() -> ImageRef {
    ImageRef::parse(defaults::HELM_CLI_BASE)
        .unwrap_or_else(|error| panic!("the default base does not parse: {error}"))
}

/// `[helm_cli] base` as a reference, or the default (with a problem at its span) when it is
/// not one: the release is refused with every problem, so the stand-in is never used.
fn check_base(base: &Spanned<String>, sink: &mut ProblemSink) -> Spanned<ImageRef> {
    let parsed = ImageRef::parse(base.get_ref()).unwrap_or_else(|error| {
        sink.push(
            Problem::at(base.span(), format!("`{}` is not an image reference: {error}", base.get_ref()))
                .with_help("write a reference like \"docker.io/alpine/helm:3.16.2\""),
        );
        default_base()
    });
    Spanned::new(base.span(), parsed)
}

fn resolve_helm_cli(raw: Option<RawHelmCli>, sink: &mut ProblemSink) -> HelmCli {
    let raw = raw.unwrap_or(RawHelmCli { base: None, name: None, workdir: None, platform: None });
    let workdir = raw.workdir.map_or_else(
        || defaults::HELM_CLI_WORKDIR.to_string(),
        |workdir| {
            if !workdir.get_ref().starts_with('/') {
                sink.push(
                    Problem::at(workdir.span(), "`helm_cli.workdir` must be an absolute path")
                        .with_help("e.g. \"/apps\""),
                );
            }
            workdir.into_inner()
        },
    );
    let platform =
        raw.platform.map_or_else(Platform::linux_amd64, |platform| check_platform(&platform, sink));
    HelmCli {
        base: match raw.base {
            Some(base) => check_base(&base, sink),
            None => Spanned::new(0..0, default_base()),
        },
        name: raw.name,
        workdir,
        platform,
    }
}

fn resolve_job(raw: Option<RawJob>, sink: &mut ProblemSink) -> Job {
    let raw = raw.unwrap_or(RawJob { name: None, service_account: None, backoff_limit: None });
    let name = raw.name.map_or_else(
        || defaults::JOB_NAME.to_string(),
        |name| {
            check_dns_label(&name, 63, "job name", sink);
            name.into_inner()
        },
    );
    Job {
        name,
        service_account: raw.service_account.unwrap_or_else(|| defaults::SERVICE_ACCOUNT.to_string()),
        backoff_limit: raw.backoff_limit.unwrap_or(defaults::BACKOFF_LIMIT),
    }
}

fn resolve_images(raw: Option<RawImages>, sink: &mut ProblemSink) -> Images {
    let raw = raw.unwrap_or(RawImages {
        discover: None,
        include: None,
        exclude: None,
        proxy: None,
        private: None,
        platforms: None,
        ship_test_images: None,
        insecure: None,
    });
    let discover = match raw.discover.as_ref().map(|d| d.get_ref().as_str()) {
        None | Some("both") => Discover::Both,
        Some("values") => Discover::Values,
        Some("rendered") => Discover::Rendered,
        Some(other) => {
            let span = raw.discover.as_ref().map_or(0..0, Spanned::span);
            let mut problem = Problem::at(span, format!("`{other}` is not a discovery mode"));
            problem = problem.with_help(match nearest(other, ["values", "rendered", "both"]) {
                Some(best) => format!("did you mean \"{best}\"? (one of \"values\", \"rendered\", \"both\")"),
                None => "use one of \"values\", \"rendered\", \"both\"".to_string(),
            });
            sink.push(problem);
            Discover::Both
        }
    };
    let platforms = raw.platforms.map_or_else(
        || vec![Platform::linux_amd64()],
        |platforms| platforms.iter().map(|p| check_platform(p, sink)).collect(),
    );
    Images {
        discover,
        include: raw.include.unwrap_or_default(),
        exclude: raw.exclude.unwrap_or_default(),
        proxy: raw.proxy.map(|proxy| check_proxy(&proxy, sink)).unwrap_or_default(),
        private: raw.private.unwrap_or_default(),
        platforms,
        ship_test_images: raw.ship_test_images.unwrap_or(false),
        insecure: raw
            .insecure
            .unwrap_or_default()
            .into_iter()
            .filter(|host| check_registry_host(host, sink))
            .map(Spanned::into_inner)
            .collect(),
    }
}

/// An `[images] insecure` entry: a registry host with an optional port, as image references
/// name it (`mirror.lan:5000`), without a scheme or a path.
fn check_registry_host(host: &Spanned<String>, sink: &mut ProblemSink) -> bool {
    let text = host.get_ref();
    if crate::input::image_ref::is_valid_domain(text) {
        return true;
    }
    let bare = text.trim_start_matches("http://").trim_start_matches("https://");
    let bare = bare.split('/').next().unwrap_or_default();
    sink.push(Problem::at(host.span(), format!("`{text}` is not a registry host")).with_help(format!(
        "write the host and port as image references name it, e.g. \"{}\"",
        if bare.is_empty() || bare == text { "mirror.lan:5000" } else { bare }
    )));
    false
}

fn resolve_config(raw: Option<RawConfig>, sink: &mut ProblemSink) -> Vec<ConfigGroup> {
    let Some(raw) = raw else { return Vec::new() };
    let mut group_names = BTreeSet::new();
    let mut item_names = BTreeSet::new();
    let mut groups = Vec::new();
    for raw_group in raw.groups {
        if !is_config_name(raw_group.name.get_ref()) {
            sink.push(name_problem(&raw_group.name, "group"));
        }
        if !group_names.insert(raw_group.name.get_ref().clone()) {
            sink.push(
                Problem::at(
                    raw_group.name.span(),
                    format!("duplicate group name `{}`", raw_group.name.get_ref()),
                )
                .with_help("group names must be unique; rename one of them"),
            );
        }
        let items = raw_group
            .items
            .into_iter()
            .filter_map(|raw_item| {
                let name = raw_item.name.clone();
                if !item_names.insert(name.get_ref().clone()) {
                    sink.push(
                        Problem::at(name.span(), format!("duplicate item name `{}`", name.get_ref()))
                            .with_help(
                                "item names must be unique across all groups; KOTS keys values by them",
                            ),
                    );
                }
                resolve_item(raw_item, sink)
            })
            .collect();
        groups.push(ConfigGroup {
            name: raw_group.name,
            title: raw_group.title,
            description: raw_group.description,
            when: raw_group.when,
            items,
        });
    }
    groups
}

fn resolve_item(raw: RawItem, sink: &mut ProblemSink) -> Option<ConfigItem> {
    if !is_config_name(raw.name.get_ref()) {
        sink.push(name_problem(&raw.name, "item"));
    }
    let type_name = raw.item_type.get_ref().as_str();
    let Some(item_type) = ItemType::ALL.iter().find(|(name, _)| *name == type_name).map(|(_, t)| *t) else {
        let known: Vec<&str> = ItemType::ALL.iter().map(|(name, _)| *name).collect();
        let help = match nearest(type_name, known.iter().copied()) {
            Some(best) => format!("did you mean \"{best}\"? KOTS item types: {}", known.join(", ")),
            None => format!("KOTS item types: {}", known.join(", ")),
        };
        sink.push(
            Problem::at(raw.item_type.span(), format!("`{type_name}` is not a KOTS item type"))
                .with_help(help),
        );
        return None;
    };
    let choices: Vec<Choice> = raw
        .choices
        .unwrap_or_default()
        .into_iter()
        .map(|choice| Choice {
            title: choice.title.unwrap_or_else(|| choice.name.get_ref().clone()),
            name: choice.name.into_inner(),
        })
        .collect();
    let item_span = raw.name.span();
    if item_type.has_choices() && choices.is_empty() {
        sink.push(
            Problem::at(
                item_span.clone(),
                format!("{item_type} item `{}` has no choices", raw.name.get_ref()),
            )
            .with_help("add `choices = [{ name = \"a\", title = \"A\" }, ...]`"),
        );
    }
    if !item_type.has_choices() && !choices.is_empty() {
        sink.push(
            Problem::at(
                item_span.clone(),
                format!("{item_type} item `{}` cannot have choices", raw.name.get_ref()),
            )
            .with_help("use type \"select_one\", \"radio\" or \"dropdown\", or remove `choices`"),
        );
    }
    let mut seen_choices = BTreeSet::new();
    for choice in &choices {
        if !seen_choices.insert(choice.name.as_str()) {
            sink.push(Problem::at(item_span.clone(), format!("duplicate choice `{}`", choice.name)));
        }
    }
    let default = raw.default.as_ref().and_then(|default| check_default(default, item_type, &choices, sink));
    let value = raw.value.as_ref().and_then(|value| {
        if !item_type.holds_value() {
            sink.push(
                Problem::at(value.span(), format!("a {item_type} item holds no value to map"))
                    .with_help("remove `value`, or change the type"),
            );
            return None;
        }
        match ValuePath::parse(value.get_ref()) {
            Ok(path) => Some(path),
            Err(error) => {
                // Point at the offending character when the TOML string is a plain basic
                // string (then it is the text between the quotes); otherwise (escapes,
                // literal or multi-line strings) at the whole value.
                let span = value.span();
                let raw = sink.file().text.get(span.clone()).unwrap_or_default();
                let char_len = value.get_ref()[error.offset..].chars().next().map_or(1, char::len_utf8);
                let located = match raw_offset(raw, error.offset) {
                    Some(offset) => span.start + offset..span.start + offset + char_len,
                    None => span,
                };
                sink.push(
                    Problem::at(located, format!("malformed values path `{}`: {}", value.get_ref(), error.reason))
                        .with_help("write a dotted path like `persistence.enabled`, `hosts[0].name` or `annotations.\"app.io/x\"`"),
                );
                None
            }
        }
    });
    let value_span = raw.value.as_ref().map(Spanned::span);
    Some(ConfigItem {
        title: raw.title.unwrap_or_else(|| raw.name.get_ref().clone()),
        value_span,
        name: raw.name,
        item_type,
        help_text: raw.help_text,
        default,
        when: raw.when,
        value,
        secret: raw.secret.unwrap_or(false) || item_type == ItemType::Password,
        required: raw.required.unwrap_or(false),
        hidden: raw.hidden.unwrap_or(false),
        readonly: raw.readonly.unwrap_or(false),
        choices,
    })
}

/// The byte offset in a TOML string literal (`raw`, delimiters included) of the character at
/// `offset` in its value: literal strings map one to one, basic strings decode escapes, and
/// multi-line strings drop the newline right after the opening delimiter (TOML's rule).
fn raw_offset(raw: &str, offset: usize) -> Option<usize> {
    let (delimiter, basic) = if raw.starts_with("\"\"\"") {
        (3, true)
    } else if raw.starts_with("'''") {
        (3, false)
    } else if raw.starts_with('"') {
        (1, true)
    } else if raw.starts_with('\'') {
        (1, false)
    } else {
        return None;
    };
    let mut start = delimiter;
    if delimiter == 3 {
        if raw[start..].starts_with("\r\n") {
            start += 2;
        } else if raw[start..].starts_with('\n') {
            start += 1;
        }
    }
    let body = raw.get(start..)?;
    let mut value_len = 0;
    let mut chars = body.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        if value_len >= offset {
            return Some(start + index);
        }
        let decoded_len = match c {
            '\\' if basic => match chars.next()?.1 {
                escape @ ('u' | 'U') => {
                    let digits = if escape == 'u' { 4 } else { 8 };
                    let hex: String = (0..digits).filter_map(|_| chars.next().map(|(_, h)| h)).collect();
                    char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?.len_utf8()
                }
                // A line-ending backslash swallows the line break and the whitespace after it.
                w if w.is_whitespace() => {
                    while chars.peek().is_some_and(|(_, next)| next.is_whitespace()) {
                        chars.next();
                    }
                    0
                }
                _ => 1,
            },
            other => other.len_utf8(),
        };
        value_len += decoded_len;
    }
    None
}

/// TOML values as Helm values; a date or time becomes its text (Helm values have no such type).
fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(text) => serde_json::Value::String(text.clone()),
        toml::Value::Integer(number) => serde_json::Value::from(*number),
        toml::Value::Float(number) => serde_json::Number::from_f64(*number)
            .map_or_else(|| serde_json::Value::String(number.to_string()), serde_json::Value::Number),
        toml::Value::Boolean(flag) => serde_json::Value::Bool(*flag),
        toml::Value::Datetime(datetime) => serde_json::Value::String(datetime.to_string()),
        toml::Value::Array(items) => serde_json::Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => {
            serde_json::Value::Object(table.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect())
        }
    }
}

/// Normalizes a `default` to KOTS's string form, reporting one that does not fit the type.
fn check_default(
    default: &Spanned<toml::Value>,
    item_type: ItemType,
    choices: &[Choice],
    sink: &mut ProblemSink,
) -> Option<String> {
    let span = default.span();
    let text = match (default.get_ref(), item_type) {
        (toml::Value::Boolean(b), ItemType::Bool) => if *b { "1" } else { "0" }.to_string(),
        (toml::Value::String(s), ItemType::Bool) => match s.as_str() {
            "1" | "true" => "1".to_string(),
            "0" | "false" | "" => "0".to_string(),
            other => {
                sink.push(
                    Problem::at(span, format!("`{other}` is not a bool default"))
                        .with_help("a bool item's default is \"1\" (checked) or \"0\" (unchecked)"),
                );
                return None;
            }
        },
        (toml::Value::String(s), _) => s.clone(),
        (toml::Value::Integer(i), t) if t != ItemType::Bool => i.to_string(),
        (toml::Value::Float(f), t) if t != ItemType::Bool => f.to_string(),
        (other, t) => {
            sink.push(
                Problem::at(span, format!("a {} default does not fit a {t} item", other.type_str()))
                    .with_help("write the default as a string, e.g. default = \"value\""),
            );
            return None;
        }
    };
    if !item_type.holds_value() {
        sink.push(
            Problem::at(default.span(), format!("a {item_type} item has no default"))
                .with_help("remove `default`"),
        );
        return None;
    }
    if item_type.has_choices() && !choices.is_empty() && !choices.iter().any(|c| c.name == text) {
        let names: Vec<&str> = choices.iter().map(|c| c.name.as_str()).collect();
        sink.push(
            Problem::at(default.span(), format!("default `{text}` is not one of the choices"))
                .with_help(format!("use one of: {}", names.join(", "))),
        );
        return None;
    }
    Some(text)
}

/// `[images] proxy`: a registry host with an optional path, the prefix private images go
/// through online. Empty means Replicated's proxy for the app.
fn check_proxy(proxy: &Spanned<String>, sink: &mut ProblemSink) -> String {
    let text = proxy.get_ref().trim_end_matches('/');
    if text.is_empty() {
        return String::new();
    }
    let host = text.split('/').next().unwrap_or_default();
    let reason = if text.contains("://") {
        Some("a prefix of image references has no scheme".to_string())
    } else {
        match crate::input::image_ref::ImageRef::parse(&format!("{text}/acme/app:1")) {
            Err(error) => Some(error.to_string()),
            Ok(image) if image.domain() != host => Some(format!(
                "`{host}` is not a registry host (it has no `.`, no port and is not `localhost`), \
                 so `{text}/ghcr.io/acme/app:1` would be pulled from Docker Hub"
            )),
            Ok(_) => None,
        }
    };
    if let Some(reason) = reason {
        sink.push(
            Problem::at(
                proxy.span(),
                format!("`[images] proxy` `{}` is not a registry prefix: {reason}", proxy.get_ref()),
            )
            .with_help(
                "write host[/path] without a scheme, e.g. \"proxy.replicated.com/proxy/demo-app\", \
                     or remove the line for Replicated's proxy (proxy.replicated.com/proxy/<slug>)",
            ),
        );
    }
    proxy.get_ref().clone()
}

fn name_problem(name: &Spanned<String>, what: &str) -> Problem {
    Problem::at(name.span(), format!("`{}` is not a valid {what} name", name.get_ref()))
        .with_help("use letters, digits, `_` and `-`, starting with a letter or digit")
}

fn is_config_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The platform as written, or `linux/amd64` (with a problem at its span) when it is not
/// one: the release reports every problem at once and is refused, so the stand-in is never used.
fn check_platform(platform: &Spanned<String>, sink: &mut ProblemSink) -> Platform {
    Platform::parse(platform.get_ref()).unwrap_or_else(|_| {
        sink.push(
            Problem::at(platform.span(), format!("`{}` is not a platform", platform.get_ref())).with_help(
                "write `os/arch[/variant]` in lower case, e.g. \"linux/amd64\" or \"linux/arm64/v8\"",
            ),
        );
        Platform::linux_amd64()
    })
}

fn check_dns_label(value: &Spanned<String>, max_len: usize, what: &str, sink: &mut ProblemSink) {
    if let Err(reason) = dns_label(value.get_ref(), max_len) {
        sink.push(
            Problem::at(
                value.span(),
                format!("{what} `{}` is not a DNS-1123 label: {reason}", value.get_ref()),
            )
            .with_help(dns_label_help(value.get_ref(), max_len)),
        );
    }
}

/// How to write `value` as a DNS-1123 label of at most `max_len` characters.
pub fn dns_label_help(value: &str, max_len: usize) -> String {
    format!(
        "use at most {max_len} lower-case letters, digits and `-`, starting and ending with a letter or digit{}",
        suggestion(value, max_len).map(|s| format!(", e.g. \"{s}\"")).unwrap_or_default()
    )
}

/// Checks a DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most `max_len` characters.
pub fn dns_label(value: &str, max_len: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err("it is empty".to_string());
    }
    if value.len() > max_len {
        return Err(format!("it is {} characters long, more than {max_len}", value.len()));
    }
    if let Some(bad) = value.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Err(format!("`{bad}` is not allowed"));
    }
    if value.starts_with('-') || value.ends_with('-') {
        return Err("it starts or ends with `-`".to_string());
    }
    Ok(())
}

fn is_dns_subdomain(value: &str) -> bool {
    !value.is_empty() && value.len() <= 253 && value.split('.').all(|label| dns_label(label, 63).is_ok())
}

/// A DNS-1123 form of `value`, offered in hints.
fn suggestion(value: &str, max_len: usize) -> Option<String> {
    let mut fixed: String =
        value.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    fixed.truncate(max_len);
    let fixed = fixed.trim_matches('-').to_string();
    (dns_label(&fixed, max_len).is_ok() && fixed != value).then_some(fixed)
}

/// The span of a problem in release.toml that concerns `span`, for callers outside this module.
pub fn span_of<T>(value: &Spanned<T>) -> Range<usize> {
    value.span()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[app]
slug = "demo-app"
title = "Demo"

[chart]
path = "charts/demo-app"
release_name = "demo"
"#;

    fn problems(text: &str) -> Vec<String> {
        match parse(Utf8Path::new("release.toml"), text) {
            Ok(_) => Vec::new(),
            Err(error) => error.located_lines(),
        }
    }

    fn check_fails(text: &str, line: usize, needle: &str) {
        let lines = problems(text);
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("release.toml:{line}:")) && l.contains(needle)),
            "expected `{needle}` on line {line}, got {lines:#?}"
        );
    }

    #[test]
    fn insecure_registries_are_hosts_as_image_references_name_them() {
        let with = |entries: &str| format!("{MINIMAL}\n[images]\ninsecure = [{entries}]\n");
        assert!(problems(&with("\"mirror.lan:5000\", \"registry.local\", \"[::1]:5000\"")).is_empty());
        let line = MINIMAL.lines().count() + 3;
        check_fails(&with("\"http://mirror.lan:5000/x\""), line, "is not a registry host");
        let lines = problems(&with("\"http://mirror.lan:5000/x\""));
        assert!(lines.iter().any(|l| l.contains("\"mirror.lan:5000\"")), "{lines:#?}");
        check_fails(&with("\"mirror.lan:port\""), line, "is not a registry host");
    }

    #[test]
    fn a_value_of_the_wrong_type_says_how_to_write_it() {
        for (message, key, help) in [
            (
                "invalid type: string \"7b\", expected u64",
                "update_cursor",
                "`update_cursor` takes a whole number, without quotes: `update_cursor = 7`",
            ),
            (
                "invalid type: string \"x\", expected u64",
                "strength",
                "`strength` takes a whole number, without quotes: `strength = 42`",
            ),
            (
                "invalid type: string \"yes\", expected a boolean",
                "secret",
                "`secret` takes `true` or `false`, without quotes",
            ),
            (
                "invalid type: integer `3`, expected a string",
                "title",
                "`title` takes a string, in quotes: `title = \"...\"`",
            ),
            (
                "invalid type: string \"a\", expected a sequence",
                "exclude",
                "`exclude` takes a list: `exclude = [\"...\"]`",
            ),
        ] {
            assert_eq!(type_help(message, key), help);
        }
    }

    #[test]
    fn minimal_release_parses_with_defaults() {
        let release = parse(Utf8Path::new("x/release.toml"), MINIMAL).unwrap();
        assert_eq!(release.root, "x");
        assert_eq!(release.job.name, "kots-helm-cli");
        assert_eq!(release.helm_cli.workdir, "/apps");
        assert_eq!(release.images.platforms, vec![Platform::linux_amd64()]);
        assert_eq!(release.chart_path(), "x/charts/demo-app");
    }

    #[test]
    fn unknown_key_suggests_the_nearest() {
        let text = MINIMAL.replace("title = \"Demo\"", "title = \"Demo\"\nicno = \"x\"");
        check_fails(&text, 5, "unknown key `icno`");
        assert!(problems(&text)[0].contains("did you mean `icon`?"));
    }

    /// Issue 18, item 4: every unknown key of a file is reported in one run, each at its line
    /// with the nearest known key, and the rest of the file is still checked.
    #[test]
    fn issue_18_4_every_unknown_key_is_reported_at_once() {
        let text = r#"
[app]
slug = "demo-app"
title = "Demo"
icno = "x"

[chart]
path = "charts/demo-app"
release_name = "Demo"
namspace = "x"

[imags]
proxy = "p"

[airgap]
chanel_id = "c"
"#;
        let lines = problems(text);
        let expected = [
            (5, "unknown key `icno`", "did you mean `icon`?"),
            (9, "is not a DNS-1123 label", ""),
            (10, "unknown key `namspace`", "did you mean `namespace`?"),
            (12, "unknown key `imags`", "did you mean `images`?"),
            (16, "unknown key `chanel_id`", "did you mean `channel_id`?"),
        ];
        assert_eq!(lines.len(), expected.len(), "{lines:#?}");
        for ((line, message, help), got) in expected.iter().zip(&lines) {
            assert!(
                got.starts_with(&format!("release.toml:{line}:"))
                    && got.contains(message)
                    && got.contains(help),
                "expected `{message}` ({help}) on line {line}, got {lines:#?}"
            );
        }
    }

    #[test]
    fn unknown_keys_deep_in_arrays_of_tables_are_all_reported() {
        let text = format!(
            "{MINIMAL}
[[config.groups]]
name = \"g\"
title = \"G\"
tilte = \"G\"
  [[config.groups.items]]
  name = \"a\"
  type = \"select_one\"
  defualt = \"x\"
  choices = [{{ name = \"x\", titel = \"X\" }}]
"
        );
        let lines = problems(&text);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        check_fails(&text, 13, "unknown key `tilte`");
        check_fails(&text, 17, "unknown key `defualt`");
        check_fails(&text, 18, "unknown key `titel`");
    }

    #[test]
    fn unknown_key_without_a_near_one_lists_the_table() {
        let text = MINIMAL.replace("title = \"Demo\"", "title = \"Demo\"\nzzzzzz = 1");
        let lines = problems(&text);
        assert!(lines[0].contains("known keys in [app]: slug, title, icon"), "{lines:#?}");
    }

    /// Issue 18, item 1: `[images] pull_secret` did nothing; it is gone, and a file that
    /// still sets it learns why and what KOTS names the secret instead.
    #[test]
    fn issue_18_1_pull_secret_is_refused_with_the_name_kots_uses() {
        let text = format!("{MINIMAL}\n[images]\npull_secret = \"acme-pull\"\n");
        check_fails(&text, 11, "unknown key `pull_secret`");
        let lines = problems(&text);
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(
            lines[0].contains("KOTS itself names the pull secret `demo-app-registry` (ImagePullSecretName)")
                && lines[0].contains("delete this line"),
            "{lines:#?}"
        );
    }

    /// Issue 18, item 11: `[images] proxy` must be a registry prefix, or every private image
    /// online becomes a reference nothing can pull.
    #[test]
    fn issue_18_11_proxy_must_be_a_registry_prefix() {
        let with_proxy = |proxy: &str| format!("{MINIMAL}\n[images]\nproxy = \"{proxy}\"\n");
        for bad in ["not a url", "https://proxy.example.com/p", "proxy/app", "Proxy.example.com/App"] {
            let text = with_proxy(bad);
            check_fails(&text, 11, "is not a registry prefix");
            assert!(
                problems(&text)[0].contains("write host[/path] without a scheme"),
                "{:#?}",
                problems(&text)
            );
        }
        for good in ["", "proxy.replicated.com/proxy/demo-app", "localhost:5000/p/", "mirror.lan:8443"] {
            assert_eq!(problems(&with_proxy(good)), Vec::<String>::new(), "{good}");
        }
    }

    #[test]
    fn raw_tables_know_their_keys_and_children() {
        for table in RawTable::ALL {
            assert!(!table.keys().is_empty(), "{table:?} has no keys");
        }
        // Renames are applied: the item's `item_type` field is `type` in release.toml.
        assert!(RawTable::Item.keys().contains(&"type"), "{:?}", RawTable::Item.keys());
        // Every table of the root is walked, and every walked key is a key of its table.
        assert!(RawTable::Root.keys().iter().all(|key| RawTable::Root.child(key).is_some()));
        for (table, key) in
            [(RawTable::Config, "groups"), (RawTable::Group, "items"), (RawTable::Item, "choices")]
        {
            assert!(table.keys().contains(&key) && table.child(key).is_some(), "{table:?}.{key}");
        }
    }

    #[test]
    fn wrong_type_is_located() {
        check_fails(&MINIMAL.replace("\"demo\"", "3"), 8, "invalid type");
    }

    #[test]
    fn bad_slug_and_release_name() {
        check_fails(&MINIMAL.replace("demo-app\"\n", "Demo_App\"\n"), 3, "not a DNS-1123 label");
        let long = "a".repeat(54);
        check_fails(&MINIMAL.replace("\"demo\"", &format!("\"{long}\"")), 8, "more than 53");
    }

    #[test]
    fn config_problems_are_all_reported() {
        let text = format!(
            "{MINIMAL}
[[config.groups]]
name = \"settings\"
title = \"Settings\"
  [[config.groups.items]]
  name = \"a\"
  type = \"bool\"
  default = \"yes\"
  [[config.groups.items]]
  name = \"a\"
  type = \"texte\"
  [[config.groups.items]]
  name = \"size\"
  type = \"select_one\"
  value = \"persistence..size\"
"
        );
        let lines = problems(&text);
        assert!(lines.iter().any(|l| l.contains("not a bool default")), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains("duplicate item name `a`")), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains("did you mean \"text\"")), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains("has no choices")), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains("malformed values path")), "{lines:#?}");
    }

    #[test]
    fn bool_defaults_normalize() {
        let text = format!(
            "{MINIMAL}
[[config.groups]]
name = \"g\"
title = \"G\"
  [[config.groups.items]]
  name = \"on\"
  type = \"bool\"
  default = true
  value = \"a.enabled\"
"
        );
        let release = parse(Utf8Path::new("release.toml"), &text).unwrap();
        assert_eq!(release.config[0].items[0].default.as_deref(), Some("1"));
    }

    #[test]
    fn syntax_error_is_located() {
        check_fails("[app]\nslug = \"x\n", 2, "");
    }

    #[test]
    fn base_and_platforms_are_parsed_once_and_located_when_wrong() {
        assert_eq!(default_base().to_string(), ImageRef::parse(defaults::HELM_CLI_BASE).unwrap().to_string());
        let text = format!("{MINIMAL}\n[helm_cli]\nbase = \"Not A Ref\"\nplatform = \"linux/AMD64\"\n");
        let problems = parse(Utf8Path::new("release.toml"), &text).unwrap_err();
        let messages: Vec<String> = problems.problems.iter().map(|p| p.message.clone()).collect();
        assert!(messages.iter().any(|m| m.contains("`Not A Ref` is not an image reference")), "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("`linux/AMD64` is not a platform")), "{messages:?}");
    }
}
