"""`TracingMiddleware`: one server span per HTTP request, the parent of everything it causes.

Pure ASGI (like `app.correlation`), placed just inside `CorrelationIdMiddleware` so the span can
carry the correlation id. The span is named by method and route template (`POST
/haalcentraal/api/brp/personen`), never by the concrete path, and carries method, route, status
and correlation id only: no header, query string, body or concrete path (an admin path could hold
an identifier). An incoming `traceparent` is ignored: tenants' clients are not trusted to choose
the trace id written into the protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from litestar.enums import ScopeType
from opentelemetry.trace import SpanKind, StatusCode

from app.correlation import correlation_id_of

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send
    from opentelemetry.trace import TracerProvider

__all__ = ["TracingMiddleware"]

# OpenTelemetry's semantic conventions: any other method is reported as _OTHER.
_KNOWN_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class TracingMiddleware:
    """Wraps an ASGI app; spans go to the provider given (the app's own, not the global one)."""

    __slots__ = ("_tracer", "app")

    def __init__(self, app: ASGIApp, provider: TracerProvider) -> None:
        self.app = app
        self._tracer = provider.get_tracer("app.telemetry")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        requested = str(scope.get("method", ""))
        method = requested if requested in _KNOWN_METHODS else "_OTHER"
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        # No exception events or status text: an exception's message may quote request data.
        with self._tracer.start_as_current_span(
            method,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                await self.app(scope, receive, send_with_status)
            except BaseException as error:
                span.set_attribute("error.type", type(error).__qualname__)
                span.set_status(StatusCode.ERROR)
                raise
            finally:
                route = scope.get("path_template")
                if isinstance(route, str) and route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                correlation_id = correlation_id_of(scope)
                if correlation_id:
                    span.set_attribute("broker.correlation_id", correlation_id)
            if status >= 500:
                span.set_status(StatusCode.ERROR)
