"""`ProtocolWriter`: commits every request's protocol record before the request may answer.

Group commit: `record()` puts the record on a queue and waits. One task drains the queue: it takes
everything that is waiting (up to `max_batch`), writes it in ONE transaction and resolves every
waiter only after COMMIT returned. While a batch commits, the next one gathers, so under load the
commit cost is shared by many requests; when idle a record is written on its own at once.

A batch is one statement, however many tenants it spans: `write_batch` (`app.protocol.append`)
hands it to `broker.protocol_append_linked`, which locks the heads of the batch's tenants in
sorted order (two writers' batches never deadlock), links each tenant's records onto its head,
inserts them with their persons and moves the heads; the statement commits on its own. So one
round trip per batch, and a head is locked only while the database works on it and flushes the
commit: N writers (workers, replicas) appending for the same tenant never wait on each other's
round trips (they do take turns per flush: a record may only link to a committed one). The
function runs as the runtime role and sets `app.tenant_id` per tenant before touching its rows, so
the fail-closed policies hold for every row.

The guarantee: `record()` returns only after its record is committed; otherwise it raises
`ProblemError` 503 (`protocolUnavailable`) — when the database is down or slow (timeout), the
insert fails, the record's month has no partition, the queue is full or the writer is stopped. A
record is never dropped silently. (A 503 after a COMMIT whose answer was lost can leave a record
for a request that got no data; the reverse cannot happen.) After a failure the next batch starts
on a fresh attempt, so the writer recovers as soon as the database does. A batch failing on data
(SQLSTATE class 22/23, e.g. a missing partition) is retried record by record, so one bad record
costs only its own request.

Requests without a tenant (`NO_TENANT`: refused before the caller was known) never enter this
queue: they go to the `AnonymousLane` (`app.protocol.anonymous`), which counts them into aggregate
records and commits those in transactions of its own. So a flood of 401s never fills the queue,
never enlarges a batch, never lengthens a tenant's transaction and never locks a head a tenant's
batch needs; `record()` gives such requests the same guarantee (committed, or 503).

Never logs a record, an error message or an error detail (they can hold BSNs and search
parameters): only counts, error class names and SQLSTATEs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from typing import Final, TypeAlias

import asyncpg
import msgspec
import structlog

from app.protocol.access import Connection
from app.protocol.anonymous import (
    DEFAULT_INTERVAL,
    DEFAULT_MAX_IDS,
    DEFAULT_MAX_RECORDS,
    AnonymousLane,
    LaneStats,
)
from app.protocol.append import (
    Head,
    HeldConnection,
    is_record_specific,
    protocol_unavailable,
    write_batch,
)
from app.protocol.chain import NO_TENANT, ChainedRecord, chained
from app.protocol.partitions import DEFAULT_MONTHS_AHEAD, ensure_partitions
from app.protocol.record import ProtocolRecord

__all__ = ["Head", "ProtocolWriter", "WriterStats", "write_batch"]

_log = structlog.get_logger("app.protocol.writer")

_Pending: TypeAlias = tuple[ChainedRecord, "asyncio.Future[None]"]

# A partition check that failed is tried again this much sooner than the regular interval.
_PARTITION_RETRY_SECONDS: Final = 60.0


class WriterStats(msgspec.Struct, frozen=True):
    """What a writer did so far: committed transactions and records, and failures (callers got 503)."""

    # Records taken in by `record()` (queued for a batch), whatever became of them.
    accepted: int = 0
    batches: int = 0
    records: int = 0
    failed_batches: int = 0
    failed_records: int = 0
    largest_batch: int = 0
    # Requests without a tenant: counted and committed apart, by the anonymous lane.
    anonymous: LaneStats = msgspec.field(default_factory=LaneStats)


class ProtocolWriter:
    """Group-committing writer of protocol records; the `Protocoller` of the gateway pipeline.

    `start()` in the app's lifespan (after the pool), `stop()` before the pool closes: it writes
    what is queued and then refuses new records with 503. Holds one connection of the pool while
    running, and its anonymous lane one more while it commits (size the pool for them).

    `anonymous_interval`, `anonymous_max_ids` and `anonymous_max_records` bound the anonymous
    lane (see `app.protocol.anonymous`); `on_anonymous(requests, records, committed)` is told of
    each of its commits.
    """

    __slots__ = (
        "_anonymous",
        "_clock",
        "_closed",
        "_connection",
        "_max_batch",
        "_max_pending",
        "_months_ahead",
        "_next_partition_check",
        "_on_batch",
        "_partition_interval",
        "_queue",
        "_stats",
        "_task",
    )

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_batch: int = 1000,
        max_pending: int = 20_000,
        timeout: float = 5.0,
        months_ahead: int = DEFAULT_MONTHS_AHEAD,
        partition_check_interval: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        on_batch: Callable[[int, float, bool], None] | None = None,
        anonymous_interval: float = DEFAULT_INTERVAL,
        anonymous_max_ids: int = DEFAULT_MAX_IDS,
        anonymous_max_records: int = DEFAULT_MAX_RECORDS,
        on_anonymous: Callable[[int, int, bool], None] | None = None,
    ) -> None:
        if max_batch < 1 or max_pending < 1 or timeout <= 0:
            raise ValueError("max_batch, max_pending and timeout must be positive")
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._months_ahead = months_ahead
        self._partition_interval = partition_check_interval
        self._clock = clock
        # Told (records, seconds, committed) after every batch: the metrics hook.
        self._on_batch = on_batch or (lambda _size, _seconds, _ok: None)
        self._next_partition_check = 0.0
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = True
        self._stats = WriterStats()
        self._connection = HeldConnection(pool, timeout)
        self._anonymous = AnonymousLane(
            pool,
            timeout=timeout,
            interval=anonymous_interval,
            max_ids=anonymous_max_ids,
            max_records=anonymous_max_records,
            on_flush=on_anonymous,
        )

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()` while the drain task lives (readiness depends on it)."""
        return self._task is not None and not self._task.done() and not self._closed

    def stats(self) -> WriterStats:
        """A snapshot of the counters."""
        return msgspec.structs.replace(self._stats, anonymous=self._anonymous.stats())

    async def start(self) -> None:
        """Create the coming months' partitions (best effort) and start draining the queue."""
        if self._task is not None:
            return
        self._closed = False
        await self._ensure_partitions()
        self._task = asyncio.create_task(self._drain(), name="protocol-writer")
        self._anonymous.start()

    async def stop(self) -> None:
        """Refuse new records, write everything already queued, and end the drain task."""
        if self._task is None:
            return
        self._closed = True
        self._queue.put_nowait(None)
        try:
            await self._task
        except asyncio.CancelledError:
            # A drain task that was cancelled on its own is simply over; a stop that is itself
            # being cancelled goes on being cancelled.
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        finally:
            self._task = None
            await self._connection.release()
            await self._anonymous.stop()

    async def record(self, record: ProtocolRecord) -> None:
        """Return once `record` is committed; raise `ProblemError` 503 when it cannot be."""
        if self._closed or self._task is None:
            raise protocol_unavailable()
        try:
            entry = chained(record)
        except (TypeError, ValueError, msgspec.EncodeError) as error:
            _log.error("protocol_record_unencodable", error=type(error).__name__)
            raise protocol_unavailable() from None
        if entry.tenant == NO_TENANT:
            # Refused before a tenant was known: counted apart, never in the tenants' queue.
            if not await self._anonymous.count(entry):
                raise protocol_unavailable()
            return
        if self._queue.qsize() >= self._max_pending:
            _log.warning("protocol_queue_full", pending=self._queue.qsize())
            raise protocol_unavailable()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((entry, future))
        self._stats = msgspec.structs.replace(self._stats, accepted=self._stats.accepted + 1)
        # Cancelling this wait (client gone) does not withdraw the record: it is still written.
        await future

    async def _drain(self) -> None:
        try:
            stop = False
            while not stop:
                batch, stop = await self._next_batch()
                if batch:
                    if self._clock() >= self._next_partition_check:
                        await self._ensure_partitions()
                    await self._commit(batch)
        finally:
            # Only reached with items left when the task is cancelled: their callers get 503.
            self._fail_queued()

    async def _next_batch(self) -> tuple[list[_Pending], bool]:
        item = await self._queue.get()
        if item is None:
            return [], True
        batch = [item]
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    async def _commit(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        try:
            await self._connection.run(lambda connection: self._write(connection, batch))
        except asyncio.CancelledError:
            self._settle(batch, failed=True)
            raise
        except Exception as error:
            self._count_failure()
            self._on_batch(len(batch), time.perf_counter() - started, False)
            if len(batch) > 1 and is_record_specific(error):
                # Most likely one record's fault (e.g. its month has no partition): isolate it.
                for index, item in enumerate(batch):
                    try:
                        await self._commit([item])
                    except asyncio.CancelledError:
                        self._settle(batch[index + 1 :], failed=True)
                        raise
                return
            _log.error(
                "protocol_write_failed",
                records=len(batch),
                error=type(error).__name__,
                sqlstate=getattr(error, "sqlstate", None),
            )
            self._settle(batch, failed=True)
            return
        self._on_batch(len(batch), time.perf_counter() - started, True)
        self._settle(batch, failed=False)

    async def _write(self, connection: Connection, batch: list[_Pending]) -> None:
        await write_batch(connection, [entry for entry, _ in batch], dt.datetime.now(dt.UTC))

    async def _ensure_partitions(self) -> None:
        self._next_partition_check = self._clock() + self._partition_interval
        try:
            created = await self._connection.run(
                lambda connection: ensure_partitions(connection, self._months_ahead)
            )
        except Exception as error:
            self._next_partition_check = self._clock() + _PARTITION_RETRY_SECONDS
            _log.warning(
                "protocol_partitions_not_ensured",
                error=type(error).__name__,
                sqlstate=getattr(error, "sqlstate", None),
            )
            return
        if created:
            _log.info("protocol_partitions_created", months=created)

    def _settle(self, batch: list[_Pending], *, failed: bool) -> None:
        for _, future in batch:
            if future.done():  # its caller was cancelled; the record's fate is settled all the same
                continue
            if failed:
                future.set_exception(protocol_unavailable())
            else:
                future.set_result(None)
        stats = self._stats
        if failed:
            self._stats = msgspec.structs.replace(stats, failed_records=stats.failed_records + len(batch))
        else:
            self._stats = msgspec.structs.replace(
                stats,
                batches=stats.batches + 1,
                records=stats.records + len(batch),
                largest_batch=max(stats.largest_batch, len(batch)),
            )

    def _count_failure(self) -> None:
        self._stats = msgspec.structs.replace(self._stats, failed_batches=self._stats.failed_batches + 1)

    def _fail_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if item is not None:
                self._settle([item], failed=True)
