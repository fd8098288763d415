//! How much `cargo xtask` says and whether it colours it: `-q` keeps errors and warnings only,
//! `-v` adds detail, and colours appear only when stderr is a terminal and `NO_COLOR` is unset
//! (or empty). Data goes to stdout (`outln!`); everything here goes to stderr.

use std::{
    io::IsTerminal as _,
    sync::atomic::{AtomicBool, AtomicU8, Ordering},
};

const QUIET: u8 = 0;
const NORMAL: u8 = 1;
const VERBOSE: u8 = 2;

static LEVEL: AtomicU8 = AtomicU8::new(NORMAL);
static COLOR: AtomicBool = AtomicBool::new(false);

/// Sets the verbosity and the colour choice once, and configures miette to match.
pub fn init(quiet: bool, verbose: bool) {
    let level = match (quiet, verbose) {
        (true, _) => QUIET,
        (false, true) => VERBOSE,
        (false, false) => NORMAL,
    };
    LEVEL.store(level, Ordering::Relaxed);
    let color = color_wanted(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR"));
    COLOR.store(color, Ordering::Relaxed);
    // Installing the hook fails only when one is installed already; keep that one.
    let _ =
        miette::set_hook(Box::new(move |_| Box::new(miette::MietteHandlerOpts::new().color(color).build())));
}

/// Colours only on a terminal, and never with a non-empty `NO_COLOR` (no-color.org).
fn color_wanted(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

/// `-q`: only errors and warnings. A progress reporter should stay silent too.
pub fn quiet() -> bool {
    LEVEL.load(Ordering::Relaxed) == QUIET
}

/// `-v`: more detail.
pub fn verbose() -> bool {
    LEVEL.load(Ordering::Relaxed) == VERBOSE
}

fn paint(code: &str, text: &str) -> String {
    if COLOR.load(Ordering::Relaxed) {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A result line, `✓ ...` (not with `-q`).
pub fn done(message: &str) {
    if !quiet() {
        eprintln!("{} {message}", paint("32", "✓"));
    }
}

/// A failed result line, `✗ ...` (always: it explains a non-zero exit).
pub fn failed(message: &str) {
    eprintln!("{} {message}", paint("31", "✗"));
}

/// An informational line (not with `-q`).
pub fn info(message: &str) {
    if !quiet() {
        eprintln!("{message}");
    }
}

/// A detail line (only with `-v`).
pub fn detail(message: &str) {
    if verbose() {
        eprintln!("{message}");
    }
}

/// `warning: ...` (always).
pub fn warning(message: &str) {
    eprintln!("{} {message}", paint("33", "warning:"));
}

/// `error: ...` (always).
pub fn error(message: &str) {
    eprintln!("{} {message}", paint("31", "error:"));
}

#[cfg(test)]
mod tests {
    use super::color_wanted;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(color_wanted(true, None));
        assert!(color_wanted(true, Some("".into())));
        assert!(!color_wanted(true, Some("1".into())));
        assert!(!color_wanted(false, None));
    }
}
