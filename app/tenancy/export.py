"""`tenants export`: write tenants from the database as the tenant files `tenants apply` accepts.

Any tenant, managed by file or through the admin API, becomes `<directory>/<slug>.toml`, so both
ways round-trip: export, then apply the directory, and the plan is empty (for an API-managed
tenant, apply with `--take-over` to hand it to the files). Each file is checked before it is
written: read back by the tenant-file validator (`app.tenancy.files.parse_tenant`), it must give
exactly the stored configuration, else the export stops and names the tenant (something TOML cannot
say, such as an explicitly empty claim, is never silently changed).

Secrets are written as they are stored: a reference (`env:`, `file:`) or the `enc:v1:` value,
never decrypted. The export reads each tenant in its own scope (row-level security), all in one
read-only snapshot, and never logs a tenant's configuration.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import asyncpg
import msgspec
import tomli_w

from app.db.migrations import OWNER_ROLE
from app.tenancy import store
from app.tenancy.files import parse_tenant, tenant_document
from app.tenancy.models import TenantSpec

__all__ = [
    "ExportedTenant",
    "TenancyExportError",
    "TenantFile",
    "read_tenant_files",
    "tenant_file_text",
    "write_tenant_files",
]

_HEADER: Final = (
    "# Exported by `brp-broker tenants export` from the database (managed by {managed_by}).\n"
    "# Client secrets are their stored references or enc:v1: values, never the secrets themselves.\n\n"
)


class TenancyExportError(Exception):
    """The tenants cannot be exported; the message says why (never a secret)."""


class TenantFile(msgspec.Struct, frozen=True):
    """One tenant's file, not yet written: its slug, who manages it ('file' or 'api'), its text."""

    slug: str
    managed_by: str
    text: str


class ExportedTenant(msgspec.Struct, frozen=True):
    """One tenant written: its slug, its file, and who managed it ('file' or 'api')."""

    slug: str
    path: Path
    managed_by: str


async def read_tenant_files(url: str, tenant: str | None = None) -> list[TenantFile]:
    """Every tenant (or only `tenant`) of the database at `url` (owner URL) as its tenant file."""
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            await _become_owner(connection)
            registry = [entry.slug for entry in await store.list_tenants(connection)]
            if tenant is not None and tenant not in registry:
                raise TenancyExportError(f"--tenant {tenant}: no such tenant")
            return [await _tenant_file(connection, slug) for slug in registry if tenant in (None, slug)]
    finally:
        await connection.close()


def write_tenant_files(files: Iterable[TenantFile], directory: Path) -> list[ExportedTenant]:
    """Write each file as `<directory>/<slug>.toml` (the directory is created when missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[ExportedTenant] = []
    for file in files:
        path = directory / f"{file.slug}.toml"
        path.write_text(file.text, "utf-8")
        written.append(ExportedTenant(file.slug, path, file.managed_by))
    return written


def tenant_file_text(spec: TenantSpec, managed_by: str = "file") -> str:
    """`spec` as the text of its tenant file; raises `TenancyExportError` if it would not read back."""
    text = _HEADER.format(managed_by=managed_by) + tomli_w.dumps(_without_none(tenant_document(spec)))
    read_back, problems = parse_tenant(tomllib.loads(text), f"{spec.slug}.toml", expected_slug=spec.slug)
    if problems:
        listed = "; ".join(f"{p.key}: {p.message}" if p.key else p.message for p in problems)
        raise TenancyExportError(f"tenant {spec.slug!r} is not a valid tenant file as stored ({listed})")
    if read_back != spec:
        raise TenancyExportError(
            f"tenant {spec.slug!r} cannot be written as a tenant file that reads back the same "
            "(a value TOML cannot express); change it through the admin API first"
        )
    return text


async def _tenant_file(connection: asyncpg.Connection, slug: str) -> TenantFile:
    await store.scope_to(connection, slug)
    management = await store.tenant_management(connection, lock=False)
    try:
        spec = await store.read_tenant(connection)
    except msgspec.ValidationError:
        raise TenancyExportError(
            f"tenant {slug!r}: the stored configuration does not fit the model"
        ) from None
    if spec is None or management is None:
        raise TenancyExportError(f"tenant {slug!r} disappeared during the export")
    return TenantFile(slug, management.managed_by, tenant_file_text(spec, management.managed_by))


async def _become_owner(connection: asyncpg.Connection) -> None:
    member = await connection.fetchval(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) "
        "THEN pg_has_role(current_user, $1, 'MEMBER') ELSE false END",
        OWNER_ROLE,
    )
    if not member:
        raise TenancyExportError(
            f"`tenants export` needs the owner's connection (a member of {OWNER_ROLE}, "
            "e.g. BROKER_DATABASE_OWNER_URL), not the runtime role's"
        )
    # As the owner, whom FORCE ROW LEVEL SECURITY binds: each read sees its one tenant only.
    await connection.execute(f'SET LOCAL ROLE "{OWNER_ROLE}"')


def _without_none(value: Any) -> Any:
    # TOML has no null: an absent key is the default, which is None wherever None is allowed (the
    # read-back check above catches the one place where it is not).
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value
