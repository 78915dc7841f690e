"""Indexes of partitioned tables, built one partition at a time without locking the writers out.

`CREATE INDEX` on a partitioned table keeps every partition from being written for as long as the
build takes: on a protocol of 10^8 records minutes in which no request could be protocolled, and
so none answered. `CREATE INDEX CONCURRENTLY` lets the writers go on, but PostgreSQL
refuses it on a partitioned table and inside a transaction, and every migration runs in one.

So a migration only declares such an index, on the parent alone:

    CREATE INDEX name ON ONLY broker.table (...);

which changes the catalog only (instant) and leaves the index not yet valid. `build_pending` then
builds it on each partition with `CREATE INDEX CONCURRENTLY` and attaches it; once every partition
has its index, PostgreSQL marks the parent's valid. A partition created in the meantime gets the
index when it is created. The migration runner calls `build_pending` after each migration, so the
next migration finds the index complete, and once at the start of every run: a run stopped halfway
(a Job's deadline, a lost connection) resumes where it was, discarding a build that was cut off
(PostgreSQL leaves such an index behind, marked invalid).

A concurrent build waits for the transactions already running on its partition and for older
snapshots in the database (a long `verify`, say); it blocks no one while it waits.
"""

from __future__ import annotations

import re
import time
from typing import Final

import asyncpg
import msgspec
import structlog

__all__ = ["UnbuildableIndex", "build_pending"]

_log = structlog.get_logger("app.db.partitioned_indexes")

# Every (index, partition) pair where a partitioned index still lacks the partition's index.
# pg_inherits links partitions to their table and, for indexes, partitions' indexes to the parent's.
_PENDING: Final = """
SELECT parent.oid::regclass::text AS index, pg_get_indexdef(parent.oid) AS definition,
       part.oid::regclass::text AS partition, part_namespace.nspname AS schema,
       part.relname AS partition_name, parent.relname AS index_name, tab.relname AS table_name
FROM pg_index AS declared
JOIN pg_class AS parent ON parent.oid = declared.indexrelid AND parent.relkind = 'I'
JOIN pg_class AS tab ON tab.oid = declared.indrelid
JOIN pg_inherits AS partitioned ON partitioned.inhparent = declared.indrelid
JOIN pg_class AS part ON part.oid = partitioned.inhrelid
JOIN pg_namespace AS part_namespace ON part_namespace.oid = part.relnamespace
WHERE NOT declared.indisvalid
  AND NOT EXISTS (
      SELECT 1 FROM pg_inherits AS attached JOIN pg_index AS child ON child.indexrelid = attached.inhrelid
      WHERE attached.inhparent = parent.oid AND child.indrelid = part.oid
  )
ORDER BY parent.oid, part.relname
"""
# What `pg_get_indexdef` gives for an index declared on the parent only; what follows USING (the
# method, the columns, INCLUDE, WITH, WHERE) is what each partition's index repeats.
_DECLARED_ON_ONLY: Final = re.compile(r"CREATE INDEX \S+ ON ONLY \S+ (USING .+)", re.DOTALL)
_MAX_NAME: Final = 63  # PostgreSQL's NAMEDATALEN - 1


class PendingIndex(msgspec.Struct, frozen=True):
    """One partition that still needs its index of a partitioned index."""

    index: str
    """The parent's index, qualified as PostgreSQL prints it."""
    partition: str
    """The partition, qualified as PostgreSQL prints it."""
    child: str
    """The partition's index, qualified: `<partition>_<the index's name after the table's>`."""
    child_sql: str
    """The partition's index as an identifier in a statement (quoted)."""
    statement: str
    """`CREATE INDEX CONCURRENTLY` of the partition's index."""


class UnbuildableIndex(Exception):
    """A declared index this module cannot build partition by partition; the message says why."""


async def build_pending(connection: asyncpg.Connection) -> tuple[str, ...]:
    """Build and attach every pending partition index, one partition at a time; return their names.

    Runs outside any transaction (a concurrent build refuses to run in one), as a role that owns the
    partitions. Raises `UnbuildableIndex` for an index it cannot repeat on a partition and
    `asyncpg.PostgresError` when a build fails; a later call resumes.
    """
    built: list[str] = []
    # Read once: a partition created meanwhile gets the index with its creation.
    for pending in [_pending(row) for row in await connection.fetch(_PENDING)]:
        started = time.perf_counter()
        valid = await _valid(connection, pending)
        if valid is False:
            # A build that was cut off leaves its index behind, invalid and still updated by every
            # write; it can only be dropped (concurrently, again not to lock the writers out).
            await connection.execute(f"DROP INDEX CONCURRENTLY {pending.child_sql}")
        if not valid:
            await connection.execute(pending.statement)
        # Cut off between these two statements, the next run finds the index valid and attaches it.
        await connection.execute(f"ALTER INDEX {pending.index} ATTACH PARTITION {pending.child_sql}")
        _log.info(
            "partition_index_built",
            index=pending.index,
            partition=pending.partition,
            seconds=round(time.perf_counter() - started, 3),
        )
        built.append(pending.child)
    return tuple(built)


def _pending(row: asyncpg.Record) -> PendingIndex:
    declared = _DECLARED_ON_ONLY.fullmatch(row["definition"])
    if declared is None:
        raise UnbuildableIndex(
            f"{row['index']}: only a plain (not UNIQUE) index declared ON ONLY its table is built "
            f"partition by partition; PostgreSQL has: {row['definition']}"
        )
    child = _child_name(row["partition_name"], row["index_name"], row["table_name"])
    return PendingIndex(
        index=row["index"],
        partition=row["partition"],
        child=f"{row['schema']}.{child}",
        child_sql=f"{_quote(row['schema'])}.{_quote(child)}",
        statement=f"CREATE INDEX CONCURRENTLY {_quote(child)} ON {row['partition']} {declared.group(1)}",
    )


def _child_name(partition: str, index: str, table: str) -> str:
    # `protocol_persons_lookup` of `protocol_persons` on `protocol_persons_y2026m12` gives
    # `protocol_persons_y2026m12_lookup`: the name says which partition and which index it is, and a
    # run that resumes finds the build it was doing under that name.
    suffix = index.removeprefix(f"{table}_")
    name = f"{partition}_{suffix}"
    if len(name) > _MAX_NAME:
        raise UnbuildableIndex(
            f"{index}: the index name for partition {partition} would exceed {_MAX_NAME} characters"
        )
    return name


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


async def _valid(connection: asyncpg.Connection, pending: PendingIndex) -> bool | None:
    """Whether the partition's index is valid; None when there is none of that name."""
    valid: bool | None = await connection.fetchval(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)", pending.child_sql
    )
    return valid
