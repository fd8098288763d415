//! Rendered discovery: the images Helm really renders, and the values that make each one.
//!
//! Values-walking guesses; Helm knows. For every configuration the Config screen can produce
//! (the proof's cover, so that discovery and the proof agree) and every Kubernetes version of
//! `[chart] kube_versions`, the chart is rendered with the values Helm gets (chart defaults,
//! `[chart] values`, the configuration's item values) and every image is read from the
//! rendered objects ([`crate::render::rendered_images`]). That gives the exact reference, tag
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
//! Architecture Invariant: the only I/O is `helm template` through [`crate::render::helm_template`];
//! nothing here fails on a chart Helm refuses: that is data for the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use camino::Utf8Path;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::probe::{has_marker, map_to_site, probe_sites, set_markers, ProbeSite, SiteKind};
use super::values::render_path;
use super::ImageShape;
use crate::input::chart::Chart;
use crate::input::image_ref::ImageRef;
use crate::input::release::Release;
use crate::input::value_path::Segment;
use crate::plan::conventions;
use crate::plan::kots_template::{self, Context};
use crate::render::helm_template::{Render, RenderCache, RenderError};
use crate::render::rendered_images::{self, RenderedImage};

/// The namespace discovery renders into (the proof's, so both render the same objects).
const NAMESPACE: &str = crate::proof::PROOF_NAMESPACE;

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
    /// The configurations to render ([`configurations`]).
    pub configurations: &'a [BTreeMap<String, String>],
    /// Where renders are cached, if anywhere.
    pub cache: Option<&'a RenderCache>,
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

/// What rendered discovery cost this run (not recorded in `helmkots.lock`: it varies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderCost {
    /// (configuration, Kubernetes version) pairs whose values were the same as another's, so
    /// their renders were reused rather than run again.
    pub reused: usize,
    /// Wall time of all the renders.
    pub elapsed: std::time::Duration,
    /// How many renders ran at once.
    pub workers: usize,
}

/// The configurations that give Helm the same values, rendered for one Kubernetes version.
struct Job<'a> {
    configs: Vec<&'a BTreeMap<String, String>>,
    /// The values Helm gets (or why they could not be made).
    base: Result<Value, String>,
    kube_version: &'a str,
}

/// The configurations discovery renders: the proof's, so that the two agree.
pub fn configurations(release: &Release) -> Vec<BTreeMap<String, String>> {
    crate::proof::configurations(&crate::proof::ProofSpec::of_release(release)).configurations
}

/// Renders the chart for every configuration and Kubernetes version and maps each image.
/// Configurations that give Helm the same values share their renders; renders run in
/// parallel, one per core.
pub fn discover_rendered(inputs: &RenderInputs<'_>) -> Result<(RenderedDiscovery, RenderCost), RenderError> {
    let started = std::time::Instant::now();
    let configurations = inputs.configurations;
    let sites = probe_sites(inputs.chart, &inputs.release.chart.values);
    let kube_versions = &inputs.release.chart.kube_versions;
    let newest = newest_kube_version(kube_versions);
    let mut jobs: Vec<Job<'_>> = Vec::new();
    let mut job_of_values: BTreeMap<(String, &str), usize> = BTreeMap::new();
    let mut reused = 0;
    for config in configurations {
        let base = base_values(inputs.release, inputs.chart, config);
        let key_text = match &base {
            Ok(values) => values.to_string(),
            Err(message) => format!("error: {message}"),
        };
        for version in kube_versions {
            match job_of_values.get(&(key_text.clone(), version.as_str())) {
                Some(&index) => {
                    jobs[index].configs.push(config);
                    reused += 1;
                }
                None => {
                    job_of_values.insert((key_text.clone(), version.as_str()), jobs.len());
                    jobs.push(Job { configs: vec![config], base: base.clone(), kube_version: version });
                }
            }
        }
    }
    let renders = AtomicUsize::new(0);
    let workers = crate::util::parallel::cpu_workers().min(jobs.len().max(1));
    let results = crate::util::parallel::map_in_order(&jobs, workers, |job| {
        let check_patch = Some(job.kube_version) == newest.as_deref();
        render_job(inputs, &sites, job, check_patch, &renders)
    });
    let mut finds: BTreeMap<(String, Option<MappedSite>), RenderedFind> = BTreeMap::new();
    let mut tag_pins = BTreeSet::new();
    let mut failures = BTreeSet::new();
    for result in results {
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
    let discovery = RenderedDiscovery {
        finds: finds.into_values().collect(),
        tag_pins: tag_pins.into_iter().collect(),
        configurations: configurations.len(),
        renders: renders.into_inner(),
        failures: failures.into_iter().collect(),
    };
    Ok((discovery, RenderCost { reused, elapsed: started.elapsed(), workers }))
}

/// A digest of everything the renders depend on: the chart's content, the release name, the
/// Kubernetes versions, and the values Helm gets in each configuration. `helmkots.lock`
/// keeps the renders under it, so a run without Helm can tell whether they still hold.
/// `configurations` are [`configurations`]'s.
pub fn inputs_digest(
    release: &Release,
    chart: &Chart,
    chart_content: &str,
    configurations: &[BTreeMap<String, String>],
) -> String {
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
    for config in configurations {
        let values = base_values(release, chart, config).unwrap_or_else(Value::String);
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
    job: &Job<'_>,
    check_patch: bool,
    renders: &AtomicUsize,
) -> Result<JobResult, RenderError> {
    let kube_version = job.kube_version;
    let configurations: BTreeSet<String> =
        job.configs.iter().map(|config| crate::proof::describe(config)).collect();
    let configuration = job.configs.first().map(|config| crate::proof::describe(config)).unwrap_or_default();
    let render = |values: &Value, version: &str| -> Result<Result<Vec<RenderedImage>, String>, RenderError> {
        renders.fetch_add(1, Ordering::SeqCst);
        let request = Render {
            helm: inputs.helm,
            chart: inputs.chart_archive,
            release_name: inputs.release.chart.release_name.get_ref(),
            namespace: NAMESPACE,
            kube_version: Some(version),
        };
        match request.run_cached(&values.to_string(), inputs.cache) {
            Ok(stream) => Ok(rendered_images::images_in_stream(&stream).map_err(|error| error.to_string())),
            Err(RenderError::Helm(message)) => Ok(Err(message)),
            Err(error) => Err(error),
        }
    };
    let base = match &job.base {
        Ok(base) => base.clone(),
        Err(message) => {
            return Ok(JobResult { finds: Vec::new(), tag_pins: Vec::new(), failure: Some(message.clone()) })
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
            configurations: configurations.clone(),
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
pub(crate) fn base_values(
    release: &Release,
    chart: &Chart,
    config: &BTreeMap<String, String>,
) -> Result<Value, String> {
    let empty = super::ImageSet::default();
    let values = crate::plan::kots::kots_values(release, chart, &empty).map_err(|error| error.to_string())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_versions_and_the_newest_version() {
        assert_eq!(next_patch("1.36.0"), "1.36.1");
        assert_eq!(
            newest_kube_version(&["1.9.0".into(), "1.30.2".into(), "1.30.10".into()]).as_deref(),
            Some("1.30.10")
        );
    }
}

/// Rendered discovery's results and the digest of what they were rendered from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RenderedRecord {
    /// [`inputs_digest`] of the renders.
    pub inputs: String,
    /// What the renders found.
    pub discovery: RenderedDiscovery,
}
