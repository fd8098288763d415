"""Helm-compatible values merging and `helm template` output, on top of helm_python.

Shared by the two test tools in this directory: `helm` (a stand-in for the real CLI's
`helm template`) and `helmcheck.py` (lint, load, render and Kubernetes schema checks).

helm_python binds the real Helm Go SDK, so templates are rendered by Helm itself.
What this module adds is the part the real CLI does after rendering, reproduced from
Helm 4's `pkg/cmd/template.go`, `pkg/action` and `pkg/release/v1/util`, the same Helm
version as the engine (`helm version --short` prints it):

* values files and `--set*` flags are merged in Helm's order, maps merged deeply;
* NOTES.txt and partials (`_*.tpl`) are dropped, every file is split on `---`
  and empty documents are dropped; like Helm 4 (and unlike Helm 3, which trims both
  ends), a document keeps its trailing blank lines, so the byte output matches Helm 4;
* documents are ordered like Helm: by file path, then by position in the file, then a
  stable sort by kind in Helm's install order (unknown kinds last, alphabetically);
* hooks (`helm.sh/hook`) are printed after the other documents, test hooks included;
* with `include_crds`, the chart's `crds/` files come first;
* `--kube-version` is checked like the CLI checks it (Helm's ParseKubeVersion, which is
  k8s.io/apimachinery's ParseGeneric) before anything else, and `--api-versions` values
  are split like pflag splits a string slice (the first record of Go's encoding/csv).
  Both are then handed to the engine, which sets `.Capabilities` from them exactly as
  `helm template` does: the kube version as given (`v` prepended when missing), the API
  versions appended to the default set.

Known differences from the real CLI: `--set a[0]=x` replaces rather than patches an
existing list, `crds/` of a subchart that a condition disables are still printed, and a
chart's `kubeVersion:` range is not checked against the Kubernetes version (Helm fails
with "chart requires kubeVersion: ... which is incompatible with Kubernetes ...").
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import helm_python
from helm_python import _native

# Helm's releaseutil.InstallOrder: the kind order of an install, and of `helm template`.
INSTALL_ORDER = [
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
]
_KIND_RANK = {kind: rank for rank, kind in enumerate(INSTALL_ORDER)}

# Helm's releaseutil.SplitManifests separator (Go's `\s` is ASCII only).
_DOCUMENT_SEPARATOR = re.compile(r"(?:^|\s*\n)---\s*", re.ASCII)

# k8s.io/apimachinery's version.ParseGeneric pattern. Go's `\s` is [\t\n\f\r ], its `.`
# stops at a newline and its `$` is the end of the text.
_KUBE_VERSION = re.compile(r"[\t\n\f\r ]*v?([0-9]+(?:\.[0-9]+)*)(.*)\Z")

HOOK_ANNOTATION = "helm.sh/hook"
TEST_HOOKS = {"test", "test-success"}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge `override` into a copy of `base` like Helm's mergeMaps: maps recursively,
    anything else (lists included) replaced."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def read_values_file(path: str) -> dict[str, Any]:
    """Parse one `-f` values file with Helm's own YAML reader; `-` reads stdin."""
    if path == "-":
        text = sys.stdin.read()
    else:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    try:
        return helm_python.values_from_yaml(text)
    except helm_python.HelmError as error:
        raise helm_python.HelmValuesError(f"failed to parse {path}: {error}") from error


# The escapes Go's strconv.Quote writes for control characters.
_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """Go's `%q` of a string (strconv.Quote), for error messages that quote user input."""
    quoted = []
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            quoted.append("\\" + char)
        elif char in _GO_ESCAPES:
            quoted.append(_GO_ESCAPES[char])
        elif 0xDC80 <= code <= 0xDCFF:  # A command-line byte that is not UTF-8.
            quoted.append(f"\\x{code - 0xDC00:02x}")
        elif char.isprintable():
            quoted.append(char)
        elif code < 0x80:
            quoted.append(f"\\x{code:02x}")
        elif code < 0x10000:
            quoted.append(f"\\u{code:04x}")
        else:
            quoted.append(f"\\U{code:08x}")
    return '"' + "".join(quoted) + '"'


def check_kube_version(version: str) -> None:
    """Fail like `helm template --kube-version` does on a version Helm cannot parse.

    Helm's ParseKubeVersion accepts what k8s.io/apimachinery's ParseGeneric does: at
    least two dot-separated numbers, an optional `v` and leading whitespace before them
    and anything but a newline after them (`1.30`, `v1.30.2-gke.100`, `1.28+`).
    The engine parses the version again when rendering; this only gives the CLI's error,
    before anything else is read, as the CLI does. An empty version is the default.
    """
    if version == "":
        return
    match = _KUBE_VERSION.match(version)
    if match is None:
        detail = f"could not parse {go_quote(version)} as version"
    else:
        components = match.group(1).split(".")
        detail = ""
        if len(components) < 2:
            detail = f"illegal version string {go_quote(version)}"
        elif components[0].startswith("0") and components[0] != "0":
            detail = (
                f"illegal zero-prefixed version component {go_quote(components[0])} "
                f"in {go_quote(version)}"
            )
        else:
            for component in components:
                digits = component.lstrip("0")  # Go's strconv.ParseUint(component, 10, 0).
                if len(digits) > 20 or int(digits or "0") >= 1 << 64:
                    detail = (
                        f"illegal non-numeric version component {go_quote(component)} "
                        f"in {go_quote(version)}: strconv.ParseUint: parsing "
                        f"{go_quote(component)}: value out of range"
                    )
                    break
        if not detail:
            return
    raise helm_python.HelmInvalidArgError(f"invalid kube version '{version}': {detail}")


def split_string_slice(value: str) -> list[str]:
    """Split one value of a pflag string slice flag such as `--api-versions`.

    pflag reads the value as the first record of Go's encoding/csv: fields separated by
    commas and kept verbatim (spaces included, empty ones too), or quoted with `"` and
    `""` inside; an empty value gives no field. Malformed quoting raises ValueError with
    encoding/csv's message.
    """
    if value == "":
        return []
    data = value.encode("utf-8", "surrogateescape")  # encoding/csv counts columns in bytes.
    # Lines as encoding/csv reads them: \r\n read as \n, a \r at the very end dropped.
    lines = re.findall(rb"[^\n]*\n|[^\n]+", data.replace(b"\r\n", b"\n"))
    lines[-1] = lines[-1].removesuffix(b"\r")
    index = 0
    while index < len(lines) and lines[index] in (b"", b"\n"):  # It skips empty lines.
        index += 1
    if index == len(lines):
        raise ValueError("EOF")
    start_line = line_number = index + 1
    line, column, fields = lines[index], 1, []

    def parse_error(message: str) -> ValueError:
        where = f"parse error on line {line_number}, column {column}: {message}"
        if line_number != start_line:
            where = f"record on line {start_line}; {where}"
        return ValueError(where)

    while True:
        if not line.startswith(b'"'):
            comma = line.find(b",")
            text = line[:comma] if comma >= 0 else line.removesuffix(b"\n")
            if b'"' in text:
                column += text.index(b'"')
                raise parse_error('bare " in non-quoted-field')
            fields.append(text)
            if comma < 0:
                break
            line, column = line[comma + 1 :], column + comma + 1
            continue
        line, column, text = line[1:], column + 1, b""
        while True:
            quote = line.find(b'"')
            if quote >= 0:
                text, line, column = text + line[:quote], line[quote + 1 :], column + quote + 1
                if line.startswith(b'"'):  # `""` is a quote.
                    text, line, column = text + b'"', line[1:], column + 1
                elif line.startswith(b","):  # `",` ends the field.
                    line, column = line[1:], column + 1
                    break
                elif line in (b"", b"\n"):  # `"` at the end of the line ends the record.
                    fields.append(text)
                    return [item.decode("utf-8", "surrogateescape") for item in fields]
                else:
                    column -= 1
                    raise parse_error('extraneous or missing " in quoted-field')
            elif line:  # A quoted field goes on over the next line.
                text, column, index = text + line, column + len(line), index + 1
                line = lines[index] if index < len(lines) else b""
                if line:
                    line_number, column = line_number + 1, 1
            else:
                raise parse_error('extraneous or missing " in quoted-field')
        fields.append(text)
    return [item.decode("utf-8", "surrogateescape") for item in fields]


@dataclass
class ValueSources:
    """Values given on a command line, each list in the order the flags appeared."""

    files: list[str]
    set_json: list[str]
    set: list[str]
    set_string: list[str]

    def merge(self) -> dict[str, Any]:
        """Merge the sources in Helm's order: files, --set-json, --set, --set-string.

        A `--set-json` argument is either Helm's `key=<json>` form or, for convenience,
        a whole JSON object such as `{"cache": {"enabled": false}}`.
        """
        values: dict[str, Any] = {}
        for path in self.files:
            values = deep_merge(values, read_values_file(path))
        for expression in self.set_json:
            if expression.lstrip().startswith("{"):
                parsed = helm_python.values_from_yaml(expression)  # JSON is YAML.
            else:
                parsed = helm_python.parse_set_json(expression)
            values = deep_merge(values, parsed)
        for expression in self.set:
            values = deep_merge(values, helm_python.parse_set_string(expression))
        for expression in self.set_string:
            values = deep_merge(values, helm_python.parse_set_string_values(expression))
        return values


@dataclass
class Document:
    """One YAML document of the rendered output."""

    source: str  # Template path as Helm prints it, e.g. demo-app/templates/service.yaml.
    content: str  # The document, without leading whitespace.
    kind: str
    hook_events: list[str]  # Empty unless the document is a hook.

    @property
    def is_hook(self) -> bool:
        return bool(self.hook_events)

    @property
    def is_test(self) -> bool:
        return any(event in TEST_HOOKS for event in self.hook_events)


def split_documents(text: str) -> list[str]:
    """Split a rendered file like Helm 4's SplitManifests (chart API v2).

    Leading whitespace is trimmed from the file and from each document; trailing
    whitespace is kept. Empty pieces are dropped (the separator pattern swallows the
    whitespace around `---`, so no piece is whitespace only).
    """
    documents = _DOCUMENT_SEPARATOR.split(text.lstrip())
    return [document.lstrip() for document in documents if document != ""]


def _document_head(source: str, content: str) -> tuple[str, list[str]]:
    """Kind and hook events of a document, read with Helm's YAML reader."""
    try:
        head = helm_python.values_from_yaml(content)
    except helm_python.HelmError as error:
        raise helm_python.HelmRenderError(f"YAML parse error on {source}: {error}") from error
    kind = head.get("kind") if isinstance(head.get("kind"), str) else ""
    metadata = head.get("metadata") if isinstance(head.get("metadata"), dict) else {}
    annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), dict) else {}
    hook = annotations.get(HOOK_ANNOTATION)
    events = [event.strip() for event in str(hook).split(",") if event.strip()] if hook else []
    return kind, events


def _kind_sort_key(document: Document) -> tuple[int, str]:
    """Helm's lessByKind as a key: known kinds by rank, unknown kinds after them by name."""
    rank = _KIND_RANK.get(document.kind)
    if rank is None:
        return (len(INSTALL_ORDER), document.kind)
    return (rank, "")


def sort_documents(rendered: dict[str, str]) -> tuple[list[Document], list[Document]]:
    """Turn helm_python's {template path: text} into (manifests, hooks) in Helm's order."""
    documents: list[Document] = []
    for source in sorted(rendered):
        basename = source.rsplit("/", 1)[-1]
        if source.endswith("NOTES.txt") or basename.startswith("_"):
            continue
        if not rendered[source].strip():  # Helm skips files that render to nothing.
            continue
        for content in split_documents(rendered[source]):
            kind, events = _document_head(source, content)
            documents.append(Document(source, content, kind, events))
    # Python's sort is stable, like Go's sort.SliceStable.
    documents.sort(key=_kind_sort_key)
    manifests = [document for document in documents if not document.is_hook]
    hooks = [document for document in documents if document.is_hook]
    return manifests, hooks


@dataclass
class TemplateOptions:
    """The `helm template` settings this module supports."""

    release_name: str
    namespace: str
    include_crds: bool = False
    skip_tests: bool = False
    no_hooks: bool = False
    kube_version: str = ""  # `--kube-version` as given; empty for the engine's default.
    api_versions: list[str] = field(default_factory=list)  # Added to the default set.


def render(
    chart: helm_python.Chart, values: dict[str, Any], options: TemplateOptions
) -> dict[str, str]:
    """helm_python's Chart.render, with the kube version and API versions it leaves out.

    Chart.render has no keywords for them, but the native `helm_render` call it wraps
    takes both in its JSON options (`kube_version`, `api_versions`), so this makes that
    call itself, with the arguments Chart.render passes otherwise.
    """
    opts: dict[str, Any] = {
        "name": options.release_name,
        "namespace": options.namespace,
        "is_install": True,
    }
    if options.kube_version:
        opts["kube_version"] = options.kube_version
    if options.api_versions:
        opts["api_versions"] = options.api_versions
    rendered = _native.call_string(
        "helm_render", chart._raw(), json.dumps(values), json.dumps(opts)
    )
    manifests: dict[str, str] = json.loads(rendered)
    return manifests


def template(chart_path: str, values: dict[str, Any], options: TemplateOptions) -> str:
    """Render a chart directory or .tgz and return what `helm template` would print.

    Raises a helm_python.HelmError (its message is Helm's) when loading or rendering fails.
    """
    with helm_python.Chart.load(chart_path) as chart:
        rendered = render(chart, values, options)
        crds = chart.crds if options.include_crds else []

    manifests, hooks = sort_documents(rendered)

    # The release manifest: CRDs first (raw file contents), then the sorted documents.
    release_manifest = "".join(
        f"---\n# Source: {crd['filename']}\n{crd['data']}\n" for crd in crds
    ) + "".join(f"---\n# Source: {doc.source}\n{doc.content}\n" for doc in manifests)
    output = release_manifest.strip() + "\n"

    # Then the hooks, which `helm template` appends after the release manifest.
    if not options.no_hooks:
        for doc in hooks:
            if options.skip_tests and doc.is_test:
                continue
            output += f"---\n# Source: {doc.source}\n{doc.content}\n"
    return output
