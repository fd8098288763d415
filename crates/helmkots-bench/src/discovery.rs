//! Rendered discovery of the largest corpus chart, against one `helm template` of it.
//!
//! The chart is the corpus chart with the most switches (the most configurations to render,
//! subcharts included): each switch becomes a bool config item, as the corpus test does, and
//! `xtask images --json` runs with the tests' Helm front end (`tests/tools/helm`, the real Helm
//! engine) first on PATH. The peer is one `helm template` of the same chart with its
//! defaults, through the same front end: the ratio says how many plain renders' worth of time
//! discovery costs, next to how many renders it made and how many ran at once.
//!
//! Then the proof of the same chart with 12 bool and 2 select items (the corpus switches, then
//! other bool values of the chart, then unused values, so every item changes what Helm
//! gets): `verify --proof` of the release tree with an empty render cache, and again with the
//! cache the first run filled. The report gives the configurations and renders of the 3-way
//! array next to every combination's count, and the second run's time over the first's.
//!
//! Skipped, saying why, when `../shared` or the Helm front end is absent.

use std::process::Command;

use anyhow::{format_err, Context};
use camino::{Utf8Path, Utf8PathBuf};
use serde_json::{json, Value};

use crate::measure::{self, Measured};
use crate::report;

/// What the discovery run measured.
#[derive(Debug, Clone)]
pub struct DiscoveryRun {
    /// The chart archive's file name.
    pub chart: String,
    /// Bool items (the corpus switches).
    pub switches: usize,
    /// `xtask images --json`.
    pub images: Measured,
    /// Configurations and `helm template` runs, as `images --json` reports them.
    pub configurations: u64,
    /// `helm template` runs discovery made.
    pub renders: u64,
    /// Images listed.
    pub found: usize,
    /// One `helm template` of the chart's defaults.
    pub peer: Measured,
    /// The proof of the 12 + 2 item release.
    pub proof: Option<ProofRun>,
    /// Seconds a render costs in process (the engine loaded once, the chart loaded once), and
    /// through the `helm template` front end (a process each): whether an in-process engine
    /// would pay off.
    pub engine: Option<(f64, f64)>,
}

/// `verify --proof` of a release with 12 bool and 2 select items, cold and cached.
#[derive(Debug, Clone)]
pub struct ProofRun {
    /// With an empty render cache.
    pub cold: Measured,
    /// Again, with the cache the first run filled.
    pub cached: Measured,
    /// From the report: configurations, renders, every combination's count, failed runs.
    pub configurations: u64,
    pub renders: u64,
    pub all_combinations: u64,
    pub failed_runs: usize,
}

impl DiscoveryRun {
    /// Discovery's wall time over one plain render's.
    pub fn ratio(&self) -> f64 {
        self.images.seconds / self.peer.seconds.max(f64::EPSILON)
    }

    /// Prints the section of the table.
    pub fn print(&self) {
        println!("\nrendered discovery of {} ({} switches):", self.chart, self.switches);
        println!(
            "  xtask images      {:>9} wall {:>9} cpu  peak RSS {:>10}  {} configurations, {} renders, {} images",
            report::seconds(self.images.seconds),
            report::seconds(self.images.cpu_seconds),
            report::mib(self.images.peak_rss_bytes),
            self.configurations,
            self.renders,
            self.found
        );
        println!(
            "  helm template ×1  {:>9} wall {:>9} cpu  peak RSS {:>10}",
            report::seconds(self.peer.seconds),
            report::seconds(self.peer.cpu_seconds),
            report::mib(self.peer.peak_rss_bytes)
        );
        println!(
            "  discovery / one render: {:.1}× ({} renders on {} cores would be {:.1}× if renders were all it did)",
            self.ratio(),
            self.renders,
            cpus(),
            self.renders as f64 / cpus() as f64
        );
        if let Some((in_process, per_process)) = self.engine {
            println!(
                "  one render in process {:.3} s vs one `helm template` process {:.3} s: {:.1}× (the tests' Helm front end; a Go helm binary starts faster)",
                in_process,
                per_process,
                per_process / in_process.max(f64::EPSILON)
            );
        }
        if let Some(proof) = &self.proof {
            println!(
                "  verify --proof, 12 bool + 2 select items: {} configurations (3-way; every combination: {}), {} renders{}",
                proof.configurations,
                proof.all_combinations,
                proof.renders,
                if proof.failed_runs > 0 { format!(", {} run(s) failed", proof.failed_runs) } else { String::new() }
            );
            println!(
                "    cold {:>9} wall {:>9} cpu;  cached {:>9} wall: {:.3}× the cold run",
                report::seconds(proof.cold.seconds),
                report::seconds(proof.cold.cpu_seconds),
                report::seconds(proof.cached.seconds),
                proof.cached.seconds / proof.cold.seconds.max(f64::EPSILON)
            );
        }
    }

    /// The report's `discovery` object.
    pub fn to_json(&self) -> Value {
        let proof = self.proof.as_ref().map(|proof| {
            json!({
                "items": "12 bool + 2 select",
                "configurations": proof.configurations,
                "all_combinations": proof.all_combinations,
                "renders": proof.renders,
                "failed_runs": proof.failed_runs,
                "cold_seconds": proof.cold.seconds,
                "cold_cpu_seconds": proof.cold.cpu_seconds,
                "cached_seconds": proof.cached.seconds,
                "cached_vs_cold_seconds": proof.cached.seconds / proof.cold.seconds.max(f64::EPSILON),
            })
        });
        json!({
            "proof": proof,
            "render_in_process_seconds": self.engine.map(|(in_process, _)| in_process),
            "render_per_process_seconds": self.engine.map(|(_, per_process)| per_process),
            "chart": self.chart,
            "switches": self.switches,
            "configurations": self.configurations,
            "renders": self.renders,
            "images_found": self.found,
            "seconds": self.images.seconds,
            "cpu_seconds": self.images.cpu_seconds,
            "peak_rss_bytes": self.images.peak_rss_bytes,
            "helm_template_seconds": self.peer.seconds,
            "helm_template_cpu_seconds": self.peer.cpu_seconds,
            "discovery_vs_one_render_seconds": self.ratio(),
        })
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs the discovery bench; `Ok(None)` with the reason printed when it cannot run here.
pub fn run(xtask: &Utf8Path, root: &Utf8Path, work: &Utf8Path) -> anyhow::Result<Option<DiscoveryRun>> {
    let corpus = root.join("../shared/fixtures/charts/corpus");
    let tools = root.join("tests/tools");
    if !corpus.join("corpus.toml").is_file() {
        eprintln!("[bench] rendered discovery skipped: ../shared/fixtures/charts/corpus is absent");
        return Ok(None);
    }
    let path = format!("{tools}:{}", std::env::var("PATH").unwrap_or_default());
    let helm_works = Command::new(tools.join("helm"))
        .arg("version")
        .env("PATH", &path)
        .output()
        .is_ok_and(|output| output.status.success());
    if !helm_works {
        eprintln!(
            "[bench] rendered discovery skipped: tests/tools/helm does not run (pip install helm-python-sdk)"
        );
        return Ok(None);
    }
    let (chart, switches, archive) = largest_chart(&corpus)?;
    let dir = work.join("discovery");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {dir}"))?;
    std::fs::write(dir.join("release.toml"), release_toml(&chart, &archive, &switches))?;

    let mut images = Command::new(xtask);
    images
        .current_dir(&dir)
        .args(["images", "--json", "-f", dir.join("release.toml").as_str()])
        .env("PATH", &path)
        .env("NO_COLOR", "1");
    let measured = measure::run(&mut images, &dir.join("images.log"), None)?;
    if !measured.status.success() {
        return Err(format_err!(
            "xtask images failed ({}):\n{}",
            measured.status,
            measured.log_tail(30).trim()
        ));
    }
    let log = std::fs::read_to_string(&measured.log)?;
    // stdout (the JSON document) and stderr share the log.
    let json = json_document(&log).ok_or_else(|| format_err!("no JSON document in {}", measured.log))?;

    let mut template = Command::new(tools.join("helm"));
    template.args(["template", "rel", archive.as_str()]).env("PATH", &path);
    let peer = measure::run(&mut template, &dir.join("helm-template.log"), None)?;
    if !peer.status.success() {
        return Err(format_err!("helm template failed: {}", peer.log_tail(20).trim()));
    }
    let engine = engine_run(&tools, &archive, &path, &dir)?;
    let proof = proof_run(xtask, work, &chart, &archive, &switches, &path)?;
    let run = DiscoveryRun {
        engine,
        proof: Some(proof),
        chart: archive.file_name().unwrap_or_default().to_string(),
        switches: switches.len(),
        configurations: json["rendered"]["configurations"].as_u64().unwrap_or(0),
        renders: json["rendered"]["renders"].as_u64().unwrap_or(0),
        found: json["images"].as_array().map_or(0, Vec::len),
        images: measured,
        peer,
    };
    eprintln!(
        "[bench] rendered discovery of {}: {} wall for {} renders; one helm template {}",
        run.chart,
        report::seconds(run.images.seconds),
        run.renders,
        report::seconds(run.peer.seconds)
    );
    Ok(Some(run))
}

/// Renders the chart ten times in one Python process through helm_python (the engine that
/// `libhelm_c.so` exposes), and ten times as `helm template` processes: seconds per render.
fn engine_run(
    tools: &Utf8Path,
    archive: &Utf8Path,
    path: &str,
    dir: &Utf8Path,
) -> anyhow::Result<Option<(f64, f64)>> {
    const RENDERS: usize = 10;
    let script = format!(
        "import helm_python, time\nc = helm_python.Chart.load({archive:?})\nc.render({{}}, name='rel', namespace='default')\n\
         t = time.time()\nfor _ in range({RENDERS}): c.render({{}}, name='rel', namespace='default')\nprint((time.time() - t) / {RENDERS})\n"
    );
    let output = Command::new("python3").arg("-c").arg(&script).output()?;
    let Some(in_process) = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|_| output.status.success())
    else {
        eprintln!("[bench] in-process render skipped: python3 with helm_python did not run");
        return Ok(None);
    };
    let mut total = 0.0;
    for index in 0..RENDERS {
        let mut template = Command::new(tools.join("helm"));
        template.args(["template", "rel", archive.as_str()]).env("PATH", path);
        total += measure::run(&mut template, &dir.join(format!("engine-{index}.log")), None)?.seconds;
    }
    Ok(Some((in_process, total / RENDERS as f64)))
}

/// `release --offline --no-proof`, then `verify --proof --json` twice (cold, cached) with 12
/// bool and 2 select items.
fn proof_run(
    xtask: &Utf8Path,
    work: &Utf8Path,
    name: &str,
    archive: &Utf8Path,
    switches: &[String],
    path: &str,
) -> anyhow::Result<ProofRun> {
    let dir = work.join("proof");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {dir}"))?;
    let chart = helmkots::internals::input::chart::load(archive)
        .map_err(|error| format_err!("{archive}: {error}"))?;
    let mut bools: Vec<String> = switches.to_vec();
    let mut leaves = Vec::new();
    bool_leaves(&chart.values, "", &mut leaves);
    bools.extend(leaves.into_iter().filter(|leaf| !switches.contains(leaf)));
    // Padding items set values of their own, declared in [chart] values: `check` refuses an
    // item whose value path neither the values nor the templates know.
    let mut padding = String::from("\n[chart.values.helmkotsBench]\n");
    let mut index = 0;
    while bools.len() < 12 {
        bools.push(format!("helmkotsBench.flag{index}"));
        padding.push_str(&format!("flag{index} = false\n"));
        index += 1;
    }
    bools.truncate(12);
    let mut text = release_toml(name, archive, &bools);
    for select in ["a", "b"] {
        text.push_str(&format!(
            "[[config.groups.items]]\nname = \"select_{select}\"\ntitle = \"select {select}\"\ntype = \"select_one\"\n\
             default = \"x\"\nvalue = \"helmkotsBench.select{select}\"\n\
             choices = [{{ name = \"x\", title = \"X\" }}, {{ name = \"y\", title = \"Y\" }}, {{ name = \"z\", title = \"Z\" }}]\n"
        ));
        padding.push_str(&format!("select{select} = \"x\"\n"));
    }
    text.push_str(&padding);
    std::fs::write(dir.join("release.toml"), text)?;
    let release_file = dir.join("release.toml");
    let mut release = Command::new(xtask);
    release
        .current_dir(&dir)
        .args([
            "release",
            "--offline",
            "--no-proof",
            "-f",
            release_file.as_str(),
            "--out",
            dir.join("dist").as_str(),
        ])
        .env("PATH", path)
        .env("NO_COLOR", "1");
    let built = measure::run(&mut release, &dir.join("release.log"), None)?;
    if !built.status.success() {
        return Err(format_err!("xtask release failed ({}):\n{}", built.status, built.log_tail(30).trim()));
    }
    let tree = std::fs::read_dir(dir.join("dist"))?
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.is_dir())
        .ok_or_else(|| format_err!("no release tree in {dir}/dist"))?;
    let _ = std::fs::remove_dir_all(dir.join(helmkots::internals::render::helm_template::CACHE_DIR));
    let verify = |log: &str| -> anyhow::Result<Measured> {
        let mut command = Command::new(xtask);
        command
            .current_dir(&dir)
            .args(["verify", "--proof", "--json"])
            .arg(&tree)
            .env("PATH", path)
            .env("NO_COLOR", "1");
        let measured = measure::run(&mut command, &dir.join(log), None)?;
        // 1 is a failed proof: still measured.
        if !matches!(measured.status.code(), Some(0 | 1)) {
            return Err(format_err!(
                "xtask verify --proof failed ({}):\n{}",
                measured.status,
                measured.log_tail(30).trim()
            ));
        }
        Ok(measured)
    };
    let cold = verify("verify-cold.log")?;
    let cached = verify("verify-cached.log")?;
    let log = std::fs::read_to_string(&cached.log)?;
    let report = json_document(&log).ok_or_else(|| format_err!("no JSON report in {}", cached.log))?;
    Ok(ProofRun {
        configurations: report["configurations"].as_u64().unwrap_or(0),
        renders: report["renders"].as_u64().unwrap_or(0),
        all_combinations: report["all_combinations"].as_u64().unwrap_or(0),
        failed_runs: report["runs"].as_array().map_or(0, |runs| {
            runs.iter().filter(|run| run["failures"].as_array().is_some_and(|f| !f.is_empty())).count()
        }),
        cold,
        cached,
    })
}

/// Values paths of boolean leaves of `value`, in document order (maps only).
fn bool_leaves(value: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            match child {
                Value::Bool(_) => out.push(path),
                Value::Object(_) => bool_leaves(child, &path, out),
                _ => {}
            }
        }
    }
}

/// The JSON document (`{` … `}` at the start of lines) in a log that also holds stderr.
fn json_document(log: &str) -> Option<Value> {
    let start = if log.starts_with('{') { 0 } else { log.find("\n{")? + 1 };
    let end = log.rfind("\n}")? + 2;
    serde_json::from_str(&log[start..end]).ok()
}

/// The corpus chart with the most switches (ties: the larger archive): name, switches and
/// archive path.
fn largest_chart(corpus: &Utf8Path) -> anyhow::Result<(String, Vec<String>, Utf8PathBuf)> {
    let text = std::fs::read_to_string(corpus.join("corpus.toml"))?;
    let document: toml::Table = toml::from_str(&text).context("corpus.toml")?;
    let charts =
        document.get("chart").and_then(toml::Value::as_array).ok_or_else(|| format_err!("no [[chart]]"))?;
    charts
        .iter()
        .filter_map(|chart| {
            let file = chart.get("file")?.as_str()?;
            let name = chart.get("name")?.as_str()?.to_string();
            let switches: Vec<String> = chart
                .get("switches")?
                .as_array()?
                .iter()
                .filter_map(|switch| switch.as_str().map(str::to_string))
                .collect();
            // Charts that need values to render are left to the corpus test.
            let needs_values =
                chart.get("required_values").and_then(toml::Value::as_table).is_some_and(|t| !t.is_empty());
            let archive = corpus.join(file);
            let size = std::fs::metadata(&archive).ok()?.len();
            (!needs_values).then_some((switches.len(), size, name, switches, archive))
        })
        .max_by_key(|(count, size, ..)| (*count, *size))
        .map(|(_, _, name, switches, archive)| (name, switches, archive))
        .ok_or_else(|| format_err!("corpus.toml lists no chart"))
}

/// A release.toml with one bool item a switch.
fn release_toml(name: &str, archive: &Utf8Path, switches: &[String]) -> String {
    let mut text = format!(
        "[app]\nslug = \"bench-{name}\"\ntitle = \"bench\"\n\n[chart]\npath = {archive:?}\nrelease_name = \"rel\"\n"
    );
    if !switches.is_empty() {
        text.push_str("\n[[config.groups]]\nname = \"switches\"\ntitle = \"Switches\"\n");
    }
    for (index, switch) in switches.iter().enumerate() {
        text.push_str(&format!(
            "[[config.groups.items]]\nname = \"switch_{index}\"\ntitle = \"{switch}\"\ntype = \"bool\"\ndefault = \"0\"\nvalue = \"{switch}\"\n"
        ));
    }
    text
}
