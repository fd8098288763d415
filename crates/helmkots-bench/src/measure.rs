//! Running one child process and measuring it: wall time with [`Instant`], and peak resident
//! memory and CPU time from the `rusage` that `wait4(2)` returns when the child is reaped.
//!
//! On Linux that `rusage` covers the child and every descendant it waited for, so `xtask`
//! and anything it runs (`git`) count together; `ru_maxrss` is the largest single process.

use std::{
    fs::File,
    io,
    os::unix::process::ExitStatusExt,
    process::{Command, ExitStatus, Stdio},
    time::Instant,
};

use anyhow::{format_err, Context};
use camino::{Utf8Path, Utf8PathBuf};

/// What one child process cost.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Wall time from spawn to reap.
    pub seconds: f64,
    /// Peak resident set size of the child (or its largest waited-for descendant), in bytes.
    pub peak_rss_bytes: u64,
    /// User plus system CPU time.
    pub cpu_seconds: f64,
    /// How it ended.
    pub status: ExitStatus,
    /// Where its stdout and stderr went.
    pub log: Utf8PathBuf,
    /// CPU time the watched process (the registry serving the run) used meanwhile.
    pub watched_cpu_seconds: Option<f64>,
}

impl Measured {
    /// The last `lines` lines of the child's output, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// Runs `command` to completion with stdin closed and stdout and stderr in `log`; the CPU
/// time `watched` (a process serving the child, such as the registry) used meanwhile is
/// measured too.
pub fn run(command: &mut Command, log: &Utf8Path, watched: Option<u32>) -> anyhow::Result<Measured> {
    let watched = WatchedCpu::start(watched);
    let log_file = File::create(log).with_context(|| format!("cannot create {log}"))?;
    command.stdin(Stdio::null()).stdout(log_file.try_clone()?).stderr(log_file);
    let start = Instant::now();
    let child = command.spawn().with_context(|| format!("cannot start {:?}", command.get_program()))?;
    let pid = libc::pid_t::try_from(child.id()).map_err(|_| format_err!("pid out of range"))?;
    let mut raw_status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data; all-zero is a valid value that wait4 overwrites.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live, writable locals of the right types.
        let reaped = unsafe { libc::wait4(pid, &mut raw_status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error).context("wait4 failed");
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    // The child is reaped; dropping the handle neither waits nor kills.
    drop(child);
    let timeval = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Measured {
        seconds,
        // Linux reports ru_maxrss in KiB.
        peak_rss_bytes: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
        cpu_seconds: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        status: ExitStatus::from_raw(raw_status),
        log: log.to_path_buf(),
        watched_cpu_seconds: watched.used(),
    })
}

/// The CPU time another process (the registry serving a run) spends from now on.
#[derive(Debug, Clone, Copy)]
pub struct WatchedCpu {
    pid: Option<u32>,
    before: Option<f64>,
}

impl WatchedCpu {
    /// Starts watching `pid` (nothing to watch: `None`).
    pub fn start(pid: Option<u32>) -> WatchedCpu {
        WatchedCpu { pid, before: pid.and_then(process_cpu_seconds) }
    }

    /// The CPU time it used since [`WatchedCpu::start`]; `None` when it could not be read.
    pub fn used(&self) -> Option<f64> {
        Some(process_cpu_seconds(self.pid?)? - self.before?)
    }
}

/// The user plus system CPU time a running process has used so far (`/proc/<pid>/stat`).
fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf reads a constant and touches no memory of ours.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_second > 0).then(|| ticks as f64 / per_second as f64)
}

/// Builds the `xtask` binary with `$CARGO build -p xtask`, the dev build that `cargo xtask`
/// runs (what a vendor's release costs), and returns the path cargo reports (so
/// `CARGO_TARGET_DIR` is honoured).
pub fn build_xtask(root: &Utf8Path) -> anyhow::Result<Utf8PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .args(["build", "-p", "xtask", "--bin", "xtask", "--message-format=json-render-diagnostics"])
        .current_dir(root)
        .stderr(Stdio::inherit());
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_per_package_cargo_var) {
            command.env_remove(name);
        }
    }
    let output = command.output().with_context(|| format!("cannot run {cargo:?} build"))?;
    if !output.status.success() {
        return Err(format_err!("`cargo build -p xtask` failed ({})", output.status));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact" && message["target"]["name"] == "xtask")
        .filter_map(|message| message["executable"].as_str().map(Utf8PathBuf::from))
        .next_back()
        .ok_or_else(|| format_err!("cargo reported no `xtask` executable"))
}

/// Whether `name` is one of the variables `cargo run` sets for the package it runs
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, `OUT_DIR`, ...). A nested cargo must not inherit
/// them: build scripts that track them (ring's tracks `CARGO_MANIFEST_DIR` and `OUT_DIR`)
/// would see a change and rebuild half the dependency tree.
fn is_per_package_cargo_var(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_MANIFEST_")
        || matches!(name, "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE" | "OUT_DIR")
}
