//! Rendered discovery: the images Helm really renders, and the values that make each one.
//!
//! Values-walking guesses; Helm knows. For every configuration the Config screen can produce
//! (the proof's cover, so that discovery and the proof agree) and every Kubernetes version of
//! `[chart] kube_versions`, the chart is rendered with the values Helm gets (chart defaults,
//! `[chart] values`, the configuration's item values) and every image is read from the
//! rendered objects ([`crate::rendered_images`]). That gives the exact reference, tag
//! fallbacks and helper-built registries included.
//!
//! KOTS rewrites values, not objects, so each rendered image is then mapped to the values that
//! make it with a *probe render*: every candidate image site of the values (a map with a
//! `repository`, a `{registry, image}` or `image: {name, tag}` map, a string under an
//! image-named key; empty and null fields included, since helpers often fill them) is set to a
//! unique marker at once (`hkprobe<N>z` for the repository, `hkreg<N>.invalid` for the
//! registry), and the same container is looked up in the probe's output:
//! - `hkreg<N>.invalid/hkprobe<N>z…`: the site's registry and repository make the image
//!   ([`ImageShape::RegistryRepositoryTag`]);
//! - `hkprobe<N>z…` with nothing before it: the repository makes it
//!   ([`ImageShape::RepositoryTag`], [`ImageShape::SiblingNameTag`] or [`ImageShape::String`]);
//! - anything else (a registry a template prepends, a suffix it appends to the repository):
//!   the image cannot be rewritten through that site, and is reported so;
//! - no marker: no value controls the image: it is hard-coded in its template
//!   ([`ImageShape::Rendered`]).
//!
//! A probe that Helm refuses (a chart that validates a field) is split in halves until the
//! sites that break it are alone; those are left unmapped.
//!
//! A tag that follows the cluster's exact Kubernetes version (`.Capabilities.KubeVersion`) is
//! found by rendering the newest declared version once more with another patch level: no
//! bundle can hold every patch release, so the tag is pinned in the values to the one rendered
//! for the newest declared version ([`TagPin`]).
//!
//! Images that only `helm.sh/hook: test` pods pull are marked: `helm upgrade --install` never
//! creates those pods.
//!
//! Architecture Invariant: the only I/O is `helm template` through [`crate::helm_template`];
//! nothing here fails on a chart Helm refuses: that is data for the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use camino::Utf8Path;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{collect_views, is_image_key, render_path, ImageShape};
use crate::chart::Chart;
use crate::conventions;
use crate::helm_template::{Render, RenderError};
use crate::image_ref::ImageRef;
use crate::kots_template::{self, Context};
use crate::release::Release;
use crate::rendered_images::{self, RenderedImage};
use crate::value_path::Segment;
#[cfg(test)]
use crate::value_path::ValuePath;

/// The namespace discovery renders into (the proof's, so both render the same objects).
const NAMESPACE: &str = crate::proof::PROOF_NAMESPACE;
/// The repository marker of probe site `N` is `hkprobe<N>z`.
const REPOSITORY_MARKER: &str = "hkprobe";
/// The registry marker of probe site `N` is `hkreg<N>.invalid`.
const REGISTRY_MARKER: &str = "hkreg";

/// What rendered discovery needs.
#[derive(Debug, Clone, Copy)]
pub struct RenderInputs<'a> {
    /// The release: config items, `[chart] values`, release name, Kubernetes versions.
    pub release: &'a Release,
    /// The loaded chart (its values, for the probe sites).
    pub chart: &'a Chart,
    /// The packaged chart, as `helm template` renders it.
    pub chart_archive: &'a Utf8Path,
    /// The `helm` program.
    pub helm: &'a str,
}

/// Everything the renders found (also what `helmkots.lock` records of them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedDiscovery {
    /// Every image rendered, once per (image, values site), sorted.
    pub finds: Vec<RenderedFind>,
    /// Tags pinned because the chart takes them from the cluster's Kubernetes version.
    pub tag_pins: Vec<TagPin>,
    /// How many configurations were rendered.
    pub configurations: usize,
    /// How many `helm template` runs discovery made.
    pub renders: usize,
    /// Configurations Helm refused to render, with its error (the proof reports them too).
    pub failures: Vec<String>,
}

/// One rendered image and the values site that makes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RenderedFind {
    /// The image, normalised.
    pub reference: ImageRef,
    /// The values that make it, or `None` when no value controls it (hard-coded).
    pub site: Option<MappedSite>,
    /// Why the image could not be mapped to the site whose marker it carries, if so.
    pub unmappable: Option<String>,
    /// Every rendering is in a `helm.sh/hook: test` object.
    pub test_only: bool,
    /// Found in a pod spec (not only in an `image` field of another kind).
    pub certain: bool,
    /// Where it was rendered: `template (Kind/name)`, sorted.
    pub places: BTreeSet<String>,
    /// The configurations that render it, as `item=value` pairs.
    pub configurations: BTreeSet<String>,
}

/// The values site of an image: where to rewrite it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MappedSite {
    /// The values path, in [`ValuePath`] syntax (the map, or the string).
    pub values_path: String,
    /// How the image is written there.
    pub shape: ImageShape,
}

/// A tag set in the values because the chart derives it from the cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TagPin {
    /// The tag's values path.
    pub values_path: String,
    /// The tag pinned (what the newest declared Kubernetes version renders).
    pub tag: String,
    /// The image it belongs to.
    pub image: String,
}

/// A candidate image site in the values.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProbeSite {
    path: Vec<Segment>,
    kind: SiteKind,
    /// The outermost list of the chart's values the site sits in, with its path: Helm
    /// replaces a list whole, so a probe sets a copy of it with the marker inside.
    list: Option<(Vec<Segment>, Value)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SiteKind {
    /// A map: the key of the repository (`repository`, `image` or `name`), whether it has a
    /// `registry`, and its digest key.
    Map { repository_key: String, registry: bool, digest_key: Option<String> },
    /// A string under an image-named key, and the sibling tag key when the map has one.
    String { key: String, tag_key: Option<String> },
}

/// Renders the chart for every configuration and Kubernetes version and maps each image.
pub fn discover_rendered(inputs: &RenderInputs<'_>) -> Result<RenderedDiscovery, RenderError> {
    let (configurations, _) = crate::proof::configurations(inputs.release);
    let sites = probe_sites(inputs.chart, &inputs.release.chart.values);
    let kube_versions = &inputs.release.chart.kube_versions;
    let newest = newest_kube_version(kube_versions);
    let jobs: Vec<(&BTreeMap<String, String>, &str)> = configurations
        .iter()
        .flat_map(|config| kube_versions.iter().map(move |version| (config, version.as_str())))
        .collect();
    let renders = AtomicUsize::new(0);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Result<JobResult, RenderError>>> = Mutex::new(Vec::new());
    let workers =
        std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8).min(jobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some((config, version)) = jobs.get(index) else { break };
                let check_patch = Some(*version) == newest.as_deref();
                let result = render_job(inputs, &sites, config, version, check_patch, &renders);
                results.lock().unwrap_or_else(|e| e.into_inner()).push(result);
            });
        }
    });
    let mut finds: BTreeMap<(String, Option<MappedSite>), RenderedFind> = BTreeMap::new();
    let mut tag_pins = BTreeSet::new();
    let mut failures = BTreeSet::new();
    for result in results.into_inner().unwrap_or_else(|e| e.into_inner()) {
        let job = result?;
        if let Some(failure) = job.failure {
            failures.insert(failure);
        }
        tag_pins.extend(job.tag_pins);
        for find in job.finds {
            let key = (find.reference.to_string(), find.site.clone());
            match finds.get_mut(&key) {
                Some(existing) => {
                    existing.test_only &= find.test_only;
                    existing.certain |= find.certain;
                    existing.places.extend(find.places);
                    existing.configurations.extend(find.configurations);
                    if existing.unmappable.is_none() {
                        existing.unmappable = find.unmappable;
                    }
                }
                None => {
                    finds.insert(key, find);
                }
            }
        }
    }
    // A pinned tag is the only one any install pulls: the other versions' renders are moot.
    let pinned: BTreeMap<String, &str> = tag_pins
        .iter()
        .filter_map(|pin: &TagPin| {
            Some((pin.values_path.strip_suffix(".tag")?.to_string(), pin.tag.as_str()))
        })
        .collect();
    finds.retain(|_, find| match (&find.site, find.reference.tag()) {
        (Some(site), Some(tag)) => pinned.get(&site.values_path).is_none_or(|pin| *pin == tag),
        _ => true,
    });
    Ok(RenderedDiscovery {
        finds: finds.into_values().collect(),
        tag_pins: tag_pins.into_iter().collect(),
        configurations: configurations.len(),
        renders: renders.into_inner(),
        failures: failures.into_iter().collect(),
    })
}

/// A digest of everything the renders depend on: the chart's content, the release name, the
/// Kubernetes versions, and the values Helm gets in each configuration. `helmkots.lock`
/// keeps the renders under it, so a run without Helm can tell whether they still hold.
pub fn inputs_digest(release: &Release, chart: &Chart, chart_content: &str) -> String {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    let mut field = |name: &str, value: &[u8]| {
        for part in [name.as_bytes(), value] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
    };
    field("chart", chart_content.as_bytes());
    field("release-name", release.chart.release_name.get_ref().as_bytes());
    field("kube-versions", release.chart.kube_versions.join(",").as_bytes());
    let (configurations, _) = crate::proof::configurations(release);
    for config in &configurations {
        let values = base_values(release, chart, config).unwrap_or_else(|message| Value::String(message));
        field(&crate::proof::describe(config), values.to_string().as_bytes());
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// What one (configuration, Kubernetes version) gave.
struct JobResult {
    finds: Vec<RenderedFind>,
    tag_pins: Vec<TagPin>,
    failure: Option<String>,
}

fn render_job(
    inputs: &RenderInputs<'_>,
    sites: &[ProbeSite],
    config: &BTreeMap<String, String>,
    kube_version: &str,
    check_patch: bool,
    renders: &AtomicUsize,
) -> Result<JobResult, RenderError> {
    let configuration = crate::proof::describe(config);
    let render = |values: &Value, version: &str| -> Result<Result<Vec<RenderedImage>, String>, RenderError> {
        renders.fetch_add(1, Ordering::SeqCst);
        let request = Render {
            helm: inputs.helm,
            chart: inputs.chart_archive,
            release_name: inputs.release.chart.release_name.get_ref(),
            namespace: NAMESPACE,
            kube_version: Some(version),
        };
        match request.run(&values.to_string()) {
            Ok(stream) => Ok(rendered_images::images_in_stream(&stream).map_err(|error| error.to_string())),
            Err(RenderError::Helm(message)) => Ok(Err(message)),
            Err(error) => Err(error),
        }
    };
    let base = match base_values(inputs.release, inputs.chart, config) {
        Ok(base) => base,
        Err(message) => {
            return Ok(JobResult { finds: Vec::new(), tag_pins: Vec::new(), failure: Some(message) })
        }
    };
    let rendered = match render(&base, kube_version)? {
        Ok(rendered) => rendered,
        Err(message) => {
            return Ok(JobResult {
                finds: Vec::new(),
                tag_pins: Vec::new(),
                failure: Some(format!("[{configuration}] kube {kube_version}: {message}")),
            })
        }
    };
    // Which site makes each container's image: probe all sites at once, halving on refusal.
    let mut mapping: BTreeMap<ContainerKey, String> = BTreeMap::new();
    let mut pending: Vec<Vec<usize>> = vec![(0..sites.len()).collect()];
    while let Some(group) = pending.pop() {
        if group.is_empty() {
            continue;
        }
        let mut probe = base.clone();
        conventions::allow_rewritten_images(inputs.chart, &mut probe);
        for &index in &group {
            set_markers(&mut probe, &sites[index], index);
        }
        match render(&probe, kube_version)? {
            Ok(probed) => {
                for image in probed {
                    if has_marker(&image.image) {
                        mapping.entry(ContainerKey::of(&image)).or_insert(image.image);
                    }
                }
            }
            Err(_) if group.len() > 1 => {
                let (left, right) = group.split_at(group.len() / 2);
                pending.push(left.to_vec());
                pending.push(right.to_vec());
            }
            Err(_) => {}
        }
    }
    // Which containers follow the cluster's patch version.
    let mut follows_cluster: BTreeSet<ContainerKey> = BTreeSet::new();
    if check_patch {
        if let Ok(other) = render(&base, &next_patch(kube_version))? {
            let other: BTreeMap<ContainerKey, String> =
                other.into_iter().map(|image| (ContainerKey::of(&image), image.image)).collect();
            for image in &rendered {
                if other.get(&ContainerKey::of(image)).is_some_and(|text| *text != image.image) {
                    follows_cluster.insert(ContainerKey::of(image));
                }
            }
        }
    }
    let mut finds = Vec::new();
    let mut tag_pins = Vec::new();
    for image in &rendered {
        let Ok(reference) = ImageRef::parse(&image.image) else { continue };
        let key = ContainerKey::of(image);
        let (site, unmappable) = match mapping.get(&key) {
            Some(probed) => map_to_site(sites, &image.image, probed),
            None => (None, None),
        };
        if follows_cluster.contains(&key) {
            if let (Some(site_index), Some(tag)) = (site.as_ref().map(|(index, _)| *index), reference.tag()) {
                if matches!(sites[site_index].kind, SiteKind::Map { .. }) {
                    let mut path = sites[site_index].path.clone();
                    path.push(Segment::Key("tag".to_string()));
                    tag_pins.push(TagPin {
                        values_path: render_path(&path),
                        tag: tag.to_string(),
                        image: image.image.clone(),
                    });
                }
            }
        }
        finds.push(RenderedFind {
            reference,
            site: site.map(|(_, mapped)| mapped),
            unmappable,
            test_only: image.test_hook,
            certain: image.certain,
            places: BTreeSet::from([format!("{} ({})", image.template, image.object)]),
            configurations: BTreeSet::from([configuration.clone()]),
        });
    }
    Ok(JobResult { finds, tag_pins, failure: None })
}

/// A container (or `image` field) of a rendered object; the same in base and probe renders.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ContainerKey {
    template: String,
    object: String,
    container: String,
}

impl ContainerKey {
    fn of(image: &RenderedImage) -> ContainerKey {
        ContainerKey {
            template: image.template.clone(),
            object: image.object.clone(),
            container: image.container.clone(),
        }
    }
}

/// The values Helm gets in one configuration, without any image rewrite: `[chart] values`
/// and the config items' values, resolved as KOTS resolves them online.
fn base_values(release: &Release, chart: &Chart, config: &BTreeMap<String, String>) -> Result<Value, String> {
    let empty = super::ImageSet::default();
    let values = crate::kots::kots_values(release, chart, &empty).map_err(|error| error.to_string())?;
    let mut ctx = Context::from_release(release, config).map_err(|error| error.to_string())?;
    ctx.namespace = NAMESPACE.to_string();
    let text = kots_template::render(&values.tree.to_yaml(), &ctx, "kots-values.yaml")
        .map_err(|error| error.to_string())?;
    let parsed: Value =
        serde_saphyr::from_str(&text).map_err(|error| format!("kots-values.yaml: {error}"))?;
    Ok(if parsed.is_null() { Value::Object(Map::new()) } else { parsed })
}

/// `1.36.0` → `1.36.1`: another patch release of the same minor version.
fn next_patch(version: &str) -> String {
    let mut parts: Vec<u64> = version.split('.').filter_map(|part| part.parse().ok()).collect();
    parts.resize(3, 0);
    format!("{}.{}.{}", parts[0], parts[1], parts[2] + 1)
}

/// The highest of the declared versions.
fn newest_kube_version(versions: &[String]) -> Option<String> {
    let key = |version: &String| -> Vec<u64> { version.split('.').filter_map(|p| p.parse().ok()).collect() };
    versions.iter().max_by_key(|version| key(version)).cloned()
}

// ---------------------------------------------------------------------------------------------
// Probe sites and markers.

/// Every candidate image site of the chart's values (subcharts under their keys, `[chart]
/// values` merged over the root), in a fixed order.
fn probe_sites(chart: &Chart, overrides: &Value) -> Vec<ProbeSite> {
    let mut views = Vec::new();
    collect_views(chart, Vec::new(), overrides.as_object(), None, &mut views);
    let mut sites = Vec::new();
    let mut seen = BTreeSet::new();
    for view in &views {
        for (key, value) in &view.values {
            if view.subchart_keys.contains(key) {
                continue;
            }
            let mut path = view.root_path(&[Segment::Key(key.clone())]);
            sites_in(&view.values, key, value, &mut path, None, &mut sites, &mut seen);
        }
    }
    sites
}

fn sites_in(
    parent: &Map<String, Value>,
    key: &str,
    value: &Value,
    path: &mut Vec<Segment>,
    list: Option<&(Vec<Segment>, Value)>,
    sites: &mut Vec<ProbeSite>,
    seen: &mut BTreeSet<Vec<Segment>>,
) {
    if path.len() > super::MAX_VALUES_DEPTH {
        return;
    }
    let push =
        |sites: &mut Vec<ProbeSite>, seen: &mut BTreeSet<Vec<Segment>>, kind: SiteKind, path: &[Segment]| {
            if seen.insert(path.to_vec()) {
                sites.push(ProbeSite { path: path.to_vec(), kind, list: list.cloned() });
            }
        };
    match value {
        Value::String(text) if is_image_key(key) && !text.is_empty() => {
            let tag_keys = if key.eq_ignore_ascii_case("image") {
                vec!["tag".to_string(), format!("{key}Tag")]
            } else {
                vec![format!("{key}Tag")]
            };
            let tag_key = tag_keys.into_iter().find(|tag_key| parent.contains_key(tag_key));
            push(sites, seen, SiteKind::String { key: key.to_string(), tag_key }, path);
        }
        Value::Object(map) => {
            if let Some(kind) = site_of_map(key, map) {
                push(sites, seen, kind, path);
                return;
            }
            for (child_key, child) in map {
                path.push(Segment::Key(child_key.clone()));
                sites_in(map, child_key, child, path, list, sites, seen);
                path.pop();
            }
        }
        Value::Array(items) => {
            let outermost = (path.clone(), value.clone());
            let list = Some(list.unwrap_or(&outermost));
            for (index, item) in items.iter().enumerate() {
                path.push(Segment::Index(index));
                if let Value::Object(map) = item {
                    if let Some(kind) = site_of_map("", map) {
                        push(sites, seen, kind, path);
                    } else {
                        for (child_key, child) in map {
                            path.push(Segment::Key(child_key.clone()));
                            sites_in(map, child_key, child, path, list, sites, seen);
                            path.pop();
                        }
                    }
                }
                path.pop();
            }
        }
        _ => {}
    }
}

/// An image map of one of the chart families ([`conventions::IMAGE_MAPS`]).
fn site_of_map(key: &str, map: &Map<String, Value>) -> Option<SiteKind> {
    let shape = conventions::image_map(is_image_key(key), map)?;
    let registry = map.get("registry").is_some_and(|value| !(value.is_object() || value.is_array()));
    let digest_key =
        conventions::DIGEST_KEYS.into_iter().find(|field| map.contains_key(*field)).map(str::to_string);
    Some(SiteKind::Map { repository_key: shape.repository_key.to_string(), registry, digest_key })
}

fn set_markers(values: &mut Value, site: &ProbeSite, index: usize) {
    // A list the chart's values hold is not in the configuration's values: Helm would take
    // the probe's list whole, so it gets a copy of the chart's (once; other sites in it share it).
    if let Some((list_path, list)) = &site.list {
        let present = list_path.iter().try_fold(&*values, |value, segment| match segment {
            Segment::Key(key) => value.get(key),
            Segment::Index(index) => value.get(*index),
        });
        if !present.is_some_and(Value::is_array) {
            if let Some((Segment::Key(last), parent)) = list_path.split_last() {
                set_at(values, parent, last, list.clone());
            }
        }
    }
    let repository = Value::String(format!("{REPOSITORY_MARKER}{index}z"));
    match &site.kind {
        SiteKind::Map { repository_key, registry, .. } => {
            set_at(values, &site.path, repository_key, repository);
            if *registry {
                set_at(
                    values,
                    &site.path,
                    "registry",
                    Value::String(format!("{REGISTRY_MARKER}{index}.invalid")),
                );
            }
        }
        SiteKind::String { .. } => {
            let (last, parent) = match site.path.split_last() {
                Some((Segment::Key(last), parent)) => (last.clone(), parent),
                _ => return,
            };
            set_at(values, parent, &last, repository);
        }
    }
}

/// Sets `key` in the map at `path`, creating maps on the way (lists are indexed as they are).
fn set_at(values: &mut Value, path: &[Segment], key: &str, value: Value) {
    let mut current = values;
    for segment in path {
        current = match segment {
            Segment::Key(segment_key) => {
                if !current.is_object() {
                    *current = Value::Object(Map::new());
                }
                let Value::Object(map) = current else { return };
                map.entry(segment_key.clone()).or_insert_with(|| Value::Object(Map::new()))
            }
            Segment::Index(index) => {
                // A list the defaults hold is replaced whole by Helm: copy is not possible here,
                // so only lists already in the values are descended.
                match current.get_mut(*index) {
                    Some(item) => item,
                    None => return,
                }
            }
        };
    }
    if !current.is_object() {
        *current = Value::Object(Map::new());
    }
    if let Value::Object(map) = current {
        map.insert(key.to_string(), value);
    }
}

fn has_marker(image: &str) -> bool {
    marker_at(image).is_some()
}

/// The site index and byte range of the first repository marker in `image`.
fn marker_at(image: &str) -> Option<(usize, std::ops::Range<usize>)> {
    let mut from = 0;
    while let Some(found) = image[from..].find(REPOSITORY_MARKER) {
        let start = from + found;
        let digits_start = start + REPOSITORY_MARKER.len();
        let digits = image[digits_start..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && image[digits_start + digits..].starts_with('z') {
            let index = image[digits_start..digits_start + digits].parse().ok()?;
            return Some((index, start..digits_start + digits + 1));
        }
        from = digits_start;
    }
    None
}

/// Maps an image (as rendered normally) to the site whose marker its probe rendering carries.
fn map_to_site(
    sites: &[ProbeSite],
    image: &str,
    probed: &str,
) -> (Option<(usize, MappedSite)>, Option<String>) {
    let Some((index, range)) = marker_at(probed) else { return (None, None) };
    let Some(site) = sites.get(index) else { return (None, None) };
    let values_path = render_path(&site.path);
    let before = &probed[..range.start];
    let after = &probed[range.end..];
    let unmappable =
        |why: String| (None, Some(format!("`{image}` is built from values `{values_path}`, but {why}")));
    if !(after.is_empty() || after.starts_with(':') || after.starts_with('@')) {
        return unmappable(format!(
            "the template appends `{}` to its repository, so no value can point it at the local registry",
            after.split([':', '@']).next().unwrap_or(after)
        ));
    }
    if !image.ends_with(after) {
        return unmappable("its tag changes with its repository".to_string());
    }
    let shape = match &site.kind {
        SiteKind::Map { repository_key, registry, digest_key } => {
            let registry_marker = format!("{REGISTRY_MARKER}{index}.invalid/");
            if *registry && before == registry_marker {
                match repository_key.as_str() {
                    "repository" => ImageShape::RegistryRepositoryTag {
                        digest_key: digest_key.clone(),
                        uses_global_registry: false,
                    },
                    other => ImageShape::RegistryNameTag {
                        name_key: other.to_string(),
                        tag_key: "tag".to_string(),
                    },
                }
            } else if before.is_empty() {
                match repository_key.as_str() {
                    "repository" => ImageShape::RepositoryTag { digest_key: digest_key.clone() },
                    other => {
                        ImageShape::SiblingNameTag { name_key: other.to_string(), tag_key: "tag".to_string() }
                    }
                }
            } else {
                return unmappable(format!(
                    "the template puts `{}` before its repository, which no value of that map sets",
                    before.trim_end_matches('/')
                ));
            }
        }
        SiteKind::String { key, tag_key } => {
            if !before.is_empty() {
                return unmappable(format!("the template puts `{}` before it", before.trim_end_matches('/')));
            }
            match tag_key {
                Some(tag_key) if after.starts_with(':') => {
                    let mut parent = site.path.clone();
                    parent.pop();
                    return (
                        Some((
                            index,
                            MappedSite {
                                values_path: render_path(&parent),
                                shape: ImageShape::SiblingNameTag {
                                    name_key: key.clone(),
                                    tag_key: tag_key.clone(),
                                },
                            },
                        )),
                        None,
                    );
                }
                _ => ImageShape::String,
            }
        }
    };
    (Some((index, MappedSite { values_path, shape })), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(path: &str, kind: SiteKind) -> ProbeSite {
        ProbeSite { path: ValuePath::parse(path).unwrap().segments().to_vec(), kind, list: None }
    }

    fn map_kind(registry: bool) -> SiteKind {
        SiteKind::Map { repository_key: "repository".into(), registry, digest_key: None }
    }

    #[test]
    fn markers_are_found_with_their_site() {
        assert_eq!(marker_at("hkreg3.invalid/hkprobe3z:1.0"), Some((3, 15..24)));
        assert_eq!(marker_at("docker.io/hkprobe12z"), Some((12, 10..20)));
        assert_eq!(marker_at("hkprobe/x:1"), None);
        assert_eq!(marker_at("nginx:1.25"), None);
    }

    #[test]
    fn registry_and_repository_make_a_registry_map() {
        let sites = vec![site("image", map_kind(true))];
        let (mapped, why) =
            map_to_site(&sites, "docker.io/traefik:v3.7.11", "hkreg0.invalid/hkprobe0z:v3.7.11");
        assert_eq!(why, None);
        let (_, mapped) = mapped.unwrap();
        assert_eq!(mapped.values_path, "image");
        assert!(matches!(mapped.shape, ImageShape::RegistryRepositoryTag { .. }));
    }

    #[test]
    fn registry_and_image_make_a_registry_name_map() {
        let sites = vec![site(
            "global.azure.images.hub",
            SiteKind::Map { repository_key: "image".into(), registry: true, digest_key: None },
        )];
        let (mapped, why) =
            map_to_site(&sites, "ghcr.io/traefik/traefik-hub:latest", "hkreg0.invalid/hkprobe0z:latest");
        assert_eq!(why, None);
        let (_, mapped) = mapped.unwrap();
        assert_eq!(
            mapped.shape,
            ImageShape::RegistryNameTag { name_key: "image".into(), tag_key: "tag".into() }
        );
    }

    #[test]
    fn a_repository_alone_makes_a_repository_map() {
        let sites = vec![site("a", map_kind(false)), site("kubectl.image", map_kind(false))];
        let (mapped, _) = map_to_site(&sites, "registry.k8s.io/kubectl:v1.36.0", "hkprobe1z:v1.36.0");
        let (index, mapped) = mapped.unwrap();
        assert_eq!(index, 1);
        assert_eq!(mapped.values_path, "kubectl.image");
        assert!(matches!(mapped.shape, ImageShape::RepositoryTag { .. }));
    }

    #[test]
    fn a_string_with_a_sibling_tag_maps_to_the_parent() {
        let sites =
            vec![site("image", SiteKind::String { key: "image".into(), tag_key: Some("imageTag".into()) })];
        let (mapped, _) = map_to_site(&sites, "docker.elastic.co/kibana/kibana:8.5.1", "hkprobe0z:8.5.1");
        let (_, mapped) = mapped.unwrap();
        assert_eq!(mapped.values_path, "");
        assert_eq!(
            mapped.shape,
            ImageShape::SiblingNameTag { name_key: "image".into(), tag_key: "imageTag".into() }
        );
    }

    #[test]
    fn composed_repositories_and_prefixes_are_unmappable() {
        let sites = vec![site("image", map_kind(false))];
        let (mapped, why) = map_to_site(&sites, "r.io/app-fips:1", "hkprobe0z-fips:1");
        assert!(mapped.is_none());
        assert!(why.unwrap().contains("appends `-fips`"));
        let (mapped, why) = map_to_site(&sites, "docker.io/app:1", "docker.io/hkprobe0z:1");
        assert!(mapped.is_none());
        assert!(why.unwrap().contains("puts `docker.io` before"));
    }

    #[test]
    fn image_maps_are_recognised_in_every_family_shape() {
        let map = |json: &str| -> Map<String, Value> { serde_json::from_str(json).unwrap() };
        // traefik: every field null, filled by helpers.
        assert!(site_of_map("image", &map(r#"{"registry":null,"repository":null,"tag":null}"#)).is_some());
        // `{registry, image, tag}`.
        let kind = site_of_map("controller", &map(r#"{"registry":"r.io","image":"app","tag":"1"}"#)).unwrap();
        assert!(
            matches!(kind, SiteKind::Map { ref repository_key, registry: true, .. } if repository_key == "image")
        );
        // `image: {name, tag}`.
        let kind = site_of_map("image", &map(r#"{"name":"app","tag":"1"}"#)).unwrap();
        assert!(matches!(kind, SiteKind::Map { ref repository_key, .. } if repository_key == "name"));
        // A Helm repository URL is not an image.
        assert!(site_of_map("chartRepo", &map(r#"{"repository":"https://charts.example.com","tag":"1"}"#))
            .is_none());
        // A map with a name but no tag is not an image.
        assert!(site_of_map("image", &map(r#"{"name":"x"}"#)).is_none());
    }

    #[test]
    fn markers_are_set_where_the_site_is() {
        let mut values = serde_json::json!({"image": {"repository": "a"}, "list": [{"x": 1}]});
        set_markers(&mut values, &site("image", map_kind(true)), 4);
        assert_eq!(values["image"]["repository"], "hkprobe4z");
        assert_eq!(values["image"]["registry"], "hkreg4.invalid");
        set_markers(
            &mut values,
            &site("sub.image", SiteKind::String { key: "image".into(), tag_key: None }),
            5,
        );
        assert_eq!(values["sub"]["image"], "hkprobe5z");
    }

    #[test]
    fn sites_in_a_list_of_the_defaults_are_probed_in_a_copy_of_it() {
        let defaults = serde_json::json!({"extraContainers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:2"}]});
        let mut sites = Vec::new();
        let mut seen = BTreeSet::new();
        let map = defaults.as_object().unwrap();
        let mut path = vec![Segment::Key("extraContainers".into())];
        sites_in(map, "extraContainers", &map["extraContainers"], &mut path, None, &mut sites, &mut seen);
        assert_eq!(sites.len(), 2);
        let mut values = serde_json::json!({"replicas": 1});
        set_markers(&mut values, &sites[1], 1);
        set_markers(&mut values, &sites[0], 0);
        assert_eq!(values["extraContainers"][0]["image"], "hkprobe0z");
        assert_eq!(values["extraContainers"][1]["image"], "hkprobe1z");
        assert_eq!(values["extraContainers"][1]["name"], "b", "the rest of the list is the chart's");
    }

    #[test]
    fn patch_versions_and_the_newest_version() {
        assert_eq!(next_patch("1.36.0"), "1.36.1");
        assert_eq!(
            newest_kube_version(&["1.9.0".into(), "1.30.2".into(), "1.30.10".into()]).as_deref(),
            Some("1.30.10")
        );
    }
}
