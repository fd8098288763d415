//! Issue 18, "README is a contract", for the command line itself: every exit code README's
//! "Exit codes" lists, Ctrl-C included, "did you mean" for mistyped tasks and flags, and the
//! errors that must name the file, the line and the fix.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use helmkots_e2e::{ctrl_c, path_with_first, path_without_helm, testdir, TestDir, TestOutput};

// --- 130: Ctrl-C stops the run and leaves nothing behind ----------------------------------------

/// A `helm` that marks that a render started (`started` in the test directory), then sleeps:
/// the run is then inside a render, with its values file and its extracted chart on disk.
fn slow_helm(dir: &TestDir) -> PathBuf {
    let bin = dir.join("slow-helm");
    let script = format!("#!/bin/sh\ntouch '{}'\nexec sleep 60\n", dir.join("started").display());
    let helm = dir.write("slow-helm/helm", script);
    std::fs::set_permissions(&helm, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    bin
}

/// Every entry under `dir`, folders included, relative to it.
fn entries_under(dir: &Path) -> Vec<String> {
    walk(dir).into_iter().map(|path| path.strip_prefix(dir).unwrap().display().to_string()).collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found.sort();
    found
}

/// Runs `args` with the slow `helm` on PATH and a private TMPDIR, presses Ctrl-C once a render
/// has started, and returns the outcome with what the run had in TMPDIR just before.
fn interrupt_during_render(dir: &TestDir, task: &str, args: &[&str]) -> (TestOutput, Vec<String>) {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut command = dir.xtask(task);
    command.args(args).env("PATH", path_with_first(slow_helm(dir))).env("TMPDIR", &tmp);
    let mut child = command.spawn_job();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !dir.join("started").exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("`{task}` ended ({status}) before it rendered:\n{}", command.finish(child).describe());
        }
        assert!(Instant::now() < deadline, "`{task}` did not render within 120 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = entries_under(&tmp);
    ctrl_c(&child);
    (command.finish(child), before)
}

fn assert_interrupted_cleanly(dir: &TestDir, output: &TestOutput, before: &[String]) {
    output.assert_code(130).assert_stderr_contains("interrupted");
    // The run had its scratch directory, with the values file Helm was reading.
    assert!(
        before.iter().any(|entry| entry.ends_with(".yaml")),
        "nothing of the render was in TMPDIR before Ctrl-C: {before:#?}"
    );
    assert!(
        before.iter().all(|entry| entry.starts_with("helmkots-")),
        "outside the scratch directory: {before:#?}"
    );
    assert_eq!(entries_under(&dir.join("tmp")), Vec::<String>::new(), "left behind in TMPDIR");
}

#[test]
fn ctrl_c_during_a_release_exits_130_and_removes_its_temporary_files() {
    let dir = testdir!();
    dir.copy_example();
    let (output, before) = interrupt_during_render(&dir, "release", &["--offline"]);
    assert!(before.iter().any(|entry| entry.ends_with(".tgz")), "no chart extracted for Helm: {before:#?}");
    assert_interrupted_cleanly(&dir, &output, &before);
    assert!(!dir.join("dist/demo-app-1.4.2").exists(), "an interrupted release wrote its tree");
}

#[test]
fn ctrl_c_during_verify_proof_exits_130_and_removes_its_temporary_files() {
    let dir = testdir!();
    dir.copy_example();
    dir.xtask("release")
        .args(["--offline", "--no-proof"])
        .env("PATH", path_without_helm())
        .run()
        .assert_success();
    let tree = dir.join("dist/demo-app-1.4.2").display().to_string();
    let (output, before) = interrupt_during_render(&dir, "verify", &["--proof", &tree]);
    assert_interrupted_cleanly(&dir, &output, &before);
}
