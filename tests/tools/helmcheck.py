#!/usr/bin/env python3
"""Chart checks for helmkots' tests, on the real Helm engine (helm_python) and on the
Kubernetes OpenAPI schemas that kubernetes-validate ships.

    helmcheck.py lint PATH [--strict] [--with-subcharts] [-f FILE]... [--set-json JSON]...
    helmcheck.py load PATH
    helmcheck.py values PATH
    helmcheck.py render PATH [--name N] [--namespace NS] [-f FILE]... [--set-json JSON]...
                             [--set K=V]... [--include-crds] [--skip-tests]
    helmcheck.py k8s-validate FILE... [--version 1.30] [--no-strict]

PATH is a chart directory or a .tgz. FILE may be `-` for stdin. Data goes to stdout,
errors to stderr. Exit codes: 0 success, 1 findings (lint errors, invalid objects) or a
failed Helm call, 2 bad usage.

Requires Python 3.11 with helm-python-sdk, kubernetes-validate and PyYAML (a dependency of
kubernetes-validate).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from typing import Any

import helm_python

# helmrender sits next to this script; do not leave a __pycache__ in the repository.
sys.dont_write_bytecode = True
import helmrender  # noqa: E402

# API groups of objects that are not Kubernetes built-ins: KOTS and Troubleshoot kinds.
# Their schemas are not in kubernetes-validate, so k8s-validate skips them.
SKIPPED_API_GROUPS = ("kots.io/", "troubleshoot.sh/")

# Severity numbers in helm_python.lint messages.
LINT_WARNING = 2
LINT_ERROR = 3


def add_value_flags(parser: argparse.ArgumentParser) -> None:
    """The values flags shared by lint and render."""
    parser.add_argument(
        "-f", "--values", dest="values_files", action="append", default=[], metavar="FILE",
        help="values file, merged in order (repeatable)",
    )
    parser.add_argument(
        "--set-json", action="append", default=[], metavar="JSON",
        help="a JSON object of values, or Helm's key=<json> form (repeatable)",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="K=V",
        help="Helm --set expression (repeatable)",
    )


def values_from_args(args: argparse.Namespace) -> dict[str, Any]:
    sources = helmrender.ValueSources(
        files=args.values_files, set_json=args.set_json, set=args.set, set_string=[]
    )
    return sources.merge()


def cmd_lint(args: argparse.Namespace) -> int:
    """Print helm_python.lint's report as JSON; fail on any error (or warning with --strict)."""
    report = helm_python.lint(
        args.path,
        values_from_args(args) or None,
        strict=args.strict,
        with_subcharts=args.with_subcharts,
    )
    print(json.dumps(report, indent=2, sort_keys=True))
    worst = LINT_WARNING if args.strict else LINT_ERROR
    failed = bool(report.get("errors")) or any(
        message.get("severity", 0) >= worst for message in report.get("messages", [])
    )
    return 1 if failed else 0


def cmd_load(args: argparse.Namespace) -> int:
    """Print the chart's name, version, template paths and loaded subcharts as JSON."""
    with helm_python.Chart.load(args.path) as chart:
        metadata = chart.metadata
        summary = {
            "name": metadata.get("name", ""),
            "version": metadata.get("version", ""),
            "appVersion": metadata.get("appVersion", ""),
            "templates": sorted(template["name"] for template in chart.templates),
            # Subcharts actually present under charts/ (declared-only ones are absent).
            "dependencies": sorted(
                (
                    {
                        "name": dependency.get("name", ""),
                        "version": dependency.get("version", ""),
                        "appVersion": dependency.get("appVersion", ""),
                    }
                    for dependency in chart.dependencies
                ),
                key=lambda dependency: dependency["name"],
            ),
            # What Chart.yaml declares, with ranges, repositories and conditions.
            "declaredDependencies": metadata.get("dependencies", []),
        }
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0

# The one template `values` renders; its name sorts last, as a marker to find it by.
VALUES_TEMPLATE = "templates/zz-helmcheck-values.yaml"


def _unpack_chart(path: str, destination: str) -> None:
    """Copy a chart directory, or expand a chart archive, to `destination`."""
    if os.path.isdir(path):
        shutil.copytree(path, destination)
        return
    expanded = tempfile.mkdtemp(dir=os.path.dirname(destination))
    helm_python.expand(expanded, path)
    (top,) = os.listdir(expanded)
    shutil.move(os.path.join(expanded, top), destination)
    shutil.rmtree(expanded)


def _open_every_subchart(chart_dir: str) -> None:
    """Rewrite a chart copy so that rendering it shows every subchart's values.

    Chart.yaml is rewritten as the JSON of Helm's own reading of it (JSON is YAML), without
    `condition`, `tags` and `import-values` in its dependencies, so that Helm enables every
    subchart and imports nothing; requirements.yaml goes (its dependencies are in the JSON).
    Templates and schemas go, so that nothing but the values can fail. Subchart archives
    under charts/ are expanded in place, and every subchart is treated the same way.
    """
    with helm_python.Chart.load(chart_dir) as chart:
        metadata = chart.metadata
    for dependency in metadata.get("dependencies") or []:
        for key in ("condition", "tags", "import-values"):
            dependency.pop(key, None)
    with open(os.path.join(chart_dir, "Chart.yaml"), "w", encoding="utf-8") as handle:
        json.dump(metadata, handle)
    for name in ("requirements.yaml", "values.schema.json"):
        if os.path.exists(os.path.join(chart_dir, name)):
            os.remove(os.path.join(chart_dir, name))
    shutil.rmtree(os.path.join(chart_dir, "templates"), ignore_errors=True)
    charts = os.path.join(chart_dir, "charts")
    if not os.path.isdir(charts):
        return
    for index, entry in enumerate(sorted(os.listdir(charts))):
        path = os.path.join(charts, entry)
        if entry.startswith(("_", ".")):
            continue  # Helm skips these.
        if entry.endswith(".tgz") and os.path.isfile(path):
            unpacked = os.path.join(charts, f"expanded-{index}-{entry[:-4]}")
            _unpack_chart(path, unpacked)
            os.remove(path)
            _open_every_subchart(unpacked)
        elif os.path.isdir(path):
            _open_every_subchart(path)


def cmd_values(args: argparse.Namespace) -> int:
    """Print the default values a release renders with, every subchart enabled, as JSON.

    That is Helm's `CoalesceValues` over the chart after `ProcessDependencies` gave each
    subchart its alias: the chart's values with each subchart's values coalesced under its
    alias or name and `global` copied down. Conditions and tags are dropped so that every
    vendored subchart counts, and import-values so that nothing is imported. Helm itself
    computes it: a copy of the chart renders one template, `{{ toJson .Values }}`.
    """
    with tempfile.TemporaryDirectory(prefix="helmcheck-values-") as scratch:
        root = os.path.join(scratch, "chart")
        _unpack_chart(args.path, root)
        _open_every_subchart(root)
        os.makedirs(os.path.join(root, "templates"), exist_ok=True)
        with open(os.path.join(root, VALUES_TEMPLATE), "w", encoding="utf-8") as handle:
            handle.write("{{ toJson .Values }}")
        with helm_python.Chart.load(root) as chart:
            rendered = chart.render(name="release-name", namespace="default")
    (text,) = [text for path, text in rendered.items() if path.endswith("/" + VALUES_TEMPLATE)]
    print(json.dumps(json.loads(text), indent=2, sort_keys=True))
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    """Print the chart rendered as `helm template` would, hooks and tests included."""
    options = helmrender.TemplateOptions(
        release_name=args.name,
        namespace=args.namespace,
        include_crds=args.include_crds,
        skip_tests=args.skip_tests,
    )
    sys.stdout.write(helmrender.template(args.path, values_from_args(args), options))
    return 0


def _object_name(document: dict[str, Any]) -> str:
    """`kind/name` of a Kubernetes object, for messages."""
    metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    return f"{document.get('kind', '?')}/{metadata.get('name', '?')}"


def validate_documents(label: str, text: str, version: str, strict: bool) -> list[str]:
    """Validate every YAML document of one file; return one line per problem."""
    import kubernetes_validate
    import kubernetes_validate.utils as kv_utils
    import yaml

    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        return [f"{label}: YAML parse error: {error}".replace("\n", " ")]

    problems = []
    for index, document in enumerate(documents, start=1):
        if document is None:  # Empty document, e.g. between two `---`.
            continue
        where = f"{label}: document {index}"
        if not isinstance(document, dict) or "apiVersion" not in document or "kind" not in document:
            problems.append(f"{where}: not a Kubernetes object (needs apiVersion and kind)")
            continue
        if str(document["apiVersion"]).startswith(SKIPPED_API_GROUPS):
            continue
        where = f"{where} ({_object_name(document)})"
        try:
            kubernetes_validate.validate(document, version, strict=strict)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(item) for item in error.path) or "<root>"
            problems.append(f"{where}: {path}: {error.message}")
        except (kv_utils.SchemaNotFoundError, kv_utils.InvalidSchemaError) as error:
            problems.append(f"{where}: {error.message}")
    return problems


def cmd_k8s_validate(args: argparse.Namespace) -> int:
    """Validate Kubernetes objects against the schemas of one Kubernetes version."""
    import kubernetes_validate.utils as kv_utils

    problems = []
    for path in args.files:
        try:
            if path == "-":
                text = sys.stdin.read()
            else:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
        except OSError as error:
            problems.append(f"{path}: {error.strerror}")
            continue
        try:
            problems.extend(validate_documents(path, text, args.version, not args.no_strict))
        except kv_utils.VersionNotSupportedError:
            supported = ", ".join(dict.fromkeys(kv_utils.all_versions()))  # Deduplicated.
            print(
                f"error: kubernetes-validate has no schemas for {args.version} (it has {supported})",
                file=sys.stderr,
            )
            return 2
    for problem in problems:
        print(problem)
    return 1 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helmcheck.py",
        description="Lint, load, render and schema-check Helm charts with the real Helm engine.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lint = commands.add_parser("lint", help="helm lint; JSON report, exit 1 on errors")
    lint.add_argument("path", metavar="PATH")
    lint.add_argument("--strict", action="store_true", help="fail on warnings too")
    lint.add_argument("--with-subcharts", action="store_true", help="lint subcharts too")
    add_value_flags(lint)
    lint.set_defaults(run=cmd_lint)

    load = commands.add_parser("load", help="load a chart; JSON summary")
    load.add_argument("path", metavar="PATH")
    load.set_defaults(run=cmd_load)

    values = commands.add_parser(
        "values", help="default values with every subchart coalesced, as Helm computes them; JSON"
    )
    values.add_argument("path", metavar="PATH")
    values.set_defaults(run=cmd_values)

    render = commands.add_parser("render", help="render like `helm template`")
    render.add_argument("path", metavar="PATH")
    render.add_argument("--name", default="release-name", help="release name")
    render.add_argument("--namespace", default="default", help="release namespace")
    render.add_argument("--include-crds", action="store_true", help="print crds/ first")
    render.add_argument("--skip-tests", action="store_true", help="leave out test hooks")
    add_value_flags(render)
    render.set_defaults(run=cmd_render)

    validate = commands.add_parser(
        "k8s-validate", help="validate YAML files against Kubernetes schemas"
    )
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--version", default="1.30", help="Kubernetes version (default 1.30)")
    validate.add_argument(
        "--no-strict", action="store_true", help="allow fields the schema does not define"
    )
    validate.set_defaults(run=cmd_k8s_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except helm_python.HelmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # Output piped into `head` and the like.
        return 0
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
