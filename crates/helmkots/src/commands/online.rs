//! The steps of `release` that need registries: build, push and pin the helm-cli image, then
//! pull every image into the store and write the airgap bundle.

use camino::{Utf8Path, Utf8PathBuf};

use crate::{
    commands::{Checked, Plan},
    diagnostic::{FileProblems, Problem},
    error::{Error, IoContext, Result},
    input::chart::PackagedChart,
    input::image_ref::ImageRef,
    oci::airgap::{
        bundle::{self, AirgapMeta, BundleContents, MemberSpan, ReusableImages},
        pull::{self, PullOptions, PullRequest},
    },
    oci::image::{HelmCliImage, HelmCliSpec},
    oci::image_lock::{self, ImageLock},
    oci::registry::Registry,
    oci::store::{self, BlobStore},
    output::fingerprint::{FileStamp, Fingerprints, Key, KeyBuilder},
    util::digest::Sha256Digest,
};

/// The registry session of one release.
pub(super) struct Online {
    /// The client.
    pub registry: Registry,
    /// The local image store.
    pub store: BlobStore,
    /// `helmkots.lock`, updated as references resolve.
    pub lock: ImageLock,
    /// The helm-cli image, pinned by digest (pushed by [`push_helm_cli`], or by an earlier run).
    pub helm_cli: ImageRef,
    /// The step fingerprints of this release's folder.
    pub fingerprints: Fingerprints,
    /// The helm-cli image built by this run, to push once every check has passed.
    unpushed: Option<Unpushed>,
}

/// A built helm-cli image that no registry has yet.
struct Unpushed {
    image: HelmCliImage,
    /// `[helm_cli] name`.
    name: ImageRef,
    /// Its fingerprint key, recorded once it is pushed.
    key: Key,
}

/// The fingerprint of the last helm-cli image built and pushed.
const HELM_CLI_FINGERPRINT: &str = "helm-cli-image";

/// The fingerprint of the last bundle's images member.
const IMAGES_FINGERPRINT: &str = "airgap-images";

/// A written bundle, before it is moved into the release tree.
#[derive(Debug, Clone)]
pub(super) struct BundleFile {
    /// The temporary file.
    pub path: Utf8PathBuf,
    /// Its sha256.
    pub sha256: Sha256Digest,
    /// Its size.
    pub size: u64,
    /// sha256 of its `app.tar.gz`.
    pub app_tar_gz: Sha256Digest,
    /// Its `savedImages`.
    pub saved_images: Vec<String>,
    /// The key of its images member, and where that member lies in it.
    pub images: (Key, MemberSpan),
}

fn located(checked: &Checked, span: std::ops::Range<usize>, message: String, help: &str) -> Error {
    Error::Invalid(FileProblems {
        file: checked.release.file.clone(),
        problems: vec![Problem::at(span, message).with_help(help)],
    })
}

/// Builds the helm-cli image on its (locked) base into the store, and opens the store for
/// the pulls; nothing is pushed ([`push_helm_cli`] does, once every check has passed). An
/// image already built and pushed from the same inputs (its fingerprint matches) is not
/// built again.
pub(super) fn prepare(checked: &Checked, packaged: &PackagedChart, epoch: u64) -> Result<Online> {
    let release = &checked.release;
    let registry = registry_for(release)?;
    let mut lock = ImageLock::read(&release.root.join(image_lock::FILE_NAME))?;
    let store = BlobStore::open(&release.root.join(store::DEFAULT_DIR))?;
    let fingerprints = Fingerprints::new(&release.root);
    let name = helm_cli_name(checked)?;
    let cached = fingerprints
        .get::<String>(HELM_CLI_FINGERPRINT, &helm_cli_key(checked, &lock, &name, packaged, epoch))
        .and_then(|reference| ImageRef::parse(&reference).ok());
    let (helm_cli, unpushed) = match cached {
        Some(reference) => (reference, None),
        None => {
            let image = build_helm_cli(checked, &registry, &mut lock, packaged, epoch)?;
            crate::oci::image::store_own_blobs(&image, &store)?;
            let reference = crate::oci::image::pushed_reference(&image, &name)?;
            // Keyed after the build, when the lock pins the base the build resolved.
            let key = helm_cli_key(checked, &lock, &name, packaged, epoch);
            (reference, Some(Unpushed { image, name, key }))
        }
    };
    Ok(Online { registry, store, lock, helm_cli, fingerprints, unpushed })
}

/// Pushes the helm-cli image this run built (the last step before the tree is written, when
/// every check has passed) and records it; returns what it pushed, `None` when an earlier run
/// pushed the same image.
pub(super) fn push_helm_cli(online: &mut Online) -> Result<Option<ImageRef>> {
    let Some(unpushed) = online.unpushed.take() else { return Ok(None) };
    let pushed =
        crate::oci::image::push(&online.registry, &unpushed.image, &unpushed.name, &online.store)?.reference;
    if pushed != online.helm_cli {
        return Err(Error::bug(format!(
            "the registry stored the helm-cli image as {pushed}, not as the {} the release names",
            online.helm_cli
        )));
    }
    online.fingerprints.put(HELM_CLI_FINGERPRINT, &unpushed.key, &pushed.to_string())?;
    Ok(Some(pushed))
}

/// Everything the helm-cli image's bytes and its push target depend on.
fn helm_cli_key(
    checked: &Checked,
    lock: &ImageLock,
    name: &ImageRef,
    packaged: &PackagedChart,
    epoch: u64,
) -> Key {
    let helm_cli = &checked.release.helm_cli;
    let base = helm_cli.base.get_ref().to_string();
    let pinned = lock.get(&base).map(|digest| digest.oci()).unwrap_or_default();
    let mut key = KeyBuilder::new("helm-cli-image");
    key.program()
        .field("base", base.as_bytes())
        .field("base-pinned", pinned.as_bytes())
        .field("workdir", helm_cli.workdir.as_bytes())
        .field("platform", helm_cli.platform.to_string().as_bytes())
        .field("chart", packaged.sha256.oci().as_bytes())
        .field("chart-version", checked.chart.version_text().as_bytes())
        .field("revision", git_revision(&checked.release.root).unwrap_or_default().as_bytes())
        .field("epoch", epoch.to_string().as_bytes())
        .field("name", name.to_string().as_bytes());
    key.finish()
}

/// `[helm_cli] name`, the repository the image is pushed to.
pub(super) fn helm_cli_name(checked: &Checked) -> Result<ImageRef> {
    let Some(name_spec) = &checked.release.helm_cli.name else {
        return Err(Error::Unsupported {
            what: "pushing the helm-cli image without `[helm_cli] name`".to_string(),
            help: "set `[helm_cli] name` in release.toml to the repository to push to (`release --offline`, \
                   and `image` without `--push`, need none)"
                .to_string(),
        });
    };
    ImageRef::parse(name_spec.get_ref()).map_err(|error| {
        located(
            checked,
            name_spec.span(),
            format!("`{}` is not an image name: {error}", name_spec.get_ref()),
            "write a repository like \"registry.example.com/acme/app-helm-cli\"",
        )
    })
}

/// Builds the helm-cli image: `[helm_cli] base` (pinned by `lock` when it holds the base,
/// and pinned into `lock` otherwise) plus the packaged chart.
pub(super) fn build_helm_cli(
    checked: &Checked,
    registry: &Registry,
    lock: &mut ImageLock,
    packaged: &PackagedChart,
    epoch: u64,
) -> Result<HelmCliImage> {
    let release = &checked.release;
    let base = release.helm_cli.base.get_ref().clone();
    let inputs = HelmCliInputs::of(checked);
    let base_pinned = match lock.get(&base.to_string()) {
        Some(digest) if base.digest().is_none() => {
            ImageRef::parse(&format!("{}@{}", base.repository(), digest.oci())).unwrap_or(base.clone())
        }
        _ => base.clone(),
    };
    let spec = inputs.spec(checked, packaged, epoch);
    let image = crate::oci::image::build_helm_cli_image(registry, &base_pinned, &spec)?;
    if base.digest().is_none() {
        lock.set(&base.to_string(), &image.base.resolved.top.digest);
    }
    Ok(image)
}

/// What the helm-cli image is made from besides the chart and the base, read from the
/// release once: what a build uses, and what an offline tree computes the image's tag from.
pub(super) struct HelmCliInputs {
    chart_version: String,
    revision: Option<String>,
}

impl HelmCliInputs {
    /// The chart's version and the git commit of the release's folder.
    pub(super) fn of(checked: &Checked) -> HelmCliInputs {
        HelmCliInputs {
            chart_version: checked.chart.version_text(),
            revision: git_revision(&checked.release.root),
        }
    }

    /// The image's spec for `packaged`, created at `epoch`.
    pub(super) fn spec<'a>(
        &'a self,
        checked: &'a Checked,
        packaged: &'a PackagedChart,
        epoch: u64,
    ) -> HelmCliSpec<'a> {
        HelmCliSpec {
            workdir: &checked.release.helm_cli.workdir,
            platform: &checked.release.helm_cli.platform,
            chart: packaged,
            chart_version: &self.chart_version,
            revision: self.revision.as_deref(),
            source: None,
            created: epoch,
        }
    }
}

/// The commit the release file's folder is at, when it is a git checkout.
/// Asked once a process: the release key and the helm-cli key both need it, and a `git`
/// process costs more than the rest of an up-to-date check.
pub(super) fn git_revision(root: &Utf8Path) -> Option<String> {
    static REVISIONS: std::sync::Mutex<Vec<(Utf8PathBuf, Option<String>)>> =
        std::sync::Mutex::new(Vec::new());
    let mut revisions = REVISIONS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, revision)) = revisions.iter().find(|(dir, _)| dir == root) {
        return revision.clone();
    }
    let sh = xshell::Shell::new().ok()?;
    sh.change_dir(root);
    let revision = xshell::cmd!(sh, "git rev-parse HEAD")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()
        .filter(|rev| !rev.is_empty());
    revisions.push((root.to_path_buf(), revision.clone()));
    revision
}

/// Pulls every image the release ships (the chart's, `[images] include`, the helm-cli image)
/// and writes the bundle into a temporary file in `out_dir`.
pub(super) fn bundle(
    online: &mut Online,
    plan: &Plan,
    out_dir: &Utf8Path,
    epoch: u64,
    progress: &crate::progress::SharedProgress,
) -> Result<BundleFile> {
    let release = &plan.checked.release;
    let mut requests: Vec<PullRequest> = plan
        .images
        .references()
        .map(|reference| PullRequest {
            reference: reference.clone(),
            locked: online.lock.get(&reference.to_string()),
            blobs_only: false,
        })
        .collect();
    // An image built by this run is in the store but in no registry yet: its base layers come
    // through the base (listed first, so they are fetched from there; not shipped itself), its
    // own blobs from the store, where the pinned reference finds its manifest.
    if let Some(unpushed) = &online.unpushed {
        requests.push(PullRequest {
            reference: unpushed.image.base_manifest(),
            locked: None,
            blobs_only: true,
        });
    }
    requests.push(PullRequest { reference: online.helm_cli.clone(), locked: None, blobs_only: false });
    let pull_options =
        PullOptions { progress: progress.clone(), ..PullOptions::new(release.images.platforms.clone()) };
    let pull_plan = pull::resolve(&online.registry, &online.store, &requests, &pull_options)?;
    let pulled = &pull_plan.images;
    for image in pulled {
        if image.reference.digest().is_none() && image.reference != online.helm_cli {
            online.lock.set(&image.reference.to_string(), &image.resolved);
        }
    }
    let manifests: Vec<(String, Vec<u8>)> = plan
        .tree
        .files()
        .filter_map(|(path, bytes)| Some((path.strip_prefix("manifests/")?.to_string(), bytes.to_vec())))
        .collect();
    let app = bundle::app_tar_gz(&manifests, epoch).io_context("write", "app.tar.gz")?;
    let meta = AirgapMeta {
        app_slug: release.app.slug.get_ref().clone(),
        channel_id: release.airgap.channel_id.clone(),
        channel_name: release.airgap.channel_name.clone(),
        version_label: plan.checked.version(),
        release_notes: release.airgap.release_notes.clone(),
        update_cursor: release
            .airgap
            .update_cursor
            .unwrap_or(crate::input::release::defaults::UPDATE_CURSOR)
            .to_string(),
    };
    let path = crate::output::tree::staging_file(out_dir, &plan.checked.tree_name(), "airgap");
    let images_key = bundle::images_key(pulled, epoch);
    let reuse = online.fingerprints.get::<ReusableImages>(IMAGES_FINGERPRINT, &images_key);
    let record =
        plan.tree.files().find(|(path, _)| *path == crate::proof::RECORD_FILE).map(|(_, bytes)| bytes);
    let mut proof_files: Vec<(&str, &[u8])> = Vec::new();
    if let Some(record) = record {
        proof_files.push((bundle::PROOF_RECORD_ENTRY, record));
        proof_files.push((bundle::PROOF_CHART_ENTRY, &plan.packaged.bytes));
    }
    let contents = BundleContents {
        meta: &meta,
        images: pulled,
        app_tar_gz: &app,
        proof_files: &proof_files,
        mtime: epoch,
    };
    // The bundle is written while the blobs are fetched: each blob as soon as it is stored.
    let pending = pull_plan.pending();
    let (fetched, written) = std::thread::scope(|scope| {
        let fetching =
            scope.spawn(|| pull::fetch(&online.registry, &online.store, &pull_plan, &pull_options, &pending));
        let written = bundle::write_bundle(
            &path,
            &online.store,
            &contents,
            reuse.as_ref(),
            &pending,
            progress.as_ref(),
        );
        let fetched = fetching.join().unwrap_or_else(|_| Err(Error::bug("the pull panicked")));
        (fetched, written)
    });
    // A failed pull stops the bundle too; its error says why.
    match fetched.and(written) {
        Ok(info) => Ok(BundleFile {
            path,
            sha256: info.sha256,
            size: info.size,
            app_tar_gz: Sha256Digest::of(&app),
            saved_images: bundle::saved_images(pulled),
            images: (images_key, info.images_member),
        }),
        Err(error) => {
            let _ = std::fs::remove_file(&path);
            Err(error)
        }
    }
}

impl BundleFile {
    /// Removes the temporary file: the release failed before it moved the bundle into the tree.
    pub(super) fn discard(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Records where the bundle's images member now lies (`bundle` has been moved to `path`), so
/// the next bundle with the same images copies it instead of packing it again from the store.
pub(super) fn remember_bundle(online: &Online, bundle: &BundleFile, path: &Utf8Path) -> Result<()> {
    let stamp = FileStamp::of(path).io_context("read", path)?;
    let (key, span) = &bundle.images;
    online.fingerprints.put(IMAGES_FINGERPRINT, key, &ReusableImages { bundle: stamp, span: *span })
}

/// The registry client of a release: the environment's settings, and the plain-HTTP
/// registries `[images] insecure` lists.
pub(crate) fn registry_for(
    release: &crate::input::release::Release,
) -> Result<crate::oci::registry::Registry> {
    let options = crate::oci::registry::RegistryOptions {
        insecure_registries: release.images.insecure.clone(),
        ..crate::oci::registry::RegistryOptions::from_env()?
    };
    Ok(crate::oci::registry::Registry::new(options)?)
}
