"""`JwtAuthenticator` behind a real HTTP server: what a client sees for missing, bad and good tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar, Request, post

from app.errors import exception_handlers
from app.identity import (
    ClaimMapping,
    IssuerConfig,
    JwksCache,
    JwtAuthenticator,
    StaticIssuerDirectory,
    TokenValidator,
)
from app.sandbox.idp import DEV_IDP_AUDIENCE, DEV_IDP_ISSUER, dev_idp_jwks, issue_dev_token
from tests.support.servers import ServerTask

PATH = "/haalcentraal/api/brp/personen"


def who_is_calling(authenticator: JwtAuthenticator) -> Litestar:
    @post(PATH, status_code=200)
    async def handler(request: Request[Any, Any, Any]) -> dict[str, Any]:
        caller = await authenticator.identify(request)
        return {
            "principal": msgspec.to_builtins(caller.principal),
            "headers": msgspec.to_builtins(caller.headers),
        }

    return Litestar(route_handlers=[handler], exception_handlers=exception_handlers, openapi_config=None)


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A minimal app whose one endpoint authenticates with the dev IdP's inline JWKS."""
    config = IssuerConfig(
        tenant="gemeente-saas",
        issuer=DEV_IDP_ISSUER,
        audiences=(DEV_IDP_AUDIENCE,),
        jwks=dev_idp_jwks(tmp_path),
        algorithms=("ES256",),
        claims=ClaimMapping(),
        tenant_claim="tenant",
    )
    async with httpx.AsyncClient() as idp_client:
        authenticator = JwtAuthenticator(
            TokenValidator(StaticIssuerDirectory([config]), JwksCache(idp_client))
        )
        async with (
            ServerTask(who_is_calling(authenticator)) as base_url,
            httpx.AsyncClient(base_url=base_url) as client,
        ):
            client.state_dir = tmp_path  # type: ignore[attr-defined]  # where the test's dev IdP key is
            yield client


def token(broker: httpx.AsyncClient, /, **options: Any) -> str:
    values: dict[str, Any] = {"tenant": "gemeente-saas", "subject": "u1", "employee": "E1", **options}
    return issue_dev_token(broker.state_dir, **values)  # type: ignore[attr-defined]


async def test_missing_bearer_is_a_problem_401(broker: httpx.AsyncClient) -> None:
    response = await broker.post(PATH, json={})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert (body["code"], body["status"], body["instance"]) == ("authentication", 401, PATH)


async def test_expired_token_is_401_without_echo(broker: httpx.AsyncClient) -> None:
    expired = token(broker, lifetime=-3600)
    response = await broker.post(PATH, json={}, headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["detail"] == "Het bearer token is verlopen."
    assert expired not in response.text
    assert expired.split(".")[1] not in response.text


async def test_valid_token_gives_the_principal(broker: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {token(broker, roles=['r1'])}", "x-doelbinding": "BRPACT-Totaal"}
    response = await broker.post(PATH, json={}, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["principal"] == {
        "tenant": "gemeente-saas",
        "subject": "u1",
        "employee": "E1",
        "client": None,
        "roles": ["r1"],
        "organisation": None,
        "kind": "user",
    }
    assert body["headers"]["doelbinding"] == "BRPACT-Totaal"


async def test_invalid_header_is_a_400_naming_it(broker: httpx.AsyncClient) -> None:
    headers = {
        "Authorization": f"Bearer {token(broker)}",
        "x-origin-oin": "123",
        "x-verwerking": "a@b@c",
    }
    response = await broker.post(PATH, json={}, headers=headers)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "paramsValidation"
    assert [(p["name"], p["code"]) for p in body["invalidParams"]] == [
        ("x-verwerking", "pattern"),
        ("x-origin-oin", "pattern"),
    ]
    assert "a@b@c" not in response.text


async def test_application_token_needs_x_gebruiker(broker: httpx.AsyncClient) -> None:
    app_token = token(broker, employee=None, client="zaaksysteem", subject="zaaksysteem")
    response = await broker.post(PATH, json={}, headers={"Authorization": f"Bearer {app_token}"})
    assert response.status_code == 400
    assert [(p["name"], p["code"]) for p in response.json()["invalidParams"]] == [("x-gebruiker", "required")]
    named = {"Authorization": f"Bearer {app_token}", "x-gebruiker": "jdevries"}
    response = await broker.post(PATH, json={}, headers=named)
    assert response.status_code == 200
    assert response.json()["principal"]["employee"] == "jdevries"
    assert response.json()["principal"]["kind"] == "application"
