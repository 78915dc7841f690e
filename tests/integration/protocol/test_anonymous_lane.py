"""Requests refused before a tenant was known (401) never slow down, block or crowd out a tenant's
protocol, and every one of them is still accounted for, durably and verifiably."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from app.brp import ProblemError
from app.protocol import NO_TENANT, BreakKind, ProtocolWriter, verify
from app.telemetry import BrokerMetrics
from tests.integration.protocol.factories import (
    PoolFactory,
    consulted,
    record,
    refused_without_tenant,
    slug,
    stored_records,
    wait_until_waiting_on_lock,
)

_LOCK_ANONYMOUS_HEAD = "SELECT 1 FROM broker.protocol_chain_heads WHERE tenant = '-' FOR UPDATE"


async def _anonymous_rows(admin_url: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(admin_url)
    try:
        return list(
            await connection.fetch(
                "SELECT * FROM broker.protocol_records WHERE tenant = $1 ORDER BY seq", NO_TENANT
            )
        )
    finally:
        await connection.close()


def _counted(rows: list[asyncpg.Record]) -> Counter[tuple[str, int, str | None]]:
    counts: Counter[tuple[str, int, str | None]] = Counter()
    for row in rows:
        counts[(row["api"], row["status"], row["problem_code"])] += row["request_count"]
    return counts


async def _anonymous_accepted(writer: ProtocolWriter, count: int) -> None:
    """Return once the writer has taken in `count` anonymous requests (the tasks ran up to their wait)."""
    async with asyncio.timeout(5):
        while writer.stats().anonymous.accepted < count:
            await asyncio.sleep(0)


@pytest.fixture
async def started(fresh_url: str, runtime_pool: PoolFactory) -> AsyncIterator[ProtocolWriter]:
    """A started writer on a database of this test alone (so every anonymous row is this test's)."""
    writer = ProtocolWriter(await runtime_pool(fresh_url))
    await writer.start()
    yield writer
    await writer.stop()


async def test_a_tenants_record_does_not_wait_for_a_stalled_anonymous_commit(
    started: ProtocolWriter, fresh_url: str
) -> None:
    tenant = slug()
    await started.record(refused_without_tenant())  # the anonymous chain has its head now
    admin = await asyncpg.connect(fresh_url)
    try:
        async with admin.transaction():
            # The anonymous chain's commit hangs (a replica holds its head, a slow disk) ...
            await admin.execute(_LOCK_ANONYMOUS_HEAD)
            flood = [asyncio.create_task(started.record(refused_without_tenant())) for _ in range(500)]
            await wait_until_waiting_on_lock(admin, flood)
            # ... and a tenant's records are committed all the same, while the flood still waits.
            granted = [record(tenant, consulted("999993653")) for _ in range(20)]
            await asyncio.gather(*(started.record(r) for r in granted))
            assert not any(task.done() for task in flood)
        await asyncio.gather(*flood)
    finally:
        await admin.close()
    assert len(await stored_records(fresh_url, [r.correlation_id for r in granted])) == 20
    assert sum(_counted(await _anonymous_rows(fresh_url)).values()) == 501
    report = await verify(fresh_url)
    assert report.ok
    assert {chain.tenant for chain in report.chains} == {NO_TENANT, tenant}


async def test_an_anonymous_flood_never_fills_the_queue_or_the_batches_of_tenants(
    fresh_url: str, runtime_pool: PoolFactory
) -> None:
    writer = ProtocolWriter(await runtime_pool(fresh_url), max_pending=10, max_batch=10)
    await writer.start()
    tenant = slug()
    admin = await asyncpg.connect(fresh_url)
    try:
        await writer.record(refused_without_tenant())
        async with admin.transaction():
            await admin.execute(_LOCK_ANONYMOUS_HEAD)
            flood = [asyncio.create_task(writer.record(refused_without_tenant())) for _ in range(2000)]
            await wait_until_waiting_on_lock(admin, flood)
            # Ten at once fill a queue of ten, but only with tenants' records: none is refused.
            granted = [record(tenant) for _ in range(10)]
            await asyncio.gather(*(writer.record(r) for r in granted))
        await asyncio.gather(*flood)
    finally:
        await admin.close()
        await writer.stop()
    stats = writer.stats()
    # The shared batches carried the tenant's records and nothing else.
    assert (stats.records, stats.failed_records) == (10, 0)
    assert (stats.anonymous.requests, stats.anonymous.failed_requests) == (2001, 0)
    assert (await verify(fresh_url)).ok


async def test_concurrent_refusals_are_counted_exactly_in_a_few_records(
    started: ProtocolWriter, fresh_url: str
) -> None:
    kinds = [
        ("personen", 401, "authentication"),
        ("bewoning", 401, "authentication"),
        ("personen", 400, None),
    ]
    refusals = [
        refused_without_tenant(api=api, status=status, problem_code=code)
        for i in range(3000)
        for api, status, code in [kinds[i % 3]]
    ]

    await asyncio.gather(*(started.record(r) for r in refusals))

    rows = await _anonymous_rows(fresh_url)
    assert _counted(rows) == Counter({kind: 1000 for kind in kinds})
    assert len(rows) <= 3 * started.stats().anonymous.flushes < 100
    sent = {r.correlation_id: r for r in refusals}
    listed = [row["correlation_id"] for row in rows] + [cid for row in rows for cid in row["correlation_ids"]]
    assert len(listed) == len(set(listed))
    for row in rows:
        members = [sent[row["correlation_id"]], *(sent[cid] for cid in row["correlation_ids"])]
        # Every request a record names is of its kind and lies within its time range.
        assert {(m.api, m.status, m.problem_code) for m in members} == {
            (row["api"], row["status"], row["problem_code"])
        }
        last = row["last_occurred_at"] or row["occurred_at"]
        assert all(row["occurred_at"] <= m.occurred_at <= last for m in members)
        assert len(members) <= row["request_count"]
        # No person data and nothing of a caller: a 401 never got that far.
        assert row["subject"] is row["employee"] is row["afnemer_id"] is None
        assert row["search_parameters"] == "{}"
    assert (await verify(fresh_url, NO_TENANT)).ok


async def test_counts_stay_exact_across_many_commits_of_a_sustained_flood(
    fresh_url: str, runtime_pool: PoolFactory
) -> None:
    writer = ProtocolWriter(await runtime_pool(fresh_url), anonymous_interval=0.005)
    await writer.start()

    async def attacker() -> None:
        for _ in range(40):
            await writer.record(refused_without_tenant())

    try:
        await asyncio.gather(*(attacker() for _ in range(50)))
    finally:
        await writer.stop()
    assert _counted(await _anonymous_rows(fresh_url)) == Counter({("personen", 401, "authentication"): 2000})
    assert writer.stats().anonymous.flushes > 1
    assert (await verify(fresh_url, NO_TENANT)).ok


async def test_correlation_ids_beyond_the_bound_are_counted_not_listed(
    fresh_url: str, runtime_pool: PoolFactory
) -> None:
    writer = ProtocolWriter(await runtime_pool(fresh_url), anonymous_max_ids=5)
    await writer.start()
    try:
        await asyncio.gather(*(writer.record(refused_without_tenant()) for _ in range(200)))
    finally:
        await writer.stop()
    rows = await _anonymous_rows(fresh_url)
    assert sum(row["request_count"] for row in rows) == 200
    assert all(1 + len(row["correlation_ids"]) <= 5 for row in rows)
    listed = sum(1 + len(row["correlation_ids"]) for row in rows)
    assert writer.stats().anonymous.unlisted == 200 - listed > 0


async def test_a_lone_refusal_is_stored_as_a_plain_record_of_one_request(
    writer: ProtocolWriter, database_url: str
) -> None:
    refused = refused_without_tenant(api="verblijfplaatshistorie")
    await writer.record(refused)
    (row,) = await stored_records(database_url, [refused.correlation_id])
    assert (row["tenant"], row["api"], row["status"]) == (NO_TENANT, "verblijfplaatshistorie", 401)
    assert (row["request_count"], row["last_occurred_at"], list(row["correlation_ids"])) == (1, None, [])
    assert (row["occurred_at"], row["trace_id"], row["latency_ms"]) == (
        refused.occurred_at,
        refused.trace_id,
        refused.latency_ms,
    )


@pytest.fixture
async def aggregated(fresh_url: str, runtime_pool: PoolFactory) -> str:
    """A database whose anonymous chain holds a record of one request (seq 1) and aggregates after it."""
    writer = ProtocolWriter(await runtime_pool(fresh_url))
    await writer.start()
    try:
        await writer.record(refused_without_tenant())
        await asyncio.gather(*(writer.record(refused_without_tenant()) for _ in range(100)))
    finally:
        await writer.stop()
    return fresh_url


@pytest.mark.parametrize(
    "tampering",
    [
        "request_count = request_count - 1",
        "request_count = 2 WHERE seq = 1",
        "last_occurred_at = last_occurred_at + interval '1 second'",
        "last_occurred_at = occurred_at + interval '1 second' WHERE seq = 1",
        "correlation_ids = correlation_ids[2:]",
        "correlation_ids = '{forged}' WHERE seq = 1",
    ],
)
async def test_verify_finds_a_changed_count_time_range_or_correlation_id(
    aggregated: str, tampering: str
) -> None:
    owner = await asyncpg.connect(aggregated)
    try:
        # An owner bent on tampering turns off the triggers and the shape check first.
        await owner.execute("SET session_replication_role = replica")
        await owner.execute(
            "ALTER TABLE broker.protocol_records DROP CONSTRAINT protocol_records_aggregate_shape"
        )
        target = tampering if "WHERE" in tampering else f"{tampering} WHERE request_count > 1"
        seq = await owner.fetchval(f"UPDATE broker.protocol_records SET {target} RETURNING seq")
    finally:
        await owner.close()
    (chain,) = (await verify(aggregated, NO_TENANT)).chains
    assert chain.first_break is not None, "tampering went unnoticed"
    assert (chain.first_break.seq, chain.first_break.kind) == (seq, BreakKind.CHANGED)


async def test_a_caller_that_gives_up_neither_withdraws_its_count_nor_disturbs_the_others(
    started: ProtocolWriter, fresh_url: str
) -> None:
    admin = await asyncpg.connect(fresh_url)
    try:
        await started.record(refused_without_tenant())
        async with admin.transaction():
            await admin.execute(_LOCK_ANONYMOUS_HEAD)
            blocked = asyncio.create_task(started.record(refused_without_tenant()))
            await wait_until_waiting_on_lock(admin, [blocked])
            waiting = [asyncio.create_task(started.record(refused_without_tenant())) for _ in range(10)]
            await _anonymous_accepted(started, 12)
            waiting[0].cancel()
        assert await asyncio.gather(blocked, *waiting[1:]) == [None] * 10
    finally:
        await admin.close()
    assert waiting[0].cancelled()
    assert sum(_counted(await _anonymous_rows(fresh_url)).values()) == 12


async def test_a_failed_anonymous_commit_answers_503_to_its_requests_only_and_the_lane_recovers(
    started: ProtocolWriter, fresh_url: str
) -> None:
    tenant = slug()
    # Decades ahead: no partition exists for that month, so its commit fails.
    unwritable = refused_without_tenant(occurred_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * 50))
    outcomes = await asyncio.gather(
        started.record(unwritable),
        started.record(record(tenant)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], ProblemError)
    assert (outcomes[0].status, outcomes[0].problem.code) == (503, "protocolUnavailable")
    assert outcomes[1] is None
    await started.record(refused_without_tenant())
    assert sum(_counted(await _anonymous_rows(fresh_url)).values()) == 1
    assert started.stats().anonymous.failed_requests == 1
    assert (await verify(fresh_url)).ok


async def test_stop_commits_every_pending_refusal_then_refuses_with_503(
    started: ProtocolWriter, fresh_url: str
) -> None:
    pending = [asyncio.create_task(started.record(refused_without_tenant())) for _ in range(300)]
    await _anonymous_accepted(started, 300)
    await started.stop()
    assert await asyncio.gather(*pending) == [None] * 300
    with pytest.raises(ProblemError) as stopped:
        await started.record(refused_without_tenant())
    assert stopped.value.status == 503
    assert sum(_counted(await _anonymous_rows(fresh_url)).values()) == 300


async def test_the_anonymous_counts_are_exported_as_metrics(
    fresh_url: str, runtime_pool: PoolFactory
) -> None:
    metrics = BrokerMetrics(CollectorRegistry(), process_collectors=False)
    writer = ProtocolWriter(await runtime_pool(fresh_url), on_anonymous=metrics.protocol_anonymous)
    await writer.start()
    try:
        await asyncio.gather(*(writer.record(refused_without_tenant()) for _ in range(250)))
    finally:
        await writer.stop()
    rows = await _anonymous_rows(fresh_url)
    sample = metrics.registry.get_sample_value
    assert sample("brp_broker_protocol_anonymous_requests_total", {"outcome": "ok"}) == 250
    assert sample("brp_broker_protocol_anonymous_records_total", {"outcome": "ok"}) == len(rows)
