//! Conventions of chart families that an image rewrite must honour, as data.
//!
//! Rendered discovery finds *which* values make an image whatever the chart family; what it
//! cannot know is that a family checks, in its own templates, that the images were not
//! changed, or reads a global that overrides every image's own registry. Each such rule is one
//! [`Convention`] entry: the values path that marks the family (declared in the values of the
//! chart or of a vendored subchart) and the value helmkots sets once it rewrites images. A
//! new family is a new entry and a unit test, never an `if` in the rewrite code.

use serde_json::Value;

use crate::input::chart::Chart;
use crate::input::value_path::ValuePath;

/// What a convention sets when images are rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhenRewritten {
    /// Set the marker path to `true` (a family check that refuses changed images otherwise).
    True,
    /// Set the marker path to the local registry host in airgap, and keep the chart's value
    /// online (a global registry that overrides every image's own).
    LocalRegistryHost,
}

/// One chart-family convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Convention {
    /// Who does this, for messages and docs.
    pub family: &'static str,
    /// The values path that marks the family, e.g. `global.security.allowInsecureImages`.
    pub path: &'static [&'static str],
    /// The JSON type the chart declares there (`"bool"` or `"string"`); another type is not
    /// the convention.
    pub declared_as: &'static str,
    /// What helmkots sets there when it rewrites images.
    pub when_rewritten: WhenRewritten,
}

/// How one family writes an image as a map of values: the key of the repository, what else
/// must be there for the map to be an image, and whether a `registry` sits beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ImageMap {
    /// Who writes images this way.
    pub family: &'static str,
    /// The key whose value the template uses as the repository (`repository`, `image`, `name`).
    pub repository_key: &'static str,
    /// The map must also hold one of these keys…
    pub with_one_of: &'static [&'static str],
    /// …unless the map's own key names an image (`image`, `fooImage`, `foo_image`) and this
    /// is true.
    pub or_under_image_key: bool,
}

/// The image maps of the chart families, in the order they are tried. Values may be empty or
/// null (a helper fills them): rendered discovery probes them all the same. A digest sits in
/// `digest` (or prometheus-community's bare-hex `sha`) in every family.
pub(crate) const IMAGE_MAPS: &[ImageMap] = &[
    // `{repository, tag}` and Bitnami's / prometheus-community's `{registry, repository, tag,
    // digest|sha}`; argo's `global.image` (repository and tag every component inherits) too.
    ImageMap {
        family: "repository map (most charts, Bitnami, prometheus-community, argo)",
        repository_key: "repository",
        with_one_of: &["tag", "registry", "digest", "sha"],
        or_under_image_key: true,
    },
    // `{registry, image, tag}`: the image's path under `image`.
    ImageMap {
        family: "registry and image map",
        repository_key: "image",
        with_one_of: &["registry"],
        or_under_image_key: false,
    },
    // `image: {name, tag}`.
    ImageMap {
        family: "name and tag map",
        repository_key: "name",
        with_one_of: &[],
        or_under_image_key: true,
    },
];

/// The keys a digest may sit under, in the order they are looked for.
pub(crate) const DIGEST_KEYS: [&str; 2] = ["digest", "sha"];

impl ImageMap {
    /// True when `map`, held under `key`, is this kind of image map. The repository must be a
    /// scalar or null (not a map or a list); a `repository` that is a URL is a Helm or Git
    /// repository unless the key names an image; a `name` map needs a `tag` beside it.
    pub(crate) fn matches(&self, key_is_image: bool, map: &serde_json::Map<String, Value>) -> bool {
        let Some(repository) = map.get(self.repository_key) else { return false };
        if repository.is_object() || repository.is_array() {
            return false;
        }
        if self.repository_key == "image" && !repository.is_string() {
            return false;
        }
        if self.repository_key == "name" && !(repository.is_string() && map.contains_key("tag")) {
            return false;
        }
        if repository.as_str().is_some_and(|text| text.contains("://")) && !key_is_image {
            return false;
        }
        self.with_one_of.iter().any(|field| map.contains_key(*field))
            || (self.or_under_image_key && key_is_image)
    }
}

/// The first family image map that `map` (held under a key that does or does not name an
/// image) is.
pub(crate) fn image_map(
    key_is_image: bool,
    map: &serde_json::Map<String, Value>,
) -> Option<&'static ImageMap> {
    IMAGE_MAPS.iter().find(|shape| shape.matches(key_is_image, map))
}

/// Every convention helmkots knows.
pub(crate) const CONVENTIONS: &[Convention] = &[
    // bitnami/common's `common.errors.insecureImages`, called from NOTES.txt, aborts the render
    // once an image's registry or repository differs from the Chart.yaml `images` annotation.
    Convention {
        family: "Bitnami common",
        path: &["global", "security", "allowInsecureImages"],
        declared_as: "bool",
        when_rewritten: WhenRewritten::True,
    },
    // Bitnami's `common.images.image` and prometheus-community's image helpers let a
    // non-empty `global.imageRegistry` replace every image's `registry`.
    Convention {
        family: "global image registry (Bitnami, prometheus-community)",
        path: &["global", "imageRegistry"],
        declared_as: "string",
        when_rewritten: WhenRewritten::LocalRegistryHost,
    },
];

impl Convention {
    /// The marker path.
    pub(crate) fn values_path(&self) -> ValuePath {
        ValuePath::from_keys(self.path.iter().copied())
    }

    /// True when the chart, or a vendored subchart, declares the marker with its type.
    pub(crate) fn declared_by(&self, chart: &Chart) -> bool {
        self.declared_in(&chart.values)
            || chart.dependencies.iter().any(|subchart| self.declared_by(subchart))
    }

    /// True when one values document declares the marker with its type.
    pub(crate) fn declared_in(&self, values: &Value) -> bool {
        self.path.iter().try_fold(values, |value, key| value.get(*key)).is_some_and(|value| {
            match self.declared_as {
                "bool" => value.is_boolean(),
                "string" => value.is_string(),
                _ => false,
            }
        })
    }
}

/// The conventions the chart follows.
pub(crate) fn followed_by(chart: &Chart) -> Vec<&'static Convention> {
    CONVENTIONS.iter().filter(|convention| convention.declared_by(chart)).collect()
}

/// Sets, in a plain values document, what the `True` conventions need for images that are
/// not the chart's own (the probe renders of rendered discovery).
pub(crate) fn allow_rewritten_images(chart: &Chart, values: &mut Value) {
    allow_rewritten(&followed_by(chart), values);
}

fn allow_rewritten(conventions: &[&Convention], values: &mut Value) {
    for convention in conventions {
        if convention.when_rewritten == WhenRewritten::True {
            set_path(values, convention.path, Value::Bool(true));
        }
    }
}

fn set_path(values: &mut Value, path: &[&str], value: Value) {
    let mut current = values;
    for key in path {
        if !current.is_object() {
            *current = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = current else { return };
        current = map.entry(key.to_string()).or_insert(Value::Null);
    }
    *current = value;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn convention(family_start: &str) -> &'static Convention {
        CONVENTIONS.iter().find(|c| c.family.starts_with(family_start)).unwrap()
    }

    #[test]
    fn bitnami_common_is_followed_where_a_chart_declares_the_switch() {
        let bitnami = convention("Bitnami common");
        assert!(bitnami.declared_in(&json!({"global": {"security": {"allowInsecureImages": false}}})));
        assert!(!bitnami.declared_in(&json!({"global": {"security": {}}})));
        assert!(!bitnami.declared_in(&json!({"global": {"security": {"allowInsecureImages": "no"}}})));
        let mut values = json!({"image": {"tag": "1"}});
        allow_rewritten(&[bitnami], &mut values);
        assert_eq!(values["global"]["security"]["allowInsecureImages"], true);
        assert_eq!(values["image"]["tag"], "1");
    }

    fn map(json: serde_json::Value) -> serde_json::Map<String, Value> {
        json.as_object().cloned().unwrap()
    }

    fn family(key_is_image: bool, json: serde_json::Value) -> Option<&'static str> {
        image_map(key_is_image, &map(json)).map(|shape| shape.repository_key)
    }

    #[test]
    fn repository_maps_of_every_family() {
        // Plain `{repository, tag}`, Bitnami `{registry, repository, tag, digest}`,
        // prometheus-community's `sha`, traefik's nulls, argo's `global.image`.
        assert_eq!(family(false, json!({"repository": "a", "tag": "1"})), Some("repository"));
        assert_eq!(
            family(false, json!({"registry": "r", "repository": "a", "tag": "1", "digest": ""})),
            Some("repository")
        );
        assert_eq!(family(false, json!({"repository": "a", "sha": ""})), Some("repository"));
        assert_eq!(
            family(true, json!({"registry": null, "repository": null, "tag": null})),
            Some("repository")
        );
        assert_eq!(family(true, json!({"repository": "quay.io/argoproj/argocd"})), Some("repository"));
        // A lone repository under a key that names no image is not one.
        assert_eq!(family(false, json!({"repository": "a"})), None);
        // A chart repository URL is not an image, unless the key says so.
        assert_eq!(family(false, json!({"repository": "https://charts.example.com", "tag": "1"})), None);
        assert_eq!(family(true, json!({"repository": "https://x", "tag": "1"})), Some("repository"));
    }

    #[test]
    fn registry_and_image_maps() {
        assert_eq!(family(false, json!({"registry": "r.io", "image": "app", "tag": "1"})), Some("image"));
        assert_eq!(family(false, json!({"registry": "r.io", "image": {"x": 1}})), None);
    }

    #[test]
    fn name_and_tag_maps() {
        assert_eq!(family(true, json!({"name": "app", "tag": "1"})), Some("name"));
        assert_eq!(family(true, json!({"name": "app"})), None, "a name alone is not an image");
        assert_eq!(family(false, json!({"name": "app", "tag": "1"})), None, "only under an image key");
    }

    #[test]
    fn a_global_image_registry_is_a_string() {
        let global = convention("global image registry");
        assert!(global.declared_in(&json!({"global": {"imageRegistry": ""}})));
        assert!(!global.declared_in(&json!({"global": {"imageRegistry": {"a": 1}}})));
        assert_eq!(global.when_rewritten, WhenRewritten::LocalRegistryHost);
        assert_eq!(global.values_path().to_string(), "global.imageRegistry");
        let mut values = json!({});
        allow_rewritten(&[global], &mut values);
        assert_eq!(values, json!({}), "a registry is not a switch to turn on");
    }
}
