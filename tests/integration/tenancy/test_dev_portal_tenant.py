"""`brp-broker dev`'s demo tenants: the portal's demo tenant is handed to the admin API after its
first apply (so its admins can change it in the beheerportaal), and a later `dev` leaves it be."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from app.db.migrations import OWNER_ROLE
from app.dev import PORTAL_DEMO_TENANT, apply_tenants, write_dev_secrets
from app.sandbox.server import SandboxThread
from app.tenancy import store
from tests.unit.tenancy.demo import TENANTS_DIR


async def _managed_by(owner_url: str) -> dict[str, str]:
    connection = await asyncpg.connect(owner_url)
    try:
        await connection.execute(f"SET ROLE {OWNER_ROLE}")  # row-level security applies to the owner
        managed: dict[str, str] = {}
        for slug in ("amsterdam", "belastingen-rijnmond", "vallei-liemers"):
            async with connection.transaction():
                await store.scope_to(connection, slug)
                management = await store.tenant_management(connection, lock=False)
                assert management is not None
                managed[slug] = management.managed_by
        return managed
    finally:
        await connection.close()


async def test_the_portal_demo_tenant_is_handed_to_the_api_once(
    owner_url: str, sandbox: SandboxThread, tmp_path: Path
) -> None:
    write_dev_secrets(tmp_path / "secrets", sandbox.config)
    first = await apply_tenants(owner_url, TENANTS_DIR, sandbox_url=sandbox.base_url, state_dir=tmp_path)
    assert {change.tenant for change in first.changes} >= {PORTAL_DEMO_TENANT, "vallei-liemers"}
    assert await _managed_by(owner_url) == {
        "amsterdam": "api",
        "belastingen-rijnmond": "file",
        "vallei-liemers": "file",
    }

    again = await apply_tenants(owner_url, TENANTS_DIR, sandbox_url=sandbox.base_url, state_dir=tmp_path)
    assert not again.changes  # nothing to do, and no refusal of the API-managed tenant
    assert (await _managed_by(owner_url))["amsterdam"] == "api"
