"""Monthly partitions of the protocol: created ahead of time, listed for retention.

Each calendar month (UTC) has one partition of `protocol_records` and one of `protocol_persons`,
made by the SQL function `broker.protocol_create_partitions` (owner only, any month) or
`broker.protocol_ensure_partitions` (runtime role too: this month and up to 12 ahead). There is no
default partition on purpose: a record whose month has no partition is refused by PostgreSQL and
its request gets 503, so nothing ever lands where retention would not find it.

Creating a partition locks the parent table briefly; `ensure_partitions` waits at most
`lock_timeout` for that lock (a long `verify` must not stall every request behind it) and the
writer simply tries again later: months are created long before they are needed.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from app.protocol.access import Connection

__all__ = [
    "DEFAULT_MONTHS_AHEAD",
    "PROTOCOL_TABLES",
    "Partition",
    "create_partitions",
    "ensure_partitions",
    "list_partitions",
]

DEFAULT_MONTHS_AHEAD = 2
PROTOCOL_TABLES = ("protocol_records", "protocol_persons")

_LIST = """
SELECT c.relname AS name, p.relname AS parent,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz AS lower,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS upper
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
JOIN pg_catalog.pg_namespace n ON n.oid = p.relnamespace
WHERE n.nspname = 'broker' AND p.relname = ANY($1::text[])
ORDER BY upper, parent
"""


class Partition(msgspec.Struct, frozen=True):
    """One monthly partition: its table name, the table it belongs to, and its bounds [lower, upper)."""

    name: str
    parent: str
    lower: dt.datetime
    upper: dt.datetime


async def ensure_partitions(
    connection: Connection, months_ahead: int = DEFAULT_MONTHS_AHEAD, *, lock_timeout_ms: int = 2000
) -> int:
    """Create the partitions of this month and `months_ahead` more that are missing; return how many.

    Works as the runtime role (the function runs as the owner). Runs in its own transaction.
    """
    async with connection.transaction():
        await connection.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        created = await connection.fetchval("SELECT broker.protocol_ensure_partitions($1)", months_ahead)
    return int(created)


async def create_partitions(connection: Connection, month: dt.date) -> bool:
    """Create both partitions of `month` (any month; owner role only); False when they existed."""
    created = await connection.fetchval("SELECT broker.protocol_create_partitions($1)", month)
    return bool(created)


async def list_partitions(connection: Connection) -> list[Partition]:
    """Every partition of the protocol tables, oldest first."""
    rows = await connection.fetch(_LIST, list(PROTOCOL_TABLES))
    return [
        Partition(name=row["name"], parent=row["parent"], lower=row["lower"], upper=row["upper"])
        for row in rows
        if row["lower"] is not None and row["upper"] is not None
    ]
