//! Turns engine errors into rustc-style diagnostics (miette) and an exit code.

use std::process::ExitCode;

use helmkots::{diagnostic::FileProblems, Error};
use miette::{LabeledSpan, MietteDiagnostic, NamedSource, Report};

/// The exit code of an error (README.md, "Exit codes"): 1 for a finding (the airgap proof
/// failed), 2 for everything else that stopped the task (bad input such as a release.toml or
/// chart mistake, or an I/O or registry error).
pub fn exit_code(error: &anyhow::Error) -> u8 {
    match error.downcast_ref::<Error>() {
        Some(Error::ProofFailed(_)) => crate::exit::FINDING,
        _ => crate::exit::ERROR,
    }
}

/// Prints an error with its whole cause chain and returns the exit code.
pub fn report(error: anyhow::Error) -> ExitCode {
    let code = exit_code(&error);
    match error.downcast::<Error>() {
        Ok(Error::Invalid(problems)) => print_file_problems(&problems),
        Ok(Error::ProofFailed(report)) => {
            crate::proof_report::print(&report);
            crate::ui::error("the airgap proof failed; nothing was written");
        }
        Ok(other) => print_engine_error(&other),
        Err(other) => crate::ui::error(&format!("{other:#}")),
    }
    ExitCode::from(code)
}

/// One diagnostic per problem, each underlining its span in the file.
pub fn print_file_problems(problems: &FileProblems) {
    let source = NamedSource::new(problems.file.path.as_str(), problems.file.text.to_string());
    for problem in &problems.problems {
        let mut diagnostic = MietteDiagnostic::new(problem.message.clone());
        if let Some(span) = &problem.span {
            let (line, column) = problems.file.line_col(span.start);
            let label = format!("{}:{line}:{column}", problems.file.path);
            diagnostic = diagnostic.with_label(LabeledSpan::new(Some(label), span.start, span.len()));
        }
        if let Some(help) = &problem.help {
            diagnostic = diagnostic.with_help(help.clone());
        }
        let report = Report::new(diagnostic).with_source_code(source.clone());
        eprintln!("{report:?}");
    }
    let count = problems.problems.len();
    crate::ui::error(&format!(
        "{count} problem{} in {}",
        if count == 1 { "" } else { "s" },
        problems.file.path
    ));
}

fn print_engine_error(error: &Error) {
    let mut diagnostic = MietteDiagnostic::new(error.to_string());
    if let Some(help) = error.help() {
        diagnostic = diagnostic.with_help(help);
    }
    eprintln!("{:?}", Report::new(diagnostic));
}
