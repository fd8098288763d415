//! README.md tried as a new user would: the walk-through's commands, extracted from the
//! README's marked `console` block, run in order in a fresh copy of the repository, and every
//! `cargo xtask <task> --flag` the README or the CI example mentions must name a real task and
//! flag. A README command that stops working fails this test.
//!
//! `cargo xtask ARGS` is run as the built xtask binary with the variables `cargo run` gives it
//! (`CARGO_MANIFEST_DIR` of the copy's `xtask/`, `CARGO_PKG_NAME`), in the copy's root.

use std::{collections::BTreeSet, fs, path::Path};

use helmkots_e2e::{assert_tree_intact, path_with_first, repo_root, testdir, xtask_bin, TestOutput};

/// The comment that marks the walk-through block in README.md.
const MARKER: &str = "<!-- walkthrough:";

/// The `$ ...` commands of the first fenced block after the marker.
fn walkthrough_commands(readme: &str) -> Vec<String> {
    let after = readme.split_once(MARKER).expect("README.md has no walk-through marker").1;
    let block = after.split_once("```console\n").expect("no ```console block after the marker").1;
    let block = block.split_once("```").expect("the walk-through block is not closed").0;
    block.lines().filter_map(|line| line.strip_prefix("$ ")).map(str::to_string).collect()
}

/// Copies the repository without build outputs, release trees or version control.
fn copy_repository(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if [".git", "target", "dist"].iter().any(|skip| name == *skip) {
            continue;
        }
        let kind = entry.file_type().unwrap();
        let target = to.join(&name);
        if kind.is_dir() {
            copy_repository(&entry.path(), &target);
        } else if kind.is_file() {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Runs one README command line in `root` as `cargo xtask` would.
fn run_readme_command(root: &Path, line: &str) -> TestOutput {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert!(
        words.starts_with(&["cargo", "xtask"]),
        "the walk-through may only run `cargo xtask ...` commands, not `{line}`"
    );
    assert!(
        !line.contains(['|', '>', '<', '&', ';', '$', '`', '\'', '"']),
        "keep walk-through commands plain: `{line}`"
    );
    let output = std::process::Command::new(xtask_bin())
        .args(&words[2..])
        .current_dir(root)
        .env("CARGO_MANIFEST_DIR", root.join("xtask"))
        .env("CARGO_PKG_NAME", "xtask")
        // The copy's `tests/tools` first: its `helm` front end stands in for Helm (`verify --proof`).
        .env("PATH", path_with_first(root.join("tests/tools")))
        .env("NO_COLOR", "1")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{line}`: {e}"));
    TestOutput {
        command: line.to_string(),
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn the_readme_walkthrough_works_in_a_fresh_copy() {
    let readme = fs::read_to_string(repo_root().join("README.md")).unwrap();
    let commands = walkthrough_commands(&readme);
    let tasks: Vec<&str> = commands.iter().filter_map(|c| c.split_whitespace().nth(2)).collect();
    for task in ["init", "check", "release", "verify"] {
        assert!(tasks.contains(&task), "the walk-through should run `cargo xtask {task}`: {commands:#?}");
    }

    let dir = testdir!();
    let root = dir.join("repo");
    copy_repository(&repo_root(), &root);
    let example = fs::read_to_string(root.join("release.toml")).unwrap();
    for command in &commands {
        eprintln!("$ {command}");
        run_readme_command(&root, command).assert_success();
    }
    let written = fs::read_to_string(root.join("release.toml")).unwrap();
    assert_ne!(written, example, "`init` should have replaced release.toml in the copy");
    assert!(written.contains("written by `cargo xtask init`"), "{written}");
    assert_tree_intact(root.join("dist/demo-app-1.4.2"));
}

/// `cargo xtask TASK ...` commands anywhere in a text (code blocks, inline code, YAML `run:`).
fn mentioned_commands(text: &str) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for (start, _) in text.match_indices("cargo xtask ") {
        let line = &text[start..];
        let line = line.split(['\n', '`', '|']).next().unwrap_or_default();
        let mut words = line.split_whitespace().skip(2);
        let Some(task) = words.next() else { continue };
        if !task.chars().all(|c| c.is_ascii_lowercase()) || task == "help" {
            // `cargo xtask` alone, `cargo xtask <task>`, `cargo xtask -q ...`: no task named;
            // `cargo xtask help TASK` is tests/e2e/cli.rs's business.
            continue;
        }
        let flags = words
            .flat_map(|w| w.split(['[', ']', '=']))
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(|w| w.trim_end_matches(['.', ',', ')', ':']).to_string())
            .collect();
        found.push((task.to_string(), flags));
    }
    found
}

#[test]
fn every_command_the_readme_and_the_ci_example_mention_exists() {
    let root = repo_root();
    let mut text = fs::read_to_string(root.join("README.md")).unwrap();
    let workflow = fs::read_to_string(root.join("examples/github-actions-release.yml")).unwrap();
    assert!(workflow.contains("cargo xtask release"), "the CI example should run `cargo xtask release`");
    assert!(
        workflow.contains("actions/upload-artifact") && workflow.contains("dist/"),
        "the CI example should keep dist/ as an artifact"
    );
    text.push_str(&workflow);
    let mut checked = BTreeSet::new();
    for (task, flags) in mentioned_commands(&text) {
        let help = run_readme_command(&root, &format!("cargo xtask {task} --help"));
        help.assert_success();
        assert!(
            help.stdout.starts_with(&format!("cargo xtask {task}:")),
            "`cargo xtask {task}` is not a task"
        );
        for flag in flags {
            assert!(
                help.stdout.contains(&flag),
                "`cargo xtask {task}` has no flag {flag} (README.md or examples/)"
            );
            checked.insert(format!("{task} {flag}"));
        }
    }
    assert!(checked.len() > 10, "too few commands found: {checked:?}");
}
