//! Which values are walked: one *view* per chart, its values as Helm passes them to its
//! templates.
//!
//! The root chart's values, and every vendored subchart's own `values.yaml` under the key the
//! parent uses for it (its alias, else its name), coalesced as Helm 4 does
//! (`chart::charts_with_values`, with `[chart] values` as the user's values): the parent wins;
//! a parent's `null` does not remove a subchart default, a user's does; recursively. `global`
//! is shared: each subchart sees its parent's `global` merged over its own, and paths under
//! `global` are reported without a prefix. Subcharts are walked whether or not their
//! `condition` enables them, and so are disabled parts of a chart (`imageRenderer.enabled:
//! false`): an airgap bundle must hold every image the customer may turn on.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::*;
use crate::input::chart::Chart;
use crate::input::value_path::Segment;

/// One chart as its templates see it.
pub(super) struct View<'a> {
    pub(super) chart: &'a Chart,
    /// Where this chart's values sit in the root chart's values (empty for the root).
    pub(super) prefix: Vec<Segment>,
    /// The chart's values.yaml under the parent's overrides, with the merged `global`.
    pub(super) values: Map<String, Value>,
    /// Keys of `values` that belong to subcharts (walked as their own views).
    pub(super) subchart_keys: BTreeSet<String>,
    /// Root values paths whose empty value the templates replace with the app version.
    pub(super) app_version_fallbacks: BTreeMap<String, AppVersionFormat>,
    /// Root values paths of pull secrets that the templates read.
    pub(super) template_pull_secrets: BTreeSet<String>,
}

/// How a template turns `.Chart.AppVersion` into a tag: `prefix + appVersion + suffix`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct AppVersionFormat {
    pub(super) prefix: String,
    pub(super) suffix: String,
}

impl View<'_> {
    pub(super) fn chart_name(&self) -> String {
        self.chart.metadata.name.clone()
    }

    /// The root values path of a path relative to this chart's values.
    pub(super) fn root_path(&self, relative: &[Segment]) -> Vec<Segment> {
        if matches!(relative.first(), Some(Segment::Key(key)) if key == "global") {
            return relative.to_vec();
        }
        self.prefix.iter().chain(relative).cloned().collect()
    }
}

/// Builds the view of `chart` and, recursively, of every effective subchart: its values as
/// Helm passes them to its templates, from the one port of Helm's coalescing
/// ([`crate::input::chart::charts_with_values`]), with `overrides` (`[chart] values`) given as the
/// user's values (they win over the chart's defaults, flow into subcharts under their key,
/// and a `null` there removes a default, as with `helm template -f`).
///
/// Where the values give a subchart's key something other than a map (Helm refuses to
/// install them), the subchart is still walked, under an empty map in its place. The keys
/// that a chart's own values.yaml declares `null`, which Helm drops, are put back as `null`
/// for the heuristics ([`restore_declared_nulls`]).
///
/// `prefix` is prepended to every view's prefix, and `parent_global` must be `None`: the
/// views start at the release's root chart, and `global` comes from the coalescing.
pub(super) fn collect_views<'a>(
    chart: &'a Chart,
    prefix: Vec<Segment>,
    overrides: Option<&Map<String, Value>>,
    parent_global: Option<&Map<String, Value>>,
    views: &mut Vec<View<'a>>,
) {
    debug_assert!(parent_global.is_none(), "views start at the release's root chart");
    // Values built in code can nest deeper than any values.yaml (the parser stops at
    // MAX_VALUES_DEPTH); Helm's coalescing recurses, so such a chart is walked as it is.
    let too_deep = |value: &Value| deeper_than(value, MAX_VALUES_DEPTH);
    if too_deep(&chart.values) || overrides.is_some_and(|o| o.values().any(too_deep)) {
        let values = chart.values.as_object().cloned().unwrap_or_default();
        let (app_version_fallbacks, template_pull_secrets) = scan_templates(chart, &prefix);
        views.push(View {
            chart,
            prefix,
            values,
            subchart_keys: BTreeSet::new(),
            app_version_fallbacks,
            template_pull_secrets,
        });
        return;
    }
    let no_overrides = Map::new();
    let charts = crate::input::chart::charts_with_values(
        chart,
        overrides.unwrap_or(&no_overrides),
        crate::input::chart::OnMismatch::Replace,
    )
    .unwrap_or_else(|error| unreachable!("coalescing with OnMismatch::Replace cannot fail: {error}"));
    for crate::input::chart::ChartValues { path, chart, mut values, subchart_keys } in charts {
        if let Value::Object(declared) = &chart.values {
            for (key, default) in declared.iter().filter(|(key, _)| !subchart_keys.contains(*key)) {
                restore_declared_nulls(&mut values, key, default);
            }
        }
        let prefix: Vec<Segment> = prefix.iter().cloned().chain(path.into_iter().map(Segment::Key)).collect();
        let (app_version_fallbacks, template_pull_secrets) = scan_templates(chart, &prefix);
        views.push(View {
            chart,
            prefix,
            values,
            subchart_keys,
            app_version_fallbacks,
            template_pull_secrets,
        });
    }
}

/// True when `value` nests maps or lists more than `limit` levels deep (without recursion).
pub(super) fn deeper_than(value: &Value, limit: usize) -> bool {
    let mut pending = vec![(value, 0usize)];
    while let Some((value, depth)) = pending.pop() {
        if depth > limit {
            return true;
        }
        match value {
            Value::Object(map) => pending.extend(map.values().map(|child| (child, depth + 1))),
            Value::Array(items) => pending.extend(items.iter().map(|child| (child, depth + 1))),
            _ => {}
        }
    }
    false
}

/// Puts `key` back as `null` in `values` (and so on down `default`'s maps) where the chart's
/// values.yaml declares it `null` and Helm's coalescing dropped it (Helm 4.2 drops every
/// `null` default), when the map that held it is still there. `.Values.image.tag` is nil
/// either way, so the values the templates read do not change; but the heuristics read a
/// declared key as the author's intent: `tag:` (null) beside `image:` makes a name with a
/// sibling tag, and beside `repository:` an image map.
pub(super) fn restore_declared_nulls(values: &mut Map<String, Value>, key: &str, default: &Value) {
    match (default, values.get_mut(key)) {
        (Value::Null, None) => {
            values.insert(key.to_string(), Value::Null);
        }
        (Value::Object(declared), Some(Value::Object(values))) => {
            for (key, default) in declared {
                restore_declared_nulls(values, key, default);
            }
        }
        _ => {}
    }
}
