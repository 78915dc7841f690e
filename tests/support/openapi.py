"""A structural check of an OpenAPI 3.0/3.1 document: what a client generator relies on.

Checks the document's shape (version, info, servers, path items, operations with responses, security
schemes), that every `$ref` inside the document resolves, that operation ids are unique, and that
every component schema is a valid JSON Schema (draft 4 for OAS 3.0, 2020-12 for OAS 3.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft4Validator, Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]

__all__ = ["openapi_problems"]

_VERSION = re.compile(r"^3\.[01]\.\d+$")
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_PATH_ITEM_KEYS = _METHODS | {"$ref", "summary", "description", "servers", "parameters"}
_STATUS = re.compile(r"^(default|[1-5](\d\d|XX))$")
_SCHEME_TYPES = {"apiKey", "http", "oauth2", "openIdConnect", "mutualTLS"}


def openapi_problems(document: Any) -> list[str]:
    """Every way `document` fails to be a usable OpenAPI 3 document (empty when it is one)."""
    if not isinstance(document, dict):
        return ["the document is not an object"]
    problems: list[str] = []
    if not _VERSION.match(str(document.get("openapi", ""))):
        problems.append(f"openapi: {document.get('openapi')!r} is not 3.0.x or 3.1.x")
    info = document.get("info")
    if not (
        isinstance(info, dict) and isinstance(info.get("title"), str) and isinstance(info.get("version"), str)
    ):
        problems.append("info: needs a title and a version")
    for server in document.get("servers", []):
        if not isinstance(server, dict) or not isinstance(server.get("url"), str):
            problems.append(f"servers: {server!r} has no url")
    problems += _path_problems(document.get("paths"))
    problems += _security_problems(document)
    problems += [f"$ref {ref} does not resolve" for ref in _refs(document) if not _resolves(document, ref)]
    problems += _schema_problems(document)
    return problems


def _path_problems(paths: Any) -> list[str]:
    if not isinstance(paths, dict):
        return ["paths: missing"]
    problems: list[str] = []
    operation_ids: list[str] = []
    for path, item in paths.items():
        if not path.startswith("/"):
            problems.append(f"paths: {path} does not start with /")
        unknown = set(item) - _PATH_ITEM_KEYS - {k for k in item if k.startswith("x-")}
        if unknown:
            problems.append(f"{path}: unknown keys {sorted(unknown)}")
        for method in _METHODS & set(item):
            operation = item[method]
            if "operationId" in operation:
                operation_ids.append(operation["operationId"])
            responses = operation.get("responses")
            if not isinstance(responses, dict) or not responses:
                problems.append(f"{method} {path}: no responses")
                continue
            for status, response in responses.items():
                if not _STATUS.match(str(status)):
                    problems.append(f"{method} {path}: {status} is not a status code")
                if "$ref" not in response and not isinstance(response.get("description"), str):
                    problems.append(f"{method} {path} {status}: a response needs a description")
    duplicates = {i for i in operation_ids if operation_ids.count(i) > 1}
    if duplicates:
        problems.append(f"operationId used twice: {sorted(duplicates)}")
    return problems


def _security_problems(document: dict[str, Any]) -> list[str]:
    schemes = document.get("components", {}).get("securitySchemes", {})
    problems = [
        f"securitySchemes.{name}: type {scheme.get('type')!r}"
        for name, scheme in schemes.items()
        if scheme.get("type") not in _SCHEME_TYPES or (scheme["type"] == "http" and "scheme" not in scheme)
    ]
    for requirement in document.get("security", []):
        problems += [
            f"security: {name} is not a security scheme" for name in requirement if name not in schemes
        ]
    return problems


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolves(document: dict[str, Any], ref: str) -> bool:
    if not ref.startswith("#/"):
        return False  # a served document must stand alone
    node: Any = document
    for token in ref[2:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _schema_problems(document: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator if str(document.get("openapi")).startswith("3.1") else Draft4Validator
    problems: list[str] = []
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        try:
            validator.check_schema(schema)
        except SchemaError as exc:
            problems.append(f"components.schemas.{name}: {exc.message}")
    return problems
