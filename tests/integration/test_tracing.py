"""Traces from `brp-broker serve` to a real OTLP/HTTP receiver, switched on as an operator does it.

The broker runs in a subprocess with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a receiver in this
test, in front of the sandbox RvIG. One request with a caller's `traceparent` must become one
trace: the caller's span → the broker's server span → the RvIG call, the token request and the
protocol commit; RvIG receives a `traceparent` of that trace; the protocol record carries its ids;
and nothing exported holds the BSN, a person's name or a token. Without the variable the broker
exports nothing and passes no trace context on, yet the record still carries the caller's trace.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import asyncpg
import httpx

from app.db import with_user
from app.sandbox.server import SandboxThread
from app.settings import Settings
from tests.integration.conftest import TEST_TENANT, SandboxControl, dev_token
from tests.integration.otlp_receiver import OtlpReceiver
from tests.integration.serving import ServeProcess, serve_environment
from tests.support.ids import request_id

PERSONEN = "/haalcentraal/api/brp/personen"
BSN = "999993653"
RAADPLEEG = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [BSN], "fields": ["naam"]}


def _caller_traceparent() -> tuple[str, str, str]:
    """A caller's sampled `traceparent`, its trace id and its span id."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


async def _ids_of_record(database_url: str, correlation_id: str) -> tuple[str | None, str | None, str | None]:
    """The record's trace id, span id and parent span id."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SET ROLE brp_owner")
        row = await connection.fetchrow(
            "SELECT trace_id, span_id, parent_span_id FROM broker.protocol_records WHERE correlation_id = $1",
            correlation_id,
        )
    finally:
        await connection.close()
    assert row is not None
    return row["trace_id"], row["span_id"], row["parent_span_id"]


async def test_one_request_is_one_trace_from_the_caller_through_the_broker_to_rvig(
    broker_settings: Settings,
    database_url: str,
    sandbox: SandboxThread,
    sandbox_control: SandboxControl,
    tmp_path: Path,
) -> None:
    sandbox_control.reset()
    token = dev_token(sandbox)
    traceparent, trace_id, caller_span_id = _caller_traceparent()
    correlation_id = request_id("trace")
    async with OtlpReceiver() as receiver:
        env = serve_environment(
            broker_settings,
            tmp_path,
            with_user(database_url, "brp_app"),
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_SERVICE_NAME="brp-broker-test",
        )
        with ServeProcess(env) as broker:
            await asyncio.to_thread(broker.started)
            headers = {"Authorization": f"Bearer {token}", "x-doelbinding": "test"}
            async with httpx.AsyncClient(base_url=broker.base_url, headers=headers, timeout=30) as client:
                answer = await client.post(
                    PERSONEN,
                    json=RAADPLEEG,
                    headers={"traceparent": traceparent, "x-correlation-id": correlation_id},
                )
                ready = await client.get("/health/ready")
            seen_by_rvig = sandbox_control.counters()["lastTraceparent"]
            # The spans are exported in batches; stopping the broker flushes them.
            assert await asyncio.to_thread(broker.stop) == 0
    assert answer.status_code == 200, answer.text
    assert ready.status_code == 200

    # One trace, the caller's: probes and background work make no spans of their own.
    assert {span.trace_id for span in receiver.spans} == {trace_id}
    (server,) = [span for span in receiver.spans if span.kind == "server"]
    assert server.name == f"POST {PERSONEN}"
    assert server.parent_span_id == caller_span_id
    assert server.resource["service.name"] == "brp-broker-test"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["broker.correlation_id"] == correlation_id
    assert server.attributes["broker.tenant"] == TEST_TENANT
    assert server.attributes["broker.afnemer_id"] == "000001"

    (call,) = receiver.named("RvIG personen")
    (token_request,) = receiver.named("RvIG token")
    (commit,) = receiver.named("protocol commit")
    assert call.kind == token_request.kind == "client"
    assert call.parent_span_id == token_request.parent_span_id == commit.parent_span_id == server.span_id
    expected = {"broker.tenant": TEST_TENANT, "broker.afnemer_id": "000001"}
    for span in (call, token_request, commit):
        assert expected.items() <= span.attributes.items(), span
    assert (
        call.attributes["broker.environment"] == token_request.attributes["broker.environment"] == "sandbox"
    )
    assert call.attributes["broker.api"] == "personen"
    assert call.attributes["http.response.status_code"] == 200
    assert call.attributes["url.path"] == PERSONEN
    assert not any(span.error for span in receiver.spans)

    # RvIG was called in the same trace, by the broker's client spans.
    assert seen_by_rvig == {
        "api": f"00-{trace_id}-{call.span_id}-01",
        "token": f"00-{trace_id}-{token_request.span_id}-01",
    }
    # The record names the same action as the trace: the caller's trace, the broker's server span.
    assert await _ids_of_record(database_url, correlation_id) == (trace_id, server.span_id, caller_span_id)

    exported = b"".join(receiver.bodies)
    for secret in (BSN, "Moulin", token, *token.split(".")):
        assert secret.encode() not in exported


async def test_a_request_without_traceparent_starts_a_trace_of_its_own(
    broker_settings: Settings,
    database_url: str,
    sandbox: SandboxThread,
    sandbox_control: SandboxControl,
    tmp_path: Path,
) -> None:
    correlation_id = request_id("trace")
    async with OtlpReceiver() as receiver:
        env = serve_environment(
            broker_settings,
            tmp_path,
            with_user(database_url, "brp_app"),
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{receiver.endpoint}/v1/traces",
        )
        with ServeProcess(env) as broker:
            await asyncio.to_thread(broker.started)
            headers = {"Authorization": f"Bearer {dev_token(sandbox)}", "x-doelbinding": "test"}
            async with httpx.AsyncClient(base_url=broker.base_url, headers=headers, timeout=30) as client:
                # A malformed traceparent is ignored, as W3C Trace Context says.
                answer = await client.post(
                    PERSONEN,
                    json=RAADPLEEG,
                    headers={"traceparent": "00-xyz-abc-01", "x-correlation-id": correlation_id},
                )
            assert await asyncio.to_thread(broker.stop) == 0
    assert answer.status_code == 200, answer.text
    (server,) = [span for span in receiver.spans if span.kind == "server"]
    assert server.parent_span_id == ""
    assert server.resource["service.name"] == "brp-broker"
    assert await _ids_of_record(database_url, correlation_id) == (server.trace_id, server.span_id, None)


async def test_without_an_otlp_endpoint_nothing_is_traced_and_no_trace_context_is_passed_on(
    broker: httpx.AsyncClient, sandbox_control: SandboxControl, database_url: str
) -> None:
    traceparent, trace_id, caller_span_id = _caller_traceparent()
    correlation_id = request_id("trace")
    answer = await broker.post(
        PERSONEN,
        json=RAADPLEEG,
        headers={"traceparent": traceparent, "x-correlation-id": correlation_id, "x-doelbinding": "test"},
    )
    assert answer.status_code == 200, answer.text
    assert "lastTraceparent" not in sandbox_control.counters()
    # Logboek Dataverwerkingen allows no sampling: the record still continues the caller's trace,
    # with a span id of the broker's own.
    recorded_trace, span_id, parent_span_id = await _ids_of_record(database_url, correlation_id)
    assert (recorded_trace, parent_span_id) == (trace_id, caller_span_id)
    assert span_id is not None
    assert span_id != caller_span_id
