//! Prints `release --timings`: one line per stage (when it first started and last ended, its
//! own wall time summed over threads, its CPU time), then the process totals. On stderr,
//! with `-q` too: it was asked for.

use helmkots::timings::Report;

/// The table, from the engine's recorded report.
pub fn print(report: &Report) {
    let seconds = |d: std::time::Duration| format!("{:.3} s", d.as_secs_f64());
    eprintln!("timings (own time of each stage; busy and cpu are summed over threads)");
    eprintln!("  {:<14} {:>9} {:>9} {:>9} {:>9}", "stage", "start", "end", "busy", "cpu");
    for stage in &report.stages {
        eprintln!(
            "  {:<14} {:>9} {:>9} {:>9} {:>9}",
            stage.stage.name(),
            seconds(stage.first_start),
            seconds(stage.last_end),
            seconds(stage.busy),
            seconds(stage.cpu)
        );
    }
    let in_stages: std::time::Duration = report.stages.iter().map(|stage| stage.cpu).sum();
    eprintln!(
        "  {:<14} {:>9} {:>9} {:>9} {:>9}   (CPU outside every stage: the HTTP client's runtime, startup)",
        "other",
        "",
        "",
        "",
        seconds(report.process_cpu.saturating_sub(in_stages))
    );
    eprintln!(
        "  {:<14} {:>9} {:>9} {:>9} {:>9}",
        "total",
        seconds(std::time::Duration::ZERO),
        seconds(report.wall),
        "",
        seconds(report.process_cpu)
    );
}
