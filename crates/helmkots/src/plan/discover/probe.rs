//! Probe renders: which values make a rendered image.
//!
//! Every candidate image site of the values is set to a unique marker at once; the marker a
//! container's image carries in the probe's output names the site, and what the template put
//! around it says whether the site can rewrite the image (see [`super::rendered`] for the
//! cases). Sites are the shapes of [`crate::plan::conventions::IMAGE_MAPS`] and strings under
//! image-named keys, empty and null ones included (helpers often fill them); a site inside a
//! list of the chart's defaults is probed in a copy of the list, since Helm replaces lists whole.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::rendered::MappedSite;
use super::values::{is_image_key, render_path, MAX_VALUES_DEPTH};
use super::views::collect_views;
use super::ImageShape;
use crate::input::chart::Chart;
use crate::input::value_path::Segment;
#[cfg(test)]
use crate::input::value_path::ValuePath;
use crate::plan::conventions;

/// The repository marker of probe site `N` is `hkprobe<N>z`.
pub(super) const REPOSITORY_MARKER: &str = "hkprobe";
/// The registry marker of probe site `N` is `hkreg<N>.invalid`.
pub(super) const REGISTRY_MARKER: &str = "hkreg";

/// A candidate image site in the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProbeSite {
    pub(super) path: Vec<Segment>,
    pub(super) kind: SiteKind,
    /// The outermost list of the chart's values the site sits in, with its path: Helm
    /// replaces a list whole, so a probe sets a copy of it with the marker inside.
    pub(super) list: Option<(Vec<Segment>, Value)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SiteKind {
    /// A map: the key of the repository (`repository`, `image` or `name`), whether it has a
    /// `registry`, and its digest key.
    Map { repository_key: String, registry: bool, digest_key: Option<String> },
    /// A string under an image-named key, and the sibling tag key when the map has one.
    String { key: String, tag_key: Option<String> },
}

/// Every candidate image site of the chart's values (subcharts under their keys, `[chart]
/// values` merged over the root), in a fixed order.
pub(super) fn probe_sites(chart: &Chart, overrides: &Value) -> Vec<ProbeSite> {
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

pub(super) fn sites_in(
    parent: &Map<String, Value>,
    key: &str,
    value: &Value,
    path: &mut Vec<Segment>,
    list: Option<&(Vec<Segment>, Value)>,
    sites: &mut Vec<ProbeSite>,
    seen: &mut BTreeSet<Vec<Segment>>,
) {
    if path.len() > MAX_VALUES_DEPTH {
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
pub(super) fn site_of_map(key: &str, map: &Map<String, Value>) -> Option<SiteKind> {
    let shape = conventions::image_map(is_image_key(key), map)?;
    let registry = map.get("registry").is_some_and(|value| !(value.is_object() || value.is_array()));
    let digest_key =
        conventions::DIGEST_KEYS.into_iter().find(|field| map.contains_key(*field)).map(str::to_string);
    Some(SiteKind::Map { repository_key: shape.repository_key.to_string(), registry, digest_key })
}

pub(super) fn set_markers(values: &mut Value, site: &ProbeSite, index: usize) {
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
pub(super) fn set_at(values: &mut Value, path: &[Segment], key: &str, value: Value) {
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

pub(super) fn has_marker(image: &str) -> bool {
    marker_at(image).is_some()
}

/// The site index and byte range of the first repository marker in `image`.
pub(super) fn marker_at(image: &str) -> Option<(usize, std::ops::Range<usize>)> {
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
pub(super) fn map_to_site(
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
}
