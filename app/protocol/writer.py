"""`ProtocolWriter`: commits every request's protocol record before the request may answer.

Group commit: `record()` puts the record on a queue and waits. One task drains the queue: it takes
everything that is waiting (up to `max_batch`), writes it in ONE transaction and resolves every
waiter only after COMMIT returned. While a batch commits, the next one gathers, so under load the
commit cost is shared by many requests; when idle a record is written on its own at once.

A batch is one transaction, however many tenants it spans. Locked path (four round trips): BEGIN;
`broker.protocol_lock_heads` locks the chain heads of the batch's tenants in sorted order (two
replicas' batches never deadlock); the writer numbers and hashes each tenant's records
(`app.protocol.chain`); `broker.protocol_append` inserts them with their persons and moves the
heads; COMMIT. Fast path (one round trip): when this writer already knows every head of the batch
(it left them there), it chains onto them and calls `broker.protocol_append` alone, as a
statement that commits by itself; the function moves each head only if it is still where the
writer believes (same seq and hash, under the row lock), else the statement fails whole and the
batch is redone on the locked path — and the writer stays on the locked path for a while, as a
replica is evidently writing for the same tenants. Both functions run as the runtime role and set
`app.tenant_id` per tenant before touching its rows, so the fail-closed policies hold for every row.

The guarantee: `record()` returns only after its record is committed; otherwise it raises
`ProblemError` 503 (`protocolUnavailable`) — when the database is down or slow (timeout), the
insert fails, the record's month has no partition, the queue is full or the writer is stopped. A
record is never dropped silently. (A 503 after a COMMIT whose answer was lost can leave a record
for a request that got no data; the reverse cannot happen.) After a failure the next batch starts
on a fresh attempt, so the writer recovers as soon as the database does. A batch failing on data
(SQLSTATE class 22/23, e.g. a missing partition) is retried record by record, so one bad record
costs only its own request.

Never logs a record, an error message or an error detail (they can hold BSNs and search
parameters): only counts, error class names and SQLSTATEs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final, NamedTuple, TypeAlias, TypeVar

import asyncpg
import msgspec
import structlog
from asyncpg.pool import PoolConnectionProxy

from app.brp.problems import ProblemError, service_unavailable
from app.protocol.access import Connection
from app.protocol.chain import ChainedRecord, chained, genesis_hash, link_hash
from app.protocol.partitions import DEFAULT_MONTHS_AHEAD, ensure_partitions
from app.protocol.record import ProtocolRecord

__all__ = ["Head", "ProtocolWriter", "WriterStats", "append_after", "write_batch"]

_log = structlog.get_logger("app.protocol.writer")

T = TypeVar("T")
_Pending: TypeAlias = tuple[ChainedRecord, "asyncio.Future[None]"]

_UNAVAILABLE_DETAIL: Final = "Het verzoek kon niet worden geprotocolleerd; er zijn geen gegevens verstrekt."
# A partition check that failed is tried again this much sooner than the regular interval.
_PARTITION_RETRY_SECONDS: Final = 60.0
# After another writer moved a head under this one, lock heads first for this long.
_CONTENDED_SECONDS: Final = 30.0
# SQLSTATE classes that point at one record (data exception, integrity constraint violation).
_RECORD_SPECIFIC_CLASSES: Final = frozenset({"22", "23"})

_LOCK_HEADS: Final = "SELECT head_tenant, head_seq, head_hash FROM broker.protocol_lock_heads($1, $2)"
_APPEND: Final = "SELECT broker.protocol_append($1::jsonb)"
_ENCODER: Final = msgspec.json.Encoder()


class WriterStats(msgspec.Struct, frozen=True):
    """What a writer did so far: committed transactions and records, and failures (callers got 503)."""

    # Records taken in by `record()` (queued for a batch), whatever became of them.
    accepted: int = 0
    batches: int = 0
    records: int = 0
    failed_batches: int = 0
    failed_records: int = 0
    largest_batch: int = 0
    # Batches that found a head moved by another writer and were redone with the heads locked.
    head_conflicts: int = 0


class _Row(msgspec.Struct, frozen=True, array_like=True):
    """One record on its way to `broker.protocol_append`, as a JSON array in that function's order.

    Positional (about half the bytes of the keyed canonical document, so half the parsing). The
    writer builds it from the same `ChainedRecord` it hashed; `verify` re-hashes what was stored.
    """

    seq: int
    occurred_at: dt.datetime
    correlation_id: str
    trace_id: str | None
    member_organisation: str | None
    subject: str | None
    employee: str | None
    client_application: str | None
    afnemer_id: str | None
    environment: str | None
    doelbinding: str | None
    verwerking: str | None
    origin_oin: str | None
    api: str
    query_type: str | None
    search_parameters: str
    requested_fields: str
    sent_fields: str
    status: int
    problem_code: str | None
    latency_ms: float
    prev_hash: str
    hash: str
    persons: tuple[tuple[str, str], ...]


class _Group(msgspec.Struct, frozen=True):
    """One tenant's records of a batch, and how its chain head moves (from, to)."""

    tenant: str
    recorded_at: dt.datetime
    from_seq: int
    from_hash: str
    head_seq: int
    head_hash: str
    records: list[_Row]


class Head(NamedTuple):
    """A chain head: the last sequence number of a tenant's chain and that record's hash."""

    seq: int
    hash: bytes


async def write_batch(
    connection: Connection, entries: Sequence[ChainedRecord], recorded_at: dt.datetime
) -> dict[str, Head]:
    """Number, hash and insert `entries` (from `chained`) in the caller's open transaction.

    Locks the heads of the batch's tenants (sorted), chains each tenant's records in order of
    occurrence, and inserts everything with one call, whatever the number of tenants. Returns the
    tenants' new heads (valid once the caller commits).
    """
    by_tenant = _by_tenant(entries)
    tenants = sorted(by_tenant)
    rows = await connection.fetch(_LOCK_HEADS, tenants, [genesis_hash(t) for t in tenants])
    heads = {row["head_tenant"]: Head(int(row["head_seq"]), bytes(row["head_hash"])) for row in rows}
    return await _append(connection, by_tenant, heads, recorded_at)


async def append_after(
    connection: Connection,
    entries: Sequence[ChainedRecord],
    recorded_at: dt.datetime,
    heads: Mapping[str, Head],
) -> dict[str, Head]:
    """Insert `entries` after the `heads` the caller believes current, without locking them first.

    Run outside a transaction, this is one statement that commits on its own. When another writer
    moved a head since, the head update matches nothing and the whole statement fails with
    `asyncpg.SerializationError` (nothing is written); then use `write_batch`.
    """
    return await _append(connection, _by_tenant(entries), heads, recorded_at)


def _by_tenant(entries: Sequence[ChainedRecord]) -> dict[str, list[ChainedRecord]]:
    by_tenant: dict[str, list[ChainedRecord]] = {}
    for entry in entries:
        by_tenant.setdefault(entry.tenant, []).append(entry)
    return by_tenant


async def _append(
    connection: Connection,
    by_tenant: Mapping[str, list[ChainedRecord]],
    heads: Mapping[str, Head],
    recorded_at: dt.datetime,
) -> dict[str, Head]:
    groups = [_chain(t, heads[t], by_tenant[t], recorded_at) for t in sorted(by_tenant)]
    appended = await connection.fetchval(_APPEND, _ENCODER.encode(groups).decode())
    if appended != sum(len(group.records) for group in groups):
        raise RuntimeError("the protocol batch was not appended whole")
    return {group.tenant: Head(group.head_seq, bytes.fromhex(group.head_hash)) for group in groups}


def _chain(tenant: str, head: Head, entries: list[ChainedRecord], recorded_at: dt.datetime) -> _Group:
    seq, prev_hash = head
    rows: list[_Row] = []
    for entry in sorted(entries, key=lambda e: e.occurred_at):
        seq += 1
        hash_ = link_hash(prev_hash, msgspec.structs.replace(entry, seq=seq, recorded_at=recorded_at))
        rows.append(_row(entry, seq, prev_hash, hash_))
        prev_hash = hash_
    return _Group(
        tenant=tenant,
        recorded_at=recorded_at,
        from_seq=head.seq,
        from_hash=head.hash.hex(),
        head_seq=seq,
        head_hash=prev_hash.hex(),
        records=rows,
    )


def _row(entry: ChainedRecord, seq: int, prev_hash: bytes, hash_: bytes) -> _Row:
    return _Row(
        seq=seq,
        occurred_at=entry.occurred_at,
        correlation_id=entry.correlation_id,
        trace_id=entry.trace_id,
        member_organisation=entry.member_organisation,
        subject=entry.subject,
        employee=entry.employee,
        client_application=entry.client_application,
        afnemer_id=entry.afnemer_id,
        environment=entry.environment,
        doelbinding=entry.doelbinding,
        verwerking=entry.verwerking,
        origin_oin=entry.origin_oin,
        api=entry.api,
        query_type=entry.query_type,
        search_parameters=entry.search_parameters,
        requested_fields=_text_array(entry.requested_fields),
        sent_fields=_text_array(entry.sent_fields),
        status=entry.status,
        problem_code=entry.problem_code,
        latency_ms=entry.latency_ms,
        prev_hash=prev_hash.hex(),
        hash=hash_.hex(),
        persons=entry.persons,
    )


def _text_array(values: tuple[str, ...]) -> str:
    """A PostgreSQL array literal of `values`, every element quoted (so any text survives exactly)."""
    quoted = ('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values)
    return "{" + ",".join(quoted) + "}"


def _unavailable(detail: str = _UNAVAILABLE_DETAIL) -> ProblemError:
    return service_unavailable("protocolUnavailable", detail)


def _record_specific(error: BaseException) -> bool:
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(error, asyncpg.PostgresError) and (sqlstate or "")[:2] in _RECORD_SPECIFIC_CLASSES


class ProtocolWriter:
    """Group-committing writer of protocol records; the `Protocoller` of the gateway pipeline.

    `start()` in the app's lifespan (after the pool), `stop()` before the pool closes: it writes
    what is queued and then refuses new records with 503. Holds one connection of the pool while
    running (size the pool for it).
    """

    __slots__ = (
        "_clock",
        "_closed",
        "_connection",
        "_heads",
        "_max_batch",
        "_max_pending",
        "_months_ahead",
        "_next_partition_check",
        "_on_batch",
        "_optimistic_after",
        "_partition_interval",
        "_pool",
        "_queue",
        "_stats",
        "_task",
        "_timeout",
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
    ) -> None:
        if max_batch < 1 or max_pending < 1 or timeout <= 0:
            raise ValueError("max_batch, max_pending and timeout must be positive")
        self._pool = pool
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._timeout = timeout
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
        # The chain heads this writer's last commits left, per tenant (a hint, checked by the database).
        self._heads: dict[str, Head] = {}
        self._connection: PoolConnectionProxy | None = None
        self._optimistic_after = 0.0

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._task is not None and not self._closed

    def stats(self) -> WriterStats:
        """A snapshot of the counters."""
        return self._stats

    async def start(self) -> None:
        """Create the coming months' partitions (best effort) and start draining the queue."""
        if self._task is not None:
            return
        self._closed = False
        await self._ensure_partitions()
        self._task = asyncio.create_task(self._drain(), name="protocol-writer")

    async def stop(self) -> None:
        """Refuse new records, write everything already queued, and end the drain task."""
        if self._task is None:
            return
        self._closed = True
        self._queue.put_nowait(None)
        try:
            await self._task
        finally:
            self._task = None
            if self._connection is not None:
                connection, self._connection = self._connection, None
                await self._release(connection)

    async def record(self, record: ProtocolRecord) -> None:
        """Return once `record` is committed; raise `ProblemError` 503 when it cannot be."""
        if self._closed or self._task is None:
            raise _unavailable()
        if self._queue.qsize() >= self._max_pending:
            _log.warning("protocol_queue_full", pending=self._queue.qsize())
            raise _unavailable()
        try:
            entry = chained(record)
        except (TypeError, ValueError, msgspec.EncodeError) as error:
            _log.error("protocol_record_unencodable", error=type(error).__name__)
            raise _unavailable() from None
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
            await self._with_connection(lambda connection: self._write(connection, batch))
        except asyncio.CancelledError:
            self._settle(batch, failed=True)
            raise
        except Exception as error:
            self._count_failure()
            self._on_batch(len(batch), time.perf_counter() - started, False)
            if len(batch) > 1 and _record_specific(error):
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
        entries = [entry for entry, _ in batch]
        recorded_at = dt.datetime.now(dt.UTC)
        if self._clock() >= self._optimistic_after and all(e.tenant in self._heads for e in entries):
            # The heads this writer left are most likely still current: one statement, one commit.
            try:
                self._heads.update(await append_after(connection, entries, recorded_at, self._heads))
            except (asyncpg.SerializationError, asyncpg.UniqueViolationError):
                # Another writer (replica) appended for one of these tenants: lock from now on, a while.
                self._optimistic_after = self._clock() + _CONTENDED_SECONDS
                self._stats = msgspec.structs.replace(
                    self._stats, head_conflicts=self._stats.head_conflicts + 1
                )
            else:
                return
        await connection.execute("BEGIN")
        heads = await write_batch(connection, entries, recorded_at)
        await connection.execute("COMMIT")
        self._heads.update(heads)

    async def _with_connection(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """Run `work` on the writer's connection within the timeout; never reuse a connection in doubt.

        The writer keeps one pooled connection between batches (no pool hand-over and reset on the
        latency path). After any failure it hands it back (rolled back, or closed when its state
        is unknown) and the next batch takes a fresh one.
        """
        if self._connection is None:
            self._connection = await self._pool.acquire(timeout=self._timeout)
        connection = self._connection
        try:
            async with asyncio.timeout(self._timeout):
                return await work(connection)
        except BaseException as error:
            self._connection = None
            if not isinstance(error, asyncpg.PostgresError):
                # Timed out, cancelled or broken: its state is unknown, so it is closed, not reset.
                connection.terminate()
            await self._release(connection)
            raise

    async def _release(self, connection: PoolConnectionProxy) -> None:
        try:
            # Rolls back an open transaction; terminates the connection if even that fails.
            await self._pool.release(connection, timeout=self._timeout)
        except Exception as error:  # the pool has closed it; nothing more to do
            _log.warning("protocol_connection_release_failed", error=type(error).__name__)

    async def _ensure_partitions(self) -> None:
        self._next_partition_check = self._clock() + self._partition_interval
        try:
            created = await self._with_connection(
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
                future.set_exception(_unavailable())
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
