//! `scratch`: every temporary file of the process lands in its scratch directory and goes with
//! it. A test binary of its own, because `scratch::enter` changes the temporary folder of the
//! whole process, which the unit tests running beside it must not see.

use helmkots::{error::IoContext as _, scratch};

#[test]
fn temporary_files_land_in_the_scratch_directory_and_go_with_it() -> helmkots::Result<()> {
    let dir = scratch::enter()?;
    assert_eq!(scratch::enter()?, dir, "a second call returns the same directory");
    let name = dir.file_name().unwrap_or_default();
    assert!(name.starts_with(&format!("{}{}-", scratch::PREFIX, std::process::id())), "{dir}");
    assert_eq!(dir.parent().map(|p| p.as_std_path()), Some(std::env::temp_dir().as_path()));
    let file = tempfile::NamedTempFile::new().io_context("create", &dir)?;
    let folder = tempfile::tempdir().io_context("create", &dir)?;
    std::fs::write(folder.path().join("chart.tgz"), b"x").io_context("write", &dir)?;
    assert!(file.path().starts_with(&dir) && folder.path().starts_with(&dir));
    scratch::remove();
    assert!(!dir.exists() && !file.path().exists() && !folder.path().exists());
    Ok(())
}
