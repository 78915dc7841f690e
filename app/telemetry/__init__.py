"""Telemetry: Prometheus metrics (`BrokerMetrics`, `GET /metrics`) and OpenTelemetry tracing.

Domain-free infrastructure: it knows tenants, afnemers and APIs only as identifiers to label by.
It owns the rule that no person data reaches a metric or a trace: label values must have the
shape of their kind and can never hold nine digits (`labels.py`); spans are scrubbed before they
are exported and asyncpg spans never carry SQL parameters (`tracing.py`). It never takes a
request body, a response body, a header value, a token, a name or a BSN.

Everything is per app: the lifespan creates the `BrokerMetrics` (with its own registry) and the
`TracerProvider`; nothing here registers anything globally unless `serve` asks for it.
"""

from __future__ import annotations

from app.telemetry.labels import INVALID, NO_VALUE, LabelKind, clean_label
from app.telemetry.metrics import (
    LATENCY_BUCKETS,
    STATE_KEY,
    BrokerMetrics,
    KeyKind,
    MetricsController,
    TokenOutcome,
    TransportFailure,
)
from app.telemetry.middleware import TracingMiddleware
from app.telemetry.tracing import (
    ScrubbingSpanExporter,
    configure_tracing,
    current_trace_id,
    instrument_asyncpg,
)

__all__ = [
    "INVALID",
    "LATENCY_BUCKETS",
    "NO_VALUE",
    "STATE_KEY",
    "BrokerMetrics",
    "KeyKind",
    "LabelKind",
    "MetricsController",
    "ScrubbingSpanExporter",
    "TokenOutcome",
    "TracingMiddleware",
    "TransportFailure",
    "clean_label",
    "configure_tracing",
    "current_trace_id",
    "instrument_asyncpg",
]
