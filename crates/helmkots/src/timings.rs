//! Where a release's time goes: wall and CPU time per stage (`release --timings`), so the
//! next optimisation is chosen from numbers.
//!
//! A process-wide recorder, off until [`enable`]: timing is cross-cutting (the fetch workers,
//! the store, the bundle writer and the pipeline all report to it), and threading a recorder
//! through every signature would touch them all for a diagnostic. Disabled, a span costs one
//! relaxed atomic load.
//!
//! Spans nest per thread, and time is charged to the innermost span only: the sha256 of a
//! blob (a [`Stage::Verify`] span inside a [`Stage::Fetch`] span) is not counted as fetching
//! too. So a stage's CPU time is what its own code spent, summed over threads; its first
//! start and last end (since [`enable`]) show which stages overlap. Work on threads that
//! open no span (the HTTP client's runtime) is only in the process total.

use std::{
    cell::RefCell,
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};

/// A stage of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Reading and validating `release.toml` and the chart.
    Check,
    /// Packaging the chart, building (and pushing) the helm-cli image, planning the tree.
    Plan,
    /// The airgap proof.
    Proof,
    /// Resolving every image's manifests (from the registry or the store).
    Resolve,
    /// Receiving blobs from the registry: the HTTP client's work on the fetching threads.
    Fetch,
    /// The sha256 of every pulled blob.
    Verify,
    /// Writing pulled blobs into the store: appends, syncs and renames.
    StoreWrite,
    /// Waiting for a blob the bundle needs next while it is still being fetched.
    BundleWait,
    /// Writing the bundle: reading blobs from the store, tar and gzip framing, CRC-32, writes.
    BundleWrite,
    /// The sha256 of the bundle.
    BundleHash,
    /// `SHA256SUMS` and the build record.
    Checksums,
    /// Writing the tree into `dist/` (atomically).
    TreeWrite,
}

impl Stage {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Check => "check",
            Stage::Plan => "plan",
            Stage::Proof => "proof",
            Stage::Resolve => "resolve",
            Stage::Fetch => "fetch",
            Stage::Verify => "verify",
            Stage::StoreWrite => "store write",
            Stage::BundleWait => "bundle wait",
            Stage::BundleWrite => "bundle write",
            Stage::BundleHash => "bundle hash",
            Stage::Checksums => "checksums",
            Stage::TreeWrite => "tree write",
        }
    }
}

/// What one stage cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageTime {
    /// The stage.
    pub stage: Stage,
    /// When its first span started, since [`enable`].
    pub first_start: Duration,
    /// When its last span ended, since [`enable`].
    pub last_end: Duration,
    /// Wall time inside its spans, summed over threads (nested spans excluded).
    pub busy: Duration,
    /// CPU time of its spans' threads while inside them, summed over threads.
    pub cpu: Duration,
}

/// Every stage that ran, in [`Stage`] order, and the whole process.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Wall time since [`enable`].
    pub wall: Duration,
    /// CPU time of the whole process since [`enable`] (every thread, spans or not).
    pub process_cpu: Duration,
    /// The stages.
    pub stages: Vec<StageTime>,
}

struct Recorder {
    origin: Instant,
    process_cpu_origin: Duration,
    stages: BTreeMap<Stage, StageTime>,
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static RECORDER: Mutex<Option<Recorder>> = Mutex::new(None);

/// One open span on this thread: where its current stretch of time started.
struct Frame {
    stage: Stage,
    wall: Instant,
    cpu: Duration,
}

thread_local! {
    static OPEN: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// Starts recording (again, from zero).
pub fn enable() {
    let recorder =
        Recorder { origin: Instant::now(), process_cpu_origin: process_cpu(), stages: BTreeMap::new() };
    *RECORDER.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(recorder);
    ENABLED.store(true, Ordering::Relaxed);
}

/// What was recorded since [`enable`]; `None` when it was not called.
pub fn report() -> Option<Report> {
    let recorder = RECORDER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let recorder = recorder.as_ref()?;
    Some(Report {
        wall: recorder.origin.elapsed(),
        process_cpu: process_cpu().saturating_sub(recorder.process_cpu_origin),
        stages: recorder.stages.values().copied().collect(),
    })
}

/// Times `stage` until the returned guard drops.
#[must_use = "the span ends when the guard drops"]
pub fn span(stage: Stage) -> Span {
    if !ENABLED.load(Ordering::Relaxed) {
        return Span { active: false };
    }
    let (wall, cpu) = (Instant::now(), thread_cpu());
    OPEN.with(|open| {
        let mut open = open.borrow_mut();
        if let Some(outer) = open.last_mut() {
            charge(outer.stage, outer.wall, outer.cpu, wall, cpu, false);
        }
        open.push(Frame { stage, wall, cpu });
    });
    let mut recorder = RECORDER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(recorder) = recorder.as_mut() {
        let since = wall.saturating_duration_since(recorder.origin);
        let entry = recorder.stages.entry(stage).or_insert(StageTime {
            stage,
            first_start: since,
            last_end: since,
            busy: Duration::ZERO,
            cpu: Duration::ZERO,
        });
        entry.first_start = entry.first_start.min(since);
    }
    Span { active: true }
}

/// Runs `work` inside a span of `stage`.
pub fn timed<T>(stage: Stage, work: impl FnOnce() -> T) -> T {
    let _span = span(stage);
    work()
}

/// An open span; it ends when dropped.
#[derive(Debug)]
pub struct Span {
    active: bool,
}

impl Drop for Span {
    fn drop(&mut self) {
        if !self.active {
            return;
        }
        let (wall, cpu) = (Instant::now(), thread_cpu());
        OPEN.with(|open| {
            let mut open = open.borrow_mut();
            if let Some(frame) = open.pop() {
                charge(frame.stage, frame.wall, frame.cpu, wall, cpu, true);
            }
            // The enclosing span's time runs on from here.
            if let Some(outer) = open.last_mut() {
                outer.wall = wall;
                outer.cpu = cpu;
            }
        });
    }
}

/// Adds a stretch of one thread's time to a stage; `ended` moves its last end.
fn charge(stage: Stage, wall_start: Instant, cpu_start: Duration, wall: Instant, cpu: Duration, ended: bool) {
    let mut recorder = RECORDER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(recorder) = recorder.as_mut() else { return };
    let since = wall.saturating_duration_since(recorder.origin);
    if let Some(entry) = recorder.stages.get_mut(&stage) {
        entry.busy += wall.saturating_duration_since(wall_start);
        entry.cpu += cpu.saturating_sub(cpu_start);
        if ended {
            entry.last_end = entry.last_end.max(since);
        }
    }
}

fn thread_cpu() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn process_cpu() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn clock(id: libc::clockid_t) -> Duration {
    let mut time = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `time` is a live, writable timespec; the CPU-time clocks always exist on Linux.
    if unsafe { libc::clock_gettime(id, &mut time) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(u64::try_from(time.tv_sec).unwrap_or(0), u32::try_from(time.tv_nsec).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_spans_charge_only_the_innermost_stage() {
        enable();
        {
            let _outer = span(Stage::Fetch);
            std::thread::sleep(Duration::from_millis(20));
            timed(Stage::Verify, || {
                let start = Instant::now();
                // Busy, so the thread's CPU clock moves.
                while start.elapsed() < Duration::from_millis(30) {
                    std::hint::black_box(0u64);
                }
            });
        }
        let report = report().unwrap();
        let stage = |s| report.stages.iter().find(|t| t.stage == s).copied().unwrap();
        let (fetch, verify) = (stage(Stage::Fetch), stage(Stage::Verify));
        assert!(verify.busy >= Duration::from_millis(30) && verify.cpu >= Duration::from_millis(20));
        assert!(fetch.busy >= Duration::from_millis(20) && fetch.busy < Duration::from_millis(45));
        assert!(fetch.cpu < Duration::from_millis(15), "sleeping is not CPU, and Verify's is its own");
        assert!(fetch.first_start <= verify.first_start && verify.last_end <= fetch.last_end);
    }
}
