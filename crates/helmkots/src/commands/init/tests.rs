use super::*;

fn repo_root() -> Utf8PathBuf {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn secret_keys() {
    let table = [
        ("password", true),
        ("adminPassword", true),
        ("redis-password", true),
        ("apiKey", true),
        ("secretKey", true),
        ("clientSecret", true),
        ("token", true),
        ("secret", true),
        ("passwordKey", false),
        ("existingSecret", false),
        ("envFromSecret", false),
        ("secretName", false),
        ("tokenUrl", false),
        ("passwordFile", false),
        ("imagePullSecrets", false),
        ("adminUser", false),
        ("key", false),
    ];
    for (key, expected) in table {
        assert_eq!(is_secret_key(key), expected, "{key}");
    }
}

#[test]
fn names_and_titles() {
    let path = |keys: &[&str]| keys.iter().map(|k| Segment::Key(k.to_string())).collect::<Vec<_>>();
    assert_eq!(snake_name(&path(&["imageRenderer"])), "image_renderer");
    assert_eq!(snake_name(&path(&["sidecar", "dashboards"])), "sidecar_dashboards");
    assert_eq!(snake_name(&path(&["grafana.ini", "server", "rootURL"])), "grafana_ini_server_root_url");
    assert_eq!(humanize(&words(&path(&["testFramework"]))), "Test framework");
    assert_eq!(dns_label("My_Chart"), "my-chart");
    assert_eq!(dns_label("--"), "app");
}

#[test]
fn relative_chart_paths() {
    let root = repo_root();
    assert_eq!(relative_path(&root, &root.join("charts/demo-app")), "charts/demo-app");
    assert_eq!(relative_path(&root.join("manifests"), &root.join("charts/demo-app")), "../charts/demo-app");
}

#[test]
fn demo_app_starter_validates_and_suggests_the_components() {
    let root = repo_root();
    let options = InitOptions {
        chart: root.join("charts/demo-app"),
        release_file: root.join("target/init-unit-test/release.toml"),
        slug: None,
    };
    let starter = starter(&options).expect("the starter should validate");
    assert_eq!(starter.slug, "demo-app");
    assert_eq!(starter.chart.path, "../../charts/demo-app");
    let summary: Vec<(&str, &str, Option<&str>)> =
        starter.items.iter().map(|i| (i.item_type, i.value.as_str(), i.default.as_deref())).collect();
    for expected in [
        ("bool", "cache.enabled", Some("1")),
        ("bool", "ingress.enabled", Some("0")),
        ("bool", "metricsExporter.enabled", Some("0")),
        ("bool", "persistence.enabled", Some("0")),
        ("text", "persistence.size", Some("1Gi")),
        ("text", "config.logLevel", Some("info")),
    ] {
        assert!(summary.contains(&expected), "{expected:?} missing from {summary:#?}");
    }
    let size = starter.items.iter().find(|i| i.value == "persistence.size").unwrap();
    assert_eq!(size.when.as_deref(), Some("repl{{ ConfigOptionEquals \"enable_persistence\" \"1\" }}"));
    for image in ["ghcr.io/acme/demo-web:2.3.0", "docker.io/acme/demo-migrate:2.3.0"] {
        assert!(
            starter.images.iter().any(|i| i.reference.contains(image.trim_start_matches("docker.io/"))),
            "{image}"
        );
        assert!(starter.text.contains(image.trim_start_matches("docker.io/")), "{image} not in the comments");
    }
}

#[test]
fn a_bad_slug_is_refused_as_given_not_as_a_line_of_a_file_never_written() {
    let root = repo_root();
    let options = InitOptions {
        chart: root.join("charts/demo-app"),
        release_file: root.join("release.toml"),
        slug: Some("Not A Slug".to_string()),
    };
    match starter(&options) {
        Err(Error::InvalidArgument { what: "app slug", value, help, .. }) => {
            assert_eq!(value, "Not A Slug");
            assert!(help.contains("e.g. \"not-a-slug\""), "{help}");
        }
        other => panic!("expected the slug refused as given, got {other:?}"),
    }
}
