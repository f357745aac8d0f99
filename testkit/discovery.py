"""Google's own description of its APIs, to hold the sandbox's answers to it.

google-api-python-client ships each API's discovery document (the machine-readable spec it builds
its clients from): every method's path and response schema, every schema's fields with their
types, formats and enums. `conformance_problems` says where an answer the sandbox gave differs:
a field the schema does not know, a value of another type, a value outside its enum.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

Json = dict[str, Any]

# The APIs psflow calls, by the discovery document that describes each.
DOCUMENTS = ("drive.v3", "sheets.v4", "gmail.v1", "calendar.v3", "docs.v1", "slides.v1")
SANDBOX_PREFIX = "/google"


@cache
def document(name: str) -> Json:
    path = resources.files("googleapiclient.discovery_cache") / "documents" / f"{name}.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _methods(resource: Json) -> list[Json]:
    found = list((resource.get("methods") or {}).values())
    for child in (resource.get("resources") or {}).values():
        found.extend(_methods(child))
    return found


def _pattern(template: str) -> re.Pattern[str]:
    """A discovery path template as a regular expression: `{+name}` takes slashes, `{name}` not."""
    parts = re.split(r"(\{\+?[^}]+\})", template)
    regex = "".join(
        (".+" if part.startswith("{+") else "[^/]+") if part.startswith("{") else re.escape(part)
        for part in parts
    )
    return re.compile(regex)


@cache
def _routes() -> list[tuple[str, re.Pattern[str], int, str, Json]]:
    """(HTTP method, path pattern, literal length, document, method) of every method."""
    routes = []
    for name in DOCUMENTS:
        doc = document(name)
        for method in _methods(doc):
            paths = {
                "/" + doc["servicePath"] + method[key]
                for key in ("path", "flatPath")
                if key in method
            }
            # an upload's path is its own ("/upload/drive/v3/files"), its answer the method's
            for protocol in method.get("mediaUpload", {}).get("protocols", {}).values():
                paths.add(protocol["path"])
            for full in paths:
                literal = len(re.sub(r"\{[^}]+\}", "", full))
                routes.append((method["httpMethod"], _pattern(full), literal, name, method))
    return routes


def method_of(http_method: str, sandbox_path: str) -> tuple[str, Json] | None:
    """(document, method) of a request the sandbox logged, the most literal template first."""
    path = sandbox_path.removeprefix(SANDBOX_PREFIX)
    matches = [
        (literal, name, method)
        for verb, pattern, literal, name, method in _routes()
        if verb == http_method and pattern.fullmatch(path)
    ]
    if not matches:
        return None
    _, name, method = max(matches, key=lambda match: match[0])
    return name, method


def conformance_problems(http_method: str, sandbox_path: str, answer: Any) -> list[str]:
    """Where the answer differs from the method's response schema ([] when it does not)."""
    found = method_of(http_method, sandbox_path)
    if found is None:
        return [f"{http_method} {sandbox_path}: no method of {', '.join(DOCUMENTS)} has this path"]
    name, method = found
    response = method.get("response")
    if response is None:
        return [] if answer in (None, {}, "") else [f"{method['id']}: answers nothing, got a body"]
    return _problems(answer, response, document(name), method["id"])


def _problems(value: Any, schema: Json, doc: Json, where: str) -> list[str]:
    if "$ref" in schema:
        return _problems(value, doc["schemas"][schema["$ref"]], doc, where)
    kind = schema.get("type", "any")
    if kind == "any":
        return []
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: an object, got {value!r:.80}"]
        problems: list[str] = []
        known = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in known:
                problems += _problems(item, known[key], doc, f"{where}.{key}")
            elif extra is not None:
                problems += _problems(item, extra, doc, f"{where}[{key!r}]")
            else:
                problems.append(f"{where}.{key}: not a field of {schema.get('id', 'this object')}")
        return problems
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: an array, got {value!r:.80}"]
        return [
            p
            for i, item in enumerate(value)
            for p in _problems(item, schema["items"], doc, f"{where}[{i}]")
        ]
    return _scalar_problems(value, schema, where)


def _scalar_problems(value: Any, schema: Json, where: str) -> list[str]:
    kind, fmt = schema["type"], schema.get("format")
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: a string, got {value!r:.80}"]
        if fmt in ("int64", "uint64") and not re.fullmatch(r"-?\d+", value):
            return [f"{where}: a {fmt} in a string, got {value!r:.80}"]
        if "enum" in schema and value not in schema["enum"]:
            return [f"{where}: one of {schema['enum']}, got {value!r}"]
        return []
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: an integer, got {value!r:.80}"]
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: a number, got {value!r:.80}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: a boolean, got {value!r:.80}"]
    return [f"{where}: unknown schema type {kind!r}"]
