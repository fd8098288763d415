//! `image`: the helm-cli image as an OCI layout beside the release tree, pushed on request.

use camino::Utf8PathBuf;

use super::{check::check, online, online::registry_for};
use crate::oci::store::{self, BlobStore};
use crate::{
    error::Result,
    input::chart::{self},
    oci::image_lock,
    util::reproducible,
};

/// What `image` needs.
#[derive(Debug, Clone)]
pub struct ImageOptions {
    /// The release file.
    pub release_file: Utf8PathBuf,
    /// Where the layout goes (`<out>/<slug>-<version>-helm-cli/`, beside the release tree and
    /// never inside it, which `SHA256SUMS` covers); `dist/` when absent.
    pub out_dir: Option<Utf8PathBuf>,
    /// Also push to `[helm_cli] name`.
    pub push: bool,
}

/// What `image` produced.
#[derive(Debug, Clone)]
pub struct ImageOutcome {
    /// The OCI image layout directory.
    pub layout: Utf8PathBuf,
    /// The image's tag.
    pub tag: String,
    /// `sha256:<hex>` of its manifest.
    pub manifest_digest: String,
    /// The pushed reference, pinned, when pushed.
    pub pushed: Option<String>,
}

/// Builds the helm-cli image and writes it as an OCI layout (written into a temporary
/// sibling and renamed into place), pushing it when asked.
pub fn image(options: &ImageOptions) -> Result<ImageOutcome> {
    let checked = check(&options.release_file)?;
    let release = &checked.release;
    let out_dir = options.out_dir.clone().unwrap_or_else(|| release.root.join("dist"));
    let registry = registry_for(&checked.release)?;
    let store = BlobStore::open(&release.root.join(store::DEFAULT_DIR))?;
    let lock_path = release.root.join(image_lock::FILE_NAME);
    let mut lock = image_lock::ImageLock::read(&lock_path)?;
    let name = if options.push { Some(online::helm_cli_name(&checked)?) } else { None };
    let epoch = reproducible::source_date_epoch()?;
    let packaged = chart::package(&checked.chart, epoch)?;
    let built = online::build_helm_cli(&checked, &registry, &mut lock, &packaged, epoch)?;
    let layout_name = format!("{}-helm-cli", checked.tree_name());
    let final_dir = crate::output::tree::replace_dir(&out_dir, &layout_name, |staging| {
        crate::oci::image::write_layout(&registry, &store, &built, staging).map(drop)
    })?;
    let pushed = match &name {
        Some(name) => Some(crate::oci::image::push(&registry, &built, name, &store)?.reference.to_string()),
        None => None,
    };
    lock.write(&lock_path)?;
    Ok(ImageOutcome {
        layout: final_dir,
        tag: built.tag.clone(),
        manifest_digest: built.manifest.digest.oci(),
        pushed,
    })
}
