"""`verify`: walk each tenant's hash chain and report the first broken link.

For each tenant, in one read-only REPEATABLE READ snapshot (so a verify during traffic sees a chain
and its head from the same moment): every record is re-encoded from its stored columns and
persons (`app.protocol.chain`) and re-hashed, and the chain is walked in sequence order:

- `changed`   the stored hash does not match the record (a column or a person row was changed);
- `duplicate` a sequence number occurs twice (a forged record inserted beside a real one);
- `missing`   a sequence number is absent (a record was removed);
- `link`      `prev_hash` is not the hash of the record before (a record replaced with a forged one);
- `head`      the chain head disagrees with the last record (records removed from, or forged
              after, the end of the chain), or there are records but no head;
- `retention` the records retention left below its checkpoint were not all there;
- `orphan`    person rows that belong to no record (forged persons).

Records that retention removed are expected: the latest checkpoint says up to which sequence number
records may be gone and with which hash the chain continues. Reads as the operator (owner URL:
every tenant, or one) or as the runtime role (a pool: one tenant, under row-level security).

Incremental: a run as the operator that finds a chain intact appends a verified checkpoint
(`protocol_verified`, migration 0012: the last seq and its hash). The next run (`full=False`,
the default) starts after the latest one: it checks that the checkpoint's record still carries
that hash, then walks only the records after it, the head, and the person rows after it. A full
run (`full=True`) walks the whole chain, as it always did, and is what catches a rewrite below a
checkpoint; a verified checkpoint is the operator's own note (the owner role can write it), so it
saves time, never trust — the published heads (see the README) are what a rewrite must match.

Never prints a record: a report holds tenants, sequence numbers, hashes and break kinds only.
"""

from __future__ import annotations

import enum
from typing import Final

import asyncpg
import msgspec

from app.protocol.access import (
    Connection,
    ProtocolAccessError,
    ProtocolSource,
    operator_connection,
    tenant_transaction,
)
from app.protocol.chain import ChainedRecord, genesis_hash, link_hash, linked_hash, record_digest

__all__ = ["BreakKind", "ChainBreak", "ChainReport", "VerifyReport", "format_report", "verify"]

# Every stored column the hash covers, read back as `ChainedRecord` lists them (the one list of a
# record's fields): a field added there is verified without a change here.
_STORED: Final = tuple(name for name in ChainedRecord.__struct_fields__ if name != "persons")
# `json` hashed as the exact text stored.
_AS_STORED: Final = {"search_parameters": "r.search_parameters::text AS search_parameters"}
_ROWS: Final = f"""
SELECT {", ".join(_AS_STORED.get(name, f"r.{name}") for name in _STORED)}, r.prev_hash, r.hash,
       coalesce(p.bsns, '{{}}') AS person_bsns, coalesce(p.roles, '{{}}') AS person_roles
FROM protocol_records r
LEFT JOIN LATERAL (
    SELECT array_agg(p.bsn ORDER BY p.position) AS bsns, array_agg(p.role ORDER BY p.position) AS roles
    FROM protocol_persons p
    WHERE p.tenant = r.tenant AND p.seq = r.seq AND p.occurred_at = r.occurred_at
) p ON true
WHERE r.tenant = $1 AND r.seq > $2
ORDER BY r.seq, r.occurred_at
"""  # noqa: S608 -- the identifiers are ChainedRecord's field names, never input
_HEAD: Final = "SELECT seq, hash FROM protocol_chain_heads WHERE tenant = $1"
_CHECKPOINT: Final = (
    "SELECT through_seq, through_hash, leftover FROM protocol_retention WHERE tenant = $1 "
    "ORDER BY id DESC LIMIT 1"
)
_ORPHAN: Final = """
SELECT min(p.seq) FROM protocol_persons p
WHERE p.tenant = $1 AND p.seq > $2 AND NOT EXISTS (
    SELECT 1 FROM protocol_records r
    WHERE r.tenant = p.tenant AND r.seq = p.seq AND r.occurred_at = p.occurred_at)
"""
_VERIFIED: Final = (
    "SELECT through_seq, through_hash FROM protocol_verified WHERE tenant = $1 ORDER BY id DESC LIMIT 1"
)
_NOTE_VERIFIED: Final = (
    "INSERT INTO protocol_verified (tenant, through_seq, through_hash) VALUES ($1, $2, $3)"
)
_TENANTS: Final = """
SELECT tenant FROM protocol_chain_heads
UNION SELECT DISTINCT tenant FROM protocol_records
UNION SELECT DISTINCT tenant FROM protocol_persons
ORDER BY 1
"""
_PREFETCH: Final = 2000


class BreakKind(enum.StrEnum):
    """What is wrong at a broken link."""

    CHANGED = "changed"
    DUPLICATE = "duplicate"
    MISSING = "missing"
    LINK = "link"
    HEAD = "head"
    RETENTION = "retention"
    ORPHAN = "orphan"


class ChainBreak(msgspec.Struct, frozen=True):
    """The first broken link of a chain: at which sequence number, and what is wrong."""

    seq: int
    kind: BreakKind
    detail: str


class ChainReport(msgspec.Struct, frozen=True):
    """One tenant's chain: how many records were checked, its head, and its first break if any.

    `after_seq` is where the walk began: 0 for the whole chain (or from retention's checkpoint),
    else the verified checkpoint an incremental run continued from.
    """

    tenant: str
    records: int
    head_seq: int
    head_hash: str
    first_break: ChainBreak | None = None
    after_seq: int = 0

    @property
    def ok(self) -> bool:
        """True when the chain is intact."""
        return self.first_break is None


class VerifyReport(msgspec.Struct, frozen=True):
    """The chains verified."""

    chains: tuple[ChainReport, ...]

    @property
    def ok(self) -> bool:
        """True when every chain is intact."""
        return all(chain.ok for chain in self.chains)

    @property
    def first_break(self) -> ChainReport | None:
        """The first chain (by tenant) with a break."""
        return next((chain for chain in self.chains if not chain.ok), None)


class _Checkpoint(msgspec.Struct, frozen=True):
    through_seq: int
    through_hash: bytes
    leftover: int


class _Verified(msgspec.Struct, frozen=True):
    through_seq: int
    through_hash: bytes


async def verify(source: ProtocolSource, tenant: str | None = None, *, full: bool = False) -> VerifyReport:
    """Verify the chain of `tenant`, or of every tenant (operator URL only).

    Incremental from the latest verified checkpoint unless `full`; as the operator, a chain found
    intact gets a new checkpoint at its last record.
    """
    if isinstance(source, str):
        async with operator_connection(source) as connection:
            tenants = [tenant] if tenant is not None else await _tenants(connection)
            return VerifyReport(tuple([await _verify_as_operator(connection, t, full) for t in tenants]))
    if tenant is None:
        raise ProtocolAccessError("verifying with the runtime pool needs a tenant")
    async with tenant_transaction(source, tenant, isolation="repeatable_read", readonly=True) as connection:
        return VerifyReport((await _verify_tenant(connection, tenant, full),))


def format_report(report: VerifyReport) -> str:
    """One line per chain, for the CLI: tenant, records checked, head, and the first break if any."""
    lines = []
    for chain in report.chains:
        broken = chain.first_break
        state = "ok" if broken is None else f"BROKEN at seq {broken.seq} ({broken.kind}): {broken.detail}"
        checked = f"records={chain.records}"
        if chain.after_seq:
            checked += f" (after verified {chain.after_seq})"
        lines.append(f"{chain.tenant}\t{checked}\thead={chain.head_seq}:{chain.head_hash}\t{state}")
    lines.append("protocol chain intact" if report.ok else "protocol chain BROKEN")
    return "\n".join(lines)


async def _tenants(connection: Connection) -> list[str]:
    return [row["tenant"] for row in await connection.fetch(_TENANTS)]


async def _verify_as_operator(connection: Connection, tenant: str, full: bool) -> ChainReport:
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        report = await _verify_tenant(connection, tenant, full)
    if report.ok and report.head_seq > report.after_seq:
        # After the snapshot: the checkpoint only claims what that snapshot showed intact.
        await connection.execute(_NOTE_VERIFIED, tenant, report.head_seq, bytes.fromhex(report.head_hash))
    return report


async def _verify_tenant(connection: Connection, tenant: str, full: bool) -> ChainReport:
    head = await connection.fetchrow(_HEAD, tenant)
    retention = await _retention_checkpoint(connection, tenant)
    verified = None if full else await _verified_checkpoint(connection, tenant)
    if verified is not None and verified.through_seq > (retention.through_seq if retention else 0):
        # Re-hash the checkpoint's own record too: it must still be what the last run saw.
        walk = _Walk(tenant, None, anchor=(verified.through_seq, verified.through_hash))
        after = verified.through_seq
    else:
        walk, after = _Walk(tenant, retention), 0
    async for row in connection.cursor(_ROWS, tenant, max(after - 1, 0), prefetch=_PREFETCH):
        if walk.step(row):
            break
    walk.finish(None if head is None else (int(head["seq"]), bytes(head["hash"])))
    orphan = await connection.fetchval(_ORPHAN, tenant, max(after - 1, 0))
    if orphan is not None:
        walk.fail(int(orphan), BreakKind.ORPHAN, "person rows without their record")
    return ChainReport(
        tenant=tenant,
        records=walk.records,
        head_seq=0 if head is None else int(head["seq"]),
        head_hash="" if head is None else bytes(head["hash"]).hex(),
        first_break=walk.first_break,
        after_seq=after,
    )


async def _retention_checkpoint(connection: Connection, tenant: str) -> _Checkpoint | None:
    row = await connection.fetchrow(_CHECKPOINT, tenant)
    if row is None:
        return None
    return _Checkpoint(int(row["through_seq"]), bytes(row["through_hash"]), int(row["leftover"]))


async def _verified_checkpoint(connection: Connection, tenant: str) -> _Verified | None:
    row = await connection.fetchrow(_VERIFIED, tenant)
    return None if row is None else _Verified(int(row["through_seq"]), bytes(row["through_hash"]))


class _Walk:
    """The state of walking one chain in sequence order."""

    __slots__ = (
        "_leftover_checked",
        "anchor",
        "checkpoint",
        "expected_prev",
        "expected_seq",
        "first_break",
        "leftover",
        "records",
        "tenant",
    )

    def __init__(
        self, tenant: str, checkpoint: _Checkpoint | None, anchor: tuple[int, bytes] | None = None
    ) -> None:
        self.tenant = tenant
        self.checkpoint = checkpoint
        # A verified checkpoint (seq, hash): the walk starts AT that record, which must still
        # match its hash and carry the checkpoint's hash; it is not counted as checked anew.
        self.anchor = anchor
        self.records = 0
        self.leftover = 0
        self.first_break: ChainBreak | None = None
        if anchor is not None:
            self.expected_seq, self.expected_prev = anchor[0], b""
        elif checkpoint is None:
            self.expected_seq, self.expected_prev = 1, genesis_hash(tenant)
        else:
            self.expected_seq, self.expected_prev = checkpoint.through_seq + 1, checkpoint.through_hash
        self._leftover_checked = checkpoint is None

    def fail(self, seq: int, kind: BreakKind, detail: str) -> None:
        """Note a break; only the one with the lowest sequence number is kept."""
        if self.first_break is None or seq < self.first_break.seq:
            self.first_break = ChainBreak(seq, kind, detail)

    def step(self, row: asyncpg.Record) -> bool:
        """Check one record; True when the walk must stop (a break was found)."""
        self.records += 1
        seq, prev_hash, stored_hash = int(row["seq"]), bytes(row["prev_hash"]), bytes(row["hash"])
        if not _matches(prev_hash, seq, _from_row(row), stored_hash):
            self.fail(seq, BreakKind.CHANGED, "the record does not match its hash")
            return True
        if self.anchor is not None and seq == self.anchor[0] == self.expected_seq:
            return self._step_anchor(seq, stored_hash)
        if self.checkpoint is not None and seq <= self.checkpoint.through_seq:
            return self._step_leftover(seq, stored_hash)
        if not self._check_leftover():
            return True
        if seq < self.expected_seq:
            self.fail(seq, BreakKind.DUPLICATE, "this sequence number occurs more than once")
        elif seq > self.expected_seq:
            self.fail(
                self.expected_seq, BreakKind.MISSING, f"records {self.expected_seq}..{seq - 1} are missing"
            )
        elif prev_hash != self.expected_prev:
            self.fail(seq, BreakKind.LINK, "prev_hash is not the hash of the record before")
        else:
            self.expected_seq, self.expected_prev = seq + 1, stored_hash
            return False
        return True

    def finish(self, head: tuple[int, bytes] | None) -> None:
        """Compare the end of the chain with its head."""
        if self.first_break is not None:
            return
        if not self._check_leftover():
            return
        last_seq = self.expected_seq - 1
        if head is None:
            if self.records:
                self.fail(1, BreakKind.HEAD, "records exist but the chain has no head")
            return
        head_seq, head_hash = head
        if head_seq > last_seq:
            self.fail(
                last_seq + 1, BreakKind.MISSING, f"the head is at {head_seq}, the last record at {last_seq}"
            )
        elif head_seq < last_seq:
            self.fail(head_seq + 1, BreakKind.HEAD, f"records after the head ({head_seq}) exist")
        elif head_hash != self.expected_prev:
            self.fail(head_seq, BreakKind.HEAD, "the head's hash is not the last record's hash")

    def _step_anchor(self, seq: int, stored_hash: bytes) -> bool:
        assert self.anchor is not None
        self.records -= 1
        if stored_hash != self.anchor[1]:
            self.fail(seq, BreakKind.LINK, "the record does not match the verified checkpoint")
            return True
        self.expected_seq, self.expected_prev = seq + 1, stored_hash
        return False

    def _step_leftover(self, seq: int, stored_hash: bytes) -> bool:
        assert self.checkpoint is not None
        self.leftover += 1
        if seq == self.checkpoint.through_seq and stored_hash != self.checkpoint.through_hash:
            self.fail(seq, BreakKind.LINK, "the record does not match the retention checkpoint")
            return True
        return False

    def _check_leftover(self) -> bool:
        if self._leftover_checked:
            return True
        self._leftover_checked = True
        assert self.checkpoint is not None
        if self.leftover != self.checkpoint.leftover:
            self.fail(
                self.checkpoint.through_seq,
                BreakKind.RETENTION,
                f"{self.leftover} records below the retention checkpoint, "
                f"{self.checkpoint.leftover} expected",
            )
            return False
        return True


def _matches(prev_hash: bytes, seq: int, record: ChainedRecord, stored_hash: bytes) -> bool:
    """True when `stored_hash` links `record` onto `prev_hash` in format 2 or (older records) 1."""
    return (
        linked_hash(prev_hash, seq, record_digest(record)) == stored_hash
        or link_hash(prev_hash, record) == stored_hash
    )


def _from_row(row: asyncpg.Record) -> ChainedRecord:
    stored: dict[str, object] = {name: row[name] for name in _STORED}
    stored["persons"] = tuple(zip(row["person_bsns"], row["person_roles"], strict=True))
    return msgspec.convert(stored, ChainedRecord)
