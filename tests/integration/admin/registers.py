"""A broker of its own for the privacy-officer and usage tests: a fresh database (counts are exact,
and tampering harms no other test) with two tenants, and tokens for every kind of caller.

- `A` = the demo samenwerkingsverband `vallei-liemers` (gezamenlijk personeel): AfnemerIDs 000301
  (Ede) and 000302 (Duiven); employee E2001 with role `burgerzaken` may use both and picks one
  with `x-afnemer-id`; E2002 of Ede is a wijkteam member (Personen only).
- `B` = `testgemeente`, a SaaS gemeente with AfnemerID 000001.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
from litestar import Litestar

from app.db import apply_migrations, with_user
from app.dev import write_dev_secrets
from app.main import create_app
from app.sandbox.idp import DEV_IDP_OPERATOR_ISSUER, dev_idp_jwks, issue_dev_token
from app.sandbox.server import SandboxThread
from app.settings import Settings
from app.tenancy import apply, load_tenant_files
from tests.integration.conftest import dev_token
from tests.support.servers import ServerTask
from tests.support.tenants import write_saas_tenant
from tests.support.toml import inline

__all__ = [
    "BSN",
    "HISTORIE",
    "PERSONEN",
    "A",
    "B",
    "admin_of",
    "broker_on",
    "employee_of",
    "officer_of",
    "operator",
    "protocol_rows",
    "two_tenant_database",
]

REPO = Path(__file__).resolve().parents[3]
A = "vallei-liemers"
B = "testgemeente"
BSN = "999993653"
PERSONEN = "/haalcentraal/api/brp/personen"
HISTORIE = "/haalcentraal/api/brphistorie/verblijfplaatshistorie"


async def two_tenant_database(
    new_database: Callable[[str], Awaitable[str]], sandbox: SandboxThread, folder: Path
) -> str:
    """A fresh migrated database with tenants `A` and `B` applied (admin URL)."""
    url = await new_database("brp_admin_h11")
    await apply_migrations(url)
    secrets = write_dev_secrets(folder / "secrets", sandbox.config)
    jwks = dev_idp_jwks(sandbox.config.state_path)
    text = (REPO / "tenants" / f"{A}.toml").read_text()
    text = re.sub(r"^jwks_uri = .*$", "jwks = " + inline(jwks), text, flags=re.MULTILINE)
    text = text.replace("file:.state/secrets/", f"file:{folder / 'secrets'}/")
    (folder / f"{A}.toml").write_text(text)
    write_saas_tenant(folder, B, jwks, secrets["000001"])
    await apply(url, load_tenant_files(folder), prune=False, dry_run=False)
    return url


@asynccontextmanager
async def broker_on(url: str, settings: Settings) -> AsyncIterator[tuple[Litestar, httpx.AsyncClient]]:
    """A running broker (uvicorn, this event loop) on the database at admin `url`, and a client."""
    own = msgspec.structs.replace(settings, database_url=with_user(url, "brp_app"), database_owner_url=url)
    app = create_app(own)
    async with ServerTask(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        yield app, client


def _bearer(sandbox: SandboxThread, tenant: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token(sandbox, tenant, **claims)}"}


def employee_of(
    sandbox: SandboxThread, tenant: str, employee: str = "E2001", **claims: Any
) -> dict[str, str]:
    """Gateway headers of an employee of `tenant` (with a doelbinding)."""
    return {**_bearer(sandbox, tenant, employee=employee, **claims), "x-doelbinding": "test"}


def admin_of(sandbox: SandboxThread, tenant: str) -> dict[str, str]:
    """A tenant admin of `tenant` (default role name `brp-admin`), not a privacy officer."""
    return _bearer(sandbox, tenant, subject="admin-1", employee="A1", roles=("brp-admin",))


def operator(sandbox: SandboxThread) -> dict[str, str]:
    """The operator (the dev IdP's operator issuer, role `operator`)."""
    token = issue_dev_token(
        sandbox.config.state_path,
        tenant=None,
        subject="op-1",
        roles=("operator",),
        issuer=DEV_IDP_OPERATOR_ISSUER,
    )
    return {"Authorization": f"Bearer {token}"}


def officer_of(sandbox: SandboxThread, tenant: str, subject: str = "fg-1") -> dict[str, str]:
    """The privacy officer of `tenant` (default role name `privacy-officer`)."""
    return _bearer(sandbox, tenant, subject=subject, employee="P1", roles=("privacy-officer",))


async def protocol_rows(url: str, tenant: str) -> list[asyncpg.Record]:
    """Every protocol record of `tenant` with its persons, in chain order (owner view)."""
    connection = await asyncpg.connect(url)
    try:
        return list(
            await connection.fetch(
                "SELECT r.*, ARRAY(SELECT ARRAY[p.bsn, p.role] FROM broker.protocol_persons p "
                "WHERE p.tenant = r.tenant AND p.seq = r.seq AND p.occurred_at = r.occurred_at "
                "ORDER BY p.position) AS persons "
                "FROM broker.protocol_records r WHERE r.tenant = $1 ORDER BY r.seq",
                tenant,
            )
        )
    finally:
        await connection.close()
