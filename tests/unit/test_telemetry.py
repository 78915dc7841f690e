"""Telemetry: the metrics facade records what it should, and no person data reaches a label or span."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from app.correlation import CorrelationIdMiddleware
from app.telemetry import (
    INVALID,
    STATE_KEY,
    BrokerMetrics,
    LabelKind,
    MetricsController,
    TracingMiddleware,
    clean_label,
    configure_tracing,
    current_trace_id,
)

BSN = "999993653"  # from RvIG's test set
TENANT = "testgemeente"


@pytest.fixture
def metrics() -> BrokerMetrics:
    """Metrics on a fresh private registry, without the process collectors (quieter exposition)."""
    return BrokerMetrics(process_collectors=False)


def _value(metrics: BrokerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def _exposition(metrics: BrokerMetrics) -> str:
    return generate_latest(metrics.registry).decode()


# -- the facade records what it should ------------------------------------------------------------


def test_request_finished_counts_the_request_and_times_it(metrics: BrokerMetrics) -> None:
    for _ in range(2):
        metrics.request_finished(
            tenant=TENANT,
            api="personen",
            query_type="RaadpleegMetBurgerservicenummer",
            status=200,
            problem_code=None,
            seconds=0.3,
        )
    metrics.request_finished(
        tenant=TENANT,
        api="personen",
        query_type=None,
        status=400,
        problem_code="paramsValidation",
        seconds=0.001,
    )
    granted = {"tenant": TENANT, "api": "personen", "query_type": "RaadpleegMetBurgerservicenummer"}
    assert _value(metrics, "brp_broker_requests_total", **granted, status="200", problem_code="") == 2
    refused = {"tenant": TENANT, "api": "personen", "query_type": "", "status": "400"}
    assert _value(metrics, "brp_broker_requests_total", **refused, problem_code="paramsValidation") == 1
    timed = {"tenant": TENANT, "api": "personen", "status_class": "2xx"}
    assert _value(metrics, "brp_broker_request_duration_seconds_count", **timed) == 2
    assert _value(metrics, "brp_broker_request_duration_seconds_bucket", **timed, le="0.25") == 0
    assert _value(metrics, "brp_broker_request_duration_seconds_bucket", **timed, le="0.5") == 2
    assert _value(metrics, "brp_broker_request_duration_seconds_sum", **timed) == pytest.approx(0.6)


def test_upstream_calls_are_counted_by_status_and_transport_failure(metrics: BrokerMetrics) -> None:
    metrics.upstream_call(environment="proef", afnemer_id="000101", api="personen", status=200, seconds=0.2)
    metrics.upstream_call(
        environment="proef", afnemer_id="000101", api="personen", status="timeout", seconds=10
    )
    labels = {"environment": "proef", "afnemer_id": "000101", "api": "personen"}
    assert _value(metrics, "brp_broker_upstream_requests_total", **labels, status="200") == 1
    assert _value(metrics, "brp_broker_upstream_requests_total", **labels, status="timeout") == 1
    timed = {"environment": "proef", "api": "personen"}
    assert _value(metrics, "brp_broker_upstream_duration_seconds_count", **timed) == 2


def test_token_requests_are_counted_per_afnemer_and_outcome(metrics: BrokerMetrics) -> None:
    metrics.token_request("productie", "000101", "obtained")
    metrics.token_request("productie", "000101", "failed")
    metrics.token_request("productie", "000101", "backoff")
    metrics.token_request("productie", "000101", "backoff")
    labels = {"environment": "productie", "afnemer_id": "000101"}
    assert _value(metrics, "brp_broker_token_requests_total", **labels, outcome="obtained") == 1
    assert _value(metrics, "brp_broker_token_requests_total", **labels, outcome="backoff") == 2


def test_protocol_batches_record_size_duration_and_outcome(metrics: BrokerMetrics) -> None:
    metrics.protocol_batch(40, 0.004, ok=True)
    metrics.protocol_batch(3, 1.5, ok=False)
    assert _value(metrics, "brp_broker_protocol_batch_records_sum", outcome="ok") == 40
    assert _value(metrics, "brp_broker_protocol_batch_records_sum", outcome="failed") == 3
    assert _value(metrics, "brp_broker_protocol_commit_seconds_count", outcome="ok") == 1
    assert _value(metrics, "brp_broker_protocol_commit_seconds_bucket", outcome="failed", le="1.0") == 0


def test_ratelimit_degradation_and_refusals(metrics: BrokerMetrics) -> None:
    assert _value(metrics, "brp_broker_ratelimit_degraded") == 0
    metrics.ratelimit_degraded(True)
    assert _value(metrics, "brp_broker_ratelimit_degraded") == 1
    metrics.ratelimit_degraded(False)
    assert _value(metrics, "brp_broker_ratelimit_degraded") == 0
    metrics.ratelimited(TENANT, "employee")
    assert _value(metrics, "brp_broker_ratelimited_requests_total", tenant=TENANT, key_kind="employee") == 1


# -- no person data in a label ---------------------------------------------------------------------


def _record_everything_with(metrics: BrokerMetrics, value: Any) -> None:
    """Pass `value` in every label slot of every method, one slot at a time."""
    ok_request = {
        "tenant": TENANT,
        "api": "personen",
        "query_type": "RaadpleegMetBurgerservicenummer",
        "status": 200,
        "problem_code": None,
    }
    for slot in ok_request:
        metrics.request_finished(**{**ok_request, slot: value}, seconds=0.1)
    ok_upstream = {"environment": "proef", "afnemer_id": "000101", "api": "personen", "status": 200}
    for slot in ok_upstream:
        metrics.upstream_call(**{**ok_upstream, slot: value}, seconds=0.1)
    metrics.token_request(value, "000101", "obtained")
    metrics.token_request("proef", value, "obtained")
    metrics.token_request("proef", "000101", value)
    metrics.ratelimited(value, "tenant")
    metrics.ratelimited(TENANT, value)


@pytest.mark.parametrize(
    "value",
    [BSN, int(BSN), f"bsn-{BSN}", f"{BSN}0", "0" + BSN, f" {BSN} "],
    ids=["bsn", "bsn-as-int", "prefixed", "ten-digits", "leading-zero", "padded"],
)
def test_a_bsn_never_becomes_a_label_value(metrics: BrokerMetrics, value: Any) -> None:
    _record_everything_with(metrics, value)
    exposition = _exposition(metrics)
    assert BSN not in exposition
    assert f'"{INVALID}"' in exposition
    # The tenant slot of request_finished (counter and histogram) and of ratelimited.
    assert _value(metrics, "brp_broker_metric_label_refused_total", label="tenant", reason="shape") == 3


@pytest.mark.parametrize(
    "value",
    [
        "Jan Jansen",
        "Kerkstraat 12",
        "1234AB 12",
        "j.jansen@example.nl",
        "Zoë",
        "de Vries, P.",
        "Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
        "x" * 65,
    ],
)
def test_name_address_and_free_text_are_refused(metrics: BrokerMetrics, value: str) -> None:
    _record_everything_with(metrics, value)
    exposition = _exposition(metrics)
    assert value not in exposition
    for part in value.split():
        if len(part) > 3:
            assert f'"{part}"' not in exposition


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (LabelKind.TENANT, "belastingen-rijnmond"),
        (LabelKind.AFNEMER_ID, "000101"),
        (LabelKind.ENVIRONMENT, "productie"),
        (LabelKind.API, "verblijfplaatshistorie"),
        (LabelKind.QUERY_TYPE, "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving"),
        (LabelKind.PROBLEM_CODE, "paramsValidation"),
        (LabelKind.STATUS, "503"),
        (LabelKind.STATUS, "unreachable"),
        (LabelKind.KEY_KIND, "afnemer"),
        (LabelKind.IDENTITY, "supplier-2026"),
    ],
)
def test_identifiers_of_the_right_shape_pass(kind: LabelKind, value: str) -> None:
    assert clean_label(kind, value) == value


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (LabelKind.AFNEMER_ID, "00010"),  # not six digits
        (LabelKind.AFNEMER_ID, "00000001234567890000"),  # an OIN
        (LabelKind.TENANT, "Amsterdam"),  # a slug is lower case
        (LabelKind.STATUS, 42),
        (LabelKind.STATUS, True),
        (LabelKind.QUERY_TYPE, "raadpleeg met bsn"),
        (LabelKind.IDENTITY, "PKIo certificaat"),  # free text
    ],
)
def test_identifiers_of_the_wrong_shape_are_refused(kind: LabelKind, value: str | int) -> None:
    assert clean_label(kind, value) == INVALID


def test_none_is_an_empty_label_value() -> None:
    assert clean_label(LabelKind.PROBLEM_CODE, None) == ""


def test_label_combinations_beyond_the_cap_become_overflow() -> None:
    metrics = BrokerMetrics(process_collectors=False, max_series=2)
    for tenant in ("a1", "a2", "a3", "a4"):
        metrics.ratelimited(tenant, "tenant")
    assert _value(metrics, "brp_broker_ratelimited_requests_total", tenant="a2", key_kind="tenant") == 1
    assert _value(metrics, "brp_broker_ratelimited_requests_total", tenant="a3", key_kind="tenant") is None
    overflow = {"tenant": "overflow", "key_kind": "overflow"}
    assert _value(metrics, "brp_broker_ratelimited_requests_total", **overflow) == 2


# -- registries are per app -------------------------------------------------------------------------


def test_two_instances_never_share_a_counter() -> None:
    first, second = BrokerMetrics(), BrokerMetrics()
    first.ratelimited(TENANT, "tenant")
    assert first.registry is not second.registry
    assert _value(first, "brp_broker_ratelimited_requests_total", tenant=TENANT, key_kind="tenant") == 1
    assert _value(second, "brp_broker_ratelimited_requests_total", tenant=TENANT, key_kind="tenant") is None


def test_nothing_is_registered_on_the_global_registry() -> None:
    BrokerMetrics()
    assert REGISTRY.get_sample_value("brp_broker_ratelimit_degraded") is None


def test_a_given_registry_is_used() -> None:
    registry = CollectorRegistry()
    BrokerMetrics(registry, process_collectors=False).ratelimit_degraded(True)
    assert registry.get_sample_value("brp_broker_ratelimit_degraded") == 1


# -- GET /metrics -------------------------------------------------------------------------------------


@pytest.fixture
def metrics_client(metrics: BrokerMetrics) -> Iterator[TestClient[Litestar]]:
    app = Litestar(route_handlers=[MetricsController])
    app.state[STATE_KEY] = metrics
    with TestClient(app=app) as client:
        yield client


def test_metrics_endpoint_exposes_the_tenant_label(
    metrics: BrokerMetrics, metrics_client: TestClient[Litestar]
) -> None:
    metrics.request_finished(
        tenant=TENANT,
        api="bewoning",
        query_type="BewoningMetPeildatum",
        status=200,
        problem_code=None,
        seconds=0.1,
    )
    response = metrics_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert f'tenant="{TENANT}"' in response.text
    assert "# TYPE brp_broker_requests_total counter" in response.text


def test_metrics_endpoint_is_documented_as_prometheus_text(metrics_client: TestClient[Litestar]) -> None:
    # The broker's own document lists its operational endpoints (issue 10), /metrics as plain text.
    schema = metrics_client.get("/schema/openapi.json").json()
    operation = schema["paths"]["/metrics"]["get"]
    assert [media.split(";")[0] for media in operation["responses"]["200"]["content"]] == ["text/plain"]


# -- tracing -------------------------------------------------------------------------------------------


@pytest.fixture
def exported() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A provider as `configure_tracing` builds it, exporting (scrubbed) into memory at once."""
    exporter = InMemorySpanExporter()
    provider = configure_tracing("brp-broker-test", exporter, synchronous=True)
    yield provider, exporter
    provider.shutdown()


def test_exported_spans_carry_no_bsn_token_or_exception_text(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported
    tracer = provider.get_tracer("test")
    jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    with pytest.raises(ValueError, match=BSN), tracer.start_as_current_span(f"lookup {BSN}") as span:
        span.set_attribute("db.statement", f"SELECT * FROM p WHERE bsn = '{BSN}'")
        span.set_attribute("db.statement.parameters", f"('{BSN}',)")
        span.set_attribute("http.request.header.authorization", f"Bearer {jwt}")
        span.set_attribute("numbers", [1, int(BSN)])
        span.add_event("found", {"who": BSN})
        raise ValueError(f"no person {BSN}")
    (finished,) = exporter.get_finished_spans()
    text = finished.to_json()
    assert BSN not in text
    assert jwt not in text
    assert finished.attributes is not None
    assert "db.statement.parameters" not in finished.attributes
    assert finished.status.status_code is StatusCode.ERROR
    assert finished.status.description is None
    exception = next(event for event in finished.events if event.name == "exception")
    assert exception.attributes == {"exception.type": "ValueError", "exception.escaped": "False"}


def test_current_trace_id_is_that_of_the_exported_span(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported
    assert current_trace_id() is None
    with provider.get_tracer("test").start_as_current_span("request"):
        seen = current_trace_id()
    (finished,) = exporter.get_finished_spans()
    assert finished.context is not None
    assert seen == format(finished.context.trace_id, "032x")


def test_without_an_exporter_nothing_is_sampled_and_there_is_no_trace_id() -> None:
    provider = configure_tracing("brp-broker-test")
    with provider.get_tracer("test").start_as_current_span("request") as span:
        assert not span.is_recording()
        assert current_trace_id() is None
    provider.shutdown()


def test_configure_tracing_leaves_the_global_provider_alone() -> None:
    before = trace.get_tracer_provider()
    provider = configure_tracing("brp-broker-test", InMemorySpanExporter())
    assert trace.get_tracer_provider() is before
    provider.shutdown()


def test_request_span_is_named_by_route_and_is_the_current_trace(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported
    seen: list[str | None] = []

    @get("/inzage/{bsn:str}", sync_to_thread=False)
    def inzage(bsn: FromPath[str]) -> dict[str, str]:
        seen.append(current_trace_id())
        return {"ok": "yes"}

    app = Litestar(route_handlers=[inzage])
    app.asgi_handler = CorrelationIdMiddleware(TracingMiddleware(app.asgi_handler, provider))
    with TestClient(app=app) as client:
        response = client.get(f"/inzage/{BSN}", headers={"x-correlation-id": "corr-1"})
    assert response.status_code == 200
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /inzage/{bsn}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/inzage/{bsn}"
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["broker.correlation_id"] == "corr-1"
    assert BSN not in span.to_json()
    assert span.context is not None
    assert seen == [format(span.context.trace_id, "032x")]


def test_a_request_span_of_a_server_error_is_an_error(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported

    @get("/boom", sync_to_thread=False)
    def boom() -> None:
        raise RuntimeError(f"secret detail {BSN}")

    app = Litestar(route_handlers=[boom], debug=False, logging_config=None)
    app.asgi_handler = TracingMiddleware(app.asgi_handler, provider)
    with TestClient(app=app, raise_server_exceptions=False) as client:
        assert client.get("/boom").status_code == 500
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert BSN not in span.to_json()
