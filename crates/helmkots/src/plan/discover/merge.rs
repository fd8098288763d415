//! Merging: values finds and rendered finds become one image set, each saying where it was
//! found; values guesses that would collide with certain images are left out.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::input::chart::Chart;

/// Merges what Helm rendered into the values' finds: a rendered image mapped to a values site
/// replaces what values-walking made of that site (Helm's tag fallbacks, helpers and globals
/// are right by construction; a problem values-walking had there is gone); a rendered image
/// that no value controls is kept as written into its template.
pub(super) fn merge_rendered(
    chart: &Chart,
    rendered: &rendered::RenderedDiscovery,
    found: &mut Found,
    images: &mut BTreeMap<ImageRef, BTreeSet<ImageSource>>,
    problems: &mut BTreeSet<DiscoveryProblem>,
    test_only: &mut BTreeSet<ImageRef>,
) {
    let mut deployed: BTreeSet<ImageRef> = BTreeSet::new();
    // What values-walking made of each site the renders mapped.
    let mut replaced: BTreeMap<String, Vec<(ImageRef, Option<String>)>> = BTreeMap::new();
    for find in &rendered.finds {
        let Some(site) = &find.site else { continue };
        if replaced.contains_key(&site.values_path) {
            continue;
        }
        // Values-walking keys a site by its path and, for a sibling name, the name's key.
        let name_key = match &site.shape {
            ImageShape::SiblingNameTag { name_key, .. } | ImageShape::RegistryNameTag { name_key, .. } => {
                name_key.clone()
            }
            _ => String::new(),
        };
        let mut previous = Vec::new();
        if let Some(Candidate::Image(reference, source)) =
            found.candidates.remove(&(site.values_path.clone(), name_key))
        {
            previous.push((reference, source.chart));
        }
        replaced.insert(site.values_path.clone(), previous);
    }
    for find in &rendered.finds {
        let source = match &find.site {
            Some(site) => {
                let previous = replaced.get(&site.values_path).map(Vec::as_slice).unwrap_or_default();
                let same = previous.iter().find(|(reference, _)| *reference == find.reference);
                ImageSource {
                    chart: previous
                        .first()
                        .and_then(|(_, chart)| chart.clone())
                        .or_else(|| Some(chart.metadata.name.clone())),
                    values_path: Some(site.values_path.clone()),
                    shape: site.shape.clone(),
                    tag_from_app_version: false,
                    found_by: if same.is_some() { FoundBy::Both } else { FoundBy::Rendered },
                }
            }
            None => {
                if let Some(reason) = &find.unmappable {
                    let place = find.places.iter().next().cloned().unwrap_or_default();
                    problems.insert(DiscoveryProblem {
                        site: ProblemSite::Rendered { place },
                        kind: DiscoveryProblemKind::NotRewritable { reason: reason.clone() },
                    });
                }
                ImageSource {
                    chart: Some(chart.metadata.name.clone()),
                    values_path: None,
                    shape: ImageShape::Rendered {
                        place: find.places.iter().next().cloned().unwrap_or_default(),
                    },
                    tag_from_app_version: false,
                    found_by: FoundBy::Rendered,
                }
            }
        };
        images.entry(find.reference.clone()).or_default().insert(source);
        if find.test_only {
            test_only.insert(find.reference.clone());
        } else {
            deployed.insert(find.reference.clone());
        }
    }
    test_only.retain(|reference| !deployed.contains(reference));
}

/// Once Helm has rendered the chart, a values find no configuration renders is a guess about
/// a part the Config screen does not reach; where it would collide with another image in the
/// customer's registry (KOTS keeps only the last path component), it is left out, said so.
pub(super) fn leave_out_colliding_guesses(
    images: &mut BTreeMap<ImageRef, BTreeSet<ImageSource>>,
    problems: &mut BTreeSet<DiscoveryProblem>,
) {
    let guess =
        |sources: &BTreeSet<ImageSource>| sources.iter().all(|source| source.found_by == FoundBy::Values);
    let mut by_last: BTreeMap<String, Vec<(ImageRef, bool)>> = BTreeMap::new();
    for (reference, sources) in images.iter() {
        by_last
            .entry(reference.last_component().to_string())
            .or_default()
            .push((reference.clone(), guess(sources)));
    }
    for group in by_last.values() {
        let repositories: BTreeSet<String> =
            group.iter().map(|(reference, _)| reference.repository()).collect();
        if repositories.len() < 2 {
            continue;
        }
        // Keep the certain ones; if every one is a guess, keep the first.
        let keep: &ImageRef =
            group.iter().find(|(_, guess)| !guess).map_or(&group[0].0, |(reference, _)| reference);
        for (reference, is_guess) in group {
            if *is_guess && reference.repository() != keep.repository() {
                let sources = images.remove(reference).unwrap_or_default();
                let source = sources.iter().next();
                problems.insert(DiscoveryProblem {
                    site: ProblemSite::Values {
                        chart: source.and_then(|s| s.chart.clone()).unwrap_or_default(),
                        values_path: source.and_then(|s| s.values_path.clone()).unwrap_or_default(),
                    },
                    kind: DiscoveryProblemKind::LeftOut {
                        image: reference.familiar(),
                        collides_with: keep.familiar(),
                    },
                });
            }
        }
    }
}
