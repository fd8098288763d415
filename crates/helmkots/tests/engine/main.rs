//! The engine's integration tests in one binary: the hostile-input property tests of every
//! parser and walker (`hostile_*`, with their committed corpus in `tests/corpus/`) and the
//! architecture's folder rules (`tidy`). `scratch_dir` stays a binary of its own: it changes
//! the temporary folder of the whole process.

mod common;
mod hostile_chart_archive;
mod hostile_helmignore;
mod hostile_image_ref;
mod hostile_kots_template;
mod hostile_release_toml;
mod hostile_value_path;
mod hostile_values;
mod tidy;

/// The harness's name of test `function` in module `module` (`module_path!()`, which starts
/// with this binary's name), for tests that run one of their own in a child process.
fn test_name(module: &str, function: &str) -> String {
    let module = module.split_once("::").map_or(module, |(_, rest)| rest);
    format!("{module}::{function}")
}
