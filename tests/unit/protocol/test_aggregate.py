"""Aggregates: refused requests of one kind counted into one record, exactly, without losing any."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
import pytest

from app.brp import PersonRef, PersonRole
from app.protocol import ProtocolRecord
from app.protocol.aggregate import Aggregate, aggregation_key
from app.protocol.chain import ChainedRecord, chained

_START = dt.datetime.now(dt.UTC)


def _refused(
    seconds: float = 0.0, *, api: str = "personen", status: int = 401, **fields: object
) -> ChainedRecord:
    return chained(
        ProtocolRecord(
            tenant="",
            occurred_at=_START + dt.timedelta(seconds=seconds),
            correlation_id=str(uuid.uuid4()),
            api=api,
            status=status,
            latency_ms=1.0 + seconds,
            trace_id=uuid.uuid4().hex,
            span_id=uuid.uuid4().hex[:16],
            parent_span_id=uuid.uuid4().hex[:16],
            problem_code="authentication",
            **fields,  # type: ignore[arg-type]
        )
    )


def test_requests_that_differ_only_in_their_own_ids_times_and_latency_share_a_key() -> None:
    assert aggregation_key(_refused(0)) == aggregation_key(_refused(5))
    assert aggregation_key(_refused(api="bewoning")) != aggregation_key(_refused())
    assert aggregation_key(_refused(status=400)) != aggregation_key(_refused())
    assert aggregation_key(_refused(subject="x")) != aggregation_key(_refused())


def test_a_record_about_persons_is_never_merged() -> None:
    persons = (PersonRef("999993653", PersonRole.CONSULTED),)
    assert aggregation_key(_refused(persons=persons)) != aggregation_key(_refused(persons=persons))


def test_an_aggregate_of_one_is_that_request_s_own_record() -> None:
    alone = _refused(3)
    assert Aggregate(alone, max_ids=10).record() == alone


def test_an_aggregate_counts_every_request_and_spans_their_arrivals() -> None:
    # Records reach the lane in any order; the range is that of their arrivals at the broker.
    arrivals = [_refused(s) for s in (2.0, 0.5, 4.0, 1.0)]
    aggregate = Aggregate(arrivals[0], max_ids=10)
    for entry in arrivals[1:]:
        aggregate.add(entry)

    stored = aggregate.record()

    assert stored.request_count == 4
    assert (stored.occurred_at, stored.last_occurred_at) == (
        _START + dt.timedelta(seconds=0.5),
        _START + dt.timedelta(seconds=4),
    )
    assert stored.correlation_id == arrivals[0].correlation_id
    assert stored.correlation_ids == tuple(e.correlation_id for e in arrivals[1:])
    assert stored.latency_ms == 5.0  # the longest
    # One request's trace and spans cannot stand for four requests.
    assert stored.trace_id is stored.span_id is stored.parent_span_id is None
    # Everything else is the kind's: api, status, problem code, no caller, no person.
    assert (
        msgspec.structs.replace(
            stored,
            occurred_at=arrivals[0].occurred_at,
            trace_id=arrivals[0].trace_id,
            span_id=arrivals[0].span_id,
            parent_span_id=arrivals[0].parent_span_id,
            latency_ms=arrivals[0].latency_ms,
            request_count=1,
            last_occurred_at=None,
            correlation_ids=(),
        )
        == arrivals[0]
    )


@pytest.mark.parametrize(("count", "max_ids"), [(1, 1), (2, 1), (50, 5), (5, 50)])
def test_correlation_ids_beyond_max_ids_are_counted_not_listed(count: int, max_ids: int) -> None:
    entries = [_refused(i) for i in range(count)]
    aggregate = Aggregate(entries[0], max_ids=max_ids)
    for entry in entries[1:]:
        aggregate.add(entry)

    stored = aggregate.record()

    assert stored.request_count == aggregate.count == count
    assert 1 + len(stored.correlation_ids) == aggregate.listed == min(count, max_ids)
    assert [stored.correlation_id, *stored.correlation_ids] == [e.correlation_id for e in entries][
        : min(count, max_ids)
    ]


def test_max_ids_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_ids"):
        Aggregate(_refused(), max_ids=0)
