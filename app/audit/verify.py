"""`verify_audit`: walk each tenant's audit chain and report the first broken link.

For each tenant, in one read-only REPEATABLE READ snapshot, every entry is re-encoded from its
stored columns (`app.audit.chain`) and re-hashed, and the chain is walked in sequence order:

- `changed`  the stored hash does not match the entry (a column was changed);
- `missing`  a sequence number is absent (an entry was removed);
- `link`     `prev_hash` is not the hash of the entry before (an entry replaced by a forged one);
- `head`     the chain head disagrees with the last entry (entries removed from, or forged after,
             the end of the chain), or there are entries but no head.

Who is verified is decided by the connection: the owner role sees every tenant; the runtime role
(a pool and a tenant) one tenant under row-level security. A report holds tenants, sequence
numbers, hashes and break kinds only, never an entry's content.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Final, cast

import asyncpg
import msgspec

from app.audit.chain import ChainedEntry, entry_hash, genesis_hash
from app.audit.log import AuditQueryError, Connection

__all__ = [
    "AuditBreak",
    "AuditBreakKind",
    "AuditChainReport",
    "AuditVerifyReport",
    "format_audit_report",
    "verify_audit",
]

_ROWS: Final = """
SELECT tenant, seq, recorded_at, actor, role, via, source, resource, key, action,
       before::text AS before, after::text AS after, correlation_id, prev_hash, hash
FROM broker.audit_log WHERE tenant = $1 ORDER BY seq
"""
_HEAD: Final = "SELECT seq, hash FROM broker.audit_chain_heads WHERE tenant = $1"
_TENANTS: Final = (
    "SELECT tenant FROM broker.audit_chain_heads "
    "UNION SELECT DISTINCT tenant FROM broker.audit_log ORDER BY 1"
)


class AuditBreakKind(enum.StrEnum):
    """What is wrong at a broken link."""

    CHANGED = "changed"
    MISSING = "missing"
    LINK = "link"
    HEAD = "head"


class AuditBreak(msgspec.Struct, frozen=True):
    """The first broken link of a chain."""

    seq: int
    kind: AuditBreakKind
    detail: str


class AuditChainReport(msgspec.Struct, frozen=True):
    """One tenant's chain: entries checked, its head, and its first break if any."""

    tenant: str
    entries: int
    head_seq: int
    head_hash: str
    first_break: AuditBreak | None = None

    @property
    def ok(self) -> bool:
        """True when the chain is intact."""
        return self.first_break is None


class AuditVerifyReport(msgspec.Struct, frozen=True):
    """The chains verified."""

    chains: tuple[AuditChainReport, ...]

    @property
    def ok(self) -> bool:
        """True when every chain is intact."""
        return all(chain.ok for chain in self.chains)


async def verify_audit(source: asyncpg.Pool | Connection, tenant: str | None = None) -> AuditVerifyReport:
    """Verify the chain of `tenant`, or of every tenant the connection sees (a pool needs a tenant)."""
    if isinstance(source, asyncpg.Pool):
        if tenant is None:
            raise AuditQueryError("verifying the audit through the runtime pool needs a tenant")
        async with (
            source.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            await connection.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
            return AuditVerifyReport((await _verify_tenant(connection, tenant),))
    if source.is_in_transaction():
        tenants = [tenant] if tenant is not None else await _tenants(source)
        return AuditVerifyReport(tuple([await _verify_tenant(source, t) for t in tenants]))
    async with source.transaction(isolation="repeatable_read", readonly=True):
        tenants = [tenant] if tenant is not None else await _tenants(source)
        return AuditVerifyReport(tuple([await _verify_tenant(source, t) for t in tenants]))


def format_audit_report(report: AuditVerifyReport) -> str:
    """One line per chain, for the CLI: tenant, entries, head, and the first break if any."""
    lines = []
    for chain in report.chains:
        broken = chain.first_break
        state = "ok" if broken is None else f"BROKEN at seq {broken.seq} ({broken.kind}): {broken.detail}"
        lines.append(
            f"{chain.tenant}\tentries={chain.entries}\thead={chain.head_seq}:{chain.head_hash}\t{state}"
        )
    lines.append("audit chain intact" if report.ok else "audit chain BROKEN")
    return "\n".join(lines)


async def _tenants(connection: Connection) -> list[str]:
    return [row["tenant"] for row in await connection.fetch(_TENANTS)]


async def _verify_tenant(connection: Connection, tenant: str) -> AuditChainReport:
    head = await connection.fetchrow(_HEAD, tenant)
    expected_prev = genesis_hash(tenant)
    expected_seq = 1
    count = 0
    first: AuditBreak | None = None
    for row in await connection.fetch(_ROWS, tenant):
        count += 1
        first = _check(row, expected_seq, expected_prev)
        if first is not None:
            break
        expected_prev = bytes(row["hash"])
        expected_seq += 1
    if first is None:
        first = _check_head(head, expected_seq - 1, expected_prev)
    return AuditChainReport(
        tenant=tenant,
        entries=count,
        head_seq=0 if head is None else int(head["seq"]),
        head_hash="" if head is None else bytes(head["hash"]).hex(),
        first_break=first,
    )


def _check(row: asyncpg.Record, expected_seq: int, expected_prev: bytes) -> AuditBreak | None:
    seq = int(row["seq"])
    if seq != expected_seq:
        return AuditBreak(expected_seq, AuditBreakKind.MISSING, f"entry {expected_seq} is missing")
    if bytes(row["prev_hash"]) != expected_prev:
        return AuditBreak(seq, AuditBreakKind.LINK, "prev_hash is not the hash of the entry before")
    if entry_hash(bytes(row["prev_hash"]), _chained(row)) != bytes(row["hash"]):
        return AuditBreak(seq, AuditBreakKind.CHANGED, "the entry does not match its hash")
    return None


def _check_head(head: asyncpg.Record | None, last_seq: int, last_hash: bytes) -> AuditBreak | None:
    if head is None:
        if last_seq == 0:
            return None
        return AuditBreak(last_seq, AuditBreakKind.HEAD, "entries without a chain head")
    if int(head["seq"]) != last_seq or bytes(head["hash"]) != last_hash:
        return AuditBreak(
            last_seq + 1 if int(head["seq"]) > last_seq else last_seq,
            AuditBreakKind.HEAD,
            f"the chain head is at {int(head['seq'])}, the last entry at {last_seq}",
        )
    return None


def _chained(row: asyncpg.Record) -> ChainedEntry:
    return ChainedEntry(
        tenant=row["tenant"],
        seq=int(row["seq"]),
        recorded_at=cast(dt.datetime, row["recorded_at"]),
        actor=row["actor"],
        role=row["role"],
        via=row["via"],
        source=row["source"],
        resource=row["resource"],
        key=row["key"],
        action=row["action"],
        before=row["before"],
        after=row["after"],
        correlation_id=row["correlation_id"],
    )
