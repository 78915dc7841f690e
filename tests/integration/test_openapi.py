"""The OpenAPI documents the broker publishes: RvIG's three specs aimed at the broker, and its own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.main import create_app
from app.settings import Settings
from tests.support.openapi import openapi_problems

SPECS = Path(__file__).resolve().parents[2] / "app" / "brp" / "specs"

# base URL of the API (relative to the broker) -> RvIG's spec file, the gateway route it describes
APIS = {
    "/haalcentraal/api/brp": ("personen-openapi.yaml", "/haalcentraal/api/brp/personen"),
    "/haalcentraal/api/bewoning": ("bewoning-openapi.yaml", "/haalcentraal/api/bewoning/bewoningen"),
    "/haalcentraal/api/brphistorie": (
        "verblijfplaatshistorie-openapi.yaml",
        "/haalcentraal/api/brphistorie/verblijfplaatshistorie",
    ),
}
FORMATS = {"yaml": ("application/yaml", yaml.safe_load), "json": ("application/json", json.loads)}
GATEWAY_ROUTES = {route for _, route in APIS.values()}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def _document(client: AsyncTestClient[Litestar], url: str, media_type: str) -> Any:
    response = await client.get(url)
    assert response.status_code == 200, url
    assert response.headers["content-type"].startswith(media_type)
    return response.content


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("base", APIS)
async def test_rvig_spec_is_served_with_the_broker_as_server(
    client: AsyncTestClient[Litestar], base: str, fmt: str
) -> None:
    media_type, parse = FORMATS[fmt]
    document = parse(await _document(client, f"{base}/openapi.{fmt}", media_type))
    assert openapi_problems(document) == []
    assert [server["url"] for server in document["servers"]] == [base]
    # A generated client joins the server URL and the spec's path: that is the broker's gateway route.
    ((path, item),) = document["paths"].items()
    assert base + path == APIS[base][1]
    assert set(item) == {"post"}
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.parametrize("base", APIS)
async def test_rvig_spec_is_rvigs_own_apart_from_servers_and_security(
    client: AsyncTestClient[Litestar], base: str
) -> None:
    original = yaml.safe_load((SPECS / APIS[base][0]).read_text("utf-8"))
    served_yaml = yaml.safe_load(await _document(client, f"{base}/openapi.yaml", "application/yaml"))
    served_json = json.loads(await _document(client, f"{base}/openapi.json", "application/json"))
    assert served_yaml == served_json
    for key in ("openapi", "paths", "tags"):
        assert served_json.get(key) == original.get(key)
    assert served_json["components"]["schemas"] == original["components"]["schemas"]
    assert served_json["info"]["license"] == original["info"]["license"]
    # EUPL-1.2 asks a changed work to say so.
    assert "brp-broker" in served_json["info"]["description"]


@pytest.mark.parametrize("base", APIS)
async def test_a_client_of_the_served_spec_reaches_the_gateway(
    client: AsyncTestClient[Litestar], base: str
) -> None:
    document = json.loads(await _document(client, f"{base}/openapi.json", "application/json"))
    ((path, item),) = document["paths"].items()
    (method,) = item
    # No token: the gateway's own 401 (not 404 or 405) proves the route and method exist.
    response = await client.request(method.upper(), document["servers"][0]["url"] + path, json={})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("fmt", FORMATS)
async def test_broker_document_describes_its_own_endpoints_not_the_gateway(
    client: AsyncTestClient[Litestar], fmt: str
) -> None:
    # Litestar's own renderings carry OAI's media types.
    media_type = {"yaml": "application/vnd.oai.openapi", "json": "application/vnd.oai.openapi+json"}[fmt]
    document = FORMATS[fmt][1](await _document(client, f"/schema/openapi.{fmt}", media_type))
    assert openapi_problems(document) == []
    assert {"/health/live", "/health/ready", "/metrics"} <= set(document["paths"])
    assert {f"{base}/openapi.{f}" for base in APIS for f in FORMATS} <= set(document["paths"])
    assert GATEWAY_ROUTES.isdisjoint(document["paths"])
    statuses = {
        status for item in document["paths"].values() for op in item.values() for status in op["responses"]
    }
    assert "201" not in statuses
    # It points a reader at RvIG's documents for the gateway itself.
    assert all(f"{base}/openapi.yaml" in document["info"]["description"] for base in APIS)


async def test_schema_root_serves_the_broker_document(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/schema")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "brp-broker"
