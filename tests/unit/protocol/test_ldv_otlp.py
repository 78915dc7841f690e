"""LDV lines as OTLP spans (`otlp_request`): what a Logboek behind OTLP/HTTP receives."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from app.brp import PersonRef, PersonRole
from app.protocol.ldv import LDV_VERSION
from app.protocol.ldv_delivery import _retry_after, otlp_request
from tests.unit.protocol.test_ldv import BSNS, CALLER, CALLER_SPAN, SPAN, TRACE, chained_record, lines_of


def decoded(body: bytes) -> tuple[dict[str, Any], Any, list[Any]]:
    message = ExportTraceServiceRequest()
    message.ParseFromString(body)
    (resource_spans,) = message.resource_spans
    resource = {pair.key: pair.value.string_value for pair in resource_spans.resource.attributes}
    (scope_spans,) = resource_spans.scope_spans
    return resource, scope_spans.scope, list(scope_spans.spans)


def attributes(span: Any) -> dict[str, str]:
    return {pair.key: pair.value.string_value for pair in span.attributes}


def test_every_line_is_a_span_with_the_same_ids_times_status_and_attributes() -> None:
    record = chained_record(persons=tuple(PersonRef(bsn, PersonRole.FOUND) for bsn in BSNS))
    lines = lines_of(record)
    resource, scope, spans = decoded(otlp_request(lines))
    assert resource == {"service.name": "brp-broker", "service.version": resource["service.version"]}
    assert scope.name == "brp-broker/ldv" and scope.version == LDV_VERSION
    assert len(spans) == len(lines)
    for line, span in zip(lines, spans, strict=True):
        assert span.trace_id.hex() == line.trace_id
        assert span.span_id.hex() == line.span_id
        assert span.parent_span_id.hex() == (line.parent_span_id or "")
        assert span.name == line.name
        assert span.start_time_unix_nano == line.start_time * 1_000_000
        assert span.end_time_unix_nano == line.end_time * 1_000_000
        assert span.status.code == Status.STATUS_CODE_OK
        assert attributes(span) == line.attributes
    request, *children = spans
    assert request.parent_span_id.hex() == CALLER_SPAN
    assert attributes(request)["dpl.core.foreign_operation.processor"] == CALLER
    assert request.kind == Span.SPAN_KIND_SERVER
    # The caller's span is in another application: marked remote.
    assert request.flags & 0x200
    for child in children:
        assert child.trace_id.hex() == TRACE and child.parent_span_id.hex() == SPAN
        assert child.kind == Span.SPAN_KIND_INTERNAL
        assert not child.flags & 0x200


def test_status_codes_are_otlps() -> None:
    for status, code in (
        (200, Status.STATUS_CODE_OK),
        (403, Status.STATUS_CODE_UNSET),
        (502, Status.STATUS_CODE_ERROR),
    ):
        (_resource, _scope, (span,)) = decoded(otlp_request(lines_of(chained_record(status=status))))
        assert span.status.code == code
        assert span.status.message == ""


def test_a_retry_after_of_odd_digits_is_no_wait_rather_than_a_defect() -> None:
    # "²" passes str.isdigit() but not float(): an odd Logboek answer must stay a status failure.
    assert _retry_after("²") is None
    assert _retry_after(" 7 ") == 7.0
    assert _retry_after(None) is None
