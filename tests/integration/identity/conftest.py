"""A real JWKS server (uvicorn in the test's event loop) whose answers and fetch counts the test controls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar, Response, get
from litestar.params import FromPath

from tests.integration.conftest import FakeClock
from tests.support.servers import ServerTask


class KeySetHost:
    """One JWKS URI on the server: what it serves, whether it fails, how often it was fetched."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.failing = False
        self.fetches = 0
        self.arrived = asyncio.Event()
        # When set, fetches wait for `release` before answering (to hold requests in flight).
        self.gate: asyncio.Event | None = None


class JwksServer:
    """Serves `/<name>/jwks.json` for any number of named key sets."""

    def __init__(self) -> None:
        self.hosts: dict[str, KeySetHost] = {}
        self.base_url = ""

    def host(self, name: str) -> KeySetHost:
        return self.hosts.setdefault(name, KeySetHost())

    def uri(self, name: str) -> str:
        self.host(name)
        return f"{self.base_url}/{name}/jwks.json"

    def app(self) -> Litestar:
        @get("/{name:str}/jwks.json")
        async def jwks(name: FromPath[str]) -> Response[Any]:
            host = self.host(name)
            host.fetches += 1
            host.arrived.set()
            if host.gate is not None:
                await host.gate.wait()
            if host.failing:
                return Response({"error": "down"}, status_code=503)
            return Response(host.jwks, media_type="application/json")

        return Litestar(route_handlers=[jwks], openapi_config=None)


@pytest.fixture
async def jwks_server() -> AsyncIterator[JwksServer]:
    server = JwksServer()
    async with ServerTask(server.app()) as base_url:
        server.base_url = base_url
        yield server


@pytest.fixture
async def idp_client() -> AsyncIterator[httpx.AsyncClient]:
    """The one client for identity providers, as the app's lifespan would create it."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def jwks_clock() -> FakeClock:
    return FakeClock()
