"""Thinning signed chain heads (`protocol retention`, migration 0019): old days keep their newest
signed head, the last weeks keep all, retention's checkpoint keeps the one `verify` compares with —
and `verify --public-keys` still passes afterwards and still catches a rewrite of old records.

Dates are derived from now: the signer's clock is set back by whole days, never to a fixed date.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import asyncpg
import msgspec
import pytest

from app.protocol import BreakKind, ProtocolWriter, create_partitions, format_report, verify
from app.protocol.retention import (
    DEFAULT_KEEP_SIGNED_HEADS_DAYS,
    RetentionError,
    apply_retention,
    years_before,
)
from app.protocol.signed_heads import HeadSigner
from app.protocol.signing import PublicKeys, SigningKey, generate_signing_key
from tests.integration.protocol.factories import PoolFactory, consulted, record
from tests.integration.protocol.test_signed_heads import Clock, _first_break, _rewrite

TENANT = "gemeente-a"
OTHER = "gemeente-b"
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

Head = tuple[int, dt.datetime]


def _midnight(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture
def key() -> SigningKey:
    return generate_signing_key()


@pytest.fixture
def keys(key: SigningKey) -> PublicKeys:
    return PublicKeys.from_jwks({"keys": [key.public_jwk()]})


@pytest.fixture
async def owner(fresh_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection with triggers off: an owner bent on tampering."""
    connection = await asyncpg.connect(fresh_url)
    await connection.execute("SET session_replication_role = replica")
    yield connection
    await connection.close()


@dataclass
class History:
    """Writes records and signs heads as the clock moves: a chain's past, replayed quickly."""

    pool: asyncpg.Pool
    writer: ProtocolWriter
    signer: HeadSigner
    clock: Clock
    stored: dict[str, list[Head]] = field(default_factory=dict)

    async def at(self, moment: dt.datetime, **writes: Iterable[dt.datetime]) -> None:
        """At `moment`: write records (tenant=[occurred_at, ...]), then run one signing round."""
        for tenant, times in writes.items():
            for occurred_at in times:
                await self.writer.record(record(tenant, consulted("999993653"), occurred_at=occurred_at))
        self.clock.now = moment
        for signature in await self.signer.sign_round():
            self.stored.setdefault(signature.head.tenant, []).append(
                (signature.head.seq, signature.head.signed_at)
            )


@pytest.fixture
async def history(fresh_url: str, runtime_pool: PoolFactory, key: SigningKey) -> AsyncIterator[History]:
    pool = await runtime_pool(fresh_url)
    writer = ProtocolWriter(pool)
    await writer.start()
    clock = Clock()
    yield History(pool, writer, HeadSigner(pool, key, heartbeat=1800, clock=clock), clock)
    await writer.stop()


async def _heads(url: str, tenant: str) -> list[Head]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT seq, signed_at FROM broker.protocol_signed_heads WHERE tenant = $1 "
            "ORDER BY seq, signed_at",
            tenant,
        )
    finally:
        await connection.close()
    return [(row["seq"], row["signed_at"]) for row in rows]


def _newest_per_day(heads: list[Head], before: dt.datetime) -> list[Head]:
    """The rule, computed independently: all from `before` on, the newest of each older UTC day."""
    newest: dict[dt.date, Head] = {}
    for seq, signed_at in heads:
        day = signed_at.astimezone(dt.UTC).date()
        if signed_at < before and (day not in newest or (signed_at, seq) > newest[day][::-1]):
            newest[day] = (seq, signed_at)
    return sorted([*newest.values(), *(h for h in heads if h[1] >= before)])


# -- thinning by day ---------------------------------------------------------------------------------


async def test_old_days_keep_their_newest_signed_head_and_the_last_weeks_keep_all(
    fresh_url: str, history: History, keys: PublicKeys
) -> None:
    now = dt.datetime.now(dt.UTC)
    kept_since = _midnight(now - dt.timedelta(days=DEFAULT_KEEP_SIGNED_HEADS_DAYS))
    day_50, day_36 = kept_since - 15 * DAY, kept_since - DAY
    await history.at(day_50 + HOUR, **{TENANT: [now] * 2, OTHER: [now]})  # T2, O1
    await history.at(day_50 + 2 * HOUR, **{TENANT: [now]})  # T3, and O1 again (heartbeat)
    await history.at(day_50 + 3 * HOUR)  # heartbeats: T3, O1
    await history.at(day_36 + 23 * HOUR, **{TENANT: [now]})  # T4 on the last day before the window
    await history.at(kept_since + HOUR, **{TENANT: [now]})  # T5 on the window's first day
    await history.at(kept_since + 2 * HOUR)  # heartbeats: T5, O1
    await history.at(now - 3 * DAY, **{TENANT: [now]})  # T6
    await history.at(now - 3 * DAY + HOUR)  # heartbeats
    await history.at(now, **{TENANT: [now]})  # T7, and the newest of every chain
    before = {tenant: await _heads(fresh_url, tenant) for tenant in (TENANT, OTHER)}
    assert before[TENANT] == sorted(history.stored[TENANT])

    report = await apply_retention(fresh_url)

    assert report.signed_heads_kept_since == kept_since
    assert report.dropped == () and report.signed_heads_pruned == 0
    assert await _heads(fresh_url, TENANT) == [
        (3, day_50 + 3 * HOUR),  # of day 50 only the newest: not seq 2, not seq 3's first signature
        (4, day_36 + 23 * HOUR),
        (5, kept_since + HOUR),  # the window's first day: everything
        (5, kept_since + 2 * HOUR),
        (6, now - 3 * DAY),
        (6, now - 3 * DAY + HOUR),
        (7, now),
    ]
    after = {tenant: await _heads(fresh_url, tenant) for tenant in (TENANT, OTHER)}
    for tenant in (TENANT, OTHER):
        assert after[tenant] == _newest_per_day(before[tenant], kept_since), tenant
    assert report.signed_heads_thinned == sum(len(before[t]) - len(after[t]) for t in after) == 4

    again = await apply_retention(fresh_url)
    assert (again.signed_heads_thinned, again.signed_heads_pruned) == (0, 0)

    report_after = await verify(fresh_url, public_keys=keys, full=True)
    assert report_after.ok, format_report(report_after)


async def test_a_rewrite_of_old_records_is_still_caught_after_thinning(
    fresh_url: str, history: History, keys: PublicKeys, owner: asyncpg.Connection
) -> None:
    now = dt.datetime.now(dt.UTC)
    day_60, day_50 = _midnight(now) - 60 * DAY, _midnight(now) - 50 * DAY
    for hour in range(1, 4):  # seq 1..3 each signed on day 60; only seq 3 stays
        await history.at(day_60 + hour * HOUR, **{TENANT: [now]})
    for hour in range(1, 4):  # seq 4..6 on day 50; only seq 6 stays
        await history.at(day_50 + hour * HOUR, **{TENANT: [now]})
    await history.at(now, **{TENANT: [now]})
    await apply_retention(fresh_url)
    assert [seq for seq, _ in await _heads(fresh_url, TENANT)] == [3, 6, 7]
    assert (await verify(fresh_url, public_keys=keys, full=True)).ok

    await _rewrite(owner, from_seq=1)  # consistently: every later hash and the head recomputed
    assert (await verify(fresh_url, full=True)).ok  # the keyless chain cannot tell
    seq, kind, detail = _first_break(await verify(fresh_url, public_keys=keys, full=True))
    assert (seq, kind) == (3, BreakKind.SIGNED)  # the first signature kept above the change
    assert "rewritten" in detail


async def test_a_rewrite_between_two_kept_days_is_caught_at_the_later_one(
    fresh_url: str, history: History, keys: PublicKeys, owner: asyncpg.Connection
) -> None:
    now = dt.datetime.now(dt.UTC)
    day_60, day_50 = _midnight(now) - 60 * DAY, _midnight(now) - 50 * DAY
    await history.at(day_60 + HOUR, **{TENANT: [now] * 2})
    for hour in range(1, 4):
        await history.at(day_50 + hour * HOUR, **{TENANT: [now]})
    await history.at(now)
    await apply_retention(fresh_url)
    assert [seq for seq, _ in await _heads(fresh_url, TENANT)] == [2, 5, 5]  # day 60, day 50, now

    await _rewrite(owner, from_seq=3)  # below day 50's kept head, above day 60's
    seq, kind, _ = _first_break(await verify(fresh_url, public_keys=keys, full=True))
    assert (seq, kind) == (5, BreakKind.SIGNED)


async def test_a_longer_window_keeps_more(fresh_url: str, history: History) -> None:
    now = dt.datetime.now(dt.UTC)
    day_50 = _midnight(now) - 50 * DAY
    for hour in range(1, 4):
        await history.at(day_50 + hour * HOUR, **{TENANT: [now]})
    await history.at(now)
    report = await apply_retention(fresh_url, keep_signed_heads_days=60)
    assert report.signed_heads_thinned == 0
    assert len(await _heads(fresh_url, TENANT)) == 4
    assert (await apply_retention(fresh_url, keep_signed_heads_days=1)).signed_heads_thinned == 2


# -- what retention removed ----------------------------------------------------------------------


async def _old_month(url: str) -> dt.datetime:
    """10:00 UTC on the first day of the month 21 years ago, with its partitions made."""
    old = years_before(dt.datetime.now(dt.UTC), 21).replace(day=1, hour=10, minute=0, second=0, microsecond=0)
    admin = await asyncpg.connect(url)
    try:
        await create_partitions(admin, old.date())
    finally:
        await admin.close()
    return old


async def test_signed_heads_of_removed_records_go_but_the_one_at_the_checkpoint_stays(
    fresh_url: str, history: History, keys: PublicKeys, owner: asyncpg.Connection
) -> None:
    now = dt.datetime.now(dt.UTC)
    old = await _old_month(fresh_url)
    day_40 = _midnight(now) - 40 * DAY
    await history.at(old + HOUR, **{TENANT: [old]})  # T1: its record goes
    await history.at(old + DAY, **{TENANT: [old + DAY]})  # T2: the checkpoint's own record
    await history.at(old + DAY + HOUR)  # T2 again: the newest of that day
    await history.at(day_40, **{TENANT: [now]})  # T3
    await history.at(day_40 + HOUR)  # T3 again
    await history.at(now, **{TENANT: [now]})  # T4

    report = await apply_retention(fresh_url)

    assert report.checkpoints == 1 and len(report.dropped) == 2
    assert await _heads(fresh_url, TENANT) == [(2, old + DAY + HOUR), (3, day_40 + HOUR), (4, now)]
    assert (report.signed_heads_thinned, report.signed_heads_pruned) == (2, 1)
    honest = await verify(fresh_url, public_keys=keys, full=True)
    assert honest.ok, format_report(honest)

    # A forged checkpoint (a later one wins) is caught by the signature kept at its seq.
    await owner.execute(
        "INSERT INTO broker.protocol_retention (tenant, through_seq, through_hash, leftover, cutoff, "
        "partitions) VALUES ($1, 2, $2, 0, now(), '{}')",
        TENANT,
        b"\x00" * 32,
    )
    seq, kind, detail = _first_break(await verify(fresh_url, public_keys=keys, full=True))
    assert (seq, kind) == (2, BreakKind.SIGNED)
    assert "retention checkpoint" in detail


async def test_the_first_signed_head_above_the_checkpoint_stays_when_none_is_at_it(
    fresh_url: str, history: History, keys: PublicKeys
) -> None:
    now = dt.datetime.now(dt.UTC)
    old = await _old_month(fresh_url)
    day_40 = _midnight(now) - 40 * DAY
    await history.at(old + HOUR, **{TENANT: [old]})  # T1: its record goes
    # T2 (removed, the checkpoint) and T3 (kept) written before the next round: 2 is never signed.
    await history.at(day_40 + HOUR, **{TENANT: [old + HOUR, now]})  # T3: just above the checkpoint
    await history.at(day_40 + 2 * HOUR, **{TENANT: [now]})  # T4: the newest of day 40
    await history.at(now)

    await apply_retention(fresh_url)

    assert await _heads(fresh_url, TENANT) == [(3, day_40 + HOUR), (4, day_40 + 2 * HOUR), (4, now)]
    report = await verify(fresh_url, public_keys=keys, full=True)
    assert report.ok, format_report(report)


# -- who may thin, and how far --------------------------------------------------------------------


@pytest.mark.parametrize("days", [0, -1, 36_526])
async def test_a_window_out_of_bounds_is_refused_before_anything_is_touched(
    fresh_url: str, history: History, days: int
) -> None:
    now = dt.datetime.now(dt.UTC)
    await history.at(_midnight(now) - 50 * DAY + HOUR, **{TENANT: [now]})
    await history.at(_midnight(now) - 50 * DAY + 2 * HOUR)
    with pytest.raises(RetentionError, match="kept in full for 1 to 36525 days"):
        await apply_retention(fresh_url, keep_signed_heads_days=days)
    assert len(await _heads(fresh_url, TENANT)) == 2


async def test_only_the_owner_thins_only_through_the_function_and_never_the_last_day(
    fresh_url: str, history: History
) -> None:
    now = dt.datetime.now(dt.UTC)
    await history.at(_midnight(now) - 50 * DAY + HOUR, **{TENANT: [now]})
    await history.at(_midnight(now) - 50 * DAY + 2 * HOUR)
    async with history.pool.acquire() as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetch("SELECT * FROM broker.protocol_thin_signed_heads($1, $2)", TENANT, now)
    admin = await asyncpg.connect(fresh_url)
    try:
        await admin.execute("SET ROLE brp_owner")
        with pytest.raises(asyncpg.InvalidParameterValueError, match="last day"):
            await admin.fetch(
                "SELECT * FROM broker.protocol_thin_signed_heads($1, $2)", TENANT, now - 23 * HOUR
            )
        async with admin.transaction():
            row = await admin.fetchrow(
                "SELECT * FROM broker.protocol_thin_signed_heads($1, $2)", TENANT, now - 2 * DAY
            )
            assert row is not None and row["thinned"] == 1
            # The function switched its permission off again: a plain DELETE stays refused.
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                async with admin.transaction():
                    await admin.execute("DELETE FROM broker.protocol_signed_heads")
    finally:
        await admin.close()
    assert len(await _heads(fresh_url, TENANT)) == 1


# -- the command ------------------------------------------------------------------------------------


def _run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=base | {"BROKER_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_retention_command_thins_with_its_window_and_refuses_a_bad_one(
    fresh_url: str, history: History
) -> None:
    now = dt.datetime.now(dt.UTC)
    await history.at(_midnight(now) - 3 * DAY + HOUR, **{TENANT: [now]})
    await history.at(_midnight(now) - 3 * DAY + 2 * HOUR)
    await history.at(now)

    refused = _run("protocol", "retention", "--keep-signed-heads-days", "0", url=fresh_url)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "brp-broker: signed heads are kept in full for 1 to 36525 days, not 0"
    kept = msgspec.json.decode(_run("protocol", "retention", url=fresh_url).stdout)
    assert kept["signed_heads_thinned"] == 0  # three days ago lies within the default 35
    done = _run("protocol", "retention", "--keep-signed-heads-days", "2", url=fresh_url)
    assert done.returncode == 0, done.stderr
    assert msgspec.json.decode(done.stdout)["signed_heads_thinned"] == 1
    assert len(await _heads(fresh_url, TENANT)) == 2
