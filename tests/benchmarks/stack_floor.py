"""The stack floor: what uvicorn, Litestar and the broker's own RvIG client cost with no BRP work.

    python -m tests.benchmarks.gateway_stack floor UPSTREAM [--busy-ms MS]   (started by `scale_out`)

One route on RvIG's Personen path, served exactly as the broker is served (`app.server`'s uvicorn
configuration: httptools, `BROKER_EVENT_LOOP`, no access log) and calling RvIG exactly as the broker
does (`app.upstream.clients.UpstreamClient`: the dev OIN identity's mTLS context, keep-alive, the
same timeouts, the TLS read buffers of `app.tuning`; it does not freeze its heap), with a token
fetched once at start. It forwards the body as it came and answers with RvIG's status and body:
no JWT, tenancy, validation, doelbinding, limits, protocol, log line or metrics. In `scale_out`'s
table its CPU per request is the part of the broker's that the chosen stack costs before the
broker does anything of its own. With `busy_ms` each request also keeps the CPU busy that long
before it calls RvIG (a stand-in for the broker's own work, without any of its parts), which loads
the event loop as the broker does: how a loop behaves at saturation, alone. Not a product; not a
test.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, post

from app.brp import API_PATHS, Api
from app.settings import Settings
from app.upstream import load_identity
from app.upstream.clients import UpstreamClient

__all__ = ["floor_app"]


class _Token(msgspec.Struct):
    access_token: str


def floor_app(settings: Settings, busy_ms: float = 0.0) -> Litestar:
    """The pass-through app for `settings`' first identity and its sandbox environment."""
    identity = load_identity(settings.identities[0])
    environment = settings.environments["sandbox"]
    upstream: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        client = UpstreamClient(identity, environment)
        try:
            form = {"grant_type": "client_credentials", "client_id": "floor", "client_secret": "floor"}
            reply = await client.post(str(environment.token_url), headers={}, form=form)
            upstream["client"] = client
            upstream["headers"] = {
                "Accept": "application/json",
                "Content-Type": "application/json",
                "Authorization": f"Bearer {msgspec.json.decode(reply.body, type=_Token).access_token}",
            }
            yield
        finally:
            await client.aclose()

    @post(API_PATHS[Api.PERSONEN], status_code=200)
    async def personen(request: Request[Any, Any, Any]) -> Response[bytes]:
        _keep_busy(busy_ms)
        reply = await upstream["client"].post(
            str(environment.personen_url), headers=upstream["headers"], body=await request.body()
        )
        return Response(reply.body, status_code=reply.status, media_type="application/json")

    return Litestar([personen], lifespan=[lifespan], logging_config=None, openapi_config=None)


def _keep_busy(milliseconds: float) -> None:
    """Use the CPU for `milliseconds` (on purpose: the loop does nothing else meanwhile)."""
    until = time.perf_counter() + milliseconds / 1000
    while time.perf_counter() < until:
        pass
