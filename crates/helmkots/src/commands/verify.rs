//! `verify`: a release tree against its `SHA256SUMS` and its bundle against its build record,
//! or a bundle alone.

use camino::Utf8Path;

use crate::{
    error::{Error, IoContext, Result},
    output::build_record::{self, BuildRecord},
    output::tree,
};

/// Verifies an airgap bundle; or a release tree: every file against `SHA256SUMS`, and its
/// bundle, when it has one (not with `--offline`), against its build record.
pub fn verify(path: &Utf8Path) -> Result<crate::oci::airgap::verify::VerifyReport> {
    if let crate::commands::inspect::Artifact::Bundle(bundle) = crate::commands::inspect::Artifact::at(path)?
    {
        return crate::oci::airgap::verify::verify_bundle(&bundle, None);
    }
    let record_path = path.join(build_record::FILE_NAME);
    let record: BuildRecord =
        serde_json::from_str(&std::fs::read_to_string(&record_path).io_context("read", &record_path)?)
            .map_err(|error| Error::File {
                path: record_path.clone(),
                reason: format!("not a build record: {error}"),
                help: Some("the tree was not written by this helmkots, or was changed since; build it again with `cargo xtask release`".to_string()),
            })?;
    let tree_check = tree::check_checksums(path)?;
    let mut report = match &record.airgap {
        Some(airgap) => {
            let mut report = crate::oci::airgap::verify::verify_bundle(
                &path.join(&airgap.path),
                Some(&airgap.app_tar_gz),
            )?;
            if report.saved_images != airgap.saved_images {
                report.problems.push("savedImages differ from the build record".to_string());
            }
            report
        }
        None => crate::oci::airgap::verify::VerifyReport::default(),
    };
    report.files_checked = tree_check.files_checked;
    report.problems.splice(0..0, tree_check.problems);
    Ok(report)
}
