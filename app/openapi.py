"""The OpenAPI documents the broker publishes; `app.main` only wires them in.

- **RvIG's own specifications** of the three BRP APIs (`app/brp/specs/`, EUPL-1.2, see
  ATTRIBUTION.md there) at the base URL of each API + `/openapi.yaml` or `/openapi.json`, e.g.
  `/haalcentraal/api/brp/openapi.yaml`. The gateway takes RvIG's bodies and answers unchanged, so
  these documents describe it exactly; they are served with two changes so that a client generated
  from them talks to the broker: `servers` is the broker's base URL of that API, and the bearer
  token the broker asks for is declared (`bearerAuth`). `info.description` says so (EUPL-1.2 art. 5).
- **The broker's own document** (health, metrics, these documents) is Litestar's, generated from
  the routes, at `/schema/openapi.json` and `/schema/openapi.yaml` (`/schema` answers the JSON).
  The gateway routes are not in it: RvIG's documents describe them.

The server URL is relative (`/haalcentraal/api/brp`): OpenAPI resolves it against the URL the
document was fetched from, so it is right behind any host name or TLS terminator, and no request
header (which a caller controls) ever ends up in a published document.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any, Final

import msgspec
import yaml
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin

from app.brp import API_PATHS, Api

try:  # libyaml: PyYAML's wheels carry it
    from yaml import CSafeDumper as _SafeDumper
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - a PyYAML built without libyaml
    from yaml import SafeDumper as _SafeDumper  # type: ignore[assignment]
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

__all__ = [
    "SPEC_ROUTES",
    "PublishedSpec",
    "base_path",
    "broker_openapi_config",
    "published_spec",
    "spec_url",
]

YAML_MEDIA_TYPE: Final = "application/yaml"
JSON_MEDIA_TYPE: Final = "application/json"

_SPEC_FILES: Final[dict[Api, str]] = {
    Api.PERSONEN: "personen-openapi.yaml",
    Api.BEWONING: "bewoning-openapi.yaml",
    Api.VERBLIJFPLAATSHISTORIE: "verblijfplaatshistorie-openapi.yaml",
}
_TITLES: Final[dict[Api, str]] = {
    Api.PERSONEN: "BRP API Personen",
    Api.BEWONING: "BRP API Bewoning",
    Api.VERBLIJFPLAATSHISTORIE: "BRP API Verblijfplaatshistorie",
}
_BEARER: Final = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A token of the caller's own identity provider, trusted by its tenant in the broker.",
}
_CHANGED: Final = (
    "\n\n---\n\nPublished by brp-broker. Changed from RvIG's document: `servers` is this broker's "
    "base URL of the API, and `bearerAuth` (the caller's token) is declared. Everything else is "
    "RvIG's document, unchanged."
)


class PublishedSpec(msgspec.Struct, frozen=True):
    """One RvIG specification as the broker serves it, rendered once."""

    yaml: bytes
    json: bytes


def base_path(api: Api) -> str:
    """The base URL of `api` on the broker, relative to its host: RvIG's path without the resource."""
    return API_PATHS[api].rsplit("/", 1)[0]


def spec_url(api: Api, extension: str) -> str:
    """Where the broker serves RvIG's specification of `api` (`extension`: yaml or json)."""
    return f"{base_path(api)}/openapi.{extension}"


def _aimed_at_broker(document: dict[str, Any], api: Api) -> dict[str, Any]:
    """RvIG's document with the broker as its server and its bearer token declared."""
    info = {**document["info"], "description": document["info"].get("description", "").rstrip() + _CHANGED}
    head = {
        "openapi": document["openapi"],
        "info": info,
        "servers": [{"url": base_path(api), "description": "this brp-broker"}],
        "security": [{"bearerAuth": []}],
    }
    rest = {key: value for key, value in document.items() if key not in head}
    components = rest.get("components", {})
    rest["components"] = {
        **components,
        "securitySchemes": {**components.get("securitySchemes", {}), "bearerAuth": _BEARER},
    }
    return {**head, **rest}


class _Dumper(_SafeDumper):  # a subclass: the representer below must not change yaml's own dumper
    """Safe YAML with multi-line strings as `|` blocks, as RvIG writes its documents."""


def _represent_str(dumper: _Dumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


@functools.cache
def published_spec(api: Api) -> PublishedSpec:
    """RvIG's specification of `api` aimed at the broker, as YAML and JSON (parsed once per process)."""
    text = resources.files("app.brp.specs").joinpath(_SPEC_FILES[api]).read_text("utf-8")
    document = _aimed_at_broker(yaml.load(text, Loader=_SafeLoader), api)
    rendered = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return PublishedSpec(yaml=rendered.encode(), json=msgspec.json.encode(document))


def _spec_routes(api: Api) -> list[HTTPRouteHandler]:
    """GET handlers for the YAML and the JSON rendering of RvIG's specification of `api`."""
    summary = f"{_TITLES[api]}: RvIG's OpenAPI document, aimed at this broker"

    # sync_to_thread: the first call per process parses the YAML (tens of ms), off the event loop.
    @get(spec_url(api, "yaml"), media_type=YAML_MEDIA_TYPE, summary=summary, sync_to_thread=True)
    def as_yaml() -> Response[bytes]:
        return Response(published_spec(api).yaml, media_type=YAML_MEDIA_TYPE)

    @get(spec_url(api, "json"), media_type=JSON_MEDIA_TYPE, summary=summary, sync_to_thread=True)
    def as_json() -> Response[bytes]:
        return Response(published_spec(api).json, media_type=JSON_MEDIA_TYPE)

    return [as_yaml, as_json]


SPEC_ROUTES: Final[list[HTTPRouteHandler]] = [route for api in Api for route in _spec_routes(api)]


def broker_openapi_config(version: str) -> OpenAPIConfig:
    """The broker's own document at `/schema/openapi.json|yaml`; it names where RvIG's documents are."""
    lines = "\n".join(
        f"- {_TITLES[api]}: `{API_PATHS[api]}`, described by `{spec_url(api, 'yaml')}` "
        f"(or `{spec_url(api, 'json')}`)"
        for api in Api
    )
    description = (
        "The broker's own endpoints. The three BRP APIs take RvIG's requests and give RvIG's answers "
        f"on RvIG's paths; RvIG's OpenAPI documents describe them, aimed at this broker:\n\n{lines}"
    )
    return OpenAPIConfig(
        title="brp-broker",
        version=version,
        description=description,
        path="/schema",
        render_plugins=[JsonRenderPlugin(path="/openapi.json"), YamlRenderPlugin(path="/openapi.yaml")],
    )
