"""What the operator assigns belongs to one tenant, in `tenants apply` and in the database itself.

- An AfnemerID belongs to exactly one tenant of the whole broker: a file (or a direct write, as
  the runtime role or as the owner) that claims another tenant's AfnemerID is refused, naming the
  AfnemerID and both tenants.
- Tenants sharing an issuer use the same `tenant_claim` and each its own value; an issuer trusted
  by a tenant without a `tenant_claim` is that tenant's alone. The rule holds for the state after
  the whole apply (or transaction), whatever order the tenants are written in, and concurrent
  writers of one issuer are serialised, so two of them cannot both slip past it.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterable
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest

from app.db import MigrationError, tenant_scope, with_user
from app.db.migrations import apply_migrations as migrate
from app.db.migrations import default_migrations_dir
from app.main import create_app
from app.sandbox.idp import dev_idp_jwks
from app.sandbox.server import SandboxThread
from app.settings import Settings
from app.tenancy import TenancyApplyError, TenantSpec, apply, load_tenant_files, store
from tests.integration.conftest import TEST_TENANT, dev_token
from tests.support.servers import ServerTask
from tests.support.tenants import write_saas_tenant

DEV_IDP = "https://127.0.0.1:8443/dev-idp"
ISSUER = re.escape(DEV_IDP)
PERSONEN = "/haalcentraal/api/brp/personen"
RAADPLEEG = {
    "type": "RaadpleegMetBurgerservicenummer",
    "burgerservicenummer": ["999993653"],
    "fields": ["naam"],
}
TIMEOUT = 15.0


def _tenant_like(spec: TenantSpec, slug: str) -> TenantSpec:
    """`spec` as another tenant: its own slug, and its own value of the shared tenant claim."""
    issuers = tuple(msgspec.structs.replace(i, tenant=slug, tenant_claim_value=slug) for i in spec.issuers)
    return msgspec.structs.replace(spec, slug=slug, name=f"{slug} (test)", issuers=issuers)


def _with_issuer(spec: TenantSpec, **changes: object) -> TenantSpec:
    issuers = tuple(msgspec.structs.replace(i, **changes) for i in spec.issuers)
    return msgspec.structs.replace(spec, issuers=issuers)


def _without_tenant_claim(spec: TenantSpec) -> TenantSpec:
    return _with_issuer(spec, tenant_claim=None, tenant_claim_value=None)


def _with_afnemer_id(spec: TenantSpec, old: str, new: str) -> TenantSpec:
    afnemers = tuple(
        msgspec.structs.replace(a, afnemer_id=new) if a.afnemer_id == old else a for a in spec.afnemers
    )
    rules = tuple(
        msgspec.structs.replace(r, afnemers=tuple(new if x == old else x for x in r.afnemers))
        for r in spec.rules
    )
    return msgspec.structs.replace(spec, afnemers=afnemers, rules=rules)


async def _slugs(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as connection:
        return [entry.slug for entry in await store.list_tenants(connection)]


async def _ids(pool: asyncpg.Pool) -> dict[str, uuid.UUID]:
    async with pool.acquire() as connection:
        return {entry.slug: entry.id for entry in await store.list_tenants(connection)}


async def _refused(url: str, specs: Iterable[TenantSpec], match: str) -> None:
    """Both the dry run and the apply are refused with `match`."""
    for dry_run in (True, False):
        with pytest.raises(TenancyApplyError, match=match):
            await apply(url, list(specs), prune=False, dry_run=dry_run)


# -- AfnemerIDs -----------------------------------------------------------------------------------


async def test_an_afnemer_id_held_by_a_tenant_in_the_database_is_refused_for_another(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, [specs["amsterdam"]], prune=False, dry_run=False)
    copycat = _tenant_like(specs["amsterdam"], "kopie")
    await _refused(
        owner_url, [copycat], r"tenant 'kopie': afnemer 000101 already belongs to tenant 'amsterdam'"
    )
    assert await _slugs(runtime_pool) == ["amsterdam"]


async def test_two_files_declaring_one_afnemer_id_are_refused(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    copycat = _tenant_like(specs["amsterdam"], "kopie")
    await _refused(
        owner_url,
        [specs["amsterdam"], copycat],
        r"afnemer 000101 is declared by both tenant 'amsterdam' and tenant 'kopie'",
    )
    assert await _slugs(runtime_pool) == []


async def test_an_afnemer_id_moves_to_another_tenant_in_two_applies(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, [specs["amsterdam"]], prune=False, dry_run=False)
    released = _with_afnemer_id(specs["amsterdam"], "000101", "000102")
    taker = _tenant_like(specs["amsterdam"], "kopie")
    await _refused(
        owner_url,
        [released, taker],
        r"afnemer 000101 moves from tenant 'amsterdam' to tenant 'kopie': apply 'amsterdam' without it first",
    )
    await apply(owner_url, [released], prune=False, dry_run=False)
    await apply(owner_url, [released, taker], prune=False, dry_run=False)
    assert await _slugs(runtime_pool) == ["amsterdam", "kopie"]


async def test_a_pruned_tenant_gives_its_afnemer_id_back(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, [specs["amsterdam"]], prune=False, dry_run=False)
    copycat = _tenant_like(specs["amsterdam"], "kopie")
    await apply(owner_url, [copycat], prune=True, dry_run=False)
    assert await _slugs(runtime_pool) == ["kopie"]


_INSERT_AFNEMER = (
    "INSERT INTO broker.afnemers (tenant_id, afnemer_id, environment, identity, client_id, client_secret) "
    "VALUES ($1, $2, 'sandbox', 'dev', 'broker-dev-000101', 'env:WRONG_SECRET')"
)


async def test_the_database_refuses_another_tenants_afnemer_id_from_the_runtime_role(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, [specs["amsterdam"], specs["vallei-liemers"]], prune=False, dry_run=False)
    vallei = (await _ids(runtime_pool))["vallei-liemers"]
    claimed = r"tenant 'vallei-liemers': afnemer 000101 already belongs to tenant 'amsterdam'"
    async with tenant_scope(runtime_pool, "vallei-liemers") as connection:
        with pytest.raises(asyncpg.UniqueViolationError, match=claimed):
            await connection.execute(_INSERT_AFNEMER, vallei, "000101")
    # Renaming an own AfnemerID into another tenant's is the same claim.
    async with tenant_scope(runtime_pool, "vallei-liemers") as connection:
        await connection.execute(_INSERT_AFNEMER, vallei, "000999")
        with pytest.raises(asyncpg.UniqueViolationError, match=claimed):
            await connection.execute(
                "UPDATE broker.afnemers SET afnemer_id = '000101' WHERE afnemer_id = '000999'"
            )


async def test_the_database_refuses_another_tenants_afnemer_id_from_the_owner(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, [specs["amsterdam"], specs["vallei-liemers"]], prune=False, dry_run=False)
    vallei = (await _ids(runtime_pool))["vallei-liemers"]
    connection = await asyncpg.connect(owner_url)
    try:
        with pytest.raises(
            asyncpg.UniqueViolationError, match="afnemer 000101 already belongs to tenant 'amsterdam'"
        ):
            async with connection.transaction():
                await connection.execute("SET LOCAL ROLE brp_owner")
                await connection.execute("SELECT set_config('app.tenant_id', 'vallei-liemers', true)")
                await connection.execute(_INSERT_AFNEMER, vallei, "000101")
    finally:
        await connection.close()


async def test_a_second_claim_waits_for_the_first_and_is_refused_when_it_commits(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, [specs["amsterdam"], specs["vallei-liemers"]], prune=False, dry_run=False)
    ids = await _ids(runtime_pool)
    first = await asyncpg.connect(with_user(owner_url, "brp_app"))
    second = await asyncpg.connect(with_user(owner_url, "brp_app"))
    try:
        claim = first.transaction()
        await claim.start()
        await first.execute("SELECT set_config('app.tenant_id', 'amsterdam', true)")
        await first.execute(_INSERT_AFNEMER, ids["amsterdam"], "000777")
        racing = asyncio.create_task(
            _claim_in_own_transaction(second, "vallei-liemers", ids["vallei-liemers"])
        )
        await _until_waiting(runtime_pool, second)
        await claim.commit()
        with pytest.raises(
            asyncpg.UniqueViolationError, match="000777 already belongs to tenant 'amsterdam'"
        ):
            await asyncio.wait_for(racing, TIMEOUT)
    finally:
        await first.close()
        await second.close()


async def _claim_in_own_transaction(connection: asyncpg.Connection, slug: str, tenant: uuid.UUID) -> None:
    async with connection.transaction():
        await connection.execute("SELECT set_config('app.tenant_id', $1, true)", slug)
        await connection.execute(_INSERT_AFNEMER, tenant, "000777")


async def _until_waiting(pool: asyncpg.Pool, waiting: asyncpg.Connection) -> None:
    """Until `waiting`'s statement is blocked on a lock (a condition, polled; no sleep)."""
    pid = waiting.get_server_pid()
    async with asyncio.timeout(TIMEOUT), pool.acquire() as connection:
        while not await connection.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
        ):
            await asyncio.sleep(0)


# -- shared issuers -------------------------------------------------------------------------------


async def test_an_issuer_trusted_without_tenant_claim_is_that_tenants_alone(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, [_without_tenant_claim(specs["amsterdam"])], prune=False, dry_run=False)
    await _refused(
        owner_url,
        [specs["vallei-liemers"]],
        rf"tenant 'vallei-liemers': issuer {ISSUER} is trusted by tenant 'amsterdam' without tenant_claim; "
        r"the operator must first give tenant 'amsterdam' a tenant_claim",
    )
    assert await _slugs(runtime_pool) == ["amsterdam"]


async def test_a_tenant_without_tenant_claim_cannot_join_a_shared_issuer(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, [specs["amsterdam"]], prune=False, dry_run=False)
    await _refused(
        owner_url,
        [_without_tenant_claim(specs["vallei-liemers"])],
        rf"tenant 'vallei-liemers': issuer {ISSUER} is shared with tenant 'amsterdam' and needs "
        r"tenant_claim 'tenant'",
    )
    assert await _slugs(runtime_pool) == ["amsterdam"]


async def test_another_tenants_claim_value_is_refused(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, [specs["amsterdam"]], prune=False, dry_run=False)
    await _refused(
        owner_url,
        [_with_issuer(specs["vallei-liemers"], tenant_claim_value="amsterdam")],
        rf"tenant 'vallei-liemers': issuer {ISSUER}: tenant_claim_value 'amsterdam' is already used by "
        r"tenant 'amsterdam'",
    )
    # A value left out is the slug: a new tenant cannot take a value another tenant already uses.
    await apply(
        owner_url,
        [_with_issuer(specs["vallei-liemers"], tenant_claim_value="kopie")],
        prune=False,
        dry_run=False,
    )
    await _refused(
        owner_url,
        [_with_issuer(_tenant_like(specs["belastingen-rijnmond"], "kopie"), tenant_claim_value=None)],
        rf"tenant 'kopie': issuer {ISSUER}: tenant_claim_value 'kopie' is already used by tenant "
        r"'vallei-liemers'",
    )
    assert await _slugs(runtime_pool) == ["amsterdam", "vallei-liemers"]


async def test_tenants_sharing_an_issuer_use_one_claim_name(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, [specs["amsterdam"]], prune=False, dry_run=False)
    await _refused(
        owner_url,
        [_with_issuer(specs["vallei-liemers"], tenant_claim="organisatie")],
        rf"tenant 'vallei-liemers': issuer {ISSUER}: tenant_claim 'organisatie' differs from the claim of "
        r"tenant 'amsterdam' \('tenant'\); tenants sharing an issuer use the same claim",
    )
    assert await _slugs(runtime_pool) == ["amsterdam"]


async def test_the_rule_holds_for_the_state_after_the_apply_in_any_order(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    # vallei-liemers trusts the issuer alone, without a claim; in one apply it gets its claim and
    # amsterdam (written first: sorted by slug) joins. Only the end state counts.
    await apply(owner_url, [_without_tenant_claim(specs["vallei-liemers"])], prune=False, dry_run=False)
    await apply(owner_url, [specs["amsterdam"], specs["vallei-liemers"]], prune=False, dry_run=False)
    assert await _slugs(runtime_pool) == ["amsterdam", "vallei-liemers"]


async def test_a_pruned_tenant_no_longer_holds_its_issuer(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, [_without_tenant_claim(specs["vallei-liemers"])], prune=False, dry_run=False)
    await _refused(owner_url, [specs["amsterdam"]], "the operator must first give tenant 'vallei-liemers'")
    await apply(owner_url, [specs["amsterdam"]], prune=True, dry_run=False)
    assert await _slugs(runtime_pool) == ["amsterdam"]


_INSERT_ISSUER = (
    "INSERT INTO broker.identity_providers (tenant_id, issuer, config) VALUES ($1, $2, $3::jsonb)"
)


async def test_the_database_refuses_a_claimless_issuer_shared_by_a_direct_write(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, [specs["amsterdam"]], prune=False, dry_run=False)
    await apply(
        owner_url,
        [_with_issuer(specs["vallei-liemers"], issuer="https://idp.vallei.example")],
        prune=False,
        dry_run=False,
    )
    vallei = (await _ids(runtime_pool))["vallei-liemers"]
    config = '{"audiences": ["brp-broker"], "jwks_uri": "https://idp.vallei.example/jwks"}'
    with pytest.raises(
        asyncpg.PostgresError,
        match=rf"tenant 'vallei-liemers': issuer {ISSUER} is shared with tenant 'amsterdam' and needs "
        r"tenant_claim",
    ):
        async with tenant_scope(runtime_pool, "vallei-liemers") as connection:
            await connection.execute(_INSERT_ISSUER, vallei, DEV_IDP, config)
    # Taking away amsterdam's claim while vallei-liemers shares its issuer is refused just the same.
    await apply(owner_url, [specs["vallei-liemers"]], prune=False, dry_run=False)
    with pytest.raises(
        asyncpg.PostgresError,
        match=rf"tenant 'amsterdam': issuer {ISSUER} is shared with tenant 'vallei-liemers' and needs",
    ):
        async with tenant_scope(runtime_pool, "amsterdam") as connection:
            await connection.execute(
                "UPDATE broker.identity_providers SET config = config - 'tenant_claim' - 'tenant_claim_value'"
            )


async def test_concurrent_writers_of_one_issuer_are_serialised(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec]
) -> None:
    # Each tenant alone would be fine; together they break the rule. The first one's check runs
    # (and takes the issuer's lock) while its transaction is still open; the second's check waits
    # for it, then sees it and refuses.
    spec_a = _with_issuer(specs["amsterdam"], issuer="https://idp.elders.example")
    spec_v = _with_issuer(specs["vallei-liemers"], issuer="https://idp.vallei.example")
    await apply(owner_url, [spec_a, spec_v], prune=False, dry_run=False)
    ids = await _ids(runtime_pool)
    claimless = '{"audiences": ["brp-broker"], "jwks_uri": "https://idp.gedeeld.example/jwks"}'
    first = await asyncpg.connect(with_user(owner_url, "brp_app"))
    second = await asyncpg.connect(with_user(owner_url, "brp_app"))
    try:
        transaction = first.transaction()
        await transaction.start()
        await first.execute("SELECT set_config('app.tenant_id', 'amsterdam', true)")
        await first.execute(_INSERT_ISSUER, ids["amsterdam"], "https://idp.gedeeld.example", claimless)
        await first.execute("SET CONSTRAINTS ALL IMMEDIATE")  # its check runs now, and passes
        racing = asyncio.create_task(_trust_in_own_transaction(second, ids["vallei-liemers"], claimless))
        await _until_waiting(runtime_pool, second)
        await transaction.commit()
        with pytest.raises(
            asyncpg.PostgresError,
            match=r"https://idp\.gedeeld\.example is trusted by tenant 'amsterdam' without tenant_claim",
        ):
            await asyncio.wait_for(racing, TIMEOUT)
    finally:
        await first.close()
        await second.close()


async def _trust_in_own_transaction(connection: asyncpg.Connection, tenant: uuid.UUID, config: str) -> None:
    async with connection.transaction():
        await connection.execute("SELECT set_config('app.tenant_id', 'vallei-liemers', true)")
        await connection.execute(_INSERT_ISSUER, tenant, "https://idp.gedeeld.example", config)


# -- existing data --------------------------------------------------------------------------------


_OWNERSHIP_MIGRATION = "0008_afnemer_and_issuer_ownership.sql"
_CLAIMLESS = '{"audiences": ["brp-broker"], "jwks_uri": "https://idp.gedeeld.example/jwks"}'


@pytest.mark.parametrize(
    ("statement", "argument", "refusal"),
    [
        (
            _INSERT_AFNEMER,
            "000101",
            r"afnemer 000101 is declared by more than one tenant \('een', 'twee'\); an AfnemerID belongs to "
            r"exactly one tenant",
        ),
        (
            _INSERT_ISSUER.replace("$3::jsonb", f"'{_CLAIMLESS}'::jsonb"),
            "https://idp.gedeeld.example",
            r"tenant 'een': issuer https://idp\.gedeeld\.example is trusted by tenant 'twee' without "
            r"tenant_claim",
        ),
    ],
)
async def test_the_migration_refuses_what_two_tenants_already_share(  # type: ignore[no-untyped-def]
    new_database, tmp_path: Path, statement: str, argument: str, refusal: str
) -> None:
    shipped = {
        f.name: f.read_text("utf-8") for f in default_migrations_dir().iterdir() if f.name.endswith(".sql")
    }
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name in sorted(n for n in shipped if n < _OWNERSHIP_MIGRATION):
        (folder / name).write_text(shipped[name])
    url: str = await new_database("brp_ownership")
    await migrate(url, folder)
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE brp_owner")
            for slug in ("een", "twee"):
                await connection.execute("SELECT set_config('app.tenant_id', $1, true)", slug)
                tenant = uuid.uuid4()
                await connection.execute(
                    "INSERT INTO broker.tenants (id, slug, name, kind) VALUES ($1, $2, $2, 'organisation')",
                    tenant,
                    slug,
                )
                await connection.execute(statement, tenant, argument)
    finally:
        await connection.close()
    (folder / _OWNERSHIP_MIGRATION).write_text(shipped[_OWNERSHIP_MIGRATION])
    with pytest.raises(MigrationError, match=refusal):
        await migrate(url, folder)


# -- end to end: a refused file changes nothing for anyone ----------------------------------------


@pytest.fixture
async def own_broker(owner_url: str, broker_settings: Settings, test_tenants: Path) -> Settings:
    """Settings of a broker on this test's own database, with the test tenant applied."""
    await apply(owner_url, load_tenant_files(test_tenants), prune=False, dry_run=False)
    settings = msgspec.structs.replace(
        broker_settings, database_url=with_user(owner_url, "brp_app"), database_owner_url=owner_url
    )
    return settings


def _intruder_file(folder: Path, sandbox: SandboxThread, secrets: Path, text_changes: dict[str, str]) -> Path:
    folder.mkdir()
    path = write_saas_tenant(folder, "indringer", dev_idp_jwks(sandbox.config.state_path), secrets)
    text = path.read_text()
    for old, new in text_changes.items():
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    return folder


async def test_a_refused_file_never_changes_how_another_tenants_callers_are_served(
    own_broker: Settings, owner_url: str, sandbox: SandboxThread, tmp_path: Path
) -> None:
    settings = own_broker
    secret = tmp_path / "wrong-secret"
    secret.write_text("not-the-secret-of-000001")
    # Trusting the test tenant's issuer without a tenant claim would make every token of that
    # issuer ambiguous (401 for the test tenant's callers) ...
    claimless = _intruder_file(
        tmp_path / "claimless",
        sandbox,
        secret,
        {'tenant_claim = "tenant"\ntenant_claim_value = "indringer"\n': "", "000001": "000004"},
    )
    # ... and declaring its AfnemerID, even with a wrong secret, would borrow its RvIG token.
    borrower = _intruder_file(tmp_path / "borrower", sandbox, secret, {})
    for folder, refusal in (
        (claimless, "is shared with tenant 'testgemeente' and needs tenant_claim"),
        (borrower, "afnemer 000001 already belongs to tenant 'testgemeente'"),
    ):
        with pytest.raises(TenancyApplyError, match=refusal):
            await apply(owner_url, load_tenant_files(folder), prune=False, dry_run=False)
    async with (
        ServerTask(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        own = {"Authorization": f"Bearer {dev_token(sandbox, TEST_TENANT)}"}
        intruder = {"Authorization": f"Bearer {dev_token(sandbox, 'indringer')}"}
        assert (await client.post(PERSONEN, json=RAADPLEEG, headers=own)).status_code == 200
        assert (await client.post(PERSONEN, json=RAADPLEEG, headers=intruder)).status_code == 401
