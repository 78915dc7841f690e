"""`AnonymousLane`: the protocol of requests refused before a tenant was known, kept apart.

A request whose tenant is not known (a 401 for a missing or bad token, a 400 for a malformed
`x-*` header) is protocolled under `NO_TENANT` like every other, but a flood of them must never
slow down a tenant's protocol. So they never enter the tenants' writer: this lane counts them into
`Aggregate`s (`app.protocol.aggregate`: one record per api, status, problem code, with the exact
count, the time range and the first `max_ids` correlation ids) and commits those in a transaction
of its own, on a connection of its own (taken from the pool per commit, not held).

- **Tenants never wait for it.** Nothing of this lane is in the tenants' queue, batches,
  transactions or chain heads; it has no queue to fill (a request adds one to a counter) and it
  never holds the tenants' writer's connection.
- **Bounded cost.** At most one commit per `interval` (the first after a quiet spell at once), of
  at most `max_records` records, however many requests arrive: a flood costs the database a few
  rows a second, and each stored record lists at most `max_ids` correlation ids.
- **Nothing unprotocolled.** The writer's `record()` returns only after the commit of the
  aggregate that counts the request (that wait is the flood's back-pressure), or raises
  `ProblemError` 503: the count is never answered before it is durable, and never dropped.
  A caller that gives up does not withdraw its count. `stop()` commits what is pending.
- A commit that fails on data (SQLSTATE class 22/23) is retried record by record, so one bad
  aggregate costs only its own requests. After any failure the next commit starts afresh.

Never logs a record, an error message or detail: only counts, error class names and SQLSTATEs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from itertools import islice
from typing import Final

import asyncpg
import msgspec
import structlog

from app.protocol.access import Connection
from app.protocol.aggregate import Aggregate, aggregation_key
from app.protocol.append import HeldConnection, is_record_specific, protocol_unavailable, write_batch
from app.protocol.chain import ChainedRecord

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_MAX_IDS",
    "DEFAULT_MAX_RECORDS",
    "AnonymousLane",
    "LaneStats",
]

_log = structlog.get_logger("app.protocol.anonymous")

# Seconds between the starts of two commits: at most ten commits a second under a flood; a lone
# 401 after a quiet spell is committed at once.
DEFAULT_INTERVAL: Final = 0.1
# Correlation ids one record lists: at most ~1 000 a second per kind of refusal under a flood.
DEFAULT_MAX_IDS: Final = 100
# Records per commit; more distinct kinds than this wait for the next commit.
DEFAULT_MAX_RECORDS: Final = 100
# Callers answered at a time after a commit, before the event loop may serve others (tenants).
_WAKE_SLICE: Final = 64


class LaneStats(msgspec.Struct, frozen=True):
    """What the lane did so far, in requests (as counted into records) and records."""

    # Requests taken in by `record()`, whatever became of them.
    accepted: int = 0
    # Requests counted in committed records, and those records (and the commits holding them).
    requests: int = 0
    records: int = 0
    flushes: int = 0
    # Requests counted in committed records whose correlation id the record does not list.
    unlisted: int = 0
    # Requests whose record could not be committed (their callers got 503), and failed commits.
    failed_requests: int = 0
    failed_flushes: int = 0


class _Open:
    """An aggregate still taking requests, and the futures its callers wait on."""

    __slots__ = ("aggregate", "waiters")

    def __init__(self, aggregate: Aggregate) -> None:
        self.aggregate = aggregate
        # One per caller (True: committed, False: failed), so a caller that gives up cancels only
        # its own wait, never the others', and never withdraws its count.
        self.waiters: list[asyncio.Future[bool]] = []


class AnonymousLane:
    """Aggregates and commits the records of requests without a tenant; see the module docstring.

    Started and stopped by `ProtocolWriter`, which hands it every record under `NO_TENANT`.
    """

    __slots__ = (
        "_accepted",
        "_arrived",
        "_closed",
        "_connection",
        "_interval",
        "_max_ids",
        "_max_records",
        "_next_flush",
        "_on_flush",
        "_pending",
        "_stats",
        "_stopping",
        "_task",
    )

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        timeout: float,
        interval: float = DEFAULT_INTERVAL,
        max_ids: int = DEFAULT_MAX_IDS,
        max_records: int = DEFAULT_MAX_RECORDS,
        on_flush: Callable[[int, int, bool], None] | None = None,
    ) -> None:
        if interval < 0 or max_ids < 1 or max_records < 1:
            raise ValueError("interval must not be negative; max_ids and max_records must be positive")
        self._connection = HeldConnection(pool, timeout)
        self._interval = interval
        self._max_ids = max_ids
        self._max_records = max_records
        # Told (requests, records, committed) after every commit: the metrics hook.
        self._on_flush = on_flush or (lambda _requests, _records, _ok: None)
        self._pending: dict[ChainedRecord, _Open] = {}
        self._arrived = asyncio.Event()
        self._stopping = asyncio.Event()
        self._next_flush = 0.0
        self._closed = True
        self._task: asyncio.Task[None] | None = None
        self._stats = LaneStats()
        # Counted apart from `_stats`: it moves with every request, the rest with every commit.
        self._accepted = 0

    def stats(self) -> LaneStats:
        """A snapshot of the counters."""
        return msgspec.structs.replace(self._stats, accepted=self._accepted)

    def start(self) -> None:
        """Start committing what arrives."""
        if self._task is not None:
            return
        self._closed = False
        self._stopping.clear()
        self._task = asyncio.create_task(self._drain(), name="protocol-anonymous-lane")

    async def stop(self) -> None:
        """Refuse new requests, commit everything pending at once, and end the task."""
        if self._task is None:
            return
        self._closed = True
        self._stopping.set()
        self._arrived.set()
        try:
            await self._task
        finally:
            self._task = None
            await self._connection.release()

    def count(self, entry: ChainedRecord) -> asyncio.Future[bool]:
        """Count `entry` in; the future is True once a committed record counts it, False if none can.

        Raises `ProblemError` 503 at once when the lane is stopped. A caller that gives up
        (cancels its wait) cancels only its own future: its count stays. (Not a coroutine: a
        waiting request holds one future and no frame of its own; floods keep thousands waiting.)
        """
        if self._closed or self._task is None:
            raise protocol_unavailable()
        key = aggregation_key(entry)
        open_ = self._pending.get(key)
        if open_ is None:
            open_ = self._pending[key] = _Open(Aggregate(entry, self._max_ids))
        else:
            open_.aggregate.add(entry)
        self._accepted += 1
        self._arrived.set()
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        open_.waiters.append(waiter)
        return waiter

    async def _drain(self) -> None:
        try:
            while True:
                await self._arrived.wait()
                await self._pace()
                self._arrived.clear()
                batch = self._take()
                if batch:
                    await self._flush(batch)
                if self._pending:
                    self._arrived.set()  # more kinds than one commit takes: go on
                elif self._closed:
                    return
        finally:
            # Only reached with aggregates left when the task is cancelled: their callers get 503.
            self._settle(list(self._pending.values()), committed=False)
            self._pending.clear()

    async def _pace(self) -> None:
        """Wait until `interval` has passed since the last commit started (not when stopping)."""
        delay = self._next_flush - time.monotonic()
        if delay > 0 and not self._closed:
            try:
                async with asyncio.timeout(delay):
                    await self._stopping.wait()
            except TimeoutError:
                pass
        self._next_flush = time.monotonic() + self._interval

    def _take(self) -> list[_Open]:
        if len(self._pending) <= self._max_records:
            batch, self._pending = list(self._pending.values()), {}
            return batch
        keys = list(islice(self._pending, self._max_records))
        return [self._pending.pop(key) for key in keys]

    async def _flush(self, batch: list[_Open]) -> None:
        entries = [open_.aggregate.record() for open_ in batch]
        try:
            await self._connection.run(lambda connection: _commit(connection, entries))
        except asyncio.CancelledError:
            self._settle(batch, committed=False)
            raise
        except Exception as error:
            self._stats = msgspec.structs.replace(self._stats, failed_flushes=self._stats.failed_flushes + 1)
            if len(batch) > 1 and is_record_specific(error):
                # Most likely one record's fault (e.g. its month has no partition): isolate it.
                for index, open_ in enumerate(batch):
                    try:
                        await self._flush([open_])
                    except asyncio.CancelledError:
                        self._settle(batch[index + 1 :], committed=False)
                        raise
                return
            _log.error(
                "protocol_anonymous_write_failed",
                records=len(batch),
                requests=sum(open_.aggregate.count for open_ in batch),
                error=type(error).__name__,
                sqlstate=getattr(error, "sqlstate", None),
            )
            self._settle(batch, committed=False)
            return
        self._count(batch, committed=True)
        await _wake(batch)
        # Not held between commits (a failed one has handed it back already): the lane is idle
        # most of the time, and the pool serves others.
        await self._connection.release()

    def _settle(self, batch: list[_Open], *, committed: bool) -> None:
        """Count `batch` and answer all of its callers at once (failures, stop)."""
        if not batch:
            return
        for open_ in batch:
            for waiter in open_.waiters:
                if not waiter.done():  # its caller gave up; the count stands all the same
                    waiter.set_result(committed)
        self._count(batch, committed=committed)

    def _count(self, batch: list[_Open], *, committed: bool) -> None:
        requests = sum(open_.aggregate.count for open_ in batch)
        stats = self._stats
        if committed:
            self._stats = msgspec.structs.replace(
                stats,
                requests=stats.requests + requests,
                records=stats.records + len(batch),
                flushes=stats.flushes + 1,
                unlisted=stats.unlisted + requests - sum(open_.aggregate.listed for open_ in batch),
            )
        else:
            self._stats = msgspec.structs.replace(stats, failed_requests=stats.failed_requests + requests)
        self._on_flush(requests, len(batch), committed)


async def _wake(batch: list[_Open]) -> None:
    """Answer the callers of committed records a slice at a time, letting the loop run between.

    A flood's commit answers thousands of callers at once; a slice at a time, a tenant's request
    that becomes ready meanwhile waits behind one slice, not behind all of them.
    """
    waiters = [waiter for open_ in batch for waiter in open_.waiters]
    try:
        for start in range(0, len(waiters), _WAKE_SLICE):
            if start:
                await asyncio.sleep(0)
            for waiter in waiters[start : start + _WAKE_SLICE]:
                if not waiter.done():  # its caller gave up; the count stands all the same
                    waiter.set_result(True)
    finally:
        # Cancelled midway (stop): the rest are committed all the same.
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(True)


async def _commit(connection: Connection, entries: list[ChainedRecord]) -> None:
    await write_batch(connection, entries, dt.datetime.now(dt.UTC))
