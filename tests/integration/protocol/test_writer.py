"""The writer against a real PostgreSQL: group commit, commit before return, 503 and recovery."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from urllib.parse import urlsplit

import asyncpg
import pytest

from app.brp import ProblemError
from app.db import create_pool, with_database, with_user
from app.protocol import NO_TENANT, ProtocolWriter, verify
from tests.conftest import LogCapture
from tests.integration.protocol.factories import (
    PoolFactory,
    consulted,
    found,
    record,
    slug,
    stored_persons,
    stored_records,
    wait_until_waiting_on_lock,
)


def _assert_protocol_unavailable(error: BaseException | None) -> None:
    assert isinstance(error, ProblemError)
    assert error.status == 503
    assert error.problem.code == "protocolUnavailable"


async def test_concurrent_records_share_transactions_and_each_is_stored_once(
    writer: ProtocolWriter, database_url: str
) -> None:
    tenants = [slug(), slug(), slug()]
    records = [
        record(tenants[i % 3], consulted(f"{i:09d}") if i % 2 else found(f"{i:09d}", f"{i + 500:09d}"))
        for i in range(200)
    ]
    before = writer.stats()

    await asyncio.gather(*(writer.record(r) for r in records))

    stats = writer.stats()
    transactions = stats.batches - before.batches
    assert stats.records - before.records == 200
    assert 1 <= transactions < 200
    rows = await stored_records(database_url, [r.correlation_id for r in records])
    assert sorted(row["correlation_id"] for row in rows) == sorted(r.correlation_id for r in records)
    by_id = {row["correlation_id"]: row for row in rows}
    for tenant in tenants:
        persons = await stored_persons(database_url, tenant)
        mine = [r for r in records if r.tenant == tenant]
        # Each tenant's chain is numbered 1..n without gaps, whatever the batching.
        assert sorted(by_id[r.correlation_id]["seq"] for r in mine) == list(range(1, len(mine) + 1))
        for r in mine:
            expected = [(p.bsn, p.role.value) for p in r.persons]
            assert persons[by_id[r.correlation_id]["seq"]] == expected


async def test_the_record_is_committed_when_record_returns(writer: ProtocolWriter, database_url: str) -> None:
    r = record(slug(), consulted("999993653"))
    await writer.record(r)
    # Another session sees it at once: record() returned after COMMIT, not before.
    (row,) = await stored_records(database_url, [r.correlation_id])
    assert row["tenant"] == r.tenant
    assert row["status"] == 200
    assert row["employee"] == "medewerker@gemeente.nl"
    assert row["requested_fields"] == ["naam.voornamen", "geboorte.datum"]
    assert row["sent_fields"] == ["naam.voornamen", "geboorte.datum", "burgerservicenummer"]
    assert row["occurred_at"] == r.occurred_at


async def test_denied_request_without_tenant_is_stored_under_the_reserved_tenant(
    writer: ProtocolWriter, database_url: str
) -> None:
    denied = record("", status=401, problem_code="authentication", query_type=None, search_parameters={})
    await writer.record(denied)
    (row,) = await stored_records(database_url, [denied.correlation_id])
    assert row["tenant"] == NO_TENANT
    assert row["problem_code"] == "authentication"
    report = await verify(database_url, NO_TENANT)
    assert report.ok


async def test_database_gone_mid_run_gives_503_and_the_writer_recovers(
    fresh_url: str, runtime_pool: PoolFactory
) -> None:
    writer = ProtocolWriter(await runtime_pool(fresh_url), timeout=5)
    await writer.start()
    tenant = slug()
    name = urlsplit(fresh_url).path.lstrip("/")
    admin = await asyncpg.connect(with_database(fresh_url, "postgres"))
    lost = record(tenant, consulted("999993653"))
    try:
        await writer.record(record(tenant, consulted("999993653")))
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        outcomes = await asyncio.gather(*(writer.record(lost) for _ in range(3)), return_exceptions=True)
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await writer.record(record(tenant, consulted("999993653")))
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
        await writer.stop()
    for outcome in outcomes:
        _assert_protocol_unavailable(outcome)
    assert await stored_records(fresh_url, [lost.correlation_id]) == []
    report = await verify(fresh_url, tenant)
    assert report.ok
    assert report.chains[0].records == 2


async def test_unwritable_table_gives_503_and_the_writer_recovers(
    fresh_url: str, runtime_pool: PoolFactory
) -> None:
    writer = ProtocolWriter(await runtime_pool(fresh_url))
    await writer.start()
    tenant = slug()
    admin = await asyncpg.connect(fresh_url)
    try:
        await admin.execute("REVOKE INSERT ON broker.protocol_records FROM brp_app")
        with pytest.raises(ProblemError) as refused:
            await writer.record(record(tenant, consulted("999993653")))
        await admin.execute("GRANT INSERT ON broker.protocol_records TO brp_app")
        await writer.record(record(tenant, consulted("999993653")))
    finally:
        await admin.close()
        await writer.stop()
    _assert_protocol_unavailable(refused.value)
    assert writer.stats().failed_records == 1
    assert writer.stats().records == 1
    assert (await verify(fresh_url, tenant)).ok


async def test_a_batch_in_flight_when_its_connection_dies_gives_503_to_every_waiter(
    fresh_url: str,
    runtime_pool: PoolFactory,
) -> None:
    writer = ProtocolWriter(await runtime_pool(fresh_url))
    await writer.start()
    tenant = slug()
    await writer.record(record(tenant))  # the tenant's chain head exists
    admin = await asyncpg.connect(fresh_url)
    try:
        blocker = admin.transaction()
        await blocker.start()
        await admin.execute("LOCK TABLE broker.protocol_chain_heads IN ACCESS EXCLUSIVE MODE")
        waiting = [asyncio.create_task(writer.record(record(tenant))) for _ in range(5)]
        await wait_until_waiting_on_lock(admin, waiting)
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE usename = 'brp_app' AND datname = current_database()"
        )
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        await blocker.rollback()
        await writer.record(record(tenant))
    finally:
        await admin.close()
        await writer.stop()
    for outcome in outcomes:
        _assert_protocol_unavailable(outcome)
    report = await verify(fresh_url, tenant)
    assert report.ok
    assert report.chains[0].records == 2


async def test_a_database_that_hangs_gives_503_after_the_timeout(
    fresh_url: str, runtime_pool: PoolFactory
) -> None:
    writer = ProtocolWriter(await runtime_pool(fresh_url), timeout=0.5)
    await writer.start()
    tenant = slug()
    admin = await asyncpg.connect(fresh_url)
    try:
        async with admin.transaction():
            await admin.execute("LOCK TABLE broker.protocol_chain_heads IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(ProblemError) as refused:
                await writer.record(record(tenant))
        await writer.record(record(tenant))
    finally:
        await admin.close()
        await writer.stop()
    _assert_protocol_unavailable(refused.value)
    assert (await verify(fresh_url, tenant)).ok


async def test_a_record_whose_month_has_no_partition_fails_closed_alone(
    writer: ProtocolWriter, database_url: str, logs: LogCapture
) -> None:
    tenant = slug()
    # Decades ahead: partitions are only ever made a few months ahead of now.
    far_ahead = dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * 50)
    orphan_month = record(tenant, consulted("999993653"), occurred_at=far_ahead)
    neighbours = [record(tenant, consulted("999990019")) for _ in range(20)]

    outcomes = await asyncio.gather(
        *(writer.record(r) for r in [*neighbours[:10], orphan_month, *neighbours[10:]]),
        return_exceptions=True,
    )

    _assert_protocol_unavailable(outcomes[10])
    assert [o for i, o in enumerate(outcomes) if i != 10] == [None] * 20
    assert await stored_records(database_url, [orphan_month.correlation_id]) == []
    assert len(await stored_records(database_url, [r.correlation_id for r in neighbours])) == 20
    assert (await verify(database_url, tenant)).ok
    # The failure is logged, without the person or the search parameters.
    assert any(event["event"] == "protocol_write_failed" for event in logs.events)
    assert "999993653" not in logs.text


async def accepted(writer: ProtocolWriter, count: int) -> None:
    """Return once the writer has taken in `count` records (the tasks run up to their enqueue)."""
    done = asyncio.get_running_loop().create_future()

    def check() -> None:
        if writer.stats().accepted >= count:
            done.set_result(None)
        else:
            asyncio.get_running_loop().call_soon(check)

    check()
    async with asyncio.timeout(5):
        await done


async def test_stopped_writer_refuses_with_503_after_writing_what_was_queued(
    app_pool: asyncpg.Pool, database_url: str
) -> None:
    writer = ProtocolWriter(app_pool)
    tenant = slug()
    with pytest.raises(ProblemError) as not_started:
        await writer.record(record(tenant))
    await writer.start()
    queued = [record(tenant) for _ in range(10)]
    pending = [asyncio.create_task(writer.record(r)) for r in queued]
    await accepted(writer, 10)
    await writer.stop()
    assert await asyncio.gather(*pending) == [None] * 10
    with pytest.raises(ProblemError) as stopped:
        await writer.record(record(tenant))
    _assert_protocol_unavailable(not_started.value)
    _assert_protocol_unavailable(stopped.value)
    assert len(await stored_records(database_url, [r.correlation_id for r in queued])) == 10


async def test_full_queue_refuses_at_once_with_503(fresh_url: str, runtime_pool: PoolFactory) -> None:
    writer = ProtocolWriter(await runtime_pool(fresh_url), max_pending=2)
    await writer.start()
    tenant = slug()
    await writer.record(record(tenant))
    admin = await asyncpg.connect(fresh_url)
    try:
        async with admin.transaction():
            await admin.execute("LOCK TABLE broker.protocol_chain_heads IN ACCESS EXCLUSIVE MODE")
            in_flight = [asyncio.create_task(writer.record(record(tenant)))]
            await wait_until_waiting_on_lock(admin, in_flight)
            queued = [asyncio.create_task(writer.record(record(tenant))) for _ in range(2)]
            await accepted(writer, 4)
            with pytest.raises(ProblemError) as refused:
                await writer.record(record(tenant))
        await asyncio.gather(*in_flight, *queued)
    finally:
        await admin.close()
        await writer.stop()
    _assert_protocol_unavailable(refused.value)
    assert (await verify(fresh_url, tenant)).chains[0].records == 4


async def test_partitions_are_created_ahead_by_the_writer(fresh_url: str, runtime_pool: PoolFactory) -> None:
    writer = ProtocolWriter(await runtime_pool(fresh_url), months_ahead=5)
    await writer.start()
    try:
        admin = await asyncpg.connect(fresh_url)
        try:
            count = await admin.fetchval(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'broker.protocol_records'::regclass"
            )
        finally:
            await admin.close()
    finally:
        await writer.stop()
    assert count == 6  # this month and five ahead (the migration made three)


async def test_every_field_is_stored_exactly_and_verifies(writer: ProtocolWriter, database_url: str) -> None:
    tenant = slug()
    awkward = record(
        tenant,
        found("999993653", "999990019"),
        # Now (its month has a partition on any day), with microseconds and an offset to round-trip.
        occurred_at=dt.datetime.now(dt.UTC)
        .replace(microsecond=789012)
        .astimezone(dt.timezone(dt.timedelta(hours=1))),
        latency_ms=0.1 + 0.2,
        employee='Zoë "de" Vries, \\ afdeling {Burgerzaken}',
        member_organisation=None,
        trace_id=None,
        doelbinding="NULL",
        search_parameters={"geslachtsnaam": "d'Ančić", "huisnummer": 14, "inclusiefOverledenPersonen": True},
        requested_fields=(
            "naam",
            'a "quoted" field',
            "back\\slash",
            "comma,field",
            "{brace}",
            "NULL",
            " spaced ",
        ),
        sent_fields=(),
    )
    await writer.record(awkward)
    (row,) = await stored_records(database_url, [awkward.correlation_id])
    assert row["occurred_at"] == awkward.occurred_at
    assert row["latency_ms"] == 0.1 + 0.2
    assert row["employee"] == awkward.employee
    assert row["doelbinding"] == "NULL"
    assert row["member_organisation"] is None
    assert list(row["requested_fields"]) == list(awkward.requested_fields)
    assert list(row["sent_fields"]) == []
    assert json.loads(row["search_parameters"]) == awkward.search_parameters
    assert (await verify(database_url, tenant)).ok


async def _logged_pool(admin_url: str, statements: list[str]) -> asyncpg.Pool:
    """A runtime pool of ONE connection whose every statement is appended to `statements`."""
    pool = await create_pool(with_user(admin_url, "brp_app"), "brp_app", min_size=1, max_size=1)
    async with pool.acquire() as connection:
        connection.add_query_logger(lambda logged: statements.append(logged.query))
    return pool


async def test_writers_on_one_tenant_append_in_one_statement_each_never_holding_a_head(
    fresh_url: str,
) -> None:
    # Two replicas writing for the same tenant, turn and turn about: each batch must be a single
    # self-committing statement, so no writer ever holds the head's lock across a round trip
    # (before, a writer that found the head moved took BEGIN, lock, append, COMMIT).
    tenant = slug()
    logs: tuple[list[str], list[str]] = ([], [])
    pools = [await _logged_pool(fresh_url, log) for log in logs]
    writers = [ProtocolWriter(pool) for pool in pools]
    try:
        for writer in writers:
            await writer.start()
        for log in logs:
            log.clear()  # the partition check at start
        for turn in range(6):
            await writers[turn % 2].record(record(tenant))
    finally:
        for writer in writers:
            await writer.stop()
        for pool in pools:
            await pool.close()
    for log, writer in zip(logs, writers, strict=True):
        assert writer.stats().failed_records == 0
        appends = [statement for statement in log if "protocol_append_linked" in statement]
        assert len(appends) == writer.stats().batches == 3
        # Besides the appends only the pool's reset when the writer hands its connection back.
        assert not any(word in " ".join(log).upper() for word in ("BEGIN", "FOR UPDATE", "LOCK_HEADS"))
    report = await verify(fresh_url, tenant, full=True)
    assert report.ok
    assert report.chains[0].records == 6


async def test_a_caller_that_gives_up_does_not_withdraw_its_record(
    app_pool: asyncpg.Pool, database_url: str
) -> None:
    writer = ProtocolWriter(app_pool)
    await writer.start()
    abandoned = record(slug(), consulted("999993653"))
    waiting = asyncio.create_task(writer.record(abandoned))
    await accepted(writer, 1)
    waiting.cancel()
    await writer.stop()
    assert waiting.cancelled()
    assert len(await stored_records(database_url, [abandoned.correlation_id])) == 1


async def test_a_writer_whose_drain_task_died_is_not_running(app_pool: asyncpg.Pool) -> None:
    # Readiness asks `running`: a dead drain task can commit nothing, so the replica is not ready.
    writer = ProtocolWriter(app_pool)
    await writer.start()
    assert writer.running
    task = writer._task
    assert task is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not writer.running
    await writer.stop()
