//! Tests of the KOTS template evaluator: tables of template → expected output (or error),
//! all through one [`check`] helper, plus robustness tests on garbage input.

use std::collections::BTreeMap;

use super::*;

/// The file name errors are reported in.
const FILE: &str = "manifests/app.yaml";

/// Renders `template` in `ctx` and compares the output, or `error: <error>` when it fails.
fn check(template: &str, ctx: &Context, expected: &str) {
    let actual = match render(template, ctx, FILE) {
        Ok(text) => text,
        Err(error) => format!("error: {error}"),
    };
    assert_eq!(actual, expected, "\ntemplate: {template:?}");
}

fn check_all(ctx: &Context, cases: &[(&str, &str)]) {
    for (template, expected) in cases {
        check(template, ctx, expected);
    }
}

fn item(value: Option<&str>, default: Option<&str>) -> ConfigValue {
    ConfigValue { value: value.map(str::to_string), default: default.map(str::to_string) }
}

/// An online install: no local registry, private images on `ghcr.io/acme`.
fn online() -> Context {
    let config = [
        ("greeting", item(Some("say \"hi\"\n<b>bye</b> & 'so long'\n"), Some("hello"))),
        ("replicas", item(None, Some("3"))),
        ("enable_persistence", item(None, Some("1"))),
        ("enable_metrics", item(Some("0"), Some("1"))),
        ("hostname", item(Some(""), Some("example.com"))),
        ("mode", item(Some("Prod"), None)),
        ("unset", item(None, None)),
        ("tls_cert", item(Some("LS0tLS1CRUdJTi0tLS0tCmFiYwo="), None)),
        ("not_base64", item(Some("%%%"), None)),
        ("evil", item(Some("repl{{ Bogus }}"), None)),
        ("namespace_template", item(Some("repl{{ Namespace }}"), None)),
    ];
    Context {
        config: config.into_iter().map(|(name, value)| (name.to_string(), value)).collect(),
        local_registry: None,
        namespace: "apps".to_string(),
        app_slug: "demo".to_string(),
        routing: Routing {
            proxy: "proxy.replicated.com/proxy/demo".to_string(),
            private: vec!["ghcr.io/acme/*".to_string()],
        },
        airgap: false,
    }
}

/// An airgap install with a local registry `registry.local:5000/myapp`.
fn airgap() -> Context {
    let mut ctx = online();
    ctx.local_registry =
        Some(LocalRegistry { host: "registry.local:5000".to_string(), namespace: "myapp".to_string() });
    ctx.airgap = true;
    ctx
}

/// A local registry without a namespace.
fn registry_without_namespace() -> Context {
    let mut ctx = online();
    ctx.local_registry = Some(LocalRegistry { host: "registry.local".to_string(), namespace: String::new() });
    ctx
}

#[test]
fn both_syntaxes() {
    check_all(
        &online(),
        &[
            ("", ""),
            ("plain: text\n", "plain: text\n"),
            ("a: '{{repl ConfigOption \"replicas\" }}'", "a: '3'"),
            ("a: repl{{ ConfigOption \"replicas\" }}", "a: 3"),
            ("{{repl Namespace}}", "apps"),
            ("repl{{Namespace}}", "apps"),
            ("{{repl ConfigOption\n    \"replicas\" }}", "3"),
            ("repl{{ 42 }} repl{{ -7 }} repl{{ 0x1F }} repl{{ 1_000 }}", "42 -7 31 1000"),
            ("repl{{ 1.5 }} repl{{ 2.0 }} repl{{ 1e21 }} repl{{ .5 }}", "1.5 2 1e+21 0.5"),
            ("repl{{ true }} repl{{ false }} repl{{ 'a' }}", "true false 97"),
            ("repl{{ . }} repl{{ .Values.x }} repl{{ $ }}", "<no value> <no value> <no value>"),
            // The first pass prints text the second pass then evaluates, as in KOTS.
            ("{{repl \"repl{{ Namespace }}\" }}", "apps"),
            ("{{repl ConfigOption \"namespace_template\" }}", "apps"),
            // Comments and trim markers.
            ("a{{repl/* a comment */}}b", "ab"),
            ("a {{repl- /* a comment */ -}} b", "ab"),
            ("a  \n  repl{{- ConfigOption \"replicas\" -}}  \n b", "a3b"),
            ("a \n {{repl- Namespace -}} \n b", "aappsb"),
            ("a repl{{- Namespace }} b", "aapps b"),
            ("a repl{{ Namespace -}} b", "a appsb"),
        ],
    );
}

#[test]
fn quoting() {
    check_all(
        &online(),
        &[
            (r#"repl{{ "a\"b\\c\td" }}"#, "a\"b\\c\td"),
            (r#"repl{{ "\u00e9\x41\101\U0001F600" }}"#, "éAA😀"),
            ("repl{{ `raw \\n \"x\" {{ y }}` }}", "raw \\n \"x\" {{ y }}"),
            ("repl{{ `two\r\nlines` }}", "two\nlines"),
            (r#"repl{{ "}}" }}"#, "}}"),
            (r#"{{repl "}}" }}"#, "}}"),
            (
                r#"repl{{ "a""b" }}"#,
                "error: manifests/app.yaml:1: `\"a\"` is not a function and cannot take arguments",
            ),
            (r#"repl{{ '\n' }}"#, "10"),
            (r#"repl{{ "\q" }}"#, "error: manifests/app.yaml:1: invalid escape `\\q` in string"),
            (r#"repl{{ "\'" }}"#, "error: manifests/app.yaml:1: invalid escape `\\'` in string"),
            (r#"repl{{ "\x4" }}"#, "error: manifests/app.yaml:1: invalid escape `\\x4\"` in string"),
            ("repl{{ \"abc }}", "error: manifests/app.yaml:1: unterminated quoted string"),
            ("x\nrepl{{ \"abc\n\" }}", "error: manifests/app.yaml:2: unterminated quoted string"),
            ("repl{{ `abc }}", "error: manifests/app.yaml:1: unterminated raw (backtick) string"),
            ("repl{{ 'ab' }}", "error: manifests/app.yaml:1: malformed character constant"),
        ],
    );
}

#[test]
fn pipelines() {
    check_all(
        &online(),
        &[
            ("repl{{ ConfigOption \"mode\" | lower }}", "prod"),
            ("repl{{ \"replicas\" | ConfigOption }}", "3"),
            ("repl{{ \"x\" | printf \"%s-%s\" \"a\" }}", "a-x"),
            ("repl{{ (ConfigOption \"replicas\") }}", "3"),
            ("repl{{ printf \"%s!\" (ConfigOption \"mode\" | upper) }}", "PROD!"),
            ("repl{{ ConfigOption \"mode\" | eq \"Prod\" }}", "true"),
            ("repl{{ ConfigOption \"mode\" | lower | upper | toJson }}", "\"PROD\""),
            (
                "repl{{ ConfigOption \"greeting\" | toJson }}",
                r#""say \"hi\"\n\u003cb\u003ebye\u003c/b\u003e \u0026 'so long'\n""#,
            ),
            (
                "repl{{ \"a\" | \"b\" }}",
                "error: manifests/app.yaml:1: `\"b\"` is not a function and cannot take arguments",
            ),
            ("repl{{ ConfigOption \"mode\" | }}", "error: manifests/app.yaml:1: missing value for command"),
            ("repl{{ }}", "error: manifests/app.yaml:1: missing value for command"),
            ("repl{{ ( ) }}", "error: manifests/app.yaml:1: missing value for parenthesized pipeline"),
            ("repl{{ (Namespace }}", "error: manifests/app.yaml:1: unbalanced parentheses"),
            ("repl{{ Namespace) }}", "error: manifests/app.yaml:1: unbalanced parentheses"),
            ("repl{{ nil }}", "error: manifests/app.yaml:1: nil is not a command"),
            ("repl{{ 1 2 }}", "error: manifests/app.yaml:1: `1` is not a function and cannot take arguments"),
            (
                "repl{{ (Namespace).x }}",
                "error: manifests/app.yaml:1: field access on a value is not supported in KOTS templates",
            ),
        ],
    );
}

#[test]
fn conditionals() {
    check_all(
        &online(),
        &[
            ("{{repl if true }}yes{{repl end }}", "yes"),
            ("{{repl if false }}yes{{repl else }}no{{repl end }}", "no"),
            ("{{repl if false }}yes{{repl end }}", ""),
            (
                "repl{{ if ConfigOptionEquals \"mode\" \"Dev\" }}dev repl{{ else if ConfigOptionEquals \"mode\" \"Prod\" }}prod repl{{ else }}other repl{{ end }}",
                "prod ",
            ),
            (
                "repl{{ if eq 1 2 }}a repl{{ else if eq 1 3 }}b repl{{ else if eq 1 4 }}c repl{{ else }}d repl{{ end }}",
                "d ",
            ),
            ("repl{{ if eq 1 2 }}a repl{{ else if eq 1 3 }}b repl{{ end }}", ""),
            ("{{repl if true }}a{{repl if false }}b{{repl else }}c{{repl end }}d{{repl end }}", "acd"),
            (
                "{{repl if true }}{{repl if true }}{{repl if ConfigOptionEquals \"enable_metrics\" \"0\" }}deep{{repl end }}{{repl end }}{{repl end }}",
                "deep",
            ),
            ("repl{{ if 0 }}T repl{{ else }}F repl{{ end }}", "F "),
            ("repl{{ if \"\" }}T repl{{ else }}F repl{{ end }}", "F "),
            ("repl{{ if \"0\" }}T repl{{ else }}F repl{{ end }}", "T "),
            ("repl{{ if nil }}T repl{{ end }}", "error: manifests/app.yaml:1: nil is not a command"),
            ("repl{{ if . }}T repl{{ else }}F repl{{ end }}", "F "),
            ("repl{{ if 0.0 }}T repl{{ else }}F repl{{ end }}", "F "),
            ("repl{{ if Split \"\" \"\" }}T repl{{ else }}F repl{{ end }}", "F "),
            ("repl{{ if Split \"a\" \",\" }}T repl{{ else }}F repl{{ end }}", "T "),
            // Multi-line blocks with trim markers, as vendors write them.
            (
                "spec:\n  repl{{- if ConfigOptionEquals \"enable_persistence\" \"1\" }}\n  storage: 10Gi\n  repl{{- end }}\n",
                "spec:\n  storage: 10Gi\n",
            ),
            ("{{repl if true }}x", "error: manifests/app.yaml:1: `if` is never closed by an `end`"),
            ("a\n{{repl if true }}\n{{repl else }}\n", "error: manifests/app.yaml:2: `if` is never closed by an `end`"),
            ("x\n{{repl end }}", "error: manifests/app.yaml:2: unexpected `end`: no open `if` for it"),
            ("{{repl else }}", "error: manifests/app.yaml:1: unexpected `else`: no open `if` for it"),
            ("repl{{ else if true }}", "error: manifests/app.yaml:1: unexpected `else`: no open `if` for it"),
            (
                "{{repl if true }}\n{{repl else }}\n{{repl else }}\n{{repl end }}",
                "error: manifests/app.yaml:3: unexpected `else`: no open `if` for it",
            ),
            ("{{repl if }}{{repl end }}", "error: manifests/app.yaml:1: missing value for if"),
            ("{{repl end extra }}", "error: manifests/app.yaml:1: unexpected `extra` in end"),
            ("{{repl range Split \"a,b\" \",\" }}{{repl end }}", "error: manifests/app.yaml:1: unsupported template action `range`"),
            ("{{repl with true }}{{repl end }}", "error: manifests/app.yaml:1: unsupported template action `with`"),
            ("repl{{ not if }}", "error: manifests/app.yaml:1: unexpected `if` in command"),
        ],
    );
}

#[test]
fn logic_and_comparison() {
    check_all(
        &online(),
        &[
            ("repl{{ and 1 0 2 }}", "0"),
            ("repl{{ and 1 2 }}", "2"),
            ("repl{{ or 0 \"\" \"x\" }}", "x"),
            ("repl{{ or 0 \"\" }}", ""),
            ("repl{{ 0 | or 1 }}", "1"),
            ("repl{{ 2 | and 1 }}", "2"),
            ("repl{{ \"\" | and 1 }}", ""),
            // Short-circuit: the failing call is never made.
            ("repl{{ or true (ConfigOption \"missing\") }}", "true"),
            ("repl{{ and false (ConfigOption \"missing\") }}", "false"),
            ("repl{{ or }}", "error: manifests/app.yaml:1: wrong number of arguments for `or`: want at least 1, got 0"),
            ("repl{{ not \"\" }} repl{{ not 1 }}", "true false"),
            ("repl{{ not }}", "error: manifests/app.yaml:1: wrong number of arguments for `not`: want 1, got 0"),
            ("repl{{ eq 1 2 3 1 }} repl{{ eq 1 2 }}", "true false"),
            ("repl{{ eq \"a\" \"a\" }} repl{{ eq true false }} repl{{ eq nil nil }} repl{{ eq nil 1 }}", "true false true false"),
            ("repl{{ eq 1 \"1\" }}", "error: manifests/app.yaml:1: incompatible types for comparison: int and string"),
            ("repl{{ eq 1 }}", "error: manifests/app.yaml:1: wrong number of arguments for `eq`: want at least 2, got 1"),
            ("repl{{ ne \"a\" \"b\" }} repl{{ ne 1 1 }}", "true false"),
            ("repl{{ lt 1 2 }} repl{{ le 2 2 }} repl{{ gt 1 2 }} repl{{ ge \"b\" \"a\" }} repl{{ lt 1.5 2.5 }}", "true true false true true"),
            ("repl{{ lt true false }}", "error: manifests/app.yaml:1: incompatible types for comparison: bool and bool"),
            ("repl{{ lt (ParseInt (ConfigOption \"replicas\")) 5 }}", "true"),
        ],
    );
}

#[test]
fn variables() {
    check_all(
        &online(),
        &[
            ("{{repl $r := ConfigOption \"replicas\" }}r={{repl $r }}", "r=3"),
            ("{{repl $x := 1 }}{{repl if true }}{{repl $x = 2 }}{{repl end }}{{repl $x }}", "2"),
            ("{{repl if $m := ConfigOption \"mode\" }}{{repl $m }}{{repl end }}", "Prod"),
            ("{{repl $ }}", "<no value>"),
            (
                "{{repl if true }}{{repl $y := 1 }}{{repl end }}{{repl $y }}",
                "error: manifests/app.yaml:1: undefined variable `$y`",
            ),
            ("{{repl $z = 1 }}", "error: manifests/app.yaml:1: undefined variable `$z`"),
            // Variables do not cross passes.
            ("{{repl $r := 1 }}repl{{ $r }}", "error: manifests/app.yaml:1: undefined variable `$r`"),
            (
                "{{repl $r.x }}",
                "error: manifests/app.yaml:1: field access on a value is not supported in KOTS templates",
            ),
        ],
    );
}

#[test]
fn config_functions() {
    check_all(
        &online(),
        &[
            ("repl{{ ConfigOption \"replicas\" }}", "3"),
            ("repl{{ ConfigOption \"hostname\" }}", "example.com"),
            ("repl{{ ConfigOption \"greeting\" }}", "say \"hi\"\n<b>bye</b> & 'so long'\n"),
            ("[repl{{ ConfigOption \"unset\" }}]", "[]"),
            ("repl{{ ConfigOption \"nope\" }}", "error: manifests/app.yaml:1: no config item named `nope`"),
            ("repl{{ ConfigOption }}", "error: manifests/app.yaml:1: wrong number of arguments for `ConfigOption`: want 1, got 0"),
            (
                "repl{{ ConfigOption 1 }}",
                "error: manifests/app.yaml:1: wrong type for argument 1 of `ConfigOption`: expected string, got int",
            ),
            ("repl{{ ConfigOptionEquals \"enable_persistence\" \"1\" }}", "true"),
            ("repl{{ ConfigOptionEquals \"enable_metrics\" \"1\" }}", "false"),
            ("repl{{ ConfigOptionNotEquals \"enable_metrics\" \"1\" }}", "true"),
            ("repl{{ ConfigOptionNotEquals \"enable_persistence\" \"1\" }}", "false"),
            ("repl{{ ConfigOptionData \"tls_cert\" }}", "-----BEGIN-----\nabc\n"),
            (
                "repl{{ ConfigOptionData \"not_base64\" }}",
                "error: manifests/app.yaml:1: config item `not_base64` is not valid base64 (ConfigOptionData decodes file items)",
            ),
            ("repl{{ ConfigOptionData \"tls_cert\" | toJson }}", r#""-----BEGIN-----\nabc\n""#),
            ("repl{{ ImagePullSecretName }}", "demo-registry"),
            ("repl{{ Namespace }}", "apps"),
            ("repl{{ IsAirgap }}", "false"),
            ("repl{{ Namespace \"x\" }}", "error: manifests/app.yaml:1: wrong number of arguments for `Namespace`: want 0, got 1"),
        ],
    );
}

#[test]
fn registry_functions_online() {
    check_all(
        &online(),
        &[
            ("repl{{ HasLocalRegistry }}", "false"),
            ("[repl{{ LocalRegistryHost }}|repl{{ LocalRegistryNamespace }}|repl{{ LocalRegistryAddress }}]", "[||]"),
            ("repl{{ LocalImageName \"grafana/grafana:7.3.5\" }}", "grafana/grafana:7.3.5"),
            ("repl{{ LocalImageName \"redis\" }}", "redis"),
            ("repl{{ LocalImageName \"ghcr.io/acme/web:1\" }}", "proxy.replicated.com/proxy/demo/ghcr.io/acme/web:1"),
            (
                "repl{{ LocalImageName \"ghcr.io/acme/tools/cli@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\" }}",
                "proxy.replicated.com/proxy/demo/ghcr.io/acme/tools/cli@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            ),
            ("repl{{ LocalImageName \"ghcr.io/other/web:1\" }}", "ghcr.io/other/web:1"),
            ("repl{{ LocalImageName \"Bad Image\" }}", "error: manifests/app.yaml:1: LocalImageName: invalid image reference `Bad Image`: repository name must be lowercase (at byte 0)"),
        ],
    );
}

#[test]
fn registry_functions_airgap() {
    check_all(
        &airgap(),
        &[
            ("repl{{ HasLocalRegistry }} repl{{ IsAirgap }}", "true true"),
            ("repl{{ LocalRegistryHost }}", "registry.local:5000"),
            ("repl{{ LocalRegistryNamespace }}", "myapp"),
            ("repl{{ LocalRegistryAddress }}", "registry.local:5000/myapp"),
            ("repl{{ LocalImageName \"docker.io/grafana/grafana:7.3.5\" }}", "registry.local:5000/myapp/grafana:7.3.5"),
            ("repl{{ LocalImageName \"redis\" }}", "registry.local:5000/myapp/redis:latest"),
            ("repl{{ LocalImageName \"ghcr.io/acme/web:1\" }}", "registry.local:5000/myapp/web:1"),
            (
                "repl{{ LocalImageName \"quay.io/x/y:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\" }}",
                "registry.local:5000/myapp/y@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            ),
        ],
    );
    check_all(
        &registry_without_namespace(),
        &[
            ("repl{{ HasLocalRegistry }} repl{{ IsAirgap }}", "true false"),
            ("repl{{ LocalRegistryAddress }}", "registry.local"),
            ("[repl{{ LocalRegistryNamespace }}]", "[]"),
            ("repl{{ LocalImageName \"grafana/grafana:7.3.5\" }}", "registry.local/grafana:7.3.5"),
        ],
    );
    // A registry without a host counts as none, as in KOTS.
    let mut no_host = online();
    no_host.local_registry = Some(LocalRegistry { host: String::new(), namespace: "x".to_string() });
    check_all(&no_host, &[("repl{{ HasLocalRegistry }} [repl{{ LocalRegistryAddress }}]", "false []")]);
}

#[test]
fn static_functions() {
    check_all(
        &online(),
        &[
            ("repl{{ ToLower \"AbC\" }} repl{{ ToUpper \"héllo\" }}", "abc HÉLLO"),
            ("[repl{{ TrimSpace \"  a b \\n\" }}]", "[a b]"),
            ("[repl{{ Trim \"  a \" }}] [repl{{ Trim \"xxaxx\" \"x\" }}] [repl{{ Trim \"-_a_-\" \"_-\" }}]", "[a] [a] [a]"),
            ("repl{{ Base64Encode \"hello\" }} repl{{ Base64Encode \"\" }}|repl{{ Base64Encode \"ab\" }}", "aGVsbG8= |YWI="),
            ("repl{{ Base64Decode \"aGVsbG8=\" }} [repl{{ Base64Decode \"!!\" }}]", "hello []"),
            ("repl{{ Base64Decode \"aGVs\\nbG8=\" }}", "hello"),
            ("repl{{ Split \"a,b,c\" \",\" }} repl{{ Split \"\" \",\" | len }} repl{{ Split \"abc\" \"\" }}", "[a b c] 1 [a b c]"),
            ("repl{{ ParseBool \"true\" }} repl{{ ParseBool \"1\" }} repl{{ ParseBool \"F\" }} repl{{ ParseBool \"yes\" }}", "true true false false"),
            ("repl{{ ParseInt \"42\" }} repl{{ ParseInt \"-42\" }} repl{{ ParseInt \"x\" }} repl{{ ParseInt \"ff\" 16 }}", "42 -42 0 255"),
            ("repl{{ ParseInt \"0x1f\" 0 }} repl{{ ParseInt \"0x1f\" }} repl{{ ParseInt \"1\" 99 }} repl{{ ParseInt \"+7\" }}", "31 0 0 7"),
            ("repl{{ ParseInt \"9223372036854775807\" }} repl{{ ParseInt \"9223372036854775808\" }}", "9223372036854775807 0"),
            ("repl{{ ParseInt \"1\" \"10\" }}", "error: manifests/app.yaml:1: wrong type for argument 2 of `ParseInt`: expected int, got string"),
            ("repl{{ UrlEncode \"a b&c=d/é\" }}", "a+b%26c%3Dd%2F%C3%A9"),
        ],
    );
}

#[test]
fn sprig_functions() {
    check_all(
        &online(),
        &[
            ("repl{{ lower \"AbC\" }} repl{{ upper \"abc\" }} [repl{{ trim \" x \" }}]", "abc ABC [x]"),
            ("repl{{ \"-x-\" | trimPrefix \"-\" }} repl{{ \"-x-\" | trimSuffix \"-\" }}", "x- -x"),
            ("repl{{ contains \"at\" \"cat\" }} repl{{ hasPrefix \"ca\" \"cat\" }} repl{{ hasSuffix \"ca\" \"cat\" }}", "true true false"),
            ("repl{{ replace \"a\" \"o\" \"banana\" }} repl{{ \"a-b\" | replace \"-\" \"_\" }}", "bonono a_b"),
            ("repl{{ quote \"a\\\"b\" 1 nil }} repl{{ squote \"it\" }} repl{{ ConfigOption \"mode\" | quote }}", "\"a\\\"b\" \"1\" 'it' \"Prod\""),
            ("repl{{ default \"d\" \"\" }} repl{{ default \"d\" \"x\" }} repl{{ \"\" | default \"d\" }} repl{{ default \"d\" }}", "d x d d"),
            ("repl{{ ConfigOption \"unset\" | default \"fallback\" }} repl{{ default 5 0 }}", "fallback 5"),
            ("repl{{ empty \"\" }} repl{{ empty 0 }} repl{{ empty \"a\" }} repl{{ empty nil }}", "true true false true"),
            ("repl{{ ternary \"y\" \"n\" true }} repl{{ false | ternary \"y\" \"n\" }}", "y n"),
            ("repl{{ ternary \"y\" \"n\" \"true\" }}", "error: manifests/app.yaml:1: wrong type for argument 3 of `ternary`: expected bool, got string"),
            ("repl{{ toString 5 }} repl{{ toString true }} repl{{ toString nil }}", "5 true <nil>"),
            ("repl{{ toJson 5 }} repl{{ toJson true }} repl{{ toJson nil }} repl{{ toJson 1.5 }} repl{{ Split \"a,b\" \",\" | toJson }}", "5 true null 1.5 [\"a\",\"b\"]"),
            ("repl{{ toJson \"tab\\there\\u0001\\u2028\" }}", "\"tab\\there\\u0001\\u2028\""),
            ("repl{{ b64enc \"hi\" }} repl{{ b64dec \"aGk=\" }} repl{{ b64dec \"a\" }}", "aGk= hi illegal base64 data at input byte 1"),
            ("repl{{ indent 2 \"a\\nb\" }}|repl{{ \"a\\nb\" | nindent 4 }}", "  a\n  b|\n    a\n    b"),
            ("repl{{ indent -1 \"a\" }}", "error: manifests/app.yaml:1: invalid argument for `indent`: -1 is not a number of spaces between 0 and 10000"),
            ("repl{{ len \"héllo\" }} repl{{ len (Split \"a,b\" \",\") }}", "6 2"),
            ("repl{{ len 5 }}", "error: manifests/app.yaml:1: wrong type for argument 1 of `len`: expected string or list, got int"),
            ("repl{{ print \"a\" 1 2 \"b\" }} repl{{ print 1 2 }}", "a1 2b 1 2"),
            ("repl{{ println \"a\" 1 }}", "a 1\n"),
        ],
    );
}

#[test]
fn printf_verbs() {
    check_all(
        &online(),
        &[
            ("repl{{ printf \"%s=%d\" \"n\" 5 }}", "n=5"),
            ("repl{{ printf \"%v %v %v %v\" \"s\" 1 true nil }}", "s 1 true <nil>"),
            ("repl{{ printf \"%q\" \"a\\\"b\\n\" }}", "\"a\\\"b\\n\""),
            ("repl{{ printf \"%t %x %X %c %%\" false 255 255 65 }}", "false ff FF A %"),
            (
                "repl{{ printf \"%5s|%-5s|%05d|%+d|%.2f|%.1s\" \"a\" \"b\" 42 3 3.14159 \"xyz\" }}",
                "    a|b    |00042|+3|3.14|x",
            ),
            ("repl{{ printf \"%d\" \"x\" }}", "%!d(string=x)"),
            ("repl{{ printf \"%s\" 5 }}", "%!s(int=5)"),
            ("repl{{ printf \"%s %s\" \"a\" }}", "a %!s(MISSING)"),
            ("repl{{ printf \"%s\" \"a\" \"b\" }}", "a%!(EXTRA string=b)"),
            ("repl{{ printf \"%\" }}", "%!(NOVERB)"),
            (
                "repl{{ printf }}",
                "error: manifests/app.yaml:1: wrong number of arguments for `printf`: want at least 1, got 0",
            ),
        ],
    );
}

#[test]
fn helm_templates_are_left_alone() {
    check_all(
        &airgap(),
        &[
            ("replicas: {{ .Values.replicas }}", "replicas: {{ .Values.replicas }}"),
            ("replicas: {{ .Values.replicaCount }}", "replicas: {{ .Values.replicaCount }}"),
            ("{{- if .Values.x }}\n  a: 1\n{{- end }}\n", "{{- if .Values.x }}\n  a: 1\n{{- end }}\n"),
            (
                "  {{- include \"chart.labels\" . | nindent 4 }}",
                "  {{- include \"chart.labels\" . | nindent 4 }}",
            ),
            (
                "{{ \"{{\" }} {{ \"}}\" }} {{ \"repl\" }} {{/* repl */}}",
                "{{ \"{{\" }} {{ \"}}\" }} {{ \"repl\" }} {{/* repl */}}",
            ),
            ("repl {{ x }} {{ repl }}", "repl {{ x }} {{ repl }}"),
            (
                "image: {{ .Values.image }}:repl{{ ConfigOption \"replicas\" }}",
                "image: {{ .Values.image }}:3",
            ),
            // Go finds delimiters by plain search, so KOTS fails on these too.
            ("{{ \"{{repl\" }}", "error: manifests/app.yaml:1: unterminated quoted string"),
            ("{{ \"repl{{\" }}", "error: manifests/app.yaml:1: unterminated quoted string"),
            ("{{replicas}}", "error: manifests/app.yaml:1: unsupported KOTS template function `icas`"),
        ],
    );
}

#[test]
fn mixed_syntax_in_one_file() {
    let template = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: '{{repl Namespace }}'
spec:
  replicas: repl{{ ConfigOption "replicas" }}
  template:
    spec:
      imagePullSecrets:
        - name: '{{repl ImagePullSecretName }}'
      containers:
        - name: web
          image: '{{repl LocalImageName "ghcr.io/acme/web:1.2.3" }}'
          env:
            - name: GREETING
              value: repl{{ ConfigOption "greeting" | toJson }}
            - name: HELM_VALUE
              value: {{ .Values.untouched | quote }}
{{repl if ConfigOptionEquals "enable_persistence" "1" }}
          volumeMounts:
            - name: data
              mountPath: /data
{{repl end }}
"#;
    let expected = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: 'apps'
spec:
  replicas: 3
  template:
    spec:
      imagePullSecrets:
        - name: 'demo-registry'
      containers:
        - name: web
          image: 'registry.local:5000/myapp/web:1.2.3'
          env:
            - name: GREETING
              value: "say \"hi\"\n\u003cb\u003ebye\u003c/b\u003e \u0026 'so long'\n"
            - name: HELM_VALUE
              value: {{ .Values.untouched | quote }}

          volumeMounts:
            - name: data
              mountPath: /data

"#;
    check(template, &airgap(), expected);
}

/// The exact templates helmkots generates.
#[test]
fn generated_patterns() {
    let image = "'{{repl if HasLocalRegistry }}{{repl LocalRegistryAddress }}/grafana{{repl else }}grafana/grafana{{repl end }}'";
    let repository =
        "{{repl if LocalRegistryNamespace }}{{repl LocalRegistryNamespace }}/{{repl end }}json-exporter";
    check_all(
        &online(),
        &[
            (image, "'grafana/grafana'"),
            (repository, "json-exporter"),
            ("repl{{ ConfigOptionEquals \"enable_persistence\" \"1\" }}", "true"),
            ("repl{{ ConfigOption \"replicas\" }}", "3"),
            (
                "repl{{ ConfigOption \"greeting\" | toJson }}",
                r#""say \"hi\"\n\u003cb\u003ebye\u003c/b\u003e \u0026 'so long'\n""#,
            ),
            ("'{{repl ImagePullSecretName }}'", "'demo-registry'"),
            ("{{repl Namespace }}", "apps"),
        ],
    );
    check_all(
        &airgap(),
        &[(image, "'registry.local:5000/myapp/grafana'"), (repository, "myapp/json-exporter")],
    );
    check_all(
        &registry_without_namespace(),
        &[(image, "'registry.local/grafana'"), (repository, "json-exporter")],
    );
}

#[test]
fn generated_string_values_stay_valid_yaml_strings() {
    for text in ["plain", "a: b", "say \"hi\"\nbye\n", "tab\tand \\ backslash", "{{ not helm }}", "- [x]", ""]
    {
        let mut ctx = online();
        ctx.config.insert("text".to_string(), item(Some(text), None));
        let rendered = render("value: repl{{ ConfigOption \"text\" | toJson }}\n", &ctx, FILE);
        let document: serde_json::Value = rendered
            .ok()
            .and_then(|yaml| serde_saphyr::from_str(&yaml).ok())
            .unwrap_or(serde_json::Value::Null);
        assert_eq!(document["value"], serde_json::Value::String(text.to_string()), "{text:?}");
    }
}

#[test]
fn errors_name_function_file_and_line() {
    check_all(
        &online(),
        &[
            (
                "a: 1\nb: 2\nc: repl{{ Foo \"x\" }}\n",
                "error: manifests/app.yaml:3: unsupported KOTS template function `Foo`",
            ),
            (
                "a: 1\nb: '{{repl LicenseFieldValue \"seats\" }}'\n",
                "error: manifests/app.yaml:2: unsupported KOTS template function `LicenseFieldValue`",
            ),
            // Unknown functions fail in branches that are not taken, too.
            (
                "{{repl if false }}\n{{repl Bogus }}\n{{repl end }}",
                "error: manifests/app.yaml:2: unsupported KOTS template function `Bogus`",
            ),
            // Second-pass errors point at the line in the original text.
            (
                "{{repl if false }}\na\nb\nc\n{{repl end }}\nx: repl{{ Bogus }}\n",
                "error: manifests/app.yaml:6: unsupported KOTS template function `Bogus`",
            ),
            (
                "a\nb\nx: {{repl ConfigOption \"evil\" }}\n",
                "error: manifests/app.yaml:3: unsupported KOTS template function `Bogus`",
            ),
            (
                "a\n{{repl- \"x\" -}}\n\n\nrepl{{ ConfigOption \"nope\" }}",
                "error: manifests/app.yaml:5: no config item named `nope`",
            ),
            (
                "a\nb: {{repl Namespace\n",
                "error: manifests/app.yaml:2: unclosed action: no `}}` after `{{repl`",
            ),
            (
                "a\nb: repl{{ Namespace",
                "error: manifests/app.yaml:2: unclosed action: no `}}` after `repl{{`",
            ),
            (
                "{{repl/* never closed }}",
                "error: manifests/app.yaml:1: unclosed comment, or a comment not followed by `}}`",
            ),
            (
                "{{repl/* c */ x }}",
                "error: manifests/app.yaml:1: unclosed comment, or a comment not followed by `}}`",
            ),
            (
                "repl{{ ConfigOption\"x\" }}",
                "error: manifests/app.yaml:1: unexpected character '\"' in action",
            ),
            ("repl{{ # }}", "error: manifests/app.yaml:1: unexpected character '#' in action"),
            ("repl{{ 12abc }}", "error: manifests/app.yaml:1: bad number `12abc`"),
            (
                "repl{{ 99999999999999999999 }}",
                "error: manifests/app.yaml:1: bad number `99999999999999999999`",
            ),
            ("repl{{ 1é }}", "error: manifests/app.yaml:1: bad number `1é`"),
            ("repl{{ é }}", "error: manifests/app.yaml:1: unsupported KOTS template function `é`"),
            ("repl{{ Namespace := 1 }}", "error: manifests/app.yaml:1: unexpected `:=` in command"),
        ],
    );
    let error = render("a\nrepl{{ Foo }}", &online(), FILE).err();
    assert_eq!(error.as_ref().map(|error| (error.line, error.token())), Some((2, Some("Foo"))));
}

#[test]
fn nesting_is_bounded() {
    let nested =
        |depth: usize| format!("{}x{}", "{{repl if true }}".repeat(depth), "{{repl end }}".repeat(depth));
    check(&nested(MAX_DEPTH), &online(), "x");
    check(
        &nested(MAX_DEPTH + 1),
        &online(),
        "error: manifests/app.yaml:1: template nested too deeply (more than 64 levels of `if` and parentheses)",
    );
    let parens = |depth: usize| format!("repl{{{{ {}1{} }}}}", "(".repeat(depth), ")".repeat(depth));
    check(&parens(MAX_DEPTH), &online(), "1");
    check(
        &parens(10_000),
        &online(),
        "error: manifests/app.yaml:1: template nested too deeply (more than 64 levels of `if` and parentheses)",
    );
    // Long flat chains are not nesting.
    let chain = format!(
        "{{{{repl if false }}}}{}{{{{repl else }}}}last{{{{repl end }}}}",
        "{{repl else if false }}".repeat(500)
    );
    check(&chain, &online(), "last");
}

#[test]
fn garbage_never_panics() {
    let seeds = [
        "a: '{{repl if HasLocalRegistry }}{{repl LocalRegistryAddress }}/x{{repl else }}y{{repl end }}'\n",
        "b: repl{{- ConfigOption \"greeting\" | toJson -}}\nc: repl{{ printf \"%5.2f|%q\" 1.5 \"é\\u00e9\" }}",
        "{{repl $x := (eq 1 (len `é`)) }}{{repl if and $x (or 0 'a') }}{{repl/* c */}}{{repl end }}",
        "repl{{ \"\\x41\\101\\U0001F600\" | b64enc | b64dec | indent 2 }} {{ .Values.x }}",
    ];
    let mut inputs: Vec<String> = Vec::new();
    for seed in seeds {
        for (index, _) in seed.char_indices() {
            inputs.push(seed[..index].to_string());
            inputs.push(seed[index..].to_string());
            let mut without = seed.to_string();
            without.remove(index);
            inputs.push(without);
        }
    }
    // Pseudo-random sequences of fragments.
    let fragments = [
        "{{repl",
        "repl{{",
        "}}",
        "{{",
        " ",
        "-",
        "\"",
        "`",
        "'",
        "\\",
        "(",
        ")",
        "|",
        "$x",
        ":=",
        "=",
        ".",
        "if",
        "else",
        "end",
        "1",
        "é",
        "\n",
        "ConfigOption",
        "\"replicas\"",
        "toJson",
        "and",
        "/*",
        "*/",
        "0x",
        "e",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..3000 {
        let mut input = String::new();
        for _ in 0..(state % 24) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            input.push_str(fragments[(state % fragments.len() as u64) as usize]);
        }
        inputs.push(input);
    }
    for ctx in [online(), airgap()] {
        for input in &inputs {
            // Any result will do; the point is that there is one.
            let _ = render(input, &ctx, FILE);
        }
    }
}

#[test]
fn base64_round_trips() {
    for length in 0..20 {
        let bytes: Vec<u8> = (0..length).map(|index| (index * 37 + 11) as u8).collect();
        let encoded = functions::base64_encode(&bytes);
        assert_eq!(encoded.len() % 4, 0);
        assert_eq!(functions::base64_decode(&encoded), Ok(bytes));
    }
    assert_eq!(functions::base64_encode(b"foobar"), "Zm9vYmFy");
    assert_eq!(functions::base64_decode("Zm9vYg=="), Ok(b"foob".to_vec()));
    assert!(functions::base64_decode("Zm9vYg").is_err());
    assert!(functions::base64_decode("Zm9v=mFy").is_err());
    assert!(functions::base64_decode("Z===").is_err());
}

#[test]
fn context_from_release_set_overrides() {
    let release_toml = r#"
[app]
slug = "demo-app"
title = "Demo"

[chart]
path = "chart"
release_name = "demo"

[[config.groups]]
name = "main"
title = "Main"

[[config.groups.items]]
name = "replicas"
title = "Replicas"
type = "text"
default = "2"

[[config.groups.items]]
name = "greeting"
title = "Greeting"
type = "text"

[[config.groups.items]]
name = "tls"
title = "TLS"
type = "bool"
default = "0"

[[config.groups.items]]
name = "size"
title = "Size"
type = "radio"
default = "small"
choices = [{ name = "small", title = "Small" }, { name = "large", title = "Large" }]
"#;
    let release = crate::input::release::parse(camino::Utf8Path::new("release.toml"), release_toml).unwrap();
    let set = BTreeMap::from([("greeting".to_string(), "hi".to_string())]);
    let ctx = Context::from_release(&release, &set).unwrap();
    assert_eq!(ctx.app_slug, "demo-app");
    assert_eq!(ctx.routing.proxy, "proxy.replicated.com/proxy/demo-app");
    check(
        "repl{{ ConfigOption \"replicas\" }} repl{{ ConfigOption \"greeting\" }} repl{{ Namespace }}",
        &ctx,
        "2 hi default",
    );

    let typo = BTreeMap::from([("replica".to_string(), "1".to_string())]);
    assert_eq!(
        Context::from_release(&release, &typo).err().map(|error| error.to_string()),
        Some(
            "no config item named `replica` (did you mean `replicas`?); the items are `replicas`, `greeting`, \
             `tls`, `size`"
                .to_string()
        )
    );
    for (item, value, allowed) in [("tls", "yes", "`0`, `1`"), ("size", "huge", "`small`, `large`")] {
        let wrong = BTreeMap::from([(item.to_string(), value.to_string())]);
        assert_eq!(
            Context::from_release(&release, &wrong).err().map(|error| error.to_string()),
            Some(format!("config item `{item}` cannot be `{value}`: it is one of {allowed}"))
        );
    }
    let right =
        BTreeMap::from([("tls".to_string(), "1".to_string()), ("size".to_string(), "large".to_string())]);
    assert!(Context::from_release(&release, &right).is_ok());
}

#[test]
fn random_string_has_the_length_and_alphabet_and_is_stable() {
    let ctx = online();
    let first = render("repl{{ RandomString 24 }}", &ctx, "t").unwrap();
    assert_eq!(first.len(), 24);
    assert!(first.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()), "{first}");
    assert_eq!(render("repl{{ RandomString 24 }}", &ctx, "t").unwrap(), first, "renders stay cacheable");
    assert_eq!(render("repl{{ RandomString 100 }}", &ctx, "t").unwrap().len(), 100);
    assert!(render(r#"repl{{ RandomString 8 "[a-z]" }}"#, &ctx, "t").is_err(), "the charset form is refused");
}
