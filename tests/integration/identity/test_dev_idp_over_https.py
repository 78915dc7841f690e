"""The dev IdP in the running sandbox: its JWKS over HTTPS (dev CA, mTLS) verifies the tokens it issues."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx
import pytest

from app.identity import (
    ClaimMapping,
    IssuerConfig,
    JwksCache,
    StaticIssuerDirectory,
    TokenRefused,
    TokenValidator,
)
from app.sandbox.idp import DEV_IDP_AUDIENCE, DEV_IDP_ISSUER, dev_idp_jwks, issue_dev_token
from app.sandbox.server import SandboxThread


@pytest.fixture
async def sandbox_idp_client(sandbox: SandboxThread) -> AsyncIterator[httpx.AsyncClient]:
    """A client that trusts the dev CA and presents a dev client certificate (the sandbox demands one)."""
    context = next(iter(sandbox.pki.clients.values())).ssl_context(sandbox.pki.ca_cert)
    async with httpx.AsyncClient(verify=context, timeout=10) as client:
        yield client


def fetched_config(sandbox: SandboxThread, tenant: str) -> IssuerConfig:
    return IssuerConfig(
        tenant=tenant,
        issuer=DEV_IDP_ISSUER,
        audiences=(DEV_IDP_AUDIENCE,),
        jwks_uri=f"{sandbox.base_url}/dev-idp/jwks.json",
        algorithms=("ES256",),
        claims=ClaimMapping(organisation="organisation"),
        tenant_claim="tenant",
    )


async def test_jwks_is_served_by_the_sandbox(
    sandbox: SandboxThread, sandbox_idp_client: httpx.AsyncClient
) -> None:
    response = await sandbox_idp_client.get(f"{sandbox.base_url}/dev-idp/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    assert response.json() == dev_idp_jwks(sandbox.config.state_path)


async def test_discovery_document_points_at_the_jwks(
    sandbox: SandboxThread, sandbox_idp_client: httpx.AsyncClient
) -> None:
    response = await sandbox_idp_client.get(f"{sandbox.base_url}/dev-idp/.well-known/openid-configuration")
    assert response.status_code == 200
    document = response.json()
    assert document["issuer"] == DEV_IDP_ISSUER
    assert document["jwks_uri"] == f"{sandbox.base_url}/dev-idp/jwks.json"


async def test_tokens_validate_against_the_fetched_jwks(
    sandbox: SandboxThread, sandbox_idp_client: httpx.AsyncClient
) -> None:
    configs = [fetched_config(sandbox, t) for t in ("gemeente-saas", "svw-delegatie")]
    validator = TokenValidator(StaticIssuerDirectory(configs), JwksCache(sandbox_idp_client))
    state = sandbox.config.state_path
    employee = issue_dev_token(
        state, tenant="svw-delegatie", subject="m1", employee="E1", roles=["burgerzaken"]
    )
    application = issue_dev_token(state, tenant="gemeente-saas", subject="zaaksysteem", client="zaaksysteem")
    user = await validator.validate(employee)
    assert (user.tenant, user.employee, user.roles, user.kind) == (
        "svw-delegatie",
        "E1",
        ("burgerzaken",),
        "user",
    )
    app = await validator.validate(application)
    assert (app.tenant, app.kind, app.client) == ("gemeente-saas", "application", "zaaksysteem")


async def test_jwks_from_a_server_outside_the_trust_is_not_used(sandbox: SandboxThread) -> None:
    # A client that does not trust the dev CA cannot get the keys: no keys, no principal.
    async with httpx.AsyncClient(verify=ssl.create_default_context(), timeout=10) as untrusting:
        validator = TokenValidator(
            StaticIssuerDirectory([fetched_config(sandbox, "gemeente-saas")]), JwksCache(untrusting)
        )
        token = issue_dev_token(sandbox.config.state_path, tenant="gemeente-saas", subject="u", employee="E1")
        with pytest.raises(TokenRefused) as refused:
            await validator.validate(token)
    assert refused.value.reason == "jwks_unavailable"
