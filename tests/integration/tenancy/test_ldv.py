"""`[ldv]` through `tenants apply` and `tenants export`: stored on the tenant row, diffed, round-tripped."""

from __future__ import annotations

import asyncpg
import msgspec
from joserfc.jwk import OKPKey

from app.db import tenant_scope
from app.tenancy import LdvSettings, TenantSpec, apply, store
from app.tenancy.export import read_tenant_files


async def _stored(pool: asyncpg.Pool, slug: str) -> TenantSpec | None:
    async with tenant_scope(pool, slug) as connection:
        return await store.read_tenant(connection)


async def test_ldv_is_applied_changed_and_exported_as_written(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    amsterdam = specs["amsterdam"]
    assert amsterdam.ldv.processing_activity is not None  # the demo file's [ldv]
    await apply(owner_url, [amsterdam], prune=False, dry_run=False)
    assert await _stored(runtime_pool, "amsterdam") == amsterdam

    jwk = OKPKey.generate_key("X25519").as_dict(private=False)
    key = {name: value for name, value in jwk.items() if isinstance(value, str)}
    changed = msgspec.structs.replace(
        amsterdam,
        ldv=msgspec.structs.replace(
            amsterdam.ldv, subject_key=key, endpoint="https://logboek.amsterdam.example/v1/traces"
        ),
    )
    result = await apply(owner_url, [changed], prune=False, dry_run=False)
    assert [(c.object, c.action, c.fields) for c in result.changes] == [("tenant", "change", ("ldv",))]
    assert await _stored(runtime_pool, "amsterdam") == changed

    (exported,) = await read_tenant_files(owner_url, "amsterdam")
    assert "[ldv]" in exported.text
    assert "https://logboek.amsterdam.example/v1/traces" in exported.text

    removed = msgspec.structs.replace(amsterdam, ldv=LdvSettings())
    await apply(owner_url, [removed], prune=False, dry_run=False)
    assert await _stored(runtime_pool, "amsterdam") == removed
    (exported,) = await read_tenant_files(owner_url, "amsterdam")
    assert "[ldv" not in exported.text
