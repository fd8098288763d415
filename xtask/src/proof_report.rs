//! Prints an airgap proof report as a table (not with `-q`), then every failure (always).

use helmkots::proof::{Coverage, ProofReport};

use crate::ui;

/// One line per run, then every distinct failure once (with where it happened), the notes,
/// and one summary line.
pub fn print(report: &ProofReport) {
    let coverage = match report.coverage {
        Coverage::Exhaustive => "every combination".to_string(),
        Coverage::CoveringArray => format!(
            "{}-way covering array: every combination of {} items' values, and all on; every combination would be {}",
            report.strength, report.strength, report.all_combinations
        ),
    };
    let skipped = match report.same_values {
        0 => String::new(),
        n => format!(", {n} skipped: same values as another configuration"),
    };
    let modes = (report.runs.len() + report.same_values) / report.configurations.max(1);
    // The header ends with `× N mode(s)`: scripts and the tests read it.
    ui::info(&format!(
        "airgap proof: {} configuration(s) of [{}] ({coverage}; {} render(s){skipped}) × {modes} mode(s)",
        report.configurations,
        report.items.join(", "),
        report.renders,
    ));
    ui::info(&format!("  {:<6} {:<7} {:<40} configuration", "result", "images", "mode"));
    for run in &report.runs {
        let result = if run.failures.is_empty() { "ok" } else { "FAIL" };
        ui::info(&format!(
            "  {:<6} {:<7} {:<40} {}",
            result, run.images_checked, run.mode, run.configuration
        ));
    }
    // The same problem in many configurations is one problem: say it once, with where.
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for failure in report.failures() {
        let what = match (failure.object.is_empty(), failure.image.is_empty()) {
            (true, true) if failure.template.is_empty() => failure.reason.clone(),
            (true, true) => format!("{}: {}", failure.template, failure.reason),
            _ => format!(
                "{} in {} ({})\n  {}",
                failure.object, failure.template, failure.image, failure.reason
            ),
        };
        let place = format!("[{}] [{}]", failure.mode, failure.configuration);
        match grouped.iter_mut().find(|(existing, _)| *existing == what) {
            Some((_, places)) => places.push(place),
            None => grouped.push((what, vec![place])),
        }
    }
    for (what, places) in &grouped {
        eprintln!();
        let place = match places.as_slice() {
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} and {} more run(s)", rest.len()),
            [] => String::new(),
        };
        ui::error(&format!("{place} {what}"));
    }
    for note in &report.notes {
        ui::info(&format!("note: {note}"));
    }
    let checked: usize = report.runs.iter().map(|run| run.images_checked).sum();
    let failed_runs = report.runs.iter().filter(|run| !run.failures.is_empty()).count();
    if grouped.is_empty() {
        ui::info(&format!(
            "airgap proof passed: {} run(s), {checked} image reference(s) checked",
            report.runs.len()
        ));
    } else {
        ui::info(&format!(
            "airgap proof failed: {} distinct problem(s) in {failed_runs} of {} run(s)",
            grouped.len(),
            report.runs.len()
        ));
    }
}
