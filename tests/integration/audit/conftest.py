"""Audit fixtures: a fresh migrated database per test (chains start at 1), as runtime role and owner."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import asyncpg
import pytest

from app.db import apply_migrations, create_pool, with_user
from app.db.migrations import OWNER_ROLE


@pytest.fixture
async def owner_url(new_database) -> str:  # type: ignore[no-untyped-def]
    """The admin (migration) URL of a fresh, migrated database."""
    url: str = await new_database("brp_audit")
    await apply_migrations(url)
    return url


@pytest.fixture
async def runtime_pool(owner_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool as the app has it (runtime role) on that database."""
    pool = await create_pool(with_user(owner_url, "brp_app"), "brp_app", min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def as_owner(owner_url: str) -> Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]:
    """Factory: a connection as the owner role (what operators and `tenants apply` use)."""

    @asynccontextmanager
    async def connect() -> AsyncIterator[asyncpg.Connection]:
        connection = await asyncpg.connect(owner_url)
        try:
            await connection.execute(f'SET ROLE "{OWNER_ROLE}"')
            yield connection
        finally:
            await connection.close()

    return connect


@pytest.fixture
def as_superuser(owner_url: str) -> Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]:
    """Factory: the admin login itself (a superuser in the tests): the tamperer."""

    @asynccontextmanager
    async def connect() -> AsyncIterator[asyncpg.Connection]:
        connection = await asyncpg.connect(owner_url)
        try:
            yield connection
        finally:
            await connection.close()

    return connect
