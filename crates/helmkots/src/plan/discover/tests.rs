use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::values::go_float_string;
use super::*;
use crate::diagnostic::SourceFile;
use crate::input::chart::{ChartFile, ChartMetadata, ChartOrigin, ChartType, DependencySpec};

const SHA_HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A chart built by hand: name, appVersion, values, templates (path under `templates/`,
/// text), annotations, and subcharts with their optional alias.
struct Spec<'a> {
    name: &'a str,
    app_version: Option<&'a str>,
    values: Value,
    templates: Vec<(&'a str, &'a str)>,
    annotations: Vec<(&'a str, &'a str)>,
    subcharts: Vec<(Option<&'a str>, Chart)>,
}

fn spec(values: Value) -> Spec<'static> {
    Spec {
        name: "demo",
        app_version: None,
        values,
        templates: vec![],
        annotations: vec![],
        subcharts: vec![],
    }
}

fn build(spec: Spec<'_>) -> Chart {
    let dependencies = spec
        .subcharts
        .iter()
        .map(|(alias, chart)| DependencySpec {
            name: chart.metadata.name.clone(),
            version: chart.metadata.version.to_string(),
            repository: None,
            alias: alias.map(str::to_string),
            condition: None,
            tags: vec![],
        })
        .collect();
    let mut vendored: Vec<Chart> = Vec::new();
    for (_, chart) in spec.subcharts {
        if !vendored.iter().any(|known| known.metadata.name == chart.metadata.name) {
            vendored.push(chart);
        }
    }
    Chart {
        origin: ChartOrigin::Directory(format!("charts/{}", spec.name).into()),
        metadata: ChartMetadata {
            api_version: "v2".into(),
            name: spec.name.into(),
            version: semver::Version::new(1, 0, 0),
            app_version: spec.app_version.map(str::to_string),
            chart_type: ChartType::Application,
            description: None,
            dependencies,
            annotations: spec.annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        },
        metadata_file: SourceFile::new("Chart.yaml", ""),
        values: spec.values,
        files: spec
            .templates
            .iter()
            .map(|(path, text)| ChartFile {
                path: format!("templates/{path}"),
                data: text.as_bytes().to_vec(),
            })
            .collect(),
        dependencies: vendored,
    }
}

/// The set as short lines, the form every test compares:
/// `<familiar> <- <chart>:<path> <shape>[ +appVersion]`, `excluded …`, `pull secret …`,
/// `problem …`.
fn summary(set: &ImageSet) -> Vec<String> {
    let source_line = |source: &ImageSource| {
        let shape = match &source.shape {
            ImageShape::String => "string".to_string(),
            ImageShape::RepositoryTag { digest_key: None } => "repository_tag".to_string(),
            ImageShape::RepositoryTag { digest_key: Some(key) } => format!("repository_tag({key})"),
            ImageShape::RegistryRepositoryTag { digest_key, uses_global_registry } => format!(
                "registry_repository_tag({}{})",
                digest_key.as_deref().unwrap_or("-"),
                if *uses_global_registry { ",global" } else { "" }
            ),
            ImageShape::SiblingNameTag { name_key, tag_key } => format!("sibling({name_key},{tag_key})"),
            ImageShape::RegistryNameTag { name_key, tag_key } => {
                format!("registry_name({name_key},{tag_key})")
            }
            ImageShape::Annotation { key, name } => {
                format!("annotation({key},{})", name.as_deref().unwrap_or("-"))
            }
            ImageShape::Include => "include".to_string(),
            ImageShape::Rendered { place } => format!("rendered({place})"),
        };
        format!(
            "{}:{} {shape}{}",
            source.chart.as_deref().unwrap_or("-"),
            source.values_path.as_deref().unwrap_or("-"),
            if source.tag_from_app_version { " +appVersion" } else { "" }
        )
    };
    let mut lines = Vec::new();
    for image in &set.images {
        let sources: Vec<String> = image.sources.iter().map(source_line).collect();
        lines.push(format!("{} <- {}", image.reference.familiar(), sources.join("; ")));
    }
    for excluded in &set.excluded {
        lines.push(format!("excluded {} by {}", excluded.image.reference.familiar(), excluded.pattern));
    }
    for secret in &set.pull_secret_paths {
        let seen = match (secret.in_values, secret.in_templates) {
            (true, true) => "values+templates",
            (true, false) => "values",
            _ => "templates",
        };
        lines.push(format!("pull secret {}:{} ({seen})", secret.chart, secret.values_path));
    }
    for problem in &set.problems {
        let kind = match &problem.kind {
            DiscoveryProblemKind::InvalidReference { error } => {
                format!("invalid {:?}@{:?} in `{}`", error.reason, error.offset, error.input)
            }
            DiscoveryProblemKind::MissingTag { tag_key, app_version_fallback, .. } => {
                format!(
                    "missing tag {tag_key}{}",
                    if *app_version_fallback { " (no appVersion)" } else { "" }
                )
            }
            DiscoveryProblemKind::InvalidAnnotation { reason } => format!("bad annotation: {reason}"),
            DiscoveryProblemKind::UnusedExclude { pattern } => format!("unused exclude {pattern}"),
            DiscoveryProblemKind::NotRewritable { reason } => format!("not rewritable: {reason}"),
            DiscoveryProblemKind::StaleRenders => "stale renders".to_string(),
            DiscoveryProblemKind::LeftOut { image, collides_with } => {
                format!("left out {image} ({collides_with})")
            }
            DiscoveryProblemKind::UntaggedGuess { tag_key } => format!("untagged guess {tag_key}"),
        };
        lines.push(format!("problem {}: {kind}", problem.site));
    }
    lines
}

fn check_with(chart: &Chart, include: &[&str], exclude: &[&str], expected: &[&str]) {
    let include: Vec<String> = include.iter().map(|s| s.to_string()).collect();
    let exclude: Vec<String> = exclude.iter().map(|s| s.to_string()).collect();
    let set = discover(chart, &include, &exclude);
    let got = summary(&set);
    assert_eq!(got, expected, "\ngot:\n{}\n", got.join("\n"));
    // Every values path is valid ValuePath syntax that prints back the same.
    for source in set.images.iter().flat_map(|image| &image.sources) {
        if let Some(path) = source.values_path.as_deref().filter(|path| !path.is_empty()) {
            let parsed = ValuePath::parse(path).unwrap_or_else(|error| panic!("{path}: {error}"));
            assert_eq!(parsed.to_string(), path);
        }
    }
}

fn check(chart: &Chart, expected: &[&str]) {
    check_with(chart, &[], &[], expected);
}

#[test]
fn string_shape() {
    check(
        &build(spec(json!({
            "image": "nginx:1.25",
            "proxy": {"image": format!("docker.io/bitnami/nginx@sha256:{SHA_HEX}")},
            "helperImage": "quay.io/org/helper",
            "init_image": "busybox:1.36",
            "optional": {"image": ""},
        }))),
        &[
            &format!("bitnami/nginx@sha256:{SHA_HEX} <- demo:proxy.image string"),
            "busybox:1.36 <- demo:init_image string",
            "nginx:1.25 <- demo:image string",
            "quay.io/org/helper:latest <- demo:helperImage string",
        ],
    );
}

#[test]
fn repository_tag_shape() {
    check(
        &build(spec(json!({
            "image": {"repository": "grafana/grafana", "tag": "7.3.5", "sha": "", "pullPolicy": "IfNotPresent"},
            "sidecar": {"image": {"repository": "kiwigrid/k8s-sidecar", "tag": "1.1.0", "sha": SHA_HEX}},
            "downloadDashboardsImage": {"repository": "curlimages/curl", "tag": "7.73.0"},
            "metrics": {"exporter": {"repository": "prom/statsd-exporter", "tag": "v0.26.0"}},
            "pinned": {"image": {"repository": "nginx", "digest": format!("sha256:{SHA_HEX}")}},
            "disabled": {"image": {"repository": "", "tag": ""}},
        }))),
        &[
            "curlimages/curl:7.73.0 <- demo:downloadDashboardsImage repository_tag",
            "grafana/grafana:7.3.5 <- demo:image repository_tag(sha)",
            &format!("kiwigrid/k8s-sidecar:1.1.0@sha256:{SHA_HEX} <- demo:sidecar.image repository_tag(sha)"),
            &format!("nginx@sha256:{SHA_HEX} <- demo:pinned.image repository_tag(digest)"),
            "prom/statsd-exporter:v0.26.0 <- demo:metrics.exporter repository_tag",
        ],
    );
}

#[test]
fn registry_repository_tag_shape() {
    check(
        &build(spec(json!({
            "image": {"registry": "docker.io", "repository": "bitnami/nginx", "tag": "1.25.3", "digest": ""},
            "metrics": {"image": {"registry": "quay.io", "repository": "org/exporter", "tag": "2"}},
            "noRegistry": {"image": {"registry": "", "repository": "bitnami/os-shell", "tag": "12"}},
        }))),
        &[
            "bitnami/nginx:1.25.3 <- demo:image registry_repository_tag(digest)",
            "bitnami/os-shell:12 <- demo:noRegistry.image registry_repository_tag(-)",
            "quay.io/org/exporter:2 <- demo:metrics.image registry_repository_tag(-)",
        ],
    );
}

#[test]
fn global_image_registry_overrides() {
    check(
        &build(spec(json!({
            "global": {"imageRegistry": "registry.example.com:5000", "imagePullSecrets": []},
            "image": {"registry": "docker.io", "repository": "bitnami/nginx", "tag": "1.25.3"},
            "plain": {"image": {"repository": "bitnami/redis", "tag": "7"}},
        }))),
        &[
            "bitnami/redis:7 <- demo:plain.image repository_tag",
            "registry.example.com:5000/bitnami/nginx:1.25.3 <- demo:image registry_repository_tag(-,global)",
            "pull secret demo:global.imagePullSecrets (values)",
        ],
    );
}

#[test]
fn sibling_name_and_tag_shape() {
    check(
        &build(spec(json!({
            "testFramework": {"enabled": true, "image": "bats/bats", "tag": "v1.1.0", "imagePullPolicy": "IfNotPresent"},
            "agent": {"image": "org/agent", "imageTag": "3.1"},
            "worker": {"initImage": "busybox", "initImageTag": "1.36", "image": "org/worker:9", "tag": "ignored"},
            "image": "top/level",
            "tag": "5",
        }))),
        &[
            "bats/bats:v1.1.0 <- demo:testFramework sibling(image,tag)",
            "busybox:1.36 <- demo:worker sibling(initImage,initImageTag)",
            "org/agent:3.1 <- demo:agent sibling(image,imageTag)",
            "org/worker:9 <- demo:worker.image string",
            "top/level:5 <- demo: sibling(image,tag)",
        ],
    );
}

#[test]
fn lists_and_numbers() {
    check(
        &build(spec(json!({
            "extraContainers": [{"name": "proxy", "image": "quay.io/gambol99/keycloak-proxy:latest"}],
            "a": {"image": {"repository": "org/a", "tag": 1.10}},
            "b": {"image": {"repository": "org/b", "tag": 3}},
            "c": {"image": {"repository": "org/c", "tag": 20200101}},
            "dotted.key": {"image": "org/d:1"},
        }))),
        &[
            "org/a:1.1 <- demo:a.image repository_tag",
            "org/b:3 <- demo:b.image repository_tag",
            "org/d:1 <- demo:\"dotted.key\".image string",
            "quay.io/gambol99/keycloak-proxy:latest <- demo:extraContainers[0].image string",
            "problem chart `demo`, values `c.image`: invalid InvalidTag@Some(16) in `org/c:2.0200101e+07`",
        ],
    );
}

#[test]
fn go_number_rendering() {
    for (number, text) in [
        (1.1, "1.1"),
        (3.0, "3"),
        (999999.0, "999999"),
        (1000000.0, "1e+06"),
        (20200101.0, "2.0200101e+07"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
        (0.0, "0"),
    ] {
        assert_eq!(go_float_string(number), text, "{number}");
    }
}

#[test]
fn no_false_positives() {
    check(
        &build(spec(json!({
            "image": {"pullPolicy": "IfNotPresent", "pullSecrets": ["regcred"]},
            "imagePullPolicy": "Always",
            "imageRenderer": {"enabled": false, "env": {"HTTP_HOST": "0.0.0.0"}},
            "plugins": ["grafana-clock-panel", "digrich-bubblechart-panel"],
            "grafana.ini": {"grafana_net": {"url": "https://grafana.net"}, "paths": {"data": "/var/lib/grafana"}},
            "chartRepo": {"repository": "https://charts.example.com", "tag": "stable"},
            "git": {"repository": "git@github.com:org/repo.git"},
            "persistence": {"accessModes": ["ReadWriteOnce"], "size": "10Gi"},
            "service": {"type": "ClusterIP", "port": 80},
            "extraContainers": "- name: proxy\n  image: quay.io/x/y:1\n",
            "sidecar": {"image": {"repository": "", "tag": "", "sha": ""}},
            "annotations": {"image": true},
        }))),
        &["pull secret demo:image.pullSecrets (values)"],
    );
}

#[test]
fn app_version_fallback() {
    let values = || {
        json!({
            "image": {"repository": "org/app", "tag": ""},
            "migrations": {"image": "org/migrate", "tag": null},
            "exporter": {"image": {"repository": "org/exporter", "tag": ""}},
        })
    };
    let templates = vec![(
        "deployment.yaml",
        "image: \"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\"\n\
         image: \"{{ .Values.migrations.image }}:{{ default (printf \"v%s\" $.Chart.AppVersion) .Values.migrations.tag }}\"\n\
         {{- if or .Chart.AppVersion .Values.exporter.image.tag }}version: x{{ end }}\n",
    )];
    // With an appVersion: the tags come from it, the exporter's does not (no `default`).
    check(
        &build(Spec { app_version: Some("2.4.0"), templates: templates.clone(), ..spec(values()) }),
        &[
            "org/app:2.4.0 <- demo:image repository_tag +appVersion",
            "org/migrate:v2.4.0 <- demo:migrations sibling(image,tag) +appVersion",
            "problem chart `demo`, values `exporter.image`: missing tag tag",
        ],
    );
    // Without the templates' fallback, every empty tag is a problem.
    check(
        &build(Spec { app_version: Some("2.4.0"), ..spec(values()) }),
        &[
            "problem chart `demo`, values `exporter.image`: missing tag tag",
            "problem chart `demo`, values `image`: missing tag tag",
            "problem chart `demo`, values `migrations`: missing tag tag",
        ],
    );
    // With the fallback but no appVersion, the problem says so.
    check(
        &build(Spec { templates, ..spec(values()) }),
        &[
            "problem chart `demo`, values `exporter.image`: missing tag tag",
            "problem chart `demo`, values `image`: missing tag tag (no appVersion)",
            "problem chart `demo`, values `migrations`: missing tag tag (no appVersion)",
        ],
    );
}

#[test]
fn subcharts_with_alias_overrides_and_global() {
    let redis = build(Spec {
        name: "redis",
        app_version: Some("7.2.4"),
        values: json!({
            "global": {"imageRegistry": "", "imagePullSecrets": []},
            "image": {"registry": "docker.io", "repository": "bitnami/redis", "tag": "7.0.0"},
            "sentinel": {"image": {"registry": "docker.io", "repository": "bitnami/redis-sentinel", "tag": ""}},
        }),
        templates: vec![(
            "sentinel.yaml",
            "image: {{ .Values.sentinel.image.tag | default .Chart.AppVersion }}\n\
             {{- range .Values.global.imagePullSecrets }}{{ end }}{{ .Values.image.pullSecrets }}",
        )],
        ..spec(json!({}))
    });
    let parent = build(Spec {
        subcharts: vec![(Some("cache"), redis.clone()), (None, redis)],
        ..spec(json!({
            "global": {"imageRegistry": "mirror.example.com"},
            "image": {"repository": "org/app", "tag": "1"},
            "cache": {"image": {"tag": "7.2.4"}},
            "redis": {"sentinel": {"enabled": false}},
        }))
    });
    check(
        &parent,
        &[
            "org/app:1 <- demo:image repository_tag",
            "mirror.example.com/bitnami/redis:7.0.0 <- redis:redis.image registry_repository_tag(-,global)",
            "mirror.example.com/bitnami/redis:7.2.4 <- redis:cache.image registry_repository_tag(-,global)",
            "mirror.example.com/bitnami/redis-sentinel:7.2.4 <- \
             redis:cache.sentinel.image registry_repository_tag(-,global) +appVersion; \
             redis:redis.sentinel.image registry_repository_tag(-,global) +appVersion",
            "pull secret redis:cache.image.pullSecrets (templates)",
            "pull secret redis:global.imagePullSecrets (values+templates)",
            "pull secret redis:redis.image.pullSecrets (templates)",
        ],
    );
}

#[test]
fn a_parent_null_keeps_a_subchart_default_a_user_null_removes_it() {
    let sub = build(Spec {
        name: "sub",
        values: json!({"image": {"repository": "org/sub", "tag": "1"}, "extra": {"image": "org/extra:2"}}),
        ..spec(json!({}))
    });
    // Helm 4.2 drops the parent's own `null`s before they reach the subchart (helm#32132).
    let parent = build(Spec { subcharts: vec![(None, sub)], ..spec(json!({"sub": {"extra": null}})) });
    check(
        &parent,
        &["org/extra:2 <- sub:sub.extra.image string", "org/sub:1 <- sub:sub.image repository_tag"],
    );
    // A user's `null` (`[chart] values`, as `helm template -f`) does remove it.
    let overrides = json!({"sub": {"extra": null}});
    let set = discover_with(
        &parent,
        &DiscoverOptions { chart_values: Some(&overrides), ..DiscoverOptions::default() },
    );
    assert_eq!(summary(&set), ["org/sub:1 <- sub:sub.image repository_tag"]);
}

#[test]
fn annotations() {
    let chart = build(Spec {
        annotations: vec![
            (
                "artifacthub.io/images",
                "- name: app\n  image: org/app:1.0\n- name: helper\n  image: busybox:1.36\n",
            ),
            ("helm.sh/images", "- org/app:1.0\n- Bad:1\n- {name: x}\n"),
            ("other/annotation", "- not/an/image:1"),
        ],
        ..spec(json!({"image": "org/app:1.0"}))
    });
    check(
        &chart,
        &[
            "busybox:1.36 <- demo:- annotation(artifacthub.io/images,helper)",
            "org/app:1.0 <- demo:- annotation(artifacthub.io/images,app); \
             demo:- annotation(helm.sh/images,-); demo:image string",
            "problem chart `demo`, annotation `helm.sh/images`: invalid UppercaseRepository@Some(0) in `Bad:1`",
            "problem chart `demo`, annotation `helm.sh/images`: bad annotation: entry 2 has no `image` string",
        ],
    );
    let broken = build(Spec { annotations: vec![("artifacthub.io/images", "image: x")], ..spec(json!({})) });
    check(
        &broken,
        &["problem chart `demo`, annotation `artifacthub.io/images`: bad annotation: expected a YAML list of images"],
    );
}

#[test]
fn include_and_exclude() {
    let chart = build(spec(json!({
        "image": {"repository": "grafana/grafana", "tag": "7.3.5"},
        "init": {"image": "busybox:1.31.1"},
        "renderer": {"image": "grafana/grafana-image-renderer:latest"},
        "broken": {"image": "{{ .Values.x }}"},
    })));
    check_with(
        &chart,
        &["quay.io/extra/tool:2", "Not Valid", "busybox:1.31.1"],
        &["busybox", "docker.io/grafana/grafana-image-renderer:*", "{{*", "nothing/*"],
        &[
            "grafana/grafana:7.3.5 <- demo:image repository_tag",
            "busybox:1.31.1 <- -:- include",
            "quay.io/extra/tool:2 <- -:- include",
            "excluded grafana/grafana-image-renderer:latest by docker.io/grafana/grafana-image-renderer:*",
            "excluded busybox:1.31.1 by busybox",
            "problem [images] include[1]: invalid UppercaseRepository@Some(0) in `Not Valid`",
            "problem [images] exclude[3]: unused exclude nothing/*",
        ],
    );
}

#[test]
fn invalid_references_are_reported_not_guessed() {
    check(
        &build(spec(json!({
            "image": "IfNotPresent",
            "a": {"image": {"repository": "Org/App", "tag": "1"}},
            "b": {"image": {"repository": "org/b", "tag": "1.0 beta"}},
            "c": {"image": {"repository": "org/c", "tag": "1", "digest": "sha256:abc"}},
            "d": {"image": " nginx"},
        }))),
        &[
            "problem chart `demo`, values `a.image`: invalid UppercaseRepository@Some(4) in `Org/App:1`",
            "problem chart `demo`, values `b.image`: invalid InvalidTag@Some(9) in `org/b:1.0 beta`",
            "problem chart `demo`, values `c.image`: invalid DigestLength { algorithm: \"sha256\", \
             expected: 64, found: 3 }@Some(15) in `org/c:1@sha256:abc`",
            "problem chart `demo`, values `d.image`: invalid InvalidPathComponent@Some(0) in ` nginx`",
            "problem chart `demo`, values `image`: invalid UppercaseRepository@Some(0) in `IfNotPresent`",
        ],
    );
}

#[test]
fn glob_patterns() {
    for (pattern, text, matches) in [
        ("busybox", "busybox", true),
        ("busybox", "busybox:1", false),
        ("*", "", true),
        ("docker.io/*", "docker.io/library/busybox:1", true),
        ("*/nginx:*", "docker.io/library/nginx:1", true),
        ("a?c", "abc", true),
        ("a?c", "ac", false),
        ("*a*b", "xxaxxb", true),
        ("*a*b", "xxaxxbx", false),
    ] {
        assert_eq!(glob_match(pattern, text), matches, "{pattern} vs {text}");
    }
}

// -----------------------------------------------------------------------------------------
// The grafana 6.1.16 fixture.

const GRAFANA_FIXTURE: &str = "/work/shared/fixtures/charts/grafana-6.1.16.tgz";

const GRAFANA_EXPECTED: [&str; 8] = [
    "bats/bats:v1.1.0 <- grafana:testFramework sibling(image,tag)",
    "curlimages/curl:7.73.0 <- grafana:downloadDashboardsImage repository_tag(sha)",
    "grafana/grafana:7.3.5 <- grafana:image repository_tag(sha)",
    "grafana/grafana-image-renderer:latest <- grafana:imageRenderer.image repository_tag(sha)",
    "kiwigrid/k8s-sidecar:1.1.0 <- grafana:sidecar.image repository_tag(sha)",
    "busybox:1.31.1 <- grafana:initChownData.image repository_tag(sha)",
    "pull secret grafana:image.pullSecrets (templates)",
    "pull secret grafana:imageRenderer.image.pullSecrets (templates)",
];

/// Reads the fixture into a [`Chart`] without the chart loader: Chart.yaml's few fields
/// discovery uses, values.yaml, and every file. Returns `None` when the fixture is absent.
fn grafana_by_hand() -> Option<Chart> {
    let bytes = std::fs::read(GRAFANA_FIXTURE).ok()?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    let mut files = BTreeMap::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let path = entry.path().expect("entry path").to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).expect("entry data");
        let relative = path.strip_prefix("grafana/").expect("grafana/ prefix").to_string();
        files.insert(relative, data);
    }
    let chart_yaml: Value =
        serde_saphyr::from_str(std::str::from_utf8(&files["Chart.yaml"]).unwrap()).expect("Chart.yaml");
    let values: Value =
        serde_saphyr::from_str(std::str::from_utf8(&files["values.yaml"]).unwrap()).expect("values.yaml");
    let text = |key: &str| chart_yaml.get(key).and_then(Value::as_str).map(str::to_string);
    Some(Chart {
        origin: ChartOrigin::Archive(GRAFANA_FIXTURE.into()),
        metadata: ChartMetadata {
            api_version: text("apiVersion").unwrap(),
            name: text("name").unwrap(),
            version: semver::Version::parse(&text("version").unwrap()).unwrap(),
            app_version: text("appVersion"),
            chart_type: ChartType::Application,
            description: text("description"),
            dependencies: vec![],
            annotations: BTreeMap::new(),
        },
        metadata_file: SourceFile::new("grafana/Chart.yaml", ""),
        values,
        files: files.into_iter().map(|(path, data)| ChartFile { path, data }).collect(),
        dependencies: vec![],
    })
}

#[test]
fn grafana_acceptance() {
    let Some(chart) = grafana_by_hand() else {
        eprintln!("skipping: {GRAFANA_FIXTURE} is absent");
        return;
    };
    check(&chart, &GRAFANA_EXPECTED);
}

/// The same acceptance through the real chart loader (`crate::input::chart::load`).
///
/// The loader is being written alongside this module: until it loads the fixture, this
/// test only reports why it skipped (an `Err`, or a `todo!` panic), so that discovery's own
/// acceptance above stays the gate. FIXME: once the loader is done, make both fail the test.
#[test]
fn grafana_acceptance_through_chart_load() {
    let path = camino::Utf8Path::new(GRAFANA_FIXTURE);
    if !path.exists() {
        eprintln!("skipping: {GRAFANA_FIXTURE} is absent");
        return;
    }
    let chart = crate::input::chart::load(path).expect("the loader reads the grafana fixture");
    check(&chart, &GRAFANA_EXPECTED);
}

fn rendered_find(image: &str, site: Option<(&str, ImageShape)>, test_only: bool) -> rendered::RenderedFind {
    rendered::RenderedFind {
        reference: ImageRef::parse(image).unwrap(),
        site: site.map(|(path, shape)| rendered::MappedSite { values_path: path.to_string(), shape }),
        unmappable: None,
        test_only,
        certain: true,
        places: BTreeSet::from(["demo/templates/x.yaml (Pod/x)".to_string()]),
        configurations: BTreeSet::from(["(defaults)".to_string()]),
    }
}

#[test]
fn rendered_finds_replace_values_guesses_and_keep_their_provenance() {
    let chart = build(spec(json!({
        "image": {"repository": "app", "tag": ""},
        "sidecar": {"image": "side:1"},
        "unused": {"image": "optional:3"},
    })));
    let rendered = rendered::RenderedDiscovery {
        finds: vec![
            rendered_find("app:2.0", Some(("image", ImageShape::RepositoryTag { digest_key: None })), false),
            rendered_find("side:1", Some(("sidecar.image", ImageShape::String)), false),
            rendered_find("busybox:1", None, true),
            rendered_find("hard:1", None, false),
        ],
        ..Default::default()
    };
    let options = DiscoverOptions { rendered: Some(&rendered), ..DiscoverOptions::default() };
    let set = discover_with(&chart, &options);
    // The empty tag is no problem once Helm rendered it.
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    let found: Vec<(String, FoundBy)> =
        set.images.iter().map(|image| (image.reference.familiar(), image.found_by())).collect();
    assert_eq!(
        found,
        vec![
            ("app:2.0".to_string(), FoundBy::Rendered),
            ("hard:1".to_string(), FoundBy::Rendered),
            ("optional:3".to_string(), FoundBy::Values),
            ("side:1".to_string(), FoundBy::Both),
        ]
    );
    let hard = &set.images[1].sources[0];
    assert_eq!(hard.values_path, None);
    assert!(matches!(&hard.shape, ImageShape::Rendered { place } if place.contains("templates/x.yaml")));
    let tests: Vec<String> = set.test_only.iter().map(|image| image.reference.familiar()).collect();
    assert_eq!(tests, vec!["busybox:1"]);

    // Shipped on request.
    let shipped = discover_with(&chart, &DiscoverOptions { ship_test_images: true, ..options });
    assert!(shipped.test_only.is_empty());
    assert!(shipped.images.iter().any(|image| image.reference.familiar() == "busybox:1"));

    // An image a deployed pod also pulls is not test-only.
    let mut both = rendered.clone();
    both.finds.push(rendered_find("busybox:1", None, false));
    let set = discover_with(&chart, &DiscoverOptions { rendered: Some(&both), ..DiscoverOptions::default() });
    assert!(set.test_only.is_empty());
}

/// Discovery of `chart` once Helm rendered it: only `acme/app:1`, mapped to `image`.
fn discover_with_app_rendered(chart: &Chart) -> ImageSet {
    let rendered = rendered::RenderedDiscovery {
        finds: vec![rendered_find(
            "acme/app:1",
            Some(("image", ImageShape::RepositoryTag { digest_key: None })),
            false,
        )],
        ..Default::default()
    };
    discover_with(chart, &DiscoverOptions { rendered: Some(&rendered), ..DiscoverOptions::default() })
}

#[test]
fn a_guess_that_collides_with_a_rendered_image_is_left_out_and_said() {
    let chart = build(spec(json!({
        "image": {"repository": "acme/app", "tag": "1"},
        "marketplace": {"image": {"repository": "other/app", "tag": "1"}},
    })));
    let set = discover_with_app_rendered(&chart);
    let found: Vec<String> = set.images.iter().map(|image| image.reference.familiar()).collect();
    assert_eq!(found, vec!["acme/app:1"]);
    assert!(matches!(
        &set.problems[..],
        [DiscoveryProblem { kind: DiscoveryProblemKind::LeftOut { image, .. }, .. }] if image == "other/app:1"
    ));
    // Without renders nothing is a guess: the collision stays an error of the rewrites.
    assert_eq!(discover(&chart, &[], &[]).images.len(), 2);
}

#[test]
fn chart_values_of_the_release_reach_discovery() {
    let chart = build(spec(json!({"image": {"repository": "", "tag": "1.0"}})));
    let overrides = json!({"image": {"repository": "acme/collector"}});
    let set = discover_with(
        &chart,
        &DiscoverOptions { chart_values: Some(&overrides), ..DiscoverOptions::default() },
    );
    let found: Vec<String> = set.images.iter().map(|image| image.reference.familiar()).collect();
    assert_eq!(found, vec!["acme/collector:1.0"]);
}

#[test]
fn an_untagged_site_no_configuration_renders_is_a_warning_once_helm_rendered() {
    let chart = build(spec(json!({
        "image": {"repository": "acme/app", "tag": "1"},
        "kubectl": {"image": {"repository": "bitnami/kubectl", "tag": ""}},
    })));
    let set = discover_with_app_rendered(&chart);
    assert!(
        matches!(&set.problems[..], [DiscoveryProblem { kind: kind @ DiscoveryProblemKind::UntaggedGuess { .. }, .. }] if kind.is_warning()),
        "{:?}",
        set.problems
    );
    // Values alone cannot tell: the missing tag stays an error.
    assert!(discover(&chart, &[], &[])
        .problems
        .iter()
        .any(|problem| matches!(problem.kind, DiscoveryProblemKind::MissingTag { .. })
            && !problem.kind.is_warning()));
}

#[test]
fn an_untagged_image_is_fixed_in_chart_values_or_left_out_by_exclude() {
    let chart = build(spec(json!({"image": {"repository": "ghcr.io/acme/app-a", "tag": ""}})));
    let set = discover(&chart, &[], &[]);
    let message = set.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    assert!(message.contains("set `image.tag` in [chart] values"), "{message}");
    assert!(message.contains(r#"[images] exclude = ["ghcr.io/acme/app-a"]"#), "{message}");
    for pattern in ["ghcr.io/acme/app-a", "*app-a*", "*"] {
        let excluded = discover(&chart, &[], &[pattern.to_string()]);
        assert!(excluded.problems.is_empty(), "{pattern}: {:?}", excluded.problems);
    }
    let overrides = json!({"image": {"tag": "1.0"}});
    let set = discover_with(
        &chart,
        &DiscoverOptions { chart_values: Some(&overrides), ..DiscoverOptions::default() },
    );
    assert_eq!(
        set.images.iter().map(|i| i.reference.familiar()).collect::<Vec<_>>(),
        ["ghcr.io/acme/app-a:1.0"]
    );
}
