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
    let mut recorder = RECORDER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(recorder) = recorder.as_mut() else { return Span { active: false } };
    OPEN.with(|open| recorder.open(&mut open.borrow_mut(), stage, wall, cpu));
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
        let mut recorder = RECORDER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(recorder) = recorder.as_mut() {
            OPEN.with(|open| recorder.close(&mut open.borrow_mut(), wall, cpu));
        }
    }
}

impl Recorder {
    /// A span of `stage` opens on the thread whose open spans are `open`, at these clocks:
    /// the enclosing span's time so far is charged to it, and stops running.
    fn open(&mut self, open: &mut Vec<Frame>, stage: Stage, wall: Instant, cpu: Duration) {
        if let Some(outer) = open.last() {
            self.charge(outer, wall, cpu);
        }
        open.push(Frame { stage, wall, cpu });
        let since = wall.saturating_duration_since(self.origin);
        let entry = self.stages.entry(stage).or_insert(StageTime {
            stage,
            first_start: since,
            last_end: since,
            busy: Duration::ZERO,
            cpu: Duration::ZERO,
        });
        entry.first_start = entry.first_start.min(since);
    }

    /// The innermost open span closes: its time is charged, and the enclosing span's time
    /// runs on from here.
    fn close(&mut self, open: &mut Vec<Frame>, wall: Instant, cpu: Duration) {
        if let Some(frame) = open.pop() {
            self.charge(&frame, wall, cpu);
            let since = wall.saturating_duration_since(self.origin);
            if let Some(entry) = self.stages.get_mut(&frame.stage) {
                entry.last_end = entry.last_end.max(since);
            }
        }
        if let Some(outer) = open.last_mut() {
            outer.wall = wall;
            outer.cpu = cpu;
        }
    }

    /// Adds the time since `frame`'s clocks to its stage.
    fn charge(&mut self, frame: &Frame, wall: Instant, cpu: Duration) {
        if let Some(entry) = self.stages.get_mut(&frame.stage) {
            entry.busy += wall.saturating_duration_since(frame.wall);
            entry.cpu += cpu.saturating_sub(frame.cpu);
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
        let origin = Instant::now();
        let at = |ms: u64| origin + Duration::from_millis(ms);
        let cpu = Duration::from_millis;
        let mut recorder = Recorder { origin, process_cpu_origin: Duration::ZERO, stages: BTreeMap::new() };
        let mut open = Vec::new();
        // Fetch from 10 ms to 100 ms, with Verify from 40 to 70 ms inside it.
        recorder.open(&mut open, Stage::Fetch, at(10), cpu(1));
        recorder.open(&mut open, Stage::Verify, at(40), cpu(2));
        recorder.close(&mut open, at(70), cpu(30));
        recorder.close(&mut open, at(100), cpu(33));
        // Another thread's Verify, later.
        recorder.open(&mut open, Stage::Verify, at(120), cpu(0));
        recorder.close(&mut open, at(130), cpu(10));
        let fetch = recorder.stages[&Stage::Fetch];
        let verify = recorder.stages[&Stage::Verify];
        assert_eq!(
            (fetch.first_start, fetch.last_end),
            (Duration::from_millis(10), Duration::from_millis(100))
        );
        assert_eq!(fetch.busy, Duration::from_millis(60), "30 ms before Verify and 30 ms after");
        assert_eq!(fetch.cpu, cpu(1 + 3), "Verify's CPU time is its own");
        assert_eq!(
            (verify.first_start, verify.last_end),
            (Duration::from_millis(40), Duration::from_millis(130))
        );
        assert_eq!((verify.busy, verify.cpu), (Duration::from_millis(40), cpu(28 + 10)));
        assert!(open.is_empty());
    }
}
