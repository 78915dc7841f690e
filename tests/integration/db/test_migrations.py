"""The migration runner against a real PostgreSQL: order, idempotence, edits, concurrency."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest

from app.db import MigrationError, apply_migrations
from app.db.migrations import MIGRATION_LOCK_KEY, default_migrations_dir, load_migrations
from tests.integration.db.support import migrations_folder, runners_refused_the_lock, write_migration


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    """The broker's first migration, then three of the test's own."""
    return migrations_folder(
        tmp_path,
        {
            "0003_second.sql": "INSERT INTO broker.trail (step) VALUES ('second');",
            "0002_first.sql": "CREATE TABLE broker.trail (id serial, step text);",
            "0010_third.sql": "INSERT INTO broker.trail (step) VALUES ('third');",
        },
    )


async def _trail(url: str) -> list[str]:
    connection = await asyncpg.connect(url)
    try:
        return [r["step"] for r in await connection.fetch("SELECT step FROM broker.trail ORDER BY id")]
    finally:
        await connection.close()


async def test_applies_in_order_and_second_run_applies_nothing(new_database, migrations_dir: Path) -> None:  # type: ignore[no-untyped-def]
    url = await new_database()
    first = await apply_migrations(url, migrations_dir)
    second = await apply_migrations(url, migrations_dir)
    assert first.applied == (
        "0001_roles_and_schema.sql",
        "0002_first.sql",
        "0003_second.sql",
        "0010_third.sql",
    )
    assert second.applied == ()
    assert second.already_applied == 4
    assert await _trail(url) == ["second", "third"]


async def test_edited_applied_migration_is_refused(new_database, migrations_dir: Path) -> None:  # type: ignore[no-untyped-def]
    url = await new_database()
    await apply_migrations(url, migrations_dir)
    write_migration(migrations_dir, "0003_second.sql", "INSERT INTO broker.trail (step) VALUES ('changed');")
    write_migration(migrations_dir, "0011_new.sql", "INSERT INTO broker.trail (step) VALUES ('new');")
    with pytest.raises(MigrationError, match=r"0003_second\.sql was changed after it was applied"):
        await apply_migrations(url, migrations_dir)
    assert await _trail(url) == ["second", "third"]  # nothing after the refusal ran


async def test_missing_applied_migration_is_refused(new_database, migrations_dir: Path) -> None:  # type: ignore[no-untyped-def]
    url = await new_database()
    await apply_migrations(url, migrations_dir)
    (migrations_dir / "0010_third.sql").unlink()
    with pytest.raises(MigrationError, match=r"0010_third\.sql was applied to this database but is missing"):
        await apply_migrations(url, migrations_dir)


async def test_failing_migration_leaves_nothing_behind(new_database, migrations_dir: Path) -> None:  # type: ignore[no-untyped-def]
    url = await new_database()
    write_migration(
        migrations_dir, "0011_broken.sql", "INSERT INTO broker.trail (step) VALUES ('x'); SELECT 1/0;"
    )
    with pytest.raises(MigrationError, match=r"0011_broken\.sql failed"):
        await apply_migrations(url, migrations_dir)
    assert await _trail(url) == ["second", "third"]
    shutil.copy(migrations_dir / "0010_third.sql", migrations_dir / "0011_broken.sql")
    result = await apply_migrations(url, migrations_dir)
    assert result.applied == ("0011_broken.sql",)


def test_badly_named_file_is_refused(migrations_dir: Path) -> None:
    write_migration(migrations_dir, "3_oops.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match=r"3_oops\.sql: migration files are named"):
        load_migrations(migrations_dir)


async def test_two_runners_at_once_apply_each_migration_once(new_database, migrations_dir: Path) -> None:  # type: ignore[no-untyped-def]
    url = await new_database()
    # Hold the runners' lock so both start, queue up on it, and then race for real.
    gate = await asyncpg.connect(url)
    await gate.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    runners = [asyncio.create_task(apply_migrations(url, migrations_dir)) for _ in range(2)]
    while await runners_refused_the_lock(gate) < 2:
        await asyncio.wait(runners, timeout=0.01)  # yields to the runners; fails fast if one died
        assert not any(r.done() for r in runners)
    await gate.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    await gate.close()
    results = await asyncio.gather(*runners)
    assert sorted(len(r.applied) for r in results) == [0, 4]
    assert await _trail(url) == ["second", "third"]


async def test_the_broker_migrations_apply_twice_cleanly(new_database) -> None:  # type: ignore[no-untyped-def]
    url = await new_database()
    first = await apply_migrations(url)
    second = await apply_migrations(url)
    assert len(first.applied) == len(load_migrations(default_migrations_dir()))
    assert second.applied == ()


async def test_broker_objects_are_owned_by_the_owner_role(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        owners = await connection.fetch(
            "SELECT c.relname, pg_get_userbyid(c.relowner) AS owner FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'broker' AND c.relkind = 'r'"
        )
        runtime = await connection.fetchrow(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb "
            "FROM pg_roles WHERE rolname = 'brp_app'"
        )
    finally:
        await connection.close()
    assert owners
    assert {r["owner"] for r in owners} == {"brp_owner"}
    assert runtime is not None
    assert not any(runtime.values())
