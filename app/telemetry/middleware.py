"""`TracingMiddleware`: one server span per HTTP request, the parent of everything it causes.

Pure ASGI (like `app.correlation`), placed just inside `CorrelationIdMiddleware` so the span can
carry the correlation id. The span is named by method and route template (`POST
/haalcentraal/api/brp/personen`), never by the concrete path, and carries method, route, status
and correlation id only: no header, query string, body or concrete path (an admin path could hold
an identifier).

W3C Trace Context: a valid incoming `traceparent` is the server span's (remote) parent, so the
caller's trace continues through the broker (and on to RvIG, see `current_traceparent`) and the
caller's sampling decision holds. The caller thereby chooses the trace id in the protocol record,
as it chooses `x-correlation-id`: both are aids to follow one processing across organisations,
never evidence; the record itself is kept and chained by the broker. `tracestate` is not read.
The server span's trace and span ids, sampled or not, are the request's ids in the protocol
record and in Logboek Dataverwerkingen (`processing_ids`, which parses the same first header).
Paths in `untraced` (probes, scrapes) get no span at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from litestar.enums import ScopeType
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from app.correlation import correlation_id_of

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar.types import ASGIApp, Message, Receive, Scope, Send
    from opentelemetry.context import Context
    from opentelemetry.trace import TracerProvider

__all__ = ["TracingMiddleware"]

# OpenTelemetry's semantic conventions: any other method is reported as _OTHER.
_KNOWN_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_TRACEPARENT: Final = b"traceparent"
_PROPAGATOR: Final = TraceContextTextMapPropagator()


class TracingMiddleware:
    """Wraps an ASGI app; spans go to the provider given (the app's own, not the global one)."""

    __slots__ = ("_tracer", "_untraced", "app")

    def __init__(self, app: ASGIApp, provider: TracerProvider, untraced: Iterable[str] = ()) -> None:
        """Trace every HTTP request but those whose path starts with one of `untraced`."""
        self.app = app
        self._tracer = provider.get_tracer("app.telemetry")
        self._untraced = tuple(untraced)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or (self._untraced and scope["path"].startswith(self._untraced)):
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
            context=_caller_context(scope),
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


def _caller_context(scope: Scope) -> Context | None:
    """The caller's trace from its first `traceparent` header; `None` (a new trace) without a valid one."""
    for name, value in scope["headers"]:
        if name == _TRACEPARENT:
            context = _PROPAGATOR.extract({"traceparent": value.decode("latin-1")})
            return context or None
    return None
