"""Telemetry: Prometheus metrics (`BrokerMetrics`, `GET /metrics`) and OpenTelemetry tracing.

Domain-free infrastructure: it knows tenants, afnemers and APIs only as identifiers to label by.
It owns the rule that no person data reaches a metric or a trace: label values must have the
shape of their kind and can never hold nine digits (`labels.py`); spans are scrubbed before they
are exported and asyncpg spans never carry SQL parameters (`tracing.py`). It never takes a
request body, a response body, a header value (but W3C `traceparent`), a token, a name or a BSN.

Everything is per app: the lifespan creates the `BrokerMetrics` (with its own registry);
`create_app` creates a `TracerProvider` only when it is given an exporter, and the lifespan flushes
it; nothing here registers anything globally. `BrokerTracer` opens the data path's
spans; `otlp_export_from_environment` reads the standard `OTEL_*` variables for `serve`.
"""

from __future__ import annotations

from app.telemetry.labels import INVALID, NO_VALUE, LabelKind, clean_label
from app.telemetry.metrics import (
    LATENCY_BUCKETS,
    MULTIPROCESS_DIR,
    STATE_KEY,
    BrokerMetrics,
    KeyKind,
    MetricsController,
    TokenOutcome,
    TransportFailure,
    shared_between_processes,
)
from app.telemetry.middleware import TracingMiddleware
from app.telemetry.otlp import OtlpExport, TracingConfigError, otlp_export_from_environment
from app.telemetry.spans import BrokerTracer, TracedRecorder, http_outcome
from app.telemetry.tracing import (
    ProcessingIds,
    ScrubbingSpanExporter,
    caller_span_context,
    configure_tracing,
    current_trace_id,
    current_traceparent,
    instrument_asyncpg,
    processing_ids,
)

__all__ = [
    "INVALID",
    "LATENCY_BUCKETS",
    "MULTIPROCESS_DIR",
    "NO_VALUE",
    "STATE_KEY",
    "BrokerMetrics",
    "BrokerTracer",
    "KeyKind",
    "LabelKind",
    "MetricsController",
    "OtlpExport",
    "ProcessingIds",
    "ScrubbingSpanExporter",
    "TokenOutcome",
    "TracedRecorder",
    "TracingConfigError",
    "TracingMiddleware",
    "TransportFailure",
    "caller_span_context",
    "clean_label",
    "configure_tracing",
    "current_trace_id",
    "current_traceparent",
    "http_outcome",
    "instrument_asyncpg",
    "otlp_export_from_environment",
    "processing_ids",
    "shared_between_processes",
]
