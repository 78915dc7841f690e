"""`ProtocolRecord`: what the Wet BRP (art. 3.11) requires to be recorded about one request.

Who (tenant, member organisation, employee, application), when, why (doelbinding, verwerking),
for which afnemer, what was asked (API, type, parameters as sent to RvIG, fields), what came of it
(status, problem code, latency) and about whom (each BSN, found in a search or consulted); and
what Logboek Dataverwerkingen derives its records from later: the trace and span ids of the
request, the caller's span, the processing activity and the calling organisation.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from app.brp import PersonRef

__all__ = ["ProtocolRecord"]


class ProtocolRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One request that reached the broker's pipeline, granted or denied."""

    tenant: str
    occurred_at: dt.datetime
    correlation_id: str
    api: str
    status: int
    latency_ms: float
    member_organisation: str | None = None
    trace_id: str | None = None
    subject: str | None = None
    employee: str | None = None
    client_application: str | None = None
    afnemer_id: str | None = None
    environment: str | None = None
    doelbinding: str | None = None
    verwerking: str | None = None
    origin_oin: str | None = None
    query_type: str | None = None
    search_parameters: dict[str, object] = msgspec.field(default_factory=dict)
    requested_fields: tuple[str, ...] = ()
    sent_fields: tuple[str, ...] = ()
    problem_code: str | None = None
    persons: tuple[PersonRef, ...] = ()
    # Logboek Dataverwerkingen: the broker's span of the request, the caller's span (from a valid
    # W3C `traceparent`), the processing activity's URI and the calling organisation's URI.
    span_id: str | None = None
    parent_span_id: str | None = None
    processing_activity: str | None = None
    foreign_processor: str | None = None
