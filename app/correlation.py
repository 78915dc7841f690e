"""Correlation ids: one per request, taken from `x-correlation-id` or generated, echoed, logged.

The id is bound to structlog's context for the whole request, so every log line of that request
carries it, and is kept in the ASGI scope for the protocol record. A client-supplied id is used
only when it is short and plain (it ends up in logs and in the legal protocol). A generated id is
a random UUID that the logs' redaction leaves whole.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import TYPE_CHECKING

import structlog
from litestar.enums import ScopeType

from app.logging import redact_value

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HEADER", "CorrelationIdMiddleware", "correlation_id_of", "new_correlation_id"]

HEADER = "x-correlation-id"
_HEADER_NAME = HEADER.encode()
_SCOPE_KEY = "brp_correlation_id"
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

_log = structlog.get_logger("app.request")


def correlation_id_of(scope: Scope) -> str:
    """The correlation id of the request in `scope` (set by the middleware)."""
    return str(scope.get(_SCOPE_KEY, ""))


def new_correlation_id() -> str:
    """A random UUID that no log line or span redacts.

    About one UUID in sixty-five holds nine digits in a row, which the logs and traces redact as a
    BSN: the id the client got back would not be found in them. Such a one is drawn again.
    """
    while True:
        candidate = str(uuid.uuid4())
        if redact_value(candidate) == candidate:
            return candidate


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == _HEADER_NAME:
            text = value.decode("latin-1").strip()
            return text if _ACCEPTABLE.match(text) else None
    return None


class CorrelationIdMiddleware:
    """Pure ASGI middleware, outermost, so even errors of other middleware carry the id."""

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "")
        correlation_id = _incoming(scope) or new_correlation_id()
        scope[_SCOPE_KEY] = correlation_id  # type: ignore[literal-required]
        started = time.perf_counter()
        status: int | None = None  # until the response starts

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Appended, not set: nothing behind this middleware answers with this header.
                message["headers"] = [*message.get("headers", ()), (_HEADER_NAME, correlation_id.encode())]
            await send(message)

        # Bound and reset by token: `bound_contextvars` reads every context variable on the way in.
        bound = structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            # Cancelled before it was answered (client gone, drain bound): 499, as protocolled.
            if status is None:
                status = 499
            raise
        finally:
            _log.info(
                "request",
                method=method,
                path=scope["path"],
                status=500 if status is None else status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.reset_contextvars(**bound)
