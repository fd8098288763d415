//! `Chart.yaml` (plus `requirements.yaml` for apiVersion v1), `values.yaml` and
//! `values.schema.json`: parsed with their source positions and validated the way Helm
//! validates them, so that every mistake is reported at its line, all at once.
//!
//! Helm reads Chart.yaml leniently and so do we: versions as Masterminds/semver reads them
//! (`v1.2.3`, `1.2`, see `version.rs`), YAML as go-yaml v2 reads it (see `helm_yaml.rs`),
//! an unquoted number or boolean as the string Helm makes of it when that is what was
//! written (`version: 1.2`, `appVersion: 2`). We are stricter exactly where Helm's leniency
//! changes what the user wrote: `version: 1.10` is read by Helm as `1.1`, `appVersion: yes`
//! as `true`, and a key written twice loses its first value; each refusal says how to fix it.

use std::{collections::BTreeMap, fmt, ops::Range};

use serde::{de::DeserializeOwned, Deserialize, Deserializer};
use serde_saphyr::{DuplicateKeyPolicy, Location, MessageFormatter, Spanned};

use super::{
    dependencies, helm_yaml,
    helm_yaml::{go_bool, go_format_float, sanitize},
    version, ChartMetadata, ChartType, DependencySpec,
};
use crate::{
    diagnostic::{FileProblems, Problem, ProblemSink, SourceFile},
    error::{Error, Result},
};

/// A validated Chart.yaml, with the positions of its dependencies for the vendoring check.
#[derive(Debug, Clone)]
pub(crate) struct ParsedMetadata {
    /// The validated metadata.
    pub(crate) metadata: ChartMetadata,
    /// The file that declares the dependencies: Chart.yaml, or requirements.yaml for apiVersion v1.
    pub(crate) dependency_file: SourceFile,
    /// Where each dependency is declared, in the same order as `metadata.dependencies`.
    pub(crate) dependency_sites: Vec<DependencySite>,
}

/// Where one dependency is declared.
#[derive(Debug, Clone, Default)]
pub(crate) struct DependencySite {
    /// The whole entry (its first line).
    pub(crate) entry: Option<Range<usize>>,
    /// The `name:` value.
    pub(crate) name: Option<Range<usize>>,
    /// The `version:` value.
    pub(crate) version: Option<Range<usize>>,
}

impl DependencySite {
    /// The best span for a problem about the dependency as a whole.
    pub(crate) fn name_or_entry(&self) -> Option<Range<usize>> {
        self.name.clone().or_else(|| self.entry.clone())
    }

    /// The best span for a problem about the dependency's version.
    pub(crate) fn version_or_name(&self) -> Option<Range<usize>> {
        self.version.clone().or_else(|| self.name_or_entry())
    }
}

/// A YAML scalar as written, keeping its kind, so that `1.10` (a number) and `"1.10"`
/// (a string) can be told apart.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    /// A string, quoted or plain.
    Str(String),
    /// A number, as Helm would turn it into a string (`1.10` becomes `1.1`, `0755` `493`).
    Number(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`, `~` or nothing at all.
    Null,
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct ScalarVisitor;

        impl serde::de::Visitor<'_> for ScalarVisitor {
            type Value = Scalar;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E>(self, value: &str) -> std::result::Result<Scalar, E> {
                Ok(Scalar::Str(value.to_string()))
            }

            fn visit_i64<E>(self, value: i64) -> std::result::Result<Scalar, E> {
                Ok(Scalar::Number(value.to_string()))
            }

            fn visit_u64<E>(self, value: u64) -> std::result::Result<Scalar, E> {
                Ok(Scalar::Number(value.to_string()))
            }

            fn visit_f64<E>(self, value: f64) -> std::result::Result<Scalar, E> {
                // sigs.k8s.io/yaml writes a float bound for a string field as a float32.
                Ok(Scalar::Number(go_format_float(value, true)))
            }

            fn visit_bool<E>(self, value: bool) -> std::result::Result<Scalar, E> {
                Ok(Scalar::Bool(value))
            }

            fn visit_unit<E>(self) -> std::result::Result<Scalar, E> {
                Ok(Scalar::Null)
            }

            fn visit_none<E>(self) -> std::result::Result<Scalar, E> {
                Ok(Scalar::Null)
            }
        }

        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// The fields of Chart.yaml that helmkots reads; Helm ignores unknown keys, and so do we.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawChart {
    api_version: Option<Spanned<Scalar>>,
    name: Option<Spanned<Scalar>>,
    version: Option<Spanned<Scalar>>,
    app_version: Option<Spanned<Scalar>>,
    #[serde(rename = "type")]
    chart_type: Option<Spanned<Scalar>>,
    description: Option<Spanned<Scalar>>,
    dependencies: Option<Vec<Spanned<Option<RawDependency>>>>,
    maintainers: Option<Vec<Spanned<Option<RawMaintainer>>>>,
    annotations: Option<BTreeMap<String, Spanned<Scalar>>>,
}

/// `requirements.yaml` of an apiVersion v1 chart.
#[derive(Debug, Deserialize)]
struct RawRequirements {
    dependencies: Option<Vec<Spanned<Option<RawDependency>>>>,
}

/// One entry of `dependencies:`.
#[derive(Debug, Deserialize)]
struct RawDependency {
    name: Option<Spanned<Scalar>>,
    version: Option<Spanned<Scalar>>,
    repository: Option<Spanned<Scalar>>,
    condition: Option<Spanned<Scalar>>,
    tags: Option<Vec<Spanned<Scalar>>>,
    alias: Option<Spanned<Scalar>>,
}

/// One entry of `maintainers:`; only the name is required by Helm.
#[derive(Debug, Deserialize)]
struct RawMaintainer {
    name: Option<Spanned<Scalar>>,
}

/// Makes a [`SourceFile`] from file bytes, refusing bytes that are not UTF-8.
pub(crate) fn text_file(path: impl Into<camino::Utf8PathBuf>, bytes: &[u8]) -> Result<SourceFile> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(path, text)),
        Err(error) => {
            let file = SourceFile::new(path, String::from_utf8_lossy(bytes).into_owned());
            let offset = error.valid_up_to();
            let problem = Problem::at(offset..offset, "the file is not valid UTF-8")
                .with_help("save it as UTF-8; Helm reads chart metadata and values as UTF-8 text");
            Err(Error::Invalid(FileProblems { file, problems: vec![problem] }))
        }
    }
}

/// Parses and validates `Chart.yaml`. For apiVersion v1 the dependencies come from
/// `requirements.yaml` when it is present, as in Helm.
pub(crate) fn parse_chart_yaml(
    chart_yaml: &SourceFile,
    requirements: Option<&SourceFile>,
) -> Result<ParsedMetadata> {
    let mut sink = ProblemSink::new(chart_yaml.clone());
    let raw: RawChart =
        match parse_yaml::<Option<RawChart>>(chart_yaml, DuplicateKeyPolicy::Error) {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                sink.push(Problem::whole_file("Chart.yaml is empty").with_help(
                    "a chart needs at least `apiVersion: v2`, `name:` and `version:` in Chart.yaml",
                ));
                return Err(finish_err(sink));
            }
            Err(problem) => {
                sink.push(problem);
                return Err(finish_err(sink));
            }
        };

    let api_version = api_version(chart_yaml, raw.api_version.as_ref(), &mut sink);
    let name = chart_name(chart_yaml, raw.name.as_ref(), &mut sink);
    // The text as written is read back by `version_as_written` when needed.
    let version = chart_version(chart_yaml, raw.version.as_ref(), &mut sink);
    // Helm's Metadata.Validate sanitizes these strings.
    let app_version =
        optional_string(chart_yaml, "appVersion", raw.app_version.as_ref(), &mut sink).map(|s| sanitize(&s));
    let description =
        optional_string(chart_yaml, "description", raw.description.as_ref(), &mut sink).map(|s| sanitize(&s));
    let chart_type = chart_type(chart_yaml, raw.chart_type.as_ref(), &mut sink);
    check_maintainers(chart_yaml, raw.maintainers.as_deref().unwrap_or_default(), &mut sink);
    let mut annotations = BTreeMap::new();
    for (key, value) in raw.annotations.unwrap_or_default() {
        if let Some(text) = string_value(chart_yaml, &key, &value, &mut sink) {
            annotations.insert(key, text);
        }
    }
    let (mut dependencies, mut dependency_sites) =
        check_dependencies(chart_yaml, raw.dependencies.as_deref().unwrap_or_default(), &mut sink);

    let metadata = ChartMetadata {
        api_version: api_version.clone(),
        name,
        version,
        app_version,
        chart_type,
        description,
        dependencies: Vec::new(),
        annotations,
    };
    sink.finish(()).map_err(Error::Invalid)?;

    // apiVersion v1 declares dependencies in requirements.yaml.
    let mut dependency_file = chart_yaml.clone();
    if let (Some(requirements), "v1") = (requirements, api_version.as_str()) {
        (dependencies, dependency_sites) = parse_requirements(requirements)?;
        dependency_file = requirements.clone();
    }
    Ok(ParsedMetadata {
        metadata: ChartMetadata { dependencies, ..metadata },
        dependency_file,
        dependency_sites,
    })
}

/// `version:` of a Chart.yaml as written (the string, or the number as Helm reads it),
/// when the file parses and has one.
pub(crate) fn version_as_written(chart_yaml: &SourceFile) -> Option<String> {
    #[derive(Deserialize)]
    struct VersionOnly {
        version: Option<Scalar>,
    }
    match parse_yaml::<Option<VersionOnly>>(chart_yaml, DuplicateKeyPolicy::LastWins) {
        Ok(Some(VersionOnly { version: Some(Scalar::Str(text) | Scalar::Number(text)) })) => Some(text),
        _ => None,
    }
}

/// Parses the `dependencies:` of an apiVersion v1 chart's `requirements.yaml`.
fn parse_requirements(file: &SourceFile) -> Result<(Vec<DependencySpec>, Vec<DependencySite>)> {
    let mut sink = ProblemSink::new(file.clone());
    let raw = match parse_yaml::<Option<RawRequirements>>(file, DuplicateKeyPolicy::Error) {
        Ok(raw) => raw,
        Err(problem) => {
            sink.push(problem);
            return Err(finish_err(sink));
        }
    };
    let entries = raw.and_then(|raw| raw.dependencies).unwrap_or_default();
    let checked = check_dependencies(file, &entries, &mut sink);
    sink.finish(checked).map_err(Error::Invalid)
}

/// Parses `values.yaml` as Helm reads it (see `helm_yaml.rs`): an empty file is an empty
/// map; every document must be a map, and the documents are merged in order.
///
/// Duplicate keys are allowed (the last one wins), because Helm allows them.
pub(crate) fn parse_values(file: &SourceFile) -> Result<serde_json::Value> {
    match helm_yaml::parse_values(&file.text) {
        Ok(Some(map)) => Ok(serde_json::Value::Object(map)),
        Ok(None) => Ok(serde_json::Value::Object(Default::default())),
        Err(helm_yaml::ValuesError::Yaml(error)) => Err(file_problem(file, yaml_problem(file, &error))),
        Err(helm_yaml::ValuesError::Content { message, help, location }) => {
            let span = location.and_then(|location| span_of(file, &location));
            Err(file_problem(file, located(span, message).with_help(help)))
        }
    }
}

/// One problem in one file, as an error.
fn file_problem(file: &SourceFile, problem: Problem) -> Error {
    Error::Invalid(FileProblems { file: file.clone(), problems: vec![problem] })
}

/// Checks that `values.schema.json` is valid JSON, as `helm package` does before writing it.
pub(crate) fn check_schema(file: &SourceFile) -> Result<()> {
    match serde_json::from_str::<serde_json::Value>(&file.text) {
        Ok(_) => Ok(()),
        Err(error) => {
            let start = file.offset_of(error.line(), error.column());
            let problem = Problem::at(start..widen(file, start, 0), format!("invalid JSON: {error}"))
                .with_help("Helm refuses to package a chart whose values.schema.json is not valid JSON");
            Err(Error::Invalid(FileProblems { file: file.clone(), problems: vec![problem] }))
        }
    }
}

/// Deserializes the first YAML document of a file, as go-yaml's `Unmarshal` does; a
/// syntax or type error becomes a located problem.
fn parse_yaml<T: DeserializeOwned>(
    file: &SourceFile,
    duplicate_keys: DuplicateKeyPolicy,
) -> std::result::Result<T, Problem> {
    let text = helm_yaml::first_document(&file.text);
    serde_saphyr::from_str_with_options(text, helm_yaml::options(duplicate_keys))
        .map_err(|error| yaml_problem(file, &error))
}

/// Turns a serde-saphyr error into a problem at its location, without the library's own
/// snippet (the CLI draws its own).
fn yaml_problem(file: &SourceFile, error: &serde_saphyr::Error) -> Problem {
    let formatted = serde_saphyr::DefaultMessageFormatter.format_message(error.without_snippet());
    // The parser's hint names its own API option, which means nothing to a chart author.
    let message = formatted.split(", set DuplicateKeyPolicy").next().unwrap_or_default();
    let message = match message {
        "expected sequence start" => "expected a list here (`- item` lines)",
        "expected mapping start" => "expected a map here (`key: value` lines)",
        other => other,
    };
    let message: String = message.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let help = if message.starts_with("duplicate mapping key") {
        "the key is written twice in this map; keep one (Helm would silently keep the last)"
    } else if message.starts_with("expected a list") {
        "write the entries as `- item` lines under the key, or `[a, b]`"
    } else if message.starts_with("expected a map") {
        "write `key: value` lines under the key, indented, or `{key: value}`"
    } else if message.starts_with("invalid type") || message.contains("expected") && message.contains("found")
    {
        "give this field the kind of value Helm expects here (see the Chart.yaml reference)"
    } else {
        "fix the YAML at this line: check the indentation, the quoting and the space after each `:`"
    };
    let span = error.location().and_then(|location| span_of(file, &location));
    located(span, message).with_help(help)
}

/// A problem at `span`, or about the whole file when the position is unknown.
fn located(span: Option<Range<usize>>, message: impl Into<String>) -> Problem {
    match span {
        Some(span) => Problem::at(span, message),
        None => Problem::whole_file(message),
    }
}

/// The `Err` of a sink known to hold at least one problem.
fn finish_err(sink: ProblemSink) -> Error {
    match sink.finish(()) {
        Err(problems) => Error::Invalid(problems),
        // Unreachable by construction; report something sensible rather than panic.
        Ok(()) => Error::Chart {
            chart: Default::default(),
            reason: "internal error: a problem was reported without details".into(),
            help: None,
        },
    }
}

/// The byte range of a parsed node: its start from line and column, its length from the
/// parser's byte length when known.
fn span_of(file: &SourceFile, location: &Location) -> Option<Range<usize>> {
    if location.line() == 0 {
        return None;
    }
    let start = file.offset_of(location.line() as usize, location.column() as usize);
    let len = location.span().byte_len().unwrap_or(0) as usize;
    Some(start..widen(file, start, len))
}

/// The end of a span of `len` bytes from `start`, kept inside the text and on a character
/// boundary; an empty span grows to cover one character so that it can be underlined.
fn widen(file: &SourceFile, start: usize, len: usize) -> usize {
    let text = &file.text;
    let start = start.min(text.len());
    let mut end = (start + len).min(text.len());
    if end == start {
        if let Some(c) = text[start..].chars().next().filter(|c| *c != '\n') {
            end = start + c.len_utf8();
        }
    }
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// The text a span covers, for messages that quote what the user wrote.
fn written<'a>(file: &'a SourceFile, span: &Option<Range<usize>>) -> Option<&'a str> {
    span.as_ref().and_then(|span| file.text.get(span.clone())).map(str::trim)
}

/// Reads a field Helm stores as a string; `key` is the YAML key, for messages. Numbers and
/// booleans are accepted when Helm's conversion gives back exactly what was written (`2`,
/// `true`), and refused when it does not (`1.10` becomes `1.1`, `yes` becomes `true`).
/// A spelling go-yaml does not take for a boolean (`yEs`) is the string it is. `null`
/// counts as absent.
fn string_value(
    file: &SourceFile,
    key: &str,
    scalar: &Spanned<Scalar>,
    sink: &mut ProblemSink,
) -> Option<String> {
    let span = span_of(file, &scalar.referenced);
    let (converted, kind) = match &scalar.value {
        Scalar::Str(text) => return Some(text.clone()),
        Scalar::Null => return None,
        Scalar::Bool(value) => (value.to_string(), "boolean"),
        Scalar::Number(value) => (value.clone(), "number"),
    };
    let as_written = written(file, &span).unwrap_or(&converted).to_string();
    if as_written == converted {
        return Some(converted);
    }
    if kind == "boolean" && go_bool(&as_written).is_none() {
        return Some(as_written);
    }
    sink.push(
        located(span, format!("`{key}: {as_written}` is a YAML {kind}, which Helm reads as `{converted}`"))
            .with_help(format!("quote it: `{key}: \"{as_written}\"`")),
    );
    None
}

/// An optional string field.
fn optional_string(
    file: &SourceFile,
    field: &str,
    scalar: Option<&Spanned<Scalar>>,
    sink: &mut ProblemSink,
) -> Option<String> {
    scalar.and_then(|scalar| string_value(file, field, scalar, sink))
}

/// `apiVersion`: `v1` or `v2`; absent is `v1`, as Helm reads charts made for Helm 2.
fn api_version(file: &SourceFile, scalar: Option<&Spanned<Scalar>>, sink: &mut ProblemSink) -> String {
    let help = "use `apiVersion: v2` (Helm 3 charts) or `apiVersion: v1` (Helm 2 charts)";
    match optional_string(file, "apiVersion", scalar, sink) {
        Some(value) if value == "v1" || value == "v2" => value,
        Some(value) => {
            let span = scalar.and_then(|s| span_of(file, &s.referenced));
            sink.push(located(span, format!("unsupported chart apiVersion `{value}`")).with_help(help));
            "v2".to_string()
        }
        None => "v1".to_string(),
    }
}

/// `name`: non-empty, not `.` or `..`, no path separator.
fn chart_name(file: &SourceFile, scalar: Option<&Spanned<Scalar>>, sink: &mut ProblemSink) -> String {
    let span = scalar.and_then(|s| span_of(file, &s.referenced));
    let Some(name) = optional_string(file, "name", scalar, sink).map(|name| sanitize(&name)) else {
        sink.push(
            Problem::whole_file("Chart.yaml has no `name`")
                .with_help("add `name: <chart name>`; it names the packaged archive"),
        );
        return String::new();
    };
    let reason = if name.trim().is_empty() {
        Some("the chart name is empty")
    } else if name == "." || name == ".." {
        Some("the chart name cannot be `.` or `..`")
    } else if name.contains(['/', '\\']) {
        Some("the chart name cannot contain a path separator")
    } else {
        None
    };
    if let Some(reason) = reason {
        sink.push(
            located(span, reason).with_help(
                "use a plain name such as `my-app`; it becomes the top folder of the chart archive",
            ),
        );
    }
    name
}

/// `version`: a version Helm accepts (Masterminds/semver: `1.2.3`, `v1.2.3`, `1.2`, `1`).
fn chart_version(
    file: &SourceFile,
    scalar: Option<&Spanned<Scalar>>,
    sink: &mut ProblemSink,
) -> semver::Version {
    let placeholder = semver::Version::new(0, 0, 0);
    let Some(scalar) = scalar.filter(|s| s.value != Scalar::Null) else {
        sink.push(
            Problem::whole_file("Chart.yaml has no `version`")
                .with_help("add a SemVer 2 version, e.g. `version: \"0.1.0\"`"),
        );
        return placeholder;
    };
    let span = span_of(file, &scalar.referenced);
    let text = match &scalar.value {
        Scalar::Str(text) => text.clone(),
        // An unquoted number is fine when Helm's string of it is what was written
        // (`version: 1.2`, `version: 2`), not when it changes it (`1.10` becomes `1.1`).
        Scalar::Number(converted) => {
            let as_written = written(file, &span).unwrap_or(converted).to_string();
            if &as_written != converted {
                let help = match strict_form(&as_written) {
                    Some(strict) if version::parse_version(&as_written).is_err() => {
                        format!("quote it and use the full SemVer form: `version: \"{strict}\"`")
                    }
                    _ => format!("quote it: `version: \"{as_written}\"`"),
                };
                sink.push(
                    located(
                        span,
                        format!(
                            "`version: {as_written}` is a YAML number, not a string (Helm would read it as `{converted}`)"
                        ),
                    )
                    .with_help(help),
                );
                return placeholder;
            }
            converted.clone()
        }
        Scalar::Bool(_) | Scalar::Null => {
            sink.push(
                located(span, "`version` must be a string holding a SemVer 2 version")
                    .with_help("e.g. `version: \"0.1.0\"`"),
            );
            return placeholder;
        }
    };
    // Helm sanitizes nothing in `version`: it must parse as written.
    match version::parse_version(&text) {
        Ok(version) => version,
        Err(reason) => {
            let help = match strict_form(&text) {
                Some(strict) => format!(
                    "write `version: \"{strict}\"`: Helm reads versions with Masterminds/semver, which accepts `1.2.3`, `v1.2.3`, `1.2` or `1`, nothing around them"
                ),
                None => "use a SemVer 2 version: MAJOR.MINOR.PATCH with optional -prerelease and +build, e.g. `1.2.3` (Helm also accepts a leading `v` and `1.2` or `1`)".to_string(),
            };
            sink.push(
                located(span, format!("version `{text}` is not a valid version: {reason}")).with_help(help),
            );
            placeholder
        }
    }
}

/// The strict SemVer 2 form of a version that Helm refuses or reads differently
/// (`V1.2.3` → `1.2.3`, ` 1.2 ` → `1.2.0`, `1.10` → `1.10.0`), when there is one.
fn strict_form(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let body = trimmed.strip_prefix(['v', 'V']).unwrap_or(trimmed);
    let (core, rest) = body.split_at(body.find(['-', '+']).unwrap_or(body.len()));
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return None;
    }
    let mut numbers = Vec::with_capacity(3);
    for part in parts {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        numbers.push(part.parse::<u64>().ok()?);
    }
    numbers.resize(3, 0);
    let candidate = format!("{}.{}.{}{rest}", numbers[0], numbers[1], numbers[2]);
    (candidate != text && semver::Version::parse(&candidate).is_ok()).then_some(candidate)
}

/// `type`: empty, `application` or `library`.
fn chart_type(file: &SourceFile, scalar: Option<&Spanned<Scalar>>, sink: &mut ProblemSink) -> ChartType {
    match optional_string(file, "type", scalar, sink).as_deref() {
        None | Some("") | Some("application") => ChartType::Application,
        Some("library") => ChartType::Library,
        Some(other) => {
            let span = scalar.and_then(|s| span_of(file, &s.referenced));
            sink.push(
                located(span, format!("unknown chart type `{other}`"))
                    .with_help("use `application` (installable, the default) or `library` (helpers only)"),
            );
            ChartType::Application
        }
    }
}

/// A maintainer entry may not be empty, as in Helm (which asks for no name at load time;
/// only `helm lint` does).
fn check_maintainers(
    file: &SourceFile,
    maintainers: &[Spanned<Option<RawMaintainer>>],
    sink: &mut ProblemSink,
) {
    for maintainer in maintainers {
        let span = span_of(file, &maintainer.referenced);
        match &maintainer.value {
            None => sink.push(
                located(span, "empty maintainer entry")
                    .with_help("fill in `name:` (and `email:` or `url:`), or remove the `-` line"),
            ),
            Some(raw) => {
                if let Some(name) = &raw.name {
                    string_value(file, "name", name, sink);
                }
            }
        }
    }
}

/// Validates `dependencies:` entries: name and version range required, alias and
/// condition well formed, names/aliases unique.
fn check_dependencies(
    file: &SourceFile,
    entries: &[Spanned<Option<RawDependency>>],
    sink: &mut ProblemSink,
) -> (Vec<DependencySpec>, Vec<DependencySite>) {
    let mut specs = Vec::new();
    let mut sites = Vec::new();
    // Values key (alias, else name) → line of its first declaration.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for entry in entries {
        let entry_span = span_of(file, &entry.referenced);
        let Some(raw) = &entry.value else {
            sink.push(
                located(entry_span, "empty dependency entry")
                    .with_help("fill in `name:` and `version:`, or remove the `-` line"),
            );
            continue;
        };
        let site = DependencySite {
            entry: entry_span.clone(),
            name: raw.name.as_ref().and_then(|s| span_of(file, &s.referenced)),
            version: raw.version.as_ref().and_then(|s| span_of(file, &s.referenced)),
        };
        // Helm's Dependency.Validate sanitizes these strings.
        let name =
            optional_string(file, "name", raw.name.as_ref(), sink).map(|s| sanitize(&s)).unwrap_or_default();
        if name.trim().is_empty() {
            sink.push(
                located(site.name_or_entry(), "a dependency has no name")
                    .with_help("add `name:`: the name of the subchart under charts/"),
            );
        }
        let version = optional_string(file, "version", raw.version.as_ref(), sink)
            .map(|s| sanitize(&s))
            .unwrap_or_default();
        if version.trim().is_empty() {
            sink.push(
                located(site.name_or_entry(), format!("dependency `{name}` has no version range"))
                    .with_help("add a SemVer range, e.g. `version: \"^1.2.0\"` or `version: \"~1.2.0\"`"),
            );
        } else if let Err(reason) = version::VersionRange::parse(&version) {
            sink.push(
                located(
                    site.version_or_name(),
                    format!("dependency `{name}`: version range `{version}` is not valid: {reason}"),
                )
                .with_help(
                    "use a range Helm reads (Masterminds/semver), such as `1.2.3`, `^1.2.0`, `~1.2`, `1.2.x`, `>=1.0.0 <2.0.0` or `^1 || ^2`",
                ),
            );
        }
        let alias = optional_string(file, "alias", raw.alias.as_ref(), sink);
        if let Some(alias) = &alias {
            let valid = !alias.is_empty()
                && alias.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                let span = raw.alias.as_ref().and_then(|s| span_of(file, &s.referenced));
                sink.push(
                    located(
                        span,
                        format!("dependency `{name}` has disallowed characters in its alias `{alias}`"),
                    )
                    .with_help("an alias may use letters, digits, `-` and `_` only"),
                );
            }
        }
        let condition =
            optional_string(file, "condition", raw.condition.as_ref(), sink).map(|s| sanitize(&s));
        if let Some(condition) = &condition {
            if let Err(reason) = dependencies::check_condition(condition) {
                let span = raw.condition.as_ref().and_then(|s| span_of(file, &s.referenced));
                sink.push(
                    located(
                        span,
                        format!("dependency `{name}`: condition `{condition}` is malformed: {reason}"),
                    )
                    .with_help(
                        "write values paths separated by commas, e.g. `redis.enabled,global.redis.enabled`",
                    ),
                );
            }
        }
        let tags = raw
            .tags
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter_map(|tag| string_value(file, "tags", tag, sink).map(|s| sanitize(&s)))
            .collect();
        let repository =
            optional_string(file, "repository", raw.repository.as_ref(), sink).map(|s| sanitize(&s));

        let key = alias.clone().unwrap_or_else(|| name.clone());
        let line = site.name_or_entry().map_or(0, |span| file.line_col(span.start).0);
        if !key.is_empty() {
            if let Some(first_line) = seen.get(&key) {
                let span = raw
                    .alias
                    .as_ref()
                    .and_then(|s| span_of(file, &s.referenced))
                    .or_else(|| site.name_or_entry());
                sink.push(
                    located(span, format!("more than one dependency with name or alias `{key}`")).with_help(
                        format!("the first is on line {first_line}; give one of them a distinct `alias:`"),
                    ),
                );
            } else {
                seen.insert(key, line);
            }
        }
        specs.push(DependencySpec { name, version, repository, alias, condition, tags });
        sites.push(site);
    }
    (specs, sites)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ParsedMetadata> {
        parse_chart_yaml(&SourceFile::new("chart/Chart.yaml", text), None)
    }

    fn problems(text: &str) -> Vec<String> {
        match parse(text) {
            Err(Error::Invalid(problems)) => problems.located_lines(),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn valid_chart_yaml_is_read() -> Result<()> {
        let parsed = parse(
            "apiVersion: v2\nname: demo\nversion: 1.2.3-rc.1\nappVersion: 2\ntype: library\n\
             description: Demo\nannotations:\n  artifacthub.io/images: |\n    - image: nginx\n\
             dependencies:\n  - name: redis\n    version: \">=1.0.0 <2.0.0\"\n    alias: cache\n\
             \x20   condition: cache.enabled,global.cache\n    tags: [a, b]\n\
             \x20 - name: redis\n    version: ~1.2.0\nhome: https://example.com\n",
        )?;
        let metadata = parsed.metadata;
        assert_eq!(metadata.name, "demo");
        assert_eq!(metadata.version, semver::Version::parse("1.2.3-rc.1").unwrap());
        assert_eq!(metadata.app_version.as_deref(), Some("2"));
        assert_eq!(metadata.chart_type, ChartType::Library);
        assert_eq!(metadata.annotations["artifacthub.io/images"], "- image: nginx\n");
        assert_eq!(metadata.dependencies.len(), 2);
        assert_eq!(metadata.dependencies[0].values_key(), "cache");
        assert_eq!(metadata.dependencies[0].tags, ["a", "b"]);
        assert_eq!(metadata.dependencies[1].values_key(), "redis");
        assert_eq!(parsed.dependency_sites.len(), 2);
        Ok(())
    }

    #[test]
    fn float_version_is_refused_with_quote_hint() {
        let lines = problems("apiVersion: v2\nname: demo\nversion: 1.10\n");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("chart/Chart.yaml:3:10: "), "{lines:?}");
        assert!(lines[0].contains("YAML number"), "{lines:?}");
        assert!(lines[0].contains("`1.1`"), "{lines:?}");
        assert!(lines[0].contains("quote it: `version: \"1.10\"`"), "{lines:?}");
        let lines = problems("apiVersion: v2\nname: demo\nversion: 1.0\n");
        assert!(lines[0].contains("Helm would read it as `1`"), "{lines:?}");
    }

    #[test]
    fn numbers_helm_reads_as_written_are_accepted() -> Result<()> {
        let parsed = parse("apiVersion: v2\nname: demo\nversion: 1.2\nappVersion: 3\n")?;
        assert_eq!(parsed.metadata.version, semver::Version::new(1, 2, 0));
        assert_eq!(parsed.metadata.app_version.as_deref(), Some("3"));
        let chart_yaml = SourceFile::new("c/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 1.2\n");
        assert_eq!(version_as_written(&chart_yaml).as_deref(), Some("1.2"));
        Ok(())
    }

    #[test]
    fn helm_reads_these_strings_its_own_way() {
        let lines = problems("apiVersion: v2\nname: demo\nversion: 1.0.0\nappVersion: 0755\n");
        assert!(
            lines[0].contains(":4:13: `appVersion: 0755` is a YAML number, which Helm reads as `493`"),
            "{lines:?}"
        );
        let lines = problems("apiVersion: v2\nname: demo\nversion: 1.0.0\nappVersion: 1e6\n");
        assert!(lines[0].contains("Helm reads as `1e+06`"), "{lines:?}");
        let lines = problems("apiVersion: v2\nname: demo\nversion: 1.0.0\nappVersion: yes\n");
        assert!(
            lines[0].contains("`appVersion: yes` is a YAML boolean, which Helm reads as `true`"),
            "{lines:?}"
        );
    }

    #[test]
    fn strings_are_sanitized_as_helm_does() -> Result<()> {
        let parsed = parse(
            "apiVersion: v2\nname: demo\nversion: 1.0.0\nappVersion: yEs\ndescription: |\n  one\n  two\n",
        )?;
        assert_eq!(
            parsed.metadata.app_version.as_deref(),
            Some("yEs"),
            "go-yaml's spellings only are booleans"
        );
        assert_eq!(parsed.metadata.description.as_deref(), Some("one two "));
        Ok(())
    }

    #[test]
    fn later_documents_are_ignored_as_helm_does() -> Result<()> {
        let parsed = parse("apiVersion: v2\nname: demo\nversion: 1.0.0\n---\nname: [unclosed\n")?;
        assert_eq!(parsed.metadata.name, "demo");
        Ok(())
    }

    #[test]
    fn anchors_and_merge_keys_in_chart_yaml() -> Result<()> {
        let parsed = parse(
            "apiVersion: v2\nname: demo\nversion: 1.0.0\nx-dep: &dep\n  version: ~1\n  repository: file://x\n\
             dependencies:\n  - <<: *dep\n    name: a\n  - <<: *dep\n    name: b\n",
        )?;
        let dependencies = &parsed.metadata.dependencies;
        assert_eq!(dependencies.len(), 2);
        assert_eq!((dependencies[1].name.as_str(), dependencies[1].version.as_str()), ("b", "~1"));
        Ok(())
    }

    #[test]
    fn lenient_versions_are_accepted_as_helm_does() -> Result<()> {
        for (text, expected) in
            [("v1.21.1", "1.21.1"), ("\"1.2\"", "1.2.0"), ("\"1\"", "1.0.0"), ("v0.0.0", "0.0.0")]
        {
            let parsed =
                parse(&format!("apiVersion: v2\nname: demo\nversion: {text}\nappVersion: v2.0.0\n"))?;
            assert_eq!(parsed.metadata.version, semver::Version::parse(expected).unwrap(), "{text}");
            assert_eq!(parsed.metadata.app_version.as_deref(), Some("v2.0.0"));
        }
        let chart_yaml = SourceFile::new("c/Chart.yaml", "apiVersion: v2\nname: demo\nversion: v1.21.1\n");
        assert_eq!(version_as_written(&chart_yaml).as_deref(), Some("v1.21.1"));
        Ok(())
    }

    #[test]
    fn versions_helm_refuses_get_the_strict_form() {
        let lines = problems("apiVersion: v2\nname: demo\nversion: V1.2.3\n");
        assert!(lines[0].contains("chart/Chart.yaml:3:10"), "{lines:?}");
        assert!(lines[0].contains("lowercase"), "{lines:?}");
        assert!(lines[0].contains("`version: \"1.2.3\"`"), "{lines:?}");
        let lines = problems("apiVersion: v2\nname: demo\nversion: \" 1.2\"\n");
        assert!(lines[0].contains("`version: \"1.2.0\"`"), "{lines:?}");
        let lines = problems("apiVersion: v2\nname: demo\nversion: banana\n");
        assert!(lines[0].contains("version `banana` is not a valid version"), "{lines:?}");
        assert!(lines[0].contains("MAJOR.MINOR.PATCH"), "{lines:?}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let lines = problems("apiVersion: v3\nname: ../x\nversion: 1.0\ntype: plugin\n");
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[0].contains(":1:13: unsupported chart apiVersion `v3`"), "{lines:?}");
        assert!(lines[1].contains(":2:7: "), "{lines:?}");
        assert!(lines[2].contains(":3:10: "), "{lines:?}");
        assert!(lines[3].contains(":4:7: unknown chart type `plugin`"), "{lines:?}");
    }

    #[test]
    fn missing_fields_are_reported() {
        let lines = problems("description: nothing else\n");
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("no `name`")));
        assert!(lines.iter().any(|l| l.contains("no `version`")));
        assert_eq!(problems("").len(), 1);
    }

    #[test]
    fn deeply_nested_chart_yaml_is_refused_not_a_crash() {
        let nested = |depth: usize| format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth));
        let text = format!("apiVersion: v2\nname: a\nversion: 1.0.0\njunk: {}\n", nested(500));
        let lines = problems(&text);
        assert!(lines[0].starts_with("chart/Chart.yaml:4:"), "{lines:?}");
    }

    #[test]
    fn helm_2_charts_without_api_version_are_v1() -> Result<()> {
        let parsed = parse("name: old\nversion: 0.1.0\nmaintainers:\n  - email: a@example.com\n")?;
        assert_eq!(parsed.metadata.api_version, "v1");
        let lines = problems("apiVersion: v2\nname: a\nversion: 1.0.0\nmaintainers:\n  -\n");
        assert!(lines[0].contains(":5:4: empty maintainer entry"), "{lines:?}");
        Ok(())
    }

    #[test]
    fn duplicate_dependency_is_refused() {
        let lines = problems(
            "apiVersion: v2\nname: demo\nversion: 1.0.0\ndependencies:\n\
             \x20 - name: redis\n    version: 1.0.0\n\
             \x20 - name: redis\n    version: 2.0.0\n",
        );
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains(":7:11: more than one dependency with name or alias `redis`"), "{lines:?}");
        assert!(lines[0].contains("line 5"), "{lines:?}");
    }

    #[test]
    fn dependency_fields_are_checked() {
        let lines = problems(
            "apiVersion: v2\nname: demo\nversion: 1.0.0\ndependencies:\n\
             \x20 -\n\
             \x20 - version: 1.0.0\n\
             \x20 - name: b\n\
             \x20 - name: c\n    version: \"!!nope\"\n\
             \x20 - name: d\n    version: \"1.0.0\"\n    alias: \"a b\"\n    condition: \"x..y\"\n",
        );
        assert_eq!(lines.len(), 6, "{lines:?}");
        assert!(lines[0].contains(":5:4: empty dependency entry"), "{lines:?}");
        assert!(lines[1].contains("a dependency has no name"), "{lines:?}");
        assert!(lines[2].contains("dependency `b` has no version range"), "{lines:?}");
        assert!(lines[3].contains(":9:14: dependency `c`: version range"), "{lines:?}");
        assert!(lines[4].contains("alias"), "{lines:?}");
        assert!(lines[5].contains("condition `x..y`"), "{lines:?}");
    }

    #[test]
    fn yaml_syntax_error_is_located() {
        let lines = problems("apiVersion: v2\nname: [demo\n");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("chart/Chart.yaml:2:"), "{lines:?}");
        let lines = problems("apiVersion: v2\nname: a\nname: b\nversion: 1.0.0\n");
        assert!(lines[0].contains(":3:1: duplicate mapping key"), "{lines:?}");
        assert!(!lines[0].contains("DuplicateKeyPolicy"), "{lines:?}");
        let lines = problems("apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies: redis\n");
        assert!(lines[0].contains(":4:15: expected a list here"), "{lines:?}");
    }

    #[test]
    fn v1_dependencies_come_from_requirements_yaml() -> Result<()> {
        let chart = SourceFile::new("c/Chart.yaml", "apiVersion: v1\nname: old\nversion: 0.1.0\n");
        let requirements =
            SourceFile::new("c/requirements.yaml", "dependencies:\n- name: mysql\n  version: 0.x\n");
        let parsed = parse_chart_yaml(&chart, Some(&requirements))?;
        assert_eq!(parsed.metadata.dependencies[0].name, "mysql");
        assert_eq!(parsed.dependency_file.path, "c/requirements.yaml");
        let bad = SourceFile::new("c/requirements.yaml", "dependencies:\n- name: mysql\n");
        let Err(Error::Invalid(problems)) = parse_chart_yaml(&chart, Some(&bad)) else {
            panic!("expected a problem in requirements.yaml");
        };
        assert_eq!(problems.file.path, "c/requirements.yaml");
        Ok(())
    }

    #[test]
    fn values_are_parsed() -> Result<()> {
        let empty = parse_values(&SourceFile::new("values.yaml", "# nothing\n"))?;
        assert_eq!(empty, serde_json::json!({}));
        let values = parse_values(&SourceFile::new("values.yaml", "a: 1\na: 2\nb: {c: [x]}\n"))?;
        assert_eq!(values, serde_json::json!({"a": 2, "b": {"c": ["x"]}}));
        let Err(Error::Invalid(problems)) = parse_values(&SourceFile::new("values.yaml", "a: 1\nb: [\n"))
        else {
            panic!("expected a syntax problem");
        };
        assert!(problems.located_lines()[0].starts_with("values.yaml:2:"), "{problems}");
        assert!(parse_values(&SourceFile::new("values.yaml", "- 1\n")).is_err());
        Ok(())
    }

    #[test]
    fn schema_must_be_json() {
        assert!(check_schema(&SourceFile::new("values.schema.json", "{\"type\": \"object\"}")).is_ok());
        let Err(Error::Invalid(problems)) =
            check_schema(&SourceFile::new("values.schema.json", "{\n  \"a\": ,\n}"))
        else {
            panic!("expected a JSON problem");
        };
        assert!(problems.located_lines()[0].starts_with("values.schema.json:2:"), "{problems}");
    }

    #[test]
    fn non_utf8_is_refused() {
        assert!(matches!(text_file("Chart.yaml", b"name: \xff\n"), Err(Error::Invalid(_))));
    }

    #[test]
    fn strict_form_suggestions() {
        assert_eq!(strict_form("V1.2.3").as_deref(), Some("1.2.3"));
        assert_eq!(strict_form("1").as_deref(), Some("1.0.0"));
        assert_eq!(strict_form("1.2-beta.1").as_deref(), Some("1.2.0-beta.1"));
        assert_eq!(strict_form("01.02.03").as_deref(), Some("1.2.3"));
        assert_eq!(strict_form("1.2.3"), None);
        assert_eq!(strict_form("banana"), None);
        assert_eq!(strict_form("1.2.3.4"), None);
    }
}
