//! `lock`: resolve every image reference of a release into `helmkots.lock`.

use camino::Utf8Path;

use super::{check::check, images::images, online::registry_for};
use crate::{error::Result, oci::image_lock};

/// Resolves every image reference of the release into `helmkots.lock`: only those missing from
/// it, or all of them with `update`. Returns the lock and whether the file changed.
pub fn lock_images(release_file: &Utf8Path, update: bool) -> Result<(image_lock::ImageLock, bool)> {
    let checked = check(release_file)?;
    let images = images(&checked)?;
    let path = checked.release.root.join(image_lock::FILE_NAME);
    let mut lock = image_lock::ImageLock::read(&path)?;
    let registry = registry_for(&checked.release)?;
    let mut references: Vec<crate::input::image_ref::ImageRef> = images.references().cloned().collect();
    references.push(checked.release.helm_cli.base.get_ref().clone());
    for reference in &references {
        if reference.digest().is_some() || (!update && lock.get(&reference.to_string()).is_some()) {
            continue;
        }
        let resolved = registry.resolve(reference)?;
        lock.set(&reference.to_string(), &resolved.digest);
    }
    let used: Vec<String> = references.iter().map(ToString::to_string).collect();
    lock.retain_only(used.iter().map(String::as_str));
    let changed = lock.write(&path)?;
    Ok((lock, changed))
}
