//! Rendered discovery of the largest corpus chart, against one `helm template` of it.
//!
//! The chart is the corpus chart with the most switches (the most configurations to render,
//! subcharts included): each switch becomes a bool config item, as the corpus test does, and
//! `xtask images --json` runs with the tests' Helm front end (`tests/tools/helm`, the real Helm
//! engine) first on PATH. The peer is one `helm template` of the same chart with its
//! defaults, through the same front end: the ratio says how many plain renders' worth of time
//! discovery costs, next to how many renders it made and how many ran at once.
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
    }

    /// The report's `discovery` object.
    pub fn to_json(&self) -> Value {
        json!({
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
    let measured = measure::run(&mut images, &dir.join("images.log"))?;
    if !measured.status.success() {
        return Err(format_err!(
            "xtask images failed ({}):\n{}",
            measured.status,
            measured.log_tail(30).trim()
        ));
    }
    let log = std::fs::read_to_string(&measured.log)?;
    // stdout (the JSON document) and stderr share the log: the document is the `{`…`}` block.
    let json: Value = log
        .find("\n{")
        .map(|start| start + 1)
        .or_else(|| log.starts_with('{').then_some(0))
        .and_then(|start| {
            let end = log.rfind("\n}")? + 2;
            serde_json::from_str(&log[start..end]).ok()
        })
        .ok_or_else(|| format_err!("no JSON document in {}", measured.log))?;

    let mut template = Command::new(tools.join("helm"));
    template.args(["template", "rel", archive.as_str()]).env("PATH", &path);
    let peer = measure::run(&mut template, &dir.join("helm-template.log"))?;
    if !peer.status.success() {
        return Err(format_err!("helm template failed: {}", peer.log_tail(20).trim()));
    }
    let run = DiscoveryRun {
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
