//! The bench's results: one table and a few ratios on stdout, the same data as JSON in
//! `target/helmkots-bench/report.json`.
//!
//! The JSON is built with `serde_json::json!` rather than derived: it is a report for
//! people and scripts, not a contract of the engine.

use camino::Utf8PathBuf;
use serde_json::{json, Value};

use crate::{fixture::Fixture, gzip_levels::LevelResult, measure::Measured};

/// One `xtask release` run.
#[derive(Debug, Clone)]
pub struct ReleaseRun {
    /// Key in the JSON report: `cold`, `noop`, `one_change`.
    pub key: &'static str,
    /// Label in the table.
    pub label: &'static str,
    /// What the child cost.
    pub measured: Measured,
    /// The bundle it wrote, or why there is none.
    pub outcome: Result<BundleFacts, String>,
}

/// The bundle of a release tree, from its build record.
#[derive(Debug, Clone)]
pub struct BundleFacts {
    /// The `.airgap` file.
    pub path: Utf8PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its sha256 as the build record lists it.
    pub sha256: String,
    /// Its `savedImages`.
    pub saved_images: Vec<String>,
}

/// The peer: `skopeo copy` of each image into one OCI layout.
#[derive(Debug, Clone)]
pub struct PeerRun {
    /// Each copy: source reference and cost.
    pub copies: Vec<(String, Measured)>,
    /// The first failure, if any.
    pub error: Option<String>,
}

impl PeerRun {
    /// Wall time of all copies, one after the other.
    pub fn total_seconds(&self) -> f64 {
        self.copies.iter().map(|(_, m)| m.seconds).sum()
    }

    /// CPU time of all copies.
    pub fn cpu_seconds(&self) -> f64 {
        self.copies.iter().map(|(_, m)| m.cpu_seconds).sum()
    }

    /// The largest peak RSS of any copy.
    pub fn max_peak_rss_bytes(&self) -> u64 {
        self.copies.iter().map(|(_, m)| m.peak_rss_bytes).max().unwrap_or(0)
    }
}

/// The gzip-level measurement.
#[derive(Debug, Clone)]
pub struct GzipRun {
    /// Size of the bundle's plain tar.
    pub tar_bytes: u64,
    /// One result per level.
    pub levels: Vec<LevelResult>,
}

/// Everything one bench run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// The size multiplier.
    pub scale: f64,
    /// Whether `--quick` set it.
    pub quick: bool,
    /// The generated images.
    pub fixture: Fixture,
    /// Time to generate and push them.
    pub setup_seconds: f64,
    /// The release runs, in order.
    pub releases: Vec<ReleaseRun>,
    /// The skopeo peer, when it ran.
    pub peer: Option<PeerRun>,
    /// The gzip levels, or why they were not measured.
    pub gzip: Result<GzipRun, String>,
    /// Rendered discovery of the largest corpus chart (`None`: skipped, said why).
    pub discovery: Result<Option<crate::discovery::DiscoveryRun>, String>,
}

/// The ratios the table ends with; `None` when a side is missing.
struct Ratios {
    cold_vs_skopeo_time: Option<f64>,
    cold_vs_skopeo_rss: Option<f64>,
    noop_vs_cold: Option<f64>,
    one_change_vs_cold: Option<f64>,
    bundle_vs_unique_layers: Option<f64>,
    bundle_vs_per_image_layers: Option<f64>,
    /// Whether the no-op run wrote the same bundle bytes as the cold run.
    noop_bundle_identical: Option<bool>,
}

impl Report {
    fn release(&self, key: &str) -> Option<&ReleaseRun> {
        self.releases.iter().find(|run| run.key == key && run.outcome.is_ok())
    }

    fn cold_bundle(&self) -> Option<&BundleFacts> {
        self.release("cold").and_then(|run| run.outcome.as_ref().ok())
    }

    fn ratios(&self) -> Ratios {
        let cold = self.release("cold").map(|run| &run.measured);
        let peer = self.peer.as_ref().filter(|peer| peer.error.is_none() && !peer.copies.is_empty());
        let versus_cold = |key: &str| Some(self.release(key)?.measured.seconds / cold?.seconds);
        let bundle = self.cold_bundle().map(|bundle| bundle.bytes as f64);
        Ratios {
            cold_vs_skopeo_time: cold.zip(peer).map(|(c, p)| c.seconds / p.total_seconds()),
            cold_vs_skopeo_rss: cold
                .zip(peer)
                .map(|(c, p)| c.peak_rss_bytes as f64 / p.max_peak_rss_bytes() as f64),
            noop_vs_cold: versus_cold("noop"),
            one_change_vs_cold: versus_cold("one_change"),
            bundle_vs_unique_layers: bundle.map(|b| b / self.fixture.unique_layer_bytes() as f64),
            bundle_vs_per_image_layers: bundle.map(|b| b / self.fixture.per_image_layer_bytes() as f64),
            noop_bundle_identical: self
                .cold_bundle()
                .zip(self.release("noop").and_then(|run| run.outcome.as_ref().ok()))
                .map(|(cold, noop)| cold.sha256 == noop.sha256),
        }
    }

    /// Prints the table and the ratios.
    pub fn print_table(&self) {
        println!();
        println!(
            "helmkots bench: scale {}{}, {} images, distinct layers {} (per image, base counted each time: {})",
            self.scale,
            if self.quick { " (--quick)" } else { "" },
            self.fixture.images.len(),
            mib(self.fixture.unique_layer_bytes()),
            mib(self.fixture.per_image_layer_bytes()),
        );
        println!();
        println!("{:<28} {:>10} {:>10} {:>12}   result", "run", "wall", "cpu", "peak RSS");
        for run in &self.releases {
            let result = match &run.outcome {
                Ok(bundle) => format!("bundle {}", mib(bundle.bytes)),
                Err(error) => format!("FAILED: {}", first_line(error)),
            };
            println!(
                "{:<28} {:>10} {:>10} {:>12}   {}",
                run.label,
                seconds(run.measured.seconds),
                seconds(run.measured.cpu_seconds),
                mib(run.measured.peak_rss_bytes),
                result
            );
        }
        if let Some(peer) = &self.peer {
            let result = match &peer.error {
                None => "ok".to_string(),
                Some(error) => format!("FAILED: {}", first_line(error)),
            };
            println!(
                "{:<28} {:>10} {:>10} {:>12}   {}",
                format!("skopeo copy ({} images)", peer.copies.len()),
                seconds(peer.total_seconds()),
                seconds(peer.cpu_seconds()),
                mib(peer.max_peak_rss_bytes()),
                result
            );
        }
        match &self.gzip {
            Ok(gzip) => {
                for level in &gzip.levels {
                    let chosen = if level.level == helmkots::airgap::bundle::BUNDLE_LEVEL {
                        "  <- BUNDLE_LEVEL (all but compressed layers)"
                    } else if level.level == helmkots::airgap::bundle::STORED_LEVEL {
                        "  <- STORED_LEVEL (compressed layers)"
                    } else {
                        ""
                    };
                    println!(
                        "{:<28} {:>10} {:>10} {:>12}   {:.2}% of the {} tar, {:.0} MiB/s{chosen}",
                        format!("gzip level {}", level.level),
                        seconds(level.seconds),
                        "",
                        "",
                        100.0 * level.bytes as f64 / gzip.tar_bytes as f64,
                        mib(gzip.tar_bytes),
                        gzip.tar_bytes as f64 / 1048576.0 / level.seconds,
                    );
                }
            }
            Err(error) => println!(
                "{:<28} {:>10} {:>10} {:>12}   skipped: {}",
                "gzip levels",
                "",
                "",
                "",
                first_line(error)
            ),
        }
        let ratios = self.ratios();
        println!();
        println!("ratios");
        println!(
            "  cold release / skopeo copy     wall {}   peak RSS {}",
            ratio(ratios.cold_vs_skopeo_time),
            ratio(ratios.cold_vs_skopeo_rss)
        );
        println!("  no-op release / cold           wall {}", ratio(ratios.noop_vs_cold));
        println!("  one-change release / cold      wall {}", ratio(ratios.one_change_vs_cold));
        let identical = match ratios.noop_bundle_identical {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "n/a",
        };
        println!("  no-op bundle == cold bundle    {identical}");
        println!(
            "  bundle / distinct layers       size {}   (/ per-image layers {})",
            ratio(ratios.bundle_vs_unique_layers),
            ratio(ratios.bundle_vs_per_image_layers)
        );
        if let Ok(gzip) = &self.gzip {
            if let Some(level) =
                gzip.levels.iter().find(|l| l.level == helmkots::airgap::bundle::BUNDLE_LEVEL)
            {
                println!(
                    "  gzip level {} / plain tar       size {}",
                    level.level,
                    ratio(Some(level.bytes as f64 / gzip.tar_bytes as f64))
                );
            }
        }
        match &self.discovery {
            Ok(Some(run)) => run.print(),
            Ok(None) => println!("\nrendered discovery: skipped (see above)"),
            Err(error) => println!("\nrendered discovery: FAILED\n{error}"),
        }
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        let ratios = self.ratios();
        let measured = |m: &Measured| {
            json!({
                "seconds": m.seconds,
                "cpu_seconds": m.cpu_seconds,
                "peak_rss_bytes": m.peak_rss_bytes,
                "exit_code": m.status.code(),
                "log": m.log.as_str(),
            })
        };
        json!({
            "schema_version": 1,
            "generator": format!("helmkots-bench {}", env!("CARGO_PKG_VERSION")),
            "scale": self.scale,
            "quick": self.quick,
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "setup": {
                "seconds": self.setup_seconds,
                "images": self.fixture.images.iter().map(|i| json!({"reference": i.reference, "layer_bytes": i.layer_bytes})).collect::<Vec<_>>(),
                "layers": self.fixture.layers.iter().map(|l| json!({"content_bytes": l.content_bytes, "blob_bytes": l.blob_bytes})).collect::<Vec<_>>(),
                "unique_layer_bytes": self.fixture.unique_layer_bytes(),
                "per_image_layer_bytes": self.fixture.per_image_layer_bytes(),
                "helm_cli_base": self.fixture.helm_cli_base,
            },
            "releases": self.releases.iter().map(|run| {
                let mut value = measured(&run.measured);
                value["run"] = json!(run.key);
                match &run.outcome {
                    Ok(bundle) => {
                        value["bundle_bytes"] = json!(bundle.bytes);
                        value["bundle_sha256"] = json!(bundle.sha256);
                        value["saved_images"] = json!(bundle.saved_images);
                    }
                    Err(error) => value["error"] = json!(error),
                }
                value
            }).collect::<Vec<_>>(),
            "skopeo": self.peer.as_ref().map(|peer| json!({
                "seconds": peer.total_seconds(),
                "cpu_seconds": peer.cpu_seconds(),
                "max_peak_rss_bytes": peer.max_peak_rss_bytes(),
                "error": peer.error,
                "copies": peer.copies.iter().map(|(reference, m)| {
                    let mut value = measured(m);
                    value["reference"] = json!(reference);
                    value
                }).collect::<Vec<_>>(),
            })),
            "gzip": match &self.gzip {
                Ok(gzip) => json!({
                    "bundle_level": helmkots::airgap::bundle::BUNDLE_LEVEL,
                    "tar_bytes": gzip.tar_bytes,
                    "levels": gzip.levels.iter().map(|l| json!({"level": l.level, "seconds": l.seconds, "bytes": l.bytes})).collect::<Vec<_>>(),
                }),
                Err(error) => json!({"error": error}),
            },
            "discovery": match &self.discovery {
                Ok(Some(run)) => run.to_json(),
                Ok(None) => Value::Null,
                Err(error) => json!({"error": error}),
            },
            "ratios": {
                "cold_vs_skopeo_seconds": ratios.cold_vs_skopeo_time,
                "cold_vs_skopeo_peak_rss": ratios.cold_vs_skopeo_rss,
                "noop_vs_cold_seconds": ratios.noop_vs_cold,
                "one_change_vs_cold_seconds": ratios.one_change_vs_cold,
                "bundle_vs_unique_layer_bytes": ratios.bundle_vs_unique_layers,
                "bundle_vs_per_image_layer_bytes": ratios.bundle_vs_per_image_layers,
                "noop_bundle_identical": ratios.noop_bundle_identical,
            },
        })
    }
}

/// `1.23 s`.
pub fn seconds(value: f64) -> String {
    format!("{value:.2} s")
}

/// `12.3 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1048576.0)
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}x"))
}

fn first_line(text: &str) -> &str {
    text.lines().find(|line| !line.trim().is_empty()).unwrap_or(text)
}
