"""Retention: whole partitions past the term go, nothing younger; the chain still verifies after."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from app.protocol import (
    BreakKind,
    ProtocolWriter,
    RetentionError,
    apply_retention,
    create_partitions,
    list_partitions,
    verify,
)
from tests.integration.protocol.factories import PoolFactory, consulted, record

TENANT = "gemeente-a"
OTHER = "gemeente-b"
# A fixed present in the past (retention refuses a future `now`): the term ends 2005-07-15 12:00 UTC.
NOW = dt.datetime(2025, 7, 15, 12, 0, tzinfo=dt.UTC)
OLD_MONTHS = [dt.date(2004, 12, 1), dt.date(2005, 6, 1), dt.date(2005, 7, 1), dt.date(2005, 8, 1)]


def _at(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
async def history(fresh_url: str, runtime_pool: PoolFactory) -> str:
    """Records from 2004 to now; seq 2 of TENANT is in a younger month than seq 3 (late commit)."""
    admin = await asyncpg.connect(fresh_url)
    try:
        for month in OLD_MONTHS:
            await create_partitions(admin, month)
    finally:
        await admin.close()
    writer = ProtocolWriter(await runtime_pool(fresh_url))
    await writer.start()
    for occurred_at in [
        _at(2004, 12, 20),  # seq 1: dropped
        _at(2005, 7, 1),  # seq 2: kept (2005-07 partition reaches past the cutoff), below the checkpoint
        _at(2005, 6, 30),  # seq 3: dropped, the checkpoint
        _at(2005, 7, 20),  # seq 4: kept
        _at(2005, 8, 2),  # seq 5: kept
        dt.datetime.now(dt.UTC),  # seq 6: kept
    ]:
        await writer.record(record(TENANT, consulted("999993653"), occurred_at=occurred_at))
    await writer.record(record(OTHER, consulted("999993653"), occurred_at=_at(2005, 6, 1)))
    await writer.record(record(OTHER, consulted("999993653")))
    await writer.stop()
    return fresh_url


async def _partition_months(url: str) -> list[str]:
    connection = await asyncpg.connect(url)
    try:
        partitions = await list_partitions(connection)
    finally:
        await connection.close()
    return sorted({p.name.rsplit("_", 1)[1] for p in partitions})


async def _seqs(url: str, tenant: str) -> list[int]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT seq FROM broker.protocol_records WHERE tenant = $1 ORDER BY seq", tenant
        )
    finally:
        await connection.close()
    return [row["seq"] for row in rows]


async def test_retention_drops_only_partitions_wholly_past_the_term(history: str) -> None:
    report = await apply_retention(history, now=NOW)

    assert report.cutoff == dt.datetime(2005, 7, 15, 12, 0, tzinfo=dt.UTC)
    assert sorted(report.dropped) == [
        "protocol_persons_y2004m12",
        "protocol_persons_y2005m06",
        "protocol_records_y2004m12",
        "protocol_records_y2005m06",
    ]
    months = await _partition_months(history)
    assert months[:2] == ["y2005m07", "y2005m08"]  # 2005-07 holds records younger than the term
    assert await _seqs(history, TENANT) == [2, 4, 5, 6]
    assert await _seqs(history, OTHER) == [2]
    assert report.checkpoints == 2


async def test_every_partition_belongs_to_the_owner_role(history: str) -> None:
    connection = await asyncpg.connect(history)
    try:
        owners = await connection.fetch(
            "SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent IN ('broker.protocol_records'::regclass, 'broker.protocol_persons'::regclass)"
        )
    finally:
        await connection.close()
    # Also the old months the (superuser) test asked for: the function makes them as brp_owner.
    assert [row["owner"] for row in owners] == ["brp_owner"]


async def test_the_chain_still_verifies_after_retention(history: str) -> None:
    await apply_retention(history, now=NOW)
    report = await verify(history)
    assert report.ok
    assert {c.tenant: c.records for c in report.chains} == {TENANT: 4, OTHER: 1}


async def test_a_record_removed_below_the_retention_checkpoint_is_found(history: str) -> None:
    await apply_retention(history, now=NOW)
    owner = await asyncpg.connect(history)
    try:
        await owner.execute("SET session_replication_role = replica")
        for table in ("protocol_records", "protocol_persons"):
            await owner.execute(f"DELETE FROM broker.{table} WHERE tenant = $1 AND seq = 2", TENANT)
    finally:
        await owner.close()
    report = await verify(history, TENANT)
    assert report.chains[0].first_break is not None
    assert (report.chains[0].first_break.seq, report.chains[0].first_break.kind) == (3, BreakKind.RETENTION)


async def test_a_second_run_removes_nothing_more(history: str) -> None:
    await apply_retention(history, now=NOW)
    again = await apply_retention(history, now=NOW)
    assert again.dropped == ()
    assert (await verify(history)).ok


async def test_a_later_run_moves_the_checkpoint_on(history: str) -> None:
    await apply_retention(history, now=NOW)
    later = await apply_retention(history, now=NOW.replace(month=8))
    assert sorted(later.dropped) == ["protocol_persons_y2005m07", "protocol_records_y2005m07"]
    assert await _seqs(history, TENANT) == [5, 6]
    assert (await verify(history)).ok


@pytest.mark.parametrize(
    ("term_years", "minimum_years"),
    [(19, 20), (19, 19), (25, 30), (5, 5)],
    ids=["below-minimum", "floor", "min", "5y"],
)
async def test_a_term_below_the_minimum_or_the_floor_is_refused(
    history: str, term_years: int, minimum_years: int
) -> None:
    before = await _partition_months(history)
    with pytest.raises(RetentionError):
        await apply_retention(history, term_years=term_years, minimum_years=minimum_years, now=NOW)
    assert await _partition_months(history) == before


async def test_a_longer_term_keeps_more(history: str) -> None:
    report = await apply_retention(history, term_years=21, now=NOW)
    assert report.dropped == ()


async def test_a_now_in_the_future_is_refused(history: str) -> None:
    with pytest.raises(RetentionError, match="future"):
        await apply_retention(history, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * 30))
    assert "y2004m12" in await _partition_months(history)


async def test_only_tenants_with_dropped_records_get_a_checkpoint(
    fresh_url: str, runtime_pool: PoolFactory
) -> None:
    """Dates derived from now: two months just past the term are dropped, the present stays."""
    now = dt.datetime.now(dt.UTC)
    term_start = dt.date(now.year - 20, now.month, 1)
    old_month = dt.date(term_start.year - (term_start.month <= 2), (term_start.month - 3) % 12 + 1, 1)
    admin = await asyncpg.connect(fresh_url)
    try:
        await create_partitions(admin, old_month)
    finally:
        await admin.close()
    writer = ProtocolWriter(await runtime_pool(fresh_url))
    await writer.start()
    old = dt.datetime(old_month.year, old_month.month, 2, 10, 0, tzinfo=dt.UTC)
    for occurred_at in (old, old + dt.timedelta(days=1), now):
        await writer.record(record(TENANT, consulted("999993653"), occurred_at=occurred_at))
    await writer.record(record(OTHER, consulted("999993653"), occurred_at=now))  # nothing old
    await writer.stop()

    report = await apply_retention(fresh_url)

    assert sorted(report.dropped) == [f"protocol_{t}_y{old_month:%Ym%m}" for t in ("persons", "records")]
    assert report.checkpoints == 1
    owner = await asyncpg.connect(fresh_url)
    try:
        checkpoints = await owner.fetch("SELECT tenant, through_seq, leftover FROM broker.protocol_retention")
    finally:
        await owner.close()
    assert [tuple(row) for row in checkpoints] == [(TENANT, 2, 0)]
    assert await _seqs(fresh_url, TENANT) == [3]
    report_after = await verify(fresh_url)
    assert report_after.ok
    assert {c.tenant: c.records for c in report_after.chains} == {TENANT: 1, OTHER: 1}
