"""Identity fixtures: test issuers with their own keys, and a validator over inline key sets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, cast

import httpx
import pytest
from litestar import Request
from litestar.types import HTTPScope

from app.identity import IssuerConfig, JwksCache, JwtAuthenticator, StaticIssuerDirectory, TokenValidator
from tests.unit.identity.signing import NOW, TestIssuer, ec_key, rsa_key

ISSUER_A = "https://idp.gemeente-a.example/realms/brp"
ISSUER_B = "https://idp.gemeente-b.example"
SHARED_ISSUER = "https://login.leverancier.example/dev"


@pytest.fixture(scope="session")
def issuer_a() -> TestIssuer:
    return TestIssuer(ISSUER_A, ec_key("a-1"))


@pytest.fixture(scope="session")
def issuer_a_rsa() -> TestIssuer:
    """The same issuer as `issuer_a`, signing with an RSA key it also publishes."""
    return TestIssuer(ISSUER_A, rsa_key("a-rsa"), alg="RS256")


@pytest.fixture(scope="session")
def issuer_b() -> TestIssuer:
    return TestIssuer(ISSUER_B, ec_key("b-1"))


@pytest.fixture(scope="session")
def impostor() -> TestIssuer:
    """Claims to be issuer A, with A's `kid`, but holds a key of its own."""
    return TestIssuer(ISSUER_A, ec_key("a-1"))


@pytest.fixture(scope="session")
def shared() -> TestIssuer:
    """One identity provider serving several tenants, told apart by the `tenant` claim."""
    return TestIssuer(SHARED_ISSUER, ec_key("shared-1"))


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


ValidatorFactory = Callable[[Iterable[IssuerConfig]], TokenValidator]


@pytest.fixture
def make_validator(http_client: httpx.AsyncClient) -> ValidatorFactory:
    """A validator trusting exactly the given configurations, its clock at `NOW`."""

    def make(configs: Iterable[IssuerConfig]) -> TokenValidator:
        return TokenValidator(StaticIssuerDirectory(configs), JwksCache(http_client), clock=lambda: NOW)

    return make


@pytest.fixture
def validator(make_validator: ValidatorFactory, issuer_a: TestIssuer, issuer_b: TestIssuer) -> TokenValidator:
    """Trusts issuer A for gemeente-a and issuer B for gemeente-b."""
    return make_validator([issuer_a.config("gemeente-a"), issuer_b.config("gemeente-b")])


@pytest.fixture
def authenticator(validator: TokenValidator) -> JwtAuthenticator:
    return JwtAuthenticator(validator)


def request_with(headers: dict[str, str] | list[tuple[str, str]]) -> Request[Any, Any, Any]:
    """A request carrying exactly these headers (values sent as UTF-8, as clients do)."""
    pairs = headers.items() if isinstance(headers, dict) else headers
    raw = [(name.lower().encode("latin-1"), value.encode("utf-8")) for name, value in pairs]
    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"", "headers": raw}
    return Request(cast("HTTPScope", scope))


def bearer(token: str, **headers: str) -> Request[Any, Any, Any]:
    """A request with `Authorization: Bearer <token>` and `x-*` headers (`x_gebruiker=` → `x-gebruiker`)."""
    extra = {name.replace("_", "-"): value for name, value in headers.items()}
    return request_with({"authorization": f"Bearer {token}", **extra})
