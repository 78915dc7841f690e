"""The JWKS cache against a real HTTP server: fetched once, refetched sparingly, never mixed up."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.identity import IssuerConfig, JwksCache, StaticIssuerDirectory, TokenRefused, TokenValidator
from tests.integration.conftest import FakeClock
from tests.integration.identity.conftest import JwksServer
from tests.unit.identity.signing import NOW, TestIssuer, ec_key

ISSUER_A = "https://idp.gemeente-a.example"
ISSUER_B = "https://idp.gemeente-b.example"


class Setup:
    """An issuer whose keys live on the test server, and a validator trusting it."""

    def __init__(self, server: JwksServer, client: httpx.AsyncClient, clock: FakeClock) -> None:
        self.server = server
        self.cache = JwksCache(client, clock=clock)
        self.a = TestIssuer(ISSUER_A, ec_key("a-1"))
        self.host = server.host("a")
        self.host.jwks = self.a.jwks()
        self.config = self.a.config("gemeente-a", jwks=None, jwks_uri=server.uri("a"))
        self.validator = self.validator_for([self.config])

    def validator_for(self, configs: list[IssuerConfig]) -> TokenValidator:
        return TokenValidator(StaticIssuerDirectory(configs), self.cache, clock=lambda: NOW)

    async def reason(self, token: str) -> str:
        with pytest.raises(TokenRefused) as refused:
            await self.validator.validate(token)
        return refused.value.reason


@pytest.fixture
def setup(jwks_server: JwksServer, idp_client: httpx.AsyncClient, jwks_clock: FakeClock) -> Setup:
    return Setup(jwks_server, idp_client, jwks_clock)


async def test_key_set_is_fetched_once_and_cached(setup: Setup) -> None:
    for _ in range(5):
        assert (await setup.validator.validate(setup.a.token())).tenant == "gemeente-a"
    assert setup.host.fetches == 1


async def test_unknown_kid_refetches_once_and_finds_a_rotated_key(
    setup: Setup, jwks_clock: FakeClock
) -> None:
    await setup.validator.validate(setup.a.token())
    rotated = TestIssuer(ISSUER_A, ec_key("a-2"))
    setup.host.jwks = {"keys": [setup.a.public_jwk(), rotated.public_jwk()]}
    jwks_clock.advance(30)
    assert (await setup.validator.validate(rotated.token())).tenant == "gemeente-a"
    assert setup.host.fetches == 2
    await setup.validator.validate(rotated.token())
    assert setup.host.fetches == 2


async def test_unknown_kid_refetches_at_most_once_per_30_seconds(setup: Setup, jwks_clock: FakeClock) -> None:
    await setup.validator.validate(setup.a.token())
    made_up = setup.a.token(header={"kid": "made-up"})
    jwks_clock.advance(30)
    assert await setup.reason(made_up) == "unknown_kid"
    assert setup.host.fetches == 2
    for _ in range(10):
        assert await setup.reason(made_up) == "unknown_kid"
    jwks_clock.advance(29.9)
    assert await setup.reason(made_up) == "unknown_kid"
    assert setup.host.fetches == 2
    jwks_clock.advance(0.1)
    assert await setup.reason(made_up) == "unknown_kid"
    assert setup.host.fetches == 3


async def test_interval_is_configurable(
    jwks_server: JwksServer, idp_client: httpx.AsyncClient, jwks_clock: FakeClock
) -> None:
    setup = Setup(jwks_server, idp_client, jwks_clock)
    setup.cache = JwksCache(idp_client, clock=jwks_clock, refetch_interval=5)
    setup.validator = setup.validator_for([setup.config])
    await setup.validator.validate(setup.a.token())
    jwks_clock.advance(5)
    assert await setup.reason(setup.a.token(header={"kid": "made-up"})) == "unknown_kid"
    assert setup.host.fetches == 2


async def test_last_good_key_set_is_kept_when_the_server_fails(setup: Setup, jwks_clock: FakeClock) -> None:
    await setup.validator.validate(setup.a.token())
    setup.host.failing = True
    jwks_clock.advance(3600)  # long past max_age: the cache tries, fails, keeps what it had
    assert (await setup.validator.validate(setup.a.token())).tenant == "gemeente-a"
    assert setup.host.fetches == 2
    jwks_clock.advance(30)
    assert await setup.reason(setup.a.token(header={"kid": "new"})) == "unknown_kid"
    assert (await setup.validator.validate(setup.a.token())).tenant == "gemeente-a"
    assert setup.host.fetches == 3


async def test_last_good_key_set_is_kept_when_the_server_sends_garbage(
    setup: Setup, jwks_clock: FakeClock
) -> None:
    await setup.validator.validate(setup.a.token())
    setup.host.jwks = {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}  # no usable signing key
    jwks_clock.advance(3600)
    assert (await setup.validator.validate(setup.a.token())).tenant == "gemeente-a"
    assert setup.host.fetches == 2


async def test_failed_first_fetch_refuses_then_recovers(setup: Setup, jwks_clock: FakeClock) -> None:
    setup.host.failing = True
    assert await setup.reason(setup.a.token()) == "jwks_unavailable"
    assert await setup.reason(setup.a.token()) == "jwks_unavailable"
    assert setup.host.fetches == 1  # a failing issuer is not hammered either
    setup.host.failing = False
    jwks_clock.advance(30)
    assert (await setup.validator.validate(setup.a.token())).tenant == "gemeente-a"
    assert setup.host.fetches == 2


async def test_unreachable_jwks_uri_refuses(idp_client: httpx.AsyncClient, jwks_clock: FakeClock) -> None:
    from tests.support.servers import free_port

    a = TestIssuer(ISSUER_A, ec_key("a-1"))
    config = a.config(jwks=None, jwks_uri=f"http://127.0.0.1:{free_port()}/jwks.json")
    validator = TokenValidator(StaticIssuerDirectory([config]), JwksCache(idp_client, clock=jwks_clock))
    with pytest.raises(TokenRefused) as refused:
        await validator.validate(a.token())
    assert refused.value.reason == "jwks_unavailable"


async def test_oversized_key_set_is_refused(
    jwks_server: JwksServer, idp_client: httpx.AsyncClient, jwks_clock: FakeClock
) -> None:
    setup = Setup(jwks_server, idp_client, jwks_clock)
    setup.host.jwks = {"keys": [setup.a.public_jwk()], "padding": "x" * 5000}
    setup.cache = JwksCache(idp_client, clock=jwks_clock, max_bytes=4096)
    setup.validator = setup.validator_for([setup.config])
    assert await setup.reason(setup.a.token()) == "jwks_unavailable"


async def test_concurrent_misses_cause_one_fetch(setup: Setup) -> None:
    setup.host.gate = gate = asyncio.Event()
    tasks = [asyncio.create_task(setup.validator.validate(setup.a.token())) for _ in range(20)]
    await setup.host.arrived.wait()  # the one fetch is in flight; every task has asked for keys
    gate.set()
    principals = await asyncio.gather(*tasks)
    assert {p.tenant for p in principals} == {"gemeente-a"}
    assert setup.host.fetches == 1


async def test_concurrent_unknown_kids_cause_one_refetch(setup: Setup, jwks_clock: FakeClock) -> None:
    await setup.validator.validate(setup.a.token())
    rotated = TestIssuer(ISSUER_A, ec_key("a-2"))
    setup.host.jwks = {"keys": [rotated.public_jwk()]}
    setup.host.arrived.clear()
    setup.host.gate = gate = asyncio.Event()
    jwks_clock.advance(30)
    tasks = [asyncio.create_task(setup.validator.validate(rotated.token())) for _ in range(20)]
    await setup.host.arrived.wait()
    gate.set()
    principals = await asyncio.gather(*tasks)
    assert len(principals) == 20
    assert setup.host.fetches == 2


async def test_cancelled_caller_does_not_cancel_the_shared_fetch(setup: Setup) -> None:
    setup.host.gate = gate = asyncio.Event()
    first = asyncio.create_task(setup.validator.validate(setup.a.token()))
    second = asyncio.create_task(setup.validator.validate(setup.a.token()))
    await setup.host.arrived.wait()
    first.cancel()
    gate.set()
    assert (await second).tenant == "gemeente-a"
    assert setup.host.fetches == 1


async def test_two_issuers_keys_are_never_mixed(
    jwks_server: JwksServer, idp_client: httpx.AsyncClient, jwks_clock: FakeClock
) -> None:
    # Both issuers publish a key with the same kid; each validates only tokens signed with its own.
    a = TestIssuer(ISSUER_A, ec_key("same-kid"))
    b = TestIssuer(ISSUER_B, ec_key("same-kid"))
    jwks_server.host("a").jwks = a.jwks()
    jwks_server.host("b").jwks = b.jwks()
    configs = [
        a.config("gemeente-a", jwks=None, jwks_uri=jwks_server.uri("a")),
        b.config("gemeente-b", jwks=None, jwks_uri=jwks_server.uri("b")),
    ]
    validator = TokenValidator(
        StaticIssuerDirectory(configs), JwksCache(idp_client, clock=jwks_clock), clock=lambda: NOW
    )
    assert (await validator.validate(a.token())).tenant == "gemeente-a"
    assert (await validator.validate(b.token())).tenant == "gemeente-b"
    for forged in (TestIssuer(ISSUER_A, b.key).token(), TestIssuer(ISSUER_B, a.key).token()):
        with pytest.raises(TokenRefused) as refused:
            await validator.validate(forged)
        assert refused.value.reason == "bad_signature"
    assert (jwks_server.host("a").fetches, jwks_server.host("b").fetches) == (1, 1)
