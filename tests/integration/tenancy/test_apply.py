"""`tenants apply` against PostgreSQL: idempotent, dry-run, prune, one transaction, owner only."""

from __future__ import annotations

import asyncpg
import msgspec
import pytest

from app.db import tenant_scope, with_user
from app.tenancy import TenancyApplyError, TenantSpec, apply, plan, store


async def _registry(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as connection:
        return [entry.slug for entry in await store.list_tenants(connection)]


async def _stored(pool: asyncpg.Pool, slug: str) -> TenantSpec | None:
    async with pool.acquire() as connection:
        entry = await store.find_tenant(connection, slug)
    if entry is None:
        return None
    async with tenant_scope(pool, entry.slug) as connection:
        return await store.read_tenant(connection)


async def test_apply_stores_the_files_and_a_second_run_changes_nothing(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    first = await apply(owner_url, list(specs.values()), prune=False, dry_run=False)
    assert first.applied and not first.is_empty
    assert {c.tenant for c in first.changes} == set(specs)
    for slug, spec in specs.items():
        assert await _stored(runtime_pool, slug) == spec
    second = await apply(owner_url, list(specs.values()), prune=False, dry_run=False)
    assert second.is_empty
    assert second.render() == "No changes: the database matches the tenant files."


async def test_dry_run_changes_nothing(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    preview = await plan(owner_url, list(specs.values()), prune=False)
    assert preview.dry_run and not preview.applied and not preview.is_empty
    assert await _registry(runtime_pool) == []
    await apply(owner_url, list(specs.values()), prune=False, dry_run=False)
    renamed = msgspec.structs.replace(specs["amsterdam"], name="Gemeente Amsterdam (hernoemd)")
    preview = await apply(owner_url, [renamed], prune=True, dry_run=True)
    assert [(c.tenant, c.object, c.action) for c in preview.changes] == [
        ("amsterdam", "tenant", "change"),
        ("belastingen-rijnmond", "tenant", "remove"),
        ("vallei-liemers", "tenant", "remove"),
    ]
    assert await _registry(runtime_pool) == sorted(specs)
    assert await _stored(runtime_pool, "amsterdam") == specs["amsterdam"]


async def test_prune_removes_only_tenants_without_a_file(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, list(specs.values()), prune=False, dry_run=False)
    remaining = [specs["amsterdam"], specs["belastingen-rijnmond"]]
    kept = await apply(owner_url, remaining, prune=False, dry_run=False)
    assert kept.is_empty and kept.kept == ("vallei-liemers",)
    assert "tenant vallei-liemers: no file; kept (--prune removes it)" in kept.render()
    assert await _registry(runtime_pool) == sorted(specs)
    pruned = await apply(owner_url, remaining, prune=True, dry_run=False)
    assert [(c.tenant, c.object, c.action) for c in pruned.changes] == [
        ("vallei-liemers", "tenant", "remove")
    ]
    assert await _registry(runtime_pool) == ["amsterdam", "belastingen-rijnmond"]
    for spec in remaining:
        assert await _stored(runtime_pool, spec.slug) == spec


async def test_objects_missing_from_a_file_are_removed_in_dependency_order(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, list(specs.values()), prune=False, dry_run=False)
    spec = specs["vallei-liemers"]
    # Duiven leaves: its member, afnemer, gegevensset and rule go; E2001 now works for Ede only.
    smaller = msgspec.structs.replace(
        spec,
        members=tuple(m for m in spec.members if m.code != "duiven"),
        afnemers=tuple(a for a in spec.afnemers if a.afnemer_id != "000302"),
        gegevenssets=tuple(g for g in spec.gegevenssets if g.name != "wijkteam-duiven"),
        rules=tuple(r for r in spec.rules if r.name != "duiven"),
    )
    result = await apply(
        owner_url, [specs["amsterdam"], specs["belastingen-rijnmond"], smaller], prune=False, dry_run=False
    )
    assert sorted((c.object, c.key, c.action) for c in result.changes) == [
        ("afnemer", "000302", "remove"),
        ("gegevensset", "wijkteam-duiven", "remove"),
        ("member", "duiven", "remove"),
        ("rule", "duiven", "remove"),
    ]
    assert await _stored(runtime_pool, "vallei-liemers") == smaller


async def test_a_refused_change_applies_nothing(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    # Bypassing the file checks: the database itself refuses a plain secret, and the whole
    # transaction (including the valid tenants before it) is rolled back.
    bad = specs["vallei-liemers"]
    bad = msgspec.structs.replace(
        bad, afnemers=(msgspec.structs.replace(bad.afnemers[0], client_secret="hunter2"), *bad.afnemers[1:])
    )
    with pytest.raises(TenancyApplyError, match="afnemers_client_secret_check") as caught:
        await apply(owner_url, [specs["amsterdam"], bad], prune=False, dry_run=False)
    assert "hunter2" not in str(caught.value)
    assert await _registry(runtime_pool) == []


async def test_apply_needs_the_owner_connection(owner_url: str, specs: dict[str, TenantSpec]) -> None:
    with pytest.raises(TenancyApplyError, match="needs the owner's connection"):
        await apply(with_user(owner_url, "brp_app"), list(specs.values()), prune=False, dry_run=False)


async def test_prune_without_any_file_is_refused(owner_url: str, specs: dict[str, TenantSpec]) -> None:
    await apply(owner_url, list(specs.values()), prune=False, dry_run=False)
    with pytest.raises(TenancyApplyError, match="refusing to prune every tenant"):
        await apply(owner_url, [], prune=True, dry_run=False)


async def test_apply_announces_each_changed_tenant(owner_url: str, specs: dict[str, TenantSpec]) -> None:
    listener = await asyncpg.connect(owner_url)
    received: list[str] = []
    try:
        await listener.add_listener(store.NOTIFY_CHANNEL, lambda *args: received.append(args[3]))
        await apply(owner_url, [specs["amsterdam"]], prune=False, dry_run=False)
        await apply(owner_url, [specs["amsterdam"]], prune=False, dry_run=False)  # nothing to announce
        # A round trip on the listening connection delivers what was already sent to it.
        await listener.execute("SELECT 1")
    finally:
        await listener.close()
    assert received == ["amsterdam"]
