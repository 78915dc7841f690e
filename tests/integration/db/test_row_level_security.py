"""Row-level security as the runtime role: fail closed, and no tenant sees or writes another's rows."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from app.db import DatabaseError, create_pool, tenant_scope
from tests.support.ids import tenant_slug


async def _add_tenant(pool: asyncpg.Pool, slug: str) -> str:
    async with tenant_scope(pool, slug) as connection:
        await connection.execute(
            "INSERT INTO tenants (id, slug, name, kind) VALUES ($1, $2, $3, 'organisation')",
            uuid.uuid4(),
            slug,
            slug.upper(),
        )
    return slug


def _slug() -> str:
    return tenant_slug("t")


async def test_pool_runs_as_the_runtime_role(app_pool: asyncpg.Pool) -> None:
    async with app_pool.acquire() as connection:
        assert await connection.fetchval("SELECT current_user") == "brp_app"
    # The role survives the pool's reset between uses.
    async with app_pool.acquire() as connection:
        assert await connection.fetchval("SELECT current_user") == "brp_app"


async def test_without_tenant_nothing_is_visible_and_insert_is_refused(app_pool: asyncpg.Pool) -> None:
    await _add_tenant(app_pool, _slug())
    async with app_pool.acquire() as connection:
        assert await connection.fetch("SELECT * FROM tenants") == []
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await connection.execute(
                "INSERT INTO tenants (id, slug, name, kind) VALUES ($1, $2, 'X', 'organisation')",
                uuid.uuid4(),
                _slug(),
            )


async def test_tenant_sees_only_its_own_rows(app_pool: asyncpg.Pool) -> None:
    a = await _add_tenant(app_pool, _slug())
    b = await _add_tenant(app_pool, _slug())
    async with tenant_scope(app_pool, a) as connection:
        assert [r["slug"] for r in await connection.fetch("SELECT slug FROM tenants")] == [a]
        assert await connection.fetchval("SELECT count(*) FROM tenants WHERE slug = $1", b) == 0


async def test_tenant_cannot_write_another_tenants_rows(app_pool: asyncpg.Pool) -> None:
    a = await _add_tenant(app_pool, _slug())
    b = await _add_tenant(app_pool, _slug())
    async with tenant_scope(app_pool, a) as connection:
        updated = await connection.execute("UPDATE tenants SET name = 'hijacked' WHERE slug = $1", b)
        assert updated == "UPDATE 0"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("UPDATE tenants SET slug = $1 WHERE slug = $2", _slug(), a)
    async with tenant_scope(app_pool, a) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute(
                "INSERT INTO tenants (id, slug, name, kind) VALUES ($1, $2, 'X', 'organisation')",
                uuid.uuid4(),
                _slug(),
            )
    async with tenant_scope(app_pool, b) as connection:
        assert await connection.fetchval("SELECT name FROM tenants") != "hijacked"


async def test_runtime_role_cannot_delete_or_disable_security(app_pool: asyncpg.Pool) -> None:
    a = await _add_tenant(app_pool, _slug())
    async with tenant_scope(app_pool, a) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("DELETE FROM tenants WHERE slug = $1", a)
    async with app_pool.acquire() as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("ALTER TABLE tenants DISABLE ROW LEVEL SECURITY")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("RESET ROLE; SET ROLE brp_owner")


async def test_tenant_setting_does_not_outlive_its_transaction(app_pool: asyncpg.Pool) -> None:
    a = await _add_tenant(app_pool, _slug())
    async with tenant_scope(app_pool, a) as connection:
        assert await connection.fetchval("SELECT count(*) FROM tenants") == 1
    async with app_pool.acquire() as connection:
        assert await connection.fetchval("SELECT current_setting('app.tenant_id', true)") in ("", None)


async def test_pool_refuses_a_role_that_bypasses_rls(database_url: str) -> None:
    with pytest.raises(DatabaseError, match="may bypass row-level security"):
        await create_pool(database_url, "postgres", min_size=1, max_size=1)
