//! Issue 18, "README is a contract": every documented key, flag and exit code does what
//! README.md says. One regression test per item of the issue, named after it
//! (`issue_18_<item>_...`), each running the real `xtask` on a copy of the example release.

use helmkots_e2e::{assert_tree_intact, python_tool, registry::TestRegistry, testdir, TestDir, TestOutput};

/// A copy of the example release whose `release.toml` is edited by `edit`.
fn example_with(dir: &TestDir, edit: impl FnOnce(String) -> String) -> &TestDir {
    dir.copy_example();
    let text = edit(dir.read("release.toml"));
    dir.write("release.toml", text);
    dir
}

/// The 1-based line of release.toml that starts with `prefix`.
fn line_of(dir: &TestDir, prefix: &str) -> usize {
    let text = dir.read("release.toml");
    text.lines()
        .position(|line| line.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("release.toml has no line starting with {prefix:?}:\n{text}"))
        + 1
}

// --- 4: `check` reports every unknown key at once ------------------------------------------------

#[test]
fn issue_18_4_check_reports_every_unknown_key_at_once() {
    let dir = testdir!();
    example_with(&dir, |text| {
        text.replace("title = \"Demo App\"", "title = \"Demo App\"\nicno = \"x\"")
            .replace("namespace = \"\"", "namspace = \"\"")
            .replace("[images]", "[imags]")
            .replace("channel_id = \"\"", "chanel_id = \"\"")
    });
    let output = dir.xtask("check").run();
    output.assert_code(2);
    for (key, best) in
        [("icno", "icon"), ("namspace", "namespace"), ("imags", "images"), ("chanel_id", "channel_id")]
    {
        output
            .assert_stderr_contains(&format!("unknown key `{key}`"))
            .assert_stderr_contains(&format!("did you mean `{best}`?"));
    }
    output.assert_stderr_contains("4 problems in");

    let json = dir.xtask("check").arg("--json").run();
    json.assert_code(2);
    let json = json.json();
    let problems: Vec<(String, u64)> = json["problems"]
        .as_array()
        .expect("problems is a list")
        .iter()
        .map(|problem| {
            (
                problem["message"].as_str().unwrap_or_default().to_string(),
                problem["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> =
        [("icno", "icno"), ("namspace", "namspace"), ("imags", "[imags]"), ("chanel_id", "chanel_id")]
            .iter()
            .map(|(key, line_start)| (format!("unknown key `{key}`"), line_of(&dir, line_start) as u64))
            .collect();
    assert_eq!(problems, expected, "{json:#}");
}

// --- 1: `[images] pull_secret` did nothing, and is gone ------------------------------------------

#[test]
fn issue_18_1_pull_secret_is_refused_and_kots_names_the_secret() {
    let dir = testdir!();
    example_with(&dir, |text| text.replace("[images]\n", "[images]\npull_secret = \"acme-pull\"\n"));
    let line = line_of(&dir, "pull_secret");
    dir.xtask("check")
        .run()
        .assert_code(2)
        .assert_stderr_contains("unknown key `pull_secret`")
        .assert_stderr_contains(&format!("release.toml:{line}:1"))
        .assert_stderr_contains(
            "KOTS itself names the pull secret `demo-app-registry` (ImagePullSecretName)",
        );

    // Without the key, every pull-secret value of the chart gets the secret KOTS creates.
    let fixed = dir.read("release.toml").replace("pull_secret = \"acme-pull\"\n", "");
    dir.write("release.toml", fixed);
    let preview = dir.xtask("preview").args(["--airgap", "--registry", "reg.local/ns", "--json"]).run();
    let values = preview.assert_success().json()["values"].as_str().unwrap_or_default().to_string();
    assert_eq!(values.matches("name: 'demo-app-registry'").count(), 3, "{values}");
    assert!(!values.contains("acme-pull"), "{values}");
}

// --- 5: an empty password or text item keeps the chart's default ---------------------------------

#[test]
fn issue_18_5_an_empty_item_keeps_the_chart_default() {
    let dir = testdir!();
    // Items with no default: a password over the chart's `config.greeting` and a text over its
    // integer `replicaCount`.
    example_with(&dir, |text| {
        text.replace("  type = \"text\"\n  default = \"Hello from Demo App\"\n", "  type = \"password\"\n")
            .replace("  type = \"text\"\n  default = \"2\"\n", "  type = \"text\"\n")
    });
    let text = dir.read("release.toml");
    assert!(text.contains("type = \"password\"") && !text.contains("default = \"2\""), "{text}");
    let values = |sets: &[&str]| -> String {
        let mut command = dir.xtask("preview");
        for set in sets {
            command.args(["--set", set]);
        }
        let preview = command.arg("--json").run();
        preview.assert_success().json()["values"].as_str().expect("values is a string").to_string()
    };
    for sets in [&[][..], &["greeting=", "replicas="]] {
        let values = values(sets);
        assert!(values.contains("greeting: \"Hello from Demo App\"\n"), "--set {sets:?}:\n{values}");
        assert!(values.contains("replicaCount: 2\n"), "--set {sets:?}:\n{values}");
    }
    let typed = values(&["greeting=Hi: there", "replicas=3"]);
    assert!(typed.contains("greeting: \"Hi: there\"\n") && typed.contains("replicaCount: 3\n"), "{typed}");

    // The real Helm engine installs the chart's own greeting with the empty item.
    let file = dir.write("kots-values.yaml", values(&[]));
    let chart = dir.join("charts/demo-app");
    let rendered = python_tool(["render".as_ref(), chart.as_os_str(), "-f".as_ref(), file.as_os_str()]);
    let rendered = rendered.assert_success();
    assert!(rendered.stdout.contains("GREETING: \"Hello from Demo App\""), "{}", rendered.stdout);
    assert!(rendered.stdout.contains("replicas: 2\n"), "{}", rendered.stdout);
}

// --- 9: a corrupt or truncated bundle is a finding (exit 1), not a failure to run (exit 2) -------

/// A small airgap bundle (airgap.yaml, app.tar.gz, one blob of compressible text, so that the
/// gzip stream is Huffman-coded throughout) and its bytes.
fn small_bundle(dir: &TestDir) -> (std::path::PathBuf, Vec<u8>) {
    let yaml = "apiVersion: kots.io/v1beta1\nkind: Airgap\nspec:\n  appSlug: demo-app\n  format: docker\n  savedImages:\n    - busybox:1.36.1\n";
    let blob: Vec<u8> =
        (0..20_000).flat_map(|i: u32| format!("line {i} of a layer\n").into_bytes()).collect();
    let hex = helmkots_e2e::sha256_hex(&blob);
    let mut archive =
        tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (path, bytes) in [
        ("airgap.yaml".to_string(), yaml.as_bytes()),
        ("app.tar.gz".to_string(), b"not really a tar.gz".as_slice()),
        (format!("images/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]), blob.as_slice()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append_data(&mut header, path, bytes).expect("cannot append to the bundle");
    }
    let bytes = archive.into_inner().and_then(|gzip| gzip.finish()).expect("cannot finish the bundle");
    (dir.write("demo-app-1.4.2.airgap", &bytes), bytes)
}

#[test]
fn issue_18_9_a_corrupt_bundle_is_a_finding() {
    let dir = testdir!();
    let (bundle, mut bytes) = small_bundle(&dir);
    // The intact bundle gets as far as its images: a finding about them, not about the stream.
    let intact = dir.xtask("verify").arg(&bundle).run();
    intact.assert_code(1);
    assert!(!intact.stderr.contains("is damaged"), "{}", intact.describe());

    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&bundle, &bytes).expect("cannot write the corrupt bundle");
    let output = dir.xtask("verify").arg(&bundle).run();
    output
        .assert_code(1)
        .assert_stderr_contains(&format!("{} is damaged: its gzip tar stream breaks off", bundle.display()))
        .assert_stderr_contains("build it again, or copy it again");
    let json = dir.xtask("verify").arg(&bundle).arg("--json").run();
    json.assert_code(1);
    let problems = json.json()["problems"].clone();
    let damaged = problems.as_array().into_iter().flatten().filter_map(|p| p.as_str());
    assert_eq!(damaged.filter(|p| p.contains("is damaged")).count(), 1, "{problems:#}");
}

#[test]
fn issue_18_9_a_truncated_bundle_is_a_finding() {
    let dir = testdir!();
    let (bundle, bytes) = small_bundle(&dir);
    std::fs::write(&bundle, &bytes[..bytes.len() * 2 / 3]).expect("cannot write the truncated bundle");
    dir.xtask("verify")
        .arg(&bundle)
        .run()
        .assert_code(1)
        .assert_stderr_contains(&format!("{} is damaged", bundle.display()))
        .assert_stderr_contains("the last entry reached is `images/docker/registry/v2/blobs/sha256/");

    // A bundle that is not there is still a run that could not start.
    dir.xtask("verify").arg(dir.join("absent.airgap")).run().assert_code(2);
}

// --- 11: no hidden default, no silent acceptance -------------------------------------------------

#[test]
fn issue_18_11_proxy_that_is_not_a_registry_prefix_is_an_error() {
    let dir = testdir!();
    example_with(&dir, |text| {
        text.replace("proxy = \"proxy.replicated.com/proxy/demo-app\"", "proxy = \"not a url\"")
    });
    let line = line_of(&dir, "proxy =");
    dir.xtask("check")
        .run()
        .assert_code(2)
        .assert_stderr_contains("`[images] proxy` `not a url` is not a registry prefix")
        .assert_stderr_contains(&format!("release.toml:{line}:9"))
        .assert_stderr_contains("write host[/path] without a scheme");
}

#[test]
fn issue_18_11_bad_environment_values_are_errors() {
    let dir = testdir!();
    dir.copy_example();
    dir.xtask("release")
        .args(["--offline", "--no-proof"])
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .run()
        .assert_code(2)
        .assert_stderr_contains(
            "SOURCE_DATE_EPOCH=\"yesterday\" is not a whole number of seconds since 1970-01-01 UTC",
        )
        .assert_stderr_contains("git log -1 --format=%ct");
    assert!(!dir.join("dist").exists(), "nothing is written with a bad SOURCE_DATE_EPOCH");
    // Unset or empty: the documented default.
    dir.xtask("release")
        .args(["--offline", "--no-proof"])
        .env("SOURCE_DATE_EPOCH", "")
        .run()
        .assert_success();
    let record = dir.read("dist/demo-app-1.4.2/release.lock.json");
    assert!(record.contains("\"source_date_epoch\": 946684800"), "{record}");

    // Read before any registry is contacted (`[helm_cli] name` is a host that does not exist).
    dir.xtask("release")
        .args(["--no-proof"])
        .env("HELMKOTS_STALL_TIMEOUT_SECS", "abc")
        .run()
        .assert_code(2)
        .assert_stderr_contains("HELMKOTS_STALL_TIMEOUT_SECS=\"abc\" is not a positive number of seconds")
        .assert_stderr_contains("unset it for the default 60");
}

/// A small release whose images live on `registry`: a chart with one image, and a helm-cli
/// image based on and pushed to the same registry, with `update_cursor` unset. Returns the
/// tree folder, `dist/contract-0.1.0`.
fn online_release(dir: &TestDir, registry: &TestRegistry) -> std::path::PathBuf {
    let base = registry.seed_busybox("base/busybox:1");
    registry.seed_busybox("a/one:1");
    let host = registry.host();
    dir.write("chart/Chart.yaml", "apiVersion: v2\nname: contract\nversion: 0.1.0\nappVersion: \"1.0\"\n");
    dir.write("chart/values.yaml", format!("image: \"{host}/a/one:1\"\nimagePullSecrets: []\n"));
    dir.write(
        "chart/templates/pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: one\nspec:\n  imagePullSecrets: {{ toJson .Values.imagePullSecrets }}\n  containers:\n    - name: one\n      image: {{ .Values.image | quote }}\n",
    );
    dir.write(
        "release.toml",
        format!(
            "[app]\nslug = \"contract\"\ntitle = \"Contract\"\n\n[chart]\npath = \"chart\"\nrelease_name = \"contract\"\n\n\
             [helm_cli]\nbase = \"{}\"\nname = \"{host}/acme/helm-cli\"\n\n[images]\ndiscover = \"values\"\n\n\
             [airgap]\nchannel_id = \"test-channel\"\n",
            base.reference
        ),
    );
    std::fs::create_dir_all(dir.join("docker-config")).expect("cannot create docker-config");
    dir.join("dist/contract-0.1.0")
}

/// `xtask <task> ARGS...` with an empty Docker config (anonymous pulls and pushes).
fn run_online(dir: &TestDir, task: &str, args: &[&str]) -> TestOutput {
    dir.xtask(task).args(args).env("DOCKER_CONFIG", dir.join("docker-config")).run()
}

#[test]
fn issue_18_11_unset_update_cursor_is_zero_with_a_warning() {
    let dir = testdir!();
    let registry = TestRegistry::start();
    let tree = online_release(&dir, &registry);
    run_online(&dir, "release", &["--no-proof"])
        .assert_success()
        .assert_stderr_contains("[airgap] update_cursor is not set: airgap.yaml says updateCursor \"0\"");
    let text = airgap_yaml(&tree.join("contract-0.1.0.airgap"));
    assert_eq!(helmkots_e2e::parse_yaml(&text, "airgap.yaml")["spec"]["updateCursor"], "0", "{text}");

    let output = run_online(&dir, "release", &["--no-proof", "--update-cursor", "42"]);
    output.assert_success();
    assert!(!output.stderr.contains("update_cursor is not set"), "{}", output.describe());
    let text = airgap_yaml(&tree.join("contract-0.1.0.airgap"));
    assert_eq!(helmkots_e2e::parse_yaml(&text, "airgap.yaml")["spec"]["updateCursor"], "42", "{text}");
}

/// The text of the bundle's first entry, `airgap.yaml`.
fn airgap_yaml(bundle: &std::path::Path) -> String {
    let file =
        std::fs::File::open(bundle).unwrap_or_else(|e| panic!("cannot open {}: {e}", bundle.display()));
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
    let mut entry =
        archive.entries().expect("tar entries").next().expect("a first entry").expect("tar entry");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut entry, &mut text).expect("airgap.yaml is UTF-8");
    text
}

// --- 8: `image` writes its layout beside the release tree, not into it ---------------------------

#[test]
fn issue_18_8_image_leaves_the_release_tree_verifiable() {
    let dir = testdir!();
    let registry = TestRegistry::start();
    let tree = online_release(&dir, &registry);
    run_online(&dir, "release", &["--no-proof", "--update-cursor", "1"]).assert_success();
    let image = run_online(&dir, "image", &["--json"]);
    let layout = image.assert_success().json()["layout"].as_str().expect("layout").to_string();
    assert_eq!(std::path::Path::new(&layout), dir.join("dist/contract-0.1.0-helm-cli"));
    assert!(dir.join("dist/contract-0.1.0-helm-cli/index.json").is_file(), "no OCI layout at {layout}");
    assert!(!tree.join("helm-cli").exists(), "`image` wrote into the release tree");
    assert_tree_intact(&tree);
    dir.xtask("verify").arg(&tree).run().assert_success();
    // The tree is as `release` left it, so the next release has nothing to do.
    run_online(&dir, "release", &["--no-proof", "--update-cursor", "1"])
        .assert_success()
        .assert_stderr_contains("is up to date");
}

// --- 12: `release --offline` over an online build says that it removes the bundle ----------------

#[test]
fn issue_18_12_offline_release_over_an_online_tree_says_it_removes_the_bundle() {
    let dir = testdir!();
    let registry = TestRegistry::start();
    let tree = online_release(&dir, &registry);
    run_online(&dir, "release", &["--no-proof", "--update-cursor", "1"]).assert_success();
    let bundle = tree.join("contract-0.1.0.airgap");
    assert!(bundle.is_file());

    let offline = run_online(&dir, "release", &["--offline", "--no-proof"]);
    offline
        .assert_success()
        .assert_stderr_contains(&format!(
            "{} was removed: this offline build replaces the online build",
            bundle.display()
        ))
        .assert_stderr_contains("pass --out DIR to keep offline builds apart");
    assert!(!bundle.exists());
    // Said once: a second offline run finds the tree up to date and removes nothing.
    let again = run_online(&dir, "release", &["--offline", "--no-proof"]);
    again.assert_success().assert_stderr_contains("is up to date");
    assert!(!again.stderr.contains("was removed"), "{}", again.describe());
}

// --- 13: README's commands table lists every flag of every task ----------------------------------

/// The reverse of `walkthrough.rs` (every README flag exists): every flag a task's `--help`
/// lists appears in that task's row(s) of README's commands table, except `-f, --file`, which
/// the sentence above the table documents for every task.
#[test]
fn issue_18_13_readme_commands_table_lists_every_flag() {
    let readme = std::fs::read_to_string(helmkots_e2e::repo_root().join("README.md")).expect("README.md");
    let dir = testdir!();
    let mut missing = Vec::new();
    for task in [
        "init", "check", "release", "preview", "verify", "inspect", "images", "lock", "image", "clean",
        "bench", "test",
    ] {
        let rows: Vec<&str> = readme
            .lines()
            .filter(|line| {
                line.starts_with(&format!("| `cargo xtask {task} "))
                    || *line == format!("| `cargo xtask {task}` |")
            })
            .filter_map(|line| line.split(" | ").next())
            .collect();
        assert!(!rows.is_empty(), "README's commands table has no row for `{task}`");
        let help = helmkots_e2e::TestCommand::new(dir.path()).args([task, "--help"]).run();
        let help = help.assert_success().stdout.clone();
        let options = help.split("GLOBAL OPTIONS:").next().unwrap_or_default();
        for line in options.lines() {
            let Some(flag) = line.trim_start().split([' ', ',']).find(|word| word.starts_with("--")) else {
                continue;
            };
            if !line.starts_with("  -") || flag == "--file" {
                continue;
            }
            if !rows.iter().any(|row| row.contains(&format!("{flag}]")) || row.contains(&format!("{flag} ")))
            {
                missing.push(format!("cargo xtask {task} {flag}"));
            }
        }
    }
    assert!(missing.is_empty(), "README's commands table does not document: {missing:#?}");
}

/// Item 2: an image with an empty tag is fixed as the error says: its tag in `[chart] values`,
/// or the image left out with any `[images] exclude` spelling of it.
#[test]
fn issue_18_2_an_empty_tag_is_set_in_chart_values_or_excluded() {
    let dir = testdir!();
    dir.write("chart/Chart.yaml", "apiVersion: v2\nname: tagless\nversion: 0.1.0\n");
    dir.write("chart/values.yaml", "image:\n  repository: ghcr.io/acme/app-a\n  tag: \"\"\n");
    dir.write(
        "chart/templates/pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n    - name: a\n      image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n",
    );
    let release = |chart_extra: &str, images_extra: &str| {
        format!(
            "[app]\nslug = \"tagless\"\ntitle = \"Tagless\"\n\n[chart]\npath = \"chart\"\nrelease_name = \"tagless\"\n{chart_extra}\n\n[images]\ndiscover = \"values\"\n{images_extra}\n"
        )
    };
    dir.write("release.toml", release("", ""));
    dir.xtask("images")
        .run()
        .assert_code(2)
        .assert_stderr_contains("set `image.tag` in [chart] values")
        .assert_stderr_contains(r#"[images] exclude = ["ghcr.io/acme/app-a"]"#);

    dir.write("release.toml", release("values = { image = { tag = \"1.0\" } }", ""));
    let listed = dir.xtask("images").arg("--json").run();
    listed.assert_success();
    assert_eq!(listed.json()["images"][0]["reference"], "ghcr.io/acme/app-a:1.0");

    for pattern in ["ghcr.io/acme/app-a", "*app-a*", "*"] {
        dir.write("release.toml", release("", &format!("exclude = [\"{pattern}\"]")));
        dir.xtask("images").run().assert_success();
    }
}

// --- 3: `check` catches what `images` and `release` would refuse, all in one run -----------------

/// Item 3: an empty tag, two images with one last path component, a value the chart's
/// `values.schema.json` requires, and a config item `value` path the chart does not know:
/// `check` names each at its line of release.toml with a fix, in one run; fixed, it passes
/// and the release builds. The schema refusal is Helm's own (checked with the real engine).
#[test]
fn issue_18_3_check_catches_every_later_failure_at_once() {
    let dir = testdir!();
    dir.write("chart/Chart.yaml", "apiVersion: v2\nname: strict\nversion: 0.1.0\n");
    dir.write(
        "chart/values.yaml",
        "app:\n  image:\n    repository: ghcr.io/acme/app-a\n    tag: \"\"\n\
         web:\n  image:\n    repository: ghcr.io/one/server\n    tag: \"1.0\"\n\
         api:\n  image:\n    repository: ghcr.io/two/server\n    tag: \"2.0\"\n\
         worker:\n  enabled: false\n\
         policy:\n",
    );
    dir.write(
        "chart/values.schema.json",
        r#"{"type": "object", "required": ["policy"], "properties": {"policy": {"type": "string", "enum": ["sync", "upsert-only"]}}}"#,
    );
    let container = |name: &str, key: &str| {
        format!("    - name: {name}\n      image: \"{{{{ .Values.{key}.image.repository }}}}:{{{{ .Values.{key}.image.tag }}}}\"\n")
    };
    dir.write(
        "chart/templates/pod.yaml",
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels:\n    policy: {{{{ .Values.policy }}}}\nspec:\n  containers:\n{}{}{}{{{{- if .Values.worker.enabled }}}}\n{}{{{{- end }}}}\n",
            container("app", "app"),
            container("web", "web"),
            container("api", "api"),
            container("worker", "web"),
        ),
    );
    let release = |chart_extra: &str, images_extra: &str, item_value: &str| {
        format!(
            "[app]\nslug = \"strict\"\ntitle = \"Strict\"\n\n[chart]\npath = \"chart\"\nrelease_name = \"strict\"\n{chart_extra}\n\n\
             [images]\ndiscover = \"values\"\n{images_extra}\n\n\
             [[config.groups]]\nname = \"main\"\ntitle = \"Main\"\n\n\
             [[config.groups.items]]\nname = \"worker_on\"\ntitle = \"Worker\"\ntype = \"bool\"\ndefault = false\nvalue = \"{item_value}\"\n"
        )
    };
    dir.write("release.toml", release("", "", "worker.enabeld"));
    let chart_line = line_of(&dir, "path = \"chart\"");
    let item_line = line_of(&dir, "value = \"worker.enabeld\"");
    let output = dir.xtask("check").run();
    output.assert_code(2);
    let stderr = helmkots_e2e::squash_diagnostics(&output.stderr);
    for expected in [
        "`tag` of `ghcr.io/acme/app-a` is empty",
        "set `app.image.tag` in [chart] values",
        "both end in `server`",
        "missing properties 'policy'",
        "config item `worker_on` sets `worker.enabeld`",
        "did you mean `worker.enabled`?",
        "4 problems in",
    ] {
        let expected = helmkots_e2e::squash_diagnostics(expected);
        assert!(stderr.contains(&expected), "missing {expected:?} in:\n{stderr}");
    }
    for line in [chart_line, item_line] {
        output.assert_stderr_contains(&format!("release.toml:{line}:"));
    }
    let json = dir.xtask("check").arg("--json").run();
    json.assert_code(2);
    assert_eq!(json.json()["problems"].as_array().map(Vec::len), Some(4), "{}", json.stdout);
    // `release` refuses the same release before it builds anything.
    dir.xtask("release")
        .args(["--offline", "--no-proof"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("4 problems in");
    assert!(!dir.join("dist").exists(), "a refused release wrote dist/");

    // Helm itself refuses the chart's defaults for the same reason.
    helmkots_e2e::require_helm();
    let helm = std::process::Command::new(helmkots_e2e::tools_dir().join("helm"))
        .args(["template", "strict", "chart"])
        .current_dir(dir.path())
        .output()
        .expect("run the helm front end");
    let helm_error = String::from_utf8_lossy(&helm.stderr);
    assert!(!helm.status.success(), "helm accepted values its schema refuses");
    assert!(helm_error.contains("policy"), "{helm_error}");

    dir.write(
        "release.toml",
        release(
            "values = { policy = \"sync\", app = { image = { tag = \"1.0\" } } }",
            "exclude = [\"ghcr.io/two/server:2.0\"]",
            "worker.enabled",
        ),
    );
    dir.xtask("check").run().assert_success();
    dir.xtask("release").args(["--offline", "--no-proof"]).run().assert_success();
}

/// Item 11: a config item whose `value` is an image field is never dropped without a word:
/// a select item there gets a warning that each choice must be bundled.
#[test]
fn issue_18_11_an_item_that_sets_an_image_field_is_warned() {
    let dir = testdir!();
    example_with(&dir, |text| {
        format!(
            "{text}\n[[config.groups]]\nname = \"imgs\"\ntitle = \"Images\"\n\n[[config.groups.items]]\nname = \"img_tag\"\n\
             title = \"Tag\"\ntype = \"select_one\"\ndefault = \"a\"\nvalue = \"image.tag\"\n\
             choices = [{{ name = \"a\", title = \"A\" }}, {{ name = \"b\", title = \"B\" }}]\n"
        )
    });
    dir.xtask("release")
        .args(["--offline", "--no-proof"])
        .run()
        .assert_success()
        .assert_stderr_contains("config item `img_tag` (select_one) sets `image.tag`")
        .assert_stderr_contains("each choice deploys another image");
}
