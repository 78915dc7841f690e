"""An index declared on a partitioned table is built partition by partition, writers going on.

Real PostgreSQL: a table of the test's own with two partitions and rows, an index declared on it
`ON ONLY` by a migration, and the runner that completes it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from app.db import MigrationError, apply_migrations
from app.db.migrations import MIGRATION_LOCK_KEY
from tests.integration.db.support import migrations_folder, runners_refused_the_lock, write_migration

_TABLE = """
CREATE TABLE broker.events (k integer NOT NULL, v text NOT NULL) PARTITION BY RANGE (k);
CREATE TABLE broker.events_low PARTITION OF broker.events FOR VALUES FROM (0) TO (100);
CREATE TABLE broker.events_high PARTITION OF broker.events FOR VALUES FROM (100) TO (200);
INSERT INTO broker.events SELECT k, 'v' || k FROM generate_series(0, 199) AS k;
"""
_DECLARED = "CREATE INDEX events_lookup ON ONLY broker.events (k) INCLUDE (v);"
# Fails unless the index the previous migration declared is complete when it runs.
_NEEDS_THE_INDEX = """
DO $$ BEGIN
    IF NOT (SELECT indisvalid FROM pg_index WHERE indexrelid = 'broker.events_lookup'::regclass) THEN
        RAISE EXCEPTION 'events_lookup is not built yet';
    END IF;
END $$;
"""
_CHILDREN = ("broker.events_high_lookup", "broker.events_low_lookup")


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    """The broker's first migration (roles, schema), a partitioned table, the declared index, a check."""
    return migrations_folder(
        tmp_path,
        {
            "0002_events.sql": _TABLE,
            "0003_events_lookup.sql": _DECLARED,
            "0004_needs_the_index.sql": _NEEDS_THE_INDEX,
        },
    )


async def _indexes(url: str) -> dict[str, tuple[bool, str]]:
    """Each index of broker.events and its partitions: whether it is valid, and its definition."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT i.indexrelid::regclass::text AS name, i.indisvalid, pg_get_indexdef(i.indexrelid) AS def "
            "FROM pg_index i WHERE i.indrelid IN "
            "('broker.events'::regclass, 'broker.events_low'::regclass, 'broker.events_high'::regclass)"
        )
        attached = await connection.fetch(
            "SELECT inhrelid::regclass::text AS name FROM pg_inherits "
            "WHERE inhparent = 'broker.events_lookup'::regclass"
        )
    finally:
        await connection.close()
    assert sorted(r["name"] for r in attached) == sorted(_CHILDREN)
    return {r["name"]: (r["indisvalid"], r["def"]) for r in rows}


async def test_a_declared_index_is_built_on_every_partition_before_the_next_migration(
    new_database,  # type: ignore[no-untyped-def]
    migrations_dir: Path,
) -> None:
    url = await new_database()
    result = await apply_migrations(url, migrations_dir)
    again = await apply_migrations(url, migrations_dir)
    assert result.applied[-1] == "0004_needs_the_index.sql"  # it found the index complete
    assert result.indexes_built == _CHILDREN
    assert again.indexes_built == ()
    indexes = await _indexes(url)
    assert indexes["broker.events_lookup"][0] is True
    for child in _CHILDREN:
        valid, definition = indexes[child]
        assert valid
        assert definition.endswith("USING btree (k) INCLUDE (v)")


async def test_writers_go_on_while_a_partition_waits_for_its_index(  # type: ignore[no-untyped-def]
    new_database, migrations_dir: Path
) -> None:
    """A build waits for a transaction that writes the partition; another writer is not held up.

    A plain `CREATE INDEX` would queue its lock behind the open writer and every later writer
    behind it: the second insert would run into its lock timeout.
    """
    url = await new_database()
    (migrations_dir / "0003_events_lookup.sql").rename(migrations_dir / "pending")
    (migrations_dir / "0004_needs_the_index.sql").unlink()
    await apply_migrations(url, migrations_dir)
    (migrations_dir / "pending").rename(migrations_dir / "0003_events_lookup.sql")
    open_writer, other_writer, watcher = [await asyncpg.connect(url) for _ in range(3)]
    try:
        open_transaction = open_writer.transaction()
        await open_transaction.start()
        # Into the partition, as the protocol's writer does through its parent but without locking
        # the parent: the declaration itself (catalog only) must not wait for this test's writer.
        await open_writer.execute("INSERT INTO broker.events_low VALUES (1, 'open')")
        run = asyncio.create_task(apply_migrations(url, migrations_dir))
        async with asyncio.timeout(60):
            while not await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'CREATE INDEX CONCURRENTLY%events_low%'"
            ):
                await asyncio.wait([run], timeout=0.01)  # yields to the runner; fails fast if it ended
                assert not run.done()
        await other_writer.execute("SET lock_timeout = '2s'")
        await other_writer.execute("INSERT INTO broker.events VALUES (2, 'other'), (102, 'other')")
        assert not run.done()  # still waiting for the open writer, not for the other
        await open_transaction.commit()
        result = await run
        rows = await watcher.fetchval("SELECT count(*) FROM broker.events WHERE v IN ('open', 'other')")
    finally:
        for connection in (open_writer, other_writer, watcher):
            await connection.close()
    assert result.indexes_built == _CHILDREN
    assert rows == 3
    assert (await _indexes(url))["broker.events_lookup"][0] is True


async def test_a_run_cut_off_mid_build_resumes(new_database, migrations_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """A build left invalid is discarded and done again; one built but not attached is attached."""
    url = await new_database()
    (migrations_dir / "0004_needs_the_index.sql").unlink()
    (migrations_dir / "0003_events_lookup.sql").unlink()
    await apply_migrations(url, migrations_dir)
    connection = await asyncpg.connect(url)
    try:
        # What a cut-off run leaves behind: an invalid index (here its build failed) ...
        with pytest.raises(asyncpg.DivisionByZeroError):
            await connection.execute(
                "CREATE INDEX CONCURRENTLY events_low_lookup ON broker.events_low ((1 / (k - k)))"
            )
        # ... and one built whole whose attachment never ran.
        await connection.execute("CREATE INDEX events_high_lookup ON broker.events_high (k) INCLUDE (v)")
        # The declaration committed (by a migration whose run then stopped).
        await connection.execute(_DECLARED)
    finally:
        await connection.close()
    result = await apply_migrations(url, migrations_dir)
    assert result.applied == ()  # nothing new to apply: the run resumed the builds first
    assert result.indexes_built == _CHILDREN
    indexes = await _indexes(url)
    assert indexes["broker.events_lookup"][0] is True
    assert indexes["broker.events_low_lookup"] == (True, indexes["broker.events_low_lookup"][1])
    assert indexes["broker.events_low_lookup"][1].endswith("USING btree (k) INCLUDE (v)")


async def test_two_runners_at_once_build_each_index_once(new_database, migrations_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """The runner that waits for the lock must not hold up the other's concurrent builds."""
    url = await new_database()
    gate = await asyncpg.connect(url)
    await gate.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    runners = [asyncio.create_task(apply_migrations(url, migrations_dir)) for _ in range(2)]
    async with asyncio.timeout(60):
        while await runners_refused_the_lock(gate) < 2:
            await asyncio.wait(runners, timeout=0.01)  # yields to the runners; fails fast if one died
            assert not any(r.done() for r in runners)
    await gate.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    await gate.close()
    async with asyncio.timeout(60):
        results = await asyncio.gather(*runners)
    assert sorted(len(r.applied) for r in results) == [0, 4]
    assert sorted(r.indexes_built for r in results) == [(), _CHILDREN]


async def test_a_unique_index_declared_on_only_the_parent_is_refused(  # type: ignore[no-untyped-def]
    new_database, migrations_dir: Path
) -> None:
    url = await new_database()
    write_migration(
        migrations_dir,
        "0003_events_lookup.sql",
        "CREATE UNIQUE INDEX events_lookup ON ONLY broker.events (k);",
    )
    with pytest.raises(MigrationError, match=r"0003_events_lookup\.sql declared failed: .*only a plain"):
        await apply_migrations(url, migrations_dir)


async def test_a_partition_index_whose_name_would_be_cut_is_refused(  # type: ignore[no-untyped-def]
    new_database, migrations_dir: Path
) -> None:
    """PostgreSQL would cut a name past 63 characters; a resumed run could then not find its build."""
    url = await new_database()
    long_partition = "events_" + "x" * 50
    write_migration(
        migrations_dir,
        "0002_events.sql",
        _TABLE
        + f"CREATE TABLE broker.{long_partition} PARTITION OF broker.events FOR VALUES FROM (200) TO (300);",
    )
    with pytest.raises(MigrationError, match=rf"0003_events_lookup\.sql declared failed: .*{long_partition}"):
        await apply_migrations(url, migrations_dir)
