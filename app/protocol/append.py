"""Appending to the hash chains: hand entries to the database in one statement; and how a failure
to append is answered.

`write_batch` computes each entry's digest (`app.protocol.chain.record_digest`) and hands the
batch, grouped per tenant, to `broker.protocol_append_linked` (migrations 0012, 0016) in ONE statement,
whatever the number of tenants. The database locks each tenant's head, links the digests onto it,
inserts the records with their persons and moves the head; run outside a transaction, the
statement commits on its own, so a head is never locked across a client round trip and writers
(workers, replicas) on the same tenant wait on each other's server work only. `HeldConnection`
keeps the connection a writer appends on, within its timeout, and never reuses one whose state is
in doubt. Every failure to append is answered with `protocol_unavailable()` (503): no data is
delivered.

Shared by the tenants' group-commit writer (`app.protocol.writer`) and the lane of requests without
a tenant (`app.protocol.anonymous`). Never logs an entry, an error message or an error detail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, NamedTuple, TypeVar

import asyncpg
import msgspec
import structlog
from asyncpg.pool import PoolConnectionProxy

from app.brp.problems import ProblemError, service_unavailable
from app.protocol.access import Connection
from app.protocol.chain import ChainedRecord, genesis_hash, record_digest

__all__ = [
    "Head",
    "HeldConnection",
    "is_record_specific",
    "protocol_unavailable",
    "write_batch",
]

_log = structlog.get_logger("app.protocol.append")

T = TypeVar("T")

_UNAVAILABLE_DETAIL: Final = "Het verzoek kon niet worden geprotocolleerd; er zijn geen gegevens verstrekt."
# SQLSTATE classes that point at one record (data exception, integrity constraint violation).
_RECORD_SPECIFIC_CLASSES: Final = frozenset({"22", "23"})

_APPEND: Final = "SELECT head_tenant, head_seq, head_hash FROM broker.protocol_append_linked($1::jsonb)"
_ENCODER: Final = msgspec.json.Encoder()


class _Row(msgspec.Struct, frozen=True, array_like=True):
    """One record on its way to `broker.protocol_append_linked`, as a JSON array in its order.

    Positional (about half the bytes of the keyed canonical document, so half the parsing). The
    writer builds it from the same `ChainedRecord` it digested; `verify` re-hashes what was stored.
    """

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
    digest: str
    persons: tuple[tuple[str, str], ...]
    # Migration 0009: what an aggregate of requests without a tenant adds (defaults: one request).
    request_count: int
    last_occurred_at: dt.datetime | None
    correlation_ids: str
    # Migration 0016: the context of Logboek Dataverwerkingen. Last, so that a function of the
    # previous release (reading by position) ignores them and this one reads NULL from the
    # shorter row of a previous writer.
    span_id: str | None
    parent_span_id: str | None
    processing_activity: str | None
    foreign_processor: str | None


class _Group(msgspec.Struct, frozen=True):
    """One tenant's records of a batch, in order of occurrence, and its genesis (a first record)."""

    tenant: str
    genesis: str
    recorded_at: dt.datetime
    records: list[_Row]


class Head(NamedTuple):
    """A chain head: the last sequence number of a tenant's chain and that record's hash."""

    seq: int
    hash: bytes


async def write_batch(
    connection: Connection, entries: Sequence[ChainedRecord], recorded_at: dt.datetime
) -> dict[str, Head]:
    """Append `entries` (from `chained`) to their tenants' chains in one statement.

    Each tenant's records are chained in order of occurrence. Outside a transaction the statement
    commits on its own; inside one, the heads stay locked until the caller commits. Returns the
    tenants' new heads (valid once committed).
    """
    by_tenant: dict[str, list[ChainedRecord]] = {}
    for entry in entries:
        by_tenant.setdefault(entry.tenant, []).append(entry)
    groups = [_group(tenant, by_tenant[tenant], recorded_at) for tenant in sorted(by_tenant)]
    rows = await connection.fetch(_APPEND, _ENCODER.encode(groups).decode())
    if len(rows) != len(groups):
        raise RuntimeError("the protocol batch was not appended whole")
    return {row["head_tenant"]: Head(int(row["head_seq"]), bytes(row["head_hash"])) for row in rows}


def _group(tenant: str, entries: list[ChainedRecord], recorded_at: dt.datetime) -> _Group:
    stamped = (
        msgspec.structs.replace(entry, recorded_at=recorded_at)
        for entry in sorted(entries, key=lambda e: e.occurred_at)
    )
    return _Group(
        tenant=tenant,
        genesis=genesis_hash(tenant).hex(),
        recorded_at=recorded_at,
        records=[_row(entry, record_digest(entry)) for entry in stamped],
    )


def _row(entry: ChainedRecord, digest: bytes) -> _Row:
    return _Row(
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
        digest=digest.hex(),
        persons=entry.persons,
        request_count=entry.request_count,
        last_occurred_at=entry.last_occurred_at,
        correlation_ids=_text_array(entry.correlation_ids),
        span_id=entry.span_id,
        parent_span_id=entry.parent_span_id,
        processing_activity=entry.processing_activity,
        foreign_processor=entry.foreign_processor,
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
