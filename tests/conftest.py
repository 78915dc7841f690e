"""Fixtures shared by every test level: a real PostgreSQL, fresh databases, settings, log capture.

With `BROKER_DATABASE_URL` set, the tests create their databases on that server (the URL's user
needs CREATEDB and CREATEROLE); otherwise they start the embedded PostgreSQL in `.state/`.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from app.db import EmbeddedPostgres, apply_migrations, create_pool, ensure_database, with_user
from app.logging import configure_logging
from app.settings import Settings

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """An admin URL of a real PostgreSQL server."""
    external = os.environ.get("BROKER_DATABASE_URL")
    if external:
        yield external
        return
    embedded = EmbeddedPostgres(REPO / ".state" / "postgres-test")
    url = embedded.start()
    yield url
    embedded.stop()


@pytest.fixture(scope="session")
def new_database(postgres_admin_url: str):  # type: ignore[no-untyped-def]
    """Factory: a fresh, empty database on the test server; returns its admin URL."""

    async def create(prefix: str = "brp_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        return await ensure_database(postgres_admin_url, name)

    return create


@pytest.fixture(scope="session")
async def database_url(new_database) -> str:  # type: ignore[no-untyped-def]
    """A migrated database shared by the session's tests (admin URL)."""
    url: str = await new_database()
    await apply_migrations(url)
    return url


@pytest.fixture
async def app_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool as the app has it: running as the runtime role."""
    pool = await create_pool(with_user(database_url, "brp_app"), "brp_app", min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for an in-process app against the session database."""
    return Settings(
        database_url=with_user(database_url, "brp_app"),
        database_owner_url=database_url,
        state_dir=tmp_path,
        database_pool_min=1,
        database_pool_max=6,
        # Generous limits: the rate-limit tests set their own.
        ratelimit_tenant_rate=10_000.0,
        ratelimit_tenant_burst=10_000,
        ratelimit_afnemer_rate=10_000.0,
        ratelimit_afnemer_burst=10_000,
        ratelimit_employee_rate=10_000.0,
        ratelimit_employee_burst=10_000,
    )


class LogCapture:
    """Every log line written while the fixture is active, as text and as parsed JSON."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def events(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """Route all logging, as JSON lines through the redaction processor, into memory."""
    capture = LogCapture()
    configure_logging("debug", "json", capture.stream)
    yield capture
    configure_logging("info", "json")
