"""`TenantDirectory` against PostgreSQL: loaded at start, changes reach every instance through
LISTEN/NOTIFY (also after its listener connection dropped), secrets decrypted at load.

No sleeps: every wait is on a condition of the directory's snapshot, with a generous timeout that
only matters when the behaviour is broken.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import asyncpg
import msgspec
import pytest

from app.db import create_pool, with_user
from app.identity import IssuerDirectory
from app.secrets import SecretKey, generate_secret_key
from app.tenancy import DirectorySnapshot, TenantDirectory, TenantSpec, afnemer_secret_context, apply
from tests.conftest import LogCapture
from tests.unit.tenancy.demo import IDENTITIES, SECRET_VALUE, with_secret

TIMEOUT = 15.0
DEV_IDP = "https://127.0.0.1:8443/dev-idp"


@pytest.fixture
async def applied(owner_url: str, specs: dict[str, TenantSpec]) -> dict[str, TenantSpec]:
    await apply(owner_url, list(specs.values()), prune=False, dry_run=False)
    return specs


@pytest.fixture
async def directory(
    runtime_pool: asyncpg.Pool, applied: dict[str, TenantSpec]
) -> AsyncIterator[TenantDirectory]:
    directory = TenantDirectory(runtime_pool, IDENTITIES, safety_reload_seconds=3600)
    await directory.start()
    yield directory
    await directory.stop()


@pytest.fixture
async def second_directory(owner_url: str, applied: dict[str, TenantSpec]) -> AsyncIterator[TenantDirectory]:
    """Another app instance: its own pool, its own listener."""
    pool = await create_pool(with_user(owner_url, "brp_app"), "brp_app", min_size=1, max_size=3)
    directory = TenantDirectory(pool, IDENTITIES, safety_reload_seconds=3600)
    await directory.start()
    yield directory
    await directory.stop()
    await asyncio.wait_for(pool.close(), TIMEOUT)


async def _until(
    directory: TenantDirectory, predicate: Callable[[DirectorySnapshot], bool]
) -> DirectorySnapshot:
    return await asyncio.wait_for(directory.wait_for(predicate), TIMEOUT)


async def test_start_loads_every_tenant(directory: TenantDirectory, applied: dict[str, TenantSpec]) -> None:
    snapshot = directory.snapshot
    assert sorted(snapshot.tenants) == sorted(applied)
    assert [t.spec for t in snapshot.tenants.values()] == [applied[slug] for slug in snapshot.tenants]
    issuers: IssuerDirectory = directory  # the identity layer's seam
    assert len(issuers.issuers_for(DEV_IDP)) == 3
    account = snapshot.tenants["vallei-liemers"].afnemers["000302"].account
    assert account is not None
    assert (account.afnemer_id, account.gemeente_code, account.client_secret.reveal()) == (
        "000302",
        "0226",
        SECRET_VALUE,
    )


async def test_a_change_reaches_another_instance_without_restart(
    owner_url: str,
    directory: TenantDirectory,
    second_directory: TenantDirectory,
    applied: dict[str, TenantSpec],
) -> None:
    renamed = msgspec.structs.replace(applied["amsterdam"], name="Gemeente Amsterdam (nieuw)")
    await apply(owner_url, list({**applied, "amsterdam": renamed}.values()), prune=False, dry_run=False)
    for instance in (directory, second_directory):
        snapshot = await _until(
            instance, lambda s: s.tenants["amsterdam"].name == "Gemeente Amsterdam (nieuw)"
        )
        # Only the changed tenant was reloaded; the others are the very same objects.
        assert snapshot.tenants["amsterdam"].spec == renamed


async def test_an_added_and_a_pruned_tenant_reach_the_directory(
    owner_url: str, directory: TenantDirectory, applied: dict[str, TenantSpec]
) -> None:
    await apply(owner_url, [applied["amsterdam"]], prune=True, dry_run=False)
    snapshot = await _until(directory, lambda s: sorted(s.tenants) == ["amsterdam"])
    assert len(snapshot.issuers_for(DEV_IDP)) == 1
    await apply(owner_url, list(applied.values()), prune=False, dry_run=False)
    await _until(directory, lambda s: sorted(s.tenants) == sorted(applied))


async def test_suspending_a_tenant_withdraws_its_issuer(
    owner_url: str, directory: TenantDirectory, applied: dict[str, TenantSpec]
) -> None:
    suspended = msgspec.structs.replace(applied["vallei-liemers"], status="suspended")
    await apply(
        owner_url, list({**applied, "vallei-liemers": suspended}.values()), prune=False, dry_run=False
    )
    snapshot = await _until(directory, lambda s: not s.tenants["vallei-liemers"].active)
    assert sorted(c.tenant for c in snapshot.issuers_for(DEV_IDP)) == ["amsterdam", "belastingen-rijnmond"]


async def test_a_dropped_listener_reconnects_and_catches_up(
    owner_url: str, directory: TenantDirectory, applied: dict[str, TenantSpec]
) -> None:
    admin = await asyncpg.connect(owner_url)
    try:
        terminated = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
        )
        assert terminated, "the directory's listener connection was not found"
        # Changed while the listener is (probably) gone: the reconnection must catch up on it.
        renamed = msgspec.structs.replace(applied["belastingen-rijnmond"], name="Na herverbinding")
        await apply(owner_url, list({**applied, renamed.slug: renamed}.values()), prune=False, dry_run=False)
        await _until(directory, lambda s: s.tenants["belastingen-rijnmond"].name == "Na herverbinding")
        # And it listens again: a later change arrives by notification.
        later = msgspec.structs.replace(renamed, name="Daarna")
        await apply(owner_url, list({**applied, later.slug: later}.values()), prune=False, dry_run=False)
        await _until(directory, lambda s: s.tenants["belastingen-rijnmond"].name == "Daarna")
        listeners = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
        )
        assert listeners == 1
    finally:
        await admin.close()


async def test_encrypted_secrets_are_decrypted_at_load(
    owner_url: str, runtime_pool: asyncpg.Pool, specs: dict[str, TenantSpec], logs: LogCapture
) -> None:
    key = SecretKey.from_text(generate_secret_key())
    spec = specs["amsterdam"]
    stored = key.encrypt("enc-only-secret", afnemer_secret_context("amsterdam", "000101"))
    await apply(owner_url, [with_secret(spec, stored)], prune=False, dry_run=False)

    right = TenantDirectory(runtime_pool, IDENTITIES, secret_key=key)
    await right.start()
    await right.stop()
    account = right.snapshot.tenants["amsterdam"].afnemers["000101"].account
    assert account is not None and account.client_secret.reveal() == "enc-only-secret"

    other = SecretKey.from_text(generate_secret_key())
    wrong = TenantDirectory(runtime_pool, IDENTITIES, secret_key=other)
    await wrong.start()
    await wrong.stop()
    afnemer = wrong.snapshot.tenants["amsterdam"].afnemers["000101"]
    assert afnemer.account is None
    assert afnemer.problem is not None and f"key id {key.key_id}" in afnemer.problem
    (event,) = [e for e in logs.events if e.get("event") == "tenancy_afnemer_unusable"]
    assert (event["tenant"], event["afnemer_id"]) == ("amsterdam", "000101")
    assert "enc-only-secret" not in logs.text and stored not in logs.text


async def test_stop_gives_the_listener_back_to_the_pool(
    owner_url: str, applied: dict[str, TenantSpec]
) -> None:
    pool = await create_pool(with_user(owner_url, "brp_app"), "brp_app", min_size=1, max_size=2)
    directory = TenantDirectory(pool, IDENTITIES)
    await directory.start()
    await directory.stop()
    await asyncio.wait_for(pool.close(), TIMEOUT)
