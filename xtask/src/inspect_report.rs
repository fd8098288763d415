//! Prints `inspect`: what a release tree or an airgap bundle holds, as data on stdout.

use helmkots::commands::inspect::{Artifact, Inspection};
use indicatif::HumanBytes;

pub fn print(inspection: &Inspection) {
    match &inspection.artifact {
        Artifact::Tree(path) => outln!("release tree {path}"),
        Artifact::Bundle(path) => outln!("airgap bundle {path}"),
    }
    if let Some(record) = &inspection.record {
        outln!(
            "  app {} {}, chart {} {} (sha256 {}), built by {}, SOURCE_DATE_EPOCH {}",
            record.slug,
            record.version,
            record.chart.name,
            record.chart.version,
            &record.chart.sha256.trim_start_matches("sha256:")[..12.min(record.chart.sha256.len())],
            record.generator,
            record.source_date_epoch,
        );
    }
    match &inspection.bundle {
        Some(head) => outln!(
            "  bundle {}: app {}, version {}, channel {} ({}), update cursor {}",
            head.path.file_name().unwrap_or(head.path.as_str()),
            head.app_slug,
            head.version_label,
            if head.channel_id.is_empty() { "<empty>" } else { &head.channel_id },
            if head.channel_name.is_empty() { "no name" } else { &head.channel_name },
            head.update_cursor,
        ),
        None => outln!("  no airgap bundle (built with --offline)"),
    }

    let total: u64 = inspection.images.iter().filter_map(|image| image.size).sum();
    outln!(
        "\nimages ({}{}):",
        inspection.images.len(),
        if total > 0 { format!(", {}", HumanBytes(total)) } else { String::new() }
    );
    let width = inspection.images.iter().map(|image| image.reference.len()).max().unwrap_or(0);
    for image in &inspection.images {
        let digest = image.digest.as_deref().unwrap_or("-");
        let size = image.size.map_or_else(|| "-".to_string(), |size| HumanBytes(size).to_string());
        outln!("  {:<width$}  {digest}  {size}", image.reference);
    }

    let items: usize = inspection.config.iter().map(|group| group.items.len()).sum();
    outln!("\nconfig screen ({} group(s), {items} item(s)):", inspection.config.len());
    for group in &inspection.config {
        outln!("  {} ({})", group.title, group.name.get_ref());
        for item in &group.items {
            let default = item.default.as_deref().map_or_else(String::new, |d| format!(" = {d:?}"));
            let when = item.when.as_deref().map_or_else(String::new, |w| format!("  when {w}"));
            outln!("    {:<28} {:<10}{default}{when}", item.name.get_ref(), item.item_type.to_string());
        }
    }

    if let Some(record) = &inspection.record {
        outln!(
            "\nbuild record ({}, schema {}):",
            helmkots::commands::BUILD_RECORD_FILE,
            record.schema_version
        );
        outln!("  {} input(s), {} output(s)", record.inputs.len(), record.outputs.len());
        for output in &record.outputs {
            outln!(
                "  {}  {:>10}  {}",
                &output.sha256[..19.min(output.sha256.len())],
                HumanBytes(output.size).to_string(),
                output.path
            );
        }
    }
    for problem in &inspection.problems {
        crate::ui::error(problem);
    }
}
