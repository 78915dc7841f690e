"""How the protocol's operator functions reach the database: as a tenant, or as the operator.

- A **pool** (the runtime role) sees one tenant at a time: `tenant_transaction` sets
  `app.tenant_id` for that transaction only, exactly as `app.db.tenant_scope` does, with the
  isolation level the caller needs (verify reads a chain and its head from one snapshot).
- A **URL** (the owner/migration URL) is the operator: `operator_connection` logs in, switches to
  the owner role `brp_owner` and may then read every tenant's protocol (the `operator_read`
  policies) and drop partitions. A login that cannot become the owner is refused.

Its functions are never on the request path, and never log a row.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final, Literal, TypeAlias

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from app.brp.problems import ProblemError, service_unavailable
from app.db.migrations import OWNER_ROLE
from app.db.pool import SCHEMA

__all__ = [
    "Connection",
    "ProtocolAccessError",
    "ProtocolSource",
    "operator_connection",
    "read_unavailable",
    "tenant_transaction",
]

_log = structlog.get_logger("app.protocol.access")

# The database is down, unreachable, overloaded or slower than the pool's command timeout: no
# answer (timeout, socket, connection lost) or SQLSTATE class 08 (connection), 53 (resources) or
# 57 (operator intervention: cancelled, shutting down). Anything else is a defect, not an outage.
_NO_ANSWER: Final = (asyncio.TimeoutError, OSError, asyncpg.InterfaceError)
_UNAVAILABLE_CLASSES: Final = ("08", "53", "57")

ProtocolSource: TypeAlias = asyncpg.Pool | str
Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy
Isolation: TypeAlias = Literal["read_committed", "repeatable_read", "serializable"]


class ProtocolAccessError(Exception):
    """The connection given cannot do what was asked (wrong role, no tenant); the message says why."""


@asynccontextmanager
async def operator_connection(url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the owner role, in UTC, with the broker schema on the search path."""
    connection = await asyncpg.connect(
        url,
        server_settings={"search_path": SCHEMA, "TimeZone": "UTC", "application_name": "brp-broker-protocol"},
    )
    try:
        usable = await connection.fetchval(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) "
            "THEN pg_has_role(current_user, $1, 'MEMBER') ELSE false END",
            OWNER_ROLE,
        )
        if not usable:
            raise ProtocolAccessError(
                f"the protocol's operator commands need the owner URL (a member of {OWNER_ROLE})"
            )
        await connection.execute(f'SET ROLE "{OWNER_ROLE}"')
        yield connection
    finally:
        await connection.close()


@asynccontextmanager
async def tenant_transaction(
    pool: asyncpg.Pool, tenant: str, *, isolation: Isolation = "read_committed", readonly: bool = False
) -> AsyncIterator[PoolConnectionProxy]:
    """A runtime-role transaction in which row-level security shows only `tenant`'s rows."""
    if not tenant:
        raise ProtocolAccessError("a tenant is required when reading the protocol as the runtime role")
    async with pool.acquire() as connection, connection.transaction(isolation=isolation, readonly=readonly):
        await connection.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
        yield connection


@asynccontextmanager
async def read_unavailable() -> AsyncIterator[None]:
    """Turn a database that cannot answer a protocol read (down, too slow) into 503 `protocolUnavailable`.

    For the admin API's reads (inzage, usage, chain status); logs the error's type and SQLSTATE only.
    """
    try:
        yield
    except (*_NO_ANSWER, asyncpg.PostgresError) as error:
        sqlstate = getattr(error, "sqlstate", None) or ""
        if not isinstance(error, _NO_ANSWER) and sqlstate[:2] not in _UNAVAILABLE_CLASSES:
            raise
        _log.warning(
            "protocol_read_failed", error=type(error).__name__, sqlstate=getattr(error, "sqlstate", None)
        )
        raise _read_failed() from None


def _read_failed() -> ProblemError:
    return service_unavailable(
        "protocolUnavailable",
        "Het protocol kan nu niet worden gelezen; probeer het later opnieuw.",
        retry_after=5,
    )
