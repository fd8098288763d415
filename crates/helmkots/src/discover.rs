//! Image discovery: every container image a chart can pull, found in its values, with where it
//! came from and how it is written.
//!
//! Data flow: [`Chart`] (with vendored subcharts) + `[images] include/exclude` → [`discover`]
//! → [`ImageSet`]. The set feeds the image rewrites in `kots-values.yaml` (which need the
//! values path and the *shape* of each image, because a `{repository, tag}` map is rewritten
//! differently from a single string), `additionalImages` in the KOTS Application, the image
//! pull into the airgap bundle, and `cargo xtask images --json`.
//!
//! # Which values are walked
//!
//! The root chart's values, and every vendored subchart's own `values.yaml` under the key the
//! parent uses for it (its alias, else its name), coalesced as Helm 4 does
//! (`chart::charts_with_values`, with `[chart] values` as the user's values): the parent wins;
//! a parent's `null` does not remove a subchart default, a user's does; recursively. `global`
//! is shared: each subchart sees its parent's `global` merged over its own, and paths under
//! `global` are reported without a prefix. Subcharts are walked whether or not their
//! `condition` enables them, and so are disabled parts of a chart (`imageRenderer.enabled:
//! false`): an airgap bundle must hold every image the customer may turn on.
//!
//! # What counts as an image (the heuristics)
//!
//! An *image-named key* is `image` (any case), a camelCase key ending in `Image`
//! (`downloadDashboardsImage`), or one ending in `_image` / `-image`. Keys that merely start
//! with `image` (`imagePullPolicy`, `imageRenderer`) are not image-named.
//!
//! 1. **String** — a string under an image-named key is a reference (`image: "nginx:1.25"`).
//! 2. **Sibling name and tag** — such a string without its own `:tag`/`@digest`, next to a tag
//!    key (`tag` or `imageTag` beside `image`; `<key>Tag` beside any image-named key), is a
//!    name whose tag is the sibling (`testFramework.image: bats/bats` + `testFramework.tag`).
//!    The values path is the map holding both.
//! 3. **`{repository, tag}` map** — a map with a string `repository` is an image when its key
//!    is image-named or the map also has a `tag`, `registry` or `digest` key. `digest` or `sha`
//!    siblings give a digest (`sha: <hex>` means `sha256:<hex>`, as charts template
//!    `@sha256:{{ .sha }}`). A `repository` that is a URL (`://`) under a key that is not
//!    image-named is a Helm or Git repository, not an image.
//! 4. **`{registry, repository, tag, digest}` map** (Bitnami) — a map of rule 3 with a
//!    `registry` key; a non-empty `global.imageRegistry` replaces the registry, as Bitnami's
//!    `common.images.image` does.
//! 5. **Annotations** — `artifacthub.io/images` and `helm.sh/images` in Chart.yaml: a YAML list
//!    of strings or of `{name, image}` maps.
//! 6. **Include** — `[images] include` from release.toml, kept even when an exclude matches.
//!
//! Values that are empty (`image: ""`, `repository: ""`) are optional images that are not
//! configured and are skipped silently. Lists are walked too (`extraContainers[0].image`).
//! Numbers used as tags are rendered as Helm renders them (Go's `%v` of a float64, so `1.10`
//! is `1.1` and `20200101` is `2.0200101e+07`, which the grammar then rejects).
//!
//! An empty or missing tag falls back to the chart's `appVersion` only where the chart's own
//! templates do so: a template action that uses `default` with `.Chart.AppVersion` (optionally
//! through `printf "v%s" .Chart.AppVersion`) and names that values path
//! (`{{ .Values.image.tag | default .Chart.AppVersion }}`); the source then says
//! `tag_from_app_version`. Otherwise a missing tag is a problem. Template context changes
//! (`with .Values.image`, helpers taking `.Values.image` as an argument) are not followed.
//!
//! Every reference is parsed with [`ImageRef::parse`]; one that does not parse is reported as a
//! problem, never repaired. Exclude patterns (globs where `*` matches any run of characters,
//! `/` included, and `?` one character) are matched against the normalised, canonical and
//! familiar forms and against the repository alone (`busybox` excludes every busybox tag);
//! a pattern that matches the raw text of an invalid reference silences that problem.
//!
//! Pull-secret values (`imagePullSecrets`, `pullSecrets`, at any depth, `global` included) are
//! listed from the values and from the `.Values.…` paths the templates read, so that the
//! rewrites can point them at the KOTS pull secret.
//!
//! Architecture Invariant: no I/O and no Helm rendering; the chart is already loaded. Nothing
//! here fails: findings and problems are both data, and the caller decides what is fatal.

pub mod rendered;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::chart::Chart;
use crate::image_ref::{ImageRef, ImageRefError};
use crate::image_routing::glob_match;
use crate::value_path::{Segment, ValuePath};

/// The Chart.yaml annotations that list a chart's images.
pub const IMAGE_ANNOTATIONS: [&str; 2] = ["artifacthub.io/images", "helm.sh/images"];

/// Every image found, with provenance, plus what was excluded and what went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderSummary {
    /// The renders were read from `helmkots.lock` (no Helm on PATH).
    pub from_lock: bool,
    /// What `helmkots.lock` should record of renders made now (`None` when read from it).
    #[serde(skip)]
    pub record: Option<crate::image_lock::RenderedRecord>,
    /// Configurations rendered.
    pub configurations: usize,
    /// `helm template` runs.
    pub renders: usize,
    /// Configurations Helm refused, with its error.
    pub failures: Vec<String>,
}

/// How an image was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiscoveredImage {
    /// The normalised reference.
    pub reference: ImageRef,
    /// Where it was found, sorted; never empty.
    pub sources: Vec<ImageSource>,
}

/// An image dropped by an exclude pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExcludedImage {
    /// The image as it would have been listed.
    pub image: DiscoveredImage,
    /// The first pattern that matched it.
    pub pattern: String,
}

/// One place an image was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DiscoveryProblem {
    /// Where.
    pub site: ProblemSite,
    /// What.
    pub kind: DiscoveryProblemKind,
}

/// Where a discovery problem is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "in", rename_all = "snake_case")]
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
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
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
            ProblemSite::Lock => f.write_str(crate::image_lock::FILE_NAME),
        }
    }
}

impl fmt::Display for DiscoveryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.site)?;
        match &self.kind {
            DiscoveryProblemKind::InvalidReference { error } => write!(f, "{error}"),
            DiscoveryProblemKind::MissingTag { tag_key, app_version_fallback: false } => write!(
                f,
                "`{tag_key}` is empty, there is no digest, and no template falls back to \
                 .Chart.AppVersion; set the tag, or list the image in [images] include"
            ),
            DiscoveryProblemKind::MissingTag { tag_key, app_version_fallback: true } => write!(
                f,
                "`{tag_key}` is empty and the templates fall back to .Chart.AppVersion, \
                 but the chart has no appVersion"
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
    pub record: Option<&'a crate::image_lock::RenderedRecord>,
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
        let DiscoveryProblemKind::InvalidReference { error } = &problem.kind else { return true };
        match exclude.iter().position(|pattern| glob_match(pattern, &error.input)) {
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
        }),
        excluded,
        pull_secret_paths: found.pull_secrets.into_values().collect(),
        problems: problems.into_iter().collect(),
    }
}

/// Merges what Helm rendered into the values' finds: a rendered image mapped to a values site
/// replaces what values-walking made of that site (Helm's tag fallbacks, helpers and globals
/// are right by construction; a problem values-walking had there is gone); a rendered image
/// that no value controls is kept as written into its template.
fn merge_rendered(
    chart: &Chart,
    rendered: &rendered::RenderedDiscovery,
    found: &mut Found,
    images: &mut BTreeMap<ImageRef, BTreeSet<ImageSource>>,
    problems: &mut BTreeSet<DiscoveryProblem>,
    test_only: &mut BTreeSet<ImageRef>,
) {
    let mut deployed: BTreeSet<ImageRef> = BTreeSet::new();
    // What values-walking made of each site the renders mapped.
    let mut replaced: BTreeMap<String, Vec<(ImageRef, Option<String>)>> = BTreeMap::new();
    for find in &rendered.finds {
        let Some(site) = &find.site else { continue };
        if replaced.contains_key(&site.values_path) {
            continue;
        }
        // Values-walking keys a site by its path and, for a sibling name, the name's key.
        let name_key = match &site.shape {
            ImageShape::SiblingNameTag { name_key, .. } | ImageShape::RegistryNameTag { name_key, .. } => {
                name_key.clone()
            }
            _ => String::new(),
        };
        let mut previous = Vec::new();
        if let Some(Candidate::Image(reference, source)) =
            found.candidates.remove(&(site.values_path.clone(), name_key))
        {
            previous.push((reference, source.chart));
        }
        replaced.insert(site.values_path.clone(), previous);
    }
    for find in &rendered.finds {
        let source = match &find.site {
            Some(site) => {
                let previous = replaced.get(&site.values_path).map(Vec::as_slice).unwrap_or_default();
                let same = previous.iter().find(|(reference, _)| *reference == find.reference);
                ImageSource {
                    chart: previous
                        .first()
                        .and_then(|(_, chart)| chart.clone())
                        .or_else(|| Some(chart.metadata.name.clone())),
                    values_path: Some(site.values_path.clone()),
                    shape: site.shape.clone(),
                    tag_from_app_version: false,
                    found_by: if same.is_some() { FoundBy::Both } else { FoundBy::Rendered },
                }
            }
            None => {
                if let Some(reason) = &find.unmappable {
                    let place = find.places.iter().next().cloned().unwrap_or_default();
                    problems.insert(DiscoveryProblem {
                        site: ProblemSite::Rendered { place },
                        kind: DiscoveryProblemKind::NotRewritable { reason: reason.clone() },
                    });
                }
                ImageSource {
                    chart: Some(chart.metadata.name.clone()),
                    values_path: None,
                    shape: ImageShape::Rendered {
                        place: find.places.iter().next().cloned().unwrap_or_default(),
                    },
                    tag_from_app_version: false,
                    found_by: FoundBy::Rendered,
                }
            }
        };
        images.entry(find.reference.clone()).or_default().insert(source);
        if find.test_only {
            test_only.insert(find.reference.clone());
        } else {
            deployed.insert(find.reference.clone());
        }
    }
    test_only.retain(|reference| !deployed.contains(reference));
}

/// Once Helm has rendered the chart, a values find no configuration renders is a guess about
/// a part the Config screen does not reach; where it would collide with another image in the
/// customer's registry (KOTS keeps only the last path component), it is left out, said so.
fn leave_out_colliding_guesses(
    images: &mut BTreeMap<ImageRef, BTreeSet<ImageSource>>,
    problems: &mut BTreeSet<DiscoveryProblem>,
) {
    let guess =
        |sources: &BTreeSet<ImageSource>| sources.iter().all(|source| source.found_by == FoundBy::Values);
    let mut by_last: BTreeMap<String, Vec<(ImageRef, bool)>> = BTreeMap::new();
    for (reference, sources) in images.iter() {
        by_last
            .entry(reference.last_component().to_string())
            .or_default()
            .push((reference.clone(), guess(sources)));
    }
    for group in by_last.values() {
        let repositories: BTreeSet<String> =
            group.iter().map(|(reference, _)| reference.repository()).collect();
        if repositories.len() < 2 {
            continue;
        }
        // Keep the certain ones; if every one is a guess, keep the first.
        let keep: &ImageRef =
            group.iter().find(|(_, guess)| !guess).map_or(&group[0].0, |(reference, _)| reference);
        for (reference, is_guess) in group {
            if *is_guess && reference.repository() != keep.repository() {
                let sources = images.remove(reference).unwrap_or_default();
                let source = sources.iter().next();
                problems.insert(DiscoveryProblem {
                    site: ProblemSite::Values {
                        chart: source.and_then(|s| s.chart.clone()).unwrap_or_default(),
                        values_path: source.and_then(|s| s.values_path.clone()).unwrap_or_default(),
                    },
                    kind: DiscoveryProblemKind::LeftOut {
                        image: reference.familiar(),
                        collides_with: keep.familiar(),
                    },
                });
            }
        }
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
    candidates: BTreeMap<(String, String), Candidate>,
    /// Annotation entries (they have no values path; duplicates merge as equal sources).
    annotations: Vec<Candidate>,
    /// Keyed by values path.
    pull_secrets: BTreeMap<String, PullSecretPath>,
}

/// One chart as its templates see it.
struct View<'a> {
    chart: &'a Chart,
    /// Where this chart's values sit in the root chart's values (empty for the root).
    prefix: Vec<Segment>,
    /// The chart's values.yaml under the parent's overrides, with the merged `global`.
    values: Map<String, Value>,
    /// Keys of `values` that belong to subcharts (walked as their own views).
    subchart_keys: BTreeSet<String>,
    /// Root values paths whose empty value the templates replace with the app version.
    app_version_fallbacks: BTreeMap<String, AppVersionFormat>,
    /// Root values paths of pull secrets that the templates read.
    template_pull_secrets: BTreeSet<String>,
}

/// How a template turns `.Chart.AppVersion` into a tag: `prefix + appVersion + suffix`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct AppVersionFormat {
    prefix: String,
    suffix: String,
}

impl View<'_> {
    fn chart_name(&self) -> String {
        self.chart.metadata.name.clone()
    }

    /// The root values path of a path relative to this chart's values.
    fn root_path(&self, relative: &[Segment]) -> Vec<Segment> {
        if matches!(relative.first(), Some(Segment::Key(key)) if key == "global") {
            return relative.to_vec();
        }
        self.prefix.iter().chain(relative).cloned().collect()
    }
}

/// Builds the view of `chart` and, recursively, of every effective subchart: its values as
/// Helm passes them to its templates, from the one port of Helm's coalescing
/// ([`crate::chart::charts_with_values`]), with `overrides` (`[chart] values`) given as the
/// user's values (they win over the chart's defaults, flow into subcharts under their key,
/// and a `null` there removes a default, as with `helm template -f`).
///
/// Where the values give a subchart's key something other than a map (Helm refuses to
/// install them), the subchart is still walked, under an empty map in its place. The keys
/// that a chart's own values.yaml declares `null`, which Helm drops, are put back as `null`
/// for the heuristics ([`restore_declared_nulls`]).
///
/// `prefix` is prepended to every view's prefix, and `parent_global` must be `None`: the
/// views start at the release's root chart, and `global` comes from the coalescing.
fn collect_views<'a>(
    chart: &'a Chart,
    prefix: Vec<Segment>,
    overrides: Option<&Map<String, Value>>,
    parent_global: Option<&Map<String, Value>>,
    views: &mut Vec<View<'a>>,
) {
    debug_assert!(parent_global.is_none(), "views start at the release's root chart");
    // Values built in code can nest deeper than any values.yaml (the parser stops at
    // MAX_VALUES_DEPTH); Helm's coalescing recurses, so such a chart is walked as it is.
    let too_deep = |value: &Value| deeper_than(value, MAX_VALUES_DEPTH);
    if too_deep(&chart.values) || overrides.is_some_and(|o| o.values().any(too_deep)) {
        let values = chart.values.as_object().cloned().unwrap_or_default();
        let (app_version_fallbacks, template_pull_secrets) = scan_templates(chart, &prefix);
        views.push(View {
            chart,
            prefix,
            values,
            subchart_keys: BTreeSet::new(),
            app_version_fallbacks,
            template_pull_secrets,
        });
        return;
    }
    let no_overrides = Map::new();
    let charts = crate::chart::charts_with_values(
        chart,
        overrides.unwrap_or(&no_overrides),
        crate::chart::OnMismatch::Replace,
    )
    .unwrap_or_else(|error| unreachable!("coalescing with OnMismatch::Replace cannot fail: {error}"));
    for crate::chart::ChartValues { path, chart, mut values, subchart_keys } in charts {
        if let Value::Object(declared) = &chart.values {
            for (key, default) in declared.iter().filter(|(key, _)| !subchart_keys.contains(*key)) {
                restore_declared_nulls(&mut values, key, default);
            }
        }
        let prefix: Vec<Segment> = prefix.iter().cloned().chain(path.into_iter().map(Segment::Key)).collect();
        let (app_version_fallbacks, template_pull_secrets) = scan_templates(chart, &prefix);
        views.push(View {
            chart,
            prefix,
            values,
            subchart_keys,
            app_version_fallbacks,
            template_pull_secrets,
        });
    }
}

/// True when `value` nests maps or lists more than `limit` levels deep (without recursion).
fn deeper_than(value: &Value, limit: usize) -> bool {
    let mut pending = vec![(value, 0usize)];
    while let Some((value, depth)) = pending.pop() {
        if depth > limit {
            return true;
        }
        match value {
            Value::Object(map) => pending.extend(map.values().map(|child| (child, depth + 1))),
            Value::Array(items) => pending.extend(items.iter().map(|child| (child, depth + 1))),
            _ => {}
        }
    }
    false
}

/// Puts `key` back as `null` in `values` (and so on down `default`'s maps) where the chart's
/// values.yaml declares it `null` and Helm's coalescing dropped it (Helm 4.2 drops every
/// `null` default), when the map that held it is still there. `.Values.image.tag` is nil
/// either way, so the values the templates read do not change; but the heuristics read a
/// declared key as the author's intent: `tag:` (null) beside `image:` makes a name with a
/// sibling tag, and beside `repository:` an image map.
fn restore_declared_nulls(values: &mut Map<String, Value>, key: &str, default: &Value) {
    match (default, values.get_mut(key)) {
        (Value::Null, None) => {
            values.insert(key.to_string(), Value::Null);
        }
        (Value::Object(declared), Some(Value::Object(values))) => {
            for (key, default) in declared {
                restore_declared_nulls(values, key, default);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Values walk.

/// Walks a view's values, except the subcharts' keys.
fn walk_values(view: &View<'_>, found: &mut Found) {
    for (key, value) in &view.values {
        if view.subchart_keys.contains(key) {
            continue;
        }
        let mut path = view.root_path(&[Segment::Key(key.clone())]);
        walk_entry(view, &view.values, key, value, &mut path, found);
    }
}

/// Looks at one map entry; `path` already ends with `key`.
fn walk_entry(
    view: &View<'_>,
    parent: &Map<String, Value>,
    key: &str,
    value: &Value,
    path: &mut Vec<Segment>,
    found: &mut Found,
) {
    match value {
        Value::String(text) if is_image_key(key) && !text.is_empty() => {
            let (candidate_key, candidate) = string_image(view, parent, key, text, path);
            found.candidates.entry(candidate_key).or_insert(candidate);
        }
        Value::Object(map) => walk_object(view, Some(key), map, path, found),
        Value::Array(items) => walk_list(view, items, path, found),
        _ => {}
    }
}

/// Records a map that is an image, or else walks into it.
fn walk_object(
    view: &View<'_>,
    key: Option<&str>,
    map: &Map<String, Value>,
    path: &mut Vec<Segment>,
    found: &mut Found,
) {
    if !image_map(view, key, map, path, found) {
        walk_map(view, map, path, found);
    }
}

/// Values deeper than this are not walked. A values.yaml cannot get near it (the YAML parser
/// stops at 64 levels); it keeps values built in code from overflowing the stack.
const MAX_VALUES_DEPTH: usize = 256;

fn walk_map(view: &View<'_>, map: &Map<String, Value>, path: &mut Vec<Segment>, found: &mut Found) {
    if path.len() > MAX_VALUES_DEPTH {
        return;
    }
    for (key, value) in map {
        path.push(Segment::Key(key.clone()));
        walk_entry(view, map, key, value, path, found);
        path.pop();
    }
}

fn walk_list(view: &View<'_>, items: &[Value], path: &mut Vec<Segment>, found: &mut Found) {
    if path.len() > MAX_VALUES_DEPTH {
        return;
    }
    for (index, item) in items.iter().enumerate() {
        path.push(Segment::Index(index));
        match item {
            Value::Object(map) => walk_object(view, None, map, path, found),
            Value::Array(inner) => walk_list(view, inner, path, found),
            _ => {}
        }
        path.pop();
    }
}

/// `image`, `fooImage`, `foo_image`, `foo-image`.
fn is_image_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower == "image" || key.ends_with("Image") || lower.ends_with("_image") || lower.ends_with("-image")
}

/// A string under an image-named key: a whole reference, or a name with a sibling tag.
fn string_image(
    view: &View<'_>,
    parent: &Map<String, Value>,
    key: &str,
    text: &str,
    path: &[Segment],
) -> ((String, String), Candidate) {
    let parent_path = &path[..path.len() - 1];
    let tag_keys = if key.eq_ignore_ascii_case("image") {
        vec!["tag".to_string(), format!("{key}Tag")]
    } else {
        vec![format!("{key}Tag")]
    };
    let sibling_tag = tag_keys.into_iter().find(|tag_key| parent.contains_key(tag_key));
    let Some(tag_key) = sibling_tag.filter(|_| !has_explicit_tag_or_digest(text)) else {
        let values_path = render_path(path);
        let source = values_source(view, &values_path, ImageShape::String, false);
        let candidate = parse_candidate(view, text, values_path.clone(), source);
        return ((values_path, String::new()), candidate);
    };

    let values_path = render_path(parent_path);
    let mut tag_path = parent_path.to_vec();
    tag_path.push(Segment::Key(tag_key.clone()));
    // `{registry, image, tag}`: the registry beside the name is part of the image.
    let registry = parent.get("registry").and_then(Value::as_str).filter(|registry| !registry.is_empty());
    let shape = match registry {
        Some(_) => ImageShape::RegistryNameTag { name_key: key.to_string(), tag_key: tag_key.clone() },
        None => ImageShape::SiblingNameTag { name_key: key.to_string(), tag_key: tag_key.clone() },
    };
    let text = match registry {
        Some(registry) => format!("{}/{text}", registry.trim_end_matches('/')),
        None => text.to_string(),
    };
    let candidate_key = (values_path.clone(), key.to_string());
    let tag = match resolve_tag(view, parent.get(&tag_key), &tag_path) {
        Ok(tag) => tag,
        Err(kind) => {
            let site = ProblemSite::Values { chart: view.chart_name(), values_path };
            return (candidate_key, Candidate::Problem(DiscoveryProblem { site, kind }));
        }
    };
    let source = values_source(view, &values_path, shape, tag.from_app_version);
    let candidate = parse_candidate(view, &format!("{text}:{}", tag.text), values_path, source);
    (candidate_key, candidate)
}

/// A tag and whether it came from the app version.
struct Tag {
    text: String,
    from_app_version: bool,
}

/// The tag at `tag_path` (relative root path), or the app version where the templates fall
/// back to it, or a `MissingTag` problem.
fn resolve_tag(
    view: &View<'_>,
    value: Option<&Value>,
    tag_path: &[Segment],
) -> Result<Tag, DiscoveryProblemKind> {
    if let Some(text) = value.and_then(scalar_text).filter(|text| !text.is_empty()) {
        return Ok(Tag { text, from_app_version: false });
    }
    let tag_key = match tag_path.last() {
        Some(Segment::Key(key)) => key.clone(),
        _ => String::new(),
    };
    let Some(format) = view.app_version_fallbacks.get(&render_path(tag_path)) else {
        return Err(DiscoveryProblemKind::MissingTag { tag_key, app_version_fallback: false });
    };
    match view.chart.metadata.app_version.as_deref().filter(|version| !version.is_empty()) {
        Some(version) => {
            Ok(Tag { text: format!("{}{version}{}", format.prefix, format.suffix), from_app_version: true })
        }
        None => Err(DiscoveryProblemKind::MissingTag { tag_key, app_version_fallback: true }),
    }
}

/// Recognises an image map (shapes 3 and 4) at `path` and records it; returns whether the
/// map was one (then its children are fields, not walked).
fn image_map(
    view: &View<'_>,
    key: Option<&str>,
    map: &Map<String, Value>,
    path: &[Segment],
    found: &mut Found,
) -> bool {
    let Some(Value::String(repository)) = map.get("repository") else { return false };
    let key_is_image = key.is_some_and(is_image_key);
    let has_image_fields = ["tag", "registry", "digest"].iter().any(|field| map.contains_key(*field));
    if !(key_is_image || has_image_fields) || path.is_empty() {
        return false;
    }
    if repository.contains("://") && !key_is_image {
        return false;
    }
    if repository.is_empty() {
        return true;
    }

    let values_path = render_path(path);
    let digest_key = ["digest", "sha"].into_iter().find(|field| map.contains_key(*field));
    let digest = digest_key
        .and_then(|field| map.get(field))
        .and_then(scalar_text)
        .filter(|digest| !digest.is_empty())
        .map(|digest| if digest.contains(':') { digest } else { format!("sha256:{digest}") });
    let (registry, shape) = if map.contains_key("registry") {
        let global_registry = view
            .values
            .get("global")
            .and_then(|global| global.get("imageRegistry"))
            .and_then(Value::as_str)
            .filter(|registry| !registry.is_empty());
        let uses_global_registry = global_registry.is_some();
        let registry = global_registry.or_else(|| map.get("registry").and_then(Value::as_str));
        let shape = ImageShape::RegistryRepositoryTag {
            digest_key: digest_key.map(str::to_string),
            uses_global_registry,
        };
        (registry.filter(|registry| !registry.is_empty()), shape)
    } else {
        (None, ImageShape::RepositoryTag { digest_key: digest_key.map(str::to_string) })
    };

    let mut tag_path = path.to_vec();
    tag_path.push(Segment::Key("tag".to_string()));
    let tag = match resolve_tag(view, map.get("tag"), &tag_path) {
        Ok(tag) => Some(tag),
        // A digest alone pins the image; the empty tag does not matter then.
        Err(_) if digest.is_some() => None,
        Err(kind) => {
            let site = ProblemSite::Values { chart: view.chart_name(), values_path: values_path.clone() };
            found
                .candidates
                .entry((values_path, String::new()))
                .or_insert(Candidate::Problem(DiscoveryProblem { site, kind }));
            return true;
        }
    };

    let mut text = match registry {
        Some(registry) => format!("{}/{repository}", registry.trim_end_matches('/')),
        None => repository.clone(),
    };
    if let Some(tag) = &tag {
        text.push(':');
        text.push_str(&tag.text);
    }
    if let Some(digest) = &digest {
        text.push('@');
        text.push_str(digest);
    }
    let from_app_version = tag.as_ref().is_some_and(|tag| tag.from_app_version);
    let source = values_source(view, &values_path, shape, from_app_version);
    let candidate = parse_candidate(view, &text, values_path.clone(), source);
    found.candidates.entry((values_path, String::new())).or_insert(candidate);
    true
}

fn values_source(
    view: &View<'_>,
    values_path: &str,
    shape: ImageShape,
    tag_from_app_version: bool,
) -> ImageSource {
    ImageSource {
        chart: Some(view.chart_name()),
        values_path: Some(values_path.to_string()),
        shape,
        tag_from_app_version,
        found_by: FoundBy::Values,
    }
}

fn parse_candidate(view: &View<'_>, text: &str, values_path: String, source: ImageSource) -> Candidate {
    match ImageRef::parse(text) {
        Ok(reference) => Candidate::Image(reference, source),
        Err(error) => {
            let site = ProblemSite::Values { chart: view.chart_name(), values_path };
            Candidate::Problem(DiscoveryProblem {
                site,
                kind: DiscoveryProblemKind::InvalidReference { error },
            })
        }
    }
}

/// True when the text carries its own `:tag` or `@digest`.
fn has_explicit_tag_or_digest(text: &str) -> bool {
    let after_slash = text.rsplit('/').next().unwrap_or(text);
    text.contains('@') || after_slash.contains(':')
}

/// A scalar as Helm renders it into a template: strings as they are, numbers as Go's `%v` of a
/// float64, booleans as `true`/`false`; `None` for null, lists and maps.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => number.as_f64().map(go_float_string),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Go's `fmt` `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits
/// that round-trip, in exponent form when the exponent is below -4 or at least 6.
fn go_float_string(number: f64) -> String {
    if !number.is_finite() {
        return if number.is_nan() {
            "NaN".to_string()
        } else if number > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        };
    }
    if number == 0.0 {
        return if number.is_sign_negative() { "-0".to_string() } else { "0".to_string() };
    }
    // Rust's `{:e}` gives the same shortest round-trip digits, e.g. `2.0200101e7`.
    let scientific = format!("{number:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        // Rust's `{}` prints the shortest round-trip digits without an exponent.
        number.to_string()
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// Renders a path in [`ValuePath`] syntax (`a."b.c"[0].d`); empty for the root.
fn render_path(path: &[Segment]) -> String {
    let mut text = String::new();
    let mut keys: Vec<String> = Vec::new();
    let flush = |text: &mut String, keys: &mut Vec<String>| {
        if !keys.is_empty() {
            if !text.is_empty() {
                text.push('.');
            }
            text.push_str(&ValuePath::from_keys(keys.drain(..)).to_string());
        }
    };
    for segment in path {
        match segment {
            Segment::Key(key) => keys.push(key.clone()),
            Segment::Index(index) => {
                flush(&mut text, &mut keys);
                text.push_str(&format!("[{index}]"));
            }
        }
    }
    flush(&mut text, &mut keys);
    text
}

// ---------------------------------------------------------------------------------------------
// Pull secrets.

/// Keys whose values are image pull secrets.
fn is_pull_secret_key(key: &str) -> bool {
    key == "imagePullSecrets" || key == "pullSecrets"
}

fn find_pull_secrets(view: &View<'_>, found: &mut Found) {
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

fn record_pull_secret(view: &View<'_>, values_path: String, in_values: bool, found: &mut Found) {
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

// ---------------------------------------------------------------------------------------------
// Templates.

/// Reads a chart's templates for `.Chart.AppVersion` fallbacks and pull-secret paths, both as
/// root values paths.
fn scan_templates(
    chart: &Chart,
    prefix: &[Segment],
) -> (BTreeMap<String, AppVersionFormat>, BTreeSet<String>) {
    let root_path = |relative: Vec<String>| -> String {
        let relative: Vec<Segment> = relative.into_iter().map(Segment::Key).collect();
        if matches!(relative.first(), Some(Segment::Key(key)) if key == "global") {
            render_path(&relative)
        } else {
            render_path(&prefix.iter().cloned().chain(relative).collect::<Vec<_>>())
        }
    };
    let mut fallbacks = BTreeMap::new();
    let mut pull_secrets = BTreeSet::new();
    for file in chart.files.iter().filter(|file| file.path.starts_with("templates/")) {
        let text = String::from_utf8_lossy(&file.data);
        for action in template_actions(&text) {
            let references = values_references(action);
            if action.contains(".Chart.AppVersion") && has_word(action, "default") {
                let format = app_version_format(action);
                for reference in &references {
                    fallbacks.entry(root_path(reference.clone())).or_insert_with(|| format.clone());
                }
            }
            for reference in references {
                if reference.last().is_some_and(|key| is_pull_secret_key(key)) {
                    pull_secrets.insert(root_path(reference));
                }
            }
        }
    }
    (fallbacks, pull_secrets)
}

/// The insides of the `{{ … }}` actions of a template, comments skipped.
fn template_actions(text: &str) -> Vec<&str> {
    let mut actions = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after_open = &rest[open + 2..];
        let Some(close) = after_open.find("}}") else { break };
        let action = after_open[..close].trim_start_matches('-').trim_end_matches('-').trim();
        if !action.starts_with("/*") {
            actions.push(action);
        }
        rest = &after_open[close + 2..];
    }
    actions
}

/// The `.Values.a.b.c` paths an action names, as keys.
fn values_references(action: &str) -> Vec<Vec<String>> {
    const MARKER: &str = ".Values.";
    let mut references = Vec::new();
    let mut rest = action;
    while let Some(start) = rest.find(MARKER) {
        rest = &rest[start + MARKER.len()..];
        let end =
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(rest.len());
        let keys: Vec<String> =
            rest[..end].split('.').take_while(|key| !key.is_empty()).map(str::to_string).collect();
        if !keys.is_empty() {
            references.push(keys);
        }
        rest = &rest[end..];
    }
    references
}

/// True when `word` appears in `text` as a whole identifier.
fn has_word(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$';
    text.match_indices(word).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// `printf "v%s" .Chart.AppVersion` gives prefix `v`; a bare `.Chart.AppVersion` gives none.
fn app_version_format(action: &str) -> AppVersionFormat {
    let Some(position) = action.find(".Chart.AppVersion") else { return AppVersionFormat::default() };
    let before = action[..position].trim_end_matches('$').trim_end();
    let Some(before_quote) = before.strip_suffix('"') else { return AppVersionFormat::default() };
    let Some(open) = before_quote.rfind('"') else { return AppVersionFormat::default() };
    let format = &before_quote[open + 1..];
    if !before_quote[..open].trim_end().ends_with("printf") {
        return AppVersionFormat::default();
    }
    let verb = ["%s", "%v"].into_iter().find(|verb| format.matches(verb).count() == 1);
    match verb {
        Some(verb) if format.matches('%').count() == 1 => {
            let (prefix, suffix) = format.split_once(verb).unwrap_or((format, ""));
            AppVersionFormat { prefix: prefix.to_string(), suffix: suffix.to_string() }
        }
        _ => AppVersionFormat::default(),
    }
}

// ---------------------------------------------------------------------------------------------
// Annotations.

fn read_annotations(view: &View<'_>, found: &mut Found) {
    for key in IMAGE_ANNOTATIONS {
        let Some(text) = view.chart.metadata.annotations.get(key) else { continue };
        let site = || ProblemSite::Annotation { chart: view.chart_name(), key: key.to_string() };
        let invalid = |reason: String| DiscoveryProblem {
            site: site(),
            kind: DiscoveryProblemKind::InvalidAnnotation { reason },
        };
        let entries = match serde_saphyr::from_str::<Value>(text) {
            Ok(Value::Array(entries)) => entries,
            Ok(Value::Null) => continue,
            Ok(_) => {
                found
                    .annotations
                    .push(Candidate::Problem(invalid("expected a YAML list of images".to_string())));
                continue;
            }
            Err(error) => {
                found.annotations.push(Candidate::Problem(invalid(format!("not YAML: {error}"))));
                continue;
            }
        };
        for (index, entry) in entries.iter().enumerate() {
            let (name, image) = match entry {
                Value::String(image) => (None, image.as_str()),
                Value::Object(map) => match map.get("image").and_then(Value::as_str) {
                    Some(image) => (map.get("name").and_then(Value::as_str).map(str::to_string), image),
                    None => {
                        found.annotations.push(Candidate::Problem(invalid(format!(
                            "entry {index} has no `image` string"
                        ))));
                        continue;
                    }
                },
                _ => {
                    found.annotations.push(Candidate::Problem(invalid(format!(
                        "entry {index} is neither a string nor a map with `image`"
                    ))));
                    continue;
                }
            };
            let candidate = match ImageRef::parse(image) {
                Ok(reference) => {
                    let shape = ImageShape::Annotation { key: key.to_string(), name };
                    let source = ImageSource {
                        chart: Some(view.chart_name()),
                        values_path: None,
                        shape,
                        tag_from_app_version: false,
                        found_by: FoundBy::Annotation,
                    };
                    Candidate::Image(reference, source)
                }
                Err(error) => Candidate::Problem(DiscoveryProblem {
                    site: site(),
                    kind: DiscoveryProblemKind::InvalidReference { error },
                }),
            };
            found.annotations.push(candidate);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Exclude patterns.

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{json, Value};

    use super::*;
    use crate::chart::{ChartFile, ChartMetadata, ChartOrigin, ChartType, DependencySpec};
    use crate::diagnostic::SourceFile;

    const SHA_HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// A chart built by hand: name, appVersion, values, templates (path under `templates/`,
    /// text), annotations, and subcharts with their optional alias.
    struct Spec<'a> {
        name: &'a str,
        app_version: Option<&'a str>,
        values: Value,
        templates: Vec<(&'a str, &'a str)>,
        annotations: Vec<(&'a str, &'a str)>,
        subcharts: Vec<(Option<&'a str>, Chart)>,
    }

    fn spec(values: Value) -> Spec<'static> {
        Spec {
            name: "demo",
            app_version: None,
            values,
            templates: vec![],
            annotations: vec![],
            subcharts: vec![],
        }
    }

    fn build(spec: Spec<'_>) -> Chart {
        let dependencies = spec
            .subcharts
            .iter()
            .map(|(alias, chart)| DependencySpec {
                name: chart.metadata.name.clone(),
                version: chart.metadata.version.to_string(),
                repository: None,
                alias: alias.map(str::to_string),
                condition: None,
                tags: vec![],
            })
            .collect();
        let mut vendored: Vec<Chart> = Vec::new();
        for (_, chart) in spec.subcharts {
            if !vendored.iter().any(|known| known.metadata.name == chart.metadata.name) {
                vendored.push(chart);
            }
        }
        Chart {
            origin: ChartOrigin::Directory(format!("charts/{}", spec.name).into()),
            metadata: ChartMetadata {
                api_version: "v2".into(),
                name: spec.name.into(),
                version: semver::Version::new(1, 0, 0),
                app_version: spec.app_version.map(str::to_string),
                chart_type: ChartType::Application,
                description: None,
                dependencies,
                annotations: spec.annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            },
            metadata_file: SourceFile::new("Chart.yaml", ""),
            values: spec.values,
            files: spec
                .templates
                .iter()
                .map(|(path, text)| ChartFile {
                    path: format!("templates/{path}"),
                    data: text.as_bytes().to_vec(),
                })
                .collect(),
            dependencies: vendored,
        }
    }

    /// The set as short lines, the form every test compares:
    /// `<familiar> <- <chart>:<path> <shape>[ +appVersion]`, `excluded …`, `pull secret …`,
    /// `problem …`.
    fn summary(set: &ImageSet) -> Vec<String> {
        let source_line = |source: &ImageSource| {
            let shape = match &source.shape {
                ImageShape::String => "string".to_string(),
                ImageShape::RepositoryTag { digest_key: None } => "repository_tag".to_string(),
                ImageShape::RepositoryTag { digest_key: Some(key) } => format!("repository_tag({key})"),
                ImageShape::RegistryRepositoryTag { digest_key, uses_global_registry } => format!(
                    "registry_repository_tag({}{})",
                    digest_key.as_deref().unwrap_or("-"),
                    if *uses_global_registry { ",global" } else { "" }
                ),
                ImageShape::SiblingNameTag { name_key, tag_key } => format!("sibling({name_key},{tag_key})"),
                ImageShape::RegistryNameTag { name_key, tag_key } => {
                    format!("registry_name({name_key},{tag_key})")
                }
                ImageShape::Annotation { key, name } => {
                    format!("annotation({key},{})", name.as_deref().unwrap_or("-"))
                }
                ImageShape::Include => "include".to_string(),
                ImageShape::Rendered { place } => format!("rendered({place})"),
            };
            format!(
                "{}:{} {shape}{}",
                source.chart.as_deref().unwrap_or("-"),
                source.values_path.as_deref().unwrap_or("-"),
                if source.tag_from_app_version { " +appVersion" } else { "" }
            )
        };
        let mut lines = Vec::new();
        for image in &set.images {
            let sources: Vec<String> = image.sources.iter().map(source_line).collect();
            lines.push(format!("{} <- {}", image.reference.familiar(), sources.join("; ")));
        }
        for excluded in &set.excluded {
            lines.push(format!("excluded {} by {}", excluded.image.reference.familiar(), excluded.pattern));
        }
        for secret in &set.pull_secret_paths {
            let seen = match (secret.in_values, secret.in_templates) {
                (true, true) => "values+templates",
                (true, false) => "values",
                _ => "templates",
            };
            lines.push(format!("pull secret {}:{} ({seen})", secret.chart, secret.values_path));
        }
        for problem in &set.problems {
            let kind = match &problem.kind {
                DiscoveryProblemKind::InvalidReference { error } => {
                    format!("invalid {:?}@{:?} in `{}`", error.reason, error.offset, error.input)
                }
                DiscoveryProblemKind::MissingTag { tag_key, app_version_fallback } => {
                    format!(
                        "missing tag {tag_key}{}",
                        if *app_version_fallback { " (no appVersion)" } else { "" }
                    )
                }
                DiscoveryProblemKind::InvalidAnnotation { reason } => format!("bad annotation: {reason}"),
                DiscoveryProblemKind::UnusedExclude { pattern } => format!("unused exclude {pattern}"),
                DiscoveryProblemKind::NotRewritable { reason } => format!("not rewritable: {reason}"),
                DiscoveryProblemKind::StaleRenders => "stale renders".to_string(),
                DiscoveryProblemKind::LeftOut { image, collides_with } => {
                    format!("left out {image} ({collides_with})")
                }
            };
            lines.push(format!("problem {}: {kind}", problem.site));
        }
        lines
    }

    fn check_with(chart: &Chart, include: &[&str], exclude: &[&str], expected: &[&str]) {
        let include: Vec<String> = include.iter().map(|s| s.to_string()).collect();
        let exclude: Vec<String> = exclude.iter().map(|s| s.to_string()).collect();
        let set = discover(chart, &include, &exclude);
        let got = summary(&set);
        assert_eq!(got, expected, "\ngot:\n{}\n", got.join("\n"));
        // Every values path is valid ValuePath syntax that prints back the same.
        for source in set.images.iter().flat_map(|image| &image.sources) {
            if let Some(path) = source.values_path.as_deref().filter(|path| !path.is_empty()) {
                let parsed = ValuePath::parse(path).unwrap_or_else(|error| panic!("{path}: {error}"));
                assert_eq!(parsed.to_string(), path);
            }
        }
    }

    fn check(chart: &Chart, expected: &[&str]) {
        check_with(chart, &[], &[], expected);
    }

    #[test]
    fn string_shape() {
        check(
            &build(spec(json!({
                "image": "nginx:1.25",
                "proxy": {"image": format!("docker.io/bitnami/nginx@sha256:{SHA_HEX}")},
                "helperImage": "quay.io/org/helper",
                "init_image": "busybox:1.36",
                "optional": {"image": ""},
            }))),
            &[
                &format!("bitnami/nginx@sha256:{SHA_HEX} <- demo:proxy.image string"),
                "busybox:1.36 <- demo:init_image string",
                "nginx:1.25 <- demo:image string",
                "quay.io/org/helper:latest <- demo:helperImage string",
            ],
        );
    }

    #[test]
    fn repository_tag_shape() {
        check(
            &build(spec(json!({
                "image": {"repository": "grafana/grafana", "tag": "7.3.5", "sha": "", "pullPolicy": "IfNotPresent"},
                "sidecar": {"image": {"repository": "kiwigrid/k8s-sidecar", "tag": "1.1.0", "sha": SHA_HEX}},
                "downloadDashboardsImage": {"repository": "curlimages/curl", "tag": "7.73.0"},
                "metrics": {"exporter": {"repository": "prom/statsd-exporter", "tag": "v0.26.0"}},
                "pinned": {"image": {"repository": "nginx", "digest": format!("sha256:{SHA_HEX}")}},
                "disabled": {"image": {"repository": "", "tag": ""}},
            }))),
            &[
                "curlimages/curl:7.73.0 <- demo:downloadDashboardsImage repository_tag",
                "grafana/grafana:7.3.5 <- demo:image repository_tag(sha)",
                &format!(
                    "kiwigrid/k8s-sidecar:1.1.0@sha256:{SHA_HEX} <- demo:sidecar.image repository_tag(sha)"
                ),
                &format!("nginx@sha256:{SHA_HEX} <- demo:pinned.image repository_tag(digest)"),
                "prom/statsd-exporter:v0.26.0 <- demo:metrics.exporter repository_tag",
            ],
        );
    }

    #[test]
    fn registry_repository_tag_shape() {
        check(
            &build(spec(json!({
                "image": {"registry": "docker.io", "repository": "bitnami/nginx", "tag": "1.25.3", "digest": ""},
                "metrics": {"image": {"registry": "quay.io", "repository": "org/exporter", "tag": "2"}},
                "noRegistry": {"image": {"registry": "", "repository": "bitnami/os-shell", "tag": "12"}},
            }))),
            &[
                "bitnami/nginx:1.25.3 <- demo:image registry_repository_tag(digest)",
                "bitnami/os-shell:12 <- demo:noRegistry.image registry_repository_tag(-)",
                "quay.io/org/exporter:2 <- demo:metrics.image registry_repository_tag(-)",
            ],
        );
    }

    #[test]
    fn global_image_registry_overrides() {
        check(
            &build(spec(json!({
                "global": {"imageRegistry": "registry.example.com:5000", "imagePullSecrets": []},
                "image": {"registry": "docker.io", "repository": "bitnami/nginx", "tag": "1.25.3"},
                "plain": {"image": {"repository": "bitnami/redis", "tag": "7"}},
            }))),
            &[
                "bitnami/redis:7 <- demo:plain.image repository_tag",
                "registry.example.com:5000/bitnami/nginx:1.25.3 <- demo:image registry_repository_tag(-,global)",
                "pull secret demo:global.imagePullSecrets (values)",
            ],
        );
    }

    #[test]
    fn sibling_name_and_tag_shape() {
        check(
            &build(spec(json!({
                "testFramework": {"enabled": true, "image": "bats/bats", "tag": "v1.1.0", "imagePullPolicy": "IfNotPresent"},
                "agent": {"image": "org/agent", "imageTag": "3.1"},
                "worker": {"initImage": "busybox", "initImageTag": "1.36", "image": "org/worker:9", "tag": "ignored"},
                "image": "top/level",
                "tag": "5",
            }))),
            &[
                "bats/bats:v1.1.0 <- demo:testFramework sibling(image,tag)",
                "busybox:1.36 <- demo:worker sibling(initImage,initImageTag)",
                "org/agent:3.1 <- demo:agent sibling(image,imageTag)",
                "org/worker:9 <- demo:worker.image string",
                "top/level:5 <- demo: sibling(image,tag)",
            ],
        );
    }

    #[test]
    fn lists_and_numbers() {
        check(
            &build(spec(json!({
                "extraContainers": [{"name": "proxy", "image": "quay.io/gambol99/keycloak-proxy:latest"}],
                "a": {"image": {"repository": "org/a", "tag": 1.10}},
                "b": {"image": {"repository": "org/b", "tag": 3}},
                "c": {"image": {"repository": "org/c", "tag": 20200101}},
                "dotted.key": {"image": "org/d:1"},
            }))),
            &[
                "org/a:1.1 <- demo:a.image repository_tag",
                "org/b:3 <- demo:b.image repository_tag",
                "org/d:1 <- demo:\"dotted.key\".image string",
                "quay.io/gambol99/keycloak-proxy:latest <- demo:extraContainers[0].image string",
                "problem chart `demo`, values `c.image`: invalid InvalidTag@Some(16) in `org/c:2.0200101e+07`",
            ],
        );
    }

    #[test]
    fn go_number_rendering() {
        for (number, text) in [
            (1.1, "1.1"),
            (3.0, "3"),
            (999999.0, "999999"),
            (1000000.0, "1e+06"),
            (20200101.0, "2.0200101e+07"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (0.0, "0"),
        ] {
            assert_eq!(go_float_string(number), text, "{number}");
        }
    }

    #[test]
    fn no_false_positives() {
        check(
            &build(spec(json!({
                "image": {"pullPolicy": "IfNotPresent", "pullSecrets": ["regcred"]},
                "imagePullPolicy": "Always",
                "imageRenderer": {"enabled": false, "env": {"HTTP_HOST": "0.0.0.0"}},
                "plugins": ["grafana-clock-panel", "digrich-bubblechart-panel"],
                "grafana.ini": {"grafana_net": {"url": "https://grafana.net"}, "paths": {"data": "/var/lib/grafana"}},
                "chartRepo": {"repository": "https://charts.example.com", "tag": "stable"},
                "git": {"repository": "git@github.com:org/repo.git"},
                "persistence": {"accessModes": ["ReadWriteOnce"], "size": "10Gi"},
                "service": {"type": "ClusterIP", "port": 80},
                "extraContainers": "- name: proxy\n  image: quay.io/x/y:1\n",
                "sidecar": {"image": {"repository": "", "tag": "", "sha": ""}},
                "annotations": {"image": true},
            }))),
            &["pull secret demo:image.pullSecrets (values)"],
        );
    }

    #[test]
    fn app_version_fallback() {
        let values = || {
            json!({
                "image": {"repository": "org/app", "tag": ""},
                "migrations": {"image": "org/migrate", "tag": null},
                "exporter": {"image": {"repository": "org/exporter", "tag": ""}},
            })
        };
        let templates = vec![(
            "deployment.yaml",
            "image: \"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\"\n\
             image: \"{{ .Values.migrations.image }}:{{ default (printf \"v%s\" $.Chart.AppVersion) .Values.migrations.tag }}\"\n\
             {{- if or .Chart.AppVersion .Values.exporter.image.tag }}version: x{{ end }}\n",
        )];
        // With an appVersion: the tags come from it, the exporter's does not (no `default`).
        check(
            &build(Spec { app_version: Some("2.4.0"), templates: templates.clone(), ..spec(values()) }),
            &[
                "org/app:2.4.0 <- demo:image repository_tag +appVersion",
                "org/migrate:v2.4.0 <- demo:migrations sibling(image,tag) +appVersion",
                "problem chart `demo`, values `exporter.image`: missing tag tag",
            ],
        );
        // Without the templates' fallback, every empty tag is a problem.
        check(
            &build(Spec { app_version: Some("2.4.0"), ..spec(values()) }),
            &[
                "problem chart `demo`, values `exporter.image`: missing tag tag",
                "problem chart `demo`, values `image`: missing tag tag",
                "problem chart `demo`, values `migrations`: missing tag tag",
            ],
        );
        // With the fallback but no appVersion, the problem says so.
        check(
            &build(Spec { templates, ..spec(values()) }),
            &[
                "problem chart `demo`, values `exporter.image`: missing tag tag",
                "problem chart `demo`, values `image`: missing tag tag (no appVersion)",
                "problem chart `demo`, values `migrations`: missing tag tag (no appVersion)",
            ],
        );
    }

    #[test]
    fn subcharts_with_alias_overrides_and_global() {
        let redis = build(Spec {
            name: "redis",
            app_version: Some("7.2.4"),
            values: json!({
                "global": {"imageRegistry": "", "imagePullSecrets": []},
                "image": {"registry": "docker.io", "repository": "bitnami/redis", "tag": "7.0.0"},
                "sentinel": {"image": {"registry": "docker.io", "repository": "bitnami/redis-sentinel", "tag": ""}},
            }),
            templates: vec![(
                "sentinel.yaml",
                "image: {{ .Values.sentinel.image.tag | default .Chart.AppVersion }}\n\
                 {{- range .Values.global.imagePullSecrets }}{{ end }}{{ .Values.image.pullSecrets }}",
            )],
            ..spec(json!({}))
        });
        let parent = build(Spec {
            subcharts: vec![(Some("cache"), redis.clone()), (None, redis)],
            ..spec(json!({
                "global": {"imageRegistry": "mirror.example.com"},
                "image": {"repository": "org/app", "tag": "1"},
                "cache": {"image": {"tag": "7.2.4"}},
                "redis": {"sentinel": {"enabled": false}},
            }))
        });
        check(
            &parent,
            &[
                "org/app:1 <- demo:image repository_tag",
                "mirror.example.com/bitnami/redis:7.0.0 <- redis:redis.image registry_repository_tag(-,global)",
                "mirror.example.com/bitnami/redis:7.2.4 <- redis:cache.image registry_repository_tag(-,global)",
                "mirror.example.com/bitnami/redis-sentinel:7.2.4 <- \
                 redis:cache.sentinel.image registry_repository_tag(-,global) +appVersion; \
                 redis:redis.sentinel.image registry_repository_tag(-,global) +appVersion",
                "pull secret redis:cache.image.pullSecrets (templates)",
                "pull secret redis:global.imagePullSecrets (values+templates)",
                "pull secret redis:redis.image.pullSecrets (templates)",
            ],
        );
    }

    #[test]
    fn a_parent_null_keeps_a_subchart_default_a_user_null_removes_it() {
        let sub = build(Spec {
            name: "sub",
            values: json!({"image": {"repository": "org/sub", "tag": "1"}, "extra": {"image": "org/extra:2"}}),
            ..spec(json!({}))
        });
        // Helm 4.2 drops the parent's own `null`s before they reach the subchart (helm#32132).
        let parent = build(Spec { subcharts: vec![(None, sub)], ..spec(json!({"sub": {"extra": null}})) });
        check(
            &parent,
            &["org/extra:2 <- sub:sub.extra.image string", "org/sub:1 <- sub:sub.image repository_tag"],
        );
        // A user's `null` (`[chart] values`, as `helm template -f`) does remove it.
        let overrides = json!({"sub": {"extra": null}});
        let set = discover_with(
            &parent,
            &DiscoverOptions { chart_values: Some(&overrides), ..DiscoverOptions::default() },
        );
        assert_eq!(summary(&set), ["org/sub:1 <- sub:sub.image repository_tag"]);
    }

    #[test]
    fn annotations() {
        let chart = build(Spec {
            annotations: vec![
                (
                    "artifacthub.io/images",
                    "- name: app\n  image: org/app:1.0\n- name: helper\n  image: busybox:1.36\n",
                ),
                ("helm.sh/images", "- org/app:1.0\n- Bad:1\n- {name: x}\n"),
                ("other/annotation", "- not/an/image:1"),
            ],
            ..spec(json!({"image": "org/app:1.0"}))
        });
        check(
            &chart,
            &[
                "busybox:1.36 <- demo:- annotation(artifacthub.io/images,helper)",
                "org/app:1.0 <- demo:- annotation(artifacthub.io/images,app); \
                 demo:- annotation(helm.sh/images,-); demo:image string",
                "problem chart `demo`, annotation `helm.sh/images`: invalid UppercaseRepository@Some(0) in `Bad:1`",
                "problem chart `demo`, annotation `helm.sh/images`: bad annotation: entry 2 has no `image` string",
            ],
        );
        let broken =
            build(Spec { annotations: vec![("artifacthub.io/images", "image: x")], ..spec(json!({})) });
        check(
            &broken,
            &["problem chart `demo`, annotation `artifacthub.io/images`: bad annotation: expected a YAML list of images"],
        );
    }

    #[test]
    fn include_and_exclude() {
        let chart = build(spec(json!({
            "image": {"repository": "grafana/grafana", "tag": "7.3.5"},
            "init": {"image": "busybox:1.31.1"},
            "renderer": {"image": "grafana/grafana-image-renderer:latest"},
            "broken": {"image": "{{ .Values.x }}"},
        })));
        check_with(
            &chart,
            &["quay.io/extra/tool:2", "Not Valid", "busybox:1.31.1"],
            &["busybox", "docker.io/grafana/grafana-image-renderer:*", "{{*", "nothing/*"],
            &[
                "grafana/grafana:7.3.5 <- demo:image repository_tag",
                "busybox:1.31.1 <- -:- include",
                "quay.io/extra/tool:2 <- -:- include",
                "excluded grafana/grafana-image-renderer:latest by docker.io/grafana/grafana-image-renderer:*",
                "excluded busybox:1.31.1 by busybox",
                "problem [images] include[1]: invalid UppercaseRepository@Some(0) in `Not Valid`",
                "problem [images] exclude[3]: unused exclude nothing/*",
            ],
        );
    }

    #[test]
    fn invalid_references_are_reported_not_guessed() {
        check(
            &build(spec(json!({
                "image": "IfNotPresent",
                "a": {"image": {"repository": "Org/App", "tag": "1"}},
                "b": {"image": {"repository": "org/b", "tag": "1.0 beta"}},
                "c": {"image": {"repository": "org/c", "tag": "1", "digest": "sha256:abc"}},
                "d": {"image": " nginx"},
            }))),
            &[
                "problem chart `demo`, values `a.image`: invalid UppercaseRepository@Some(4) in `Org/App:1`",
                "problem chart `demo`, values `b.image`: invalid InvalidTag@Some(9) in `org/b:1.0 beta`",
                "problem chart `demo`, values `c.image`: invalid DigestLength { algorithm: \"sha256\", \
                 expected: 64, found: 3 }@Some(15) in `org/c:1@sha256:abc`",
                "problem chart `demo`, values `d.image`: invalid InvalidPathComponent@Some(0) in ` nginx`",
                "problem chart `demo`, values `image`: invalid UppercaseRepository@Some(0) in `IfNotPresent`",
            ],
        );
    }

    #[test]
    fn glob_patterns() {
        for (pattern, text, matches) in [
            ("busybox", "busybox", true),
            ("busybox", "busybox:1", false),
            ("*", "", true),
            ("docker.io/*", "docker.io/library/busybox:1", true),
            ("*/nginx:*", "docker.io/library/nginx:1", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*a*b", "xxaxxb", true),
            ("*a*b", "xxaxxbx", false),
        ] {
            assert_eq!(glob_match(pattern, text), matches, "{pattern} vs {text}");
        }
    }

    #[test]
    fn output_serializes_as_tagged_json() {
        let set = discover(
            &build(spec(json!({"image": {"repository": "busybox", "tag": "1.31.1", "sha": ""}}))),
            &[],
            &[],
        );
        let json = serde_json::to_value(&set).unwrap();
        assert_eq!(
            json,
            json!({
                "images": [{
                    "reference": "docker.io/library/busybox:1.31.1",
                    "sources": [{
                        "chart": "demo",
                        "values_path": "image",
                        "shape": {"kind": "repository_tag", "digest_key": "sha"},
                        "tag_from_app_version": false,
                        "found_by": "values",
                    }],
                }],
                "test_only": [],
                "tag_pins": [],
                "rendered": null,
                "excluded": [],
                "pull_secret_paths": [],
                "problems": [],
            })
        );
    }

    // -----------------------------------------------------------------------------------------
    // The grafana 6.1.16 fixture.

    const GRAFANA_FIXTURE: &str = "/work/shared/fixtures/charts/grafana-6.1.16.tgz";

    const GRAFANA_EXPECTED: [&str; 8] = [
        "bats/bats:v1.1.0 <- grafana:testFramework sibling(image,tag)",
        "curlimages/curl:7.73.0 <- grafana:downloadDashboardsImage repository_tag(sha)",
        "grafana/grafana:7.3.5 <- grafana:image repository_tag(sha)",
        "grafana/grafana-image-renderer:latest <- grafana:imageRenderer.image repository_tag(sha)",
        "kiwigrid/k8s-sidecar:1.1.0 <- grafana:sidecar.image repository_tag(sha)",
        "busybox:1.31.1 <- grafana:initChownData.image repository_tag(sha)",
        "pull secret grafana:image.pullSecrets (templates)",
        "pull secret grafana:imageRenderer.image.pullSecrets (templates)",
    ];

    /// Reads the fixture into a [`Chart`] without the chart loader: Chart.yaml's few fields
    /// discovery uses, values.yaml, and every file. Returns `None` when the fixture is absent.
    fn grafana_by_hand() -> Option<Chart> {
        let bytes = std::fs::read(GRAFANA_FIXTURE).ok()?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        let mut files = BTreeMap::new();
        for entry in archive.entries().expect("tar entries") {
            let mut entry = entry.expect("tar entry");
            let path = entry.path().expect("entry path").to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).expect("entry data");
            let relative = path.strip_prefix("grafana/").expect("grafana/ prefix").to_string();
            files.insert(relative, data);
        }
        let chart_yaml: Value =
            serde_saphyr::from_str(std::str::from_utf8(&files["Chart.yaml"]).unwrap()).expect("Chart.yaml");
        let values: Value =
            serde_saphyr::from_str(std::str::from_utf8(&files["values.yaml"]).unwrap()).expect("values.yaml");
        let text = |key: &str| chart_yaml.get(key).and_then(Value::as_str).map(str::to_string);
        Some(Chart {
            origin: ChartOrigin::Archive(GRAFANA_FIXTURE.into()),
            metadata: ChartMetadata {
                api_version: text("apiVersion").unwrap(),
                name: text("name").unwrap(),
                version: semver::Version::parse(&text("version").unwrap()).unwrap(),
                app_version: text("appVersion"),
                chart_type: ChartType::Application,
                description: text("description"),
                dependencies: vec![],
                annotations: BTreeMap::new(),
            },
            metadata_file: SourceFile::new("grafana/Chart.yaml", ""),
            values,
            files: files.into_iter().map(|(path, data)| ChartFile { path, data }).collect(),
            dependencies: vec![],
        })
    }

    #[test]
    fn grafana_acceptance() {
        let Some(chart) = grafana_by_hand() else {
            eprintln!("skipping: {GRAFANA_FIXTURE} is absent");
            return;
        };
        check(&chart, &GRAFANA_EXPECTED);
    }

    /// The same acceptance through the real chart loader (`crate::chart::load`).
    ///
    /// The loader is being written alongside this module: until it loads the fixture, this
    /// test only reports why it skipped (an `Err`, or a `todo!` panic), so that discovery's own
    /// acceptance above stays the gate. FIXME: once the loader is done, make both fail the test.
    #[test]
    fn grafana_acceptance_through_chart_load() {
        let path = camino::Utf8Path::new(GRAFANA_FIXTURE);
        if !path.exists() {
            eprintln!("skipping: {GRAFANA_FIXTURE} is absent");
            return;
        }
        let chart = crate::chart::load(path).expect("the loader reads the grafana fixture");
        check(&chart, &GRAFANA_EXPECTED);
    }

    fn rendered_find(
        image: &str,
        site: Option<(&str, ImageShape)>,
        test_only: bool,
    ) -> rendered::RenderedFind {
        rendered::RenderedFind {
            reference: ImageRef::parse(image).unwrap(),
            site: site.map(|(path, shape)| rendered::MappedSite { values_path: path.to_string(), shape }),
            unmappable: None,
            test_only,
            certain: true,
            places: BTreeSet::from(["demo/templates/x.yaml (Pod/x)".to_string()]),
            configurations: BTreeSet::from(["(defaults)".to_string()]),
        }
    }

    #[test]
    fn rendered_finds_replace_values_guesses_and_keep_their_provenance() {
        let chart = build(spec(json!({
            "image": {"repository": "app", "tag": ""},
            "sidecar": {"image": "side:1"},
            "unused": {"image": "optional:3"},
        })));
        let rendered = rendered::RenderedDiscovery {
            finds: vec![
                rendered_find(
                    "app:2.0",
                    Some(("image", ImageShape::RepositoryTag { digest_key: None })),
                    false,
                ),
                rendered_find("side:1", Some(("sidecar.image", ImageShape::String)), false),
                rendered_find("busybox:1", None, true),
                rendered_find("hard:1", None, false),
            ],
            ..Default::default()
        };
        let options = DiscoverOptions { rendered: Some(&rendered), ..DiscoverOptions::default() };
        let set = discover_with(&chart, &options);
        // The empty tag is no problem once Helm rendered it.
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        let found: Vec<(String, FoundBy)> =
            set.images.iter().map(|image| (image.reference.familiar(), image.found_by())).collect();
        assert_eq!(
            found,
            vec![
                ("app:2.0".to_string(), FoundBy::Rendered),
                ("hard:1".to_string(), FoundBy::Rendered),
                ("optional:3".to_string(), FoundBy::Values),
                ("side:1".to_string(), FoundBy::Both),
            ]
        );
        let hard = &set.images[1].sources[0];
        assert_eq!(hard.values_path, None);
        assert!(matches!(&hard.shape, ImageShape::Rendered { place } if place.contains("templates/x.yaml")));
        let tests: Vec<String> = set.test_only.iter().map(|image| image.reference.familiar()).collect();
        assert_eq!(tests, vec!["busybox:1"]);

        // Shipped on request.
        let shipped = discover_with(&chart, &DiscoverOptions { ship_test_images: true, ..options });
        assert!(shipped.test_only.is_empty());
        assert!(shipped.images.iter().any(|image| image.reference.familiar() == "busybox:1"));

        // An image a deployed pod also pulls is not test-only.
        let mut both = rendered.clone();
        both.finds.push(rendered_find("busybox:1", None, false));
        let set =
            discover_with(&chart, &DiscoverOptions { rendered: Some(&both), ..DiscoverOptions::default() });
        assert!(set.test_only.is_empty());
    }

    #[test]
    fn a_guess_that_collides_with_a_rendered_image_is_left_out_and_said() {
        let chart = build(spec(json!({
            "image": {"repository": "acme/app", "tag": "1"},
            "marketplace": {"image": {"repository": "other/app", "tag": "1"}},
        })));
        let rendered = rendered::RenderedDiscovery {
            finds: vec![rendered_find(
                "acme/app:1",
                Some(("image", ImageShape::RepositoryTag { digest_key: None })),
                false,
            )],
            ..Default::default()
        };
        let set = discover_with(
            &chart,
            &DiscoverOptions { rendered: Some(&rendered), ..DiscoverOptions::default() },
        );
        let found: Vec<String> = set.images.iter().map(|image| image.reference.familiar()).collect();
        assert_eq!(found, vec!["acme/app:1"]);
        assert!(matches!(
            &set.problems[..],
            [DiscoveryProblem { kind: DiscoveryProblemKind::LeftOut { image, .. }, .. }] if image == "other/app:1"
        ));
        // Without renders nothing is a guess: the collision stays an error of the rewrites.
        assert_eq!(discover(&chart, &[], &[]).images.len(), 2);
    }

    #[test]
    fn chart_values_of_the_release_reach_discovery() {
        let chart = build(spec(json!({"image": {"repository": "", "tag": "1.0"}})));
        let overrides = json!({"image": {"repository": "acme/collector"}});
        let set = discover_with(
            &chart,
            &DiscoverOptions { chart_values: Some(&overrides), ..DiscoverOptions::default() },
        );
        let found: Vec<String> = set.images.iter().map(|image| image.reference.familiar()).collect();
        assert_eq!(found, vec!["acme/collector:1.0"]);
    }
}
