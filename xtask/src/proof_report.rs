//! Prints an airgap proof report as a table (not with `-q`), then every failure (always).

use helmkots::commands::{Coverage, ProofFailure, ProofReport};

use crate::ui;

/// Above this many runs, the line of each is printed with `-v` only.
const MAX_RUN_LINES: usize = 32;

/// One line per run (up to [`MAX_RUN_LINES`]), then every distinct failure once (with where it happened), the notes,
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
    // A line per run helps while there are few; thousands of `ok` lines hide the summary.
    let table: fn(&str) = if report.runs.len() <= MAX_RUN_LINES { ui::info } else { ui::detail };
    if report.runs.len() > MAX_RUN_LINES && !ui::verbose() {
        ui::info(&format!("  {} runs (-v lists each)", report.runs.len()));
    }
    table(&format!("  {:<6} {:<7} {:<40} configuration", "result", "images", "mode"));
    for run in &report.runs {
        let result = if run.failures.is_empty() { "ok" } else { "FAIL" };
        table(&format!("  {:<6} {:<7} {:<40} {}", result, run.images_checked, run.mode, run.configuration));
    }
    // The same problem in many configurations is one problem: say it once, with where.
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for failure in report.failures() {
        let what = describe(failure);
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

/// What failed, with only the fields the failure has (no ` in  ()` for empty ones).
fn describe(failure: &ProofFailure) -> String {
    let mut head = failure.object.clone();
    if !failure.template.is_empty() {
        head = if head.is_empty() {
            failure.template.clone()
        } else {
            format!("{head} in {}", failure.template)
        };
    }
    if !failure.image.is_empty() {
        head = if head.is_empty() { failure.image.clone() } else { format!("{head} ({})", failure.image) };
    }
    match (head.is_empty(), failure.object.is_empty() && failure.image.is_empty()) {
        (true, _) => failure.reason.clone(),
        (false, true) => format!("{head}: {}", failure.reason),
        (false, false) => format!("{head}\n  {}", failure.reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(object: &str, template: &str, image: &str) -> ProofFailure {
        ProofFailure {
            configuration: String::new(),
            mode: "online".into(),
            template: template.into(),
            object: object.into(),
            image: image.into(),
            reason: "why".into(),
            values_path: None,
        }
    }

    #[test]
    fn a_failure_names_only_the_fields_it_has() {
        assert_eq!(describe(&failure("", "", "")), "why");
        assert_eq!(describe(&failure("", "t.yaml", "")), "t.yaml: why");
        assert_eq!(describe(&failure("Pod/a", "t.yaml", "")), "Pod/a in t.yaml\n  why");
        assert_eq!(describe(&failure("Pod/a", "", "img:1")), "Pod/a (img:1)\n  why");
        assert_eq!(describe(&failure("Pod/a", "t.yaml", "img:1")), "Pod/a in t.yaml (img:1)\n  why");
        assert_eq!(describe(&failure("", "", "img:1")), "img:1\n  why");
    }
}
