//! Renders the engine's progress events ([`helmkots::progress::Event`]) on stderr: progress
//! bars when stderr is a terminal, plain lines when it is not, nothing with `--json` or `-q`.
//!
//! Bars: one line per image (waiting, pulling, cached, done), one overall bar of the bytes to
//! download with rate and ETA, and a bar for the bundle. Plain lines: one per image done, per
//! retry, per resume or restart, and a few for the bundle. No colours when `NO_COLOR` is set.

use std::{
    collections::{BTreeMap, HashMap},
    io::{IsTerminal, Write},
    sync::{Arc, Mutex},
};

use helmkots::progress::{Event, Progress, SharedProgress};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The reporter for a command: silent for `--json` or `-q`, bars on a terminal, else lines.
pub(crate) fn reporter(json: bool, quiet: bool) -> SharedProgress {
    if json || quiet {
        return helmkots::progress::silent();
    }
    if std::io::stderr().is_terminal() {
        let colour = std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
        Arc::new(Bars::new(colour))
    } else {
        Arc::new(Lines::default())
    }
}

/// `sha256:0123456789ab`, enough to tell blobs apart in a message.
fn short(digest: &str) -> &str {
    &digest[..digest.len().min("sha256:".len() + 12)]
}

/// Bytes for humans, binary units.
fn bytes(count: u64) -> String {
    indicatif::HumanBytes(count).to_string()
}

// --- bars on a terminal ---------------------------------------------------------------------

#[derive(Debug)]
struct Bars {
    multi: MultiProgress,
    colour: bool,
    state: Mutex<BarsState>,
}

#[derive(Debug, Default)]
struct BarsState {
    overall: Option<ProgressBar>,
    proof: Option<ProgressBar>,
    bundle: Option<ProgressBar>,
    images: BTreeMap<String, ProgressBar>,
    /// Bytes on disk of each blob being pulled; their sum is the overall position.
    blobs: HashMap<String, u64>,
    position: u64,
}

impl Bars {
    fn new(colour: bool) -> Bars {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            colour,
            state: Mutex::new(BarsState::default()),
        }
    }

    fn bar_style(&self, prefix_width: usize) -> ProgressStyle {
        ProgressStyle::with_template(&bar_template(self.colour, prefix_width))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
    }

    fn count_style(&self) -> ProgressStyle {
        ProgressStyle::with_template(&count_template(self.colour))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
    }

    fn line_style(&self) -> ProgressStyle {
        ProgressStyle::with_template(line_template(self.colour))
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
    }

    fn image_line<'s>(&self, state: &'s mut BarsState, image: &str) -> &'s ProgressBar {
        state.images.entry(image.to_string()).or_insert_with(|| {
            let line = self.multi.add(ProgressBar::new_spinner().with_style(self.line_style()));
            line.set_prefix(image.to_string());
            line.set_message("waiting");
            line
        })
    }

    fn set_blob(&self, state: &mut BarsState, digest: &str, received: u64) {
        let before = state.blobs.insert(digest.to_string(), received).unwrap_or(0);
        state.position = (state.position + received).saturating_sub(before);
        if let Some(overall) = &state.overall {
            overall.set_position(state.position);
        }
    }

    fn println(&self, line: String) {
        let _ = self.multi.println(line);
    }
}

fn bar_template(colour: bool, prefix_width: usize) -> String {
    if colour {
        format!(
            "{{prefix:{prefix_width}.bold}} [{{bar:30.cyan/blue}}] {{bytes}}/{{total_bytes}} {{bytes_per_sec}} ETA {{eta}}"
        )
    } else {
        format!(
            "{{prefix:{prefix_width}}} [{{bar:30}}] {{bytes}}/{{total_bytes}} {{bytes_per_sec}} ETA {{eta}}"
        )
    }
}

/// A bar of things counted (the proof's renders), with an ETA.
fn count_template(colour: bool) -> String {
    let bar = if colour { "{bar:30.cyan/blue}" } else { "{bar:30}" };
    format!("{{prefix:6}} [{bar}] {{pos}}/{{len}} renders, ETA {{eta}}")
}

fn line_template(colour: bool) -> &'static str {
    if colour {
        "  {msg:8.dim} {prefix}"
    } else {
        "  {msg:8} {prefix}"
    }
}

impl Progress for Bars {
    fn event(&self, event: &Event<'_>) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = &mut *state;
        match event {
            Event::ImageResolved { image, .. } => {
                self.image_line(state, image);
            }
            Event::PullPlanned { bytes, .. } => {
                let overall = ProgressBar::new(*bytes).with_style(self.bar_style(6));
                overall.set_prefix("pull");
                overall.set_position(state.position);
                state.overall = Some(self.multi.insert(0, overall));
            }
            Event::BlobStarted { image, digest, resumed_from, size } => {
                self.image_line(state, image).set_message("pulling");
                if *resumed_from > 0 {
                    self.println(format!(
                        "resuming {} of {image} at {} of {}",
                        short(digest),
                        bytes(*resumed_from),
                        bytes(*size)
                    ));
                }
                self.set_blob(state, digest, *resumed_from);
            }
            Event::BlobProgress { digest, received } => self.set_blob(state, digest, *received),
            Event::BlobDone { digest, size, .. } | Event::BlobCached { digest, size, .. } => {
                self.set_blob(state, digest, *size);
            }
            Event::ImageDone { image, cached } => {
                let line = self.image_line(state, image);
                line.finish_with_message(if *cached { "cached" } else { "done" });
                if state.images.values().all(ProgressBar::is_finished) {
                    if let Some(overall) = &state.overall {
                        overall.finish();
                    }
                }
            }
            Event::Retry { image, digest, attempt, reason, wait } => self.println(format!(
                "retrying {}{image} in {:.1} s (attempt {attempt} failed: {reason})",
                digest.map(|d| format!("{} of ", short(d))).unwrap_or_default(),
                wait.as_secs_f64()
            )),
            Event::Restart { image, digest, reason } => {
                self.println(format!("restarting {} of {image} from zero: {reason}", short(digest)))
            }
            Event::ProofRendered { done, total } => {
                let proof = state.proof.get_or_insert_with(|| {
                    let bar = self.multi.add(ProgressBar::new(*total as u64).with_style(self.count_style()));
                    bar.set_prefix("proof");
                    bar
                });
                proof.set_position(*done as u64);
                if done >= total {
                    proof.finish_and_clear();
                }
            }
            Event::BundleBytes { written, total } => {
                let bundle = state.bundle.get_or_insert_with(|| {
                    let bar = self.multi.add(ProgressBar::new(*total).with_style(self.bar_style(6)));
                    bar.set_prefix("bundle");
                    bar
                });
                bundle.set_length(*total);
                bundle.set_position(*written);
                if written >= total {
                    bundle.finish();
                }
            }
            _ => {}
        }
    }
}

// --- plain lines ----------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Lines {
    /// The last quarter of the bundle reported (0 to 4).
    bundle_quarter: Mutex<u64>,
    /// The last tenth of the proof's renders reported (0 to 10), and when the proof began.
    proof_tenth: Mutex<(usize, Option<std::time::Instant>)>,
}

impl Lines {
    fn line(&self, text: String) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}

impl Progress for Lines {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::PullPlanned { images, blobs, bytes: size } => {
                self.line(format!("pulling {images} images: {blobs} blobs, {} to download", bytes(*size)))
            }
            Event::ImageDone { image, cached } => {
                self.line(format!("{} {image}", if *cached { "cached" } else { "pulled" }))
            }
            Event::BlobStarted { image, digest, size, resumed_from } if *resumed_from > 0 => {
                self.line(format!(
                    "resuming {} of {image} at {} of {}",
                    short(digest),
                    bytes(*resumed_from),
                    bytes(*size)
                ))
            }
            Event::Retry { image, digest, attempt, reason, wait } => self.line(format!(
                "retrying {}{image} in {:.1} s (attempt {attempt} failed: {reason})",
                digest.map(|d| format!("{} of ", short(d))).unwrap_or_default(),
                wait.as_secs_f64()
            )),
            Event::Restart { image, digest, reason } => {
                self.line(format!("restarting {} of {image} from zero: {reason}", short(digest)))
            }
            Event::ProofRendered { done, total } => {
                let tenth = if *total == 0 { 10 } else { done.saturating_mul(10) / total };
                let mut last = self.proof_tenth.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let started = *last.1.get_or_insert_with(std::time::Instant::now);
                if tenth > last.0 {
                    last.0 = tenth;
                    let elapsed = started.elapsed().as_secs_f64();
                    let left = elapsed / *done as f64 * (total - done) as f64;
                    self.line(format!("proof: {done} of {total} renders, about {left:.0} s left"));
                }
            }
            Event::BundleBytes { written, total } => {
                let quarter = if *total == 0 { 4 } else { written.saturating_mul(4) / total };
                let mut last = self.bundle_quarter.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if quarter > *last {
                    *last = quarter;
                    self.line(format!("bundle: {} of {}", bytes(*written), bytes(*total)));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_shortened_for_messages() {
        assert_eq!(short("sha256:0123456789abcdef0123"), "sha256:0123456789ab");
        assert_eq!(short("sha256:01"), "sha256:01");
    }

    #[test]
    fn templates_parse_with_and_without_colour() {
        for colour in [true, false] {
            ProgressStyle::with_template(&bar_template(colour, 6)).unwrap();
            ProgressStyle::with_template(&count_template(colour)).unwrap();
            ProgressStyle::with_template(line_template(colour)).unwrap();
        }
    }

    #[test]
    fn bars_follow_blob_positions_through_a_restart() {
        let bars =
            Bars { multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()), ..Bars::new(false) };
        bars.event(&Event::PullPlanned { images: 1, blobs: 1, bytes: 100 });
        bars.event(&Event::BlobStarted { image: "a", digest: "sha256:aa", size: 100, resumed_from: 40 });
        bars.event(&Event::BlobProgress { digest: "sha256:aa", received: 60 });
        assert_eq!(bars.state.lock().unwrap().position, 60);
        bars.event(&Event::BlobProgress { digest: "sha256:aa", received: 0 });
        assert_eq!(bars.state.lock().unwrap().position, 0);
        bars.event(&Event::BlobDone { image: "a", digest: "sha256:aa", size: 100 });
        assert_eq!(bars.state.lock().unwrap().position, 100);
    }
}
