//! The new image config and manifest, derived from the base's raw bytes.
//!
//! Both are edited as JSON values, so fields helmkots does not know (Docker's `Healthcheck`,
//! `os.version`, vendor extensions) survive, and written as canonical JSON
//! ([`super::json::to_canonical_vec`]) so the bytes are a pure function of the inputs.
//!
//! Config: keeps the base's `Env`, `User` and everything else; sets `WorkingDir`; removes
//! `Entrypoint` and `Cmd` (the Job gives the command); merges labels (ours win); sets
//! `created`; appends one `history` entry and the layer's diff_id to `rootfs.diff_ids`.
//! Manifest: the base manifest with the new config descriptor, the chart layer appended, the
//! manifest's own media type written out, `subject` dropped, and (OCI only) annotations naming
//! the base image.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::json::to_canonical_vec;
use crate::{
    oci::registry::{media::ManifestKind, Platform},
    util::digest::Sha256Digest,
};

/// What the new config changes.
#[derive(Debug, Clone)]
pub(crate) struct ConfigChanges<'a> {
    pub(crate) working_dir: &'a str,
    pub(crate) labels: &'a BTreeMap<String, String>,
    pub(crate) created: &'a str,
    pub(crate) created_by: &'a str,
    pub(crate) comment: &'a str,
    pub(crate) diff_id: Sha256Digest,
    pub(crate) base_layer_count: usize,
}

/// The base config with `changes` applied, canonical bytes. `Err` says what is wrong with the
/// base config.
pub(crate) fn derive_config(base: &[u8], changes: &ConfigChanges<'_>) -> Result<Vec<u8>, String> {
    let mut document: Value = serde_json::from_slice(base).map_err(|error| format!("not JSON: {error}"))?;
    let root = document.as_object_mut().ok_or("not a JSON object")?;

    let rootfs = root
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers", "diff_ids": []}))
        .as_object_mut()
        .ok_or("`rootfs` is not an object")?;
    let diff_ids = rootfs
        .entry("diff_ids")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or("`rootfs.diff_ids` is not an array")?;
    if diff_ids.len() != changes.base_layer_count {
        return Err(format!(
            "`rootfs.diff_ids` has {} entries but the manifest has {} layers",
            diff_ids.len(),
            changes.base_layer_count
        ));
    }
    diff_ids.push(Value::String(changes.diff_id.oci()));

    let config = match root.entry("config").or_insert_with(|| json!({})) {
        Value::Null => {
            root.insert("config".to_string(), json!({}));
            root.get_mut("config").and_then(Value::as_object_mut).ok_or("`config` is not an object")?
        }
        value => value.as_object_mut().ok_or("`config` is not an object")?,
    };
    config.insert("WorkingDir".to_string(), Value::String(changes.working_dir.to_string()));
    config.remove("Entrypoint");
    config.remove("Cmd");
    let labels = match config.get_mut("Labels") {
        Some(Value::Object(labels)) => labels,
        _ => {
            config.insert("Labels".to_string(), Value::Object(Map::new()));
            config
                .get_mut("Labels")
                .and_then(Value::as_object_mut)
                .ok_or("`config.Labels` is not an object")?
        }
    };
    for (key, value) in changes.labels {
        labels.insert(key.clone(), Value::String(value.clone()));
    }

    root.insert("created".to_string(), Value::String(changes.created.to_string()));
    let history = match root.get_mut("history") {
        Some(Value::Array(history)) => history,
        _ => {
            root.insert("history".to_string(), json!([]));
            root.get_mut("history").and_then(Value::as_array_mut).ok_or("`history` is not an array")?
        }
    };
    history.push(json!({
        "created": changes.created,
        "created_by": changes.created_by,
        "comment": changes.comment,
    }));
    Ok(to_canonical_vec(&document))
}

/// The platform a config declares (`os`, `architecture`, `variant`), when it declares one.
pub(crate) fn config_platform(base: &[u8]) -> Option<Platform> {
    let document: Value = serde_json::from_slice(base).ok()?;
    let text = |key: &str| {
        document.get(key).and_then(Value::as_str).filter(|text| !text.is_empty()).map(str::to_string)
    };
    Some(Platform { os: text("os")?, architecture: text("architecture")?, variant: text("variant") })
}

/// A descriptor as JSON.
pub(crate) fn descriptor_json(media_type: &str, digest: &Sha256Digest, size: u64) -> Value {
    json!({"mediaType": media_type, "digest": digest.oci(), "size": size})
}

/// The base manifest with the new config and the appended layer, canonical bytes.
pub(crate) fn derive_manifest(
    base: &[u8],
    kind: ManifestKind,
    config: Value,
    layer: Value,
    annotations: &BTreeMap<String, String>,
) -> Result<Vec<u8>, String> {
    let mut document: Value = serde_json::from_slice(base).map_err(|error| format!("not JSON: {error}"))?;
    let root = document.as_object_mut().ok_or("not a JSON object")?;
    root.insert("schemaVersion".to_string(), json!(2));
    root.insert("mediaType".to_string(), Value::String(kind.media_type().to_string()));
    root.insert("config".to_string(), config);
    root.remove("subject");
    root.entry("layers")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or("`layers` is not an array")?
        .push(layer);
    root.remove("annotations");
    if !kind.is_docker() && !annotations.is_empty() {
        root.insert("annotations".to_string(), json!(annotations));
    }
    Ok(to_canonical_vec(&document))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes<'a>(labels: &'a BTreeMap<String, String>, layers: usize) -> ConfigChanges<'a> {
        ConfigChanges {
            working_dir: "/apps",
            labels,
            created: "2000-01-01T00:00:00Z",
            created_by: "helmkots",
            comment: "chart",
            diff_id: Sha256Digest([1; 32]),
            base_layer_count: layers,
        }
    }

    #[test]
    fn config_keeps_env_user_and_unknown_fields() {
        let base = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"User":"1000",
            "Entrypoint":["/bin/sh"],"Cmd":["-c","x"],"Healthcheck":{"Test":["NONE"]},"Labels":{"a":"base","org.opencontainers.image.version":"9"}},
            "rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]},
            "history":[{"created_by":"base"}]}"#;
        let labels = BTreeMap::from([("org.opencontainers.image.version".to_string(), "1.0.0".to_string())]);
        let derived = derive_config(base, &changes(&labels, 1)).unwrap();
        let value: Value = serde_json::from_slice(&derived).unwrap();
        let config = &value["config"];
        assert_eq!(config["Env"], json!(["PATH=/bin"]));
        assert_eq!(config["User"], "1000");
        assert_eq!(config["WorkingDir"], "/apps");
        assert!(config.get("Entrypoint").is_none() && config.get("Cmd").is_none());
        assert_eq!(config["Healthcheck"], json!({"Test": ["NONE"]}));
        assert_eq!(config["Labels"], json!({"a": "base", "org.opencontainers.image.version": "1.0.0"}));
        assert_eq!(value["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
        assert_eq!(value["rootfs"]["diff_ids"][1], Sha256Digest([1; 32]).oci());
        assert_eq!(value["history"].as_array().unwrap().len(), 2);
        assert_eq!(value["created"], "2000-01-01T00:00:00Z");
        // Valid OCI config as a third-party parser sees it.
        let parsed: oci_spec::image::ImageConfiguration = serde_json::from_slice(&derived).unwrap();
        assert_eq!(parsed.rootfs().diff_ids().len(), 2);
        // Canonical: the same inputs give the same bytes.
        assert_eq!(derived, derive_config(base, &changes(&labels, 1)).unwrap());
    }

    #[test]
    fn config_problems_are_reported() {
        let labels = BTreeMap::new();
        assert!(derive_config(b"[]", &changes(&labels, 0)).is_err());
        let mismatch = br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#;
        assert!(derive_config(mismatch, &changes(&labels, 1)).unwrap_err().contains("diff_ids"));
        let null_config = br#"{"config":null,"rootfs":{"type":"layers","diff_ids":[]}}"#;
        assert!(derive_config(null_config, &changes(&labels, 0)).is_ok());
    }

    #[test]
    fn manifest_follows_the_base_family() {
        let base = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:00","size":1},
            "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"sha256:11","size":2}]}"#;
        let annotations = BTreeMap::from([("k".to_string(), "v".to_string())]);
        let layer =
            descriptor_json(ManifestKind::DockerManifest.gzip_layer_media_type(), &Sha256Digest([2; 32]), 3);
        let config =
            descriptor_json("application/vnd.docker.container.image.v1+json", &Sha256Digest([3; 32]), 4);
        let derived =
            derive_manifest(base, ManifestKind::DockerManifest, config, layer, &annotations).unwrap();
        let value: Value = serde_json::from_slice(&derived).unwrap();
        assert_eq!(value["layers"][0]["digest"], "sha256:11", "base layers are kept as they were");
        assert_eq!(value["layers"][1]["mediaType"], "application/vnd.docker.image.rootfs.diff.tar.gzip");
        assert!(value.get("annotations").is_none(), "no annotations in a Docker manifest");

        let oci_base = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:00","size":1},
            "layers":[],"annotations":{"old":"x"},"subject":{"mediaType":"m","digest":"sha256:00","size":1}}"#;
        let layer =
            descriptor_json(ManifestKind::OciManifest.gzip_layer_media_type(), &Sha256Digest([2; 32]), 3);
        let config = descriptor_json("application/vnd.oci.image.config.v1+json", &Sha256Digest([3; 32]), 4);
        let derived =
            derive_manifest(oci_base, ManifestKind::OciManifest, config, layer, &annotations).unwrap();
        let value: Value = serde_json::from_slice(&derived).unwrap();
        assert_eq!(value["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(value["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
        assert_eq!(value["annotations"], json!({"k": "v"}));
        assert!(value.get("subject").is_none());
        let parsed: oci_spec::image::ImageManifest = serde_json::from_slice(&derived).unwrap();
        assert_eq!(parsed.layers().len(), 1);
    }

    #[test]
    fn platform_of_a_config() {
        let platform = config_platform(br#"{"os":"linux","architecture":"arm64","variant":"v8"}"#).unwrap();
        assert_eq!(platform.to_string(), "linux/arm64/v8");
        assert_eq!(config_platform(br#"{"os":"linux"}"#), None);
    }
}
