//! The airgap proof of a plan about to be written, of a written tree (`verify --proof`) and
//! of a bundle alone.

use camino::{Utf8Path, Utf8PathBuf};

use super::plan::Plan;
use crate::render::helm_template::{RenderCache, HELM_PROGRAM};
use crate::{
    error::{Error, IoContext, Result},
    input::chart::{self},
    plan::kots::{self},
    proof::{self, ProofInputs, ProofReport},
    util::digest::Sha256Digest,
};

/// Runs the airgap proof on a plan. `shipped_images` is what the bundle holds, or
/// `additionalImages` for a tree without a bundle.
pub(super) fn prove_plan(
    plan: &Plan,
    shipped_images: &[String],
    progress: &dyn crate::progress::Progress,
) -> Result<ProofReport> {
    let chart_dir = tempfile::tempdir().io_context("create", "a temporary directory")?;
    let chart_path = Utf8PathBuf::from_path_buf(chart_dir.path().join(&plan.packaged.file_name))
        .map_err(|p| Error::NonUtf8Path(p.display().to_string()))?;
    std::fs::write(&chart_path, &plan.packaged.bytes).io_context("write", &chart_path)?;
    let values_template = plan.values.tree.to_yaml();
    let cache = RenderCache::open(&plan.checked.release.root, HELM_PROGRAM, &plan.packaged.sha256);
    let spec = proof::ProofSpec::of_release(&plan.checked.release);
    let images = proof::proved_images(&plan.images);
    let inputs = ProofInputs {
        spec: &spec,
        values_template: &values_template,
        chart_archive: &chart_path,
        images: &images,
        shipped_images,
        chart_sets_pull_secrets: !plan.values.pull_secret_paths.is_empty(),
        helm: HELM_PROGRAM,
        chart: &plan.checked.chart,
        cache: cache.as_ref(),
        progress,
    };
    Ok(proof::prove(&inputs)?)
}

/// Runs the airgap proof on a written release tree (`dist/<slug>-<version>/`), with the
/// configuration space and routing of `release_file`.
pub fn prove_tree(tree_dir: &Utf8Path, progress: &dyn crate::progress::Progress) -> Result<ProofReport> {
    // Beside the tree's folder (`dist/`): the release's own cache when the tree is where
    // `release` wrote it.
    let absolute = crate::util::paths::absolute(tree_dir);
    let cache_root = absolute.parent().and_then(Utf8Path::parent).unwrap_or(&absolute);
    prove_written(tree_dir, None, Some(cache_root), progress)
}

/// Runs the airgap proof on an airgap bundle alone: the manifests of its `app.tar.gz`, the
/// chart and the proof record it carries, and the images it saved.
pub fn prove_bundle(bundle: &Utf8Path, progress: &dyn crate::progress::Progress) -> Result<ProofReport> {
    use std::io::Read as _;
    let not_provable = |reason: String| {
        Error::File {
        path: bundle.to_path_buf(),
        reason,
        help: Some("only bundles written by this helmkots carry what the proof needs; build it again with `cargo xtask release`".to_string()),
    }
    };
    let wanted = [
        "airgap.yaml",
        "app.tar.gz",
        crate::oci::airgap::bundle::PROOF_RECORD_ENTRY,
        crate::oci::airgap::bundle::PROOF_CHART_ENTRY,
    ];
    let head = crate::commands::inspect::bundle_head(bundle, &wanted)?.map_err(not_provable)?;
    let entry = |name: &str| head.get(name).ok_or_else(|| not_provable(format!("it has no `{name}`")));
    let airgap: serde_json::Value = serde_saphyr::from_slice(entry("airgap.yaml")?)
        .map_err(|error| not_provable(format!("airgap.yaml is not valid YAML: {error}")))?;
    let saved = crate::commands::inspect::strings_at(&airgap, "/spec/savedImages");
    let dir = tempfile::tempdir().io_context("create", "a temporary directory")?;
    let root = Utf8PathBuf::from_path_buf(dir.path().to_path_buf())
        .map_err(|p| Error::NonUtf8Path(p.display().to_string()))?;
    let manifests = root.join("manifests");
    std::fs::create_dir_all(&manifests).io_context("create", &manifests)?;
    let mut app = tar::Archive::new(flate2::read::GzDecoder::new(entry("app.tar.gz")?.as_slice()));
    for file in app.entries().map_err(|error| not_provable(format!("app.tar.gz: {error}")))? {
        let mut file = file.map_err(|error| not_provable(format!("app.tar.gz: {error}")))?;
        let name =
            file.path().map_err(|error| not_provable(error.to_string()))?.to_string_lossy().into_owned();
        // Manifests are flat files; anything else is not ours to write out.
        if !file.header().entry_type().is_file() || name.contains('/') || name.starts_with('.') {
            continue;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|error| not_provable(format!("app.tar.gz: {error}")))?;
        std::fs::write(manifests.join(&name), bytes).io_context("write", manifests.join(&name))?;
    }
    let charts = root.join("charts");
    std::fs::create_dir_all(&charts).io_context("create", &charts)?;
    std::fs::write(charts.join("chart.tgz"), entry(crate::oci::airgap::bundle::PROOF_CHART_ENTRY)?)
        .io_context("write", &charts)?;
    std::fs::write(root.join(proof::RECORD_FILE), entry(crate::oci::airgap::bundle::PROOF_RECORD_ENTRY)?)
        .io_context("write", &root)?;
    prove_written(&root, Some(saved), None, progress)
}

/// The proof of a written release: `dir` holds `manifests/`, `charts/<chart>.tgz` and the
/// proof record; `shipped` is what the bundle saved (`additionalImages` when `None`).
fn prove_written(
    dir: &Utf8Path,
    shipped: Option<Vec<String>>,
    cache_root: Option<&Utf8Path>,
    progress: &dyn crate::progress::Progress,
) -> Result<ProofReport> {
    let tree_dir = dir;
    let unreadable = |path: &Utf8Path, reason: String| {
        Error::File {
        path: path.to_path_buf(),
        reason,
        help: Some(format!(
            "{tree_dir} is not a release tree written by this helmkots; build it again with `cargo xtask release`"
        )),
    }
    };
    let read = |relative: &str| -> Result<String> {
        let path = tree_dir.join(relative);
        std::fs::read_to_string(&path).map_err(|error| unreadable(&path, error.to_string()))
    };
    let read_yaml = |relative: &str| -> Result<serde_json::Value> {
        let path = tree_dir.join(relative);
        serde_saphyr::from_str(&read(relative)?)
            .map_err(|error| unreadable(&path, format!("not valid YAML: {error}")))
    };
    let record_path = tree_dir.join(proof::RECORD_FILE);
    let record: proof::ProofRecord = serde_json::from_str(&read(proof::RECORD_FILE)?)
        .map_err(|error| unreadable(&record_path, format!("not a proof record: {error}")))?;
    if record.schema_version != proof::RECORD_SCHEMA_VERSION {
        return Err(unreadable(
            &record_path,
            format!("schema version {} is not {}", record.schema_version, proof::RECORD_SCHEMA_VERSION),
        ));
    }
    let config_file = format!("manifests/{}", kots::CONFIG_FILE);
    let config = kots::read_config(&read(&config_file)?)
        .map_err(|reason| unreadable(&tree_dir.join(&config_file), reason))?;
    let values_file = format!("manifests/{}", kots::VALUES_FILE);
    let values_object = read_yaml(&values_file)?;
    let values_template = ["data", "stringData"]
        .iter()
        .find_map(|key| values_object.get(key)?.get("kots-values.yaml")?.as_str())
        .ok_or_else(|| unreadable(&tree_dir.join(&values_file), "has no kots-values.yaml key".to_string()))?
        .to_string();
    let shipped: Vec<String> = match shipped {
        Some(saved) => saved,
        None => crate::commands::inspect::strings_at(
            &read_yaml(&format!("manifests/{}", kots::APP_FILE))?,
            "/spec/additionalImages",
        ),
    };
    let charts_dir = tree_dir.join("charts");
    let chart_archive = std::fs::read_dir(&charts_dir)
        .io_context("read", &charts_dir)?
        .flatten()
        .filter_map(|entry| Utf8PathBuf::from_path_buf(entry.path()).ok())
        .find(|path| path.extension() == Some("tgz"))
        .ok_or_else(|| unreadable(&charts_dir, "holds no chart archive".to_string()))?;
    let chart = chart::load(&chart_archive)?;
    let spec = proof::ProofSpec::from_record(&record, config);
    let cache = match cache_root {
        Some(root) => {
            let file = std::fs::File::open(&chart_archive).io_context("read", &chart_archive)?;
            let digest = Sha256Digest::of_reader(file).io_context("read", &chart_archive)?;
            RenderCache::open(root, HELM_PROGRAM, &digest)
        }
        None => None,
    };
    let inputs = ProofInputs {
        spec: &spec,
        values_template: &values_template,
        chart_archive: &chart_archive,
        images: &record.images,
        shipped_images: &shipped,
        chart_sets_pull_secrets: record.chart_sets_pull_secrets,
        helm: HELM_PROGRAM,
        chart: &chart,
        cache: cache.as_ref(),
        progress,
    };
    Ok(proof::prove(&inputs)?)
}
