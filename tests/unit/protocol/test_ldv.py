"""The mapping of protocol records onto Logboek Dataverwerkingen 1.0.0 lines (`app.protocol.ldv`)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import msgspec
import pytest

from app.brp import PersonRef, PersonRole
from app.protocol import NO_TENANT, ChainedRecord, ProtocolRecord
from app.protocol.chain import chained
from app.protocol.ldv import (
    LdvContext,
    LdvKeyError,
    LdvRecord,
    SubjectKey,
    action_name,
    broker_resource,
    ldv_records,
    ldv_status,
)
from app.protocol.ldv_subjects import PrivateSubjectKeys, generate_private_key, public_jwk

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
CALLER_SPAN = "b7ad6b7169203331"
ACTIVITY = "https://register.example.nl/verwerkingsactiviteiten/burgerzaken"
CALLER = "https://zaaksysteem.example.nl"
BSNS = ("999993653", "999990019", "999991735")

PRIVATE = generate_private_key()
KEY = SubjectKey.from_jwk(public_jwk(PRIVATE))
KEYS = PrivateSubjectKeys.from_json(msgspec.json.encode(PRIVATE))
RESOURCE = broker_resource()
# Not a fixed date that ages: a moment of today, with microseconds, as stored.
ARRIVAL = dt.datetime.now(dt.UTC).replace(microsecond=123_456)


def chained_record(*, seq: int = 42, tenant: str = "amsterdam", **fields: Any) -> ChainedRecord:
    values: dict[str, Any] = {
        "tenant": tenant,
        "occurred_at": ARRIVAL,
        "correlation_id": "c-1",
        "api": "personen",
        "status": 200,
        "latency_ms": 41.7,
        "trace_id": TRACE,
        "span_id": SPAN,
        "parent_span_id": CALLER_SPAN,
        "processing_activity": ACTIVITY,
        "foreign_processor": CALLER,
        "query_type": "RaadpleegMetBurgerservicenummer",
    }
    values.update(fields)
    return msgspec.structs.replace(chained(ProtocolRecord(**values)), seq=seq)


def consulted(*bsns: str) -> tuple[PersonRef, ...]:
    return tuple(PersonRef(bsn, PersonRole.CONSULTED) for bsn in bsns)


def lines_of(record: ChainedRecord, **options: Any) -> list[LdvRecord]:
    return ldv_records(record, subject_key=KEY, resource_attributes=RESOURCE, **options)


def as_json(line: LdvRecord) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(msgspec.json.encode(line))
    return decoded


def test_a_request_without_persons_is_one_line_of_the_interface() -> None:
    (line,) = lines_of(chained_record())
    document = as_json(line)
    assert list(document) == [
        "trace_id",
        "span_id",
        "parent_span_id",
        "status",
        "name",
        "start_time",
        "end_time",
        "resource",
        "attributes",
    ]
    assert document["trace_id"] == TRACE and document["span_id"] == SPAN
    assert document["parent_span_id"] == CALLER_SPAN
    assert document["name"] == "BRP bevraagd: RaadpleegMetBurgerservicenummer (Personen)"
    assert document["resource"] == {"attributes": RESOURCE}
    assert document["attributes"] == {
        "dpl.core.processing_activity_id": ACTIVITY,
        "dpl.core.foreign_operation.processor": CALLER,
    }


def test_times_are_milliseconds_since_the_epoch_from_arrival_to_answer() -> None:
    (line,) = lines_of(chained_record(latency_ms=41.7))
    arrival_ms = int(ARRIVAL.timestamp() * 1000)
    assert line.start_time == arrival_ms
    # 123.456 ms into the second + 41.7 ms = 165.156 ms: the end is in millisecond 165.
    assert line.end_time == arrival_ms - 123 + 165
    assert line.end_time >= line.start_time


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "Ok"),
        (400, "Unset"),
        (401, "Unset"),
        (403, "Unset"),
        (404, "Unset"),
        (429, "Unset"),
        (499, "Unset"),
        (500, "Error"),
        (502, "Error"),
        (503, "Error"),
        (504, "Error"),
    ],
)
def test_status_follows_the_standard(status: int, expected: str) -> None:
    assert ldv_status(status) == expected


def test_an_internal_error_names_its_problem_code_and_nothing_else() -> None:
    (line,) = lines_of(chained_record(status=503, problem_code="protocolUnavailable"))
    assert line.status == "Error"
    assert line.attributes["exception.type"] == "protocolUnavailable"
    assert not {"exception.message", "exception.stacktrace"} & set(line.attributes)


def test_a_refusal_and_a_cancelled_request_carry_no_exception() -> None:
    for status, code in ((403, "unauthorizedField"), (499, "requestCancelled"), (400, "paramsValidation")):
        (line,) = lines_of(chained_record(status=status, problem_code=code))
        assert line.status == "Unset"
        assert "exception.type" not in line.attributes


def test_one_person_is_the_subject_of_the_request_line() -> None:
    (line,) = lines_of(chained_record(persons=consulted(BSNS[0])))
    assert line.span_id == SPAN
    assert line.attributes["dpl.core.data_subject_id_type"] == "BSN"
    token = line.attributes["dpl.core.data_subject_id"]
    assert BSNS[0] not in json.dumps(as_json(line))
    assert KEYS.decrypt(token) == BSNS[0]


def test_several_persons_are_one_child_action_each_under_the_request() -> None:
    record = chained_record(
        persons=tuple(PersonRef(bsn, PersonRole.FOUND) for bsn in BSNS),
        query_type="ZoekMetPostcodeEnHuisnummer",
    )
    request, *children = lines_of(record)
    assert "dpl.core.data_subject_id" not in request.attributes
    assert request.parent_span_id == CALLER_SPAN
    assert len(children) == len(BSNS)
    assert [KEYS.decrypt(child.attributes["dpl.core.data_subject_id"]) for child in children] == list(BSNS)
    for child in children:
        assert child.trace_id == TRACE
        assert child.parent_span_id == SPAN
        assert child.status == request.status
        assert child.name.startswith("Persoon gevonden")
        assert child.attributes["dpl.core.processing_activity_id"] == ACTIVITY
        # The child's parent is the broker's own action, not the caller's.
        assert "dpl.core.foreign_operation.processor" not in child.attributes
    span_ids = {line.span_id for line in (request, *children)}
    assert len(span_ids) == 1 + len(BSNS)


def test_child_span_ids_are_the_same_at_every_mapping() -> None:
    record = chained_record(persons=consulted(*BSNS))
    first = [line.span_id for line in lines_of(record)]
    again = [line.span_id for line in lines_of(record)]
    assert first == again
    # ... and depend on the request's span: another request's children differ.
    other = [line.span_id for line in lines_of(chained_record(persons=consulted(*BSNS), span_id="1" * 16))]
    assert not set(first[1:]) & set(other[1:])


def test_a_caller_span_without_a_known_calling_application_is_no_parent() -> None:
    (line,) = lines_of(chained_record(foreign_processor=None))
    assert line.parent_span_id is None
    assert "parent_span_id" not in as_json(line)
    assert "dpl.core.foreign_operation.processor" not in line.attributes
    assert line.trace_id == TRACE  # the caller's trace is kept


def test_without_a_caller_there_is_no_parent_and_no_processor() -> None:
    (line,) = lines_of(chained_record(parent_span_id=None, foreign_processor=None))
    assert "parent_span_id" not in as_json(line)
    assert set(line.attributes) == {"dpl.core.processing_activity_id"}


def test_a_record_from_before_migration_0016_gets_stable_derived_ids() -> None:
    old = chained_record(span_id=None, parent_span_id=None, processing_activity=None, foreign_processor=None)
    (line,) = lines_of(old)
    assert line.trace_id == TRACE  # it had one
    assert len(line.span_id) == 16 and int(line.span_id, 16) != 0
    assert lines_of(old)[0].span_id == line.span_id
    assert lines_of(msgspec.structs.replace(old, seq=43))[0].span_id != line.span_id
    assert lines_of(msgspec.structs.replace(old, tenant="utrecht"))[0].span_id != line.span_id


def test_a_record_without_a_trace_id_gets_a_derived_trace_and_no_parent() -> None:
    record = chained_record(trace_id=None, span_id=None)
    (line,) = lines_of(record)
    assert len(line.trace_id) == 32 and int(line.trace_id, 16) != 0
    assert line.parent_span_id is None
    assert lines_of(record)[0].trace_id == line.trace_id
    assert lines_of(msgspec.structs.replace(record, seq=43))[0].trace_id != line.trace_id


def test_ids_that_are_not_w3c_ids_are_replaced_by_derived_ones() -> None:
    (line,) = lines_of(chained_record(trace_id="0" * 32, span_id="not-a-span-id!!!"))
    assert line.trace_id != "0" * 32 and len(line.trace_id) == 32
    assert line.span_id != "not-a-span-id!!!" and len(line.span_id) == 16


def test_a_record_without_a_processing_activity_takes_the_tenants_default() -> None:
    record = chained_record(processing_activity=None)
    (line,) = lines_of(record, default_processing_activity="urn:example:default")
    assert line.attributes["dpl.core.processing_activity_id"] == "urn:example:default"
    (without,) = lines_of(record)
    assert "dpl.core.processing_activity_id" not in without.attributes


def test_requests_without_a_tenant_belong_to_no_logboek() -> None:
    assert lines_of(chained_record(tenant=NO_TENANT, status=401)) == []


def test_names_are_human_and_never_empty() -> None:
    assert action_name("bewoning", "BewoningMetPeildatum") == "BRP bevraagd: BewoningMetPeildatum (Bewoning)"
    assert action_name("verblijfplaatshistorie", None) == "BRP bevraagd (Verblijfplaatshistorie)"
    assert action_name("inzage", None) == "Inzage in het BRP-protocol"
    assert action_name("protocol-export", None) == "BRP-protocol geëxporteerd"
    assert action_name("iets-nieuws", None).strip()


def test_only_dpl_core_and_exception_attributes_are_used() -> None:
    record = chained_record(persons=consulted(*BSNS), status=500, problem_code="serverError")
    allowed = {
        "dpl.core.processing_activity_id",
        "dpl.core.data_subject_id",
        "dpl.core.data_subject_id_type",
        "dpl.core.foreign_operation.processor",
        "exception.type",
    }
    for line in lines_of(record):
        assert set(line.attributes) <= allowed


def test_the_context_of_a_tenant_without_a_subject_key_is_refused() -> None:
    from app.tenancy.models import LdvSettings

    with pytest.raises(LdvKeyError, match="subject_key"):
        LdvContext.for_tenant(LdvSettings(processing_activity=ACTIVITY))
    context = LdvContext.for_tenant(
        LdvSettings(processing_activity=ACTIVITY, subject_key=public_jwk(generate_private_key()))
    )
    (line,) = context.lines(chained_record(processing_activity=None))
    assert line.attributes["dpl.core.processing_activity_id"] == ACTIVITY
