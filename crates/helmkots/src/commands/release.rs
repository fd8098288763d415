//! `release`: check → plan → proof → (online: build the helm-cli image, pull, bundle) →
//! record → push → checksums → write, skipped whole when the release fingerprint matches.
//!
//! Architecture Invariant: this is the only module that sequences the stages of a release;
//! each stage is a function of its inputs and returns data.

use camino::{Utf8Path, Utf8PathBuf};

use super::{
    check::{check, validate, Checked},
    images::{record_renders, values_only_warning},
    online,
    plan::{passthrough_manifests, plan, Plan, MANIFESTS_DIR},
    prove::prove_plan,
};
use crate::render::helm_template::{on_path, HELM_PROGRAM};
use crate::util::timings::{self, Stage};
use crate::{
    error::{Error, IoContext, Result},
    input::chart::{self, Chart},
    input::release::{self, Release},
    oci::image_lock,
    output::build_record::{self, BuildRecord, ChartRecord, FileRecord},
    output::fingerprint::{self, Fingerprints, KeyBuilder},
    output::tree::{self, OutputTree},
    proof::ProofReport,
    util::digest::Sha256Digest,
    util::reproducible,
};

/// What `release` needs besides the release file.
#[derive(Debug, Clone)]
pub struct ReleaseOptions {
    /// The release file.
    pub release_file: Utf8PathBuf,
    /// Where release trees go; `dist/` beside the release file when absent.
    pub out_dir: Option<Utf8PathBuf>,
    /// Skip every step that needs a registry.
    pub offline: bool,
    /// Run the airgap proof before writing (needs `helm` on PATH; skipped with a warning
    /// when there is none).
    pub proof: bool,
    /// Where progress of the long steps goes.
    pub progress: crate::progress::SharedProgress,
    /// Replaces `[airgap] channel_id` (a CI job that builds one release for several channels).
    pub channel_id: Option<String>,
    /// Replaces `[airgap] update_cursor` (a CI build number).
    pub update_cursor: Option<u64>,
    /// `--locked`: fail rather than change `helmkots.lock` (its pins or its renders).
    pub locked: bool,
}

/// What `release` produced.
#[derive(Debug, Clone)]
pub struct ReleaseOutcome {
    /// The release tree.
    pub dir: Utf8PathBuf,
    /// The build record written into it.
    pub record: BuildRecord,
    /// Things worth a look that did not stop the build.
    pub warnings: Vec<String>,
    /// The airgap proof, when it ran.
    pub proof: Option<ProofReport>,
    /// Nothing had changed since the last release into this tree: nothing was written.
    pub up_to_date: bool,
    /// Why the release was built, when it was (`None` when it was up to date).
    pub rerun: Option<RerunReason>,
    /// The helm-cli image this run pushed (`name:tag@digest`); `None` when it pushed nothing
    /// (offline, or an earlier run pushed the same image).
    pub pushed: Option<String>,
}

/// Every reference `helmkots.lock` keeps a pin for: the bundled images and the helm-cli base.
fn used_images(plan: &Plan) -> Vec<String> {
    let mut used: Vec<String> = plan.images.references().map(ToString::to_string).collect();
    used.push(plan.checked.release.helm_cli.base.get_ref().to_string());
    used
}

/// With `--locked`: the pins this release resolved must be the ones `helmkots.lock` holds.
fn check_pins_unchanged(plan: &Plan, resolved: &image_lock::ImageLock) -> Result<()> {
    let on_disk = image_lock::ImageLock::read(&plan.checked.release.root.join(image_lock::FILE_NAME))?;
    let mut pins = resolved.clone();
    pins.retain_only(used_images(plan).iter().map(String::as_str));
    let changed: std::collections::BTreeSet<&String> = pins
        .images
        .keys()
        .chain(on_disk.images.keys())
        .filter(|image| pins.images.get(*image) != on_disk.images.get(*image))
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    Err(Error::LockOutdated {
        reason: format!(
            "the pinned digests would change for {}",
            changed.iter().map(|image| format!("`{image}`")).collect::<Vec<_>>().join(", ")
        ),
        help: format!("run `cargo xtask release` without --locked and commit {}", image_lock::FILE_NAME),
    })
}

/// Builds the release tree `dist/<slug>-<version>/`: offline, the chart, manifests and build
/// record; online also the helm-cli image (built, pushed and pinned) and the airgap bundle.
///
/// Incremental: when nothing the tree depends on has changed since it was written (its
/// fingerprint matches, see [`release_key`]) and the tree is as it was left, nothing is done
/// and the outcome says `up_to_date`. Otherwise the expensive steps still skip what they can:
/// an unchanged helm-cli image is not rebuilt or pushed, blobs in the store are not fetched,
/// and an unchanged set of images is copied from the last bundle, not packed again.
pub fn release(options: &ReleaseOptions) -> Result<ReleaseOutcome> {
    let mut checked = timings::timed(Stage::Check, || check(&options.release_file))?;
    checked.locked = options.locked;
    if let Some(channel_id) = &options.channel_id {
        checked.release.airgap.channel_id = channel_id.clone();
    }
    if let Some(cursor) = options.update_cursor {
        checked.release.airgap.update_cursor = Some(cursor);
    }
    let out_dir = match &options.out_dir {
        Some(dir) => dir.clone(),
        None => checked.release.root.join("dist"),
    };
    let epoch = reproducible::source_date_epoch()?;
    let tree_name = checked.tree_name();
    let fingerprints = Fingerprints::new(&checked.release.root);
    // Absolute, so fingerprints and their file stamps mean the same tree from any directory.
    let tree_dir = crate::util::paths::absolute(&out_dir.join(&tree_name));
    let fingerprint_name = format!("release-{}", fingerprint::name_hash(tree_dir.as_str()));
    let prove = options.proof && on_path(HELM_PROGRAM);
    // The inputs are read and hashed once: for the key now, the record and the key at the end.
    let inputs = input_records(&checked)?;
    let manifests = passthrough_manifests(&checked.release.root.join(MANIFESTS_DIR))?;
    let key_inputs = release_key_inputs(&checked, options, epoch, &inputs, &manifests)?;
    let key = release_key(&key_inputs, &checked.release, options.offline);
    let rerun = match up_to_date(&key, &fingerprints, &fingerprint_name, &tree_dir, prove) {
        // Named as a run that writes it would name it.
        Ok(outcome) => return Ok(ReleaseOutcome { dir: out_dir.join(&tree_name), ..outcome }),
        Err(reason) => reason,
    };
    // Every mistake `check` catches stops the run before anything is built or pushed.
    let validated = timings::timed(Stage::Check, || validate(&checked))?;
    let planning = timings::span(Stage::Plan);
    let packaged = chart::package(&checked.chart, epoch)?;
    let mut online = if options.offline { None } else { Some(online::prepare(&checked, &packaged, epoch)?) };
    let plan =
        plan(checked, validated, packaged, manifests, online.as_ref().map(|o| o.helm_cli.to_string()))?;
    drop(planning);
    let mut warnings = plan.warnings.clone();
    if online.is_some() && plan.checked.release.airgap.update_cursor.is_none() {
        warnings.push(format!(
            "[airgap] update_cursor is not set: airgap.yaml says updateCursor \"{}\", and KOTS orders airgap \
             releases by it; set it, or pass --update-cursor N (e.g. a CI build number)",
            release::defaults::UPDATE_CURSOR
        ));
    }
    let proof = if !options.proof {
        None
    } else if !prove {
        warnings.push(format!(
            "airgap proof skipped: no `{HELM_PROGRAM}` on PATH to render the chart with (install Helm, or pass --no-proof)"
        ));
        None
    } else {
        let report = timings::timed(Stage::Proof, || {
            prove_plan(&plan, &plan.additional_images, options.progress.as_ref())
        })?;
        if !report.passed() {
            return Err(Error::ProofFailed(Box::new(report)));
        }
        Some(report)
    };
    let mut bundle_temp = None;
    let mut tree = plan.tree.clone();
    if let Some(online) = &mut online {
        std::fs::create_dir_all(&out_dir).io_context("create", &out_dir)?;
        let bundle = online::bundle(online, &plan, &out_dir, epoch, &options.progress)?;
        tree.insert_moved(format!("{tree_name}.airgap"), bundle.path.clone(), bundle.sha256, bundle.size);
        bundle_temp = Some(bundle);
    }
    // After the pull, so the sizes of what was just pulled are known.
    warnings.extend(values_only_warning(&plan.checked, &plan.images));
    let mut record = build_record(&plan.checked, &tree, epoch, inputs);
    if let (Some(bundle), Some(online)) = (&bundle_temp, &online) {
        record.airgap = Some(build_record::AirgapRecord {
            path: format!("{tree_name}.airgap"),
            app_tar_gz: bundle.app_tar_gz.oci(),
            saved_images: bundle.saved_images.clone(),
            helm_cli_image: online.helm_cli.to_string(),
        });
    }
    if let (Some(online), true) = (&online, plan.checked.locked) {
        if let Err(error) = check_pins_unchanged(&plan, &online.lock) {
            bundle_temp.iter().for_each(online::BundleFile::discard);
            // Only when empty: the folder was made for this bundle.
            let _ = std::fs::remove_dir(&out_dir);
            return Err(error);
        }
    }
    // Every check has passed: the first moment anything leaves the machine.
    let pushed = match online.as_mut().map(online::push_helm_cli).transpose() {
        Ok(pushed) => pushed.flatten(),
        Err(error) => {
            bundle_temp.iter().for_each(online::BundleFile::discard);
            return Err(error);
        }
    };
    let checksums = timings::span(Stage::Checksums);
    tree.insert(build_record::FILE_NAME, record.to_json().into_bytes());
    let sums = tree.checksums();
    tree.insert(tree::CHECKSUMS_FILE, sums.into_bytes());
    drop(checksums);
    // An offline tree has no bundle: replacing an online build's tree deletes its bundle.
    let old_bundle = out_dir.join(&tree_name).join(format!("{tree_name}.airgap"));
    let removed_bundle = (options.offline && old_bundle.is_file()).then(|| {
        format!(
            "{old_bundle} was removed: this offline build replaces the online build in {}, and an offline tree has \
             no airgap bundle; run `cargo xtask release` without --offline to build it again, or pass --out DIR \
             to keep offline builds apart",
            out_dir.join(&tree_name)
        )
    });
    // The tree is about to change: a run killed from here on must not find it up to date.
    fingerprints.remove(&fingerprint_name);
    let written = timings::timed(Stage::TreeWrite, || tree::write_atomically(&out_dir, &tree_name, &tree));
    if written.is_err() {
        bundle_temp.iter().for_each(online::BundleFile::discard);
    }
    let dir = written?;
    if let Some(online) = &mut online {
        online.lock.retain_only(used_images(&plan).iter().map(String::as_str));
        online.lock.write(&plan.checked.release.root.join(image_lock::FILE_NAME))?;
        if let Some(bundle) = &bundle_temp {
            online::remember_bundle(online, bundle, &tree_dir.join(format!("{tree_name}.airgap")))?;
        }
    }
    record_renders(&plan.checked, &plan.images)?;
    let stamp =
        ReleaseStamp { outputs: fingerprint::stamp_tree(&tree_dir)?, proved: proof.is_some(), warnings };
    // Keyed again: the run has just written the image lock.
    let key = release_key(&key_inputs, &plan.checked.release, options.offline);
    fingerprints.put(&fingerprint_name, &key, &stamp)?;
    // Said once, by the run that removed it; not repeated by runs that find the tree up to date.
    let mut warnings = stamp.warnings;
    warnings.extend(removed_bundle);
    Ok(ReleaseOutcome {
        dir,
        record,
        warnings,
        proof,
        up_to_date: false,
        pushed: pushed.map(|image| image.to_string()),
        rerun: Some(rerun),
    })
}

/// What the release fingerprint keeps besides its key.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ReleaseStamp {
    /// Every file of the tree as written.
    outputs: Vec<fingerprint::FileStamp>,
    /// Whether the airgap proof ran (and passed) for it.
    proved: bool,
    /// The warnings of the run that wrote it, repeated by runs that find it up to date.
    warnings: Vec<String>,
}

/// The outcome of a release that has nothing to do: its fingerprint matches, its tree is as
/// written, and the proof ran for it if one is wanted now.
fn up_to_date(
    key: &fingerprint::Key,
    fingerprints: &Fingerprints,
    name: &str,
    dir: &Utf8Path,
    prove: bool,
) -> Result<ReleaseOutcome, RerunReason> {
    let stamp = fingerprints.lookup::<ReleaseStamp>(name, key).map_err(|miss| match miss {
        fingerprint::Miss::NoFingerprint => RerunReason::FirstRun,
        fingerprint::Miss::Changed(fields) => RerunReason::InputsChanged(fields),
    })?;
    if prove && !stamp.proved {
        return Err(RerunReason::ProofNotRun);
    }
    if !fingerprint::tree_is_current(dir, &stamp.outputs) {
        return Err(RerunReason::TreeChanged);
    }
    let record = std::fs::read(dir.join(build_record::FILE_NAME))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<BuildRecord>(&bytes).ok())
        .ok_or(RerunReason::TreeChanged)?;
    Ok(ReleaseOutcome {
        dir: dir.to_path_buf(),
        record,
        warnings: stamp.warnings,
        proof: None,
        up_to_date: true,
        pushed: None,
        rerun: None,
    })
}

/// Why a release was built rather than found up to date (`release -v` says it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RerunReason {
    /// No earlier release of this tree is recorded (or an older helmkots recorded it).
    FirstRun,
    /// These inputs of the release fingerprint changed: files by path (`release.toml`,
    /// chart files, `manifests/...`), or `program` (another build of helmkots), `offline`,
    /// `epoch`, `channel-id`, `update-cursor`, `revision`, `rendered-discovery`, `image-lock`.
    InputsChanged(Vec<String>),
    /// The tree was changed, or files were added to it, since it was written.
    TreeChanged,
    /// The tree was written without the airgap proof, which this run wants.
    ProofNotRun,
}

impl std::fmt::Display for RerunReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RerunReason::FirstRun => f.write_str("no earlier release of this tree is recorded"),
            // No names when the stored key was made by fields this build no longer adds.
            RerunReason::InputsChanged(fields) if fields.is_empty() => f.write_str("inputs changed"),
            RerunReason::InputsChanged(fields) => write!(f, "inputs changed: {}", fields.join(", ")),
            RerunReason::TreeChanged => f.write_str("the tree was changed since it was written"),
            RerunReason::ProofNotRun => f.write_str("the tree was written without the airgap proof"),
        }
    }
}

/// Everything a release tree depends on but the image lock: this build of helmkots, the
/// mode, the timestamp, the release file (and the `[airgap]` values the command line
/// replaced), every chart file (`inputs`), every passed-through manifest and, online, the git
/// revision the helm-cli image is labelled with.
fn release_key_inputs(
    checked: &Checked,
    options: &ReleaseOptions,
    epoch: u64,
    inputs: &[FileRecord],
    manifests: &[(String, Vec<u8>)],
) -> Result<KeyBuilder> {
    let release = &checked.release;
    let mut key = KeyBuilder::new("release");
    key.program()
        .field("offline", [u8::from(options.offline)].as_slice())
        .field("epoch", epoch.to_string().as_bytes())
        .field("release-file", release.file.text.as_bytes())
        // With any command-line overrides applied.
        .field("channel-id", release.airgap.channel_id.as_bytes())
        .field("update-cursor", format!("{:?}", release.airgap.update_cursor).as_bytes());
    for input in inputs {
        key.field(&input.path, input.sha256.as_bytes());
    }
    for (name, bytes) in manifests {
        key.field(&format!("manifests/{name}"), bytes);
    }
    if !options.offline {
        key.field("revision", online::git_revision(&release.root).unwrap_or_default().as_bytes());
    }
    Ok(key)
}

/// The release key: `inputs` and, online, the image lock as it is on disk now.
fn release_key(inputs: &KeyBuilder, release: &Release, offline: bool) -> fingerprint::Key {
    let mut key = inputs.clone();
    // Rendered discovery changes what is bundled and rewritten: a tree made without Helm is
    // not up to date once Helm is there.
    let renders = release.images.discover != release::Discover::Values && on_path(HELM_PROGRAM);
    key.field("rendered-discovery", if renders { b"1" } else { b"0" });
    if !offline {
        key.field("image-lock", &std::fs::read(release.root.join(image_lock::FILE_NAME)).unwrap_or_default());
    }
    key.finish()
}

fn build_record(checked: &Checked, tree: &OutputTree, epoch: u64, inputs: Vec<FileRecord>) -> BuildRecord {
    let metadata = &checked.chart.metadata;
    let chart_path = format!("charts/{}-{}.tgz", metadata.name, checked.chart.version_text());
    let chart_sha = tree.get(&chart_path).map(Sha256Digest::of).map(|d| d.oci()).unwrap_or_default();
    BuildRecord {
        schema_version: build_record::SCHEMA_VERSION,
        generator: format!("helmkots {}", env!("CARGO_PKG_VERSION")),
        slug: checked.release.app.slug.get_ref().clone(),
        version: checked.version(),
        source_date_epoch: epoch,
        chart: ChartRecord {
            name: metadata.name.clone(),
            version: checked.chart.version_text(),
            path: chart_path,
            sha256: chart_sha,
        },
        inputs,
        airgap: None,
        outputs: {
            let mut outputs: Vec<FileRecord> =
                tree.files().map(|(path, bytes)| file_record(path, bytes)).collect();
            outputs.extend(tree.moved_files().map(|(path, digest, size)| FileRecord {
                path: path.to_string(),
                sha256: digest.oci(),
                size,
            }));
            outputs.sort();
            outputs
        },
    }
}

/// The release file and every chart file that went into the package: each file of a chart
/// directory, or the archive itself for a `.tgz`, by path relative to the release file's
/// folder (with `..` where the chart lives elsewhere), hashed as it is on disk.
fn input_records(checked: &Checked) -> Result<Vec<FileRecord>> {
    let release = &checked.release;
    let mut paths = std::collections::BTreeSet::new();
    collect_chart_inputs(&checked.chart, &mut paths);
    let mut records = vec![file_record(
        release.file.path.file_name().unwrap_or("release.toml"),
        release.file.text.as_bytes(),
    )];
    for path in paths {
        let bytes = std::fs::read(&path).io_context("read", &path)?;
        records.push(file_record(&crate::util::paths::relative_path(&release.root, &path), &bytes));
    }
    records.sort();
    Ok(records)
}

fn collect_chart_inputs(chart: &Chart, paths: &mut std::collections::BTreeSet<Utf8PathBuf>) {
    match &chart.origin {
        chart::ChartOrigin::Archive(archive) => {
            paths.insert(archive.clone());
        }
        chart::ChartOrigin::Directory(dir) => {
            paths.extend(chart.files.iter().map(|file| dir.join(&file.path)));
            for dependency in &chart.dependencies {
                collect_chart_inputs(dependency, paths);
            }
        }
    }
}

fn file_record(path: &str, bytes: &[u8]) -> FileRecord {
    FileRecord { path: path.to_string(), sha256: Sha256Digest::of(bytes).oci(), size: bytes.len() as u64 }
}
