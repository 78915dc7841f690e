"""Aggregates: many refused requests without a tenant, accounted for in one protocol record.

A request refused before its tenant was known (401, or 400 for a malformed `x-*` header) carries
nothing of a caller: an API, a status, a problem code, its arrival, its correlation, trace and
span ids, its latency. Requests that agree on everything but those per-request fields (`aggregation_key`)
are counted into one `Aggregate`, which becomes one record (`ChainedRecord`) stating:

- `request_count`                   how many requests it stands for (exact);
- `occurred_at` .. `last_occurred_at`  when the first and the last of them arrived;
- `correlation_id`, `correlation_ids`  the first one's id and those of the next ones, at most
                                    `max_ids` in all: the rest are counted, not listed;
- `latency_ms`                      the longest of their latencies; `trace_id`, `span_id` and
                                    `parent_span_id` are left empty.

An aggregate of one request is exactly that request's own record, so a lone 401 is stored and
hashed as it always was. A record that names persons is never merged with another (inzage lists
each request); no request without a tenant ever has one.

Pure and synchronous: no I/O, no clock. Never logs anything.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import msgspec

from app.protocol.chain import ChainedRecord

__all__ = ["Aggregate", "aggregation_key"]

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def aggregation_key(entry: ChainedRecord) -> ChainedRecord:
    """What requests must share to be counted in one record: all but their per-request fields."""
    if entry.persons:
        return entry
    return msgspec.structs.replace(
        entry,
        occurred_at=_EPOCH,
        correlation_id="",
        trace_id=None,
        span_id=None,
        parent_span_id=None,
        latency_ms=0.0,
    )


class Aggregate:
    """Requests of one `aggregation_key`, counted on their way to one record."""

    __slots__ = ("_earliest", "_first", "_ids", "_latest", "_longest", "_max_ids", "count")

    def __init__(self, first: ChainedRecord, max_ids: int) -> None:
        if max_ids < 1:
            raise ValueError("max_ids must be positive")
        self._first = first
        self._max_ids = max_ids
        self._earliest = first.occurred_at
        self._latest = first.occurred_at
        self._longest = first.latency_ms
        self._ids: list[str] = []
        self.count = 1

    @property
    def listed(self) -> int:
        """How many of the requests' correlation ids the record lists."""
        return 1 + len(self._ids)

    def add(self, entry: ChainedRecord) -> None:
        """Count one more request of the same key (the caller checked the key)."""
        self.count += 1
        self._earliest = min(self._earliest, entry.occurred_at)
        self._latest = max(self._latest, entry.occurred_at)
        self._longest = max(self._longest, entry.latency_ms)
        if len(self._ids) + 1 < self._max_ids:
            self._ids.append(entry.correlation_id)

    def record(self) -> ChainedRecord:
        """The record that accounts for every request counted so far (not yet numbered)."""
        if self.count == 1:
            return self._first
        return msgspec.structs.replace(
            self._first,
            occurred_at=self._earliest,
            trace_id=None,
            span_id=None,
            parent_span_id=None,
            latency_ms=self._longest,
            request_count=self.count,
            last_occurred_at=self._latest,
            correlation_ids=tuple(self._ids),
        )
