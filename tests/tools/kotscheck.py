#!/usr/bin/env python3
"""Checks of a KOTS release's manifests for helmkots' tests.

    kotscheck.py validate PATH... (--schemas DIR | --no-schemas) [--k8s-version 1.30] [--no-strict]
    kotscheck.py json PATH...
    kotscheck.py values PATH...

PATH is a YAML file or a folder (every `*.yaml` and `*.yml` under it, sorted).

`validate` parses every document (duplicate keys are errors, KOTS templates are plain text
to YAML) and checks it:
- `kots.io/*` kinds against the kotskinds JSON schemas in DIR (`<kind>-kots-<version>.json`,
  e.g. `application-kots-v1beta1.json`); strictly by default, so an unknown field fails.
  With `--no-schemas` they are only parsed.
- `troubleshoot.sh/*` kinds are only parsed (no schemas ship for them).
- every other kind against the Kubernetes schemas of kubernetes-validate (strict by default).
- a ConfigMap or Secret key `kots-values.yaml` must itself be a YAML mapping.
- every KOTS template opener (`{{repl`, `repl{{`) in a string is closed by `}}`.
It prints one line per problem on stdout, `checked FILE: Kind/name, ...` lines on stderr,
and exits with 1 if there is any problem.

`json` prints `{"<path>": [documents...]}` as JSON, for tests that inspect manifests.
`values` prints `{"file", "kind", "name", "key_of", "values"}` for the ConfigMap or Secret
that carries `kots-values.yaml`, with the values parsed; exit 1 when there is none.

Exit codes: 0 success, 1 findings, 2 bad usage (e.g. a missing schema folder).
Requires Python 3.11 with PyYAML, jsonschema and kubernetes-validate.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from typing import Any

import yaml

VALUES_KEY = "kots-values.yaml"
TEMPLATE_OPENERS = re.compile(r"\{\{repl|repl\{\{")


class UsageError(Exception):
    """Bad arguments or a missing input: exit code 2."""


class StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys (PyYAML keeps the last silently)."""


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    mapping = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        mark = key_node.start_mark
        if not isinstance(key, (str, int, float, bool, type(None))):
            # `a: {{repl X }}` is a flow mapping whose key is a mapping: a misplaced template.
            raise yaml.constructor.ConstructorError(
                None, None, f"a {type(key).__name__} as a mapping key (line {mark.line + 1}, column {mark.column + 1})", mark
            )
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1}, column {mark.column + 1})", mark
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_all(text: str) -> list[Any]:
    """Every document of a YAML stream, empty ones dropped; raises yaml.YAMLError."""
    return [document for document in yaml.load_all(text, Loader=StrictLoader) if document is not None]


def one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def yaml_files(paths: list[str]) -> list[str]:
    """The files named, and every YAML file under the folders named, in a stable order."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = []
            for root, dirs, names in os.walk(path):
                dirs.sort()
                for name in names:
                    if name.endswith((".yaml", ".yml")):
                        found.append(os.path.join(root, name))
            files.extend(sorted(found))
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    return files


def read_text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def object_name(document: dict[str, Any]) -> str:
    metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    return f"{document.get('kind', '?')}/{metadata.get('name', '?')}"


def strings_in(value: Any, path: str = ""):
    """(path, string) for every string in a parsed document, keys included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
                yield child, key
            yield from strings_in(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_in(item, f"{path}[{index}]")


def unclosed_templates(document: Any) -> list[str]:
    """Paths of strings with a KOTS template opener that no `}}` closes."""
    problems = []
    for path, text in strings_in(document):
        for match in TEMPLATE_OPENERS.finditer(text):
            if "}}" not in text[match.end():]:
                problems.append(f"{path or '<root>'}: unclosed KOTS template {text[match.start():][:40]!r}")
                break
    return problems


def values_text(document: dict[str, Any]) -> tuple[str, str] | None:
    """(`data` or `stringData`, text) of the `kots-values.yaml` key of a ConfigMap or Secret."""
    if document.get("kind") not in ("ConfigMap", "Secret"):
        return None
    for field in ("stringData", "data"):
        entries = document.get(field)
        if isinstance(entries, dict) and VALUES_KEY in entries:
            text = entries[VALUES_KEY]
            if not isinstance(text, str):
                raise ValueError(f"{field}.{VALUES_KEY} is not a string")
            if document["kind"] == "Secret" and field == "data":
                text = base64.b64decode(text).decode("utf-8")
            return field, text
    return None


def strict_schema(schema: Any) -> Any:
    """The schema with `additionalProperties: false` on every object that lists its properties."""
    if isinstance(schema, dict):
        schema = {key: strict_schema(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict_schema(item) for item in schema]
    return schema


class Validator:
    def __init__(self, schemas: str | None, k8s_version: str, strict: bool) -> None:
        self.schemas = schemas
        self.k8s_version = k8s_version
        self.strict = strict
        self.loaded: dict[str, Any] = {}

    def kots_schema(self, api_version: str, kind: str) -> Any | None:
        version = api_version.split("/", 1)[1]
        name = f"{kind.lower()}-kots-{version}.json"
        if name not in self.loaded:
            path = os.path.join(self.schemas, name)
            if not os.path.isfile(path):
                self.loaded[name] = None
            else:
                with open(path, encoding="utf-8") as handle:
                    schema = json.load(handle)
                self.loaded[name] = strict_schema(schema) if self.strict else schema
        return self.loaded[name]

    def check_kots(self, where: str, document: dict[str, Any]) -> list[str]:
        import jsonschema

        if self.schemas is None:
            return []
        schema = self.kots_schema(document["apiVersion"], document["kind"])
        if schema is None:
            return [f"{where}: no KOTS schema for {document['apiVersion']} {document['kind']} in {self.schemas}"]
        validator = jsonschema.Draft7Validator(schema)
        problems = []
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
            path = ".".join(str(item) for item in error.absolute_path) or "<root>"
            problems.append(f"{where}: {path}: {error.message}")
        return problems

    def check_k8s(self, where: str, document: dict[str, Any]) -> list[str]:
        import kubernetes_validate
        import kubernetes_validate.utils as kv_utils

        try:
            kubernetes_validate.validate(document, self.k8s_version, strict=self.strict)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(item) for item in error.path) or "<root>"
            return [f"{where}: {path}: {error.message}"]
        except (kv_utils.SchemaNotFoundError, kv_utils.InvalidSchemaError) as error:
            return [f"{where}: {error.message}"]
        return []

    def check_file(self, path: str) -> tuple[list[str], list[str]]:
        """(problems, `Kind/name` of every document checked)."""
        try:
            documents = load_all(read_text(path))
        except (OSError, UnicodeDecodeError) as error:
            return [f"{path}: cannot read: {one_line(error)}"], []
        except yaml.YAMLError as error:
            return [f"{path}: YAML parse error: {one_line(error)}"], []
        if not documents:
            return [f"{path}: no YAML document"], []
        problems, names = [], []
        for index, document in enumerate(documents, start=1):
            where = f"{path}: document {index}"
            if not isinstance(document, dict) or "apiVersion" not in document or "kind" not in document:
                problems.append(f"{where}: not a Kubernetes object (needs apiVersion and kind)")
                continue
            where = f"{where} ({object_name(document)})"
            names.append(object_name(document))
            problems.extend(f"{where}: {problem}" for problem in unclosed_templates(document))
            api_version = str(document["apiVersion"])
            if api_version.startswith("kots.io/"):
                problems.extend(self.check_kots(where, document))
            elif api_version.startswith("troubleshoot.sh/"):
                pass
            else:
                problems.extend(self.check_k8s(where, document))
            try:
                found = values_text(document)
            except (ValueError, UnicodeDecodeError) as error:
                problems.append(f"{where}: {VALUES_KEY}: {one_line(error)}")
                continue
            if found is not None:
                field, text = found
                try:
                    values = load_all(text)
                except yaml.YAMLError as error:
                    problems.append(f"{where}: {field}.{VALUES_KEY} is not YAML: {one_line(error)}")
                    continue
                if len(values) != 1 or not isinstance(values[0], dict):
                    problems.append(f"{where}: {field}.{VALUES_KEY} is not one YAML mapping")
                    continue
                problems.extend(
                    f"{where}: {field}.{VALUES_KEY}: {problem}" for problem in unclosed_templates(values[0])
                )
        return problems, names


def cmd_validate(args: argparse.Namespace) -> int:
    import kubernetes_validate.utils as kv_utils

    if args.schemas is not None and not os.path.isdir(args.schemas):
        raise UsageError(f"--schemas {args.schemas}: no such folder")
    supported = {".".join(version.split(".")[:2]) for version in kv_utils.all_versions()}
    if ".".join(args.k8s_version.split(".")[:2]) not in supported:
        raise UsageError(f"kubernetes-validate has no schemas for {args.k8s_version}")
    validator = Validator(args.schemas, args.k8s_version, not args.no_strict)
    problems = []
    for path in yaml_files(args.paths):
        file_problems, names = validator.check_file(path)
        problems.extend(file_problems)
        print(f"checked {path}: {', '.join(names) or '-'}", file=sys.stderr)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


def cmd_json(args: argparse.Namespace) -> int:
    out = {}
    for path in yaml_files(args.paths):
        try:
            out[path] = load_all(read_text(path))
        except yaml.YAMLError as error:
            print(f"{path}: YAML parse error: {one_line(error)}")
            return 1
    json.dump(out, sys.stdout, indent=2, sort_keys=True, default=str)
    print()
    return 0


def cmd_values(args: argparse.Namespace) -> int:
    for path in yaml_files(args.paths):
        try:
            documents = load_all(read_text(path))
        except yaml.YAMLError as error:
            print(f"{path}: YAML parse error: {one_line(error)}")
            return 1
        for document in documents:
            if not isinstance(document, dict):
                continue
            found = values_text(document)
            if found is None:
                continue
            field, text = found
            try:
                values = load_all(text)
            except yaml.YAMLError as error:
                print(f"{path}: {field}.{VALUES_KEY} is not YAML: {one_line(error)}")
                return 1
            result = {
                "file": path,
                "kind": document["kind"],
                "name": object_name(document).split("/", 1)[1],
                "key_of": field,
                "values": values[0] if values else None,
            }
            json.dump(result, sys.stdout, indent=2, sort_keys=True, default=str)
            print()
            return 0
    print(f"no ConfigMap or Secret with a {VALUES_KEY} key in {' '.join(args.paths)}")
    return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kotscheck.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="parse and validate KOTS release manifests")
    validate.add_argument("paths", nargs="+", metavar="PATH")
    schemas = validate.add_mutually_exclusive_group(required=True)
    schemas.add_argument("--schemas", metavar="DIR", help="folder of kotskinds JSON schemas")
    schemas.add_argument("--no-schemas", action="store_true", help="only parse kots.io kinds")
    validate.add_argument("--k8s-version", default="1.30")
    validate.add_argument("--no-strict", action="store_true", help="allow unknown fields")
    validate.set_defaults(run=cmd_validate)

    dump = commands.add_parser("json", help="print the documents of YAML files as JSON")
    dump.add_argument("paths", nargs="+", metavar="PATH")
    dump.set_defaults(run=cmd_json)

    values = commands.add_parser("values", help=f"print the parsed {VALUES_KEY} as JSON")
    values.add_argument("paths", nargs="+", metavar="PATH")
    values.set_defaults(run=cmd_values)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
