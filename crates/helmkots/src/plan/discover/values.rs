//! The values walk: what counts as an image in a chart's values (the heuristics).
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
//!
//! The other ways are the Chart.yaml annotations ([`super::annotations`]), `[images] include`
//! and what Helm renders ([`super::rendered`]).
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
//! problem, never repaired.

use serde_json::{Map, Value};

use super::*;
use crate::input::value_path::Segment;

/// Walks a view's values, except the subcharts' keys.
pub(super) fn walk_values(view: &View<'_>, found: &mut Found) {
    for (key, value) in &view.values {
        if view.subchart_keys.contains(key) {
            continue;
        }
        let mut path = view.root_path(&[Segment::Key(key.clone())]);
        walk_entry(view, &view.values, key, value, &mut path, found);
    }
}

/// Looks at one map entry; `path` already ends with `key`.
pub(super) fn walk_entry(
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
pub(super) fn walk_object(
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
pub(super) const MAX_VALUES_DEPTH: usize = 256;

pub(super) fn walk_map(
    view: &View<'_>,
    map: &Map<String, Value>,
    path: &mut Vec<Segment>,
    found: &mut Found,
) {
    if path.len() > MAX_VALUES_DEPTH {
        return;
    }
    for (key, value) in map {
        path.push(Segment::Key(key.clone()));
        walk_entry(view, map, key, value, path, found);
        path.pop();
    }
}

pub(super) fn walk_list(view: &View<'_>, items: &[Value], path: &mut Vec<Segment>, found: &mut Found) {
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
pub(super) fn is_image_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower == "image" || key.ends_with("Image") || lower.ends_with("_image") || lower.ends_with("-image")
}

/// A string under an image-named key: a whole reference, or a name with a sibling tag.
pub(super) fn string_image(
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
    let tag = match resolve_tag(view, &text, parent.get(&tag_key), &tag_path) {
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
pub(super) struct Tag {
    text: String,
    from_app_version: bool,
}

/// The tag at `tag_path` (relative root path), or the app version where the templates fall
/// back to it, or a `MissingTag` problem.
pub(super) fn resolve_tag(
    view: &View<'_>,
    image: &str,
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
        return Err(DiscoveryProblemKind::MissingTag {
            image: image.to_string(),
            tag_path: render_path(tag_path),
            tag_key,
            app_version_fallback: false,
        });
    };
    match view.chart.metadata.app_version.as_deref().filter(|version| !version.is_empty()) {
        Some(version) => {
            Ok(Tag { text: format!("{}{version}{}", format.prefix, format.suffix), from_app_version: true })
        }
        None => Err(DiscoveryProblemKind::MissingTag {
            image: image.to_string(),
            tag_path: render_path(tag_path),
            tag_key,
            app_version_fallback: true,
        }),
    }
}

/// Recognises an image map (shapes 3 and 4) at `path` and records it; returns whether the
/// map was one (then its children are fields, not walked).
pub(super) fn image_map(
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
    let name = match registry {
        Some(registry) => format!("{}/{repository}", registry.trim_end_matches('/')),
        None => repository.to_string(),
    };
    let tag = match resolve_tag(view, &name, map.get("tag"), &tag_path) {
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

pub(super) fn values_source(
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

pub(super) fn parse_candidate(
    view: &View<'_>,
    text: &str,
    values_path: String,
    source: ImageSource,
) -> Candidate {
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
pub(super) fn has_explicit_tag_or_digest(text: &str) -> bool {
    let after_slash = text.rsplit('/').next().unwrap_or(text);
    text.contains('@') || after_slash.contains(':')
}

/// A scalar as Helm renders it into a template: strings as they are, numbers as Go's `%v` of a
/// float64, booleans as `true`/`false`; `None` for null, lists and maps.
pub(super) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => number.as_f64().map(go_float_string),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Go's `fmt` `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits
/// that round-trip, in exponent form when the exponent is below -4 or at least 6.
pub(super) fn go_float_string(number: f64) -> String {
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
pub(super) fn render_path(path: &[Segment]) -> String {
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
