"""Append-only, enforced by PostgreSQL: grants for the runtime role, a trigger for everyone."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from app.db import tenant_scope
from app.protocol import ProtocolWriter
from tests.integration.protocol.factories import consulted, record, slug


def _partition_of_this_month(table: str) -> str:
    now = dt.datetime.now(dt.UTC)
    return f"{table}_y{now.year:04d}m{now.month:02d}"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE protocol_records SET employee = 'someone else'",
        "DELETE FROM protocol_records",
        "TRUNCATE protocol_records",
        "UPDATE protocol_persons SET bsn = '000000000'",
        "DELETE FROM protocol_persons",
        "TRUNCATE protocol_persons",
        "DELETE FROM protocol_chain_heads",
        "TRUNCATE protocol_chain_heads",
        "INSERT INTO protocol_retention (tenant, through_seq, through_hash, leftover, cutoff, partitions) "
        "VALUES (current_setting('app.tenant_id'), 1, '\\x00', 0, now(), '{}')",
    ],
)
async def test_runtime_role_cannot_change_or_remove_protocol_rows(
    writer: ProtocolWriter, app_pool: asyncpg.Pool, statement: str
) -> None:
    tenant = slug()
    await writer.record(record(tenant, consulted("999993653")))
    async with tenant_scope(app_pool, tenant) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await connection.execute(statement)


@pytest.mark.parametrize("table", ["protocol_records", "protocol_persons"])
async def test_runtime_role_cannot_reach_a_partition_directly(app_pool: asyncpg.Pool, table: str) -> None:
    # A partition has no policies of its own; the runtime role has no grant on it, only on the parent.
    async with tenant_scope(app_pool, slug()) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await connection.fetch(f"SELECT * FROM {_partition_of_this_month(table)}")


async def test_runtime_role_cannot_move_a_chain_head_back(
    writer: ProtocolWriter, app_pool: asyncpg.Pool
) -> None:
    tenant = slug()
    await writer.record(record(tenant))
    async with tenant_scope(app_pool, tenant) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="only moves forward"):
            await connection.execute("UPDATE protocol_chain_heads SET seq = 0")


async def test_runtime_role_may_only_create_the_coming_months(app_pool: asyncpg.Pool) -> None:
    async with app_pool.acquire() as connection:
        assert await connection.fetchval("SELECT broker.protocol_ensure_partitions(1)") == 0
        with pytest.raises(asyncpg.InvalidParameterValueError):
            await connection.fetchval("SELECT broker.protocol_ensure_partitions(13)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetchval("SELECT broker.protocol_create_partitions('1999-01-01')")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE broker.protocol_records SET employee = 'someone else' WHERE tenant = $1",
        "DELETE FROM broker.protocol_records WHERE tenant = $1",
        "UPDATE broker.protocol_persons SET bsn = '000000000' WHERE tenant = $1",
        "DELETE FROM broker.protocol_persons WHERE tenant = $1",
        "DELETE FROM broker.protocol_chain_heads WHERE tenant = $1",
    ],
)
async def test_even_a_superuser_cannot_change_or_delete_rows(
    writer: ProtocolWriter, database_url: str, statement: str
) -> None:
    tenant = slug()
    await writer.record(record(tenant, consulted("999993653")))
    admin = await asyncpg.connect(database_url)
    try:
        assert await admin.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await admin.execute(statement, tenant)
    finally:
        await admin.close()


@pytest.mark.parametrize(
    "table",
    [
        "broker.protocol_records",
        "broker.protocol_persons",
        "broker.protocol_chain_heads",
        "broker.protocol_retention",
        f"broker.{_partition_of_this_month('protocol_records')}",
        f"broker.{_partition_of_this_month('protocol_persons')}",
    ],
)
async def test_even_a_superuser_cannot_truncate(database_url: str, table: str) -> None:
    admin = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await admin.execute(f"TRUNCATE {table}")
    finally:
        await admin.close()


async def test_runtime_role_cannot_start_a_chain_anywhere_but_at_zero(app_pool: asyncpg.Pool) -> None:
    async with tenant_scope(app_pool, slug()) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="starts at 0"):
            await connection.execute(
                "INSERT INTO protocol_chain_heads (tenant, seq, hash) "
                "VALUES (current_setting('app.tenant_id'), 5, sha256('forged'))"
            )
