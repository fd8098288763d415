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
* with `include_crds`, the chart's `crds/` files come first.

Known differences from the real CLI: `--set a[0]=x` replaces rather than patches an
existing list, there is no `--api-versions`/`--kube-version`, and `crds/` of a subchart
that a condition disables are still printed.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

import helm_python

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


def template(chart_path: str, values: dict[str, Any], options: TemplateOptions) -> str:
    """Render a chart directory or .tgz and return what `helm template` would print.

    Raises a helm_python.HelmError (its message is Helm's) when loading or rendering fails.
    """
    with helm_python.Chart.load(chart_path) as chart:
        rendered = chart.render(
            values,
            name=options.release_name,
            namespace=options.namespace,
            is_install=True,
        )
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
