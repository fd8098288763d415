//! Hostile input for the values walker: a chart's `values.yaml` read by `chart::load` and
//! walked by `discover::discover`.
//!
//! Property tests: YAML token soup (anchors, aliases, merge keys, flow and block collections);
//! generated value trees with image-named and hostile keys, where every values path that
//! discovery reports must parse and lead back to the value it came from (the rewrites in
//! kots-values.yaml are written to that path). In code: nesting far past any limit, alias bombs
//! (billion laughs), huge strings, many keys and many images. Corpus:
//! `tests/corpus/values/*.yaml`, each with an `# expect:` first line.

use crate::common;

use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use helmkots::{
    internals::input::chart::Chart,
    internals::input::value_path::{Segment, ValuePath},
    internals::plan::discover::{ImageSet, ImageShape, ProblemSite},
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const CHART_YAML: &str = "apiVersion: v2\nname: c\nversion: 1.0.0\nappVersion: \"2.0\"\n";

/// How long loading and walking one values file may take: a guard against a blow-up (an
/// alias bomb walked without its budget takes hours), not a speed measurement, so it leaves
/// room for a debug build sharing two cores with the other tests of this file (an expanded
/// 4^8 alias chain takes about 9 s alone there).
const TIME_LIMIT: Duration = Duration::from_secs(90);

/// The only code that loads values: a chart whose values.yaml is `values`, loaded and walked.
fn check(values: &str) -> helmkots::Result<(Chart, ImageSet)> {
    let dir = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::from_path_buf(dir.path().join("c")).unwrap();
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(root.join("Chart.yaml"), CHART_YAML).unwrap();
    std::fs::write(root.join("values.yaml"), values).unwrap();
    std::fs::write(
        root.join("templates/d.yaml"),
        "image: {{ .Values.image.tag | default .Chart.AppVersion }}\n",
    )
    .unwrap();
    let start = Instant::now();
    let result = helmkots::internals::input::chart::load(&root).map(|chart| {
        let images = check_discover(&chart, &[], &[]);
        (chart, images)
    });
    assert!(start.elapsed() < TIME_LIMIT, "{} bytes of values took {:?}", values.len(), start.elapsed());
    if let Err(error) = &result {
        let message = error.to_string();
        assert!(message.len() > 10, "unclear error: {message:?}");
        if let helmkots::Error::Invalid(problems) = error {
            for problem in &problems.problems {
                assert!(!problem.message.trim().is_empty());
                if let Some(span) = &problem.span {
                    let text = &problems.file.text;
                    assert!(
                        span.end <= text.len()
                            && text.is_char_boundary(span.start)
                            && text.is_char_boundary(span.end),
                        "{problem:?}"
                    );
                }
            }
        }
    }
    result
}

/// The only code that calls `discover`: every values path it reports must lead back to the
/// value it came from.
fn check_discover(chart: &Chart, include: &[String], exclude: &[String]) -> ImageSet {
    let images = helmkots::internals::plan::discover::discover(chart, include, exclude);
    for (index, text) in include.iter().enumerate() {
        let listed = match helmkots::internals::input::image_ref::ImageRef::parse(text) {
            Ok(reference) => images.references().any(|r| *r == reference),
            Err(_) => images
                .problems
                .iter()
                .any(|p| matches!(p.site, ProblemSite::Include { index: i } if i == index)),
        };
        assert!(listed, "include `{text}` is neither listed nor reported");
    }
    let mut wrong = Vec::new();
    for image in &images.images {
        for source in &image.sources {
            let Some(path) = &source.values_path else { continue };
            let found = resolve(&chart.values, path);
            let fits = match (&source.shape, found) {
                (_, Err(problem)) => Err(problem),
                (ImageShape::String, Ok(Value::String(_))) => Ok(()),
                (
                    ImageShape::RepositoryTag { .. } | ImageShape::RegistryRepositoryTag { .. },
                    Ok(Value::Object(map)),
                ) if map.contains_key("repository") => Ok(()),
                (
                    ImageShape::SiblingNameTag { name_key, .. }
                    | ImageShape::RegistryNameTag { name_key, .. },
                    Ok(Value::Object(map)),
                ) if map.contains_key(name_key) => Ok(()),
                (shape, Ok(value)) => Err(format!("holds {value} for a {shape:?}")),
            };
            if let Err(problem) = fits {
                wrong.push(format!("{} found at values path `{path}`, which {problem}", image.reference));
            }
        }
    }
    for problem in &images.problems {
        if let ProblemSite::Values { values_path, .. } = &problem.site {
            if let Err(why) = resolve(&chart.values, values_path) {
                wrong.push(format!("problem `{problem}` at values path `{values_path}`, which {why}"));
            }
        }
        assert!(!problem.to_string().trim().is_empty());
    }
    for secret in &images.pull_secret_paths {
        if secret.in_values {
            if let Err(why) = resolve(&chart.values, &secret.values_path) {
                wrong.push(format!("pull secret at values path `{}`, which {why}", secret.values_path));
            }
        }
    }
    assert!(wrong.is_empty(), "discovery reports values paths that lead elsewhere:\n{}", wrong.join("\n"));
    images
}

/// The value at a values path as discovery writes it ("" is the root).
fn resolve<'a>(values: &'a Value, path: &str) -> Result<&'a Value, String> {
    if path.is_empty() {
        return Ok(values);
    }
    let parsed = ValuePath::parse(path).map_err(|error| format!("does not parse: {error}"))?;
    let mut value = values;
    for segment in parsed.segments() {
        value = match (segment, value) {
            (Segment::Key(key), Value::Object(map)) => map.get(key),
            (Segment::Index(index), Value::Array(items)) => items.get(*index),
            _ => None,
        }
        .ok_or_else(|| format!("leads nowhere (no {segment:?} in the values)"))?;
    }
    Ok(value)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------------------------
// Generators.

/// Keys: image-named ones (so the heuristics run), hostile ones (so the paths are tested).
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "image", "Image", "images", "repository", "registry", "tag", "digest", "sha", "imageTag",
            "sidecarImage", "init_image", "init-image", "sidecarImageTag", "imagePullSecrets",
            "pullSecrets", "global", "imageRegistry", "containers", "name", "enabled",
        ])
        .prop_map(str::to_string),
        1 => prop::sample::select(vec![
            "", "a.b", "x\".\"y", "\"", "[0]", "a[0]", "é", " ", "a b", "*", "&a", "<<", "~", "null",
            "0", "-", "a\nb", "\u{0}",
        ])
        .prop_map(str::to_string),
        1 => "[a-z]{1,6}",
    ]
}

/// Scalars: image references good and bad, numbers Helm renders oddly, and junk.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "nginx",
            "nginx:1.25",
            "bitnami/redis",
            "quay.io/x/y:1",
            "ghcr.io/acme/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "docker.io/foo.bar/x:1",
            "localhost:5000/x",
            "",
            "UPPER",
            "{{ .Values.x }}",
            "1.25",
            "v1",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "a:",
            "@",
            "é",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        prop::sample::select(vec![
            json!(1.10),
            json!(20200101),
            json!(-1),
            json!(1e300),
            json!(true),
            Value::Null
        ]),
        "[ -~]{0,12}".prop_map(Value::String),
    ]
}

/// A value tree of at most a few hundred nodes.
fn tree() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(6, 200, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// YAML token soup.
fn yaml_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "image",
            "repository",
            "tag",
            "a",
            "b",
            ":",
            ": ",
            "- ",
            "-",
            "\n",
            "\n  ",
            "\n    ",
            "  ",
            "&x ",
            "&y ",
            "*x",
            "*y",
            "<<: ",
            "<<: *x",
            "{",
            "}",
            "[",
            "]",
            ", ",
            "\"",
            "'",
            "\\",
            "#",
            "|",
            ">",
            "!!str ",
            "!!map ",
            "!!binary ",
            "!custom ",
            "---",
            "...",
            "%YAML 1.2",
            "?",
            "nginx:1",
            "1.10",
            "null",
            "~",
            "\t",
            "é",
            "\u{feff}",
            "\r\n",
            "@",
            "`",
        ]),
        0..40,
    )
    .prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(config(64))]

    /// YAML soup: values, or a clear error; never a panic.
    #[test]
    fn yaml_soup_never_panics(text in yaml_soup()) {
        let _ = check(&text);
    }

    /// Any text as values.yaml.
    #[test]
    fn any_text_never_panics(text in any::<String>()) {
        let _ = check(&text);
    }

    /// Generated trees (written as JSON, which is YAML): every reported values path leads back.
    #[test]
    fn values_paths_lead_back(tree in prop::collection::btree_map(key(), tree(), 0..8)) {
        let text = serde_json::to_string_pretty(&tree).unwrap();
        let _ = check(&text);
    }

    /// `[images] include` and `exclude` from release.toml, hostile: every include is listed or
    /// reported, and the walk's invariants hold.
    #[test]
    fn include_and_exclude_never_panic(
        tree in prop::collection::btree_map(key(), tree(), 0..4),
        include in prop::collection::vec(prop_oneof!["[a-z0-9/:.@*-]{0,20}", any::<String>()], 0..4),
        exclude in prop::collection::vec(prop_oneof!["[a-z0-9/:.@*?-]{0,20}", any::<String>(), "[*a]{0,60}"], 0..4),
    ) {
        let (chart, _) = check(&serde_json::to_string(&tree).unwrap()).unwrap();
        let start = Instant::now();
        let _ = check_discover(&chart, &include, &exclude);
        prop_assert!(start.elapsed() < Duration::from_secs(5));
    }

    /// Anchors and aliases, merged and nested: values or a clear error, in time.
    #[test]
    fn anchors_and_aliases(width in 1usize..12, depth in 1usize..12, merge: bool) {
        let _ = check(&alias_chain(width, depth, merge));
    }
}

/// `depth` anchors, each a list (or a map with merge keys) of `width` aliases to the one before:
/// `width^depth` nodes once expanded.
fn alias_chain(width: usize, depth: usize, merge: bool) -> String {
    let mut text = String::from("l0: &l0 {image: \"nginx:1\", tag: \"x\"}\n");
    for level in 1..=depth {
        let previous = level - 1;
        if merge {
            let keys: Vec<String> = (0..width).map(|i| format!("k{i}: *l{previous}")).collect();
            text.push_str(&format!("l{level}: &l{level} {{<<: *l{previous}, {}}}\n", keys.join(", ")));
        } else {
            let items = vec![format!("*l{previous}"); width].join(", ");
            text.push_str(&format!("l{level}: &l{level} [{items}]\n"));
        }
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Size and depth, built in code.

#[test]
fn deep_nesting_is_refused() {
    let depth = 10_000;
    let cases = [
        ("flow maps", format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth))),
        ("flow lists", format!("a: {}1{}", "[".repeat(depth), "]".repeat(depth))),
        ("unclosed flow", format!("a: {}", "[{a: ".repeat(depth))),
        (
            "block maps",
            (0..2_000).map(|i| format!("{}a{i}:\n", " ".repeat(i))).collect::<String>()
                + &" ".repeat(2_000)
                + "x: 1\n",
        ),
        ("block lists", (0..2_000).map(|i| format!("{}-\n", " ".repeat(i * 2))).collect::<String>()),
    ];
    for (name, text) in cases {
        let error = check(&text).err();
        assert!(error.is_some(), "{name}: nesting {depth} deep was accepted");
    }
    // Charts nest values a few dozen levels at most; that still works, image included.
    let text = format!("{}{{image: nginx:1}}{}", "{a: ".repeat(50), "}".repeat(50));
    let (_, images) = check(&text).unwrap();
    assert_eq!(images.images.len(), 1);
}

#[test]
fn alias_bombs_are_refused() {
    let laughs = |merge| alias_chain(10, 9, merge);
    for (name, text) in [
        ("billion laughs", laughs(false)),
        ("billion laughs by merge keys", laughs(true)),
        ("self-reference", "a: &a [*a]\n".to_string()),
        ("alias before anchor", "a: *b\nb: &b 1\n".to_string()),
        ("100,000 aliases", format!("x: &x nginx:1\nl: [{}]\n", vec!["*x"; 100_000].join(", "))),
    ] {
        let start = Instant::now();
        let result = check(&text);
        assert!(result.is_err(), "{name}: accepted ({:?})", start.elapsed());
    }
    // A few aliases, as real charts use them, still work.
    let (_, images) =
        check("base: &base {repository: nginx, tag: \"1.25\"}\nweb: {image: *base}\napi: {image: *base}\n")
            .unwrap();
    assert_eq!(images.images.len(), 1);
    // `base` itself is a `{repository, tag}` image too.
    assert_eq!(images.images[0].sources.len(), 3);
}

#[test]
fn pathological_exclude_patterns_finish_quickly() {
    let (chart, _) = check("a: {image: nginx:1}\nb: {image: quay.io/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/aaaaaaaaaaaaaaaaaaaaaaaaa:1}\n").unwrap();
    let include: Vec<String> =
        (0..200).map(|i| format!("registry.example.com/{}/x{i}:1", "a".repeat(200))).collect();
    let exclude = vec!["*a".repeat(5_000) + "b", "?".repeat(10_000), "*".repeat(10_000) + "x"];
    let start = Instant::now();
    let images = check_discover(&chart, &include, &exclude);
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    // `*…*x` excludes nginx (its repository ends in `x`); the includes always stay.
    assert_eq!(images.images.len(), 201);
    assert_eq!(images.excluded.len(), 1);
}

#[test]
fn large_values_are_handled_in_time() {
    // A 4 MiB image string (files stop at 5 MiB): one clear problem.
    let (_, images) = check(&format!("image: \"{}\"\n", "a".repeat(4 * 1024 * 1024))).unwrap();
    assert_eq!(
        images.problems.len(),
        1,
        "{:?}",
        images.problems.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
    // A 1,000-character key is fine; a 4 MiB one is refused (YAML's 1,024-character limit on
    // simple keys).
    let (_, images) = check(&format!("{}: {{image: nginx:1}}\n", "k".repeat(1_000))).unwrap();
    assert_eq!(images.images.len(), 1);
    assert!(check(&format!("{}: {{image: nginx:1}}\n", "k".repeat(4 * 1024 * 1024))).is_err());
    // 100,000 keys.
    let text: String = (0..100_000).map(|i| format!("k{i}: {i}\n")).collect();
    check(&text).unwrap();
    // 20,000 images in a list.
    let text: String = (0..20_000).map(|i| format!("- image: nginx:1.{i}\n")).collect();
    let (_, images) =
        check(&format!("containers:\n{}", text.replace("- ", "  - ").replace("\n  image", "\n    image")))
            .unwrap();
    assert_eq!(images.images.len(), 20_000);
    // 300,000 keys, just under Helm's 5 MiB file limit: Helm reads them, and so do we, in time.
    let text: String = (0..300_000).map(|i| format!("k{i}: 1\n")).collect();
    assert!(text.len() < 5 * 1024 * 1024);
    let started = Instant::now();
    check(&text).expect("300,000 keys are a values file Helm reads");
    assert!(started.elapsed() < TIME_LIMIT, "300,000 keys took {:?}", started.elapsed());
}

/// A chart's values can also be set in code (a `Chart` is plain data): the walker must not
/// depend on the YAML parser's depth limit to stay on the stack. Runs in a child process, so
/// that a stack overflow fails this test instead of killing the run.
#[test]
fn deep_values_in_code_do_not_overflow() {
    let exe = std::env::current_exe().unwrap();
    let output = std::process::Command::new(exe)
        .args([
            "--exact",
            &crate::test_name(module_path!(), "deep_values_child"),
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HOSTILE_DEEP_VALUES", "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("OUTCOME: walked"),
        "discover on values nested 10,000 deep (built in code, on a thread with an 8 MiB stack like a main \
         thread; values.yaml cannot get there, the YAML parser stops at 64 levels): status {}, stderr {:?}",
        output.status,
        stderr.lines().filter(|l| !l.trim().is_empty()).take(3).collect::<Vec<_>>()
    );
}

/// The child side of [`deep_values_in_code_do_not_overflow`]; does nothing in a normal run.
#[test]
fn deep_values_child() {
    if std::env::var("HOSTILE_DEEP_VALUES").is_err() {
        return;
    }
    let (mut chart, _) = check("a: 1\n").unwrap();
    std::thread::Builder::new()
        .stack_size(8 * 1024 * 1024)
        .spawn(move || {
            let mut value = json!({"image": "nginx:1"});
            for _ in 0..10_000 {
                let mut map = Map::new();
                map.insert("a".to_string(), value);
                value = Value::Object(map);
            }
            chart.values = value;
            let images = check_discover(&chart, &[], &[]);
            println!("OUTCOME: walked, {} image(s)", images.images.len());
            // Dropping a deep serde_json value recurses too; leak it, that is not under test.
            std::mem::forget(chart);
        })
        .unwrap()
        .join()
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Corpus.

/// `tests/corpus/values/*.yaml`. The first line is `# expect: err NEEDLE...` (loading fails
/// with NEEDLE in the message) or `# expect: ok IMAGE,IMAGE,... | PROBLEMS` (the normalised
/// images found, comma-separated, and how many problems).
#[test]
fn corpus() {
    let (mut count, mut failures) = (0, Vec::new());
    for (name, text) in common::corpus("values") {
        let first = text.lines().next().unwrap_or_default();
        let expect =
            first.strip_prefix("# expect: ").unwrap_or_else(|| panic!("{name}: no `# expect:` line"));
        count += 1;
        let (kind, rest) = expect.split_once(' ').unwrap_or((expect, ""));
        match (kind, std::panic::catch_unwind(|| check(&text))) {
            (_, Err(panic)) => failures.push(format!(
                "{name}: panicked: {}",
                panic.downcast_ref::<String>().cloned().unwrap_or_default()
            )),
            ("err", Ok(Err(error))) if error.to_string().contains(rest) => {}
            ("ok", Ok(Ok((_, images)))) => {
                let (want_images, want_problems) = rest.split_once(" | ").unwrap_or((rest, "0"));
                let got: Vec<String> = images.references().map(ToString::to_string).collect();
                let want: Vec<&str> = want_images.split(',').filter(|s| !s.is_empty()).collect();
                if got != want || images.problems.len().to_string() != want_problems {
                    failures.push(format!(
                        "{name}: expected {want:?} and {want_problems} problem(s), got {got:?} and {:?}",
                        images.problems.iter().map(ToString::to_string).collect::<Vec<_>>()
                    ));
                }
            }
            (_, Ok(got)) => failures.push(format!(
                "{name}: expected {expect}, got {}",
                match got {
                    Ok((_, images)) =>
                        format!("ok {:?}", images.references().map(ToString::to_string).collect::<Vec<_>>()),
                    Err(error) => format!("error {error}"),
                }
            )),
        }
    }
    assert!(count >= 20, "the corpus lost cases: {count}");
    assert!(
        failures.is_empty(),
        "{} of {count} corpus cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A registry beside a name and a tag with other names (the shape a random case once found
/// the oracle did not know): its values path is the map that holds all three.
#[test]
fn a_registry_name_tag_map_leads_back_to_its_values_path() {
    let (_, images) =
        check("z:\n  registry: localhost:5000/x\n  sidecarImage: app\n  sidecarImageTag: \"1.1\"\n")
            .expect("discovery runs");
    assert!(
        images.references().any(|reference| reference.to_string() == "localhost:5000/x/app:1.1"),
        "{:?}",
        images.references().map(ToString::to_string).collect::<Vec<_>>()
    );
}
