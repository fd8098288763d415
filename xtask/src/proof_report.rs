//! Prints an airgap proof report as a table (not with `-q`), then every failure (always).

use helmkots::proof::{Coverage, ProofReport};

use crate::ui;

/// One line per run, then every failure in full.
pub fn print(report: &ProofReport) {
    let coverage = match report.coverage {
        Coverage::Exhaustive => "every combination",
        Coverage::Pairwise => "each item flipped alone plus a pairwise cover (more than 10 items)",
    };
    ui::info(&format!(
        "airgap proof: {} configuration(s) of [{}] ({coverage}) × {} mode(s)",
        report.configurations,
        report.items.join(", "),
        report.runs.len() / report.configurations.max(1)
    ));
    ui::info(&format!("  {:<6} {:<7} {:<40} configuration", "result", "images", "mode"));
    for run in &report.runs {
        let result = if run.failures.is_empty() { "ok" } else { "FAIL" };
        ui::info(&format!(
            "  {:<6} {:<7} {:<40} {}",
            result, run.images_checked, run.mode, run.configuration
        ));
    }
    for failure in report.failures() {
        eprintln!();
        ui::error(&format!(
            "[{}] [{}] {} in {} ({})\n  {}",
            failure.mode,
            failure.configuration,
            failure.object,
            failure.template,
            failure.image,
            failure.reason
        ));
    }
    for note in &report.notes {
        ui::info(&format!("note: {note}"));
    }
}
