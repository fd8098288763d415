//! What the proof needs to know besides the files it proves: the Config screen, which items
//! change what Helm gets, how images are routed, and how Helm is run.
//!
//! Two sources, one type: a release.toml ([`ProofSpec::of_release`]) when `release` proves
//! what it is about to write, and a written tree ([`ProofSpec::from_record`]: the tree's
//! `kots-config.yaml` and its [`ProofRecord`]) when `verify --proof` proves what was written,
//! from any directory, whatever release.toml lies around.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{
    input::release::{ConfigGroup, Release},
    plan::discover::ImageSet,
    plan::image_routing::Routing,
    plan::kots::rewrite_paths,
};

/// See the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct ProofSpec {
    /// The Config screen.
    pub config: Vec<ConfigGroup>,
    /// The items whose values change what Helm gets (the ones the proof varies).
    pub varied: BTreeSet<String>,
    /// The app slug (the pull secret is `<slug>-registry`).
    pub slug: String,
    /// The Helm release name.
    pub release_name: String,
    /// `[chart] kube_versions`.
    pub kube_versions: Vec<String>,
    /// `[proof] strength`.
    pub strength: usize,
    /// `[images] ship_test_images`.
    pub ship_test_images: bool,
    /// Private images and the proxy.
    pub routing: Routing,
}

impl ProofSpec {
    /// The spec of a release about to be written.
    pub(crate) fn of_release(release: &Release) -> ProofSpec {
        ProofSpec {
            config: release.config.clone(),
            varied: release
                .config
                .iter()
                .flat_map(|group| &group.items)
                .filter(|item| item.value.is_some())
                .map(|item| item.name.get_ref().clone())
                .collect(),
            slug: release.app.slug.get_ref().clone(),
            release_name: release.chart.release_name.get_ref().clone(),
            kube_versions: release.chart.kube_versions.clone(),
            strength: release.proof.strength,
            ship_test_images: release.images.ship_test_images,
            routing: Routing::from_release(release),
        }
    }

    /// The spec of a written tree: its Config screen and its record.
    pub(crate) fn from_record(record: &ProofRecord, config: Vec<ConfigGroup>) -> ProofSpec {
        ProofSpec {
            config,
            varied: record.varied.iter().cloned().collect(),
            slug: record.slug.clone(),
            release_name: record.release_name.clone(),
            kube_versions: record.kube_versions.clone(),
            strength: record.strength,
            ship_test_images: record.ship_test_images,
            routing: Routing { proxy: record.proxy.clone(), private: record.private.clone() },
        }
    }
}

/// A discovered image as the proof uses it: the reference, and the values paths its rewrite
/// sets (to name them when a rendered image is wrong).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProvedImage {
    /// The normalised reference.
    pub reference: String,
    /// One entry per values site: its rewritten paths, joined with " and ".
    pub rewrite_paths: Vec<String>,
}

/// The images of a discovery, as the proof uses them.
pub(crate) fn proved_images(images: &ImageSet) -> Vec<ProvedImage> {
    images
        .images
        .iter()
        .map(|image| ProvedImage {
            reference: image.reference.to_string(),
            rewrite_paths: image
                .sources
                .iter()
                .filter_map(|source| {
                    Some(rewrite_paths(source.values_path.as_deref()?, &source.shape).join(" and "))
                })
                .filter(|paths| !paths.is_empty())
                .collect(),
        })
        .collect()
}

/// What a release tree records for its own proof, as `helmkots-proof.json`: everything the
/// proof needs that the KOTS manifests do not say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProofRecord {
    /// [`RECORD_SCHEMA_VERSION`] at the time of writing.
    pub schema_version: u32,
    /// The app slug.
    pub slug: String,
    /// The Helm release name.
    pub release_name: String,
    /// The Kubernetes versions proved.
    pub kube_versions: Vec<String>,
    /// The covering array's strength.
    pub strength: usize,
    /// Whether `helm test` images are shipped (and so checked).
    pub ship_test_images: bool,
    /// The proxy prefix for private images online.
    pub proxy: String,
    /// Globs of private images.
    pub private: Vec<String>,
    /// The config items whose values change what Helm gets, sorted.
    pub varied: Vec<String>,
    /// Whether the chart offers a values path for pull secrets.
    pub chart_sets_pull_secrets: bool,
    /// The discovered images, sorted.
    pub images: Vec<ProvedImage>,
}

/// The file name of the record inside a release tree.
pub(crate) const RECORD_FILE: &str = "helmkots-proof.json";

/// The record's schema version; bump it on incompatible changes.
pub(crate) const RECORD_SCHEMA_VERSION: u32 = 1;

impl ProofRecord {
    /// The record of `spec`, with its images.
    pub(crate) fn new(
        spec: &ProofSpec,
        images: Vec<ProvedImage>,
        chart_sets_pull_secrets: bool,
    ) -> ProofRecord {
        ProofRecord {
            schema_version: RECORD_SCHEMA_VERSION,
            slug: spec.slug.clone(),
            release_name: spec.release_name.clone(),
            kube_versions: spec.kube_versions.clone(),
            strength: spec.strength,
            ship_test_images: spec.ship_test_images,
            proxy: spec.routing.proxy.clone(),
            private: spec.routing.private.clone(),
            varied: spec.varied.iter().cloned().collect(),
            chart_sets_pull_secrets,
            images,
        }
    }

    /// Pretty JSON with a trailing newline; the bytes depend only on the record.
    pub(crate) fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}
