"""An existing protocol gets inzage's covering index (0022, 0023) and answers as before.

The upgrade as an operator runs it: a database migrated up to 0021 holding a protocol over four
months, then `apply_migrations` with every file. The runner builds the index on each partition
concurrently, then drops the index it replaces; every inzage answers the same, and nothing of
another tenant shows up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from app.db import MigrationError, apply_migrations
from app.db.migrations import default_migrations_dir, load_migrations
from app.protocol import inzage
from tests.integration.protocol.factories import PoolFactory, consulted, found, record, slug, write_protocol

BSN = "999993653"
OTHER_BSN = "999990019"
_BEFORE = 21  # the last migration before the index


async def _migrated_through(
    new_database: Callable[[str], Awaitable[str]], tmp_path: Path, last: int = _BEFORE
) -> str:
    """A new database with the broker's migrations up to `last`; its admin URL."""
    url = await new_database("brp_upgrade")
    before = tmp_path / "migrations"
    before.mkdir()
    for migration in load_migrations(default_migrations_dir()):
        if migration.version <= last:
            (before / migration.filename).write_text(migration.sql)
    await apply_migrations(url, before)
    return url


async def _protocol_before_the_index(url: str, tenants: tuple[str, str]) -> None:
    """Both tenants' requests about BSN and others over four months, written through write_batch."""
    now = dt.datetime.now(dt.UTC)
    mine, other = tenants
    about = [consulted(BSN if n % 7 == 0 else OTHER_BSN) for n in range(80)]
    records = [
        record(tenant, persons, occurred_at=now - dt.timedelta(days=n % 95))
        for tenant in (mine, other)
        for n, persons in enumerate(about)
    ] + [record(tenant, found(OTHER_BSN, BSN), occurred_at=now) for tenant in (mine, other)]
    await write_protocol(url, records)


async def _indexes(url: str) -> tuple[bool | None, bool, int, int]:
    """The lookup index's validity, whether the old one exists, the partitions, the lookup's children."""
    lookup = "to_regclass('broker.protocol_persons_lookup')"
    connection = await asyncpg.connect(url)
    try:
        return (
            await connection.fetchval(f"SELECT indisvalid FROM pg_index WHERE indexrelid = {lookup}"),
            await connection.fetchval("SELECT to_regclass('broker.protocol_persons_bsn') IS NOT NULL"),
            await connection.fetchval(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'broker.protocol_persons'::regclass"
            ),
            await connection.fetchval(f"SELECT count(*) FROM pg_inherits WHERE inhparent = {lookup}"),
        )
    finally:
        await connection.close()


async def test_an_existing_protocol_gets_the_index_and_inzage_answers_the_same(  # type: ignore[no-untyped-def]
    new_database: Callable[[str], Awaitable[str]], runtime_pool: PoolFactory, tmp_path: Path
) -> None:
    url = await _migrated_through(new_database, tmp_path)
    tenants = (slug(), slug())
    await _protocol_before_the_index(url, tenants)
    pool = await runtime_pool(url)
    answers_before = [await inzage(pool, tenant, bsn) for tenant in tenants for bsn in (BSN, OTHER_BSN)]

    upgrade = await apply_migrations(url)

    answers_after = [await inzage(pool, tenant, bsn) for tenant in tenants for bsn in (BSN, OTHER_BSN)]
    valid, old_index_left, partitions, children = await _indexes(url)
    assert upgrade.applied == (
        "0022_protocol_persons_lookup_index.sql",
        "0023_protocol_persons_bsn_index_dropped.sql",
    )
    assert len(upgrade.indexes_built) == partitions >= 4
    assert (valid, old_index_left, children) == (True, False, partitions)
    assert answers_after == answers_before
    assert [len(answer) for answer in answers_after] == [13, 69, 13, 69]
    assert {entry.tenant for entry in answers_after[0] + answers_after[1]} == {tenants[0]}


async def test_the_old_index_is_dropped_only_if_its_locks_come_at_once(  # type: ignore[no-untyped-def]
    new_database: Callable[[str], Awaitable[str]], tmp_path: Path
) -> None:
    """Behind a long reader the drop gives up (writers would queue behind it); the next run drops it.

    (The builds before it wait for such a reader, as they must; here they are done already.)
    """
    url = await _migrated_through(new_database, tmp_path, last=22)
    reader = await asyncpg.connect(url)
    try:
        long_read = reader.transaction()
        await long_read.start()
        await reader.fetchval("SELECT count(*) FROM broker.protocol_persons")
        # Without the migration's lock timeout this would wait for the reader for ever.
        async with asyncio.timeout(30):
            with pytest.raises(
                MigrationError, match=r"0023_protocol_persons_bsn_index_dropped\.sql failed: LockNotAvailable"
            ):
                await apply_migrations(url)
        await long_read.commit()
    finally:
        await reader.close()
    again = await apply_migrations(url)
    assert again.applied == ("0023_protocol_persons_bsn_index_dropped.sql",)
    valid, old_index_left, partitions, children = await _indexes(url)
    assert (valid, old_index_left, children) == (True, False, partitions)
