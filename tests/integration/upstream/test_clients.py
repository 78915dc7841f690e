"""The RvIG client keeps nothing of one request for the next: no cookie crosses to another afnemer."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import cast

import pytest
from aiohttp import web

from app.upstream.clients import UpstreamClient
from app.upstream.config import EnvironmentConfig
from app.upstream.identities import OinIdentity
from tests.support.servers import free_port


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, list[str | None]]]:
    """A stand-in for RvIG that sets a cookie on every answer and notes the Cookie header it got."""
    seen: list[str | None] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        response = web.json_response({"personen": []})
        response.set_cookie("route", f"node-{request.path.strip('/')}", path="/")
        return response

    app = web.Application()
    app.router.add_post("/{afnemer}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    # A host name, not an address: cookie jars refuse cookies from bare IP addresses.
    yield f"http://localhost:{port}", seen
    await runner.cleanup()


async def test_a_cookie_rvig_sets_is_never_sent_with_another_request(
    upstream: tuple[str, list[str | None]],
) -> None:
    base, seen = upstream
    identity = cast(OinIdentity, SimpleNamespace(ssl_context=ssl.create_default_context()))
    client = UpstreamClient(identity, EnvironmentConfig())
    try:
        # Two afnemers (two tenants) sharing the identity's client, one after the other.
        first = await client.post(f"{base}/000001", headers={}, body=b"{}")
        second = await client.post(f"{base}/000002", headers={}, body=b"{}")
    finally:
        await client.aclose()
    assert (first.status, second.status) == (200, 200)
    assert seen == [None, None]
