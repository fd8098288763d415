//! `helmkots-bench`: what `cargo xtask release` costs, side by side with what a user would
//! script today, in one run. `cargo xtask bench` runs it in release mode.
//!
//! Steps, in order:
//! 1. Setup (not measured in the ratios): build `xtask` in release mode, start a local
//!    registry ([`helmkots_e2e::registry::TestRegistry`]), push three images sharing a base
//!    layer plus a busybox helm-cli base ([`fixture`]), write a chart and `release.toml`.
//! 2. `xtask release --no-proof` three times, each a measured child process ([`measure`]):
//!    cold (empty store and output), no-op (nothing changed, store warm), one change (one
//!    config item's default edited in `release.toml`).
//! 3. The peer: `skopeo copy docker://… oci:DIR:…` of every image the bundle saved, into one
//!    OCI layout, one child per image.
//! 4. The bundle's plain tar compressed at gzip levels 0, 1, 6 and 9 ([`gzip_levels`]).
//! 5. Rendered discovery (`xtask images`) of the corpus chart with the most switches, against
//!    one `helm template` of it ([`discovery`]; skipped, saying so, without `../shared` or the
//!    tests' Helm front end).
//! 6. The table and ratios on stdout, `target/helmkots-bench/report.json` ([`report`]).
//!
//! A failed run is reported and the others still run, so the table says what broke; the
//! exit code is non-zero then.

mod discovery;
mod fixture;
mod gzip_levels;
mod measure;
mod report;

use std::{process::Command, process::ExitCode, time::Instant};

use anyhow::{format_err, Context};
use camino::{Utf8Path, Utf8PathBuf};
use helmkots::lock::BuildRecord;
use helmkots_e2e::registry::TestRegistry;

use crate::report::{BundleFacts, GzipRun, PeerRun, ReleaseRun, Report};

const HELP: &str = "\
helmkots-bench: time and peak memory of `xtask release` (cold, no-op, one config change)
against `skopeo copy` of the same images, the bundle's size at gzip levels 0/1/6/9, and
rendered discovery of the largest corpus chart against one `helm template` of it.

USAGE: cargo xtask bench [--quick] [--scale FACTOR] [--keep]

OPTIONS:
  --quick           about 20 MB of images (the same as --scale 0.125)
  --scale FACTOR    multiply every image size (default 1: layers of 64+24+36+48 MiB)
  --keep            keep the work directory (release trees, store, logs); kept
                    anyway when a run fails
  -h, --help        print this help

Needs docker-registry, skopeo and /bin/busybox (Debian: docker-registry skopeo busybox-static);
the discovery part needs ../shared and helm-python-sdk (pip), and is skipped without them.
Writes target/helmkots-bench/report.json.
";

/// `--quick` is this scale.
const QUICK_SCALE: f64 = 0.125;

/// The command line.
#[derive(Debug, Clone)]
struct Args {
    scale: f64,
    quick: bool,
    keep: bool,
}

impl Args {
    /// Parses the arguments; `None` when help was asked for.
    fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Option<Args>> {
        let mut parsed = Args { scale: 1.0, quick: false, keep: false };
        let mut scale = None;
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => parsed.quick = true,
                "--keep" => parsed.keep = true,
                "--scale" => {
                    let value = args.next().ok_or_else(|| format_err!("--scale needs a number"))?;
                    scale =
                        Some(
                            value.parse::<f64>().ok().filter(|s| *s > 0.0 && s.is_finite()).ok_or_else(
                                || format_err!("--scale takes a positive number, got `{value}`"),
                            )?,
                        );
                }
                "-h" | "--help" => return Ok(None),
                other => return Err(format_err!("unknown argument `{other}` (see --help)")),
            }
        }
        parsed.scale = match (scale, parsed.quick) {
            (Some(_), true) => return Err(format_err!("--quick and --scale exclude each other")),
            (Some(scale), false) => scale,
            (None, true) => QUICK_SCALE,
            (None, false) => 1.0,
        };
        Ok(Some(parsed))
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let Some(args) = Args::parse(std::env::args().skip(1))? else {
        print!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    };
    check_tools()?;
    let root = project_root();
    let bench_dir = target_dir(&root).join("helmkots-bench");
    std::fs::create_dir_all(&bench_dir).with_context(|| format!("cannot create {bench_dir}"))?;

    eprintln!("[bench] building xtask (release)");
    let xtask = measure::build_xtask(&root)?;
    let work_dir = tempfile::Builder::new().prefix("work-").tempdir_in(&bench_dir)?;
    let work = Utf8PathBuf::from_path_buf(work_dir.path().to_path_buf())
        .map_err(|path| format_err!("work directory is not UTF-8: {}", path.display()))?;

    eprintln!("[bench] setup: registry and images at scale {}", args.scale);
    let setup_start = Instant::now();
    let registry = TestRegistry::start();
    let fixture = fixture::push_images(&registry, &work, args.scale)?;
    fixture::write_chart(&work, &fixture)?;
    fixture::write_release_toml(&work, &fixture, &registry.host(), "hello")?;
    let setup_seconds = setup_start.elapsed().as_secs_f64();
    eprintln!(
        "[bench] setup: {} images, distinct layers {}, in {}",
        fixture.images.len(),
        report::mib(fixture.unique_layer_bytes()),
        report::seconds(setup_seconds)
    );

    let mut releases = Vec::new();
    releases.push(release_run(&xtask, &work, "cold", "cold release")?);
    releases.push(release_run(&xtask, &work, "noop", "no-op release")?);
    fixture::write_release_toml(&work, &fixture, &registry.host(), "hello, changed")?;
    releases.push(release_run(&xtask, &work, "one_change", "one-change release")?);

    let saved_images = releases
        .iter()
        .find_map(|run| run.outcome.as_ref().ok())
        .map(|bundle| bundle.saved_images.clone())
        .unwrap_or_else(|| fixture.images.iter().map(|image| image.reference.clone()).collect());
    let peer = skopeo_run(&work, &saved_images)?;

    let bundle = releases.iter().rev().find_map(|run| run.outcome.as_ref().ok()).map(|b| b.path.clone());
    let gzip = match bundle {
        Some(bundle) => gzip_run(&work, &bundle),
        None => Err("no release wrote a bundle".to_string()),
    };

    let discovery = discovery::run(&xtask, &root, &work).map_err(|error| format!("{error:#}"));
    let report = Report {
        discovery,
        scale: args.scale,
        quick: args.quick,
        fixture,
        setup_seconds,
        releases,
        peer: Some(peer),
        gzip,
    };
    report.print_table();
    let report_path = bench_dir.join("report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report.to_json())? + "\n")
        .with_context(|| format!("cannot write {report_path}"))?;
    println!("\nreport: {report_path}");
    drop(registry);
    let failed = report.releases.iter().any(|run| run.outcome.is_err())
        || report.peer.as_ref().is_some_and(|peer| peer.error.is_some())
        || report.gzip.is_err()
        || report.discovery.is_err();
    // On failure the logs the report points at are what one reads next, so they stay.
    if args.keep || failed {
        println!("work directory kept (logs, release trees, store): {}", work_dir.keep().display());
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Runs `xtask release` on the work directory's release file and reads the bundle facts
/// from the build record it wrote. A failing release is an `Err` outcome, not an error.
fn release_run(
    xtask: &Utf8Path,
    work: &Utf8Path,
    key: &'static str,
    label: &'static str,
) -> anyhow::Result<ReleaseRun> {
    let mut command = Command::new(xtask);
    command
        .current_dir(work)
        .args([
            "release",
            "-f",
            work.join("release.toml").as_str(),
            "--out",
            work.join("dist").as_str(),
            "--no-proof",
        ])
        .env_remove("SOURCE_DATE_EPOCH")
        .env("NO_COLOR", "1");
    let measured = measure::run(&mut command, &work.join(format!("{key}.log")))?;
    let outcome = if measured.status.success() {
        bundle_facts(&work.join("dist").join(fixture::TREE_NAME))
    } else {
        Err(format!(
            "{}\n(xtask release exited with {}; log: {})",
            measured.log_tail(30).trim(),
            measured.status,
            measured.log
        ))
    };
    let result = match &outcome {
        Ok(bundle) => format!("bundle {}", report::mib(bundle.bytes)),
        Err(error) => format!("FAILED\n{error}"),
    };
    eprintln!(
        "[bench] {label}: {} wall, {} cpu, peak RSS {}, {result}",
        report::seconds(measured.seconds),
        report::seconds(measured.cpu_seconds),
        report::mib(measured.peak_rss_bytes)
    );
    Ok(ReleaseRun { key, label, measured, outcome })
}

/// The bundle of a release tree, from its `release.lock.json`.
fn bundle_facts(tree: &Utf8Path) -> Result<BundleFacts, String> {
    let record_path = tree.join(helmkots::lock::FILE_NAME);
    let text = std::fs::read_to_string(&record_path)
        .map_err(|error| format!("cannot read {record_path}: {error}"))?;
    let record: BuildRecord = serde_json::from_str(&text)
        .map_err(|error| format!("{record_path} is not a build record: {error}"))?;
    let airgap = record.airgap.ok_or_else(|| format!("{record_path} lists no airgap bundle"))?;
    let output = record
        .outputs
        .iter()
        .find(|output| output.path == airgap.path)
        .ok_or_else(|| format!("{record_path} does not list {} among its outputs", airgap.path))?;
    Ok(BundleFacts {
        path: tree.join(&airgap.path),
        bytes: output.size,
        sha256: output.sha256.clone(),
        saved_images: airgap.saved_images,
    })
}

/// The peer: one `skopeo copy` per image into one shared OCI layout (so shared layers are
/// stored once, as in our store). Stops at the first failure.
fn skopeo_run(work: &Utf8Path, references: &[String]) -> anyhow::Result<PeerRun> {
    let layout = work.join("skopeo-layout");
    let mut peer = PeerRun { copies: Vec::new(), error: None };
    for (index, reference) in references.iter().enumerate() {
        let source = docker_source(reference);
        let tag = format!("image-{index}");
        let mut command = Command::new("skopeo");
        command.args([
            "--insecure-policy",
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            &format!("docker://{source}"),
            &format!("oci:{layout}:{tag}"),
        ]);
        let measured = measure::run(&mut command, &work.join(format!("skopeo-{index}.log")))?;
        eprintln!(
            "[bench] skopeo copy {source}: {} wall, {} cpu, peak RSS {}{}",
            report::seconds(measured.seconds),
            report::seconds(measured.cpu_seconds),
            report::mib(measured.peak_rss_bytes),
            if measured.status.success() { String::new() } else { format!(", FAILED ({})", measured.status) }
        );
        let failed = !measured.status.success();
        if failed {
            peer.error = Some(format!(
                "{}\n(skopeo copy {source} exited with {}; log: {})",
                measured.log_tail(20).trim(),
                measured.status,
                measured.log
            ));
        }
        peer.copies.push((source, measured));
        if failed {
            break;
        }
    }
    Ok(peer)
}

/// A reference as skopeo's `docker://` transport takes it: with a digest, the tag is
/// dropped (skopeo refuses references that carry both).
fn docker_source(reference: &str) -> String {
    let Some((name, digest)) = reference.split_once('@') else {
        return reference.to_string();
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let repository = match name[last_slash..].find(':') {
        Some(colon) => &name[..last_slash + colon],
        None => name,
    };
    format!("{repository}@{digest}")
}

/// Unpacks the bundle to its plain tar and compresses it at each level; the tar is removed
/// afterwards.
fn gzip_run(work: &Utf8Path, bundle: &Utf8Path) -> Result<GzipRun, String> {
    let tar_path = work.join("bundle.tar");
    let tar_bytes = gzip_levels::unpack_bundle(bundle, &tar_path).map_err(|error| format!("{error:#}"))?;
    let mut levels = Vec::new();
    for level in gzip_levels::LEVELS {
        let result = gzip_levels::measure(&tar_path, level).map_err(|error| format!("{error:#}"))?;
        eprintln!(
            "[bench] gzip level {level}: {} for {}, {:.2}% of the tar",
            report::seconds(result.seconds),
            report::mib(result.bytes),
            100.0 * result.bytes as f64 / tar_bytes as f64
        );
        levels.push(result);
    }
    let _ = std::fs::remove_file(&tar_path);
    Ok(GzipRun { tar_bytes, levels })
}

/// Fails early, with the packages to install, when a tool the bench runs is missing.
fn check_tools() -> anyhow::Result<()> {
    let on_path = |tool: &str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
    };
    let missing: Vec<&str> = [("docker-registry", "docker-registry"), ("skopeo", "skopeo")]
        .into_iter()
        .filter(|(tool, _)| !on_path(tool))
        .map(|(_, package)| package)
        .chain((!Utf8Path::new("/bin/busybox").is_file()).then_some("busybox-static"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format_err!("missing tools; install the Debian packages: {}", missing.join(" ")))
}

/// The repository root: two levels above this crate's folder (never the current directory).
fn project_root() -> Utf8PathBuf {
    let manifest_dir = Utf8Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.ancestors().nth(2).unwrap_or(manifest_dir).to_path_buf()
}

/// `$CARGO_TARGET_DIR`, else `<root>/target`.
fn target_dir(root: &Utf8Path) -> Utf8PathBuf {
    std::env::var("CARGO_TARGET_DIR").map(Utf8PathBuf::from).unwrap_or_else(|_| root.join("target"))
}
