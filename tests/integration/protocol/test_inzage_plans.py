"""Inzage looks up the entries' records month by month by primary key, whatever the costs suggest.

The privacy officer's inzage runs generic plans (planned once per pooled connection). Costed that
way, a join of the entries' keys with the tenant's records by equality plans as a hash join, or as
a loop over all the tenant's records read once and kept (measured on a small protocol): either
reads every record of the tenant, so the time would grow with the size of the protocol instead of
with the entries. The plan must be a loop over the entries' months with an index lookup of each
month's keys. The plan PostgreSQL runs is read from auto_explain, whose LOG lines reach the client
when `client_min_messages` is `log`.
"""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from app.protocol import inzage
from tests.integration.protocol.factories import consulted, found, record, slug, write_protocol

BSN = "999993653"
OTHER_BSN = "999990019"
_CALLS = 3


async def _pool_that_explains(admin_url: str, plans: list[str]) -> asyncpg.Pool:
    """A runtime-role pool whose connections report every plan they run into `plans`."""

    async def init(connection: asyncpg.Connection) -> None:
        await connection.execute("SET ROLE brp_app")

    async def setup(connection: asyncpg.Connection) -> None:
        # The pool drops a connection's listeners whenever it is released.
        connection.add_log_listener(lambda _, message: plans.append(str(message.message)))

    # Set when the connection starts, so that the pool's RESET ALL after each use keeps them.
    settings = {
        "session_preload_libraries": "auto_explain",
        "auto_explain.log_min_duration": "0",
        "client_min_messages": "log",
        "search_path": "broker",
    }
    try:
        pool = await asyncpg.create_pool(
            admin_url, min_size=1, max_size=1, init=init, setup=setup, server_settings=settings
        )
    except asyncpg.InsufficientPrivilegeError:
        pytest.skip("auto_explain needs a superuser of the test server")
    assert pool is not None
    return pool


async def _history(admin_url: str, tenant: str) -> None:
    """The person's requests over the last 90 days, among many about others (statistics analysed)."""
    now = dt.datetime.now(dt.UTC)
    records = [
        record(
            tenant,
            consulted(BSN if n % 10 == 0 else f"99999{n:04d}"),
            occurred_at=now - dt.timedelta(days=n % 90),
        )
        for n in range(600)
    ]
    records.append(record(tenant, found(OTHER_BSN, BSN), occurred_at=now))
    await write_protocol(admin_url, records)
    await _maintain(admin_url, "ANALYZE broker.protocol_records; ANALYZE broker.protocol_persons")


async def _maintain(url: str, statement: str) -> None:
    """Run `statement` (ANALYZE, VACUUM: outside a transaction) on a connection of its own."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _plans_of_the_officers_inzage(admin_url: str, tenant: str, table: str) -> list[str]:
    """The plans of the statements on `table`, one per inzage, of _CALLS inzages of BSN's history."""
    plans: list[str] = []
    pool = await _pool_that_explains(admin_url, plans)
    try:
        answers = [await inzage(pool, tenant, BSN) for _ in range(_CALLS)]
    finally:
        await pool.close()
    assert all(len(answer) == 61 for answer in answers)
    on_table = [plan for plan in plans if table in plan]
    assert len(on_table) == _CALLS
    return on_table


# asyncpg warns when a connection goes back to the pool with a listener; the pool removes it.
@pytest.mark.filterwarnings("ignore:.*active log listener:asyncpg.InterfaceWarning")
async def test_the_officers_inzage_looks_up_the_records_month_by_month_by_primary_key(fresh_url: str) -> None:
    tenant = slug()
    await _history(fresh_url, tenant)
    for plan in await _plans_of_the_officers_inzage(fresh_url, tenant, "protocol_records"):
        assert "Nested Loop" in plan and "Function Scan on m" in plan
        assert "Hash Join" not in plan and "Merge Join" not in plan and "Materialize" not in plan
        # A lookup by the keys of one month (by primary key, or a scan of a tiny month), in a generic plan.
        assert (
            "Index Cond: ((tenant = $1) AND (seq = ANY (($6)[m.first:m.last])) "
            "AND (occurred_at >= m.earliest) AND (occurred_at <= m.latest))"
        ) in plan


@pytest.mark.filterwarnings("ignore:.*active log listener:asyncpg.InterfaceWarning")
async def test_the_officers_inzage_reads_the_person_rows_from_the_index_alone(fresh_url: str) -> None:
    """The persons step reads the months' person rows from the index alone, never from the table.

    Vacuumed first, as autovacuum keeps a protocol that is only ever appended to: a page whose rows
    every transaction sees is marked so, and an index-only scan does not visit it. (A month of a
    few rows is read whole, as a sequential scan, and sorted: cheaper than any index.)
    """
    tenant = slug()
    await _history(fresh_url, tenant)
    await _maintain(fresh_url, "VACUUM (ANALYZE) broker.protocol_persons")
    for plan in await _plans_of_the_officers_inzage(fresh_url, tenant, "protocol_persons"):
        assert "Index Only Scan using protocol_persons_" in plan
        assert "Index Scan using" not in plan
