"""One RvIG token per afnemer record per token lifetime across every replica, sealed in PostgreSQL.

The replicas here are TokenManagers with their own pool each, in front of one fake token endpoint
(RvIG) that counts requests and can hold its answer; the brokers at the end are whole apps in
front of the sandbox. Rows are inspected and tampered with as the database's admin.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager

import asyncpg
import httpx
import msgspec
import pytest

from app.db import create_pool, tenant_scope, with_user
from app.main import create_app
from app.secrets import SECRET_KEY_VARIABLE, Secret, SecretKey, generate_secret_key
from app.settings import Settings
from app.upstream import (
    AfnemerAccount,
    EnvironmentConfig,
    TokenConfig,
    TokenManager,
    TokenUnavailable,
    UpstreamClients,
)
from app.upstream.clients import Reply, UpstreamClient
from app.upstream.shared_tokens import Lease, PostgresTokenStore, TokenSealer
from tests.conftest import LogCapture
from tests.integration.conftest import SandboxControl, dev_token
from tests.support.ids import tenant_slug
from tests.support.servers import ServerTask, free_port

ENVIRONMENTS = {"sandbox": EnvironmentConfig(token_url="https://rvig.invalid/nidp/oauth/nam/token")}
CLIENT_SECRET = "the-client-secret-itself"
PERSONEN = "/haalcentraal/api/brp/personen"
RAADPLEEG = {
    "type": "RaadpleegMetBurgerservicenummer",
    "burgerservicenummer": ["999993653"],
    "fields": ["naam"],
}
WAITING_FOR_A_TOKEN_LOCK = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


class TokenEndpoint(UpstreamClient):
    """RvIG's token endpoint, shared by every replica: counts requests, can hold its answers."""

    __slots__ = ("asked", "open", "requests", "status")

    def __init__(self) -> None:  # no HTTP session: nothing leaves the test
        self.requests = 0
        self.status = 200
        self.asked = asyncio.Event()
        self.open = asyncio.Event()
        self.open.set()

    async def post(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        form: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Reply:
        self.requests += 1
        token = f"rvig-token-{self.requests}-{secrets.token_hex(16)}"
        self.asked.set()
        await self.open.wait()
        if self.status != 200:
            return Reply(status=self.status, body=b'{"error":"server_error"}')
        answer = {"access_token": token, "token_type": "bearer", "expires_in": 300}
        return Reply(status=200, body=msgspec.json.encode(answer))

    async def aclose(self) -> None:
        return None


class FakeClients(UpstreamClients):
    """Every identity and environment reaches the one fake token endpoint."""

    def __init__(self, endpoint: TokenEndpoint) -> None:
        self._endpoint = endpoint

    def client(self, identity: str, environment: str) -> UpstreamClient:
        return self._endpoint

    async def aclose(self) -> None:
        return None


@asynccontextmanager
async def replicas(
    database_url: str, endpoint: TokenEndpoint, kek: bytes, count: int = 2
) -> AsyncIterator[list[TokenManager]]:
    """`count` replicas: each its own pool (as the runtime role), store and TokenManager."""
    async with AsyncExitStack() as stack:
        managers = []
        for _ in range(count):
            pool = await create_pool(with_user(database_url, "brp_app"), "brp_app", min_size=1, max_size=2)
            stack.push_async_callback(pool.close)
            managers.append(
                _manager(endpoint, PostgresTokenStore(pool, TokenSealer(SecretKey(kek)), timeout=5.0))
            )
            stack.push_async_callback(managers[-1].aclose)
        yield managers


def _manager(endpoint: TokenEndpoint, store: PostgresTokenStore | None) -> TokenManager:
    return TokenManager(FakeClients(endpoint), ENVIRONMENTS, TokenConfig(), store=store)


def _account(tenant: str, afnemer_id: str = "000001", secret: str = CLIENT_SECRET) -> AfnemerAccount:
    return AfnemerAccount(
        tenant=tenant,
        afnemer_id=afnemer_id,
        environment="sandbox",
        identity="dev",
        oin="00000001234567890000",
        client_id=f"broker-{afnemer_id}",
        client_secret=Secret(secret),
    )


async def _add_tenant(pool: asyncpg.Pool) -> str:
    slug = tenant_slug("tok")
    async with tenant_scope(pool, slug) as connection:
        await connection.execute(
            "INSERT INTO tenants (id, slug, name, kind) VALUES ($1, $2, $2, 'organisation')",
            uuid.uuid4(),
            slug,
        )
    return slug


@pytest.fixture
async def tenant(app_pool: asyncpg.Pool) -> str:
    """A fresh tenant of its own (token rows belong to a registered tenant)."""
    return await _add_tenant(app_pool)


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The database's admin: sees every row, may alter them (an attacker with database access)."""
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


@pytest.fixture
def kek() -> bytes:
    """The deployment's key-encryption key (BROKER_SECRET_KEY), the same in every replica."""
    return secrets.token_bytes(32)


async def _rows(admin: asyncpg.Connection, tenant: str) -> list[asyncpg.Record]:
    return await admin.fetch("SELECT * FROM broker.upstream_tokens WHERE tenant = $1", tenant)


async def _until_waiting_for_the_lock(admin: asyncpg.Connection, count: int) -> None:
    # Polls pg_locks (each round trip yields to the event loop); no sleep.
    async with asyncio.timeout(10):
        while await admin.fetchval(WAITING_FOR_A_TOKEN_LOCK) < count:
            pass


# --- one token across replicas --------------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 8])
async def test_replicas_asking_at_once_make_one_token_request(
    database_url: str, tenant: str, admin: asyncpg.Connection, kek: bytes, count: int
) -> None:
    endpoint = TokenEndpoint()
    endpoint.open.clear()  # RvIG answers only once every other replica waits for the lock
    account = _account(tenant)
    async with replicas(database_url, endpoint, kek, count=count) as managers:
        asking = [asyncio.create_task(m.token_for(account)) for m in managers for _ in range(5)]
        await asyncio.wait_for(endpoint.asked.wait(), 10)
        await _until_waiting_for_the_lock(admin, len(managers) - 1)
        endpoint.open.set()
        tokens = await asyncio.gather(*asking)
    assert endpoint.requests == 1
    assert len(set(tokens)) == 1
    assert len(await _rows(admin, tenant)) == 1


async def test_a_replica_started_later_uses_the_stored_token(
    database_url: str, tenant: str, admin: asyncpg.Connection, kek: bytes
) -> None:
    endpoint = TokenEndpoint()
    account = _account(tenant)
    async with replicas(database_url, endpoint, kek) as (first, _):
        token = await first.token_for(account)
    async with replicas(database_url, endpoint, kek) as (later, _):
        assert await later.token_for(account) == token
    assert endpoint.requests == 1


async def test_the_table_holds_no_token_and_no_secret_in_clear(
    database_url: str, tenant: str, admin: asyncpg.Connection, kek: bytes
) -> None:
    endpoint = TokenEndpoint()
    async with replicas(database_url, endpoint, kek) as (manager, _):
        token = await manager.token_for(_account(tenant))
    [row] = await _rows(admin, tenant)
    stored = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row.values())
    as_text = await admin.fetchval("SELECT t::text FROM broker.upstream_tokens t WHERE tenant = $1", tenant)
    for clear in (token, token.split("-")[-1], CLIENT_SECRET):
        assert clear.encode() not in stored
        assert clear not in as_text
    assert row["afnemer_id"] == "000001" and row["environment"] == "sandbox"


async def test_a_token_past_its_refresh_point_is_replaced_once_for_everyone(
    database_url: str, tenant: str, admin: asyncpg.Connection, kek: bytes
) -> None:
    endpoint = TokenEndpoint()
    account = _account(tenant)
    async with replicas(database_url, endpoint, kek) as (first, _):
        old = await first.token_for(account)
    # Still usable, but past the point where the next one is due.
    await admin.execute(
        "UPDATE broker.upstream_tokens SET refresh_at = clock_timestamp() - interval '1 second' "
        "WHERE tenant = $1",
        tenant,
    )
    async with replicas(database_url, endpoint, kek, count=3) as managers:
        tokens = await asyncio.gather(*(m.token_for(account) for m in managers))
    assert endpoint.requests == 2
    assert len(set(tokens)) == 1 and old not in tokens


async def test_expired_rows_go_when_a_token_is_stored(
    database_url: str, tenant: str, admin: asyncpg.Connection, kek: bytes
) -> None:
    endpoint = TokenEndpoint()
    async with replicas(database_url, endpoint, kek) as (manager, _):
        await manager.token_for(_account(tenant, "000001"))
        await admin.execute(
            "UPDATE broker.upstream_tokens SET refresh_at = now() - interval '2 hours', "
            "expires_at = now() - interval '1 hour' WHERE tenant = $1",
            tenant,
        )
        await manager.token_for(_account(tenant, "000002"))
    assert [row["afnemer_id"] for row in await _rows(admin, tenant)] == ["000002"]


# --- sealed to its key, its tenant and its credentials --------------------------------------------


async def test_a_sealed_token_moved_to_another_afnemers_row_does_not_open_and_is_re_obtained(
    database_url: str, tenant: str, admin: asyncpg.Connection, kek: bytes, logs: LogCapture
) -> None:
    endpoint = TokenEndpoint()
    async with replicas(database_url, endpoint, kek) as (manager, _):
        first = await manager.token_for(_account(tenant, "000001"))
        await manager.token_for(_account(tenant, "000002"))
    await admin.execute(
        "UPDATE broker.upstream_tokens AS t SET sealed = s.sealed, token_mac = s.token_mac "
        "FROM broker.upstream_tokens AS s "
        "WHERE t.tenant = $1 AND t.afnemer_id = '000002' AND s.tenant = $1 AND s.afnemer_id = '000001'",
        tenant,
    )
    async with replicas(database_url, endpoint, kek) as (later, _):
        again = await later.token_for(_account(tenant, "000002"))
    assert again != first
    assert endpoint.requests == 3
    assert "token_store_unreadable" in logs.text
    assert first not in logs.text and again not in logs.text


async def test_a_sealed_token_moved_to_another_tenant_does_not_open_there(
    database_url: str, app_pool: asyncpg.Pool, tenant: str, admin: asyncpg.Connection, kek: bytes
) -> None:
    other = await _add_tenant(app_pool)
    endpoint = TokenEndpoint()
    async with replicas(database_url, endpoint, kek) as (manager, _):
        theirs = await manager.token_for(_account(tenant))
    # The same AfnemerID and credentials in another tenant: a row copied over under its key.
    async with replicas(database_url, endpoint, kek) as (manager, _):
        await manager.token_for(_account(other))
    await admin.execute(
        "UPDATE broker.upstream_tokens AS t SET sealed = s.sealed, token_mac = s.token_mac "
        "FROM broker.upstream_tokens AS s WHERE t.tenant = $1 AND s.tenant = $2",
        other,
        tenant,
    )
    async with replicas(database_url, endpoint, kek) as (later, _):
        assert await later.token_for(_account(other)) != theirs
    assert endpoint.requests == 3


async def test_another_tenant_with_the_same_afnemer_and_credentials_never_gets_the_token(
    database_url: str, app_pool: asyncpg.Pool, tenant: str, kek: bytes
) -> None:
    other = await _add_tenant(app_pool)
    endpoint = TokenEndpoint()
    async with replicas(database_url, endpoint, kek) as (one, two):
        mine = await one.token_for(_account(tenant))
        theirs = await two.token_for(_account(other))
        wrong_secret = await two.token_for(_account(tenant, secret="another-secret"))
    assert endpoint.requests == 3
    assert len({mine, theirs, wrong_secret}) == 3


async def test_the_runtime_role_sees_and_writes_only_its_own_tenants_token_rows(
    database_url: str, app_pool: asyncpg.Pool, tenant: str, kek: bytes
) -> None:
    other = await _add_tenant(app_pool)
    endpoint = TokenEndpoint()
    async with replicas(database_url, endpoint, kek) as (manager, _):
        await manager.token_for(_account(tenant))
        await manager.token_for(_account(other))
    async with tenant_scope(app_pool, tenant) as connection:
        assert await connection.fetchval("SELECT count(*) FROM upstream_tokens") == 1
        assert await connection.fetchval("SELECT count(*) FROM upstream_tokens WHERE tenant = $1", other) == 0
        assert await connection.execute("DELETE FROM upstream_tokens WHERE tenant = $1", other) == "DELETE 0"
        assert await connection.execute(
            "UPDATE upstream_tokens SET tenant = tenant WHERE tenant = $1", other
        ) == ("UPDATE 0")
        row = await connection.fetchrow("SELECT * FROM upstream_tokens")
    async with tenant_scope(app_pool, tenant) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await connection.execute(
                "INSERT INTO upstream_tokens SELECT $1, key, afnemer_id, environment, sealed, token_mac, "
                "obtained_at, refresh_at, expires_at FROM upstream_tokens",
                other,
            )
    async with app_pool.acquire() as connection:
        assert await connection.fetchval("SELECT count(*) FROM upstream_tokens") == 0
    assert row is not None and row["tenant"] == tenant


# --- refused tokens -------------------------------------------------------------------------------


async def test_a_refused_token_is_gone_for_every_replica(
    database_url: str, tenant: str, admin: asyncpg.Connection, kek: bytes
) -> None:
    endpoint = TokenEndpoint()
    account = _account(tenant)
    async with replicas(database_url, endpoint, kek) as (first, second):
        refused = await first.token_for(account)
        assert await second.token_for(account) == refused
        # RvIG refuses it at the first replica: it drops it and, at once, asks for another.
        first.invalidate(account, refused)
        fresh = await first.token_for(account)
        assert fresh != refused
        # The second replica is refused too and finds the new one, without a token request.
        second.invalidate(account, refused)
        assert await second.token_for(account) == fresh
        await first.settled()
        await second.settled()
    assert endpoint.requests == 2
    [row] = await _rows(admin, tenant)
    assert row["token_mac"] == TokenSealer(SecretKey(kek)).mac(fresh)


async def test_the_store_never_hands_back_a_token_the_asking_replica_was_refused(
    database_url: str, app_pool: asyncpg.Pool, tenant: str, kek: bytes
) -> None:
    endpoint = TokenEndpoint()
    account = _account(tenant)
    async with replicas(database_url, endpoint, kek) as (manager, _):
        refused = await manager.token_for(account)
        key = manager.key_for(account)
    store = PostgresTokenStore(app_pool, TokenSealer(SecretKey(kek)), timeout=5.0)

    async def obtain() -> Lease:
        return Lease("the-next-token", refresh_in=200.0, usable_for=290.0)

    async def must_not_obtain() -> Lease:
        raise AssertionError("the stored token has life left")

    # Its discard may not have reached the database yet: the row still holds the refused token.
    assert (await store.fetch_or_obtain(key, obtain, refused=refused)).value == "the-next-token"
    assert (await store.fetch_or_obtain(key, must_not_obtain, refused=refused)).value == "the-next-token"


async def test_invalidate_deletes_the_row_only_while_it_holds_that_token(
    database_url: str, tenant: str, admin: asyncpg.Connection, kek: bytes
) -> None:
    endpoint = TokenEndpoint()
    account = _account(tenant)
    async with replicas(database_url, endpoint, kek) as (first, second):
        token = await first.token_for(account)
        second.invalidate(account, "some-older-token")
        await second.settled()
        assert len(await _rows(admin, tenant)) == 1
        first.invalidate(account, token)
        await first.settled()
        assert await _rows(admin, tenant) == []
    async with replicas(database_url, endpoint, kek) as (later, _):
        assert await later.token_for(account) != token
    assert endpoint.requests == 2


# --- the store never fails a request --------------------------------------------------------------


async def test_with_the_database_down_each_replica_still_gets_a_token(
    tenant: str, kek: bytes, logs: LogCapture
) -> None:
    endpoint = TokenEndpoint()
    pool = await asyncpg.create_pool(
        f"postgresql://brp_app@127.0.0.1:{free_port()}/nothing", min_size=0, max_size=1
    )
    manager = _manager(endpoint, PostgresTokenStore(pool, TokenSealer(SecretKey(kek)), timeout=2.0))
    try:
        token = await manager.token_for(_account(tenant))
        assert await manager.token_for(_account(tenant)) == token  # and then from its own cache
        manager.invalidate(_account(tenant), token)
        await manager.settled()
        assert await manager.token_for(_account(tenant)) != token
    finally:
        await manager.aclose()
        await pool.close()
    assert endpoint.requests == 2
    failures = [e for e in logs.events if e.get("event") == "token_store_unavailable"]
    assert failures and {e["error"] for e in failures} == {"ConnectionRefusedError"}
    assert token not in logs.text and CLIENT_SECRET not in logs.text


async def test_a_token_that_cannot_be_stored_is_still_used_and_not_obtained_twice(
    database_url: str, kek: bytes, logs: LogCapture
) -> None:
    endpoint = TokenEndpoint()
    # A tenant the registry does not know: the write fails on its foreign key, after RvIG answered.
    async with replicas(database_url, endpoint, kek) as (manager, _):
        token = await manager.token_for(_account("not-registered"))
    assert token.startswith("rvig-token-1-")
    assert endpoint.requests == 1
    assert [e["error"] for e in logs.events if e.get("event") == "token_store_unavailable"] == [
        "ForeignKeyViolationError"
    ]


async def test_a_failing_token_endpoint_is_reported_not_mistaken_for_store_trouble(
    database_url: str, tenant: str, admin: asyncpg.Connection, kek: bytes, logs: LogCapture
) -> None:
    endpoint = TokenEndpoint()
    endpoint.status = 503
    async with replicas(database_url, endpoint, kek) as (manager, _):
        with pytest.raises(TokenUnavailable, match="token endpoint answered 503"):
            await manager.token_for(_account(tenant))
    assert endpoint.requests == 1  # not asked again "directly"
    assert await _rows(admin, tenant) == []
    assert "token_store_unavailable" not in logs.text


@pytest.mark.parametrize("count", [2, 8])
async def test_without_a_store_each_replica_obtains_its_own_as_before(
    tenant: str, admin: asyncpg.Connection, count: int
) -> None:
    endpoint = TokenEndpoint()
    managers = [_manager(endpoint, None) for _ in range(count)]
    tokens = await asyncio.gather(*(m.token_for(_account(tenant)) for m in managers for _ in range(5)))
    assert endpoint.requests == count and len(set(tokens)) == count
    assert await _rows(admin, tenant) == []


async def test_a_removed_tenants_token_rows_go_with_it(
    database_url: str, app_pool: asyncpg.Pool, admin: asyncpg.Connection, kek: bytes
) -> None:
    gone = await _add_tenant(app_pool)
    async with replicas(database_url, TokenEndpoint(), kek) as (manager, _):
        await manager.token_for(_account(gone))
    assert len(await _rows(admin, gone)) == 1
    await admin.execute("DELETE FROM broker.tenants WHERE slug = $1", gone)
    assert await _rows(admin, gone) == []


# --- whole brokers --------------------------------------------------------------------------------


async def _first_requests_of_two_brokers(settings: Settings, sandbox_control: SandboxControl) -> int:
    sandbox_control.reset()
    headers = {"Authorization": f"Bearer {dev_token(sandbox_control.sandbox)}"}
    async with (
        ServerTask(create_app(settings)) as one,
        ServerTask(create_app(settings)) as two,
        httpx.AsyncClient(timeout=30, headers=headers) as client,
    ):
        answers = await asyncio.gather(
            *(client.post(base + PERSONEN, json=RAADPLEEG) for base in (one, two) for _ in range(3))
        )
    assert [a.status_code for a in answers] == [200] * 6
    requests = sandbox_control.token_requests("000001")
    sandbox_control.reset()
    return requests


async def test_two_brokers_with_one_kek_obtain_one_token(
    broker_settings: Settings, sandbox_control: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_KEY_VARIABLE, generate_secret_key())
    assert await _first_requests_of_two_brokers(broker_settings, sandbox_control) == 1


async def test_two_brokers_without_kek_or_with_sharing_off_obtain_one_each(
    broker_settings: Settings, sandbox_control: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_KEY_VARIABLE, raising=False)
    assert await _first_requests_of_two_brokers(broker_settings, sandbox_control) == 2
    monkeypatch.setenv(SECRET_KEY_VARIABLE, generate_secret_key())
    off = msgspec.structs.replace(broker_settings, token_sharing="off")
    assert await _first_requests_of_two_brokers(off, sandbox_control) == 2
