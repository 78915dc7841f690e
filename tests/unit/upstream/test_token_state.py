"""What the token manager holds for an afnemer, told without asking RvIG and without the token."""

from __future__ import annotations

from typing import cast

import msgspec
import pytest

from app.secrets import Secret
from app.upstream import AfnemerAccount, EnvironmentConfig, TokenConfig, TokenManager, UpstreamClients
from app.upstream.clients import Reply

ACCOUNT = AfnemerAccount(
    tenant="gemeente",
    afnemer_id="000001",
    environment="sandbox",
    identity="dev",
    oin="00000001234567890000",
    client_id="broker-dev-000001",
    client_secret=Secret("the-secret-itself"),
)
TOKEN = "the-token-itself"


class _TokenEndpoint:
    """Answers token requests with `status` and counts them."""

    def __init__(self) -> None:
        self.status = 200
        self.requests = 0

    def client(self, identity: str, environment: str) -> _TokenEndpoint:
        return self

    async def post(self, url: str, **_: object) -> Reply:
        self.requests += 1
        body = msgspec.json.encode({"access_token": TOKEN, "expires_in": 60})
        return Reply(status=self.status, body=body if self.status == 200 else b"{}")


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def endpoint() -> _TokenEndpoint:
    return _TokenEndpoint()


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


@pytest.fixture
def tokens(endpoint: _TokenEndpoint, clock: _Clock) -> TokenManager:
    environments = {"sandbox": EnvironmentConfig(token_url="https://rvig.example/token")}
    return TokenManager(cast(UpstreamClients, endpoint), environments, TokenConfig(), clock)


def test_before_any_request_there_is_no_token_and_none_is_requested(
    tokens: TokenManager, endpoint: _TokenEndpoint
) -> None:
    assert tokens.state_of(ACCOUNT) == "none"
    assert endpoint.requests == 0


async def test_a_usable_token_is_valid_until_it_runs_out(
    tokens: TokenManager, endpoint: _TokenEndpoint, clock: _Clock
) -> None:
    await tokens.token_for(ACCOUNT)
    state = tokens.state_of(ACCOUNT)
    assert state == "valid" and TOKEN not in state
    assert tokens.state_of(msgspec.structs.replace(ACCOUNT, tenant="andere-gemeente")) == "none"
    clock.now += 61
    assert tokens.state_of(ACCOUNT) == "none"
    assert endpoint.requests == 1


async def test_a_failed_token_request_is_failing_until_one_succeeds(
    tokens: TokenManager, endpoint: _TokenEndpoint, clock: _Clock
) -> None:
    endpoint.status = 401
    with pytest.raises(Exception, match="token endpoint answered 401"):
        await tokens.token_for(ACCOUNT)
    assert tokens.state_of(ACCOUNT) == "failing"
    clock.now += 60  # the backoff is over: still failing, nothing new is known
    assert tokens.state_of(ACCOUNT) == "failing"
    endpoint.status = 200
    await tokens.token_for(ACCOUNT)
    assert tokens.state_of(ACCOUNT) == "valid"
