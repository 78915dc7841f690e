"""Fixtures of the protocol tests: fresh migrated databases, runtime pools, started writers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from app.db import apply_migrations, create_pool, with_user
from app.protocol import ProtocolWriter
from tests.integration.protocol.factories import PoolFactory


@pytest.fixture
async def fresh_url(new_database: Callable[[str], Awaitable[str]]) -> str:
    """A migrated database of this test alone (admin URL), for tests that break or drop things."""
    url: str = await new_database("brp_protocol")
    await apply_migrations(url)
    return url


@pytest.fixture
async def runtime_pool() -> AsyncIterator[PoolFactory]:
    """Factory: a runtime-role pool on the database at an admin URL; closed after the test."""
    pools: list[asyncpg.Pool] = []

    async def open_pool(admin_url: str) -> asyncpg.Pool:
        pool = await create_pool(with_user(admin_url, "brp_app"), "brp_app", min_size=1, max_size=4)
        pools.append(pool)
        return pool

    yield open_pool
    for pool in pools:
        pool.terminate()


@pytest.fixture
async def writer(app_pool: asyncpg.Pool) -> AsyncIterator[ProtocolWriter]:
    """A started writer on the session database."""
    protocol = ProtocolWriter(app_pool)
    await protocol.start()
    yield protocol
    await protocol.stop()
