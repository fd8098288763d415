//! The bench's results: one table and a few ratios on stdout, the same data as JSON in
//! `target/helmkots-bench/report.json`.
//!
//! The JSON is built with `serde_json::json!` rather than derived: it is a report for
//! people and scripts, not a contract of the engine.

use camino::Utf8PathBuf;
use serde_json::{json, Value};

use crate::{fixture::Fixture, floor::FetchRun, gzip_levels::LevelResult, measure::Measured};

/// One kind of `xtask release` run, measured [`crate::RUNS`] times.
#[derive(Debug, Clone)]
pub struct ReleaseRun {
    /// Key in the JSON report: `cold`, `noop`, `one_change`.
    pub key: &'static str,
    /// Label in the table.
    pub label: &'static str,
    /// What each run cost, in order.
    pub runs: Vec<Measured>,
    /// The bundle the last run wrote, or the first failure; `None` before any run.
    pub outcome: Option<Result<BundleFacts, String>>,
}

impl ReleaseRun {
    /// A kind of run, not run yet.
    pub fn new(key: &'static str, label: &'static str) -> ReleaseRun {
        ReleaseRun { key, label, runs: Vec::new(), outcome: None }
    }

    /// The bundle, when every run succeeded.
    pub fn bundle(&self) -> Option<&BundleFacts> {
        self.outcome.as_ref()?.as_ref().ok()
    }

    /// The run of median wall time.
    pub fn median(&self) -> Option<&Measured> {
        let mut runs: Vec<&Measured> = self.runs.iter().collect();
        runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        runs.get(runs.len() / 2).copied()
    }

    /// The fastest and slowest wall time.
    fn range(&self) -> (f64, f64) {
        let times = self.runs.iter().map(|m| m.seconds);
        (times.clone().fold(f64::INFINITY, f64::min), times.fold(0.0, f64::max))
    }

    /// The largest peak RSS of any run.
    pub fn max_peak_rss_bytes(&self) -> u64 {
        self.runs.iter().map(|m| m.peak_rss_bytes).max().unwrap_or(0)
    }
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

/// The floor, measured [`crate::RUNS`] times.
#[derive(Debug, Clone)]
pub struct FloorRun {
    /// Fetching threads (the pull's workers).
    pub concurrency: usize,
    /// Each fetch of every distinct blob.
    pub fetches: Vec<FetchRun>,
    /// Each sha256 pass over the bundle, in seconds.
    pub hash_passes: Vec<f64>,
}

impl FloorRun {
    /// Median fetch time.
    pub fn fetch_seconds(&self) -> f64 {
        median(self.fetches.iter().map(|f| f.seconds))
    }

    /// Median hash pass.
    pub fn hash_seconds(&self) -> f64 {
        median(self.hash_passes.iter().copied())
    }

    /// The floor: fetch, then one hash pass.
    pub fn seconds(&self) -> f64 {
        self.fetch_seconds() + self.hash_seconds()
    }

    /// Median CPU time the registry spent serving a fetch.
    pub fn fetch_registry_cpu_seconds(&self) -> Option<f64> {
        median_measured(self.fetches.iter().map(|f| f.registry_cpu_seconds))
    }
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

    /// CPU time the registry spent serving all copies.
    pub fn registry_cpu_seconds(&self) -> Option<f64> {
        self.copies.iter().map(|(_, m)| m.watched_cpu_seconds).sum()
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
    /// `--images`.
    pub images: usize,
    /// `--size`.
    pub size_mib: u64,
    /// Whether `--quick` set it.
    pub quick: bool,
    /// The generated images.
    pub fixture: Fixture,
    /// Time to generate and push them.
    pub setup_seconds: f64,
    /// The release runs: cold, no-op, one change.
    pub releases: Vec<ReleaseRun>,
    /// The stage tables of one more cold and one-change run with `--timings`: label, table.
    pub timings: Vec<(&'static str, String)>,
    /// The floor, or why it was not measured.
    pub floor: Result<FloorRun, String>,
    /// The skopeo peer, each round.
    pub peers: Vec<PeerRun>,
    /// The gzip levels, or why they were not measured.
    pub gzip: Result<GzipRun, String>,
    /// Rendered discovery of the largest corpus chart (`None`: skipped, said why).
    pub discovery: Result<Option<crate::discovery::DiscoveryRun>, String>,
}

/// The goals of issue 16, printed beside the ratios.
const GOAL_COLD_VS_FLOOR: f64 = 0.9;
const GOAL_COLD_VS_SKOPEO: f64 = 0.45;
const GOAL_CHANGE_VS_HASH: f64 = 1.2;
const GOAL_PEAK_RSS_MIB: f64 = 64.0;

/// The ratios the table ends with; `None` when a side is missing.
struct Ratios {
    cold_vs_floor_time: Option<f64>,
    cold_vs_skopeo_time: Option<f64>,
    cold_vs_skopeo_rss: Option<f64>,
    one_change_vs_hash_pass: Option<f64>,
    noop_vs_cold: Option<f64>,
    one_change_vs_cold: Option<f64>,
    bundle_vs_unique_layers: Option<f64>,
    bundle_vs_per_image_layers: Option<f64>,
    /// Whether the no-op run wrote the same bundle bytes as the cold run.
    noop_bundle_identical: Option<bool>,
    /// The median cold run's CPU time and the registry's, over its wall time on every core:
    /// near 1, the cores were busy the whole run, and only less work can make it faster.
    cold_cores_busy: Option<f64>,
}

impl Report {
    fn release(&self, key: &str) -> Option<&ReleaseRun> {
        self.releases.iter().find(|run| run.key == key && run.bundle().is_some())
    }

    fn median_seconds(&self, key: &str) -> Option<f64> {
        Some(self.release(key)?.median()?.seconds)
    }

    /// The peer's median round, when every round succeeded.
    fn peer_seconds(&self) -> Option<f64> {
        let ok =
            !self.peers.is_empty() && self.peers.iter().all(|p| p.error.is_none() && !p.copies.is_empty());
        ok.then(|| median(self.peers.iter().map(PeerRun::total_seconds)))
    }

    fn peer_peak_rss_bytes(&self) -> u64 {
        self.peers.iter().map(PeerRun::max_peak_rss_bytes).max().unwrap_or(0)
    }

    fn ratios(&self) -> Ratios {
        let cold = self.median_seconds("cold");
        let cold_rss = self.release("cold").map(ReleaseRun::max_peak_rss_bytes);
        let peer = self.peer_seconds();
        let floor = self.floor.as_ref().ok();
        let bundle = self.release("cold").and_then(ReleaseRun::bundle).map(|bundle| bundle.bytes as f64);
        let versus_cold = |key: &str| Some(self.median_seconds(key)? / cold?);
        Ratios {
            cold_vs_floor_time: cold.zip(floor).map(|(c, f)| c / f.seconds()),
            cold_vs_skopeo_time: cold.zip(peer).map(|(c, p)| c / p),
            cold_vs_skopeo_rss: cold_rss
                .filter(|_| peer.is_some())
                .map(|c| c as f64 / self.peer_peak_rss_bytes() as f64),
            one_change_vs_hash_pass: self
                .median_seconds("one_change")
                .zip(floor)
                .map(|(c, f)| c / f.hash_seconds()),
            noop_vs_cold: versus_cold("noop"),
            one_change_vs_cold: versus_cold("one_change"),
            bundle_vs_unique_layers: bundle.map(|b| b / self.fixture.unique_layer_bytes() as f64),
            bundle_vs_per_image_layers: bundle.map(|b| b / self.fixture.per_image_layer_bytes() as f64),
            noop_bundle_identical: self
                .release("cold")
                .and_then(ReleaseRun::bundle)
                .zip(self.release("noop").and_then(ReleaseRun::bundle))
                .map(|(cold, noop)| cold.sha256 == noop.sha256),
            cold_cores_busy: self.release("cold").and_then(ReleaseRun::median).and_then(|run| {
                let registry = run.watched_cpu_seconds?;
                Some((run.cpu_seconds + registry) / (run.seconds * cpus() as f64))
            }),
        }
    }

    /// Prints the table and the ratios.
    pub fn print_table(&self) {
        println!();
        println!(
            "helmkots bench: {} images, distinct layers {} (per image, shared layers counted each time: {}){}, {} CPUs, medians of {}",
            self.fixture.images.len(),
            mib(self.fixture.unique_layer_bytes()),
            mib(self.fixture.per_image_layer_bytes()),
            if self.quick { " (--quick)" } else { "" },
            cpus(),
            crate::RUNS,
        );
        let ratios = self.ratios();
        println!();
        // `registry cpu`: what the registry spent serving the run, on the same cores.
        println!(
            "{:<34} {:>10} {:>19} {:>10} {:>13} {:>12}   against / result",
            "run", "time", "(min-max)", "cpu", "registry cpu", "peak RSS"
        );
        let row = |label: &str, time: String, range: String, cpu: Cpu, rss: String, note: String| {
            let Cpu(cpu, registry) = cpu;
            println!("{label:<34} {time:>10} {range:>19} {cpu:>10} {registry:>13} {rss:>12}   {note}");
        };
        for run in &self.releases {
            let (Some(median_run), Some(outcome)) = (run.median(), &run.outcome) else { continue };
            let (low, high) = run.range();
            let note = match (outcome, run.key) {
                (Err(error), _) => format!("FAILED: {}", first_line(error)),
                (Ok(_), "cold") => format!(
                    "{} the floor; {} skopeo copy",
                    ratio(ratios.cold_vs_floor_time),
                    ratio(ratios.cold_vs_skopeo_time)
                ),
                (Ok(_), "one_change") => {
                    format!("{} one sha256 pass over the bundle", ratio(ratios.one_change_vs_hash_pass))
                }
                (Ok(bundle), _) => format!("bundle {}", mib(bundle.bytes)),
            };
            row(
                run.label,
                seconds(median_run.seconds),
                format!("({:.2}-{:.2} s)", low, high),
                Cpu(seconds(median_run.cpu_seconds), optional_seconds(median_run.watched_cpu_seconds)),
                mib(run.max_peak_rss_bytes()),
                note,
            );
        }
        match &self.floor {
            Ok(floor) => {
                row(
                    "floor: fetch + one hash pass",
                    seconds(floor.seconds()),
                    String::new(),
                    Cpu(String::new(), optional_seconds(floor.fetch_registry_cpu_seconds())),
                    String::new(),
                    format!(
                        "fetch {} + hash {} ({} threads, plain HTTP client)",
                        seconds(floor.fetch_seconds()),
                        seconds(floor.hash_seconds()),
                        floor.concurrency
                    ),
                );
                row(
                    "one sha256 pass over the bundle",
                    seconds(floor.hash_seconds()),
                    String::new(),
                    Cpu::none(),
                    String::new(),
                    String::new(),
                );
            }
            Err(error) => row(
                "floor",
                String::new(),
                String::new(),
                Cpu::none(),
                String::new(),
                format!("FAILED: {}", first_line(error)),
            ),
        }
        if let Some(first) = self.peers.first() {
            let failed = self.peers.iter().find_map(|p| p.error.as_ref());
            let note = match failed {
                None => String::new(),
                Some(error) => format!("FAILED: {}", first_line(error)),
            };
            let times: Vec<f64> = self.peers.iter().map(PeerRun::total_seconds).collect();
            row(
                &format!("skopeo copy ({} images)", first.copies.len()),
                seconds(median(times.iter().copied())),
                format!(
                    "({:.2}-{:.2} s)",
                    times.iter().copied().fold(f64::INFINITY, f64::min),
                    times.iter().copied().fold(0.0, f64::max)
                ),
                Cpu(
                    seconds(median(self.peers.iter().map(PeerRun::cpu_seconds))),
                    optional_seconds(median_measured(self.peers.iter().map(PeerRun::registry_cpu_seconds))),
                ),
                mib(self.peer_peak_rss_bytes()),
                note,
            );
        }
        match &self.gzip {
            Ok(gzip) => {
                for level in &gzip.levels {
                    let chosen = if level.level == helmkots::internals::oci::airgap::bundle::BUNDLE_LEVEL {
                        "  <- BUNDLE_LEVEL (all but compressed layers)"
                    } else if level.level == helmkots::internals::oci::airgap::bundle::STORED_LEVEL {
                        "  <- STORED_LEVEL (compressed layers)"
                    } else {
                        ""
                    };
                    row(
                        &format!("gzip level {}", level.level),
                        seconds(level.seconds),
                        String::new(),
                        Cpu::none(),
                        String::new(),
                        format!(
                            "{:.2}% of the {} tar, {:.0} MiB/s{chosen}",
                            100.0 * level.bytes as f64 / gzip.tar_bytes as f64,
                            mib(gzip.tar_bytes),
                            gzip.tar_bytes as f64 / 1048576.0 / level.seconds,
                        ),
                    );
                }
            }
            Err(error) => row(
                "gzip levels",
                String::new(),
                String::new(),
                Cpu::none(),
                String::new(),
                format!("skipped: {}", first_line(error)),
            ),
        }
        println!();
        println!("ratios (medians)                   measured   goal");
        println!(
            "  cold release / floor             {:>8}   <= {GOAL_COLD_VS_FLOOR}x",
            ratio(ratios.cold_vs_floor_time)
        );
        println!(
            "  cold release / skopeo copy       {:>8}   <= {GOAL_COLD_VS_SKOPEO}x",
            ratio(ratios.cold_vs_skopeo_time)
        );
        println!(
            "  one change / one hash pass       {:>8}   <= {GOAL_CHANGE_VS_HASH}x",
            ratio(ratios.one_change_vs_hash_pass)
        );
        println!(
            "  cold release peak RSS            {:>8}   <= {GOAL_PEAK_RSS_MIB} MiB   (/ skopeo copy's {})",
            self.release("cold").map_or("n/a".to_string(), |run| mib(run.max_peak_rss_bytes())),
            ratio(ratios.cold_vs_skopeo_rss)
        );
        println!(
            "  cold release: cores busy         {:>8}   (its cpu + the registry's, over wall x {} cores)",
            ratios.cold_cores_busy.map_or_else(|| "n/a".to_string(), |busy| format!("{busy:.3}")),
            cpus()
        );
        println!("  no-op release / cold             {:>8}", ratio(ratios.noop_vs_cold));
        println!("  one-change release / cold        {:>8}", ratio(ratios.one_change_vs_cold));
        let identical = match ratios.noop_bundle_identical {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "n/a",
        };
        println!("  no-op bundle == cold bundle      {identical:>8}");
        println!(
            "  bundle / distinct layers         {:>8}   (/ per-image layers {})",
            ratio(ratios.bundle_vs_unique_layers),
            ratio(ratios.bundle_vs_per_image_layers)
        );
        if let Ok(gzip) = &self.gzip {
            if let Some(level) =
                gzip.levels.iter().find(|l| l.level == helmkots::internals::oci::airgap::bundle::BUNDLE_LEVEL)
            {
                println!(
                    "  gzip level {} / plain tar         {:>8}",
                    level.level,
                    ratio(Some(level.bytes as f64 / gzip.tar_bytes as f64))
                );
            }
        }
        for (label, table) in &self.timings {
            println!("\none more {label} (not in the medians):\n{table}");
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
                "registry_cpu_seconds": m.watched_cpu_seconds,
                "peak_rss_bytes": m.peak_rss_bytes,
                "exit_code": m.status.code(),
                "log": m.log.as_str(),
            })
        };
        let peer = |peer: &PeerRun| {
            json!({
                "seconds": peer.total_seconds(),
                "cpu_seconds": peer.cpu_seconds(),
                "registry_cpu_seconds": peer.registry_cpu_seconds(),
                "max_peak_rss_bytes": peer.max_peak_rss_bytes(),
                "error": peer.error,
                "copies": peer.copies.iter().map(|(reference, m)| {
                    let mut value = measured(m);
                    value["reference"] = json!(reference);
                    value
                }).collect::<Vec<_>>(),
            })
        };
        json!({
            "schema_version": 2,
            "generator": format!("helmkots-bench {}", env!("CARGO_PKG_VERSION")),
            "images": self.images,
            "size_mib": self.size_mib,
            "quick": self.quick,
            "runs": crate::RUNS,
            "cpus": cpus(),
            "setup": {
                "seconds": self.setup_seconds,
                "images": self.fixture.images.iter().map(|i| json!({"reference": i.reference, "layer_bytes": i.layer_bytes})).collect::<Vec<_>>(),
                "layers": self.fixture.layers.iter().map(|l| json!({"content_bytes": l.content_bytes, "blob_bytes": l.blob_bytes})).collect::<Vec<_>>(),
                "unique_layer_bytes": self.fixture.unique_layer_bytes(),
                "per_image_layer_bytes": self.fixture.per_image_layer_bytes(),
                "helm_cli_base": self.fixture.helm_cli_base,
            },
            "releases": self.releases.iter().map(|run| {
                let mut value = json!({
                    "run": run.key,
                    "median_seconds": run.median().map(|m| m.seconds),
                    "max_peak_rss_bytes": run.max_peak_rss_bytes(),
                    "rounds": run.runs.iter().map(measured).collect::<Vec<_>>(),
                });
                match &run.outcome {
                    Some(Ok(bundle)) => {
                        value["bundle_bytes"] = json!(bundle.bytes);
                        value["bundle_sha256"] = json!(bundle.sha256);
                        value["saved_images"] = json!(bundle.saved_images);
                    }
                    Some(Err(error)) => value["error"] = json!(error),
                    None => {}
                }
                value
            }).collect::<Vec<_>>(),
            "timings": self.timings.iter().map(|(label, table)| json!({"run": label, "table": table})).collect::<Vec<_>>(),
            "floor": match &self.floor {
                Ok(floor) => json!({
                    "seconds": floor.seconds(),
                    "fetch_seconds": floor.fetch_seconds(),
                    "hash_pass_seconds": floor.hash_seconds(),
                    "concurrency": floor.concurrency,
                    "fetch_registry_cpu_seconds": floor.fetch_registry_cpu_seconds(),
                    "fetches": floor.fetches.iter().map(|f| json!({"seconds": f.seconds, "bytes": f.bytes, "registry_cpu_seconds": f.registry_cpu_seconds})).collect::<Vec<_>>(),
                    "hash_passes": floor.hash_passes,
                }),
                Err(error) => json!({"error": error}),
            },
            "skopeo": {
                "median_seconds": self.peer_seconds(),
                "max_peak_rss_bytes": self.peer_peak_rss_bytes(),
                "rounds": self.peers.iter().map(peer).collect::<Vec<_>>(),
            },
            "gzip": match &self.gzip {
                Ok(gzip) => json!({
                    "bundle_level": helmkots::internals::oci::airgap::bundle::BUNDLE_LEVEL,
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
                "cold_vs_floor_seconds": ratios.cold_vs_floor_time,
                "cold_vs_skopeo_seconds": ratios.cold_vs_skopeo_time,
                "one_change_vs_hash_pass_seconds": ratios.one_change_vs_hash_pass,
                "cold_peak_rss_bytes": self.release("cold").map(ReleaseRun::max_peak_rss_bytes),
                "cold_vs_skopeo_peak_rss": ratios.cold_vs_skopeo_rss,
                "noop_vs_cold_seconds": ratios.noop_vs_cold,
                "one_change_vs_cold_seconds": ratios.one_change_vs_cold,
                "bundle_vs_unique_layer_bytes": ratios.bundle_vs_unique_layers,
                "bundle_vs_per_image_layer_bytes": ratios.bundle_vs_per_image_layers,
                "noop_bundle_identical": ratios.noop_bundle_identical,
                "cold_cores_busy": ratios.cold_cores_busy,
            },
            "goals": {
                "cold_vs_floor_seconds": GOAL_COLD_VS_FLOOR,
                "cold_vs_skopeo_seconds": GOAL_COLD_VS_SKOPEO,
                "one_change_vs_hash_pass_seconds": GOAL_CHANGE_VS_HASH,
                "cold_peak_rss_bytes": GOAL_PEAK_RSS_MIB * 1048576.0,
            },
        })
    }
}

/// The median of some values (the upper one of an even count); 0 for none.
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The median of the values that were measured; `None` when none was.
fn median_measured(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let measured: Vec<f64> = values.flatten().collect();
    (!measured.is_empty()).then(|| median(measured.into_iter()))
}

fn cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// `1.23 s`.
pub fn seconds(value: f64) -> String {
    format!("{value:.2} s")
}

/// The table's two CPU columns: the run's own, and the registry's while serving it.
struct Cpu(String, String);

impl Cpu {
    fn none() -> Cpu {
        Cpu(String::new(), String::new())
    }
}

/// `1.23 s`, or `n/a` when it was not measured.
pub fn optional_seconds(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), seconds)
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
