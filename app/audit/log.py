"""Appending to and reading the audit log (migration 0011).

`append_change` runs inside the caller's transaction and tenant scope, so the entry commits or
rolls back with the change it records: a change without its entry (or the reverse) cannot exist.
It locks the tenant's chain head (`SELECT ... FOR UPDATE`), numbers and hashes the entry, inserts
it and moves the head. Configuration changes are rare: one lock per entry is simple and enough.

`read_audit` reads newest first, filtered and paged. Who sees what is decided by the connection,
never by an argument: the runtime role within a tenant scope sees that tenant's entries only
(row-level security); the owner role (operators) sees every tenant's.

This module never logs an entry.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any, Final, cast

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from app.audit.chain import ChainedEntry, entry_hash, genesis_hash
from app.audit.entry import AuditEntry, AuditRecord, redact_secrets

__all__ = [
    "MAX_PAGE",
    "AuditError",
    "AuditFilter",
    "AuditPage",
    "AuditQueryError",
    "Connection",
    "append_change",
    "moment_in_range",
    "read_audit",
]

Connection = asyncpg.Connection | PoolConnectionProxy

MAX_PAGE: Final = 500
_ENCODER: Final = msgspec.json.Encoder(order="sorted")

_CREATE_HEAD: Final = (
    "INSERT INTO broker.audit_chain_heads (tenant, seq, hash) VALUES ($1, 0, $2) "
    "ON CONFLICT (tenant) DO NOTHING"
)
_LOCK_HEAD: Final = (
    "SELECT seq, hash, clock_timestamp() AS now FROM broker.audit_chain_heads WHERE tenant = $1 FOR UPDATE"
)
_SCOPE: Final = "SELECT NULLIF(current_setting('app.tenant_id', true), '')"
_INSERT: Final = """
INSERT INTO broker.audit_log (tenant, seq, recorded_at, actor, role, via, source, resource, key, action,
                              before, after, correlation_id, prev_hash, hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::json, $12::json, $13, $14, $15)
"""
_MOVE_HEAD: Final = (
    "UPDATE broker.audit_chain_heads SET seq = $2, hash = $3, updated_at = $4 WHERE tenant = $1"
)
_SELECT: Final = """
SELECT tenant, seq, recorded_at, actor, role, via, source, resource, key, action,
       before::text AS before, after::text AS after, correlation_id, hash
FROM broker.audit_log
WHERE ($1::text IS NULL OR tenant = $1)
  AND ($2::timestamptz IS NULL OR recorded_at >= $2)
  AND ($3::timestamptz IS NULL OR recorded_at < $3)
  AND ($4::text IS NULL OR resource = $4)
  AND ($5::text IS NULL OR actor = $5)
  AND ($6::timestamptz IS NULL OR (recorded_at, tenant, seq) < ($6, $7::text, $8::bigint))
ORDER BY recorded_at DESC, tenant DESC, seq DESC
LIMIT $9
"""


class AuditError(Exception):
    """An entry cannot be appended here (no transaction, or another tenant's scope)."""


class AuditQueryError(ValueError):
    """A read was asked for with arguments that mean nothing (a malformed cursor, a bad limit)."""


class AuditFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which entries to read: `since` inclusive, `until` exclusive; exact resource and actor."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    resource: str | None = None
    actor: str | None = None


class AuditPage(msgspec.Struct, frozen=True):
    """Entries newest first; `next_cursor` reads on after the last one (None: no more)."""

    entries: tuple[AuditRecord, ...]
    next_cursor: str | None = None


class _Cursor(msgspec.Struct, frozen=True, array_like=True):
    recorded_at: dt.datetime
    tenant: str
    seq: int


async def append_change(connection: Connection, entry: AuditEntry) -> AuditRecord:
    """Record `entry` in its tenant's chain, inside the caller's transaction and tenant scope.

    Secrets in `before`/`after` are fingerprinted here too (see `app.audit.entry`).
    """
    if not connection.is_in_transaction():
        raise AuditError("an audit entry is appended inside the transaction of the change it records")
    if await connection.fetchval(_SCOPE) != entry.tenant:
        raise AuditError(f"an audit entry of tenant {entry.tenant!r} is appended in that tenant's scope")
    before = _json_text(entry.before)
    after = _json_text(entry.after)
    await connection.execute(_CREATE_HEAD, entry.tenant, genesis_hash(entry.tenant))
    head = await connection.fetchrow(_LOCK_HEAD, entry.tenant)
    if head is None:  # pragma: no cover - created just above, in this scope
        raise AuditError(f"the audit chain head of tenant {entry.tenant!r} is not visible")
    chained = ChainedEntry(
        tenant=entry.tenant,
        seq=int(head["seq"]) + 1,
        recorded_at=cast(dt.datetime, head["now"]).astimezone(dt.UTC),
        actor=entry.actor,
        role=entry.role,
        via=entry.via,
        source=entry.source,
        resource=entry.resource,
        key=entry.key,
        action=entry.action,
        before=before,
        after=after,
        correlation_id=entry.correlation_id,
    )
    digest = entry_hash(bytes(head["hash"]), chained)
    await connection.execute(
        _INSERT,
        chained.tenant,
        chained.seq,
        chained.recorded_at,
        chained.actor,
        chained.role,
        chained.via,
        chained.source,
        chained.resource,
        chained.key,
        chained.action,
        chained.before,
        chained.after,
        chained.correlation_id,
        bytes(head["hash"]),
        digest,
    )
    await connection.execute(_MOVE_HEAD, chained.tenant, chained.seq, digest, chained.recorded_at)
    return _record(chained, digest)


async def read_audit(
    source: asyncpg.Pool | Connection,
    tenant: str | None = None,
    filters: AuditFilter | None = None,
    *,
    limit: int = 100,
    cursor: str | None = None,
) -> AuditPage:
    """Entries newest first, of `tenant` or of every tenant the connection may see.

    With a pool (the runtime role) `tenant` is required and the read runs in its tenant scope;
    with a connection the caller has chosen the scope (or the owner role, for every tenant).
    """
    if not 1 <= limit <= MAX_PAGE:
        raise AuditQueryError(f"limit must lie between 1 and {MAX_PAGE}")
    after = _decode_cursor(cursor)
    wanted = filters or AuditFilter()
    arguments = (
        tenant,
        wanted.since,
        wanted.until,
        wanted.resource,
        wanted.actor,
        after.recorded_at if after else None,
        after.tenant if after else None,
        after.seq if after else None,
        limit + 1,
    )
    if isinstance(source, asyncpg.Pool):
        if tenant is None:
            raise AuditQueryError("reading the audit through the runtime pool needs a tenant")
        async with source.acquire() as connection, connection.transaction(readonly=True):
            await connection.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
            rows = await connection.fetch(_SELECT, *arguments)
    else:
        rows = await source.fetch(_SELECT, *arguments)
    records = tuple(_row_record(row) for row in rows[:limit])
    more = len(rows) > limit
    return AuditPage(records, _encode_cursor(records[-1]) if more and records else None)


def _json_text(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    return _ENCODER.encode(redact_secrets(value)).decode()


def _record(chained: ChainedEntry, digest: bytes) -> AuditRecord:
    return AuditRecord(
        tenant=chained.tenant,
        seq=chained.seq,
        recorded_at=chained.recorded_at,
        actor=chained.actor,
        role=chained.role,
        via=chained.via,  # type: ignore[arg-type]  # from an AuditEntry, so one of Via
        source=chained.source,
        resource=chained.resource,
        key=chained.key,
        action=chained.action,  # type: ignore[arg-type]  # from an AuditEntry, so one of Action
        before=_decode(chained.before),
        after=_decode(chained.after),
        correlation_id=chained.correlation_id,
        hash=digest.hex(),
    )


def _row_record(row: asyncpg.Record) -> AuditRecord:
    return AuditRecord(
        tenant=row["tenant"],
        seq=int(row["seq"]),
        recorded_at=cast(dt.datetime, row["recorded_at"]).astimezone(dt.UTC),
        actor=row["actor"],
        role=row["role"],
        via=row["via"],
        source=row["source"],
        resource=row["resource"],
        key=row["key"],
        action=row["action"],
        before=_decode(row["before"]),
        after=_decode(row["after"]),
        correlation_id=row["correlation_id"],
        hash=bytes(row["hash"]).hex(),
    )


def _decode(text: str | None) -> dict[str, Any] | None:
    return None if text is None else cast(dict[str, Any], msgspec.json.decode(text))


def _encode_cursor(record: AuditRecord) -> str:
    raw = msgspec.json.encode(_Cursor(record.recorded_at, record.tenant, record.seq))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


# The moments a read may name: wide enough for any audit entry, narrow enough that PostgreSQL and
# Python's date arithmetic (time zones, a day more or less) can hold every one of them.
EARLIEST: Final = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST: Final = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
_SEQ_LIMIT: Final = 2**63  # PostgreSQL's bigint


def moment_in_range(moment: dt.datetime) -> bool:
    """Whether a read may name `moment` (aware): from 1900 up to the year 9999."""
    try:
        return EARLIEST <= moment.astimezone(dt.UTC) < LATEST
    except OverflowError:  # an offset that pushes it past year 1 or 9999
        return False


def _decode_cursor(cursor: str | None) -> _Cursor | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = msgspec.json.decode(raw, type=_Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        decoded = None
    if decoded is None or not _plausible(decoded):
        raise AuditQueryError("cursor is not one this API handed out")
    return decoded


def _plausible(cursor: _Cursor) -> bool:
    """Whether a cursor could be one this API handed out (a hand-made one must not reach SQL)."""
    return (
        cursor.recorded_at.tzinfo is not None
        and moment_in_range(cursor.recorded_at)
        and 0 <= cursor.seq < _SEQ_LIMIT
        and 0 < len(cursor.tenant) <= 63
        and "\x00" not in cursor.tenant
    )
