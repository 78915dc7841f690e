"""The migration runner: plain `NNNN_name.sql` files, applied in order, once, and never edited.

- A session advisory lock serialises concurrent runners (two replicas starting at once): the
  second waits, then finds everything applied. It waits between tries, not inside
  `pg_advisory_lock`: a statement waiting there holds a snapshot, and the first runner's concurrent
  index builds wait for every older snapshot, so the two would wait on each other.
- Each migration runs in its own transaction together with its bookkeeping row, so a failing
  migration leaves nothing behind.
- The SHA-256 of each applied file is recorded; a run refuses to continue when an applied
  migration's file changed, or when one recorded in the database is missing from disk.
- The first migration creates the roles and runs as the connecting (admin) user; every later one
  runs as the owner role, so the broker's objects are owned by it and never by a login or superuser.
- An index a migration declares on a partitioned table only (`CREATE INDEX ... ON ONLY`) is built
  partition by partition, concurrently, before the next migration runs and at the start of every
  run (`app.db.partitioned_indexes`): the writers are never locked out, and a run stopped halfway
  resumes.

Where the files are: `migrations/` in the repository. A built wheel carries them inside the package
as `app/db/sql/` (pyproject.toml maps the folder there), so an installed broker can migrate without
the checkout; a checkout or editable install reads `migrations/` itself, so a new file is picked up
without reinstalling.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import asyncpg
import msgspec
import structlog

from app.db.partitioned_indexes import UnbuildableIndex, build_pending

__all__ = [
    "MIGRATION_LOCK_KEY",
    "OWNER_ROLE",
    "Migration",
    "MigrationError",
    "MigrationResult",
    "apply_migrations",
    "default_migrations_dir",
    "load_migrations",
]

OWNER_ROLE = "brp_owner"
# Any fixed 64-bit number works; this one reads "brp-migr" in hex-ish.
MIGRATION_LOCK_KEY = 0x6272_702D_6D69_6772
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_RETRY_S = 0.2

_log = structlog.get_logger("app.db.migrations")

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS public.brp_broker_migrations (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(Exception):
    """The migrations cannot be applied; the message says which file and why."""


class Migration(msgspec.Struct, frozen=True):
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text."""
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def filename(self) -> str:
        """The file name, as the operator sees it."""
        return f"{self.version:04d}_{self.name}.sql"


class MigrationResult(msgspec.Struct, frozen=True):
    """What one run did."""

    applied: tuple[str, ...]
    already_applied: int
    indexes_built: tuple[str, ...] = ()
    """Partitions' indexes of declared partitioned indexes, built concurrently in this run."""


def default_migrations_dir() -> Traversable:
    """The migration files: the installed wheel's `app/db/sql/`, else the checkout's `migrations/`."""
    packaged = resources.files("app.db").joinpath("sql")
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "migrations"
    if checkout.is_dir():
        return checkout
    raise MigrationError("the migration files are missing: neither app/db/sql/ nor migrations/ exists")


def load_migrations(directory: Traversable) -> list[Migration]:
    """Read and order the migration files; reject stray names, duplicate numbers and an empty folder."""
    if not directory.is_dir():
        raise MigrationError(f"{directory}: is not a folder")
    migrations: dict[int, Migration] = {}
    for path in sorted((p for p in directory.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_case_name.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"{path.name}: version {version:04d} is used twice")
        migrations[version] = Migration(version=version, name=match.group(2), sql=path.read_text("utf-8"))
    if not migrations:
        raise MigrationError(f"{directory}: holds no migration files")
    return [migrations[v] for v in sorted(migrations)]


async def apply_migrations(url: str, directory: Traversable | None = None) -> MigrationResult:
    """Apply every pending migration in `directory` to the database at `url`."""
    migrations = load_migrations(directory or default_migrations_dir())
    connection = await asyncpg.connect(url)
    try:
        # Another process holds the lock; nothing in this one could signal its release.
        while not await connection.fetchval("SELECT pg_try_advisory_lock($1)", MIGRATION_LOCK_KEY):  # noqa: ASYNC110
            await asyncio.sleep(_LOCK_RETRY_S)
        try:
            return await _apply_locked(connection, migrations)
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await connection.close()


async def _apply_locked(connection: asyncpg.Connection, migrations: list[Migration]) -> MigrationResult:
    await connection.execute(_BOOKKEEPING)
    applied = {
        row["version"]: row
        for row in await connection.fetch("SELECT version, name, checksum FROM public.brp_broker_migrations")
    }
    _check_history(migrations, applied)
    # A run stopped while it built an index resumes before anything else.
    built = list(await _build_indexes(connection))
    done: list[str] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        await _apply_one(connection, migration)
        done.append(migration.filename)
        _log.info("migration_applied", migration=migration.filename)
        built += await _build_indexes(connection, migration)
    return MigrationResult(applied=tuple(done), already_applied=len(applied), indexes_built=tuple(built))


def _check_history(migrations: list[Migration], applied: dict[int, asyncpg.Record]) -> None:
    on_disk = {m.version: m for m in migrations}
    for version, row in sorted(applied.items()):
        migration = on_disk.get(version)
        if migration is None:
            raise MigrationError(
                f"{version:04d}_{row['name']}.sql was applied to this database but is missing from disk"
            )
        if migration.checksum != row["checksum"]:
            raise MigrationError(
                f"{migration.filename} was changed after it was applied; "
                "add a new migration instead of editing an applied one"
            )


async def _apply_one(connection: asyncpg.Connection, migration: Migration) -> None:
    async with connection.transaction():
        # Migration 1 creates the roles and needs the connecting (admin) user's rights.
        if migration.version > 1 and await _owner_role_usable(connection):
            await connection.execute(f'SET LOCAL ROLE "{OWNER_ROLE}"')
        try:
            await connection.execute(migration.sql)
        except asyncpg.PostgresError as exc:
            raise MigrationError(f"{migration.filename} failed: {exc.__class__.__name__}: {exc}") from None
        await connection.execute("RESET ROLE")
        await connection.execute(
            "INSERT INTO public.brp_broker_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            migration.version,
            migration.name,
            migration.checksum,
        )


async def _build_indexes(connection: asyncpg.Connection, after: Migration | None = None) -> tuple[str, ...]:
    """Build the pending partition indexes as the owner role (it owns the partitions)."""
    as_owner = await _owner_role_usable(connection)
    if as_owner:
        await connection.execute(f'SET ROLE "{OWNER_ROLE}"')
    try:
        return await build_pending(connection)
    except (UnbuildableIndex, asyncpg.PostgresError) as exc:
        where = f"the indexes {after.filename} declared" if after else "the indexes an earlier run left"
        raise MigrationError(f"building {where} failed: {exc.__class__.__name__}: {exc}") from None
    finally:
        if as_owner:
            await connection.execute("RESET ROLE")


async def _owner_role_usable(connection: asyncpg.Connection) -> bool:
    usable = await connection.fetchval(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) "
        "THEN pg_has_role(current_user, $1, 'MEMBER') ELSE false END",
        OWNER_ROLE,
    )
    return bool(usable)
