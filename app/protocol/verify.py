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

Signed heads (`public_keys`, migration 0018, `app.protocol.signed_heads`): a keyless chain can be
recomputed end to end by whoever controls the database; a head signed with a key the database never
sees cannot. With the broker's public keys, verify also checks:

- `signature` every stored signed head of the walked range verifies under a listed key id, and its
              row says what its signature says (a forged, altered or foreign-key signature);
- `signed`    the chain still holds each validly signed (seq, hash): the record at that seq (or the
              retention checkpoint that replaced it) carries exactly that hash, and no signed head
              lies beyond the chain's last record (a rewrite, or records cut off the end);
- `unsigned`  no record stays unsigned longer than `max_unsigned_age` (by its `recorded_at`), and
              the newest signature of a chain with records is younger than that: the signer signs
              a moved head within its interval and re-signs an unmoved one every heartbeat, so an
              old newest signature means the signer stopped or newer signatures were removed —
              whatever the records' own (forgeable) times say.
- `gap`       every UTC day between the chain's first and newest validly signed head has a valid
              signature of its own: the signer signs at once when it starts and re-signs every
              heartbeat (30 min), and thinning keeps one signed head per chain per day, so a day
              without one means the signer did not run that day — or that day's signatures were
              removed or forged. Such a stretch is BROKEN only when records were recorded in it
              (by `recorded_at`, which the next valid signature vouches for): those records went
              unsigned for at least the rest of the day, which an honest broker — it signs within
              a minute while it runs — never does. An honest broker that was down (a weekend)
              records nothing in it: that stretch is a note, not a break. (After the newest valid
              signature, `unsigned` applies.) Every stored signature of the whole chain counts,
              also in incremental runs: the days the walk did not reach are looked up per day.
- Incremental runs trust a verified checkpoint (which the owner role can write) only where it
  coincides with a validly signed head; otherwise they start from the newest validly signed head
  at or below it, or from the start, and the report says so.

Anchors (`anchors`, `app.protocol.anchors`): heads published outside the database (log lines,
anchor files). `anchor`: the chain must hold every published (seq, hash) — a published head the
database no longer has means a rewrite or a removal — unless retention removed that record.

Never prints a record: a report holds tenants, sequence numbers, hashes and break kinds only.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
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
from app.protocol.anchors import Anchors
from app.protocol.chain import ChainedRecord, genesis_hash, link_hash, linked_hash, record_digest
from app.protocol.signing import PublicKeys, SignatureError, SignedHead, open_signed_head

__all__ = [
    "DEFAULT_MAX_UNSIGNED_AGE",
    "BreakKind",
    "ChainBreak",
    "ChainReport",
    "SignedStatus",
    "VerifyReport",
    "format_report",
    "verify",
]

# Longer than the signer's interval (60 s) plus its heartbeat (30 min), with room for a slow round.
DEFAULT_MAX_UNSIGNED_AGE: Final = dt.timedelta(hours=1)

# Every stored column the hash covers, read back as `ChainedRecord` lists them (the one list of a
# record's fields): a field added there is verified without a change here.
_STORED: Final = tuple(name for name in ChainedRecord.__struct_fields__ if name != "persons")
# `json` hashed as the exact text stored.
_AS_STORED: Final = {"search_parameters": "r.search_parameters::text AS search_parameters"}
_ROWS_TEMPLATE: Final = f"""
SELECT {", ".join(_AS_STORED.get(name, f"r.{name}") for name in _STORED)}, r.prev_hash, r.hash,
       coalesce(p.bsns, '{{{{}}}}') AS person_bsns,
       coalesce(p.roles, '{{{{}}}}') AS person_roles{{signed_columns}}
FROM protocol_records r
LEFT JOIN LATERAL (
    SELECT array_agg(p.bsn ORDER BY p.position) AS bsns, array_agg(p.role ORDER BY p.position) AS roles
    FROM protocol_persons p
    WHERE p.tenant = r.tenant AND p.seq = r.seq AND p.occurred_at = r.occurred_at
) p ON true{{signed_join}}
WHERE r.tenant = $1 AND r.seq > $2
ORDER BY r.seq, r.occurred_at
"""  # noqa: S608 -- the identifiers are ChainedRecord's field names, never input
_ROWS: Final = _ROWS_TEMPLATE.format(signed_columns="", signed_join="")
# With public keys: each record with the signed heads at its seq, read in the same walk.
_SIGNED_ROWS: Final = _ROWS_TEMPLATE.format(
    signed_columns=",\n       s.hashes AS signed_hashes, s.ats AS signed_ats, s.kids AS signed_kids, "
    "s.jws AS signed_jws",
    signed_join="""
LEFT JOIN LATERAL (
    SELECT array_agg(s.hash ORDER BY s.signed_at) AS hashes,
           array_agg(s.signed_at ORDER BY s.signed_at) AS ats,
           array_agg(s.key_id ORDER BY s.signed_at) AS kids, array_agg(s.jws ORDER BY s.signed_at) AS jws
    FROM protocol_signed_heads s WHERE s.tenant = r.tenant AND s.seq = r.seq
) s ON true""",
)
_SIGNED_COLUMNS: Final = "seq, hash, signed_at, key_id, jws"
# Signed heads beyond a chain's last record, and below a retention checkpoint whose record is gone.
_SIGNED_AFTER: Final = f"""
SELECT {_SIGNED_COLUMNS} FROM protocol_signed_heads WHERE tenant = $1 AND seq > $2 ORDER BY seq, signed_at
"""  # noqa: S608 -- constant column names
_SIGNED_REMOVED: Final = f"""
SELECT {_SIGNED_COLUMNS} FROM protocol_signed_heads s
WHERE s.tenant = $1 AND s.seq <= $2
  AND NOT EXISTS (SELECT 1 FROM protocol_records r WHERE r.tenant = s.tenant AND r.seq = s.seq)
ORDER BY s.seq, s.signed_at
"""  # noqa: S608 -- constant column names
# Newest first: the newest valid one ends the unsigned stretch; at or below a seq: where to start.
_SIGNED_NEWEST: Final = f"""
SELECT {_SIGNED_COLUMNS} FROM protocol_signed_heads WHERE tenant = $1 AND seq <= $2
ORDER BY seq DESC, signed_at DESC
"""  # noqa: S608 -- constant column names
# The UTC days with a stored signed head (valid or not), up to now.
_SIGNED_DAYS: Final = """
SELECT DISTINCT (signed_at AT TIME ZONE 'UTC')::date AS day FROM protocol_signed_heads
WHERE tenant = $1 AND signed_at <= $2 ORDER BY 1
"""
_SIGNED_ON: Final = f"""
SELECT {_SIGNED_COLUMNS} FROM protocol_signed_heads WHERE tenant = $1 AND signed_at >= $2 AND signed_at < $3
ORDER BY signed_at DESC, seq DESC
"""  # noqa: S608 -- constant column names
# The first record recorded in a stretch without signatures, between the heads signed around it.
_RECORDED_IN: Final = """
SELECT seq FROM protocol_records
WHERE tenant = $1 AND seq > $2 AND seq <= $3 AND recorded_at >= $4 AND recorded_at < $5
ORDER BY seq LIMIT 1
"""
_FIRST_AFTER: Final = (
    "SELECT seq, recorded_at FROM protocol_records WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT 1"
)
_HASHES_AT: Final = "SELECT seq, hash FROM protocol_records WHERE tenant = $1 AND seq = ANY($2::bigint[])"
_LOOKUP_BATCH: Final = 10_000
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
    SIGNATURE = "signature"
    SIGNED = "signed"
    UNSIGNED = "unsigned"
    GAP = "gap"
    ANCHOR = "anchor"


class ChainBreak(msgspec.Struct, frozen=True):
    """The first broken link of a chain: at which sequence number, and what is wrong."""

    seq: int
    kind: BreakKind
    detail: str


class SignedStatus(msgspec.Struct, frozen=True):
    """What the signatures (and published heads) of one chain showed.

    `signatures`: stored signed heads that verified; `signed_seq`/`signed_at`: the newest of them
    (0 and "" when none); `unsigned`: records after it; `anchors`: published heads checked.
    """

    signatures: int
    signed_seq: int
    signed_at: str
    unsigned: int
    anchors: int = 0


class ChainReport(msgspec.Struct, frozen=True):
    """One tenant's chain: how many records were checked, its head, and its first break if any.

    `after_seq` is where the walk began: 0 for the whole chain (or from retention's checkpoint),
    else the checkpoint an incremental run continued from (`after`: "verified", or "signed" when
    public keys were given). `signed` is set when public keys or anchors were given; `notes` say
    what a reader of the report should know beyond ok/BROKEN (where the walk started and why).
    """

    tenant: str
    records: int
    head_seq: int
    head_hash: str
    first_break: ChainBreak | None = None
    after_seq: int = 0
    after: str = "verified"
    signed: SignedStatus | None = None
    notes: tuple[str, ...] = ()

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


class _Checks(msgspec.Struct, frozen=True):
    """What a run checks besides the links: signatures (with `keys`), published heads, and when."""

    keys: PublicKeys | None
    anchors: Anchors | None
    max_unsigned_age: dt.timedelta
    now: dt.datetime


async def verify(
    source: ProtocolSource,
    tenant: str | None = None,
    *,
    full: bool = False,
    public_keys: PublicKeys | None = None,
    anchors: Anchors | None = None,
    max_unsigned_age: dt.timedelta = DEFAULT_MAX_UNSIGNED_AGE,
    now: dt.datetime | None = None,
) -> VerifyReport:
    """Verify the chain of `tenant`, or of every tenant (operator URL only).

    Incremental from the latest verified checkpoint unless `full`; as the operator, a chain found
    intact gets a new checkpoint at its last record. With `public_keys` the signed heads are
    checked too, and with `anchors` the published heads (see the module docstring); `now` (default:
    this machine's clock, never the database's) is when unsigned records and signatures are aged.
    """
    checks = _Checks(public_keys, anchors, max_unsigned_age, now or dt.datetime.now(dt.UTC))
    if isinstance(source, str):
        async with operator_connection(source) as connection:
            tenants = [tenant] if tenant is not None else await _tenants(connection, anchors)
            return VerifyReport(
                tuple([await _verify_as_operator(connection, t, full, checks) for t in tenants])
            )
    if tenant is None:
        raise ProtocolAccessError("verifying with the runtime pool needs a tenant")
    async with tenant_transaction(source, tenant, isolation="repeatable_read", readonly=True) as connection:
        return VerifyReport((await _verify_tenant(connection, tenant, full, checks),))


def format_report(report: VerifyReport) -> str:
    """One line per chain, for the CLI: tenant, records checked, head, and the first break if any."""
    lines = []
    for chain in report.chains:
        broken = chain.first_break
        state = "ok" if broken is None else f"BROKEN at seq {broken.seq} ({broken.kind}): {broken.detail}"
        checked = f"records={chain.records}"
        if chain.after_seq:
            checked += f" (after {chain.after} {chain.after_seq})"
        fields = [chain.tenant, checked, f"head={chain.head_seq}:{chain.head_hash}"]
        if chain.signed is not None:
            fields.append(_format_signed(chain.signed))
        fields.extend(f"note: {note}" for note in chain.notes)
        lines.append("\t".join([*fields, state]))
    lines.append("protocol chain intact" if report.ok else "protocol chain BROKEN")
    return "\n".join(lines)


def _format_signed(signed: SignedStatus) -> str:
    newest = f"signed={signed.signed_seq}" + (f" at {signed.signed_at}" if signed.signed_at else "")
    text = f"{newest} signatures={signed.signatures} unsigned={signed.unsigned}"
    return text + (f" anchors={signed.anchors}" if signed.anchors else "")


async def _tenants(connection: Connection, anchors: Anchors | None = None) -> list[str]:
    tenants = {row["tenant"] for row in await connection.fetch(_TENANTS)}
    # A tenant whose heads were published but whose chain is gone from the database is verified too.
    return sorted(tenants | set(anchors.tenants if anchors is not None else ()))


async def _verify_as_operator(
    connection: Connection, tenant: str, full: bool, checks: _Checks
) -> ChainReport:
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        report = await _verify_tenant(connection, tenant, full, checks)
    if report.ok and report.head_seq > report.after_seq:
        # After the snapshot: the checkpoint only claims what that snapshot showed intact.
        await connection.execute(_NOTE_VERIFIED, tenant, report.head_seq, bytes.fromhex(report.head_hash))
    return report


async def _verify_tenant(connection: Connection, tenant: str, full: bool, checks: _Checks) -> ChainReport:
    head = await connection.fetchrow(_HEAD, tenant)
    retention = await _retention_checkpoint(connection, tenant)
    floor = retention.through_seq if retention else 0
    witnesses = _Witnesses(tenant, checks, retention)
    start = None if full else await _start(connection, tenant, checks, witnesses)
    if start is not None and start.seq > floor:
        # Re-hash the start's own record too: it must still be what the last run (or signer) saw.
        walk = _Walk(tenant, None, anchor=start, witnesses=witnesses)
        after = start.seq
    else:
        walk, after = _Walk(tenant, retention, witnesses=witnesses), 0
    rows = _ROWS if checks.keys is None else _SIGNED_ROWS
    async for row in connection.cursor(rows, tenant, max(after - 1, 0), prefetch=_PREFETCH):
        if walk.step(row):
            break
    head_at = None if head is None else (int(head["seq"]), bytes(head["hash"]))
    walk.finish(head_at)
    orphan = await connection.fetchval(_ORPHAN, tenant, max(after - 1, 0))
    if orphan is not None:
        walk.fail(int(orphan), BreakKind.ORPHAN, "person rows without their record")
    signed = await witnesses.conclude(connection, walk, head_at, walked_from=after)
    breaks = [b for b in (walk.first_break, *witnesses.breaks) if b is not None]
    return ChainReport(
        tenant=tenant,
        records=walk.records,
        head_seq=0 if head is None else int(head["seq"]),
        head_hash="" if head is None else bytes(head["hash"]).hex(),
        first_break=min(breaks, key=lambda b: b.seq) if breaks else None,
        after_seq=after,
        after="verified" if checks.keys is None else "signed",
        signed=signed,
        notes=tuple(witnesses.notes),
    )


class _StoredHead(msgspec.Struct, frozen=True):
    """A row of `protocol_signed_heads`: its columns, and the JWS that should say the same."""

    seq: int
    hash: bytes
    signed_at: dt.datetime
    key_id: str
    jws: str


class _Start(msgspec.Struct, frozen=True):
    """Where an incremental walk starts: a record that must still carry `hash`, and why."""

    seq: int
    hash: bytes
    kind: BreakKind
    detail: str


async def _start(
    connection: Connection, tenant: str, checks: _Checks, witnesses: _Witnesses
) -> _Start | None:
    """The record an incremental walk starts at, or None for the start of the chain.

    Without public keys: the latest verified checkpoint. With them: the checkpoint only where a
    validly signed head vouches for it — else the newest validly signed head below it, else none.
    """
    verified = await _verified_checkpoint(connection, tenant)
    if verified is None:
        return None
    if checks.keys is None:
        return _Start(
            verified.through_seq,
            verified.through_hash,
            BreakKind.LINK,
            "the record does not match the verified checkpoint",
        )
    # Not counted: the walk opens the start's signatures again.
    signed = await witnesses.newest_valid(connection, verified.through_seq, count=False)
    detail = "the record does not match the signed head the walk starts from"
    if signed is None:
        witnesses.notes.append(
            f"verified checkpoint {verified.through_seq} is not a signed head and no signed head lies "
            "below it: walked from the start"
        )
        return None
    if (signed.seq, signed.hash_bytes) != (verified.through_seq, verified.through_hash):
        witnesses.notes.append(
            f"verified checkpoint {verified.through_seq} is not a signed head: walked from signed head "
            f"{signed.seq}"
        )
    return _Start(signed.seq, signed.hash_bytes, BreakKind.SIGNED, detail)


class _Witnesses:
    """What must hold besides the chain's own links: its signed heads and its published heads.

    `check` is asked about every walked record; `conclude` then checks what the walk did not reach
    (signed or published heads beyond the chain's end, or below where the walk began) and the
    unsigned stretch.
    """

    __slots__ = (
        "_checked_anchors",
        "_newest",
        "anchors",
        "breaks",
        "checks",
        "notes",
        "retention",
        "signed_days",
        "tenant",
        "valid",
    )

    def __init__(self, tenant: str, checks: _Checks, retention: _Checkpoint | None) -> None:
        self.tenant = tenant
        self.checks = checks
        self.retention = retention
        self.anchors = checks.anchors.of(tenant) if checks.anchors is not None else {}
        self._checked_anchors: set[int] = set()
        self.valid = 0
        self._newest: SignedHead | None = None
        # UTC day -> the lowest and highest seq validly signed that day.
        self.signed_days: dict[dt.date, tuple[int, int]] = {}
        self.breaks: list[ChainBreak] = []
        self.notes: list[str] = []

    def fail(self, seq: int, kind: BreakKind, detail: str) -> None:
        """Note a break (the report keeps the one with the lowest sequence number)."""
        self.breaks.append(ChainBreak(seq, kind, detail))

    def check(self, seq: int, stored_hash: bytes, row: asyncpg.Record) -> ChainBreak | None:
        """The first thing wrong with the walked record at `seq` by its signed and published heads."""
        if self.checks.keys is not None and row["signed_jws"] is not None:
            for signed_hash, signed_at, key_id, token in zip(
                row["signed_hashes"], row["signed_ats"], row["signed_kids"], row["signed_jws"], strict=True
            ):
                head = self._open(_StoredHead(seq, bytes(signed_hash), signed_at, key_id, token))
                if head is not None and head.hash_bytes != stored_hash:
                    return ChainBreak(
                        seq,
                        BreakKind.SIGNED,
                        f"the record's hash is not the one signed at {_moment(head.signed_at)}: "
                        "the chain was rewritten",
                    )
        return self._check_anchor(seq, stored_hash)

    def _check_anchor(self, seq: int, stored_hash: bytes | None) -> ChainBreak | None:
        published = self.anchors.get(seq)
        if not published:
            return None
        self._checked_anchors.add(seq)
        if len(published) > 1:
            sources = ", ".join(sorted(published.values()))
            return ChainBreak(seq, BreakKind.ANCHOR, f"published heads disagree at this seq ({sources})")
        ((published_hash, source),) = published.items()
        if stored_hash is None:
            return ChainBreak(seq, BreakKind.ANCHOR, f"the head published at {source} is not in the database")
        if stored_hash != published_hash:
            return ChainBreak(
                seq, BreakKind.ANCHOR, f"the record's hash is not the head published at {source}"
            )
        return None

    def _open(self, stored: _StoredHead, count: bool = True) -> SignedHead | None:
        """The head a stored signature vouches for, or None (and a break) when it does not verify.

        `count`: False for a signature the walk will open (and count) again.
        """
        assert self.checks.keys is not None
        try:
            opened = open_signed_head(stored.jws, self.checks.keys)
        except SignatureError as exc:
            self.fail(stored.seq, BreakKind.SIGNATURE, f"the signed head stored for this seq: {exc}")
            return None
        head = opened.head
        stated = (head.tenant, head.seq, head.hash_bytes, head.signed_at, opened.key_id)
        if stated != (self.tenant, stored.seq, stored.hash, stored.signed_at, stored.key_id):
            self.fail(
                stored.seq, BreakKind.SIGNATURE, "the signed-head row differs from what its signature says"
            )
            return None
        self.valid += count
        day = head.signed_at.astimezone(dt.UTC).date()
        low, high = self.signed_days.get(day, (head.seq, head.seq))
        self.signed_days[day] = (min(low, head.seq), max(high, head.seq))
        if self._newest is None or (head.seq, head.signed_at) > (self._newest.seq, self._newest.signed_at):
            self._newest = head
        return head

    async def newest_valid(
        self, connection: Connection, at_most: int, count: bool = True
    ) -> SignedHead | None:
        """The newest signed head at or below seq `at_most` that verifies (invalid ones are breaks)."""
        async for row in connection.cursor(_SIGNED_NEWEST, self.tenant, at_most, prefetch=16):
            head = self._open_row(row, count)
            if head is not None:
                return head
        return None

    def _open_row(self, row: asyncpg.Record, count: bool = True) -> SignedHead | None:
        stored = _StoredHead(int(row["seq"]), bytes(row["hash"]), row["signed_at"], row["key_id"], row["jws"])
        return self._open(stored, count)

    async def conclude(
        self, connection: Connection, walk: _Walk, head: tuple[int, bytes] | None, walked_from: int
    ) -> SignedStatus | None:
        """Check what the walk did not reach, and the unsigned stretch; the chain's signed status."""
        if self.checks.keys is None and self.checks.anchors is None:
            return None
        end = walk.end
        if self.checks.keys is not None:
            await self._signed_beyond(connection, end)
            if walked_from == 0 and self.retention is not None:
                await self._signed_removed(connection, self.retention)
        await self._anchors_elsewhere(connection)
        newest = self._newest
        if self.checks.keys is not None and (newest is None or end is None):
            # Not met in the walk (it began above every signature, or stopped at a break).
            found = await self.newest_valid(connection, head[0] if head is not None else 0)
            if found is not None and (
                newest is None or (found.seq, found.signed_at) > (newest.seq, newest.signed_at)
            ):
                newest = found
        unsigned = await self._unsigned(connection, head, newest)
        if self.checks.keys is not None:
            await self._gaps(connection)
        return SignedStatus(
            signatures=self.valid,
            signed_seq=0 if newest is None else newest.seq,
            signed_at="" if newest is None else _moment(newest.signed_at),
            unsigned=unsigned,
            anchors=len(self._checked_anchors),
        )

    async def _signed_beyond(self, connection: Connection, end: int | None) -> None:
        """Signed heads beyond the chain's last record: records were cut off the end."""
        if end is None:  # the walk stopped at a break; where the chain ends is unknown
            return
        for row in await connection.fetch(_SIGNED_AFTER, self.tenant, end):
            head = self._open_row(row)
            if head is not None:
                self.fail(
                    head.seq,
                    BreakKind.SIGNED,
                    f"a head was signed at seq {head.seq} ({_moment(head.signed_at)}) but the chain "
                    f"ends at {end}: records were removed from its end",
                )

    async def _signed_removed(self, connection: Connection, retention: _Checkpoint) -> None:
        """Signatures of records retention removed: each must verify; the checkpoint's own must match."""
        async for row in connection.cursor(
            _SIGNED_REMOVED, self.tenant, retention.through_seq, prefetch=_PREFETCH
        ):
            head = self._open_row(row)
            if (
                head is not None
                and head.seq == retention.through_seq
                and head.hash_bytes != retention.through_hash
            ):
                self.fail(
                    head.seq,
                    BreakKind.SIGNED,
                    "the retention checkpoint's hash is not the one the broker signed",
                )

    async def _anchors_elsewhere(self, connection: Connection) -> None:
        """Published heads the walk did not reach: looked up one batch at a time."""
        pending = sorted(seq for seq in self.anchors if seq not in self._checked_anchors)
        floor = self.retention.through_seq if self.retention is not None else 0
        for index in range(0, len(pending), _LOOKUP_BATCH):
            batch = pending[index : index + _LOOKUP_BATCH]
            stored = {
                int(row["seq"]): bytes(row["hash"])
                for row in await connection.fetch(_HASHES_AT, self.tenant, batch)
            }
            for seq in batch:
                found = stored.get(seq)
                if found is None and self.retention is not None and seq == floor:
                    found = self.retention.through_hash
                elif found is None and seq < floor:
                    continue  # removed by retention: nothing left to compare with
                broken = self._check_anchor(seq, found)
                if broken is not None:
                    self.breaks.append(broken)

    async def _gaps(self, connection: Connection) -> None:
        """Stretches of UTC days without a valid signature between the first and the newest one."""
        for row in await connection.fetch(_SIGNED_DAYS, self.tenant, self.checks.now):
            day: dt.date = row["day"]
            if day not in self.signed_days:  # not met in the walk: open that day's, newest first
                start = dt.datetime.combine(day, dt.time(), dt.UTC)
                async for stored in connection.cursor(
                    _SIGNED_ON, self.tenant, start, start + dt.timedelta(days=1), prefetch=16
                ):
                    if self._open_row(stored, count=False) is not None:
                        break
        days = sorted(self.signed_days)
        for before, after in itertools.pairwise(days):
            if (after - before).days > 1:
                await self._gap(connection, before, after)

    async def _gap(self, connection: Connection, before: dt.date, after: dt.date) -> None:
        first, last = before + dt.timedelta(days=1), after - dt.timedelta(days=1)
        stretch = f"{first}..{last}"
        start = dt.datetime.combine(first, dt.time(), dt.UTC)
        end = dt.datetime.combine(after, dt.time(), dt.UTC)
        recorded = await connection.fetchval(
            _RECORDED_IN, self.tenant, self.signed_days[before][1], self.signed_days[after][1], start, end
        )
        if recorded is None:
            self.notes.append(
                f"no valid signature on {stretch} (UTC) and no record recorded then: the broker was "
                "down, or the signatures of a quiet stretch were removed"
            )
            return
        self.fail(
            int(recorded),
            BreakKind.GAP,
            f"no valid signature on {stretch} (UTC), yet records were recorded then: the signer did "
            "not run while the broker recorded, or signatures were removed",
        )

    async def _unsigned(
        self, connection: Connection, head: tuple[int, bytes] | None, newest: SignedHead | None
    ) -> int:
        """Records after the newest valid signed head; too old a stretch or signature is a break."""
        if head is None or head[0] == 0:
            return 0
        floor = self.retention.through_seq if self.retention is not None else 0
        signed_seq = 0 if newest is None else newest.seq
        unsigned = max(head[0] - max(signed_seq, floor), 0)
        if self.checks.keys is None:
            return unsigned
        limit = self.checks.max_unsigned_age
        first = (
            await connection.fetchrow(_FIRST_AFTER, self.tenant, max(signed_seq, floor)) if unsigned else None
        )
        if first is not None and self.checks.now - first["recorded_at"] > limit:
            self.fail(
                int(first["seq"]),
                BreakKind.UNSIGNED,
                f"records {first['seq']}..{head[0]} are not signed; the oldest was recorded at "
                f"{_moment(first['recorded_at'])}, more than {_duration(limit)} ago",
            )
        elif newest is None and unsigned:
            # Young records of a chain never signed: a new chain, or one whose every signature and
            # record time were rewritten — only published heads (anchors) tell these apart.
            self.notes.append("no signed head yet (its records are younger than the limit)")
        if newest is not None and self.checks.now - newest.signed_at > limit:
            self.fail(
                newest.seq,
                BreakKind.UNSIGNED,
                f"the newest signature of this chain is from {_moment(newest.signed_at)}, more than "
                f"{_duration(limit)} ago: the signer stopped, or newer signatures were removed",
            )
        return unsigned


def _moment(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _duration(span: dt.timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds} s"


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
        "witnesses",
    )

    def __init__(
        self,
        tenant: str,
        checkpoint: _Checkpoint | None,
        anchor: _Start | None = None,
        witnesses: _Witnesses | None = None,
    ) -> None:
        self.tenant = tenant
        self.checkpoint = checkpoint
        # A verified checkpoint or signed head (seq, hash): the walk starts AT that record, which
        # must still match its hash and carry the anchor's hash; it is not counted as checked anew.
        self.anchor = anchor
        self.witnesses = witnesses
        self.records = 0
        self.leftover = 0
        self.first_break: ChainBreak | None = None
        if anchor is not None:
            self.expected_seq, self.expected_prev = anchor.seq, b""
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
        if self.anchor is not None and seq == self.anchor.seq == self.expected_seq:
            return self._step_anchor(seq, stored_hash, row)
        if self.checkpoint is not None and seq <= self.checkpoint.through_seq:
            return self._step_leftover(seq, stored_hash, row)
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
        elif not self._witnessed(seq, stored_hash, row):
            self.expected_seq, self.expected_prev = seq + 1, stored_hash
            return False
        return True

    @property
    def end(self) -> int | None:
        """The chain's last record as walked, or None when the walk found a break."""
        return None if self.first_break is not None else self.expected_seq - 1

    def _witnessed(self, seq: int, stored_hash: bytes, row: asyncpg.Record) -> bool:
        """True (and a break) when the record's signed or published heads say otherwise."""
        if self.witnesses is None:
            return False
        broken = self.witnesses.check(seq, stored_hash, row)
        if broken is None:
            return False
        self.fail(broken.seq, broken.kind, broken.detail)
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

    def _step_anchor(self, seq: int, stored_hash: bytes, row: asyncpg.Record) -> bool:
        assert self.anchor is not None
        self.records -= 1
        if stored_hash != self.anchor.hash:
            self.fail(seq, self.anchor.kind, self.anchor.detail)
            return True
        if self._witnessed(seq, stored_hash, row):
            return True
        self.expected_seq, self.expected_prev = seq + 1, stored_hash
        return False

    def _step_leftover(self, seq: int, stored_hash: bytes, row: asyncpg.Record) -> bool:
        assert self.checkpoint is not None
        self.leftover += 1
        if seq == self.checkpoint.through_seq and stored_hash != self.checkpoint.through_hash:
            self.fail(seq, BreakKind.LINK, "the record does not match the retention checkpoint")
            return True
        return self._witnessed(seq, stored_hash, row)

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
