//! `helmkots-bench`: what `cargo xtask release` costs, side by side with its floor and with
//! what a user would script today, in one run. `cargo xtask bench` runs it.
//!
//! Steps, in order:
//! 1. Setup (not measured in the ratios): build `xtask` (the dev build `cargo xtask` runs),
//!    start a local registry ([`helmkots_e2e::registry::TestRegistry`]), push `--images`
//!    images holding `--size` MiB of distinct layers plus a busybox helm-cli base
//!    ([`fixture`]), write a chart and `release.toml`.
//! 2. [`RUNS`] rounds, each of: `xtask release --no-proof` three times, each a measured
//!    child process ([`measure`]): cold (empty store, output and lock), no-op (nothing
//!    changed), one change (one config item's default edited in `release.toml`); the floor
//!    ([`floor`]): every distinct blob fetched once by a plain threaded HTTP client, hashed
//!    and written, and one sha256 pass over the bundle; the peer: `skopeo copy docker://…
//!    oci:DIR:…` of every image the bundle saved, into one OCI layout, one child per image.
//!    Then one more cold and one more one-change run with `--timings`, whose stage tables
//!    are shown and not counted.
//! 3. The bundle's plain tar compressed at gzip levels 0, 1, 6 and 9 ([`gzip_levels`]).
//! 4. Rendered discovery (`xtask images`) of the corpus chart with the most switches, against
//!    one `helm template` of it ([`discovery`]; skipped, saying so, without `../shared` or the
//!    tests' Helm front end).
//! 5. The table and ratios (medians) on stdout, `target/helmkots-bench/report.json`
//!    ([`report`]).
//!
//! A failed run is reported and the others still run, so the table says what broke; the
//! exit code is non-zero then.

mod discovery;
mod fixture;
mod floor;
mod gzip_levels;
mod measure;
mod report;

use std::{process::Command, process::ExitCode, time::Instant};

use anyhow::{format_err, Context};
use camino::{Utf8Path, Utf8PathBuf};
use helmkots::internals::output::build_record::BuildRecord;
use helmkots_e2e::registry::TestRegistry;

use crate::report::{BundleFacts, FloorRun, GzipRun, PeerRun, ReleaseRun, Report};

const HELP: &str = "\
helmkots-bench: time and peak memory of `xtask release` (cold, no-op, one config change)
against its floor (the distinct blobs fetched and hashed once, plus one sha256 pass over the
bundle) and `skopeo copy` of the same images, medians of 3; the bundle's size at gzip
levels 0/1/6/9; rendered discovery of the largest corpus chart against one `helm template`.

USAGE: cargo xtask bench [--quick] [--images N] [--size MIB] [--keep] [--serve] [--xtask PATH]

OPTIONS:
  --quick           44 MiB of distinct layers (the same as --size 44)
  --images N        how many images (default 12): one base layer shared by all, a middle
                    layer shared by each group of 4, one layer each
  --size MIB        MiB of distinct layers in all (default 352), split 64:72:216 between
                    the base, the middle layers and the images' own layers
  --keep            keep the work directory (release trees, store, logs); kept
                    anyway when a run fails
  --serve           set up the registry and the release, print the command of a cold
                    release, and measure nothing: the registry serves until stdin ends
                    (Enter or Ctrl-D), to profile a release by hand (perf, strace)
  --xtask PATH      measure this xtask binary instead of building one (a copy of an
                    earlier build), to compare two builds on the same machine
  -h, --help        print this help

Needs docker-registry, skopeo and /bin/busybox (Debian: docker-registry skopeo busybox-static);
the discovery part needs ../shared and helm-python-sdk (pip), and is skipped without them.
Writes target/helmkots-bench/report.json.
";

/// `--quick` is this size.
const QUICK_SIZE_MIB: u64 = fixture::DEFAULT_SIZE_MIB / 8;

/// Rounds of every measured run; the report shows medians.
pub const RUNS: usize = 3;

/// The command line.
#[derive(Debug, Clone)]
struct Args {
    images: usize,
    size_mib: u64,
    quick: bool,
    keep: bool,
    serve: bool,
    xtask: Option<Utf8PathBuf>,
}

impl Args {
    /// Parses the arguments; `None` when help was asked for.
    fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Option<Args>> {
        let mut parsed = Args {
            images: fixture::DEFAULT_IMAGES,
            size_mib: fixture::DEFAULT_SIZE_MIB,
            quick: false,
            keep: false,
            serve: false,
            xtask: None,
        };
        let mut size = None;
        let positive = |flag: &str, value: Option<String>| -> anyhow::Result<u64> {
            let value = value.ok_or_else(|| format_err!("{flag} needs a number"))?;
            value
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format_err!("{flag} takes a positive whole number, got `{value}`"))
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => parsed.quick = true,
                "--keep" => parsed.keep = true,
                "--serve" => parsed.serve = true,
                "--xtask" => {
                    let path = Utf8PathBuf::from(
                        args.next()
                            .ok_or_else(|| format_err!("--xtask needs the path of an xtask binary"))?,
                    );
                    if !path.is_file() {
                        return Err(format_err!(
                            "--xtask {path}: no such file; give an xtask binary (a copy of target/debug/xtask)"
                        ));
                    }
                    parsed.xtask = Some(path);
                }
                "--images" => parsed.images = positive("--images", args.next())? as usize,
                "--size" => size = Some(positive("--size", args.next())?),
                "-h" | "--help" => return Ok(None),
                other => return Err(format_err!("unknown argument `{other}` (see --help)")),
            }
        }
        parsed.size_mib = match (size, parsed.quick) {
            (Some(_), true) => return Err(format_err!("--quick and --size exclude each other")),
            (Some(size), false) => size,
            (None, true) => QUICK_SIZE_MIB,
            (None, false) => fixture::DEFAULT_SIZE_MIB,
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

    let xtask = match &args.xtask {
        Some(xtask) => xtask.clone(),
        None => {
            eprintln!("[bench] building xtask");
            measure::build_xtask(&root)?
        }
    };
    let work_dir = tempfile::Builder::new().prefix("work-").tempdir_in(&bench_dir)?;
    let work = Utf8PathBuf::from_path_buf(work_dir.path().to_path_buf())
        .map_err(|path| format_err!("work directory is not UTF-8: {}", path.display()))?;

    eprintln!("[bench] setup: registry, {} images, {} MiB of distinct layers", args.images, args.size_mib);
    let setup_start = Instant::now();
    let registry = TestRegistry::start();
    let fixture = fixture::push_images(&registry, &work, args.images, args.size_mib)?;
    fixture::write_chart(&work, &fixture)?;
    fixture::write_release_toml(&work, &fixture, &registry.host(), "hello")?;
    let setup_seconds = setup_start.elapsed().as_secs_f64();
    eprintln!(
        "[bench] setup: {} images, distinct layers {}, in {}",
        fixture.images.len(),
        report::mib(fixture.unique_layer_bytes()),
        report::seconds(setup_seconds)
    );
    if args.serve {
        serve(&xtask, &work)?;
        return Ok(ExitCode::SUCCESS);
    }

    let mut releases = vec![
        ReleaseRun::new("cold", "cold release"),
        ReleaseRun::new("noop", "no-op release"),
        ReleaseRun::new("one_change", "one-change release"),
    ];
    let concurrency = helmkots::internals::oci::airgap::pull::PullOptions::new(Vec::new()).concurrency;
    let mut floor = Ok(FloorRun { concurrency, fetches: Vec::new(), hash_passes: Vec::new() });
    let mut peers = Vec::new();
    // Each round measures everything once, so a busy machine slows the sides of a ratio alike.
    for round in 0..RUNS {
        forget_release(&work)?;
        fixture::write_release_toml(&work, &fixture, &registry.host(), "hello")?;
        release_run(&xtask, &work, &registry, &mut releases[0], round, &[])?;
        release_run(&xtask, &work, &registry, &mut releases[1], round, &[])?;
        fixture::write_release_toml(&work, &fixture, &registry.host(), &format!("hello, changed {round}"))?;
        release_run(&xtask, &work, &registry, &mut releases[2], round, &[])?;
        let bundle = releases.iter().rev().find_map(ReleaseRun::bundle).map(|b| b.path.clone());
        floor = floor.and_then(|mut floor| {
            floor_round(&registry, &fixture, &work, bundle.as_deref(), round, &mut floor)?;
            Ok(floor)
        });
        let saved_images = releases
            .iter()
            .find_map(ReleaseRun::bundle)
            .map(|bundle| bundle.saved_images.clone())
            .unwrap_or_else(|| fixture.images.iter().map(|image| image.reference.clone()).collect());
        peers.push(skopeo_run(&work, &registry, &saved_images, round)?);
    }
    let _ = std::fs::remove_dir_all(work.join("floor"));
    // One more cold and one-change run each, with --timings: where the time goes.
    forget_release(&work)?;
    fixture::write_release_toml(&work, &fixture, &registry.host(), "hello")?;
    let mut timed_cold = ReleaseRun::new("cold_timings", "cold release --timings");
    release_run(&xtask, &work, &registry, &mut timed_cold, 0, &["--timings"])?;
    fixture::write_release_toml(&work, &fixture, &registry.host(), "hello, changed")?;
    let mut timed_change = ReleaseRun::new("one_change_timings", "one-change release --timings");
    release_run(&xtask, &work, &registry, &mut timed_change, 0, &["--timings"])?;
    let timings = [timed_cold, timed_change]
        .iter()
        .filter_map(|run| Some((run.label, timings_table(&run.runs.first()?.log_tail(40)))))
        .collect();

    let bundle = releases.iter().rev().find_map(ReleaseRun::bundle).map(|b| b.path.clone());

    let gzip = match &bundle {
        Some(bundle) => gzip_run(&work, bundle),
        None => Err("no release wrote a bundle".to_string()),
    };

    let discovery = discovery::run(&xtask, &root, &work).map_err(|error| format!("{error:#}"));
    let report = Report {
        discovery,
        images: args.images,
        size_mib: args.size_mib,
        quick: args.quick,
        fixture,
        setup_seconds,
        releases,
        timings,
        floor,
        peers,
        gzip,
    };
    report.print_table();
    let report_path = bench_dir.join("report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report.to_json())? + "\n")
        .with_context(|| format!("cannot write {report_path}"))?;
    println!("\nreport: {report_path}");
    drop(registry);
    let failed = report.releases.iter().any(|run| run.bundle().is_none())
        || report.peers.iter().any(|peer| peer.error.is_some())
        || report.floor.is_err()
        || report.gzip.is_err()
        || report.discovery.is_err();
    // On failure the logs the report points at are what one reads next, so they stay.
    if args.keep || failed {
        println!("work directory kept (logs, release trees, store): {}", work_dir.keep().display());
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `--serve`: prints how to run a cold release of the work directory by hand, then keeps the
/// registry up until stdin ends.
fn serve(xtask: &Utf8Path, work: &Utf8Path) -> anyhow::Result<()> {
    println!("work directory: {work}");
    println!("a cold release (run it again for the next one):");
    println!(
        "  cd {work} && rm -rf target dist {lock} && {xtask} release -f release.toml --out dist --no-proof --timings",
        lock = helmkots::internals::oci::image_lock::FILE_NAME
    );
    println!("the registry serves until stdin ends (Enter or Ctrl-D)");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("cannot read stdin")?;
    Ok(())
}

/// Empties what a cold release starts without: the store and fingerprints (`target/`), the
/// output (`dist/`) and the image lock.
fn forget_release(work: &Utf8Path) -> anyhow::Result<()> {
    for dir in [work.join("target"), work.join("dist")] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {dir}"))?;
        }
    }
    let lock = work.join(helmkots::internals::oci::image_lock::FILE_NAME);
    if lock.exists() {
        std::fs::remove_file(&lock).with_context(|| format!("cannot remove {lock}"))?;
    }
    Ok(())
}

/// The `timings` table `release --timings` printed, from the end of its log.
fn timings_table(log_tail: &str) -> String {
    let table: Vec<&str> = log_tail.lines().skip_while(|line| !line.starts_with("timings")).collect();
    table
        .iter()
        .take_while(|line| line.starts_with("timings") || line.starts_with("  "))
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `xtask release` on the work directory's release file (with `extra` flags) and adds
/// the measurement to `run`; the bundle facts come from the build record it wrote. A
/// failing release is an `Err` outcome, not an error.
fn release_run(
    xtask: &Utf8Path,
    work: &Utf8Path,
    registry: &TestRegistry,
    run: &mut ReleaseRun,
    round: usize,
    extra: &[&str],
) -> anyhow::Result<()> {
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
        .args(extra)
        .env_remove("SOURCE_DATE_EPOCH")
        .env("NO_COLOR", "1");
    let log = work.join(format!("{}-{round}.log", run.key));
    let measured = measure::run(&mut command, &log, Some(registry.pid()))?;
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
        "[bench] {} ({}/{RUNS}): {} wall, {} cpu (registry {}), peak RSS {}, {result}",
        run.label,
        round + 1,
        report::seconds(measured.seconds),
        report::seconds(measured.cpu_seconds),
        report::optional_seconds(measured.watched_cpu_seconds),
        report::mib(measured.peak_rss_bytes)
    );
    run.runs.push(measured);
    // The first failure stays the outcome: it is what the table reports.
    if run.outcome.as_ref().is_none_or(|outcome| outcome.is_ok()) {
        run.outcome = Some(outcome);
    }
    Ok(())
}

/// One round of the floor: the distinct blobs fetched and hashed once, with the pull's
/// concurrency; and one sha256 pass over `bundle`.
fn floor_round(
    registry: &TestRegistry,
    fixture: &fixture::Fixture,
    work: &Utf8Path,
    bundle: Option<&Utf8Path>,
    round: usize,
    floor: &mut FloorRun,
) -> Result<(), String> {
    let bundle = bundle.ok_or_else(|| "no release wrote a bundle to hash".to_string())?;
    let fetched = floor::fetch(registry, &fixture.blobs, floor.concurrency, &work.join("floor"))
        .map_err(|e| format!("{e:#}"))?;
    let hashed = floor::hash_pass(bundle).map_err(|e| format!("{e:#}"))?;
    eprintln!(
        "[bench] floor ({}/{RUNS}): fetch {} of {} in {} (registry cpu {}), one sha256 pass over the bundle {}",
        round + 1,
        fixture.blobs.len(),
        report::mib(fetched.bytes),
        report::seconds(fetched.seconds),
        report::optional_seconds(fetched.registry_cpu_seconds),
        report::seconds(hashed)
    );
    floor.fetches.push(fetched);
    floor.hash_passes.push(hashed);
    Ok(())
}

/// The bundle of a release tree, from its `release.lock.json`.
fn bundle_facts(tree: &Utf8Path) -> Result<BundleFacts, String> {
    let record_path = tree.join(helmkots::internals::output::build_record::FILE_NAME);
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
/// stored once, as in our store), starting empty. Stops at the first failure.
fn skopeo_run(
    work: &Utf8Path,
    registry: &TestRegistry,
    references: &[String],
    round: usize,
) -> anyhow::Result<PeerRun> {
    let layout = work.join("skopeo-layout");
    if layout.exists() {
        std::fs::remove_dir_all(&layout).with_context(|| format!("cannot remove {layout}"))?;
    }
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
        let log = work.join(format!("skopeo-{round}-{index}.log"));
        let measured = measure::run(&mut command, &log, Some(registry.pid()))?;
        eprintln!(
            "[bench] skopeo copy ({}/{RUNS}) {source}: {} wall, {} cpu, peak RSS {}{}",
            round + 1,
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
