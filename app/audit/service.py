"""How the admin API reads the audit log: one tenant as the runtime role, every tenant as the owner.

- A tenant's audit (`tenant_page`) is read through the runtime pool inside that tenant's scope, so
  row-level security, not the caller, decides that nothing of another tenant is visible. Tenant
  admins and operators read it the same way.
- Every tenant's audit at once (`all_page`, operators only) needs the owner role, whose
  `operator_read` policy sees every tenant (migration 0011): one connection with the owner's URL
  (BROKER_DATABASE_OWNER_URL) per read. No runtime-role path across tenants exists, on purpose: a
  function that let the runtime role read every tenant would undo row-level security for it.

Never logs an entry.
"""

from __future__ import annotations

from typing import Final

import asyncpg

from app.audit.log import AuditFilter, AuditPage, read_audit
from app.db.migrations import OWNER_ROLE
from app.db.pool import SCHEMA

__all__ = ["AuditService", "AuditUnavailable", "UnknownAuditTenant"]

_KNOWN: Final = (
    "SELECT EXISTS (SELECT 1 FROM broker.tenant_registry WHERE slug = $1) "
    "OR EXISTS (SELECT 1 FROM broker.audit_chain_heads WHERE tenant = $1)"
)


class AuditUnavailable(Exception):
    """The operator's read of every tenant cannot be done here (no usable owner connection)."""


class UnknownAuditTenant(Exception):
    """No such tenant, now or ever (no registry entry, no audit of its own)."""


class AuditService:
    """The admin API's reads of the audit log; one per app (cheap: it holds no connection)."""

    __slots__ = ("_owner_url", "_pool", "_timeout")

    def __init__(self, pool: asyncpg.Pool, *, owner_url: str | None, timeout: float | None = None) -> None:
        self._pool = pool
        self._owner_url = owner_url
        self._timeout = timeout

    async def tenant_page(
        self, tenant: str, filters: AuditFilter, *, limit: int, cursor: str | None
    ) -> AuditPage:
        """Tenant `tenant`'s entries, newest first, read in its own scope (removed tenants too)."""
        async with self._pool.acquire() as connection, connection.transaction(readonly=True):
            await connection.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
            if not await connection.fetchval(_KNOWN, tenant):
                raise UnknownAuditTenant(tenant)
            return await read_audit(connection, tenant, filters, limit=limit, cursor=cursor)

    async def all_page(
        self, filters: AuditFilter, *, tenant: str | None = None, limit: int, cursor: str | None
    ) -> AuditPage:
        """Every tenant's entries (or `tenant`'s), newest first, as the owner role."""
        if self._owner_url is None:
            raise AuditUnavailable("reading every tenant's audit needs BROKER_DATABASE_OWNER_URL")
        connection = await asyncpg.connect(
            self._owner_url,
            timeout=self._timeout or 60,
            command_timeout=self._timeout,
            server_settings={"search_path": SCHEMA, "application_name": "brp-broker-audit"},
        )
        try:
            async with connection.transaction(readonly=True):
                if not await connection.fetchval(
                    "SELECT pg_has_role(current_user, $1, 'MEMBER')", OWNER_ROLE
                ):
                    raise AuditUnavailable("BROKER_DATABASE_OWNER_URL does not connect as the owner role")
                # The owner is bound by FORCE ROW LEVEL SECURITY; its operator_read policy shows all.
                await connection.execute(f'SET LOCAL ROLE "{OWNER_ROLE}"')
                return await read_audit(connection, tenant, filters, limit=limit, cursor=cursor)
        finally:
            await connection.close()
