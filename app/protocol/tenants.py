"""Which tenants have a protocol register: the tenants `verify` and `inzage` can answer for.

A tenant's register outlives the tenant: records are kept for the legal term after a tenant is
removed from the tenant registry, and retention may have removed every record of a chain whose
head and checkpoint remain. So a register exists when any of its parts does: a chain head, a
record, a person row, or a retention checkpoint. Reads as the operator (every tenant) or inside a
tenant's own transaction (row-level security: only that tenant). Never reads a record's content.
"""

from __future__ import annotations

from typing import Final

import asyncpg

from app.protocol.access import Connection, tenant_transaction

__all__ = ["has_own_register", "has_register"]

_HAS_REGISTER: Final = """
SELECT EXISTS (SELECT 1 FROM protocol_chain_heads WHERE tenant = $1)
    OR EXISTS (SELECT 1 FROM protocol_records WHERE tenant = $1)
    OR EXISTS (SELECT 1 FROM protocol_persons WHERE tenant = $1)
    OR EXISTS (SELECT 1 FROM protocol_retention WHERE tenant = $1)
"""


async def has_register(connection: Connection, tenant: str) -> bool:
    """Whether `tenant` has a protocol register (or what is left of one after retention)."""
    return bool(await connection.fetchval(_HAS_REGISTER, tenant))


async def has_own_register(pool: asyncpg.Pool, tenant: str) -> bool:
    """`has_register` as the runtime role, inside `tenant`'s own scope (row-level security)."""
    async with tenant_transaction(pool, tenant, readonly=True) as connection:
        return await has_register(connection, tenant)
