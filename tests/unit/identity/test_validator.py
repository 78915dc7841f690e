"""Valid tokens: which tenant, subject, employee and roles they prove, and how issuers are chosen."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from joserfc import jwt

from app.identity import (
    ClaimMapping,
    IssuerConfig,
    JwksCache,
    KeyLookupError,
    Principal,
    StaticIssuerDirectory,
    TokenRefused,
    TokenValidator,
)
from tests.unit.identity.conftest import ValidatorFactory
from tests.unit.identity.signing import NOW, TestIssuer, ec_key


async def test_employee_token_gives_a_user_principal(validator: TokenValidator, issuer_a: TestIssuer) -> None:
    token = issuer_a.token(roles=["medewerker", "burgerzaken"], azp="zaaksysteem", organisation="0518")
    principal = await validator.validate(token)
    assert principal == Principal(
        tenant="gemeente-a",
        subject="user-1",
        employee="E1",
        client="zaaksysteem",
        roles=("medewerker", "burgerzaken"),
        organisation="0518",
        kind="user",
    )


async def test_token_without_employee_is_an_application_token(
    validator: TokenValidator, issuer_a: TestIssuer
) -> None:
    principal = await validator.validate(
        issuer_a.token(sub="svc-zaaksysteem", employee_id=None, azp="zaaksysteem")
    )
    assert principal.kind == "application"
    assert principal.employee is None
    assert principal.client == "zaaksysteem"


async def test_tenant_comes_from_configuration_never_from_the_token(
    validator: TokenValidator, issuer_a: TestIssuer
) -> None:
    # Issuer A serves one tenant (no tenant_claim); a `tenant` claim in its token changes nothing.
    principal = await validator.validate(issuer_a.token(tenant="gemeente-b"))
    assert principal.tenant == "gemeente-a"


async def test_shared_issuer_selects_the_tenant_by_claim(
    make_validator: ValidatorFactory, shared: TestIssuer
) -> None:
    configs = [
        shared.config("gemeente-a", tenant_claim="tenant"),
        shared.config("svw-west", tenant_claim="tenant", tenant_claim_value="west"),
    ]
    validator = make_validator(configs)
    assert (await validator.validate(shared.token(tenant="gemeente-a"))).tenant == "gemeente-a"
    assert (await validator.validate(shared.token(tenant="west"))).tenant == "svw-west"
    with pytest.raises(TokenRefused) as refused:
        await validator.validate(shared.token(tenant="svw-west"))  # the slug is not the claim value here
    assert refused.value.reason == "tenant_mismatch"


async def test_rsa_and_ec_keys_of_one_issuer(
    make_validator: ValidatorFactory, issuer_a: TestIssuer, issuer_a_rsa: TestIssuer
) -> None:
    keys = {"keys": [issuer_a.public_jwk(), issuer_a_rsa.public_jwk()]}
    validator = make_validator([issuer_a.config(jwks=keys)])
    assert (await validator.validate(issuer_a.token())).subject == "user-1"
    assert (await validator.validate(issuer_a_rsa.token())).subject == "user-1"


async def test_token_without_kid_is_tried_against_the_issuers_keys(
    make_validator: ValidatorFactory, issuer_a: TestIssuer
) -> None:
    other = ec_key("a-2")
    keys = {"keys": [{**other.as_dict(private=False), "use": "sig"}, issuer_a.public_jwk()]}
    validator = make_validator([issuer_a.config(jwks=keys)])
    token = jwt.encode({"alg": "ES256"}, issuer_a.claims(), issuer_a.key, algorithms=["ES256"])
    assert (await validator.validate(token)).tenant == "gemeente-a"


async def test_audience_list_needs_one_accepted_value(
    validator: TokenValidator, issuer_a: TestIssuer
) -> None:
    principal = await validator.validate(issuer_a.token(aud=["account", "brp-broker"]))
    assert principal.subject == "user-1"


@pytest.mark.parametrize(
    ("mapping", "claims", "expected"),
    [
        (ClaimMapping(roles="realm_access.roles"), {"realm_access": {"roles": ["a", "b"]}}, ("a", "b")),
        (ClaimMapping(roles="https://example.org/roles"), {"https://example.org/roles": ["x"]}, ("x",)),
        (ClaimMapping(roles="scope"), {"scope": "brp.read  brp.search brp.read"}, ("brp.read", "brp.search")),
        (ClaimMapping(), {"roles": ["ok", 3, None, ""]}, ("ok",)),
        (ClaimMapping(), {"roles": {"not": "a list"}}, ()),
    ],
    ids=["nested", "dotted-name", "scope-string", "junk-items", "object"],
)
async def test_roles_from_the_claim_mapping(
    make_validator: ValidatorFactory,
    issuer_a: TestIssuer,
    mapping: ClaimMapping,
    claims: dict[str, Any],
    expected: tuple[str, ...],
) -> None:
    validator = make_validator([issuer_a.config(claims=mapping)])
    assert (await validator.validate(issuer_a.token(**claims))).roles == expected


async def test_numeric_employee_number_is_text(validator: TokenValidator, issuer_a: TestIssuer) -> None:
    assert (await validator.validate(issuer_a.token(employee_id=4711))).employee == "4711"


@pytest.mark.parametrize("subject", [None, "", "  ", 12.5, True])
async def test_subject_is_required(validator: TokenValidator, issuer_a: TestIssuer, subject: object) -> None:
    with pytest.raises(TokenRefused) as refused:
        await validator.validate(issuer_a.token(sub=subject))
    assert refused.value.reason in {"missing_subject", "invalid_claim"}


async def test_oversized_token_is_refused_unread(validator: TokenValidator, issuer_a: TestIssuer) -> None:
    with pytest.raises(TokenRefused) as refused:
        await validator.validate(issuer_a.token(padding="x" * 20_000))
    assert refused.value.reason == "malformed"


# --- key sets ---------------------------------------------------------------------------------------


async def test_only_public_asymmetric_signing_keys_are_used(issuer_a: TestIssuer) -> None:
    private = issuer_a.key.as_dict(private=True)
    keys = [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "a-1"},
        {**issuer_a.public_jwk(), "use": "enc"},
        {**private, "use": "sig"},
        {"kty": "EC", "kid": "a-1", "crv": "P-256", "x": "broken", "y": "broken"},
    ]
    config = issuer_a.config(jwks={"keys": keys})
    async with httpx.AsyncClient() as client:
        cache = JwksCache(client)
        with pytest.raises(KeyLookupError) as missing:
            await cache.keys_for(config, "a-1", "ES256")
    assert missing.value.reason == "unknown_kid"


async def test_changed_inline_key_set_is_never_answered_from_the_old_one(
    http_client: httpx.AsyncClient, issuer_a: TestIssuer
) -> None:
    rotated = TestIssuer(issuer_a.issuer, ec_key("a-1"))
    cache = JwksCache(http_client)
    old = TokenValidator(StaticIssuerDirectory([issuer_a.config()]), cache, clock=lambda: NOW)
    new = TokenValidator(StaticIssuerDirectory([rotated.config()]), cache, clock=lambda: NOW)
    assert (await old.validate(issuer_a.token())).tenant == "gemeente-a"
    with pytest.raises(TokenRefused) as refused:
        await new.validate(issuer_a.token())
    assert refused.value.reason == "bad_signature"
    assert (await new.validate(rotated.token())).tenant == "gemeente-a"


async def test_plain_http_jwks_uri_is_refused_off_loopback(issuer_a: TestIssuer) -> None:
    config = issuer_a.config(jwks=None, jwks_uri="http://idp.example.org/jwks.json")
    async with httpx.AsyncClient() as client:
        with pytest.raises(KeyLookupError) as missing:
            await JwksCache(client).keys_for(config, "a-1", "ES256")
    assert missing.value.reason == "jwks_unavailable"


async def test_issuer_without_any_key_source(issuer_a: TestIssuer) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(KeyLookupError) as missing:
            await JwksCache(client).keys_for(issuer_a.config(jwks=None), "a-1", "ES256")
    assert missing.value.reason == "no_jwks_configured"


class _MovableDirectory:
    """An issuer directory whose trusted configurations the test changes, like a tenancy reload."""

    def __init__(self, configs: list[IssuerConfig]) -> None:
        self.configs = configs

    def issuers_for(self, issuer: str) -> list[IssuerConfig]:
        return [c for c in self.configs if c.issuer == issuer]


async def test_a_verified_token_is_remembered_only_while_its_issuer_is_trusted_and_it_lives(
    http_client: httpx.AsyncClient, issuer_a: TestIssuer
) -> None:
    now = [float(NOW)]
    directory = _MovableDirectory([issuer_a.config("gemeente-a")])
    validator = TokenValidator(directory, JwksCache(http_client), clock=lambda: now[0])
    token = issuer_a.token()
    first = await validator.validate(token)
    assert await validator.validate(token) == first  # remembered
    # The tenant is suspended (its issuer no longer trusted): the remembered token ends at once.
    directory.configs = []
    with pytest.raises(TokenRefused):
        await validator.validate(token)
    directory.configs = [issuer_a.config("gemeente-a")]
    assert await validator.validate(token) == first
    now[0] = NOW + 24 * 3600  # long past its exp
    with pytest.raises(TokenRefused, match="expired"):
        await validator.validate(token)
