"""The asyncpg pool, always running as the runtime role, and `tenant_scope`.

The app should log in as the runtime role itself. When the login role is another one (a member of
the runtime role), each new connection switches with `SET ROLE`. Either way a connection whose
effective role could bypass row-level security is refused, so the app never runs without RLS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from asyncpg.pool import PoolConnectionProxy

__all__ = ["SCHEMA", "DatabaseError", "create_pool", "tenant_scope"]

SCHEMA = "broker"


class DatabaseError(Exception):
    """The database is misconfigured for the broker (not an outage: those stay asyncpg/OSError)."""


async def create_pool(
    url: str,
    runtime_role: str,
    *,
    min_size: int = 2,
    max_size: int = 20,
    command_timeout: float | None = None,
) -> asyncpg.Pool:
    """A pool whose connections run as `runtime_role` with `search_path` set to the broker schema.

    `command_timeout` bounds every statement, so a stuck database turns into an error, not a hang.
    """

    async def init(connection: asyncpg.Connection) -> None:
        if await connection.fetchval("SELECT current_user") != runtime_role:
            await connection.execute(f'SET ROLE "{runtime_role}"')
        row = await connection.fetchrow(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        if row is None or row["rolsuper"] or row["rolbypassrls"]:
            raise DatabaseError(f"role {runtime_role} may bypass row-level security; refusing to run")

    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        command_timeout=command_timeout,
        init=init,
        server_settings={"search_path": SCHEMA, "application_name": "brp-broker"},
    )
    if pool is None:  # pragma: no cover - asyncpg returns None only for a closed loop
        raise DatabaseError("could not create the connection pool")
    return pool


@asynccontextmanager
async def tenant_scope(pool: asyncpg.Pool, tenant: str) -> AsyncIterator[PoolConnectionProxy]:
    """A transaction in which row-level security sees only the rows of `tenant` (its slug).

    `app.tenant_id` always holds the tenant's slug (migration 0006). The setting is
    transaction-local (`set_config(..., true)`), so it cannot leak to the next user of the pooled
    connection.
    """
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
        yield connection
