"""Tenancy fixtures: a fresh migrated database per test (apply and prune act on every tenant)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from app.db import apply_migrations, create_pool, with_user
from app.tenancy import TenantSpec
from tests.unit.tenancy.demo import SECRET_VALUE, SECRET_VARIABLE, demo_specs


@pytest.fixture
async def owner_url(new_database) -> str:  # type: ignore[no-untyped-def]
    """The admin (migration) URL of a fresh, migrated database with no tenants."""
    url: str = await new_database("brp_tenancy")
    await apply_migrations(url)
    return url


@pytest.fixture
async def runtime_pool(owner_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool as the app has it (runtime role) on that database."""
    pool = await create_pool(with_user(owner_url, "brp_app"), "brp_app", min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def specs(monkeypatch: pytest.MonkeyPatch) -> dict[str, TenantSpec]:
    """The demo tenants, their client secrets read from a test variable."""
    monkeypatch.setenv(SECRET_VARIABLE, SECRET_VALUE)
    return demo_specs()
