"""`tenants export` writes tenant files that `tenants apply` reads back to an empty plan."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import msgspec
import pytest

from app.db.migrations import OWNER_ROLE
from app.identity import ClaimMapping, IssuerConfig
from app.secrets import SecretKey
from app.tenancy import RateLimit, TenantSpec, apply, encrypt_client_secret, load_tenant_files, store
from app.tenancy.export import TenancyExportError, read_tenant_files, write_tenant_files
from app.tenancy.models import AdminRoles, Limits
from tests.unit.tenancy.demo import SECRET_VALUE

KEY = SecretKey(bytes(range(32)))


def _test_tenant(specs: dict[str, TenantSpec]) -> TenantSpec:
    """A tenant that uses what the demo tenants leave out: suspended, inline JWKS, admin roles,
    every limit, an `enc:` secret, a `file:` secret."""
    base = specs["vallei-liemers"]
    first, second = base.afnemers
    return msgspec.structs.replace(
        base,
        slug="testverband",
        name='Testverband "met" quotes en ü',
        status="suspended",
        issuers=(
            IssuerConfig(
                tenant="testverband",
                issuer="https://idp.testverband.example",
                audiences=("brp-broker", "beheer"),
                jwks={"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBB", "kid": "k1"}]},
                algorithms=("ES256",),
                claims=ClaimMapping(organisation="org", roles="groups"),
            ),
        ),
        afnemers=(
            msgspec.structs.replace(
                first,
                afnemer_id="000901",
                client_secret=encrypt_client_secret(KEY, "testverband", "000901", SECRET_VALUE),
            ),
            msgspec.structs.replace(
                second,
                afnemer_id="000902",
                client_secret="file:/run/secrets/afnemer-000902",
                gemeente_code=None,
            ),
        ),
        rules=tuple(
            msgspec.structs.replace(
                rule,
                afnemers=tuple({"000301": "000901", "000302": "000902"}[a] for a in rule.afnemers),
            )
            for rule in base.rules
        ),
        limits=Limits(
            tenant=RateLimit(rate=0.5, burst=1),
            afnemer=RateLimit(rate=12.25, burst=30),
            employee=RateLimit(rate=2.0, burst=4),
        ),
        admin=AdminRoles(admin_roles=("beheer", "brp-admin"), privacy_officer_roles=("fg",)),
    )


async def _hand_to_api(url: str, slug: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            await connection.execute(f'SET LOCAL ROLE "{OWNER_ROLE}"')
            await store.scope_to(connection, slug)
            await connection.execute("UPDATE broker.tenants SET managed_by = 'api'")
    finally:
        await connection.close()


async def test_export_then_apply_is_an_empty_plan(
    owner_url: str, specs: dict[str, TenantSpec], tmp_path: Path
) -> None:
    tenants = [*specs.values(), _test_tenant(specs)]
    await apply(owner_url, tenants, prune=False, dry_run=False)
    written = write_tenant_files(await read_tenant_files(owner_url), tmp_path)
    assert [(t.slug, t.path.name, t.managed_by) for t in written] == [
        (s.slug, f"{s.slug}.toml", "file") for s in sorted(tenants, key=lambda s: s.slug)
    ]
    exported = load_tenant_files(tmp_path, secret_key=KEY)
    assert {s.slug: s for s in exported} == {s.slug: s for s in tenants}
    again = await apply(owner_url, exported, prune=True, dry_run=False)
    assert again.is_empty, again.render()


async def test_the_demo_tenant_files_round_trip(
    owner_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The files exactly as in tenants/ (their file: secrets included).
    originals = load_tenant_files(Path(__file__).resolve().parents[3] / "tenants")
    await apply(owner_url, originals, prune=False, dry_run=False)
    write_tenant_files(await read_tenant_files(owner_url), tmp_path)
    exported = load_tenant_files(tmp_path)
    assert exported == originals
    assert (await apply(owner_url, exported, prune=False, dry_run=True)).is_empty


async def test_secrets_are_exported_as_stored_never_decrypted(
    owner_url: str, specs: dict[str, TenantSpec], tmp_path: Path
) -> None:
    tenant = _test_tenant(specs)
    await apply(owner_url, [tenant], prune=False, dry_run=False)
    (file,) = await read_tenant_files(owner_url, "testverband")
    assert tenant.afnemers[0].client_secret in file.text
    assert "file:/run/secrets/afnemer-000902" in file.text
    assert SECRET_VALUE not in file.text


async def test_an_api_managed_tenant_exports_and_is_taken_over_by_its_file(
    owner_url: str, specs: dict[str, TenantSpec], tmp_path: Path
) -> None:
    await apply(owner_url, list(specs.values()), prune=False, dry_run=False)
    await _hand_to_api(owner_url, "amsterdam")
    (file,) = await read_tenant_files(owner_url, "amsterdam")
    assert file.managed_by == "api"
    assert file.text.startswith(
        "# Exported by `brp-broker tenants export` from the database (managed by api)."
    )
    write_tenant_files([file], tmp_path)
    exported = load_tenant_files(tmp_path)
    taken = await apply(owner_url, exported, prune=False, dry_run=False, take_over=True)
    assert [(c.object, c.fields) for c in taken.changes] == [("tenant", ("managed_by",))]
    assert (await apply(owner_url, exported, prune=False, dry_run=False)).is_empty


async def test_export_refuses_what_a_tenant_file_cannot_say(
    owner_url: str, specs: dict[str, TenantSpec]
) -> None:
    # An issuer without an employee claim: a file can only leave the key out, which means the default.
    spec = specs["amsterdam"]
    issuer = msgspec.structs.replace(spec.issuers[0], claims=ClaimMapping(employee=None))
    await apply(owner_url, [msgspec.structs.replace(spec, issuers=(issuer,))], prune=False, dry_run=False)
    with pytest.raises(TenancyExportError, match="tenant 'amsterdam' cannot be written as a tenant file"):
        await read_tenant_files(owner_url)


async def test_export_of_an_unknown_tenant_or_as_the_runtime_role_is_refused(owner_url: str) -> None:
    with pytest.raises(TenancyExportError, match="--tenant nowhere: no such tenant"):
        await read_tenant_files(owner_url, "nowhere")
    from app.db import with_user

    with pytest.raises(TenancyExportError, match="needs the owner's connection"):
        await read_tenant_files(with_user(owner_url, "brp_app"))
