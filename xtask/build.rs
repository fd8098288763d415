//! Validates the repository's release.toml whenever it changes, so mistakes show up as
//! `cargo:warning=release.toml:LINE:COL: ...` in any build. Warnings, not errors: the CLI
//! must still build to show the full diagnostic (`cargo xtask check`).

use camino::Utf8PathBuf;

fn main() {
    let manifest_dir = Utf8PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest_dir.parent().map(Utf8PathBuf::from).unwrap_or(manifest_dir);
    let release_file = root.join("release.toml");
    println!("cargo::rerun-if-changed={release_file}");
    println!("cargo::rerun-if-changed=build.rs");
    if !release_file.exists() {
        return;
    }
    // The chart the release points at is an input of `check` too.
    if let Ok(chart_path) = helmkots::commands::chart_path(&release_file) {
        println!("cargo::rerun-if-changed={chart_path}");
    }
    if let Err(error) = helmkots::commands::check(&release_file) {
        let lines = match &error {
            helmkots::Error::Invalid(problems) => problems.located_lines(),
            other => vec![format!("{release_file}: {other}")],
        };
        for line in lines {
            let relative = line.strip_prefix(&format!("{root}/")).unwrap_or(&line).to_string();
            println!("cargo::warning={}", relative.replace('\n', " "));
        }
        println!("cargo::warning=run `cargo xtask check` for the full diagnostic");
    }
}
