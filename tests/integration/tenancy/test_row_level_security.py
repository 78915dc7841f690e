"""Tenant configuration under row-level security: connected as brp_app, tenant A can neither read
nor write tenant B's configuration; without a tenant nothing is visible; the registry is all that
is shared, and only for reading."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from app.db import tenant_scope
from app.tenancy import TenantSpec, apply, store

CONFIG_TABLES = (
    "member_organisations",
    "identity_providers",
    "afnemers",
    "gegevenssets",
    "access_rules",
    "access_rule_afnemers",
    "access_rule_gegevenssets",
    "rate_limits",
)


@pytest.fixture
async def ids(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> dict[str, uuid.UUID]:
    await apply(owner_url, list(specs.values()), prune=False, dry_run=False)
    async with runtime_pool.acquire() as connection:
        return {entry.slug: entry.id for entry in await store.list_tenants(connection)}


async def test_tenant_sees_only_its_own_configuration(
    runtime_pool: asyncpg.Pool, ids: dict[str, uuid.UUID]
) -> None:
    a, b = ids["amsterdam"], ids["vallei-liemers"]
    async with tenant_scope(runtime_pool, "amsterdam") as connection:
        for table in CONFIG_TABLES:
            tenants = {
                r["tenant_id"] for r in await connection.fetch(f"SELECT tenant_id FROM broker.{table}")
            }
            assert tenants <= {a}, table
            assert (
                await connection.fetchval(f"SELECT count(*) FROM broker.{table} WHERE tenant_id = $1", b) == 0
            )
        assert await connection.fetchval("SELECT array_agg(afnemer_id) FROM broker.afnemers") == ["000101"]
        spec = await store.read_tenant(connection)
    assert spec is not None and spec.slug == "amsterdam"


async def test_without_a_tenant_no_configuration_is_visible(
    runtime_pool: asyncpg.Pool, ids: dict[str, uuid.UUID]
) -> None:
    async with runtime_pool.acquire() as connection:
        for table in CONFIG_TABLES:
            assert await connection.fetchval(f"SELECT count(*) FROM broker.{table}") == 0, table
        assert await store.read_tenant(connection) is None


async def test_tenant_cannot_write_another_tenants_configuration(
    runtime_pool: asyncpg.Pool, ids: dict[str, uuid.UUID]
) -> None:
    b = ids["vallei-liemers"]
    async with tenant_scope(runtime_pool, "amsterdam") as connection:
        updated = await connection.execute(
            "UPDATE broker.afnemers SET client_id = 'hijacked' WHERE tenant_id = $1", b
        )
        assert updated == "UPDATE 0"
        assert (
            await connection.execute("DELETE FROM broker.access_rules WHERE tenant_id = $1", b) == "DELETE 0"
        )
    refused = [
        # a row for B, written in A's scope
        ("INSERT INTO broker.gegevenssets (tenant_id, name, definition) VALUES ($1, 'stolen', '{}')", b),
        # A's own row moved over to B
        ("UPDATE broker.afnemers SET tenant_id = $1", b),
    ]
    for statement, tenant in refused:
        async with tenant_scope(runtime_pool, "amsterdam") as connection:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await connection.execute(statement, tenant)
    async with tenant_scope(runtime_pool, "vallei-liemers") as connection:
        assert (
            await connection.fetchval("SELECT count(*) FROM broker.afnemers WHERE client_id = 'hijacked'")
            == 0
        )
        assert await connection.fetchval("SELECT count(*) FROM broker.access_rules") == 3
        assert (
            await connection.fetchval("SELECT count(*) FROM broker.gegevenssets WHERE name = 'stolen'") == 0
        )


async def test_a_rule_can_never_name_another_tenants_afnemer(
    runtime_pool: asyncpg.Pool, ids: dict[str, uuid.UUID]
) -> None:
    # The link's foreign key includes the tenant: 000301 exists, but not for amsterdam.
    async with tenant_scope(runtime_pool, "amsterdam") as connection:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await connection.execute(
                "INSERT INTO broker.access_rule_afnemers (tenant_id, rule, afnemer_id) "
                "VALUES ($1, 'burgerzaken', '000301')",
                ids["amsterdam"],
            )


async def test_registry_is_readable_but_not_writable_by_the_app(
    runtime_pool: asyncpg.Pool, ids: dict[str, uuid.UUID]
) -> None:
    async with runtime_pool.acquire() as connection:
        columns = [
            r["column_name"]
            for r in await connection.fetch(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'broker' AND table_name = 'tenant_registry' ORDER BY ordinal_position"
            )
        ]
        assert columns == ["id", "slug", "status"]
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("UPDATE broker.tenant_registry SET status = 'active'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute(
                "INSERT INTO broker.tenant_registry VALUES ($1, 'fake', 'active')", uuid.uuid4()
            )


async def test_registry_follows_tenants_written_by_anyone(
    runtime_pool: asyncpg.Pool, ids: dict[str, uuid.UUID]
) -> None:
    new = uuid.uuid4()
    async with tenant_scope(runtime_pool, "via-app") as connection:
        await connection.execute(
            "INSERT INTO broker.tenants (id, slug, name, kind) "
            "VALUES ($1, 'via-app', 'Via app', 'organisation')",
            new,
        )
    async with tenant_scope(runtime_pool, "via-app") as connection:
        await connection.execute("UPDATE broker.tenants SET status = 'suspended'")
    async with runtime_pool.acquire() as connection:
        entry = await store.find_tenant(connection, "via-app")
    assert entry == store.RegistryEntry(new, "via-app", "suspended")


async def test_row_level_security_binds_the_owner_too(owner_url: str, ids: dict[str, uuid.UUID]) -> None:
    connection = await asyncpg.connect(owner_url)
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE brp_owner")
            for table in CONFIG_TABLES:
                assert await connection.fetchval(f"SELECT count(*) FROM broker.{table}") == 0, table
    finally:
        await connection.close()
