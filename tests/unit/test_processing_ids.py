"""`processing_ids`: every request gets the W3C Trace Context ids Logboek Dataverwerkingen requires.

No sampling: the ids exist with tracing off, with tracing on whether or not the request is sampled,
and they are the broker's own server span's when tracing made one, so protocol, LDV record and
trace name one action. The caller's trace and span come from a valid `traceparent` only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar, Request, get
from litestar.testing import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.telemetry import ProcessingIds, TracingMiddleware, configure_tracing, processing_ids

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
SAMPLED = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
NOT_SAMPLED = f"00-{CALLER_TRACE}-{CALLER_SPAN}-00"
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")

INVALID = [
    "",
    "garbage",
    f"00-{'0' * 32}-{CALLER_SPAN}-01",  # an all-zero trace id
    f"00-{CALLER_TRACE}-{'0' * 16}-01",  # an all-zero span id
    f"ff-{CALLER_TRACE}-{CALLER_SPAN}-01",  # the forbidden version
    f"00-{CALLER_TRACE}-{CALLER_SPAN}-01-extra",  # version 00 has exactly four fields
    f"00-{CALLER_TRACE.upper()}-{CALLER_SPAN}-01",  # hex digits are lowercase
    f"00-{CALLER_TRACE[:-1]}-{CALLER_SPAN}-01",  # too short
    f"00-{CALLER_TRACE}-{CALLER_SPAN}-1",  # flags are two digits
    f"00_{CALLER_TRACE}_{CALLER_SPAN}_01",
]


def _well_formed(ids: ProcessingIds) -> None:
    assert _TRACE_ID.match(ids.trace_id)
    assert _SPAN_ID.match(ids.span_id)
    assert ids.parent_span_id is None or _SPAN_ID.match(ids.parent_span_id)
    assert set(ids.trace_id) != {"0"}
    assert set(ids.span_id) != {"0"}


# -- tracing off: no span is current ----------------------------------------------------------------


def test_without_a_traceparent_the_ids_are_fresh_and_there_is_no_parent() -> None:
    first, second = processing_ids(None), processing_ids(None)
    for ids in (first, second):
        _well_formed(ids)
        assert ids.parent_span_id is None
    assert first.trace_id != second.trace_id
    assert first.span_id != second.span_id


@pytest.mark.parametrize("traceparent", [SAMPLED, NOT_SAMPLED])
def test_a_callers_traceparent_gives_the_trace_and_the_parent_span(traceparent: str) -> None:
    ids = processing_ids(traceparent)
    _well_formed(ids)
    assert ids.trace_id == CALLER_TRACE
    assert ids.parent_span_id == CALLER_SPAN
    assert ids.span_id != CALLER_SPAN  # the broker's own action


def test_a_higher_version_is_read_as_w3c_trace_context_requires() -> None:
    # Trace Context §4.3: a receiver parses the first four fields of a version it does not know.
    ids = processing_ids(f"01-{CALLER_TRACE}-{CALLER_SPAN}-01-what-comes-later")
    assert (ids.trace_id, ids.parent_span_id) == (CALLER_TRACE, CALLER_SPAN)


@pytest.mark.parametrize("traceparent", INVALID)
def test_an_invalid_traceparent_counts_as_absent(traceparent: str) -> None:
    ids = processing_ids(traceparent)
    _well_formed(ids)
    assert ids.trace_id != CALLER_TRACE
    assert ids.parent_span_id is None


# -- tracing on: TracingMiddleware made the request's server span -----------------------------------


def _app(provider: TracerProvider, seen: list[ProcessingIds]) -> Litestar:
    @get("/brp", sync_to_thread=False)
    def brp(request: Request[Any, Any, Any]) -> dict[str, str]:
        seen.append(processing_ids(request.headers.get("traceparent")))
        return {}

    app = Litestar(route_handlers=[brp])
    app.asgi_handler = TracingMiddleware(app.asgi_handler, provider)
    return app


@pytest.fixture
def exported() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A provider as `create_app` builds it for `serve`, exporting into memory at once."""
    exporter = InMemorySpanExporter()
    provider = configure_tracing("brp-broker-test", exporter, synchronous=True, server_roots_only=True)
    yield provider, exporter
    provider.shutdown()


def test_the_ids_are_the_exported_server_spans(exported: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = exported
    seen: list[ProcessingIds] = []
    with TestClient(app=_app(provider, seen)) as client:
        client.get("/brp", headers={"traceparent": SAMPLED})
        client.get("/brp")
    with_caller, own = seen
    first, second = exporter.get_finished_spans()
    assert first.context is not None
    assert second.context is not None
    assert with_caller == ProcessingIds(CALLER_TRACE, f"{first.context.span_id:016x}", CALLER_SPAN)
    assert own == ProcessingIds(f"{second.context.trace_id:032x}", f"{second.context.span_id:016x}", None)


@pytest.mark.parametrize("traceparent", INVALID)
def test_with_tracing_on_an_invalid_traceparent_is_no_parent(
    exported: tuple[TracerProvider, InMemorySpanExporter], traceparent: str
) -> None:
    provider, exporter = exported
    seen: list[ProcessingIds] = []
    with TestClient(app=_app(provider, seen)) as client:
        client.get("/brp", headers={"traceparent": traceparent})
    ((ids,), (span,)) = seen, exporter.get_finished_spans()
    assert span.context is not None
    assert ids == ProcessingIds(f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}", None)


def test_an_unsampled_request_still_has_the_callers_trace_and_its_own_span(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported
    seen: list[ProcessingIds] = []
    with TestClient(app=_app(provider, seen)) as client:
        client.get("/brp", headers={"traceparent": NOT_SAMPLED})
    assert exporter.get_finished_spans() == ()  # the caller chose not to sample
    ((ids,),) = (seen,)
    _well_formed(ids)
    assert (ids.trace_id, ids.parent_span_id) == (CALLER_TRACE, CALLER_SPAN)
    assert ids.span_id != CALLER_SPAN


@pytest.mark.parametrize("traceparent", [None, SAMPLED])
def test_a_provider_without_exporter_still_gives_ids(traceparent: str | None) -> None:
    provider = configure_tracing("brp-broker-test")  # nothing is sampled
    seen: list[ProcessingIds] = []
    headers = {"traceparent": traceparent} if traceparent else {}
    with TestClient(app=_app(provider, seen)) as client:
        client.get("/brp", headers=headers)
    ((ids,),) = (seen,)
    _well_formed(ids)
    assert ids.parent_span_id == (CALLER_SPAN if traceparent else None)
    if traceparent:
        assert ids.trace_id == CALLER_TRACE
