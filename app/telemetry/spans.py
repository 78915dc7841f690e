"""`BrokerTracer`: the spans the data path opens below the request's server span, typed.

Like `BrokerMetrics` for metrics, the one way the data path makes a span:

- `RvIG <api>` (client): one HTTP call to an RvIG API — tenant, AfnemerID, environment, API,
  method, server address and port, URL path (never a query), status;
- `RvIG token` (client): one token request of an afnemer, however many requests wait for it —
  tenant, AfnemerID, environment;
- `protocol commit` (internal): waiting for the request's record to be committed — tenant,
  AfnemerID.

The request's own server span (`TracingMiddleware`) gets the tenant and AfnemerID too, when the
protocol commit makes them known. Each method takes identifiers only, and each value must have the
shape of its kind (`clean_label`, the metrics' rule): no BSN, name, body, token, query value or
URL query string can become an attribute. With no provider (tracing off) every method returns
one shared no-op context: no span object, no context switch, nothing exported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Final, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from app.telemetry.labels import INVALID, NO_VALUE, LabelKind, clean_label

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["BrokerTracer", "TracedRecorder", "http_outcome"]

_OFF: Final[AbstractContextManager[Span]] = nullcontext(INVALID_SPAN)
_SCOPE: Final = "app.telemetry.spans"


class BrokerTracer:
    """Opens the broker's spans in `provider`; with `None` every span is a no-op."""

    __slots__ = ("_tracer",)

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self._tracer = provider.get_tracer(_SCOPE) if provider is not None else None

    @property
    def enabled(self) -> bool:
        """Whether spans are made at all."""
        return self._tracer is not None

    def upstream_call(
        self, *, tenant: str, afnemer_id: str, environment: str, api: str, url: str
    ) -> AbstractContextManager[Span]:
        """The span of one HTTP call to an RvIG API; `http_outcome` records how it ended."""
        if self._tracer is None:
            return _OFF
        address = urlsplit(url)
        api_label = clean_label(LabelKind.API, api)
        attributes: dict[str, AttributeValue] = {
            **_identifiers(tenant, afnemer_id, environment),
            "broker.api": api_label,
            "http.request.method": "POST",
            # Scheme, host, port and path are the broker's configuration; never the query.
            "server.address": address.hostname or "",
            "server.port": address.port or (443 if address.scheme == "https" else 80),
            "url.path": address.path,
        }
        return _span(self._tracer, f"RvIG {api_label}", SpanKind.CLIENT, attributes)

    def token_request(
        self, *, tenant: str, afnemer_id: str, environment: str
    ) -> AbstractContextManager[Span]:
        """The span of one token request of an afnemer (one per fetch, however many requests wait)."""
        if self._tracer is None:
            return _OFF
        return _span(
            self._tracer, "RvIG token", SpanKind.CLIENT, _identifiers(tenant, afnemer_id, environment)
        )

    def protocol_commit(self, *, tenant: str, afnemer_id: str | None) -> AbstractContextManager[Span]:
        """The span of waiting for a protocol record's commit; labels the request's span too."""
        if self._tracer is None:
            return _OFF
        attributes = _identifiers(tenant, afnemer_id)
        # The request's server span: tenant and afnemer are known for sure only now (it may have
        # ended already, when the request was cancelled: then it is left alone).
        request = trace.get_current_span()
        if request.is_recording():
            request.set_attributes(attributes)
        return _span(self._tracer, "protocol commit", SpanKind.INTERNAL, attributes)


@contextmanager
def _span(
    tracer: Tracer, name: str, kind: SpanKind, attributes: Mapping[str, AttributeValue]
) -> Iterator[Span]:
    """A current span; an exception marks it an error by its type only (a message may quote data)."""
    with tracer.start_as_current_span(
        name, kind=kind, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as span:
        try:
            yield span
        except Exception as error:
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(StatusCode.ERROR)
            raise


def http_outcome(span: Span, outcome: int | str) -> None:
    """Record an HTTP status (or `timeout`/`unreachable`) on `span`; 5xx and failures are errors."""
    if isinstance(outcome, int):
        span.set_attribute("http.response.status_code", outcome)
        if outcome >= 500:
            span.set_status(StatusCode.ERROR)
        return
    span.set_attribute("broker.failure", clean_label(LabelKind.OUTCOME, outcome))
    span.set_status(StatusCode.ERROR)


def _identifiers(tenant: str, afnemer_id: str | None, environment: str | None = None) -> dict[str, str]:
    values = {
        "broker.tenant": clean_label(LabelKind.TENANT, tenant),
        "broker.afnemer_id": clean_label(LabelKind.AFNEMER_ID, afnemer_id),
        "broker.environment": clean_label(LabelKind.ENVIRONMENT, environment),
    }
    return {key: value for key, value in values.items() if value not in (NO_VALUE, INVALID)}


class _Record(Protocol):
    """What `TracedRecorder` reads of a protocol record: whose it is."""

    @property
    def tenant(self) -> str: ...

    @property
    def afnemer_id(self) -> str | None: ...


R = TypeVar("R", bound=_Record)


class TracedRecorder(Generic[R]):
    """A protocoller whose every commit is a `protocol commit` span; the records pass unchanged."""

    __slots__ = ("_record", "_tracer")

    def __init__(self, record: Callable[[R], Awaitable[None]], tracer: BrokerTracer) -> None:
        """Wrap `record` (e.g. `ProtocolWriter.record`)."""
        self._record = record
        self._tracer = tracer

    async def record(self, record: R) -> None:
        """Commit `record` through the wrapped protocoller inside a span."""
        with self._tracer.protocol_commit(tenant=record.tenant, afnemer_id=record.afnemer_id):
            await self._record(record)
