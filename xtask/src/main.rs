//! `cargo xtask`: the thin command line of helmkots. It parses flags, calls the engine in
//! `crates/helmkots`, and prints; the engine never prints.

/// `println!` for data on stdout: a closed pipe (`xtask images --json | head -1`) ends the
/// program successfully instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::stdout_line(&format!($($arg)*))
    };
}

mod bench;
mod diagnostics;
mod flags;
mod help;
mod inspect_report;
mod interrupt;
mod json_output;
mod nested_cargo;
mod progress;
mod proof_report;
mod test_tools;
mod timings_report;
mod ui;

use std::process::ExitCode;

use anyhow::format_err;
use camino::Utf8PathBuf;

/// Exit codes, documented in README.md ("Exit codes"): 0 ok; 1 a finding (a failed verify or
/// airgap proof); 2 bad usage, bad input, or any other error that stopped the task; 130 Ctrl-C.
mod exit {
    /// A finding: the task ran and found a problem (`verify`, the airgap proof).
    pub const FINDING: u8 = 1;
    /// Bad usage or bad input (release.toml, the chart), or an error that stopped the task.
    pub const ERROR: u8 = 2;
    /// Ctrl-C (SIGINT): 128 + the signal's number, as shells report a process it ended.
    pub const INTERRUPTED: u8 = 130;
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(topic) = help::requested(&args) {
        match topic {
            Some(task) => outln!("{}", help::task_help(&task).unwrap_or_else(help::task_list)),
            None => outln!("{}", help::task_list()),
        }
        return ExitCode::SUCCESS;
    }
    let flags = match flags::Xtask::from_env() {
        Ok(flags) => flags,
        Err(error) => {
            ui::init(false, false);
            ui::error(&error.to_string());
            if let Some(suggestion) = help::did_you_mean(&args) {
                eprintln!("help: {suggestion}");
            }
            eprintln!(
                "Run `cargo xtask --help` for the tasks, `cargo xtask <TASK> --help` for a task's options."
            );
            return ExitCode::from(exit::ERROR);
        }
    };
    ui::init(flags.quiet, flags.verbose);
    let json = wants_json(&flags.subcommand);
    let code = match interrupt::install().and_then(|()| run(flags)) {
        Ok(code) => code,
        Err(error) => {
            if json {
                let document = json_output::error(&error, diagnostics::exit_code(&error));
                outln!("{}", serde_json::to_string_pretty(&document).unwrap_or_default());
            }
            diagnostics::report(error)
        }
    };
    helmkots::scratch::remove();
    code
}

/// Whether the task was asked for `--json`: then even its errors are a JSON document.
fn wants_json(command: &flags::XtaskCmd) -> bool {
    match command {
        flags::XtaskCmd::Init(cmd) => cmd.json,
        flags::XtaskCmd::Check(cmd) => cmd.json,
        flags::XtaskCmd::Release(cmd) => cmd.json,
        flags::XtaskCmd::Preview(cmd) => cmd.json,
        flags::XtaskCmd::Verify(cmd) => cmd.json,
        flags::XtaskCmd::Images(cmd) => cmd.json,
        flags::XtaskCmd::Image(cmd) => cmd.json,
        flags::XtaskCmd::Inspect(cmd) => cmd.json,
        flags::XtaskCmd::Clean(cmd) => cmd.json,
        flags::XtaskCmd::Lock(_) | flags::XtaskCmd::Bench(_) | flags::XtaskCmd::Test(_) => false,
    }
}

fn run(flags: flags::Xtask) -> anyhow::Result<ExitCode> {
    match flags.subcommand {
        flags::XtaskCmd::Init(cmd) => {
            let options = helmkots::commands::init::InitOptions {
                chart: utf8(cmd.chart)?,
                release_file: release_file(cmd.file)?,
                slug: cmd.slug,
            };
            let starter = helmkots::commands::init::starter(&options)?;
            if cmd.json {
                outln!("{}", serde_json::to_string_pretty(&json_output::init(&starter))?);
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(kept) = helmkots::commands::init::write(&starter, cmd.force)? {
                ui::info(&format!("kept the file it replaced as {kept}"));
            }
            for problem in &starter.problems {
                ui::warning(problem);
            }
            let components = starter.items.iter().filter(|item| item.item_type == "bool").count();
            ui::done(&format!(
                "wrote {}: chart {} {}, {} image(s), {} config item(s) ({components} optional component(s))",
                starter.release_file,
                starter.chart.name,
                starter.chart.version,
                starter.images.len(),
                starter.items.len(),
            ));
            for item in &starter.items {
                ui::detail(&format!("  {:<8} {:<32} {}", item.item_type, item.name, item.value));
            }
            // The next commands must read the file init wrote.
            let file_flag = if starter.release_file == project_root().join("release.toml") {
                String::new()
            } else {
                format!(" -f {}", starter.release_file)
            };
            ui::info(&format!(
                "next: `cargo xtask check{file_flag}`, then `cargo xtask release{file_flag} --offline` (see README.md)"
            ));
            Ok(ExitCode::SUCCESS)
        }
        flags::XtaskCmd::Check(cmd) => {
            let file = release_file(cmd.file)?;
            let checked = match helmkots::commands::check(&file)
                .and_then(|checked| helmkots::commands::validate(&checked).map(|_| checked))
            {
                Ok(checked) => checked,
                Err(helmkots::Error::Invalid(problems)) if cmd.json => {
                    outln!("{}", serde_json::to_string_pretty(&json_output::check_failed(&file, &problems))?);
                    diagnostics::print_file_problems(&problems);
                    return Ok(ExitCode::from(exit::ERROR));
                }
                Err(error) => return Err(error.into()),
            };
            if cmd.json {
                outln!("{}", serde_json::to_string_pretty(&json_output::check(&file, &checked))?);
            } else {
                ui::done(&format!(
                    "{file}: release {} with chart {} {} is valid",
                    checked.tree_name(),
                    checked.chart.metadata.name,
                    checked.chart.version_text()
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        flags::XtaskCmd::Release(cmd) => {
            let options = helmkots::commands::ReleaseOptions {
                release_file: release_file(cmd.file)?,
                out_dir: cmd.out.map(utf8).transpose()?,
                offline: cmd.offline,
                proof: !cmd.no_proof,
                progress: progress::reporter(cmd.json, ui::quiet()),
                channel_id: cmd.channel_id,
                update_cursor: cmd.update_cursor,
                locked: cmd.locked,
            };
            if cmd.timings {
                helmkots::timings::enable();
            }
            let outcome = helmkots::commands::release(&options)?;
            if let Some(report) = helmkots::timings::report() {
                timings_report::print(&report);
            }
            if cmd.json {
                outln!("{}", serde_json::to_string_pretty(&json_output::release(&outcome))?);
            } else {
                for warning in &outcome.warnings {
                    ui::warning(warning);
                }
                if let Some(report) = &outcome.proof {
                    proof_report::print(report);
                }
                if outcome.up_to_date {
                    ui::done(&format!(
                        "{} is up to date (nothing changed since it was written)",
                        outcome.dir
                    ));
                } else {
                    if let Some(reason) = &outcome.rerun {
                        ui::detail(&format!("built because {reason}"));
                    }
                    if let Some(pushed) = &outcome.pushed {
                        ui::info(&format!("pushed {pushed}"));
                    }
                    ui::done(&format!("wrote {}", outcome.dir));
                }
                for output in &outcome.record.outputs {
                    ui::detail(&format!("  {}  {}", &output.sha256[..19], output.path));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        flags::XtaskCmd::Images(cmd) => {
            let mut checked = helmkots::commands::check(&release_file(cmd.file)?)?;
            checked.locked = cmd.locked;
            let images = helmkots::commands::images(&checked)?;
            let sizes = helmkots::commands::image_sizes(&checked, &images);
            if cmd.json {
                outln!("{}", serde_json::to_string_pretty(&json_output::images(&images, &sizes))?);
            } else {
                print_images(&images, &sizes);
            }
            Ok(ExitCode::SUCCESS)
        }
        flags::XtaskCmd::Preview(cmd) => {
            let mut options =
                helmkots::commands::PreviewOptions { namespace: cmd.namespace, ..Default::default() };
            for assignment in &cmd.set {
                let (item, value) = assignment
                    .split_once('=')
                    .ok_or_else(|| format_err!("--set takes ITEM=VALUE, got `{assignment}`"))?;
                options.set.insert(item.to_string(), value.to_string());
            }
            match (cmd.airgap, cmd.registry) {
                (true, Some(registry)) => {
                    let (host, namespace) = registry.split_once('/').unwrap_or((registry.as_str(), ""));
                    options.local_registry = Some((host.to_string(), namespace.to_string()));
                }
                (true, None) => return Err(format_err!("--airgap needs --registry HOST[/NAMESPACE]")),
                (false, Some(_)) => return Err(format_err!("--registry only applies with --airgap")),
                (false, None) => {}
            }
            let preview = helmkots::commands::preview(&release_file(cmd.file)?, &options)?;
            if cmd.json {
                outln!("{}", serde_json::to_string_pretty(&json_output::preview(&preview))?);
                return Ok(ExitCode::SUCCESS);
            }
            for (name, text) in &preview.manifests {
                outln!("# ---- manifests/{name}\n{text}");
            }
            outln!("# ---- kots-values.yaml (resolved)\n{}", preview.values);
            Ok(ExitCode::SUCCESS)
        }
        flags::XtaskCmd::Verify(cmd) => {
            let dir = utf8(cmd.dir)?;
            if !cmd.proof {
                let report = helmkots::commands::verify(&dir)?;
                if cmd.json {
                    outln!("{}", serde_json::to_string_pretty(&json_output::verify(&report))?);
                } else {
                    for problem in &report.problems {
                        ui::error(problem);
                    }
                    let summary = verify_summary(&dir, &report);
                    if report.passed() {
                        ui::done(&summary);
                    } else {
                        ui::failed(&summary);
                    }
                }
                return Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(exit::FINDING) });
            }
            let progress = progress::reporter(cmd.json, ui::quiet());
            let (report, changed) = match helmkots::commands::inspect::Artifact::at(&dir)? {
                helmkots::commands::inspect::Artifact::Bundle(bundle) => {
                    (helmkots::commands::prove_bundle(&bundle, progress.as_ref())?, Vec::new())
                }
                helmkots::commands::inspect::Artifact::Tree(tree) => {
                    // The proof reads the tree's manifests and chart: they must be the ones written.
                    let changed = helmkots::commands::check_checksums(&tree)?.problems;
                    for problem in &changed {
                        ui::error(problem);
                    }
                    (helmkots::commands::prove_tree(&tree, progress.as_ref())?, changed)
                }
            };
            if cmd.json {
                outln!("{}", serde_json::to_string_pretty(&json_output::proof(&report))?);
            } else {
                proof_report::print(&report);
            }
            Ok(if report.passed() && changed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(exit::FINDING)
            })
        }
        flags::XtaskCmd::Inspect(cmd) => {
            let inspection = helmkots::commands::inspect::inspect(&utf8(cmd.path)?)?;
            if cmd.json {
                outln!("{}", serde_json::to_string_pretty(&json_output::inspect(&inspection))?);
            } else {
                inspect_report::print(&inspection);
            }
            Ok(if inspection.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(exit::FINDING) })
        }
        flags::XtaskCmd::Clean(cmd) => {
            let cleaned = helmkots::commands::clean::clean(&release_file(cmd.file)?, cmd.dry_run)?;
            if cmd.json {
                outln!("{}", serde_json::to_string_pretty(&json_output::clean(&cleaned, cmd.dry_run))?);
                return Ok(ExitCode::SUCCESS);
            }
            let verb = if cmd.dry_run { "would remove" } else { "removed" };
            for c in &cleaned {
                ui::info(&format!(
                    "{verb} {} {} ({} file(s), {})",
                    c.what,
                    c.path,
                    c.files,
                    indicatif::HumanBytes(c.bytes)
                ));
            }
            let (files, bytes) =
                (cleaned.iter().map(|c| c.files).sum::<u64>(), cleaned.iter().map(|c| c.bytes).sum::<u64>());
            ui::done(&format!(
                "{} {files} file(s), {}{}",
                if cmd.dry_run { "would free" } else { "freed" },
                indicatif::HumanBytes(bytes),
                if cmd.dry_run { " (dry run: nothing was removed)" } else { "" }
            ));
            Ok(ExitCode::SUCCESS)
        }
        flags::XtaskCmd::Lock(cmd) => {
            let (lock, changed) = helmkots::commands::lock_images(&release_file(cmd.file)?, cmd.update)?;
            for (reference, digest) in &lock.images {
                outln!("{reference} {digest}");
            }
            ui::done(&format!(
                "{} {}",
                if changed { "updated" } else { "unchanged:" },
                helmkots::commands::IMAGE_LOCK_FILE
            ));
            Ok(ExitCode::SUCCESS)
        }
        flags::XtaskCmd::Image(cmd) => {
            let options = helmkots::commands::ImageOptions {
                release_file: release_file(cmd.file)?,
                out_dir: cmd.out.map(utf8).transpose()?,
                push: cmd.push,
            };
            let outcome = helmkots::commands::image(&options)?;
            if cmd.json {
                let summary = serde_json::json!({
                    "layout": outcome.layout.as_str(),
                    "tag": outcome.tag,
                    "manifest_digest": outcome.manifest_digest,
                    "pushed": outcome.pushed,
                });
                outln!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                ui::done(&format!(
                    "wrote {} (tag {}, manifest {})",
                    outcome.layout, outcome.tag, outcome.manifest_digest
                ));
                if let Some(pushed) = &outcome.pushed {
                    ui::done(&format!("pushed {pushed}"));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        flags::XtaskCmd::Bench(cmd) => {
            let mut args = Vec::new();
            if cmd.quick {
                args.push("--quick".to_string());
            }
            if let Some(images) = cmd.images {
                args.extend(["--images".to_string(), images]);
            }
            if let Some(size) = cmd.size {
                args.extend(["--size".to_string(), size]);
            }
            if cmd.keep {
                args.push("--keep".to_string());
            }
            if cmd.serve {
                args.push("--serve".to_string());
            }
            if let Some(xtask) = cmd.xtask {
                args.extend(["--xtask".to_string(), xtask]);
            }
            bench::run(&project_root(), &args)
        }
        flags::XtaskCmd::Test(cmd) => test_tools::run(&project_root(), !cmd.no_install, &cmd.test_arg),
    }
}

/// `verify`'s result line: what was checked, so that a pass says how much it covered.
fn verify_summary(path: &camino::Utf8Path, report: &helmkots::commands::VerifyReport) -> String {
    let mut checked = Vec::new();
    if report.files_checked > 0 {
        checked.push(format!(
            "{} file(s) checked against {}",
            report.files_checked,
            helmkots::commands::CHECKSUMS_FILE
        ));
    }
    if report.blobs_checked > 0 || report.files_checked == 0 {
        checked.push(format!(
            "{} blob(s) re-hashed, {} image(s) checked",
            report.blobs_checked,
            report.saved_images.len()
        ));
    } else {
        checked.push("no airgap bundle (built with --offline)".to_string());
    }
    format!("{path}: {}, {} problem(s)", checked.join(", "), report.problems.len())
}

fn print_images(
    images: &helmkots::commands::ImageSet,
    sizes: &std::collections::BTreeMap<helmkots::commands::ImageRef, u64>,
) {
    use helmkots::commands::{DiscoveredImage, FoundBy, ImageShape};
    let print = |image: &DiscoveredImage| {
        let found_by = image.found_by();
        let size = sizes
            .get(&image.reference)
            .map_or_else(String::new, |size| format!(", {}", indicatif::HumanBytes(*size)));
        let note = match (found_by, &images.rendered) {
            (FoundBy::Values, Some(_)) => {
                ": no proved configuration renders it (drop it with [images] exclude)"
            }
            _ => "",
        };
        outln!("{} (found by {found_by}{size}{note})", image.reference.familiar());
        for source in &image.sources {
            let place = match (&source.chart, &source.values_path, &source.shape) {
                (_, None, ImageShape::Rendered { place }) => format!("hard-coded in {place}"),
                (Some(chart), Some(path), _) => format!("values `{path}` of chart {chart}"),
                (Some(chart), None, _) => format!("Chart.yaml annotation of chart {chart}"),
                (None, _, _) => "[images] include".to_string(),
            };
            let shape = serde_json::to_value(&source.shape)
                .ok()
                .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
                .unwrap_or_default();
            let fallback = if source.tag_from_app_version { ", tag from appVersion" } else { "" };
            outln!("    {place} ({shape}{fallback})");
        }
    };
    images.images.iter().for_each(print);
    if !images.test_only.is_empty() {
        outln!("test only (pulled by helm test pods; not bundled unless [images] ship_test_images = true):");
        images.test_only.iter().for_each(print);
    }
    for pin in &images.tag_pins {
        outln!(
            "pinned: `{}` = `{}` (the chart takes it from the cluster's Kubernetes version)",
            pin.values_path,
            pin.tag
        );
    }
    for excluded in &images.excluded {
        ui::info(&format!(
            "excluded: {} (pattern `{}`)",
            excluded.image.reference.familiar(),
            excluded.pattern
        ));
    }
    match &images.rendered {
        Some(summary) if summary.from_lock => {
            ui::info("discovery used the renders recorded in helmkots.lock (no helm on PATH)")
        }
        Some(summary) => {
            let cost = summary.cost.map_or_else(String::new, |cost| {
                let reused = match cost.reused {
                    0 => String::new(),
                    n => format!("; {n} rendering(s) reused: their values were the same as another's"),
                };
                format!(" in {:.1}s, {} at a time{reused}", cost.elapsed.as_secs_f64(), cost.workers)
            });
            ui::info(&format!(
                "rendered {} configuration(s) with {} helm template run(s){cost}",
                summary.configurations, summary.renders
            ))
        }
        None => ui::info(
            "discovery read the chart's values only (no helm on PATH, or [images] discover = \"values\")",
        ),
    }
    for problem in &images.problems {
        ui::warning(&problem.to_string());
    }
}

/// The repository root: the parent of this crate's folder (never the current directory).
/// `cargo xtask` (`cargo run -p xtask`) says where that folder is at run time, which matters
/// when the built binary serves a copy of the repository; otherwise it is where it was built.
fn project_root() -> Utf8PathBuf {
    let runtime_dir = std::env::var("CARGO_MANIFEST_DIR")
        .ok()
        .filter(|_| std::env::var("CARGO_PKG_NAME").is_ok_and(|name| name == env!("CARGO_PKG_NAME")));
    let manifest_dir =
        Utf8PathBuf::from(runtime_dir.unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").to_string()));
    manifest_dir.parent().unwrap_or(&manifest_dir).to_path_buf()
}

fn release_file(flag: Option<std::path::PathBuf>) -> anyhow::Result<Utf8PathBuf> {
    match flag {
        Some(path) => utf8(path),
        None => Ok(project_root().join("release.toml")),
    }
}

fn utf8(path: std::path::PathBuf) -> anyhow::Result<Utf8PathBuf> {
    Utf8PathBuf::from_path_buf(path).map_err(|p| format_err!("path is not UTF-8: {}", p.display()))
}

/// Writes one line to stdout; exits with success when the reader has gone away.
fn stdout_line(text: &str) {
    use std::io::Write as _;
    if let Err(error) = writeln!(std::io::stdout().lock(), "{text}") {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            helmkots::scratch::remove();
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {error}");
        std::process::exit(1);
    }
}
