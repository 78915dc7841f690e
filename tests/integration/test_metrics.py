"""asyncpg spans against the real test database: SQL text yes, the values bound to it never.

Protocol inserts bind BSNs as parameters, so a span that captured parameters would export person
data to the tracing backend. These tests run real queries with a BSN as parameter and look for it
in every exported span (name, attributes, events, links, status).
"""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.telemetry import configure_tracing, instrument_asyncpg

BSN = "999993653"  # from RvIG's test set


def _db_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [
        span for span in exporter.get_finished_spans() if span.attributes and "db.system" in span.attributes
    ]


def _spans_of(statement: str, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [span for span in _db_spans(exporter) if span.attributes["db.statement"] == statement]  # type: ignore[index]


@pytest.fixture
def raw_spans() -> Iterator[InMemorySpanExporter]:
    """asyncpg instrumented into a provider with NO scrubbing: what the instrumentation records."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with instrument_asyncpg(provider):
        yield exporter
    provider.shutdown()


async def test_asyncpg_spans_carry_no_parameter_values(
    raw_spans: InMemorySpanExporter, app_pool: asyncpg.Pool
) -> None:
    assert await app_pool.fetchval("SELECT $1::text", BSN) == BSN
    async with app_pool.acquire() as connection:
        statement = await connection.prepare("SELECT $1::text AS bsn")
        assert await statement.fetchval(BSN) == BSN
        await connection.executemany("SELECT $1::text", [(BSN,), ("999990019",)])
    spans = _db_spans(raw_spans)
    statements = {span.attributes["db.statement"] for span in spans if span.attributes}
    assert {"SELECT $1::text", "SELECT $1::text AS bsn"} <= statements
    for span in spans:
        assert span.attributes is not None
        assert "db.statement.parameters" not in span.attributes
        assert BSN not in span.to_json()
        assert "999990019" not in span.to_json()


async def test_a_failing_query_exports_no_value_it_was_given(app_pool: asyncpg.Pool) -> None:
    # asyncpg quotes the offending argument in its error message; the exported span must not.
    exporter, unscrubbed = InMemorySpanExporter(), InMemorySpanExporter()
    provider = configure_tracing("brp-broker-test", exporter, synchronous=True)
    provider.add_span_processor(SimpleSpanProcessor(unscrubbed))
    with instrument_asyncpg(provider), pytest.raises(asyncpg.DataError):
        await app_pool.fetchval("SELECT $1::int", BSN)
    provider.shutdown()
    (raw,) = _spans_of("SELECT $1::int", unscrubbed)
    assert BSN in raw.to_json(), "the test no longer provokes a message quoting the value"
    (span,) = _spans_of("SELECT $1::int", exporter)
    assert [event.name for event in span.events] == ["exception"]
    for exported in _db_spans(exporter):
        assert BSN not in exported.to_json()


async def test_one_app_at_a_time_and_nothing_traced_after_the_context(app_pool: asyncpg.Pool) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # asyncpg's classes are patched process-wide: a second provider would silently get nothing.
    with (
        instrument_asyncpg(provider),
        pytest.raises(RuntimeError, match="already instrumented"),
        instrument_asyncpg(TracerProvider()),
    ):
        pass
    assert await app_pool.fetchval("SELECT $1::text", BSN) == BSN
    assert exporter.get_finished_spans() == ()
    provider.shutdown()
