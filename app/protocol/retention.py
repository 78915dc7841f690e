"""Retention: remove whole monthly partitions once every record in them is older than the term.

The Wet BRP keeps protocol records for 20 years. `apply_retention` drops a partition (of records
and of persons) only when its upper bound lies at or before `now - term_years`, so nothing younger
than the term is ever removed, and it never removes single records. The term is configurable
upward only: `term_years >= minimum_years >= HARD_FLOOR_YEARS` (20, the legal term), checked before
anything is touched. `now` may be given (tests, a re-run) but never later than the database's clock.

Before dropping, per tenant, a checkpoint is appended to `protocol_retention`: the highest sequence
number removed, its hash, and how many records with a lower number stay (those that fell in a
younger partition). `verify` continues the chain from there. Checkpoints and drops happen in one
transaction, as the owner role, waiting at most `lock_timeout_ms` for the table locks a drop
needs. A run costs a few index probes per partition and tenant, and one DROP per dropped
partition: the same for a month of a thousand records as for a month of millions
(`tests/benchmarks/protocol_scale.py`).

Also creates the coming months' partitions, so a daily `brp-broker protocol retention` keeps them
ahead even when no writer runs.

Then it thins the signed chain heads (`broker.protocol_signed_heads`, migrations 0018 and 0019),
which the signer adds about once a minute per active chain, plus heartbeats. Per chain, through
`broker.protocol_thin_signed_heads` (the one way the database lets them be deleted), in a
statement of its own after the drop committed (the drop's locks stop the writers; a long delete
must not prolong them):

- every signed head of the last `keep_signed_heads_days` (whole UTC days, default 35) stays;
- before that, the newest signed head of each UTC day stays, and so does the first signed head at
  or above the chain's latest retention checkpoint (`verify` compares it with the checkpoint);
- signed heads of records retention removed are pruned: `verify` has nothing left to compare them
  with (the checkpoint's own is the one kept above).

What `verify --public-keys` relies on survives: the newest signature of each chain (the unsigned
check), a signature at or just above the checkpoint, and each day's newest signature, each of
which vouches for the whole chain below it — so a rewrite of any record older than the window is
still caught, at the first kept signature after it.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import msgspec

from app.protocol.access import Connection, operator_connection
from app.protocol.partitions import DEFAULT_MONTHS_AHEAD, Partition, ensure_partitions, list_partitions

__all__ = [
    "DEFAULT_KEEP_SIGNED_HEADS_DAYS",
    "DEFAULT_TERM_YEARS",
    "HARD_FLOOR_YEARS",
    "MAX_KEEP_SIGNED_HEADS_DAYS",
    "MIN_KEEP_SIGNED_HEADS_DAYS",
    "RetentionError",
    "RetentionReport",
    "apply_retention",
    "years_before",
]

HARD_FLOOR_YEARS: Final = 20
DEFAULT_TERM_YEARS: Final = 20
# Signed heads of this many whole UTC days stay in full: a month of audits, and a few days over.
DEFAULT_KEEP_SIGNED_HEADS_DAYS: Final = 35
# The database refuses to thin the last day (it holds each chain's newest signature).
MIN_KEEP_SIGNED_HEADS_DAYS: Final = 1
# A hundred years: "keep every signed head" (e.g. while tampering is investigated).
MAX_KEEP_SIGNED_HEADS_DAYS: Final = 36_525
# The caller's `now` may run ahead of the database's clock by this much (clock skew), no more.
_CLOCK_SKEW: Final = dt.timedelta(minutes=5)

# Per tenant with a chain, its last record below the bound: one backward walk of the primary key
# (tenant, seq, occurred_at) in each dropped partition, however many records a month holds. (A
# DISTINCT ON over the dropped months read and sorted every record in them.) A tenant with records
# but no head has no chain to continue; `verify` reports it as broken whatever retention does.
_LAST_DROPPED: Final = """
SELECT h.tenant, last.seq, last.hash
FROM (SELECT DISTINCT tenant FROM protocol_chain_heads) AS h
CROSS JOIN LATERAL (
    SELECT r.seq, r.hash FROM protocol_records r
    WHERE r.tenant = h.tenant AND r.occurred_at < $1
    ORDER BY r.seq DESC LIMIT 1
) AS last
ORDER BY h.tenant
"""
_PREVIOUS: Final = (
    "SELECT through_seq, through_hash FROM protocol_retention WHERE tenant = $1 ORDER BY id DESC LIMIT 1"
)
_LEFTOVER: Final = (
    "SELECT count(*) FROM protocol_records WHERE tenant = $1 AND seq <= $2 AND occurred_at >= $3"
)
_CHECKPOINT: Final = """
INSERT INTO protocol_retention (tenant, through_seq, through_hash, leftover, cutoff, partitions)
VALUES ($1, $2, $3, $4, $5, $6)
"""
# Every chain the signer may have signed: it signs chain heads, and a head never disappears.
_CHAINS: Final = "SELECT tenant FROM protocol_chain_heads ORDER BY tenant"
_THIN: Final = "SELECT thinned, pruned FROM protocol_thin_signed_heads($1, $2)"


class RetentionError(Exception):
    """Retention refuses to run (a term below the floor, a `now` in the future); nothing was removed."""


class RetentionReport(msgspec.Struct, frozen=True):
    """What one run did: the cutoff, the partitions dropped, the tenants checkpointed.

    And the signed heads: every one signed from `signed_heads_kept_since` (a UTC midnight) on was
    kept; `signed_heads_thinned` older ones went (not the newest of their day), and
    `signed_heads_pruned` of records retention removed.
    """

    cutoff: dt.datetime
    dropped: tuple[str, ...]
    checkpoints: int
    partitions_created: int
    signed_heads_kept_since: dt.datetime
    signed_heads_thinned: int
    signed_heads_pruned: int


def years_before(moment: dt.datetime, years: int) -> dt.datetime:
    """The same calendar moment `years` earlier (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


async def apply_retention(
    url: str,
    *,
    term_years: int = DEFAULT_TERM_YEARS,
    minimum_years: int = HARD_FLOOR_YEARS,
    now: dt.datetime | None = None,
    months_ahead: int = DEFAULT_MONTHS_AHEAD,
    lock_timeout_ms: int = 10_000,
    keep_signed_heads_days: int = DEFAULT_KEEP_SIGNED_HEADS_DAYS,
) -> RetentionReport:
    """Drop the partitions older than the term, then thin the signed heads (as the owner, at `url`).

    See the module docstring; nothing is touched when a term, `now` or `keep_signed_heads_days`
    is refused.
    """
    _check_terms(term_years, minimum_years)
    _check_keep_days(keep_signed_heads_days)
    async with operator_connection(url) as connection:
        database_now: dt.datetime = await connection.fetchval("SELECT now()")
        moment = _check_now(now, database_now)
        cutoff = years_before(moment, term_years)
        created = await ensure_partitions(connection, months_ahead)
        async with connection.transaction():
            await connection.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
            doomed = [p for p in await list_partitions(connection) if p.upper <= cutoff]
            checkpoints = await _checkpoint(connection, doomed, cutoff) if doomed else 0
            for partition in doomed:
                await connection.execute(f"DROP TABLE broker.{_identifier(partition.name)}")
        # Never later than the database's clock (a `now` within the skew may run ahead of it).
        keep_since = min(moment, database_now) - dt.timedelta(days=keep_signed_heads_days)
        thinned, pruned = await _thin_signed_heads(connection, keep_since)
    return RetentionReport(
        cutoff=cutoff,
        dropped=tuple(p.name for p in doomed),
        checkpoints=checkpoints,
        partitions_created=created,
        signed_heads_kept_since=_utc_midnight(keep_since),
        signed_heads_thinned=thinned,
        signed_heads_pruned=pruned,
    )


def _check_terms(term_years: int, minimum_years: int) -> None:
    if minimum_years < HARD_FLOOR_YEARS:
        raise RetentionError(
            f"the minimum retention is {minimum_years} years; the law requires at least {HARD_FLOOR_YEARS}"
        )
    if term_years < minimum_years:
        raise RetentionError(
            f"the retention term ({term_years} years) is below the minimum ({minimum_years})"
        )


def _check_keep_days(days: int) -> None:
    if not MIN_KEEP_SIGNED_HEADS_DAYS <= days <= MAX_KEEP_SIGNED_HEADS_DAYS:
        raise RetentionError(
            f"signed heads are kept in full for {MIN_KEEP_SIGNED_HEADS_DAYS} to "
            f"{MAX_KEEP_SIGNED_HEADS_DAYS} days, not {days}"
        )


def _check_now(now: dt.datetime | None, database_now: dt.datetime) -> dt.datetime:
    if now is None:
        return database_now
    moment = now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)
    if moment > database_now + _CLOCK_SKEW:
        raise RetentionError("`now` lies in the future; retention only runs on the present or the past")
    return moment


async def _checkpoint(connection: Connection, doomed: list[Partition], cutoff: dt.datetime) -> int:
    """Append, per tenant with records in `doomed`, where its chain continues after the drop."""
    bound = max(p.upper for p in doomed)
    names = sorted({p.name for p in doomed})
    rows = await connection.fetch(_LAST_DROPPED, bound)
    for row in rows:
        tenant, through_seq, through_hash = row["tenant"], int(row["seq"]), bytes(row["hash"])
        previous = await connection.fetchrow(_PREVIOUS, tenant)
        if previous is not None and int(previous["through_seq"]) > through_seq:
            through_seq, through_hash = int(previous["through_seq"]), bytes(previous["through_hash"])
        leftover = await connection.fetchval(_LEFTOVER, tenant, through_seq, bound)
        # The INSERT policy is the tenants' own, fail-closed one: the owner writes as that tenant.
        await connection.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
        await connection.execute(_CHECKPOINT, tenant, through_seq, through_hash, leftover, cutoff, names)
    return len(rows)


async def _thin_signed_heads(connection: Connection, keep_since: dt.datetime) -> tuple[int, int]:
    """Thin each chain's signed heads signed before `keep_since`; (thinned, pruned) in all.

    One statement (and transaction) per chain: a first run over years of unthinned heads deletes
    a chain's worth at a time, never the whole table's in one transaction.
    """
    thinned = pruned = 0
    for chain in await connection.fetch(_CHAINS):
        row = await connection.fetchrow(_THIN, chain["tenant"], keep_since)
        assert row is not None  # the function returns exactly one row
        thinned += int(row["thinned"])
        pruned += int(row["pruned"])
    return thinned, pruned


def _utc_midnight(moment: dt.datetime) -> dt.datetime:
    """The start of `moment`'s UTC day: where the database's thinning keeps every signed head from."""
    return moment.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
