"""Tracing switched on from the standard `OTEL_*` variables; W3C Trace Context in and out; the
broker's own spans carry identifiers of the right shape only, and cost nothing when tracing is off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from app.telemetry import (
    BrokerTracer,
    OtlpExport,
    TracedRecorder,
    TracingConfigError,
    TracingMiddleware,
    configure_tracing,
    current_trace_id,
    current_traceparent,
    otlp_export_from_environment,
)

BSN = "999993653"
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


# -- OTEL_* variables ------------------------------------------------------------------------------


def test_without_an_endpoint_tracing_is_off() -> None:
    assert otlp_export_from_environment({}) is None
    assert otlp_export_from_environment({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER_ARG": "0.5"}) is None


def test_the_base_endpoint_gets_the_traces_path_and_the_traces_endpoint_is_used_as_is() -> None:
    base = otlp_export_from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    assert base == OtlpExport(endpoint="http://collector:4318/v1/traces")
    traces = otlp_export_from_environment(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector.example/otlp/traces",
        }
    )
    assert traces is not None
    assert traces.endpoint == "https://collector.example/otlp/traces"


def test_service_name_and_sampling_follow_the_standard_variables() -> None:
    export = otlp_export_from_environment(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_SERVICE_NAME": "brp-broker-prod",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.25",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        }
    )
    assert export == OtlpExport(
        endpoint="http://collector:4318/v1/traces", service_name="brp-broker-prod", sample_ratio=0.25
    )
    off = otlp_export_from_environment(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "parentbased_always_off"}
    )
    assert off is not None
    assert off.sample_ratio == 0.0


@pytest.mark.parametrize("switch", [{"OTEL_SDK_DISABLED": "true"}, {"OTEL_TRACES_EXPORTER": "none"}])
def test_the_standard_off_switches_turn_tracing_off(switch: dict[str, str]) -> None:
    assert otlp_export_from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", **switch}) is None


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf"),
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER: only otlp"),
        ({"OTEL_TRACES_SAMPLER": "always_on"}, "OTEL_TRACES_SAMPLER: must be one of"),
        (
            {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
            "OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1",
        ),
    ],
)
def test_what_the_broker_cannot_honour_is_refused_naming_the_variable(
    variables: dict[str, str], named: str
) -> None:
    with pytest.raises(TracingConfigError, match=named):
        otlp_export_from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", **variables})


def test_an_endpoint_that_is_no_url_is_refused_without_repeating_it() -> None:
    with pytest.raises(TracingConfigError) as refused:
        otlp_export_from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318?key=s3cret"})
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in str(refused.value)
    assert "s3cret" not in str(refused.value)


# -- spans ------------------------------------------------------------------------------------------


@pytest.fixture
def exported() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A provider as `create_app` builds it for `serve`, exporting (scrubbed) into memory at once."""
    exporter = InMemorySpanExporter()
    provider = configure_tracing("brp-broker-test", exporter, synchronous=True, server_roots_only=True)
    yield provider, exporter
    provider.shutdown()


def test_without_a_provider_every_span_is_one_shared_no_op() -> None:
    tracer = BrokerTracer()
    assert not tracer.enabled
    calls = [
        tracer.upstream_call(
            tenant="t", afnemer_id="000001", environment="proef", api="personen", url="https://rvig/x"
        ),
        tracer.token_request(tenant="t", afnemer_id="000001", environment="proef"),
        tracer.protocol_commit(tenant="t", afnemer_id="000001"),
    ]
    assert len({id(call) for call in calls}) == 1
    with calls[0] as span:
        assert not span.is_recording()
        assert current_traceparent() is None


def test_only_requests_start_a_trace(exported: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = exported
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("protocol batch"):  # background work: no request around it
        assert current_trace_id() is None
    with tracer.start_as_current_span("POST /x", kind=SpanKind.SERVER), tracer.start_as_current_span("db"):
        assert current_trace_id() is not None
    assert [span.name for span in exporter.get_finished_spans()] == ["db", "POST /x"]


def test_broker_spans_carry_identifiers_of_the_right_shape_only(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported
    tracer = BrokerTracer(provider)
    request = provider.get_tracer("test").start_as_current_span("POST /x", kind=SpanKind.SERVER)
    with (
        request,
        tracer.upstream_call(
            tenant="gemeente-a",
            afnemer_id=BSN,  # not an AfnemerID: dropped, never exported
            environment="proef",
            api="personen",
            url=f"https://rvig.example:8443/lap/api/brp/personen?bsn={BSN}",
        ),
    ):
        pass
    call, server = exporter.get_finished_spans()
    assert call.name == "RvIG personen"
    assert call.kind is SpanKind.CLIENT
    assert dict(call.attributes or {}) == {
        "broker.tenant": "gemeente-a",
        "broker.environment": "proef",
        "broker.api": "personen",
        "http.request.method": "POST",
        "server.address": "rvig.example",
        "server.port": 8443,
        "url.path": "/lap/api/brp/personen",
    }
    assert BSN not in call.to_json() + server.to_json()


async def test_a_protocol_commit_is_a_span_that_labels_its_request(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported

    class Record:
        tenant = "gemeente-a"
        afnemer_id = "000001"

    committed: list[Record] = []

    async def commit(record: Record) -> None:
        committed.append(record)

    recorder = TracedRecorder(commit, BrokerTracer(provider))
    with provider.get_tracer("test").start_as_current_span("POST /x", kind=SpanKind.SERVER):
        await recorder.record(Record())
    assert len(committed) == 1
    span, server = exporter.get_finished_spans()
    assert span.name == "protocol commit"
    expected = {"broker.tenant": "gemeente-a", "broker.afnemer_id": "000001"}
    assert dict(span.attributes or {}) == expected
    assert expected.items() <= dict(server.attributes or {}).items()


async def test_a_failed_commit_is_an_error_span_named_by_type_only(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported

    class Record:
        tenant = "gemeente-a"
        afnemer_id = None

    async def commit(_record: Record) -> None:
        raise RuntimeError(f"insert of {BSN} failed")

    request = provider.get_tracer("test").start_as_current_span("POST /x", kind=SpanKind.SERVER)
    with request, pytest.raises(RuntimeError):
        await TracedRecorder(commit, BrokerTracer(provider)).record(Record())
    span, _server = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["error.type"] == "RuntimeError"
    assert not span.status.is_ok
    assert BSN not in span.to_json()


# -- W3C Trace Context --------------------------------------------------------------------------------


def _traced_app(provider: TracerProvider, seen: list[tuple[str | None, str | None]]) -> Litestar:
    @get("/brp", sync_to_thread=False)
    def brp() -> dict[str, str]:
        seen.append((current_trace_id(), current_traceparent()))
        return {}

    @get("/health/ready", sync_to_thread=False)
    def ready() -> dict[str, str]:
        seen.append((current_trace_id(), current_traceparent()))
        return {}

    app = Litestar(route_handlers=[brp, ready])
    app.asgi_handler = TracingMiddleware(app.asgi_handler, provider, untraced=("/health/",))
    return app


def test_a_callers_traceparent_is_the_parent_of_the_request_span(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported
    seen: list[tuple[str | None, str | None]] = []
    with TestClient(app=_traced_app(provider, seen)) as client:
        client.get("/brp", headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    (span,) = exporter.get_finished_spans()
    assert span.context is not None
    assert span.parent is not None
    assert format(span.context.trace_id, "032x") == CALLER_TRACE
    assert format(span.parent.span_id, "016x") == CALLER_SPAN
    assert span.parent.is_remote
    # What the broker passes on downstream: the same trace, its own span as the parent.
    assert seen == [(CALLER_TRACE, f"00-{CALLER_TRACE}-{span.context.span_id:016x}-01")]


def test_a_callers_decision_not_to_sample_holds(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported
    seen: list[tuple[str | None, str | None]] = []
    with TestClient(app=_traced_app(provider, seen)) as client:
        client.get("/brp", headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-00"})
    assert exporter.get_finished_spans() == ()
    ((trace_id, traceparent),) = seen
    assert trace_id is None  # nothing exported under it, so the protocol record names no trace
    assert traceparent is not None
    assert traceparent.startswith(f"00-{CALLER_TRACE}-")
    assert traceparent.endswith("-00")


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"00-{'0' * 32}-{CALLER_SPAN}-01",  # an all-zero trace id is invalid
        f"00-{CALLER_TRACE}-{'0' * 16}-01",
        f"ff-{CALLER_TRACE}-{CALLER_SPAN}-01",
    ],
)
def test_an_invalid_traceparent_starts_a_new_trace(
    exported: tuple[TracerProvider, InMemorySpanExporter], header: str
) -> None:
    provider, exporter = exported
    with TestClient(app=_traced_app(provider, [])) as client:
        client.get("/brp", headers={"traceparent": header})
    (span,) = exporter.get_finished_spans()
    assert span.parent is None
    assert span.context is not None
    assert format(span.context.trace_id, "032x") != CALLER_TRACE


def test_probes_are_not_traced(exported: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = exported
    seen: list[tuple[str | None, str | None]] = []
    with TestClient(app=_traced_app(provider, seen)) as client:
        client.get("/health/ready", headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    assert exporter.get_finished_spans() == ()
    assert seen == [(None, None)]
