"""OpenTelemetry tracing: a `TracerProvider` per app, asyncpg spans without SQL parameters, and
the current trace id for the protocol record.

- `configure_tracing` builds a provider and returns it; it sets OpenTelemetry's global provider
  only when asked (`set_global=True`), so tests and several apps in one process never share one.
  Without an exporter nothing is sampled and spans cost next to nothing. With
  `server_roots_only=True` (the broker's own setting) a trace starts only at a request: work
  without a request around it (the protocol writer's batches, reloads) is not traced, so it cannot
  flood the backend with one-span traces.
- Every exporter is wrapped in `ScrubbingSpanExporter`: before a span leaves the process its name,
  attributes, events and links pass the logging module's redaction (BSN-like numbers, bearer
  tokens, JWTs, secret-named keys), SQL parameters and stack traces are dropped, and exceptions
  are known by their type only — the same rule as the logs.
- `current_trace_id` (a sampled trace's id, for the admin API's own records) and
  `current_traceparent` (the W3C header passed on to RvIG) describe the current span.
- `processing_ids` gives every gateway request the ids Logboek Dataverwerkingen requires, sampled
  or not, traced or not (the standard allows no sampling): the broker's own span when tracing
  made one, otherwise ids of its own; the caller's trace and span from a valid `traceparent`.
- `instrument_asyncpg` turns on opentelemetry-instrumentation-asyncpg with
  `capture_parameters=False` (its default, made explicit): spans carry the SQL text with its `$n`
  placeholders and never the values bound to them, which in protocol inserts are BSNs.

Spans must never carry person data or tokens: attributes set by the broker's own code are
identifiers (tenant slug, AfnemerID, API, route, status), never request or response content.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final, NamedTuple

from opentelemetry import trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanContext, SpanKind, Status
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes, AttributeValue

from app.logging import redact_value

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import TraceState

__all__ = [
    "ProcessingIds",
    "ScrubbingSpanExporter",
    "caller_span_context",
    "configure_tracing",
    "current_trace_id",
    "current_traceparent",
    "instrument_asyncpg",
    "processing_ids",
]

_PROPAGATOR: Final = TraceContextTextMapPropagator()

# Attributes that may hold values bound to SQL (person data) or text quoting them.
_DROPPED: Final = frozenset(
    {
        "db.statement.parameters",  # the asyncpg instrumentation's capture_parameters=True
        "db.query.parameter",
        "exception.message",  # may quote a value, e.g. asyncpg's "invalid input for query argument"
        "exception.stacktrace",
    }
)
_DROPPED_PREFIXES: Final = ("db.query.parameter.",)


def configure_tracing(
    service_name: str,
    exporter: SpanExporter | None = None,
    *,
    sample_ratio: float = 1.0,
    synchronous: bool = False,
    set_global: bool = False,
    server_roots_only: bool = False,
) -> TracerProvider:
    """A tracer provider for one app; the caller shuts it down (`provider.shutdown()`).

    Without `exporter` nothing is sampled: spans are non-recording (with valid ids, which
    `processing_ids` uses) and `current_trace_id()` gives `None`. With one, root spans are
    sampled at `sample_ratio` (only server spans with `server_roots_only`) and exported in
    batches (at once with `synchronous=True`, for tests) through `ScrubbingSpanExporter`. A
    span with a parent follows its parent's decision, also a remote parent's (a caller's
    `traceparent`).
    """
    resource = Resource.create({SERVICE_NAME: service_name})
    if exporter is None:
        provider = TracerProvider(resource=resource, sampler=ALWAYS_OFF, shutdown_on_exit=False)
    else:
        root: Sampler = TraceIdRatioBased(sample_ratio)
        sampler = ParentBased(_ServerRoots(root) if server_roots_only else root)
        provider = TracerProvider(resource=resource, sampler=sampler, shutdown_on_exit=False)
        scrubbed = ScrubbingSpanExporter(exporter)
        processor = SimpleSpanProcessor(scrubbed) if synchronous else BatchSpanProcessor(scrubbed)
        provider.add_span_processor(processor)
    if set_global:
        # Only `serve` does this: libraries that ask OpenTelemetry for the global provider then
        # trace into the app's one. Tests never do (the global can be set once per process).
        trace.set_tracer_provider(provider)
    return provider


def current_trace_id() -> str | None:
    """The current trace's id as 32 hex digits; `None` if not sampled.

    An unsampled trace is exported nowhere, so its id would lead nowhere. (A gateway request's
    protocol record takes its ids from `processing_ids`, which always gives them.)
    """
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return trace.format_trace_id(context.trace_id)


def current_traceparent() -> str | None:
    """The W3C `traceparent` header of the current span, to pass on downstream; `None` if none.

    Only `traceparent`: the broker adds no `tracestate` of its own and relays no caller's.
    """
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


class ProcessingIds(NamedTuple):
    """The W3C Trace Context ids of one request, as lowercase hex (Logboek Dataverwerkingen).

    `trace_id` (32 digits) and `span_id` (16) identify the broker's action; `parent_span_id` is
    the caller's span (16 digits) when the caller sent a valid `traceparent`, else `None`.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None


def processing_ids(traceparent: str | None) -> ProcessingIds:
    """The ids of the current request, given its (first) `traceparent` header; call once per request.

    With tracing on, the request's server span (`TracingMiddleware`) is current: its trace id and
    span id are used, so the protocol, the LDV record and the exported trace name one action. Its
    trace is the caller's when the caller sent a valid `traceparent`, whether or not either side
    samples. Without a current span, the trace id is the caller's (or a fresh one) and the span id
    a fresh one. `parent_span_id` is the caller's span id when the ids continue the caller's trace.
    """
    caller = caller_span_context(traceparent)
    current = trace.get_current_span().get_span_context()
    if current.is_valid and not current.is_remote:
        trace_id, span_id = current.trace_id, current.span_id
    else:
        trace_id = caller.trace_id if caller is not None else _random_id(128)
        span_id = _random_id(64)
    parent = caller.span_id if caller is not None and caller.trace_id == trace_id else None
    return ProcessingIds(
        trace_id=trace.format_trace_id(trace_id),
        span_id=trace.format_span_id(span_id),
        parent_span_id=None if parent is None else trace.format_span_id(parent),
    )


def caller_span_context(traceparent: str | None) -> SpanContext | None:
    """The caller's span from a W3C `traceparent` header value; `None` when absent or invalid.

    Parsed by OpenTelemetry's propagator, exactly as `TracingMiddleware` parses it: version `00`
    with 32 and 16 lowercase hex digits (neither all zeros) and 2 of flags; a higher version is
    read as W3C Trace Context requires (its first four fields), version `ff` never.
    """
    if not traceparent:
        return None
    context = _PROPAGATOR.extract({"traceparent": traceparent})
    span_context = trace.get_current_span(context).get_span_context()
    return span_context if span_context.is_valid else None


def _random_id(bits: int) -> int:
    # Unpredictable (ids are shown to other organisations) and never the invalid all-zero id.
    while True:
        value = secrets.randbits(bits)
        if value:
            return value


class _ServerRoots(Sampler):
    """Samples a root span only when it is a server span (a request), by the wrapped sampler."""

    def __init__(self, sampler: Sampler) -> None:
        self._sampler = sampler

    def should_sample(  # noqa: PLR0917 - OpenTelemetry's Sampler signature
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        """Drop a root that is not a server span; otherwise ask the wrapped sampler."""
        if kind is not SpanKind.SERVER:
            return SamplingResult(Decision.DROP)
        return self._sampler.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        """As OpenTelemetry names samplers."""
        return f"ServerRoots{{{self._sampler.get_description()}}}"


@contextmanager
def instrument_asyncpg(provider: TracerProvider) -> Iterator[None]:
    """Trace asyncpg queries into `provider` while the context is open (SQL text, no parameters).

    The instrumentation patches asyncpg's classes, so it is process-wide: one app at a time.
    """
    # A singleton; __init__ runs again on every construction, so this sets the flag every time.
    instrumentor = AsyncPGInstrumentor(capture_parameters=False)  # type: ignore[no-untyped-call]
    if instrumentor.is_instrumented_by_opentelemetry:
        raise RuntimeError("asyncpg is already instrumented in this process (by another app?)")
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield
    finally:
        instrumentor.uninstrument()


class ScrubbingSpanExporter(SpanExporter):
    """Wraps an exporter; what it exports has passed the broker's redaction (module docstring)."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export scrubbed copies of `spans` (runs in the batch processor's thread)."""
        return self._exporter.export([_scrubbed(span) for span in spans])

    def shutdown(self) -> None:
        """Shut the wrapped exporter down."""
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the wrapped exporter."""
        return self._exporter.force_flush(timeout_millis)


def _scrubbed(span: ReadableSpan) -> ReadableSpan:
    status = span.status
    if status.description is not None:
        # "<type>: <message>" — the message may quote a value; the code and events remain.
        status = Status(status.status_code)
    return ReadableSpan(
        name=str(redact_value(span.name)),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_scrub_attributes(span.attributes),
        events=[
            Event(str(redact_value(e.name)), _scrub_attributes(e.attributes), e.timestamp)
            for e in span.events
        ],
        links=[Link(link.context, _scrub_attributes(link.attributes)) for link in span.links],
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _scrub_attributes(attributes: Attributes) -> dict[str, AttributeValue]:
    if not attributes:
        return {}
    kept = {key: value for key, value in attributes.items() if not _dropped(key)}
    # redact_value on the mapping: secret-named keys lose their value, every value is redacted.
    redacted: dict[str, object] = redact_value(kept)
    return {key: _attribute_value(value) for key, value in redacted.items()}


def _dropped(key: str) -> bool:
    return key in _DROPPED or key.startswith(_DROPPED_PREFIXES)


def _attribute_value(value: object) -> AttributeValue:
    if isinstance(value, list):
        # A redacted element turns into text; an attribute's sequence must be of one type.
        if len({type(item) for item in value}) > 1:
            return tuple(str(item) for item in value)
        return tuple(value)
    if isinstance(value, str | bool | int | float):
        return value
    return str(value)
