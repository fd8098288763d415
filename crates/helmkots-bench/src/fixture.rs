//! The bench's inputs, made from nothing: images of realistic size in a local registry, a
//! tiny chart that runs them, and a `release.toml` that points at both.
//!
//! The images share one base layer, a middle layer per group of [`GROUP`] images (a language
//! runtime, say) and each adds one layer of its own, like application images on a common
//! distribution base. Layer contents are pseudo-random bytes (xorshift),
//! so they do not compress, as real compressed layers do not compress again. The images are
//! written as one OCI layout (each blob once) and pushed with `skopeo copy`; the helm-cli
//! base is the harness's busybox image.

use std::{
    collections::BTreeMap,
    io::{self, BufWriter, Read, Write},
    process::Command,
};

use anyhow::{format_err, Context};
use camino::Utf8Path;
use helmkots::{
    internals::oci::image::{
        json::to_canonical_vec,
        layout::{blob_path, write_blob_bytes, write_index},
    },
    internals::oci::registry::media::{Descriptor, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST},
    internals::util::digest::{HashingWriter, Sha256Digest},
    internals::util::reproducible,
};
use helmkots_e2e::registry::TestRegistry;
use serde_json::json;

const MIB: u64 = 1024 * 1024;

/// How many images share one middle layer.
pub const GROUP: usize = 4;

/// The default image count.
pub const DEFAULT_IMAGES: usize = 12;

/// The default MiB of distinct layers: a 64 MiB base, three 24 MiB middle layers and twelve
/// 18 MiB own layers.
pub const DEFAULT_SIZE_MIB: u64 = 352;

/// What share of the distinct bytes the base, all middle layers and all own layers take
/// (64 : 72 : 216, the default fixture), whatever the image count.
const SHARES: [u64; 3] = [64, 72, 216];

/// The tag every application image is pushed with.
const APP_TAG: &str = "1.0";

/// gzip level of the generated layers: the data is incompressible, so the level only
/// changes how long the setup takes.
const LAYER_LEVEL: u32 = 1;

/// Timestamp of every generated tar entry and config.
const EPOCH: u64 = reproducible::DEFAULT_EPOCH;

/// The config item the one-change run edits.
pub const CHANGED_ITEM: &str = "greeting";

/// One generated layer blob.
#[derive(Debug, Clone)]
pub struct LayerBlob {
    /// Its uncompressed content size (the random file).
    pub content_bytes: u64,
    /// Its compressed size, as pushed.
    pub blob_bytes: u64,
    digest: Sha256Digest,
    diff_id: Sha256Digest,
}

/// One image pushed to the registry.
#[derive(Debug, Clone)]
pub struct PushedImage {
    /// `127.0.0.1:PORT/bench/<name>:1.0`.
    pub reference: String,
    /// Its layers' compressed sizes summed (the shared base counted in full).
    pub layer_bytes: u64,
}

/// A blob of the fixture and a repository that serves it.
#[derive(Debug, Clone)]
pub struct DistinctBlob {
    /// `bench/<name>`.
    pub repository: String,
    /// Its digest.
    pub digest: Sha256Digest,
    /// Its size.
    pub size: u64,
}

/// Everything the runs need.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The application images (what the chart references).
    pub images: Vec<PushedImage>,
    /// Every distinct layer blob of the application images.
    pub layers: Vec<LayerBlob>,
    /// Every distinct blob (layers and configs) of the application images, by digest.
    pub blobs: Vec<DistinctBlob>,
    /// The helm-cli base image.
    pub helm_cli_base: String,
}

impl Fixture {
    /// Compressed bytes of the distinct layers: what a store that deduplicates must hold.
    pub fn unique_layer_bytes(&self) -> u64 {
        self.layers.iter().map(|layer| layer.blob_bytes).sum()
    }

    /// Compressed bytes of every image's layers, the shared base counted once per image:
    /// what saving each image on its own would hold.
    pub fn per_image_layer_bytes(&self) -> u64 {
        self.images.iter().map(|image| image.layer_bytes).sum()
    }
}

/// The name of image `index` (also its chart values key and repository).
pub fn image_name(index: usize) -> String {
    format!("app{index:02}")
}

/// Generates `count` images holding `size_mib` MiB of distinct layers into an OCI layout
/// under `work`, pushes them and the busybox helm-cli base to `registry`, then removes the
/// layout.
pub fn push_images(
    registry: &TestRegistry,
    work: &Utf8Path,
    count: usize,
    size_mib: u64,
) -> anyhow::Result<Fixture> {
    let layout = work.join("generated-layout");
    std::fs::create_dir_all(&layout).with_context(|| format!("cannot create {layout}"))?;
    let groups = count.div_ceil(GROUP);
    let total = size_mib * MIB;
    let share =
        |part: u64, among: usize| (total * part / SHARES.iter().sum::<u64>() / among as u64).max(4096);
    let base = write_layer(&layout, "base", share(SHARES[0], 1))?;
    let mut layers = vec![base.clone()];
    let mut blobs = BTreeMap::new();
    let mut index = Vec::new();
    let mut images = Vec::new();
    for group in 0..groups {
        let middle = write_layer(&layout, &format!("middle{group}"), share(SHARES[1], groups))?;
        layers.push(middle.clone());
        for index_in_group in 0..GROUP.min(count - group * GROUP) {
            let name = image_name(group * GROUP + index_in_group);
            let own = write_layer(&layout, &name, share(SHARES[2], count))?;
            let (manifest, config) = write_image(&layout, &name, &[&base, &middle, &own])?;
            let repository = format!("bench/{name}");
            for (digest, size) in
                [&base, &middle, &own].iter().map(|l| (l.digest, l.blob_bytes)).chain([config])
            {
                blobs.entry(digest).or_insert_with(|| DistinctBlob {
                    repository: repository.clone(),
                    digest,
                    size,
                });
            }
            index.push((manifest, Some(name.clone())));
            images.push(PushedImage {
                reference: registry.image(&format!("{repository}:{APP_TAG}")),
                layer_bytes: base.blob_bytes + middle.blob_bytes + own.blob_bytes,
            });
            layers.push(own);
        }
    }
    write_index(&layout, &index).map_err(|error| format_err!("cannot write index.json: {error}"))?;
    for (position, image) in images.iter().enumerate() {
        let name = image_name(position);
        skopeo(&[
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            &format!("oci:{layout}:{name}"),
            &format!("docker://{}", image.reference),
        ])?;
    }
    std::fs::remove_dir_all(&layout).with_context(|| format!("cannot remove {layout}"))?;
    let helm_cli_base = registry.seed_busybox("bench/busybox:1").reference;
    Ok(Fixture { images, layers, blobs: blobs.into_values().collect(), helm_cli_base })
}

/// Runs skopeo with `args`; an error carries its output.
pub fn skopeo(args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("skopeo").args(args).output().context("cannot run skopeo")?;
    if output.status.success() {
        return Ok(());
    }
    Err(format_err!(
        "skopeo {} failed ({}):\n{}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// Writes a gzip tar layer holding `data/<name>.bin` of `size` random bytes, streamed
/// straight into the layout (hashed on the way, compressed and uncompressed).
fn write_layer(layout: &Utf8Path, name: &str, size: u64) -> anyhow::Result<LayerBlob> {
    let blobs = layout.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).with_context(|| format!("cannot create {blobs}"))?;
    let temp = tempfile::Builder::new().prefix(".partial-").tempfile_in(&blobs)?;
    let compressed = HashingWriter::new(BufWriter::with_capacity(1 << 20, temp.as_file()));
    let uncompressed = HashingWriter::new(reproducible::gzip_writer(compressed, LAYER_LEVEL));
    let mut builder = tar::Builder::new(uncompressed);
    builder.append_data(&mut reproducible::dir_header(EPOCH), "data/", io::empty())?;
    let mut header = reproducible::file_header(size, EPOCH, false);
    builder.append_data(&mut header, format!("data/{name}.bin"), RandomBytes::new(name, size))?;
    let (diff_id, gzip, _) = builder.into_inner()?.finish();
    let (digest, mut file, blob_bytes) = gzip.finish()?.finish();
    file.flush()?;
    drop(file);
    temp.persist(blob_path(layout, &digest))?;
    Ok(LayerBlob { content_bytes: size, blob_bytes, digest, diff_id })
}

/// Writes the config and manifest of a linux/amd64 image with these layers; the manifest's
/// descriptor and the config's digest and size.
fn write_image(
    layout: &Utf8Path,
    name: &str,
    layers: &[&LayerBlob],
) -> anyhow::Result<(Descriptor, (Sha256Digest, u64))> {
    let config = to_canonical_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2000-01-01T00:00:00Z",
        "config": {"Entrypoint": ["/bin/sh"], "Labels": {"org.opencontainers.image.title": format!("helmkots bench {name}")}},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.oci()).collect::<Vec<_>>()},
    }));
    let config =
        write_blob_bytes(layout, &config).map_err(|error| format_err!("cannot write config: {error}"))?;
    let manifest = to_canonical_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config.sha256.oci(), "size": config.size},
        "layers": layers
            .iter()
            .map(|l| json!({"mediaType": OCI_LAYER_GZIP, "digest": l.digest.oci(), "size": l.blob_bytes}))
            .collect::<Vec<_>>(),
    }));
    let manifest =
        write_blob_bytes(layout, &manifest).map_err(|error| format_err!("cannot write manifest: {error}"))?;
    let descriptor = Descriptor {
        media_type: OCI_MANIFEST.to_string(),
        digest: manifest.sha256,
        size: manifest.size,
        platform: None,
    };
    Ok((descriptor, (config.sha256, config.size)))
}

/// `size` pseudo-random bytes from xorshift64*, seeded by a name (so reruns make the same
/// layers, and different names make different ones).
struct RandomBytes {
    state: u64,
    remaining: u64,
}

impl RandomBytes {
    fn new(seed: &str, size: u64) -> RandomBytes {
        // FNV-1a of the seed; never zero, which xorshift cannot leave.
        let hash = seed
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        RandomBytes { state: hash | 1, remaining: size }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

impl Read for RandomBytes {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        for chunk in buf[..len].chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        self.remaining -= len as u64;
        Ok(len)
    }
}

/// The release tree every run writes: `<slug>-<version>` of [`RELEASE_TOML`] and the chart.
pub const TREE_NAME: &str = "bench-app-0.1.0";

/// Writes the chart into `<work>/chart/`: one image value per application image, the
/// [`CHANGED_ITEM`] value, and a Deployment with a container per image.
pub fn write_chart(work: &Utf8Path, fixture: &Fixture) -> anyhow::Result<()> {
    let chart = work.join("chart");
    std::fs::create_dir_all(chart.join("templates"))?;
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: bench-app\ndescription: The helmkots bench chart.\ntype: application\nversion: \"0.1.0\"\nappVersion: \"1.0\"\n",
    )?;
    let mut values = String::from("greeting: hello\nimagePullSecrets: []\n");
    let mut deployment = DEPLOYMENT.to_string();
    for (position, image) in fixture.images.iter().enumerate() {
        let name = image_name(position);
        values.push_str(&format!("{name}:\n  image: \"{}\"\n", image.reference));
        deployment.push_str(&format!(
            "        - name: {name}\n          image: {{{{ .Values.{name}.image | quote }}}}\n          env:\n            - name: GREETING\n              value: {{{{ .Values.greeting | quote }}}}\n"
        ));
    }
    std::fs::write(chart.join("values.yaml"), values)?;
    std::fs::write(chart.join("templates").join("deployment.yaml"), deployment)?;
    Ok(())
}

/// Writes `<work>/release.toml` for the chart, with the helm-cli image on the local
/// registry and the config item [`CHANGED_ITEM`] defaulting to `greeting`.
pub fn write_release_toml(
    work: &Utf8Path,
    fixture: &Fixture,
    registry_host: &str,
    greeting: &str,
) -> anyhow::Result<()> {
    let release = RELEASE_TOML
        .replace("{base}", &fixture.helm_cli_base)
        .replace("{name}", &format!("{registry_host}/bench/helm-cli"))
        .replace("{item}", CHANGED_ITEM)
        .replace("{greeting}", greeting);
    let path = work.join("release.toml");
    std::fs::write(&path, release).with_context(|| format!("cannot write {path}"))
}

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  selector:
    matchLabels:
      app: bench
  template:
    metadata:
      labels:
        app: bench
    spec:
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
"#;

const RELEASE_TOML: &str = r#"# Written by helmkots-bench.
[app]
slug = "bench-app"
title = "helmkots bench"

[chart]
path = "chart"
release_name = "bench-app"

[helm_cli]
base = "{base}"
name = "{name}"

[airgap]
channel_id = "bench"
update_cursor = 1

[[config.groups]]
name = "settings"
title = "Settings"

  [[config.groups.items]]
  name = "{item}"
  title = "Greeting"
  type = "text"
  default = "{greeting}"
  value = "greeting"
"#;
