//! A chart's default values as Helm computes them for a release (Helm 4's `CoalesceValues`
//! over the chart after `ProcessDependencies` has given each subchart its alias), with
//! every vendored subchart counted, whatever its `condition` or `tags`.
//!
//! The rules, from `pkg/chart/common/util/coalesce.go` of the Helm the tests run (4.2):
//! - each subchart's values sit under its key in the parent's values: the dependency's
//!   `alias`, else its name; a vendored chart that no dependency declares (at a version
//!   inside the range) sits under its own name; a chart declared twice with two aliases
//!   appears twice;
//! - the parent wins: its value for a key replaces the subchart's, maps merge key by key,
//!   and a map never replaces a scalar nor a scalar a map of the other side (the parent's
//!   stays);
//! - `null`: a chart's own `null` defaults are dropped, at any depth (so a parent's
//!   `sub: {key: null}` cannot remove the subchart's default `key` either: Helm 4.2
//!   cleans the parent's nulls before it reaches the subchart, helm#32132);
//! - `global`: each subchart gets its parent's `global` merged over its own (`global` in
//!   the parent's `sub:` block, then the subchart's defaults), recursively. Every subchart
//!   has a `global` map, even an empty one. A subchart's `global` does not flow back up,
//!   except below the first level: Helm copies the parent's global tables one level deep,
//!   so a table nested deeper (`global.labels.team`) is one map shared by the parent and
//!   every subchart, and what any of them adds to it shows in all of them. That is Helm's
//!   behaviour, reproduced here with maps held by reference as Go holds them.
//!
//! Before coalescing, Helm's `ProcessDependencies` (`pkg/chart/v2/util/dependencies.go`)
//! rewrites the chart, and that shows through user values:
//! - aliases are given, and undeclared charts kept, only below charts that declare
//!   dependencies: under a chart with no `dependencies:` (nor requirements.yaml), every
//!   vendored chart, at any depth, sits under its own name;
//! - every chart that declares dependencies has its values replaced by its merged values
//!   (`processImportValues`: the same coalescing with `null`s kept, Helm's `MergeValues`),
//!   so its values hold its subcharts' values and their `global`s already. A user's
//!   `global.x: null` thus removes `x` from the root chart's `global` but not from the
//!   subcharts', which got it then; and a parent's `sub: null` is a type mismatch.
//!
//! User-supplied values (a values file passed with `-f`, or a release's `[chart] values`)
//! go through the same rules as the parent of the root chart would: they win over the
//! chart's defaults and reach each subchart under its key, and there a user `null` does
//! remove a default (Helm's `CoalesceValues(chart, userValues)`; what `helm template -f`
//! gives the templates). [`charts_with_values`] gives every chart of the release with the
//! values its templates see.
//!
//! Import values (`import-values`, `exports`) are not applied.

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet},
    rc::Rc,
};

use serde_json::{Map, Value};

use super::{version::VersionRange, Chart};
use crate::{
    diagnostic::{FileProblems, Problem},
    error::{Error, Result},
};

/// The subcharts of `chart` as Helm's `ProcessDependencies` leaves them before conditions
/// are applied: the key its values live under, and the chart.
pub(crate) fn effective_subcharts(chart: &Chart) -> Vec<(String, &Chart)> {
    let compatible = |range: &str, subchart: &Chart| {
        VersionRange::parse(range).is_ok_and(|range| range.matches(&subchart.metadata.version))
    };
    let declared = &chart.metadata.dependencies;
    let mut subcharts = Vec::new();
    for subchart in &chart.dependencies {
        let is_declared = declared
            .iter()
            .any(|spec| spec.name == subchart.metadata.name && compatible(&spec.version, subchart));
        if !is_declared {
            subcharts.push((subchart.metadata.name.clone(), subchart));
        }
    }
    for spec in declared {
        let found = chart
            .dependencies
            .iter()
            .find(|subchart| subchart.metadata.name == spec.name && compatible(&spec.version, subchart));
        if let Some(subchart) = found {
            subcharts.push((spec.values_key().to_string(), subchart));
        }
    }
    subcharts
}

/// The coalesced default values of `chart` (see the module doc).
pub(crate) fn coalesced_values(chart: &Chart) -> Result<Value> {
    let processed = Processed::of(chart, true, OnMismatch::Refuse)?;
    Ok(coalesce_release(&processed, &Map::new(), OnMismatch::Refuse)?.to_json())
}

/// What to do where the values give a subchart's key something other than a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnMismatch {
    /// Fail, as Helm does (the error points at the key).
    Refuse,
    /// Put an empty map in its place and coalesce the subchart there, so that the
    /// subchart's own values are still seen. Never fails.
    Replace,
}

/// One chart of a release (the root chart, or a subchart at any depth) with the values
/// Helm passes to its templates.
#[derive(Debug, Clone)]
pub(crate) struct ChartValues<'a> {
    /// The keys that lead from the release's values to this chart's: empty for the root
    /// chart, `["sub", "deep"]` for the subchart keyed `deep` of the subchart keyed `sub`.
    pub(crate) path: Vec<String>,
    /// The chart.
    pub(crate) chart: &'a Chart,
    /// `.Values` of the chart's templates: its values coalesced with the user's and its
    /// parents' (see the module doc), its subcharts' values under their keys, and `global`.
    pub(crate) values: Map<String, Value>,
    /// The keys of `values` that hold its subcharts' values.
    pub(crate) subchart_keys: BTreeSet<String>,
}

/// The chart and each of its subcharts as Helm renders them, recursively, with the values
/// their templates see when `user_values` are given for the release (Helm's
/// `CoalesceValues(chart, user_values)` after `ProcessDependencies`; see the module doc).
/// A parent comes before its subcharts, and a chart's subcharts are in the order of their
/// keys (two subcharts under one key in the order Helm coalesces them).
pub(crate) fn charts_with_values<'a>(
    chart: &'a Chart,
    user_values: &Map<String, Value>,
    on_mismatch: OnMismatch,
) -> Result<Vec<ChartValues<'a>>> {
    let processed = Processed::of(chart, true, on_mismatch)?;
    let values = coalesce_release(&processed, user_values, on_mismatch)?.to_map();
    let mut charts = Vec::new();
    push_charts(&processed, Vec::new(), values, &mut charts);
    Ok(charts)
}

/// `chart` with `values`, then its subcharts with theirs, recursively.
fn push_charts<'a>(
    chart: &Processed<'a>,
    path: Vec<String>,
    values: Map<String, Value>,
    charts: &mut Vec<ChartValues<'a>>,
) {
    let mut subcharts: Vec<&(String, Processed<'a>)> = chart.subcharts.iter().collect();
    subcharts.sort_by(|(a, _), (b, _)| a.cmp(b));
    let children: Vec<(&str, &Processed<'a>, Map<String, Value>)> = subcharts
        .into_iter()
        .map(|(key, subchart)| {
            let values = values.get(key).and_then(Value::as_object).cloned().unwrap_or_default();
            (key.as_str(), subchart, values)
        })
        .collect();
    let subchart_keys = children.iter().map(|(key, _, _)| key.to_string()).collect();
    charts.push(ChartValues { path: path.clone(), chart: chart.chart, values, subchart_keys });
    for (key, subchart, values) in children {
        let mut path = path.clone();
        path.push(key.to_string());
        push_charts(subchart, path, values, charts);
    }
}

/// Helm's `CoalesceValues`: a copy of `user_values` with the chart's values coalesced
/// under it.
fn coalesce_release(
    chart: &Processed<'_>,
    user_values: &Map<String, Value>,
    on_mismatch: OnMismatch,
) -> Result<GoMap> {
    let values = GoMap::copy_of(user_values);
    coalesce(chart, &values, false, on_mismatch)?;
    Ok(values)
}

/// A chart as Helm's `ProcessDependencies` leaves it (conditions and import values aside):
/// its subcharts by key, and its values.
struct Processed<'a> {
    chart: &'a Chart,
    /// The chart's values.yaml, or for a chart that declares dependencies its merged
    /// values (`processImportValues`).
    values: Map<String, Value>,
    subcharts: Vec<(String, Processed<'a>)>,
}

impl<'a> Processed<'a> {
    /// `chart` processed; `aliases`: whether `processDependencyEnabled` reaches it (it
    /// stops at a chart that declares no dependencies, so below one no alias is given).
    fn of(chart: &'a Chart, aliases: bool, on_mismatch: OnMismatch) -> Result<Processed<'a>> {
        let declares = !chart.metadata.dependencies.is_empty();
        let subcharts = if aliases {
            effective_subcharts(chart)
        } else {
            chart.dependencies.iter().map(|subchart| (subchart.metadata.name.clone(), subchart)).collect()
        };
        let subcharts = subcharts
            .into_iter()
            .map(|(key, subchart)| Ok((key, Processed::of(subchart, aliases && declares, on_mismatch)?)))
            .collect::<Result<Vec<_>>>()?;
        let values = chart.values.as_object().cloned().unwrap_or_default();
        let mut processed = Processed { chart, values, subcharts };
        if declares {
            let merged = GoMap::default();
            coalesce(&processed, &merged, true, on_mismatch)?;
            processed.values = merged.to_map();
        }
        Ok(processed)
    }
}

/// A Go `map[string]any`: a reference, so that two places may hold the same map and a
/// change through one shows through the other, as in Helm. `global` relies on it: Helm
/// copies a parent's global tables one level deep only, so tables nested deeper are shared
/// by the parent and every subchart, and a subchart's defaults added to them show
/// everywhere (see `coalesce_globals`). Lists are never changed in place and stay values.
#[derive(Debug, Clone, Default)]
struct GoMap(Rc<RefCell<BTreeMap<String, GoValue>>>);

/// A Go `any` in a values tree.
#[derive(Debug, Clone)]
enum GoValue {
    /// A scalar, `null` or a list.
    Leaf(Value),
    /// A map, by reference.
    Map(GoMap),
}

impl GoValue {
    /// A deep copy of a JSON value (Helm's `copystructure.Copy`).
    fn copy_of(value: &Value) -> GoValue {
        match value {
            Value::Object(map) => GoValue::Map(GoMap::copy_of(map)),
            other => GoValue::Leaf(other.clone()),
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, GoValue::Leaf(Value::Null))
    }

    fn as_map(&self) -> Option<&GoMap> {
        match self {
            GoValue::Map(map) => Some(map),
            GoValue::Leaf(_) => None,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            GoValue::Leaf(value) => value.clone(),
            GoValue::Map(map) => map.to_json(),
        }
    }
}

impl GoMap {
    fn copy_of(map: &Map<String, Value>) -> GoMap {
        GoMap(Rc::new(RefCell::new(map.iter().map(|(k, v)| (k.clone(), GoValue::copy_of(v))).collect())))
    }

    /// A new map holding the same values (Go's `maps.Copy` into a new map).
    fn shallow_copy(&self) -> GoMap {
        GoMap(Rc::new(RefCell::new(self.0.borrow().clone())))
    }

    fn get(&self, key: &str) -> Option<GoValue> {
        self.0.borrow().get(key).cloned()
    }

    fn insert(&self, key: &str, value: GoValue) {
        self.0.borrow_mut().insert(key.to_string(), value);
    }

    fn remove(&self, key: &str) {
        self.0.borrow_mut().remove(key);
    }

    /// The entries now, so that the map may change while they are walked.
    fn entries(&self) -> Vec<(String, GoValue)> {
        self.0.borrow().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn same(&self, other: &GoMap) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    fn to_json(&self) -> Value {
        Value::Object(self.to_map())
    }

    /// A deep copy as JSON, sharing nothing (Helm's `copystructure.Copy`).
    fn to_map(&self) -> Map<String, Value> {
        self.0.borrow().iter().map(|(k, v)| (k.clone(), v.to_json())).collect()
    }
}

/// `coalesce`: the chart's own values under `dest`, then its subcharts'. `merge`: Helm's
/// `MergeValues` (`null`s kept) rather than `CoalesceValues`.
fn coalesce(chart: &Processed<'_>, dest: &GoMap, merge: bool, on_mismatch: OnMismatch) -> Result<()> {
    let keys: BTreeSet<&str> = chart.subcharts.iter().map(|(key, _)| key.as_str()).collect();
    coalesce_values(&chart.values, dest, &keys, merge);
    for (key, subchart) in &chart.subcharts {
        let sub_values = match dest.get(key) {
            None => {
                let map = GoMap::default();
                dest.insert(key, GoValue::Map(map.clone()));
                map
            }
            Some(GoValue::Map(map)) => map,
            Some(GoValue::Leaf(other)) => match on_mismatch {
                OnMismatch::Refuse => return Err(type_mismatch(chart.chart, key, &other)),
                OnMismatch::Replace => {
                    let map = GoMap::default();
                    dest.insert(key, GoValue::Map(map.clone()));
                    map
                }
            },
        };
        coalesce_globals(&sub_values, dest);
        coalesce(subchart, &sub_values, merge, on_mismatch)?;
    }
    Ok(())
}

/// `coalesceValues`: a copy of the chart's values under `values` (which wins). When
/// coalescing, a `null` in `values` over a default removes the key, and the defaults'
/// `null`s are dropped; when merging (`merge`), `null`s stay.
fn coalesce_values(
    defaults: &Map<String, Value>,
    values: &GoMap,
    subchart_keys: &BTreeSet<&str>,
    merge: bool,
) {
    for (key, default) in GoMap::copy_of(defaults).entries() {
        match values.get(&key) {
            Some(value) if value.is_null() => {
                if !merge {
                    values.remove(&key);
                }
            }
            Some(GoValue::Map(over)) => {
                if let GoValue::Map(default) = default {
                    let merge = merge || subchart_keys.contains(key.as_str());
                    if !merge {
                        clean_nulls(&default);
                    }
                    coalesce_tables(&over, &default, merge);
                }
            }
            Some(GoValue::Leaf(_)) => {}
            None => {
                if !merge {
                    match &default {
                        GoValue::Leaf(Value::Null) => continue,
                        GoValue::Map(map) => clean_nulls(map),
                        GoValue::Leaf(_) => {}
                    }
                }
                values.insert(&key, default);
            }
        }
    }
}

/// `coalesceTablesFullKey`: `src` under `dst` (which wins), maps merged key by key; what
/// `dst` lacks it takes from `src` as is (shared, as in Go). When coalescing (`merge`
/// false), a `null` in `dst` over a value of `src` removes the key.
fn coalesce_tables(dst: &GoMap, src: &GoMap, merge: bool) {
    if dst.same(src) {
        return;
    }
    let src_non_null: BTreeSet<String> =
        src.entries().into_iter().filter(|(_, value)| !value.is_null()).map(|(key, _)| key).collect();
    for (key, value) in dst.entries() {
        if value.is_null() {
            src.insert(&key, GoValue::Leaf(Value::Null));
        }
    }
    for (key, value) in src.entries() {
        match dst.get(&key) {
            Some(existing) if existing.is_null() && !merge && src_non_null.contains(&key) => dst.remove(&key),
            None => dst.insert(&key, value),
            Some(GoValue::Map(dst_child)) => {
                if let GoValue::Map(src_child) = value {
                    coalesce_tables(&dst_child, &src_child, merge);
                }
            }
            Some(GoValue::Leaf(_)) => {}
        }
    }
}

/// `coalesceGlobals`: the parent's `global` over the subchart's values' `global`. Each
/// table of the parent's `global` is copied one level deep, as Helm does, so the tables
/// nested in it stay shared with the parent.
fn coalesce_globals(dest: &GoMap, parent: &GoMap) {
    let dest_global = match dest.get("global") {
        None => GoMap::default(),
        Some(GoValue::Map(map)) => map,
        Some(GoValue::Leaf(_)) => return,
    };
    let parent_global = match parent.get("global") {
        None => GoMap::default(),
        Some(GoValue::Map(map)) => map,
        Some(GoValue::Leaf(_)) => return,
    };
    for (key, value) in parent_global.entries() {
        match &value {
            GoValue::Map(table) => {
                let copy = table.shallow_copy();
                match dest_global.get(&key) {
                    None => dest_global.insert(&key, GoValue::Map(copy)),
                    Some(GoValue::Map(below)) => {
                        coalesce_tables(&copy, &below, true);
                        dest_global.insert(&key, GoValue::Map(copy));
                    }
                    Some(GoValue::Leaf(_)) => {}
                }
            }
            GoValue::Leaf(_) if dest_global.get(&key).is_some_and(|v| v.as_map().is_some()) => {}
            GoValue::Leaf(_) => dest_global.insert(&key, value.clone()),
        }
    }
    dest.insert("global", GoValue::Map(dest_global));
}

/// `cleanNilValues`: removes `null` entries, at any depth of maps.
fn clean_nulls(map: &GoMap) {
    map.0.borrow_mut().retain(|_, value| !value.is_null());
    for (_, value) in map.entries() {
        if let GoValue::Map(child) = value {
            if !child.same(map) {
                clean_nulls(&child);
            }
        }
    }
}

/// The error when a parent's values give a subchart's key something other than a map: Helm
/// refuses to install the chart ("type mismatch"). Points at the key in the parent's
/// values.yaml when it is written there at the top level.
fn type_mismatch(chart: &Chart, key: &str, value: &Value) -> Error {
    let what = super::helm_yaml::kind(value);
    let message = format!(
        "`{key}` holds the values of the subchart `{key}`, but the values make it {what}; Helm refuses to install the chart (type mismatch on {key})"
    );
    let help = format!("make `{key}:` a map of the subchart's values, e.g. `{key}: {{}}`, or remove it");
    let values_file = chart.files.iter().find(|file| file.path == "values.yaml");
    let values_path =
        chart.metadata_file.path.parent().map(|dir| dir.join("values.yaml")).unwrap_or_default();
    if let Some(text) = values_file.and_then(|file| std::str::from_utf8(&file.data).ok()) {
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let quoted = [key.to_string(), format!("\"{key}\""), format!("'{key}'")];
            if quoted
                .iter()
                .any(|k| line.strip_prefix(k.as_str()).is_some_and(|rest| rest.trim_start().starts_with(':')))
            {
                let file = crate::diagnostic::SourceFile::new(values_path, text);
                let problem = Problem::at(offset..offset + key.len(), message).with_help(help);
                return Error::Invalid(FileProblems { file, problems: vec![problem] });
            }
            offset += line.len();
        }
    }
    Error::Chart { chart: values_path, reason: message, help: Some(help) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::input::chart::load::testing::{temp_dir, write_tree};

    fn coalesced(files: &[(&str, &str)]) -> Value {
        let (_guard, root) = temp_dir();
        write_tree(&root, files);
        let chart = crate::input::chart::load(&root).expect("the chart loads");
        chart.coalesced_values().expect("the values coalesce")
    }

    const PARENT: &str = "apiVersion: v2\nname: parent\nversion: 1.0.0\n";
    const SUB: &str = "apiVersion: v2\nname: sub\nversion: 1.0.0\n";

    #[test]
    fn parent_wins_and_maps_merge() {
        let values = coalesced(&[
            ("Chart.yaml", PARENT),
            ("values.yaml", "sub:\n  a: parent\n  m: {x: 1}\n  t: 5\n  s: {x: 1}\n"),
            ("charts/sub/Chart.yaml", SUB),
            ("charts/sub/values.yaml", "a: sub\nb: sub\nm: {z: 2}\nt: {a: 1}\ns: 3\n"),
        ]);
        assert_eq!(
            values,
            json!({"sub": {"a": "parent", "b": "sub", "m": {"x": 1, "z": 2}, "t": 5, "s": {"x": 1}, "global": {}}})
        );
    }

    #[test]
    fn nulls_are_dropped_at_every_level() {
        let values = coalesced(&[
            ("Chart.yaml", PARENT),
            (
                "values.yaml",
                "top: null\nnested: {a: null, b: {c: null, d: 1}}\nsub: {over: null, keep: null}\n",
            ),
            ("charts/sub/Chart.yaml", SUB),
            ("charts/sub/values.yaml", "over: 1\nnul: null\nnest: {n: null, m: 1}\n"),
        ]);
        assert_eq!(
            values,
            json!({"nested": {"b": {"d": 1}}, "sub": {"over": 1, "nest": {"m": 1}, "global": {}}})
        );
    }

    #[test]
    fn globals_flow_down_not_up() {
        let values = coalesced(&[
            ("Chart.yaml", PARENT),
            ("values.yaml", "global: {g: 1, gm: {a: 1}}\nsub: {global: {s: 9}}\n"),
            ("charts/sub/Chart.yaml", SUB),
            ("charts/sub/values.yaml", "global: {g: 5, own: 1, gm: {b: 2}}\n"),
            ("charts/sub/charts/deep/Chart.yaml", "apiVersion: v2\nname: deep\nversion: 1.0.0\n"),
            ("charts/sub/charts/deep/values.yaml", "d: 1\nglobal: {g: 7, dd: 1}\n"),
        ]);
        let sub_global = json!({"g": 1, "gm": {"a": 1, "b": 2}, "own": 1, "s": 9});
        let mut deep_global = sub_global.clone();
        deep_global["dd"] = json!(1);
        assert_eq!(
            values,
            json!({"global": {"g": 1, "gm": {"a": 1}},
                   "sub": {"global": sub_global, "deep": {"d": 1, "global": deep_global}}})
        );
    }

    #[test]
    fn global_tables_below_the_first_level_are_shared_as_in_helm() {
        let values = coalesced(&[
            ("Chart.yaml", PARENT),
            ("values.yaml", "global: {labels: {team: {name: core}}}\n"),
            ("charts/sub/Chart.yaml", SUB),
            ("charts/sub/values.yaml", "global: {labels: {team: {fromSub: true}, level1: x}}\n"),
        ]);
        let team = json!({"name": "core", "fromSub": true});
        assert_eq!(
            values["global"],
            json!({"labels": {"team": team}}),
            "the subchart's default shows in the parent"
        );
        assert_eq!(values["sub"]["global"], json!({"labels": {"team": team, "level1": "x"}}));
    }

    #[test]
    fn aliases_key_the_values() {
        let parent = format!(
            "{PARENT}dependencies:\n  - name: sub\n    version: v1.0.0\n    alias: first\n    condition: first.enabled\n\
             \x20 - name: sub\n    version: ~1\n    alias: second\n"
        );
        let values = coalesced(&[
            ("Chart.yaml", &parent),
            ("values.yaml", "first: {enabled: false}\nsecond: {b: 3}\n"),
            ("charts/sub/Chart.yaml", SUB),
            ("charts/sub/values.yaml", "a: 1\nb: 2\n"),
            ("charts/extra/Chart.yaml", "apiVersion: v2\nname: extra\nversion: 0.1.0\n"),
        ]);
        assert_eq!(
            values,
            json!({"first": {"enabled": false, "a": 1, "b": 2, "global": {}},
                   "second": {"a": 1, "b": 3, "global": {}},
                   "extra": {"global": {}}})
        );
    }

    #[test]
    fn a_scalar_for_a_subchart_is_located() {
        let (_guard, root) = temp_dir();
        write_tree(
            &root,
            &[("Chart.yaml", PARENT), ("values.yaml", "a: 1\nsub: false\n"), ("charts/sub/Chart.yaml", SUB)],
        );
        let chart = crate::input::chart::load(&root).unwrap();
        let Err(Error::Invalid(problems)) = chart.coalesced_values() else {
            panic!("expected a located problem")
        };
        let lines = problems.located_lines();
        assert!(
            lines[0].starts_with(&format!("{root}/values.yaml:2:1: `sub` holds the values")),
            "{lines:?}"
        );
        assert!(lines[0].contains("a boolean"), "{lines:?}");
    }

    /// Every chart of the release with the user's values: (path joined by `.`, values).
    fn charts(files: &[(&str, &str)], user: Value) -> Vec<(String, BTreeSet<String>, Value)> {
        let (_guard, root) = temp_dir();
        write_tree(&root, files);
        let chart = crate::input::chart::load(&root).expect("the chart loads");
        let user = user.as_object().cloned().unwrap_or_default();
        charts_with_values(&chart, &user, OnMismatch::Refuse)
            .expect("the values coalesce")
            .into_iter()
            .map(|charted| (charted.path.join("."), charted.subchart_keys, Value::Object(charted.values)))
            .collect()
    }

    const DEEP: &str = "apiVersion: v2\nname: deep\nversion: 1.0.0\n";

    #[test]
    fn user_values_win_and_their_nulls_remove_defaults() {
        let parent = format!("{PARENT}dependencies:\n  - name: sub\n    version: 1.0.0\n    alias: cache\n");
        let got = charts(
            &[
                ("Chart.yaml", &parent),
                ("values.yaml", "image: {repository: app, tag: \"1\"}\nkeep: 1\ncache: {fromParent: 1}\n"),
                ("charts/sub/Chart.yaml", SUB),
                ("charts/sub/values.yaml", "image: {repository: sub, tag: \"2\"}\nextra: {image: x}\n"),
                ("charts/sub/charts/deep/Chart.yaml", DEEP),
                ("charts/sub/charts/deep/values.yaml", "d: 1\n"),
            ],
            json!({
                "image": {"tag": null, "pullPolicy": "Always"},
                "keep": null,
                "unknown": null,
                "cache": {"extra": null, "fromParent": null, "image": {"tag": "3"}, "deep": {"d": 2}},
            }),
        );
        // `fromParent` has no default in the subchart: Helm keeps the user's `null` there.
        let deep = json!({"d": 2, "global": {}});
        let cache = json!({"image": {"repository": "sub", "tag": "3"}, "fromParent": null, "deep": deep, "global": {}});
        assert_eq!(
            got,
            vec![
                (
                    String::new(),
                    BTreeSet::from(["cache".to_string()]),
                    json!({"image": {"repository": "app", "pullPolicy": "Always"}, "unknown": null, "cache": cache}),
                ),
                ("cache".to_string(), BTreeSet::from(["deep".to_string()]), cache.clone()),
                ("cache.deep".to_string(), BTreeSet::new(), deep),
            ]
        );
    }

    #[test]
    fn a_user_null_in_global_stays_removed_only_where_helm_removes_it() {
        // The parent declares its dependency, so Helm has merged its `global` into the
        // subchart's values before the user's values come: the subchart keeps `g`.
        let parent = format!("{PARENT}dependencies:\n  - name: sub\n    version: 1.0.0\n");
        let got = charts(
            &[
                ("Chart.yaml", &parent),
                ("values.yaml", "global: {g: 1, h: 2}\n"),
                ("charts/sub/Chart.yaml", SUB),
            ],
            json!({"global": {"g": null}}),
        );
        assert_eq!(got[0].2["global"], json!({"h": 2}));
        assert_eq!(got[1].2["global"], json!({"g": 1, "h": 2}));
        // Without a declared dependency there is no such merge, and `g` is gone everywhere.
        let got = charts(
            &[
                ("Chart.yaml", PARENT),
                ("values.yaml", "global: {g: 1, h: 2}\n"),
                ("charts/sub/Chart.yaml", SUB),
            ],
            json!({"global": {"g": null}}),
        );
        assert_eq!(got[1].2["global"], json!({"h": 2}));
    }

    #[test]
    fn no_alias_below_a_chart_that_declares_no_dependency() {
        let sub = format!("{SUB}dependencies:\n  - name: deep\n    version: 1.0.0\n    alias: renamed\n");
        let declaring = format!("{PARENT}dependencies:\n  - name: sub\n    version: 1.0.0\n");
        for (parent, deep_path) in [(PARENT, "sub.deep"), (declaring.as_str(), "sub.renamed")] {
            let files = [
                ("Chart.yaml", parent),
                ("charts/sub/Chart.yaml", sub.as_str()),
                ("charts/sub/charts/deep/Chart.yaml", DEEP),
            ];
            let paths: Vec<String> = charts(&files, json!({})).into_iter().map(|(path, _, _)| path).collect();
            assert_eq!(paths, ["", "sub", deep_path], "{parent}");
        }
    }

    #[test]
    fn a_mismatch_is_refused_or_replaced() {
        let (_guard, root) = temp_dir();
        let parent = format!("{PARENT}dependencies:\n  - name: sub\n    version: 1.0.0\n");
        write_tree(
            &root,
            &[("Chart.yaml", &parent), ("charts/sub/Chart.yaml", SUB), ("charts/sub/values.yaml", "a: 1\n")],
        );
        let chart = crate::input::chart::load(&root).unwrap();
        let user = json!({"sub": 5});
        let user = user.as_object().unwrap();
        assert!(charts_with_values(&chart, user, OnMismatch::Refuse).is_err());
        let replaced = charts_with_values(&chart, user, OnMismatch::Replace).unwrap();
        assert_eq!(Value::Object(replaced[1].values.clone()), json!({"a": 1, "global": {}}));
    }

    #[test]
    fn a_parent_null_for_a_declared_subchart_is_a_mismatch_as_in_helm() {
        let (_guard, root) = temp_dir();
        let parent = format!("{PARENT}dependencies:\n  - name: sub\n    version: 1.0.0\n");
        write_tree(
            &root,
            &[("Chart.yaml", &parent), ("values.yaml", "sub: null\n"), ("charts/sub/Chart.yaml", SUB)],
        );
        let chart = crate::input::chart::load(&root).unwrap();
        assert!(matches!(chart.coalesced_values(), Err(Error::Invalid(_))));
        // Undeclared, the subchart is not merged first, and the parent's `null` is dropped.
        let values = coalesced(&[
            ("Chart.yaml", PARENT),
            ("values.yaml", "sub: null\n"),
            ("charts/sub/Chart.yaml", SUB),
        ]);
        assert_eq!(values, json!({"sub": {"global": {}}}));
    }
}
