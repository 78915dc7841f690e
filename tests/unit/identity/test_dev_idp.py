"""The sandbox's dev identity provider: its tokens validate against its own JWKS (inline here)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import httpx
import pytest
from joserfc import jwt

from app.identity import (
    ClaimMapping,
    IssuerConfig,
    JwksCache,
    Principal,
    StaticIssuerDirectory,
    TokenRefused,
    TokenValidator,
)
from app.sandbox.idp import (
    DEV_IDP_AUDIENCE,
    DEV_IDP_ISSUER,
    DEV_IDP_TENANT_CLAIM,
    DevIdpKeyMissing,
    dev_idp_jwks,
    dev_idp_key_path,
    ensure_dev_idp_key,
    issue_dev_token,
)

DEMO_TENANTS = ("gemeente-saas", "svw-delegatie", "svw-personeel")


def dev_configs(state_dir: Path) -> list[IssuerConfig]:
    """How the dev stack trusts the dev IdP: one issuer, one config per demo tenant, inline keys."""
    return [
        IssuerConfig(
            tenant=tenant,
            issuer=DEV_IDP_ISSUER,
            audiences=(DEV_IDP_AUDIENCE,),
            jwks=dev_idp_jwks(state_dir),
            algorithms=("ES256",),
            claims=ClaimMapping(organisation="organisation"),
            tenant_claim=DEV_IDP_TENANT_CLAIM,
        )
        for tenant in DEMO_TENANTS
    ]


@pytest.fixture
def dev_validator(tmp_path: Path, http_client: httpx.AsyncClient) -> TokenValidator:
    return TokenValidator(StaticIssuerDirectory(dev_configs(tmp_path)), JwksCache(http_client))


async def test_employee_token_validates_against_the_inline_jwks(
    tmp_path: Path, dev_validator: TokenValidator
) -> None:
    token = issue_dev_token(
        tmp_path,
        tenant="svw-personeel",
        subject="medewerker-7",
        employee="E7",
        roles=("burgerzaken",),
        organisation="0518",
    )
    assert await dev_validator.validate(token) == Principal(
        tenant="svw-personeel",
        subject="medewerker-7",
        employee="E7",
        roles=("burgerzaken",),
        organisation="0518",
        kind="user",
    )


async def test_application_token_validates(tmp_path: Path, dev_validator: TokenValidator) -> None:
    token = issue_dev_token(tmp_path, tenant="gemeente-saas", subject="zaaksysteem", client="zaaksysteem")
    principal = await dev_validator.validate(token)
    assert (principal.tenant, principal.kind, principal.client) == (
        "gemeente-saas",
        "application",
        "zaaksysteem",
    )


async def test_each_demo_tenant_is_told_apart_by_its_claim(
    tmp_path: Path, dev_validator: TokenValidator
) -> None:
    for tenant in DEMO_TENANTS:
        token = issue_dev_token(tmp_path, tenant=tenant, subject="u", employee="E1")
        assert (await dev_validator.validate(token)).tenant == tenant


async def test_unknown_tenant_is_refused(tmp_path: Path, dev_validator: TokenValidator) -> None:
    with pytest.raises(TokenRefused) as refused:
        await dev_validator.validate(
            issue_dev_token(tmp_path, tenant="elsewhere", subject="u", employee="E1")
        )
    assert refused.value.reason == "tenant_mismatch"


async def test_extra_claims_replace_standard_ones(tmp_path: Path, dev_validator: TokenValidator) -> None:
    token = issue_dev_token(tmp_path, tenant="gemeente-saas", subject="u", employee="E1", lifetime=-3600)
    with pytest.raises(TokenRefused) as expired:
        await dev_validator.validate(token)
    assert expired.value.reason == "expired"
    token = issue_dev_token(tmp_path, tenant="gemeente-saas", subject="u", extra_claims={"aud": "other"})
    with pytest.raises(TokenRefused) as wrong:
        await dev_validator.validate(token)
    assert wrong.value.reason == "wrong_audience"


def test_token_carries_the_promised_claims(tmp_path: Path) -> None:
    ensure_dev_idp_key(tmp_path)  # as the sandbox does when it serves the IdP
    now = int(time.time())
    token = issue_dev_token(
        tmp_path, tenant="gemeente-saas", subject="u", employee="E1", roles=["r"], now=now
    )
    decoded = jwt.decode(token, ensure_dev_idp_key(tmp_path), algorithms=["ES256"])
    assert decoded.header["kid"] == ensure_dev_idp_key(tmp_path).thumbprint()
    claims = decoded.claims
    assert {
        "iss",
        "aud",
        "sub",
        "exp",
        "iat",
        "nbf",
        "jti",
        "tenant",
        "employee_id",
        "roles",
    } <= claims.keys()
    assert (claims["iss"], claims["aud"], claims["tenant"]) == (DEV_IDP_ISSUER, "brp-broker", "gemeente-saas")
    assert claims["exp"] - claims["iat"] == 3600
    other = issue_dev_token(tmp_path, tenant="gemeente-saas", subject="u", now=now)
    assert jwt.decode(other, ensure_dev_idp_key(tmp_path)).claims["jti"] != claims["jti"]


def test_issuing_never_invents_a_key(tmp_path: Path) -> None:
    with pytest.raises(DevIdpKeyMissing) as missing:
        issue_dev_token(tmp_path, tenant="gemeente-saas", subject="u")
    assert str(dev_idp_key_path(tmp_path).resolve()) in str(missing.value)
    assert not dev_idp_key_path(tmp_path).exists()


def test_signing_key_is_private_and_reused(tmp_path: Path) -> None:
    first = ensure_dev_idp_key(tmp_path)
    path = dev_idp_key_path(tmp_path)
    assert path == tmp_path / "pki" / "dev-idp.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ensure_dev_idp_key(tmp_path).thumbprint() == first.thumbprint()


def test_jwks_holds_only_the_public_key(tmp_path: Path) -> None:
    jwks = dev_idp_jwks(tmp_path)
    (key,) = jwks["keys"]
    assert "d" not in key
    assert (key["kty"], key["crv"], key["use"], key["alg"]) == ("EC", "P-256", "sig", "ES256")
