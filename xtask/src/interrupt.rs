//! Ctrl-C: the run stops at once, exits with 130 (128 + SIGINT, as shells report it) and
//! leaves nothing behind. Every temporary file of the engine lives in the process's scratch
//! directory (`helmkots::scratch`), so the handler removes that one directory.

/// Creates the scratch directory and installs the SIGINT handler, once, before any task runs.
pub fn install() -> anyhow::Result<()> {
    helmkots::scratch::enter()?;
    ctrlc::set_handler(|| {
        helmkots::scratch::remove();
        crate::ui::error("interrupted");
        std::process::exit(i32::from(crate::exit::INTERRUPTED));
    })?;
    Ok(())
}
