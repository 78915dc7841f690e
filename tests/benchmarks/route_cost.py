"""CPU of Litestar's own request path: the gateway's kind of route against a bare ASGI route.

Run:  .venv/bin/python -m tests.benchmarks.route_cost [--requests 20000] [--rounds 3]

Calls one Litestar app in this process, with no server and no network, the way uvicorn calls it:
a POST with a bearer token and a RaadpleegMetBurgerservicenummer body, answered with 2.2 KB, through

- `handler`: a route handler as the gateway's (`app/gateway/controllers.py`): all methods but HEAD,
  a `Request` whose body and headers it reads, a `Response` it returns;
- `asgi`: Litestar's own `@asgi` route on the same app: it reads the raw scope and `receive`, and
  sends the two ASGI messages itself;

alternating, `--rounds` times. CPU time is this process's (`time.process_time`). The difference is
what Litestar's request and response path (signature, `Request`, `Response`, its conversion to
ASGI) costs a request, measured in isolation: a busy server's caches make every part dearer, so
read it as a share, not as the figure in `scale_out`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from litestar import Litestar, Request, Response, asgi, route
from litestar.enums import HttpMethod
from litestar.types import (
    HTTPRequestEvent,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

BODY = json.dumps(
    {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": ["999993653"], "fields": ["naam"]}
).encode()
ANSWER = b"{" + b" " * 2198 + b"}"
METHODS = [m for m in HttpMethod if m is not HttpMethod.HEAD]


@route("/handler", http_method=METHODS)
async def handler(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The gateway's shape: read the token and the body, answer RvIG's bytes."""
    request.headers.get("authorization")
    await request.body()
    return Response(ANSWER, status_code=200, media_type="application/json")


@asgi("/asgi", http_method=METHODS)
async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    """The same work on the raw ASGI interface."""
    next((value for name, value in scope["headers"] if name == b"authorization"), None)
    await receive()
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"2200")],
    }
    body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": ANSWER, "more_body": False}
    await send(start)
    await send(body)


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", b"Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }


async def _receive() -> HTTPRequestEvent:
    return {"type": "http.request", "body": BODY, "more_body": False}


async def _per_request(app: Litestar, path: str, requests: int) -> float:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    started = time.process_time()
    for _ in range(requests):
        await app(_scope(path), _receive, send)  # type: ignore[arg-type]
    elapsed = time.process_time() - started
    statuses = {m["status"] for m in sent if m["type"] == "http.response.start"}
    if statuses != {200}:
        raise RuntimeError(f"{path} answered {statuses}")
    return elapsed / requests


async def _run(requests: int, rounds: int) -> None:
    app = Litestar([handler, bare], logging_config=None, openapi_config=None)
    await _per_request(app, "/handler", requests // 10)  # warm up both
    await _per_request(app, "/asgi", requests // 10)
    totals = {"/handler": 0.0, "/asgi": 0.0}
    for number in range(rounds):
        for path in ("/handler", "/asgi") if number % 2 == 0 else ("/asgi", "/handler"):
            cost = await _per_request(app, path, requests)
            totals[path] += cost
            print(f"round {number + 1}  {path:<9} {cost * 1e6:6.1f} µs CPU per request", flush=True)
    handler_us, asgi_us = (totals[p] / rounds * 1e6 for p in ("/handler", "/asgi"))
    print(f"mean     handler {handler_us:.1f} µs, asgi {asgi_us:.1f} µs")
    print(f"Litestar's request and response path: {handler_us - asgi_us:.1f} µs per request")


def main() -> None:
    """Parse options and measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000, help="requests per route per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(_run(args.requests, args.rounds))


if __name__ == "__main__":
    main()
