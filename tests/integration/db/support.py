"""Migration folders of the tests' own, and what the runners are doing as another session sees it."""

from __future__ import annotations

import shutil
from pathlib import Path

import asyncpg

from app.db.migrations import default_migrations_dir


def write_migration(directory: Path, name: str, sql: str) -> None:
    """Write (or overwrite) one migration file."""
    (directory / name).write_text(sql)


def migrations_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    """The broker's own first migration (roles and schema), then the test's `files`."""
    directory = tmp_path / "migrations"
    directory.mkdir()
    shutil.copy(default_migrations_dir() / "0001_roles_and_schema.sql", directory)
    for name, sql in files.items():
        write_migration(directory, name, sql)
    return directory


async def runners_refused_the_lock(connection: asyncpg.Connection) -> int:
    """How many other sessions of this database last tried the runners' lock and wait to try again."""
    count = await connection.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state = 'idle' AND query LIKE '%pg_try_advisory_lock%'"
    )
    return int(count)
