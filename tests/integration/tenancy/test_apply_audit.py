"""`tenants apply` audits every change it makes, and leaves API-managed tenants alone unless told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import msgspec
import pytest

from app.audit import AuditRecord, fingerprint_secret, read_audit, verify_audit
from app.db.migrations import OWNER_ROLE
from app.secrets import SecretKey
from app.tenancy import Plan, RateLimit, TenancyApplyError, TenantSpec, apply, encrypt_client_secret, store
from tests.unit.tenancy.demo import SECRET_VALUE

DIRECTORY = Path("/etc/brp-broker/tenants")


@asynccontextmanager
async def _owner(url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f'SET ROLE "{OWNER_ROLE}"')
        yield connection
    finally:
        await connection.close()


async def _audit(url: str, tenant: str | None = None) -> list[AuditRecord]:
    """Every audit entry (of `tenant`), oldest first."""
    async with _owner(url) as connection:
        page = await read_audit(connection, tenant, limit=500)
    return sorted(page.entries, key=lambda r: (r.tenant, r.seq))


async def _hand_to_api(url: str, slug: str) -> None:
    async with _owner(url) as connection, connection.transaction():
        await store.scope_to(connection, slug)
        await connection.execute("UPDATE broker.tenants SET managed_by = 'api'")


async def _managed_by(url: str, slug: str) -> str:
    async with _owner(url) as connection, connection.transaction():
        await store.scope_to(connection, slug)
        management = await store.tenant_management(connection, lock=False)
    assert management is not None
    return management.managed_by


def _entries_of(plan: Plan) -> list[tuple[str, str, str, str]]:
    return sorted((c.tenant, c.object, c.key, c.action) for c in plan.changes)


def _as_entries(records: list[AuditRecord]) -> list[tuple[str, str, str, str]]:
    return sorted((r.tenant, r.resource, r.key, r.action) for r in records)


async def test_every_change_of_an_apply_is_audited_with_before_and_after(
    owner_url: str, specs: dict[str, TenantSpec]
) -> None:
    first = await apply(owner_url, list(specs.values()), prune=False, dry_run=False, directory=DIRECTORY)
    records = await _audit(owner_url)
    assert _as_entries(records) == _entries_of(first)
    assert {(r.actor, r.role, r.via) for r in records} == {("tenants apply", "operator", "tenants apply")}
    assert {r.source for r in records if r.tenant == "amsterdam"} == {str(DIRECTORY / "amsterdam.toml")}
    assert len({r.correlation_id for r in records}) == 1
    amsterdam = specs["amsterdam"]
    added = next(r for r in records if (r.tenant, r.resource) == ("amsterdam", "tenant"))
    assert added.before is None
    assert added.after is not None and added.after["name"] == amsterdam.name

    # Change, add and remove one of every kind of object; remove a tenant (prune).
    rule = amsterdam.rules[0]
    afnemer = amsterdam.afnemers[0]
    changed = msgspec.structs.replace(
        amsterdam,
        name="Gemeente Amsterdam (hernoemd)",
        rules=(msgspec.structs.replace(rule, description="nieuw"), *amsterdam.rules[1:]),
        afnemers=(msgspec.structs.replace(afnemer, client_secret="env:ANOTHER_VARIABLE"),),
        limits=msgspec.structs.replace(
            amsterdam.limits, afnemer=RateLimit(rate=5.0, burst=10), employee=None
        ),
    )
    second = await apply(
        owner_url, [changed, specs["vallei-liemers"]], prune=True, dry_run=False, directory=DIRECTORY
    )
    later = [r for r in await _audit(owner_url) if r.correlation_id != records[0].correlation_id]
    assert _as_entries(later) == _entries_of(second)
    by_key = {(r.tenant, r.resource, r.key): r for r in later}
    tenant = by_key["amsterdam", "tenant", "amsterdam"]
    assert tenant.before is not None and tenant.after is not None
    assert (tenant.before["name"], tenant.after["name"]) == (amsterdam.name, changed.name)
    changed_rule = by_key["amsterdam", "rule", rule.name]
    assert changed_rule.action == "change"
    assert changed_rule.before is not None and changed_rule.after is not None
    assert (changed_rule.before["description"], changed_rule.after["description"]) == (
        rule.description,
        "nieuw",
    )
    secret = by_key["amsterdam", "afnemer", afnemer.afnemer_id]
    assert secret.before is not None and secret.after is not None
    assert secret.before["client_secret"] == fingerprint_secret(afnemer.client_secret)
    assert secret.after["client_secret"] == fingerprint_secret("env:ANOTHER_VARIABLE")
    assert by_key["amsterdam", "limit", "afnemer"].action == "add"
    assert by_key["amsterdam", "limit", "employee"].action == "remove"
    assert by_key["amsterdam", "limit", "employee"].after is None
    pruned = by_key["belastingen-rijnmond", "tenant", "belastingen-rijnmond"]
    assert pruned.action == "remove" and pruned.after is None
    assert pruned.before is not None and pruned.before["slug"] == "belastingen-rijnmond"
    assert pruned.source == str(DIRECTORY)

    async with _owner(owner_url) as connection:
        assert (await verify_audit(connection)).ok


async def test_a_dry_run_and_an_empty_plan_write_no_audit_entry(
    owner_url: str, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, list(specs.values()), prune=False, dry_run=True)
    assert await _audit(owner_url) == []
    await apply(owner_url, list(specs.values()), prune=False, dry_run=False)
    count = len(await _audit(owner_url))
    assert (await apply(owner_url, list(specs.values()), prune=False, dry_run=False)).is_empty
    assert len(await _audit(owner_url)) == count


async def test_secrets_never_reach_the_audit(
    owner_url: str, specs: dict[str, TenantSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = SecretKey(bytes(range(32)))
    spec = specs["amsterdam"]
    afnemer = spec.afnemers[0]
    encrypted = encrypt_client_secret(key, spec.slug, afnemer.afnemer_id, SECRET_VALUE)
    with_enc = msgspec.structs.replace(
        spec, afnemers=(msgspec.structs.replace(afnemer, client_secret=encrypted),)
    )
    await apply(owner_url, [with_enc], prune=False, dry_run=False)
    rotated = encrypt_client_secret(key, spec.slug, afnemer.afnemer_id, "the rotated secret")
    await apply(
        owner_url,
        [msgspec.structs.replace(spec, afnemers=(msgspec.structs.replace(afnemer, client_secret=rotated),))],
        prune=True,
        dry_run=False,
    )
    async with _owner(owner_url) as connection:
        stored = await connection.fetchval(
            "SELECT string_agg(coalesce(before::text, '') || coalesce(after::text, ''), '') "
            "FROM broker.audit_log"
        )
    for value in (SECRET_VALUE, "the rotated secret", encrypted, rotated, encrypted.rsplit(":", 1)[1]):
        assert value not in stored
    assert fingerprint_secret(encrypted) in stored and fingerprint_secret(rotated) in stored


async def test_apply_refuses_an_api_managed_tenant_without_take_over(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, list(specs.values()), prune=False, dry_run=False)
    await _hand_to_api(owner_url, "amsterdam")
    renamed = msgspec.structs.replace(specs["amsterdam"], name="Overschreven")
    count = len(await _audit(owner_url))
    for dry_run in (True, False):
        with pytest.raises(TenancyApplyError) as refused:
            await apply(owner_url, [renamed, specs["vallei-liemers"]], prune=False, dry_run=dry_run)
        assert str(refused.value) == (
            "tenant 'amsterdam' is managed through the admin API; `tenants apply` does not overwrite it "
            "(nothing was changed; --take-over hands it to the files)"
        )
    async with runtime_pool.acquire() as connection, connection.transaction():
        await store.scope_to(connection, "amsterdam")
        stored = await store.read_tenant(connection)
    assert stored is not None and stored.name == specs["amsterdam"].name
    assert await _managed_by(owner_url, "amsterdam") == "api"
    assert len(await _audit(owner_url)) == count


async def test_take_over_hands_the_tenant_to_the_files_and_is_audited(
    owner_url: str, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, list(specs.values()), prune=False, dry_run=False)
    await _hand_to_api(owner_url, "amsterdam")
    renamed = msgspec.structs.replace(specs["amsterdam"], name="Overgenomen")
    preview = await apply(owner_url, [renamed], prune=False, dry_run=True, take_over=True)
    assert "  ~ tenant (managed_by)" in preview.render()
    assert await _managed_by(owner_url, "amsterdam") == "api"

    taken = await apply(owner_url, [renamed], prune=False, dry_run=False, take_over=True, directory=DIRECTORY)
    assert [(c.object, c.fields) for c in taken.changes] == [
        ("tenant", ("managed_by",)),
        ("tenant", ("name",)),
    ]
    assert await _managed_by(owner_url, "amsterdam") == "file"
    take_over, rename = (await _audit(owner_url, "amsterdam"))[-2:]
    assert (take_over.resource, take_over.before, take_over.after) == (
        "tenant",
        {"managed_by": "api"},
        {"managed_by": "file"},
    )
    assert take_over.source == str(DIRECTORY / "amsterdam.toml")
    assert rename.after is not None and rename.after["name"] == "Overgenomen"
    assert take_over.correlation_id == rename.correlation_id
    # The files manage it again: the next apply needs no take-over and finds nothing to do.
    assert (await apply(owner_url, [renamed], prune=False, dry_run=False)).is_empty


async def test_prune_never_removes_an_api_managed_tenant(
    owner_url: str, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, list(specs.values()), prune=False, dry_run=False)
    await _hand_to_api(owner_url, "vallei-liemers")
    pruned = await apply(owner_url, [specs["amsterdam"]], prune=True, dry_run=False)
    assert _entries_of(pruned) == [("belastingen-rijnmond", "tenant", "belastingen-rijnmond", "remove")]
    assert pruned.api_managed == ("vallei-liemers",)
    assert "tenant vallei-liemers: managed through the admin API; left alone" in pruned.render()
    assert await _managed_by(owner_url, "vallei-liemers") == "api"
