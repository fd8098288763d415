//! Image discovery: every container image a chart can pull, found in its values and in what
//! Helm renders, with where it came from and how it is written.
//!
//! Data flow: [`Chart`] (with vendored subcharts) + `[images] include/exclude` → [`discover`]
//! → [`ImageSet`]. The set feeds the image rewrites in `kots-values.yaml` (which need the
//! values path and the *shape* of each image, because a `{repository, tag}` map is rewritten
//! differently from a single string), `additionalImages` in the KOTS Application, the image
//! pull into the airgap bundle, and `cargo xtask images --json`.
//!
//! The ways of finding images, one file each:
//! - [`views`]: which values are walked (Helm's coalescing, one view per chart);
//! - [`values`]: what counts as an image in the values (the heuristics);
//! - [`templates`]: what the templates tell about the values (appVersion fallbacks);
//! - [`pull_secrets`]: where pull secrets are set;
//! - [`annotations`]: the Chart.yaml image annotations;
//! - [`rendered`] and [`probe`]: what Helm renders, and the values that make each image;
//! - [`merge`]: values and renders merged into one set.
//!
//! Exclude patterns (globs where `*` matches any run of characters, `/` included, and `?`
//! one character) are matched against the normalised, canonical and familiar forms and
//! against the repository alone (`busybox` excludes every busybox tag); a pattern that
//! matches the raw text of an invalid reference silences that problem. `[images] include`
//! is kept even when an exclude matches.
//!
//! Architecture Invariant: no I/O and no Helm rendering outside [`rendered`], whose only I/O is
//! `helm template` through [`crate::render::helm_template`]; [`discover_with`] takes its results as
//! data. Nothing here fails: findings and problems are both data, and the caller decides what
//! is fatal.

mod annotations;
mod merge;
pub mod probe;
mod pull_secrets;
pub mod rendered;
mod templates;
#[cfg(test)]
mod tests;
mod values;
mod views;

// The ways share one accumulator ([`Found`]) and a few helpers; bring them into one scope.
use self::annotations::read_annotations;
use self::merge::{leave_out_colliding_guesses, merge_rendered};
use self::pull_secrets::{find_pull_secrets, is_pull_secret_key};
use self::templates::scan_templates;
use self::values::{render_path, walk_values, MAX_VALUES_DEPTH};
use self::views::{collect_views, AppVersionFormat, View};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::input::chart::Chart;
use crate::input::image_ref::{ImageRef, ImageRefError};
use crate::input::value_path::ValuePath;
use crate::plan::image_routing::glob_match;

/// The Chart.yaml annotations that list a chart's images.
pub const IMAGE_ANNOTATIONS: [&str; 2] = ["artifacthub.io/images", "helm.sh/images"];

/// Every image found, with provenance, plus what was excluded and what went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSet {
    /// The images, one per normalised reference, sorted by reference: what the bundle holds.
    pub images: Vec<DiscoveredImage>,
    /// Images that only `helm.sh/hook: test` pods pull (`helm test`, never `helm upgrade
    /// --install`): shown, not bundled, unless `[images] ship_test_images`.
    pub test_only: Vec<DiscoveredImage>,
    /// Tags pinned in the values because the chart takes them from the cluster's version.
    pub tag_pins: Vec<rendered::TagPin>,
    /// What rendered discovery did, when it ran.
    pub rendered: Option<RenderSummary>,
    /// Images dropped by an exclude pattern, sorted by reference.
    pub excluded: Vec<ExcludedImage>,
    /// Values paths that hold image pull secrets, sorted by path.
    pub pull_secret_paths: Vec<PullSecretPath>,
    /// Everything that could not be understood, sorted.
    pub problems: Vec<DiscoveryProblem>,
}

/// How many renders rendered discovery made, and what Helm refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderSummary {
    /// The renders were read from `helmkots.lock` (no Helm on PATH).
    pub from_lock: bool,
    /// What `helmkots.lock` should record of renders made now (`None` when read from it).
    pub record: Option<rendered::RenderedRecord>,
    /// Configurations rendered.
    pub configurations: usize,
    /// `helm template` runs.
    pub renders: usize,
    /// Configurations Helm refused, with its error.
    pub failures: Vec<String>,
    /// What the renders made now cost (`None` when read from the lock); varies run to run.
    pub cost: Option<rendered::RenderCost>,
}

/// How an image was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FoundBy {
    /// In the values only: no rendered configuration pulls it (an optional part the Config
    /// screen does not reach, or discovery did not render).
    Values,
    /// In the rendered objects only (values-walking missed it).
    Rendered,
    /// In the values and in the rendered objects.
    Both,
    /// In a Chart.yaml image annotation.
    Annotation,
    /// In `[images] include`.
    Include,
}

impl fmt::Display for FoundBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FoundBy::Values => "values",
            FoundBy::Rendered => "rendered",
            FoundBy::Both => "both",
            FoundBy::Annotation => "annotation",
            FoundBy::Include => "include",
        })
    }
}

/// One image and every place it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredImage {
    /// The normalised reference.
    pub reference: ImageRef,
    /// Where it was found, sorted; never empty.
    pub sources: Vec<ImageSource>,
}

/// An image dropped by an exclude pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcludedImage {
    /// The image as it would have been listed.
    pub image: DiscoveredImage,
    /// The first pattern that matched it.
    pub pattern: String,
}

/// One place an image was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageSource {
    /// The name (from Chart.yaml) of the chart whose values or annotations hold the image;
    /// `None` for `[images] include`.
    pub chart: Option<String>,
    /// The values path in the root chart's values, in [`ValuePath`] syntax: the string for
    /// [`ImageShape::String`], the map for the other values shapes (e.g. `image`,
    /// `cache.image` for a subchart aliased `cache`, `testFramework` for a sibling name and
    /// tag). `None` for annotations and includes. Empty for a sibling name and tag at the very
    /// top of the root chart's values.
    pub values_path: Option<String>,
    /// How the image is written there.
    pub shape: ImageShape,
    /// The tag was empty and was taken from the chart's `appVersion`, because the chart's
    /// templates fall back to it.
    pub tag_from_app_version: bool,
    /// How this source was found.
    pub found_by: FoundBy,
}

/// How an image is written, which decides how it is rewritten.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageShape {
    /// One string: `image: "nginx:1.25"`.
    String,
    /// A map `{repository, tag}`, maybe with a digest key.
    RepositoryTag {
        /// The key holding a digest (`digest`, or `sha` for a bare sha256 hex), when the map
        /// has one, even empty.
        digest_key: Option<String>,
    },
    /// A map `{registry, repository, tag}` (Bitnami style), maybe with a digest key.
    RegistryRepositoryTag {
        /// The key holding a digest, when the map has one, even empty.
        digest_key: Option<String>,
        /// The registry came from `global.imageRegistry`, which overrides the map's own.
        uses_global_registry: bool,
    },
    /// A map `{registry, image|name, tag}`: a registry and a name (under `name_key`) beside
    /// the tag, joined `registry/name:tag` by the templates.
    RegistryNameTag {
        /// The key of the name, e.g. `image`.
        name_key: String,
        /// The key of the tag, e.g. `tag`.
        tag_key: String,
    },
    /// A name and a tag as siblings in the map at the values path.
    SiblingNameTag {
        /// The key of the name, e.g. `image`.
        name_key: String,
        /// The key of the tag, e.g. `tag`.
        tag_key: String,
    },
    /// Listed in a Chart.yaml annotation.
    Annotation {
        /// The annotation, e.g. `artifacthub.io/images`.
        key: String,
        /// The entry's `name`, when it has one.
        name: Option<String>,
    },
    /// Listed in `[images] include`.
    Include,
    /// Rendered, but no value controls it: written into a template (the first template and
    /// object that render it).
    Rendered {
        /// `template (Kind/name)`.
        place: String,
    },
}

/// A values path that holds image pull secrets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PullSecretPath {
    /// The path in the root chart's values, in [`ValuePath`] syntax, e.g. `image.pullSecrets`.
    pub values_path: String,
    /// The name of the chart whose values or templates use it.
    pub chart: String,
    /// The key is present in the values.
    pub in_values: bool,
    /// The chart's templates read it.
    pub in_templates: bool,
}

/// Something discovery could not understand.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DiscoveryProblem {
    /// Where.
    pub site: ProblemSite,
    /// What.
    pub kind: DiscoveryProblemKind,
}

/// Where a discovery problem is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProblemSite {
    /// A chart's values.
    Values {
        /// The chart's name.
        chart: String,
        /// The values path (of the string, or of the map), as in [`ImageSource::values_path`].
        values_path: String,
    },
    /// A Chart.yaml annotation.
    Annotation {
        /// The chart's name.
        chart: String,
        /// The annotation key.
        key: String,
    },
    /// An entry of `[images] include` (0-based).
    Include {
        /// The entry's index.
        index: usize,
    },
    /// An entry of `[images] exclude` (0-based).
    Exclude {
        /// The entry's index.
        index: usize,
    },
    /// A rendered object.
    Rendered {
        /// `template (Kind/name)`.
        place: String,
    },
    /// `helmkots.lock`.
    Lock,
}

/// The kinds of discovery problems.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DiscoveryProblemKind {
    /// The text (as written, or as assembled from a map) is not a valid reference.
    InvalidReference {
        /// The parse error, with the text and the offset of the mistake.
        error: ImageRefError,
    },
    /// An image map or sibling name has an empty or missing tag, no digest, and no template
    /// falls back to the chart's `appVersion` (or one does, but the chart has none).
    MissingTag {
        /// The image without its tag, as written (what `[images] exclude` matches).
        image: String,
        /// The values path of the tag.
        tag_path: String,
        /// The key that should hold the tag.
        tag_key: String,
        /// The templates fall back to `.Chart.AppVersion`, but the chart has no `appVersion`.
        app_version_fallback: bool,
    },
    /// An image annotation that is not a YAML list of strings or `{name, image}` maps.
    InvalidAnnotation {
        /// What is wrong.
        reason: String,
    },
    /// An exclude pattern that matched nothing.
    UnusedExclude {
        /// The pattern.
        pattern: String,
    },
    /// A rendered image whose values cannot point it at the local registry (not fatal: the
    /// proof names it if it is deployed).
    NotRewritable {
        /// Why.
        reason: String,
    },
    /// No Helm on PATH, and the renders `helmkots.lock` records were made from another chart
    /// or configuration: discovery read the values only.
    StaleRenders,
    /// A values find that no proved configuration renders would take the place of another
    /// image in the customer's registry: it is left out of the bundle.
    LeftOut {
        /// The image left out.
        image: String,
        /// The image it collides with.
        collides_with: String,
    },
    /// An image site of the values without a tag that no configuration of the Config screen
    /// renders: there is nothing to bundle until something sets its tag.
    UntaggedGuess {
        /// The key that should hold the tag.
        tag_key: String,
    },
}

impl DiscoveryProblemKind {
    /// Problems that do not stop a release: the proof judges what they mean.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            DiscoveryProblemKind::UnusedExclude { .. }
                | DiscoveryProblemKind::NotRewritable { .. }
                | DiscoveryProblemKind::StaleRenders
                | DiscoveryProblemKind::LeftOut { .. }
                | DiscoveryProblemKind::UntaggedGuess { .. }
        )
    }
}

impl ImageSet {
    /// The references of the images, in order.
    pub fn references(&self) -> impl Iterator<Item = &ImageRef> {
        self.images.iter().map(|image| &image.reference)
    }
}

impl DiscoveredImage {
    /// How the image was found, over all its sources: `both` when values and renders agree.
    pub fn found_by(&self) -> FoundBy {
        let kinds: BTreeSet<FoundBy> = self.sources.iter().map(|source| source.found_by).collect();
        let values = kinds.contains(&FoundBy::Values);
        let rendered = kinds.contains(&FoundBy::Rendered);
        if kinds.contains(&FoundBy::Both) || (values && rendered) {
            FoundBy::Both
        } else {
            // The first of values, rendered, annotation, include.
            kinds.into_iter().next().unwrap_or(FoundBy::Include)
        }
    }
}

impl fmt::Display for ProblemSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemSite::Values { chart, values_path } => {
                write!(f, "chart `{chart}`, values `{values_path}`")
            }
            ProblemSite::Annotation { chart, key } => write!(f, "chart `{chart}`, annotation `{key}`"),
            ProblemSite::Include { index } => write!(f, "[images] include[{index}]"),
            ProblemSite::Exclude { index } => write!(f, "[images] exclude[{index}]"),
            ProblemSite::Rendered { place } => write!(f, "rendered {place}"),
            ProblemSite::Lock => f.write_str(crate::input::IMAGE_LOCK_FILE),
        }
    }
}

impl fmt::Display for DiscoveryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.site)?;
        match &self.kind {
            DiscoveryProblemKind::InvalidReference { error } => write!(f, "{error}"),
            DiscoveryProblemKind::MissingTag { image, tag_path, tag_key, app_version_fallback: false } => write!(
                f,
                "`{tag_key}` of `{image}` is empty, there is no digest, and no template falls back to \
                 .Chart.AppVersion; set `{tag_path}` in [chart] values, or leave the image out with \
                 [images] exclude = [\"{image}\"]"
            ),
            DiscoveryProblemKind::MissingTag { image, tag_path, tag_key, app_version_fallback: true } => write!(
                f,
                "`{tag_key}` of `{image}` is empty and the templates fall back to .Chart.AppVersion, \
                 but the chart has no appVersion; set `{tag_path}` in [chart] values, or leave the image out \
                 with [images] exclude = [\"{image}\"]"
            ),
            DiscoveryProblemKind::InvalidAnnotation { reason } => write!(f, "{reason}"),
            DiscoveryProblemKind::UnusedExclude { pattern } => {
                write!(f, "exclude pattern `{pattern}` matches no image")
            }
            DiscoveryProblemKind::NotRewritable { reason } => write!(f, "{reason}"),
            DiscoveryProblemKind::LeftOut { image, collides_with } => write!(
                f,
                "`{image}` is not rendered by any configuration of the Config screen and would take the \
                 place of `{collides_with}` in the customer's registry (same last path component): left out of \
                 the bundle; if a customer needs it, make it reachable from the Config screen or list it in \
                 [images] include"
            ),
            DiscoveryProblemKind::UntaggedGuess { tag_key } => write!(
                f,
                "`{tag_key}` is empty and no configuration of the Config screen renders this image: \
                 nothing is bundled for it; if a customer can turn it on, set its tag in [chart] values \
                 (or list the image in [images] include)"
            ),
            DiscoveryProblemKind::StaleRenders => write!(
                f,
                "its renders were made from another chart or configuration, and no `helm` is on PATH to \
                 render again: discovery read the values only (run `cargo xtask release` with helm on PATH to \
                 record them again)"
            ),
        }
    }
}

/// Finds every image of `chart` and its vendored subcharts from their values alone;
/// `include` are extra references and `exclude` glob patterns, both from `[images]`.
pub fn discover(chart: &Chart, include: &[String], exclude: &[String]) -> ImageSet {
    discover_with(chart, &DiscoverOptions { include, exclude, ..DiscoverOptions::default() })
}

/// What discovery reads besides the chart.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscoverOptions<'a> {
    /// `[chart] values`, merged over the root chart's values as the generated values file
    /// merges them.
    pub chart_values: Option<&'a Value>,
    /// `[images] include`.
    pub include: &'a [String],
    /// `[images] exclude`.
    pub exclude: &'a [String],
    /// What rendered discovery found, merged with the values' finds.
    pub rendered: Option<&'a rendered::RenderedDiscovery>,
    /// `[images] ship_test_images`.
    pub ship_test_images: bool,
    /// `rendered` was read from `helmkots.lock`, not rendered now.
    pub rendered_from_lock: bool,
    /// `helmkots.lock` holds renders of other inputs and none could be made now.
    pub stale_renders: bool,
    /// The renders made now, as `helmkots.lock` records them.
    pub record: Option<&'a rendered::RenderedRecord>,
    /// What the renders made now cost.
    pub cost: Option<rendered::RenderCost>,
}

/// Finds every image of `chart`: its values (with `[chart] values` over them) and, when
/// given, what Helm rendered, merged into one set; see the module documentation.
pub fn discover_with(chart: &Chart, options: &DiscoverOptions<'_>) -> ImageSet {
    let (include, exclude) = (options.include, options.exclude);
    let mut views = Vec::new();
    collect_views(chart, Vec::new(), options.chart_values.and_then(Value::as_object), None, &mut views);

    let mut found = Found::default();
    for view in &views {
        walk_values(view, &mut found);
        find_pull_secrets(view, &mut found);
        read_annotations(view, &mut found);
    }

    let mut problems: BTreeSet<DiscoveryProblem> = BTreeSet::new();
    let mut images: BTreeMap<ImageRef, BTreeSet<ImageSource>> = BTreeMap::new();
    // References whose every rendering is a `helm test` pod.
    let mut test_only: BTreeSet<ImageRef> = BTreeSet::new();
    if let Some(rendered) = options.rendered {
        merge_rendered(chart, rendered, &mut found, &mut images, &mut problems, &mut test_only);
    }
    for candidate in found.candidates.into_values().chain(found.annotations) {
        match candidate {
            Candidate::Image(reference, source) => {
                images.entry(reference).or_default().insert(source);
            }
            Candidate::Problem(problem) => {
                problems.insert(problem);
            }
        }
    }

    // Exclude first, then include, so that an explicit include always stays.
    let mut used_patterns = vec![false; exclude.len()];
    let mut excluded = Vec::new();
    images.retain(|reference, sources| {
        let Some(index) = exclude.iter().position(|pattern| excludes(pattern, reference)) else {
            return true;
        };
        used_patterns[index] = true;
        let image =
            DiscoveredImage { reference: reference.clone(), sources: sources.iter().cloned().collect() };
        excluded.push(ExcludedImage { image, pattern: exclude[index].clone() });
        false
    });
    problems.retain(|problem| {
        // An invalid reference by its raw text, an untagged one by its name.
        let text = match &problem.kind {
            DiscoveryProblemKind::InvalidReference { error } => &error.input,
            DiscoveryProblemKind::MissingTag { image, .. } => image,
            _ => return true,
        };
        match exclude.iter().position(|pattern| excludes_name(pattern, text)) {
            Some(index) => {
                used_patterns[index] = true;
                false
            }
            None => true,
        }
    });
    for (index, text) in include.iter().enumerate() {
        match ImageRef::parse(text) {
            Ok(reference) => {
                let source = ImageSource {
                    chart: None,
                    values_path: None,
                    shape: ImageShape::Include,
                    tag_from_app_version: false,
                    found_by: FoundBy::Include,
                };
                test_only.remove(&reference);
                images.entry(reference).or_default().insert(source);
            }
            Err(error) => {
                let kind = DiscoveryProblemKind::InvalidReference { error };
                problems.insert(DiscoveryProblem { site: ProblemSite::Include { index }, kind });
            }
        }
    }
    if options.stale_renders {
        problems
            .insert(DiscoveryProblem { site: ProblemSite::Lock, kind: DiscoveryProblemKind::StaleRenders });
    }
    for (index, pattern) in exclude.iter().enumerate() {
        if !used_patterns[index] {
            let kind = DiscoveryProblemKind::UnusedExclude { pattern: pattern.clone() };
            problems.insert(DiscoveryProblem { site: ProblemSite::Exclude { index }, kind });
        }
    }

    if options.rendered.is_some() {
        leave_out_colliding_guesses(&mut images, &mut problems);
        // Helm rendered every configuration, and none renders these sites: not an error.
        problems = problems
            .into_iter()
            .map(|problem| match problem.kind {
                DiscoveryProblemKind::MissingTag { tag_key, app_version_fallback: false, .. } => {
                    DiscoveryProblem {
                        site: problem.site,
                        kind: DiscoveryProblemKind::UntaggedGuess { tag_key },
                    }
                }
                kind => DiscoveryProblem { site: problem.site, kind },
            })
            .collect();
    }
    let (mut bundled, mut tests) = (Vec::new(), Vec::new());
    for (reference, sources) in images {
        // Only a rendered-only image can be test-only: a values or annotation find may be
        // deployed in a configuration the cover does not reach.
        let only_tests = test_only.contains(&reference)
            && sources
                .iter()
                .all(|source| source.found_by == FoundBy::Rendered || source.found_by == FoundBy::Both);
        let image = DiscoveredImage { reference, sources: sources.into_iter().collect() };
        if only_tests && !options.ship_test_images {
            tests.push(image);
        } else {
            bundled.push(image);
        }
    }
    ImageSet {
        images: bundled,
        test_only: tests,
        tag_pins: options.rendered.map(|rendered| rendered.tag_pins.clone()).unwrap_or_default(),
        rendered: options.rendered.map(|rendered| RenderSummary {
            from_lock: options.rendered_from_lock,
            record: options.record.cloned(),
            configurations: rendered.configurations,
            renders: rendered.renders,
            failures: rendered.failures.clone(),
            cost: options.cost,
        }),
        excluded,
        pull_secret_paths: found.pull_secrets.into_values().collect(),
        problems: problems.into_iter().collect(),
    }
}

/// What one values path or annotation entry yields.
enum Candidate {
    /// An image and where it was found.
    Image(ImageRef, ImageSource),
    /// The problem that stood in the way.
    Problem(DiscoveryProblem),
}

/// What the walks collect, keyed so that the first chart to report a path wins (a `global`
/// path is seen by every chart).
#[derive(Default)]
struct Found {
    /// Keyed by values path and, for sibling names, the name key.
    pub(super) candidates: BTreeMap<(String, String), Candidate>,
    /// Annotation entries (they have no values path; duplicates merge as equal sources).
    pub(super) annotations: Vec<Candidate>,
    /// Keyed by values path.
    pub(super) pull_secrets: BTreeMap<String, PullSecretPath>,
}

/// True when `pattern` matches `text` as written, or the reference it names with a
/// placeholder tag in its normalised, canonical and familiar forms (`*app-a*` and
/// `ghcr.io/acme/app-a` both exclude an untagged `ghcr.io/acme/app-a`).
fn excludes_name(pattern: &str, text: &str) -> bool {
    glob_match(pattern, text)
        || ImageRef::parse(&format!("{text}:x")).is_ok_and(|reference| excludes(pattern, &reference))
}

/// True when `pattern` matches one of the spellings of `reference`.
fn excludes(pattern: &str, reference: &ImageRef) -> bool {
    [
        reference.to_string(),
        reference.canonical(),
        reference.familiar(),
        reference.repository(),
        reference.familiar_name(),
    ]
    .iter()
    .any(|spelling| glob_match(pattern, spelling))
}
