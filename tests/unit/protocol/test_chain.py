"""The canonical form a record's hash covers: stable for every record ever written."""

from __future__ import annotations

import datetime as dt

import msgspec

from app.brp import PersonRef, PersonRole
from app.protocol import NO_TENANT, ProtocolRecord
from app.protocol.chain import ChainedRecord, chained, genesis_hash, link_hash, record_digest

# The moment IS what is tested: it is part of the golden hashes below (chains written before
# migration 0009 must verify as they did); nothing here touches a partition, so it never ages.
_MOMENT = dt.datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=dt.UTC)
_RECORDED = dt.datetime(2025, 3, 4, 5, 6, 8, tzinfo=dt.UTC)


def _granted() -> ChainedRecord:
    granted = ProtocolRecord(
        tenant="gemeente-a",
        occurred_at=_MOMENT,
        correlation_id="c-1",
        api="personen",
        status=200,
        latency_ms=12.5,
        trace_id="ab" * 16,
        subject="sub",
        employee="E1",
        client_application="app",
        afnemer_id="000001",
        environment="proef",
        doelbinding="BRPACT",
        verwerking="v@w",
        origin_oin="0" * 20,
        query_type="RaadpleegMetBurgerservicenummer",
        search_parameters={"burgerservicenummer": ["999993653"]},
        requested_fields=("naam",),
        sent_fields=("naam", "burgerservicenummer"),
        persons=(PersonRef("999993653", PersonRole.CONSULTED),),
    )
    return msgspec.structs.replace(chained(granted), seq=1, recorded_at=_RECORDED)


def _refused() -> ChainedRecord:
    refused = ProtocolRecord(
        tenant="",
        occurred_at=_MOMENT.replace(microsecond=0),
        correlation_id="c-2",
        api="bewoning",
        status=401,
        latency_ms=0.25,
        problem_code="authentication",
    )
    return msgspec.structs.replace(chained(refused), seq=7, recorded_at=_RECORDED)


def test_a_record_of_one_request_hashes_exactly_as_before_aggregates_existed() -> None:
    # Hashes computed by the code before migration 0009: every existing chain must still verify.
    granted, refused = _granted(), _refused()
    assert link_hash(genesis_hash("gemeente-a"), granted).hex() == (
        "c3b9a458f90baea160162f1817ad5ebd6f068b8df7b9ea2cd88273d1640fcc49"
    )
    assert link_hash(genesis_hash(NO_TENANT), refused).hex() == (
        "494da78783247c49b97908b69a6cb5ac0b199a1829e98bff01b48819faba3505"
    )
    assert b"request_count" not in granted.canonical()


def test_every_field_of_an_aggregate_is_in_its_hash() -> None:
    aggregate = msgspec.structs.replace(
        _refused(),
        request_count=3,
        last_occurred_at=_MOMENT + dt.timedelta(seconds=1),
        correlation_ids=("c-3", "c-4"),
    )
    prev = genesis_hash(NO_TENANT)
    base = link_hash(prev, aggregate)
    for changed in (
        msgspec.structs.replace(aggregate, request_count=4),
        msgspec.structs.replace(aggregate, request_count=1),
        msgspec.structs.replace(aggregate, last_occurred_at=_MOMENT + dt.timedelta(seconds=2)),
        msgspec.structs.replace(aggregate, last_occurred_at=None),
        msgspec.structs.replace(aggregate, correlation_ids=("c-3",)),
        msgspec.structs.replace(aggregate, correlation_ids=()),
    ):
        assert link_hash(prev, changed) != base


def test_only_the_aggregate_and_ldv_fields_have_defaults() -> None:
    # A default is left out of the canonical form; a default on any other field would let a stored
    # value and its absence hash alike, and would change the hash of records already written.
    defaults = {field.name for field in msgspec.structs.fields(ChainedRecord) if not field.required}
    assert defaults == {"request_count", "last_occurred_at", "correlation_ids", *_LDV_FIELDS}


_LDV_FIELDS = ("span_id", "parent_span_id", "processing_activity", "foreign_processor")


def test_a_record_without_ldv_context_keeps_its_digest() -> None:
    # Format 2 digests of records written before migration 0016 (their canonical bytes are those
    # the format 1 golden hashes above pin down): the LDV fields, all None, are not encoded.
    granted, refused = _granted(), _refused()
    assert record_digest(granted).hex() == "96cf5d534db76d1032c42c1ec6f7a88de9c5240a60ea18cac80890d5f143af8c"
    assert record_digest(refused).hex() == "49e7b3dea05c199bff101ce16c432b9f4979773a81940bd212a59bd7f2f0996f"
    for name in _LDV_FIELDS:
        assert name.encode() not in granted.canonical()


def test_every_ldv_field_is_in_the_digest() -> None:
    context = msgspec.structs.replace(
        _granted(),
        span_id="0123456789abcdef",
        parent_span_id="fedcba9876543210",
        processing_activity="https://register.example/verwerkingsactiviteiten/1",
        foreign_processor="https://caller.example",
    )
    base = record_digest(context)
    assert base != record_digest(_granted())
    for name in _LDV_FIELDS:
        assert record_digest(msgspec.structs.replace(context, **{name: None})) != base
        assert record_digest(msgspec.structs.replace(context, **{name: "other"})) != base


def test_chained_copies_the_ldv_context_of_the_record() -> None:
    record = ProtocolRecord(
        tenant="gemeente-a",
        occurred_at=_MOMENT,
        correlation_id="c-3",
        api="personen",
        status=200,
        latency_ms=1.0,
        span_id="0123456789abcdef",
        parent_span_id="fedcba9876543210",
        processing_activity="urn:example:verwerking:1",
        foreign_processor="https://caller.example",
    )
    stored = chained(record)
    assert [getattr(stored, name) for name in _LDV_FIELDS] == [getattr(record, name) for name in _LDV_FIELDS]
