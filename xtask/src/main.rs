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
mod nested_cargo;
mod progress;
mod proof_report;
mod test_tools;
mod ui;

use std::process::ExitCode;

use anyhow::format_err;
use camino::{Utf8Path, Utf8PathBuf};

/// Exit codes, documented in README.md ("Exit codes"): 0 ok; 1 a finding (a failed verify or
/// airgap proof); 2 bad usage, bad input, or any other error that stopped the task.
mod exit {
    /// A finding: the task ran and found a problem (`verify`, the airgap proof).
    pub const FINDING: u8 = 1;
    /// Bad usage or bad input (release.toml, the chart), or an error that stopped the task.
    pub const ERROR: u8 = 2;
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
            eprintln!("Run `cargo xtask --help` for the tasks, `cargo xtask <TASK> --help` for a task's options.");
            return ExitCode::from(exit::ERROR);
        }
    };
    ui::init(flags.quiet, flags.verbose);
    match run(flags) {
        Ok(code) => code,
        Err(error) => diagnostics::report(error),
    }
}

fn run(flags: flags::Xtask) -> anyhow::Result<ExitCode> {
    match flags.subcommand {
        flags::XtaskCmd::Check(cmd) => {
            let file = release_file(cmd.file)?;
            let checked = helmkots::pipeline::check(&file)?;
            if cmd.json {
                let summary = serde_json::json!({
                    "release_file": file.as_str(),
                    "slug": checked.release.app.slug.get_ref(),
                    "version": checked.version(),
                    "chart": { "name": checked.chart.metadata.name, "version": checked.chart.metadata.version.to_string() },
                    "problems": [],
                });
                outln!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                eprintln!(
                    "✓ {file}: release {} with chart {} {} is valid",
                    checked.tree_name(),
                    checked.chart.metadata.name,
                    checked.chart.metadata.version
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        flags::XtaskCmd::Release(cmd) => {
            let options = helmkots::pipeline::ReleaseOptions {
                release_file: release_file(cmd.file)?,
                out_dir: cmd.out.map(utf8).transpose()?,
                offline: cmd.offline,
                proof: !cmd.no_proof,
                progress: progress::reporter(cmd.json, false),
            };
            let outcome = helmkots::pipeline::release(&options)?;
            if cmd.json {
                outln!("{}", outcome.record.to_json());
            } else {
                for warning in &outcome.warnings {
                    eprintln!("warning: {warning}");
                }
                if let Some(report) = &outcome.proof {
                    proof_report::print(report);
                }
                if outcome.up_to_date {
                    eprintln!("✓ {} is up to date (nothing changed since it was written)", outcome.dir);
                } else {
                    eprintln!("✓ wrote {}", outcome.dir);
                    for output in &outcome.record.outputs {
                        eprintln!("  {}  {}", &output.sha256[..19], output.path);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        flags::XtaskCmd::Images(cmd) => {
            let checked = helmkots::pipeline::check(&release_file(cmd.file)?)?;
            let images = helmkots::pipeline::images(&checked)?;
            if cmd.json {
                outln!("{}", serde_json::to_string_pretty(&images)?);
            } else {
                print_images(&images);
            }
            Ok(ExitCode::SUCCESS)
        }
        flags::XtaskCmd::Preview(cmd) => {
            let mut options =
                helmkots::pipeline::PreviewOptions { namespace: cmd.namespace, ..Default::default() };
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
            let preview = helmkots::pipeline::preview(&release_file(cmd.file)?, &options)?;
            for (name, text) in &preview.manifests {
                outln!("# ---- manifests/{name}\n{text}");
            }
            outln!("# ---- kots-values.yaml (resolved)\n{}", preview.values);
            Ok(ExitCode::SUCCESS)
        }
        flags::XtaskCmd::Verify(cmd) => {
            let file = release_file(cmd.file)?;
            let dir = utf8(cmd.dir)?;
            if !cmd.proof {
                let report = helmkots::pipeline::verify(&dir)?;
                if cmd.json {
                    outln!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    for problem in &report.problems {
                        eprintln!("error: {problem}");
                    }
                    eprintln!(
                        "{} {dir}: {} blobs re-hashed, {} images checked, {} problem(s)",
                        if report.passed() { "✓" } else { "✗" },
                        report.blobs_checked,
                        report.saved_images.len(),
                        report.problems.len()
                    );
                }
                return Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
            }
            let report = helmkots::pipeline::prove_tree(&file, &dir)?;
            if cmd.json {
                outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                proof_report::print(&report);
            }
            Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        flags::XtaskCmd::Lock(cmd) => {
            let (lock, changed) = helmkots::pipeline::lock_images(&release_file(cmd.file)?, cmd.update)?;
            for (reference, digest) in &lock.images {
                outln!("{reference} {digest}");
            }
            eprintln!(
                "{} {}",
                if changed { "✓ updated" } else { "✓ unchanged:" },
                helmkots::image_lock::FILE_NAME
            );
            Ok(ExitCode::SUCCESS)
        }
        flags::XtaskCmd::Image(cmd) => {
            let options = helmkots::pipeline::ImageOptions {
                release_file: release_file(cmd.file)?,
                out_dir: cmd.out.map(utf8).transpose()?,
                push: cmd.push,
            };
            let outcome = helmkots::pipeline::image(&options)?;
            if cmd.json {
                let summary = serde_json::json!({
                    "layout": outcome.layout.as_str(),
                    "tag": outcome.tag,
                    "manifest_digest": outcome.manifest_digest,
                    "pushed": outcome.pushed,
                });
                outln!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                eprintln!(
                    "✓ wrote {} (tag {}, manifest {})",
                    outcome.layout, outcome.tag, outcome.manifest_digest
                );
                if let Some(pushed) = &outcome.pushed {
                    eprintln!("✓ pushed {pushed}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        flags::XtaskCmd::Bench(cmd) => {
            let mut args = Vec::new();
            if cmd.quick {
                args.push("--quick".to_string());
            }
            if let Some(scale) = cmd.scale {
                args.extend(["--scale".to_string(), scale]);
            }
            if cmd.keep {
                args.push("--keep".to_string());
            }
            bench::run(&project_root(), &args)
        }
        flags::XtaskCmd::Test(cmd) => test_tools::run(&project_root(), !cmd.no_install, &cmd.test_arg),
    }
}

fn print_images(images: &helmkots::discover::ImageSet) {
    for image in &images.images {
        outln!("{}", image.reference.familiar());
        for source in &image.sources {
            let place = match (&source.chart, &source.values_path) {
                (Some(chart), Some(path)) => format!("values `{path}` of chart {chart}"),
                (Some(chart), None) => format!("Chart.yaml annotation of chart {chart}"),
                (None, _) => "[images] include".to_string(),
            };
            let shape = serde_json::to_value(&source.shape)
                .ok()
                .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
                .unwrap_or_default();
            let fallback = if source.tag_from_app_version { ", tag from appVersion" } else { "" };
            outln!("    {place} ({shape}{fallback})");
        }
    }
    for excluded in &images.excluded {
        outln!("excluded: {} (pattern `{}`)", excluded.image.reference.familiar(), excluded.pattern);
    }
    for problem in &images.problems {
        eprintln!("warning: {problem}");
    }
}

/// The repository root: the parent of this crate's folder (never the current directory).
fn project_root() -> Utf8PathBuf {
    let manifest_dir = Utf8Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
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
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {error}");
        std::process::exit(1);
    }
}
