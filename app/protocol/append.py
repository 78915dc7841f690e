"""Appending to the hash chains: number, hash and insert entries, move the heads; and how a failure
to append is answered.

`write_batch` (locked: inside the caller's transaction, heads locked in sorted order) and
`append_after` (optimistic: one self-committing statement onto heads the caller believes current)
chain each tenant's entries (`app.protocol.chain`) and hand them to `broker.protocol_append`
(migrations 0003, 0009) in ONE call, whatever the number of tenants. `HeldConnection` keeps the
connection a writer appends on, within its timeout, and never reuses one whose state is in doubt.
Every failure to append is answered with `protocol_unavailable()` (503): no data is delivered.

Shared by the tenants' group-commit writer (`app.protocol.writer`) and the lane of requests without
a tenant (`app.protocol.anonymous`). Never logs an entry, an error message or an error detail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final, NamedTuple, TypeVar

import asyncpg
import msgspec
import structlog
from asyncpg.pool import PoolConnectionProxy

from app.brp.problems import ProblemError, service_unavailable
from app.protocol.access import Connection
from app.protocol.chain import ChainedRecord, genesis_hash, link_hash

__all__ = [
    "Head",
    "HeldConnection",
    "append_after",
    "is_record_specific",
    "protocol_unavailable",
    "write_batch",
]

_log = structlog.get_logger("app.protocol.append")

T = TypeVar("T")

_UNAVAILABLE_DETAIL: Final = "Het verzoek kon niet worden geprotocolleerd; er zijn geen gegevens verstrekt."
# SQLSTATE classes that point at one record (data exception, integrity constraint violation).
_RECORD_SPECIFIC_CLASSES: Final = frozenset({"22", "23"})

_LOCK_HEADS: Final = "SELECT head_tenant, head_seq, head_hash FROM broker.protocol_lock_heads($1, $2)"
_APPEND: Final = "SELECT broker.protocol_append($1::jsonb)"
_ENCODER: Final = msgspec.json.Encoder()


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
    # Migration 0009: what an aggregate of requests without a tenant adds (defaults: one request).
    request_count: int
    last_occurred_at: dt.datetime | None
    correlation_ids: str


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
        request_count=entry.request_count,
        last_occurred_at=entry.last_occurred_at,
        correlation_ids=_text_array(entry.correlation_ids),
    )


def _text_array(values: tuple[str, ...]) -> str:
    """A PostgreSQL array literal of `values`, every element quoted (so any text survives exactly)."""
    quoted = ('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values)
    return "{" + ",".join(quoted) + "}"


def protocol_unavailable() -> ProblemError:
    """The 503 (`protocolUnavailable`) of a request whose record could not be committed."""
    return service_unavailable("protocolUnavailable", _UNAVAILABLE_DETAIL)


def is_record_specific(error: BaseException) -> bool:
    """True when `error` most likely concerns one record (e.g. its month has no partition)."""
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(error, asyncpg.PostgresError) and (sqlstate or "")[:2] in _RECORD_SPECIFIC_CLASSES


class HeldConnection:
    """One pooled connection, taken when first needed and kept until `release()` or a failure.

    Work on it runs within `timeout`. After any failure the connection is handed back (rolled
    back, or closed when its state is unknown) and the next `run` takes a fresh one.
    """

    __slots__ = ("_connection", "_pool", "_timeout")

    def __init__(self, pool: asyncpg.Pool, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._connection: PoolConnectionProxy | None = None

    async def run(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """Run `work` on the held connection within the timeout; never reuse a connection in doubt."""
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

    async def release(self) -> None:
        """Hand the connection back to the pool, if one is held."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await self._release(connection)

    async def _release(self, connection: PoolConnectionProxy) -> None:
        try:
            # Rolls back an open transaction; terminates the connection if even that fails.
            await self._pool.release(connection, timeout=self._timeout)
        except Exception as error:  # the pool has closed it; nothing more to do
            _log.warning("protocol_connection_release_failed", error=type(error).__name__)
