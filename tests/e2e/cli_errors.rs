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
    dir.release_offline_unproved();
    let tree = dir.join("dist/demo-app-1.4.2").display().to_string();
    let (output, before) = interrupt_during_render(&dir, "verify", &["--proof", &tree]);
    assert_interrupted_cleanly(&dir, &output, &before);
}

// --- 2: "did you mean" for a mistyped task or flag ----------------------------------------------

#[test]
fn a_mistyped_task_or_flag_exits_2_with_did_you_mean() {
    let dir = testdir!();
    dir.copy_example();
    helmkots_e2e::TestCommand::new(dir.path())
        .arg("relase")
        .run()
        .assert_code(2)
        .assert_stderr_contains("help: did you mean `release`?");
    dir.xtask("release")
        .arg("--ofline")
        .run()
        .assert_code(2)
        .assert_stderr_contains("help: did you mean `--offline`? (`release` has no flag `--ofline`)");
}

// --- 2: errors that name the file, the line and the fix -----------------------------------------

/// The example release with `[chart] path` set to `path`; returns the line of that key.
fn example_with_chart_path(dir: &TestDir, path: &str) -> usize {
    dir.copy_example();
    let text = dir.read("release.toml").replace("path = \"charts/demo-app\"", &format!("path = \"{path}\""));
    dir.write("release.toml", &text);
    text.lines().position(|line| line.starts_with("path = ")).expect("a path line") + 1
}

#[test]
fn a_chart_path_inside_the_chart_points_at_its_line_and_at_the_chart_folder() {
    for (inside, reason) in [
        ("charts/demo-app/templates", "no Chart.yaml in this directory"),
        ("charts/demo-app/Chart.yaml", "this is a chart's metadata file"),
    ] {
        let dir = TestDir::new("chart_path_inside_the_chart");
        let line = example_with_chart_path(&dir, inside);
        dir.xtask("check")
            .run()
            .assert_code(2)
            .assert_stderr_contains(&format!("chart `{inside}` is not a chart: {reason}"))
            .assert_stderr_contains(&format!("release.toml:{line}:8"))
            .assert_stderr_contains(
                "help: point `[chart] path` at the chart directory: path = \"charts/demo-app\"",
            );
    }
}

#[test]
fn a_quoted_update_cursor_says_to_write_a_whole_number() {
    let dir = testdir!();
    dir.copy_example();
    let text = dir.read("release.toml").replace("[airgap]\n", "[airgap]\nupdate_cursor = \"7b\"\n");
    dir.write("release.toml", &text);
    let line = text.lines().position(|line| line.starts_with("update_cursor")).unwrap() + 1;
    dir.xtask("check")
        .run()
        .assert_code(2)
        .assert_stderr_contains(&format!("release.toml:{line}:17"))
        .assert_stderr_contains(
            "help: `update_cursor` takes a whole number, without quotes: `update_cursor = 7`",
        );
}

#[test]
fn preview_set_of_an_unknown_item_lists_the_items() {
    let dir = testdir!();
    dir.copy_example();
    dir.xtask("preview").args(["--set", "nosuch=1"]).run().assert_code(2).assert_stderr_contains(
        "no config item named `nosuch`; the items are `replicas`, `log_level`, `greeting`",
    );
}

#[test]
fn image_push_without_a_helm_cli_name_suggests_no_flag_image_lacks() {
    let dir = testdir!();
    dir.copy_example();
    let text = dir.read("release.toml");
    let text: Vec<&str> =
        text.lines().filter(|line| !line.starts_with("name = \"registry.example.com")).collect();
    dir.write("release.toml", text.join("\n"));
    let output = dir.xtask("image").arg("--push").run();
    output
        .assert_code(2)
        .assert_stderr_contains("pushing the helm-cli image without `[helm_cli] name`")
        .assert_stderr_contains("`image` without `--push`");
    assert!(
        !output.stderr.contains("run with --offline"),
        "`image` has no --offline:\n{}",
        output.describe()
    );
}

#[test]
fn verify_and_inspect_of_a_missing_bundle_say_it_does_not_exist() {
    let dir = testdir!();
    for task in ["verify", "inspect"] {
        let output = helmkots_e2e::TestCommand::new(dir.path()).args([task, "nonexist.airgap"]).run();
        output.assert_code(2).assert_stderr_contains("nonexist.airgap: no such file or directory");
        assert!(!output.stderr.contains("release.lock.json"), "{}", output.describe());
    }
    helmkots_e2e::TestCommand::new(dir.path())
        .args(["verify", "--proof", "nonexist.airgap"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("nonexist.airgap: no such file or directory");
}

#[test]
fn init_with_a_bad_slug_names_the_slug_and_writes_nothing() {
    let dir = testdir!();
    dir.copy_example();
    dir.remove("release.toml");
    let output = dir.xtask("init").args(["--chart", "charts/demo-app", "--slug", "Bad_Slug"]).run();
    output
        .assert_code(2)
        .assert_stderr_contains("app slug `Bad_Slug` is not a DNS-1123 label")
        .assert_stderr_contains("e.g. \"bad-slug\"");
    assert!(
        !output.stderr.contains("release.toml:"),
        "no line of a file never written:\n{}",
        output.describe()
    );
    assert!(!dir.join("release.toml").exists());
}

// --- stdout is data -----------------------------------------------------------------------------

#[test]
fn images_prints_data_on_stdout_and_exclusions_on_stderr() {
    let dir = testdir!();
    dir.copy_example();
    let text = dir.read("release.toml").replace("exclude = []", "exclude = [\"*busybox*\"]");
    dir.write("release.toml", text);
    let output = dir.xtask("images").env("PATH", path_without_helm()).run();
    output.assert_success().assert_stderr_contains("excluded: busybox:1.36.1 (pattern `*busybox*`)");
    assert!(
        !output.stdout.contains("excluded") && !output.stdout.contains("busybox"),
        "{}",
        output.describe()
    );
    assert!(output.stdout.contains("redis:7.2.4-alpine (found by values)"), "{}", output.describe());
}
