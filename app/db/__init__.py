"""PostgreSQL access: the pool, tenant-scoped transactions, migrations and the embedded server.

Knows nothing of the BRP domain. Every query on tenant data runs inside `tenant_scope`, which
sets `app.tenant_id` for that transaction only, so row-level security decides what is visible.
"""

from __future__ import annotations

from app.db.admin import ensure_database, with_database, with_user
from app.db.embedded import EmbeddedPostgres
from app.db.migrations import MigrationError, MigrationResult, apply_migrations
from app.db.pool import DatabaseError, create_pool, tenant_scope
from app.db.preflight import DatabaseUnavailable, describe_database, require_database

__all__ = [
    "DatabaseError",
    "DatabaseUnavailable",
    "EmbeddedPostgres",
    "MigrationError",
    "MigrationResult",
    "apply_migrations",
    "create_pool",
    "describe_database",
    "ensure_database",
    "require_database",
    "tenant_scope",
    "with_database",
    "with_user",
]
