"""Identity attacks: each forged, stale or misdirected token gets 401 — and for the right reason.

Every test goes through `JwtAuthenticator` (what the gateway calls) and then reads the reason from
the info log line, so an attack cannot "pass" by failing on something unrelated (a typo that made
the token malformed, say).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from app.brp.problems import ProblemError
from app.identity import JwtAuthenticator
from tests.conftest import LogCapture
from tests.unit.identity.conftest import ValidatorFactory, bearer, request_with
from tests.unit.identity.signing import NOW, TestIssuer, b64url, ec_key


async def refusal(authenticator: JwtAuthenticator, logs: LogCapture, token: str, **headers: str) -> str:
    """Assert a 401 that says nothing of the token; return the logged reason."""
    with pytest.raises(ProblemError) as caught:
        await authenticator.authenticate(bearer(token, **headers))
    error = caught.value
    assert error.status == 401
    assert error.problem.code == "authentication"
    assert error.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert token not in json.dumps(msgspec_to_builtins(error))
    assert token not in logs.text
    refused = [e for e in logs.events if e.get("event") == "bearer_refused"]
    assert refused, "every refusal is logged"
    assert refused[-1]["level"] == "info"
    return str(refused[-1]["reason"])


def msgspec_to_builtins(error: ProblemError) -> dict[str, Any]:
    return {"problem": msgspec.to_builtins(error.problem), "headers": error.headers}


# --- time ------------------------------------------------------------------------------------------


async def test_expired_token(authenticator: JwtAuthenticator, issuer_a: TestIssuer, logs: LogCapture) -> None:
    token = issuer_a.token(exp=NOW - 61)
    assert await refusal(authenticator, logs, token) == "expired"


async def test_expired_token_says_so(authenticator: JwtAuthenticator, issuer_a: TestIssuer) -> None:
    with pytest.raises(ProblemError) as caught:
        await authenticator.authenticate(bearer(issuer_a.token(exp=NOW - 3600)))
    assert caught.value.problem.detail == "Het bearer token is verlopen."


async def test_not_yet_valid_token(
    authenticator: JwtAuthenticator, issuer_a: TestIssuer, logs: LogCapture
) -> None:
    token = issuer_a.token(nbf=NOW + 120)
    assert await refusal(authenticator, logs, token) == "not_yet_valid"


async def test_token_issued_in_the_future(
    authenticator: JwtAuthenticator, issuer_a: TestIssuer, logs: LogCapture
) -> None:
    token = issuer_a.token(iat=NOW + 120, nbf=None)
    assert await refusal(authenticator, logs, token) == "issued_in_future"


async def test_clock_skew_within_leeway_is_tolerated(
    authenticator: JwtAuthenticator, issuer_a: TestIssuer
) -> None:
    late = issuer_a.token(exp=NOW - 59)
    early = issuer_a.token(nbf=NOW + 59, iat=NOW + 59)
    assert (await authenticator.authenticate(bearer(late))).tenant == "gemeente-a"
    assert (await authenticator.authenticate(bearer(early))).tenant == "gemeente-a"


# --- audience and required claims -------------------------------------------------------------------


async def test_wrong_audience(
    authenticator: JwtAuthenticator, issuer_a: TestIssuer, logs: LogCapture
) -> None:
    token = issuer_a.token(aud=["some-other-api", "account"])
    assert await refusal(authenticator, logs, token) == "wrong_audience"


@pytest.mark.parametrize("claim", ["exp", "aud"])
async def test_required_claim_missing(
    authenticator: JwtAuthenticator, issuer_a: TestIssuer, logs: LogCapture, claim: str
) -> None:
    without: dict[str, Any] = {claim: None}
    token = issuer_a.token(**without)
    assert await refusal(authenticator, logs, token) == "missing_claim"


async def test_issuer_without_audiences_accepts_nothing(
    make_validator: ValidatorFactory, issuer_a: TestIssuer, logs: LogCapture
) -> None:
    authenticator = JwtAuthenticator(make_validator([issuer_a.config(audiences=())]))
    assert await refusal(authenticator, logs, issuer_a.token()) == "no_audience_configured"


# --- issuer and tenant ------------------------------------------------------------------------------


async def test_unknown_issuer(authenticator: JwtAuthenticator, logs: LogCapture) -> None:
    stranger = TestIssuer("https://idp.elsewhere.example", key=ec_key("x-1"))
    assert await refusal(authenticator, logs, stranger.token()) == "unknown_issuer"


async def test_token_of_one_tenants_issuer_claiming_another_tenant(
    make_validator: ValidatorFactory, shared: TestIssuer, logs: LogCapture
) -> None:
    # Tenant A's issuer is trusted for A only (its tokens must say tenant=A); a token of it that
    # claims tenant B is refused, even though B is a tenant the broker knows.
    configs = [
        shared.config("gemeente-a", tenant_claim="tenant"),
        shared.config("gemeente-b", issuer="https://idp.gemeente-b.example", tenant_claim="tenant"),
    ]
    authenticator = JwtAuthenticator(make_validator(configs))
    assert await refusal(authenticator, logs, shared.token(tenant="gemeente-b")) == "tenant_mismatch"
    assert await refusal(authenticator, logs, shared.token()) == "tenant_mismatch"  # no claim at all


async def test_shared_issuer_refuses_a_tenant_it_does_not_serve(
    make_validator: ValidatorFactory, shared: TestIssuer, logs: LogCapture
) -> None:
    configs = [shared.config(t, tenant_claim="tenant") for t in ("gemeente-a", "gemeente-b")]
    authenticator = JwtAuthenticator(make_validator(configs))
    assert await refusal(authenticator, logs, shared.token(tenant="gemeente-c")) == "tenant_mismatch"
    assert await refusal(authenticator, logs, shared.token(tenant=["gemeente-a"])) == "tenant_mismatch"


async def test_two_configs_accepting_one_token_refuse_it(
    make_validator: ValidatorFactory, shared: TestIssuer, logs: LogCapture
) -> None:
    authenticator = JwtAuthenticator(
        make_validator([shared.config("gemeente-a"), shared.config("gemeente-b")])
    )
    assert await refusal(authenticator, logs, shared.token()) == "ambiguous_tenant"


# --- algorithms and signatures ----------------------------------------------------------------------


async def test_alg_none(authenticator: JwtAuthenticator, issuer_a: TestIssuer, logs: LogCapture) -> None:
    assert await refusal(authenticator, logs, issuer_a.alg_none_token()) == "algorithm_not_allowed"


@pytest.mark.parametrize("secret", ["pem", "jwk"])
async def test_hs256_signed_with_the_issuers_public_key(
    make_validator: ValidatorFactory, issuer_a: TestIssuer, logs: LogCapture, secret: str
) -> None:
    # Even an issuer configured (wrongly) to allow HS256 never gets an HMAC check.
    config = issuer_a.config(algorithms=("ES256", "HS256"))
    authenticator = JwtAuthenticator(make_validator([config]))
    key = issuer_a.public_pem() if secret == "pem" else issuer_a.public_jwk_bytes()
    token = issuer_a.hs256_with_public_key(key)
    assert await refusal(authenticator, logs, token) == "algorithm_not_allowed"


async def test_algorithm_not_allowed_for_this_issuer(
    make_validator: ValidatorFactory, issuer_a: TestIssuer, issuer_a_rsa: TestIssuer, logs: LogCapture
) -> None:
    keys = {"keys": [issuer_a.public_jwk(), issuer_a_rsa.public_jwk()]}
    authenticator = JwtAuthenticator(make_validator([issuer_a.config(jwks=keys, algorithms=("ES256",))]))
    assert await refusal(authenticator, logs, issuer_a_rsa.token()) == "algorithm_not_allowed"


async def test_unknown_kid(authenticator: JwtAuthenticator, issuer_a: TestIssuer, logs: LogCapture) -> None:
    token = issuer_a.token(header={"kid": "not-published"})
    assert await refusal(authenticator, logs, token) == "unknown_kid"


async def test_signature_by_a_foreign_key(
    authenticator: JwtAuthenticator, impostor: TestIssuer, logs: LogCapture
) -> None:
    assert await refusal(authenticator, logs, impostor.token()) == "bad_signature"


async def test_payload_changed_after_signing(
    authenticator: JwtAuthenticator, issuer_a: TestIssuer, logs: LogCapture
) -> None:
    head, _, signature = issuer_a.token().split(".")
    forged = b64url(json.dumps(issuer_a.claims(sub="someone-else")).encode())
    assert await refusal(authenticator, logs, f"{head}.{forged}.{signature}") == "bad_signature"


async def test_key_of_another_issuer_with_the_same_kid(
    make_validator: ValidatorFactory, issuer_a: TestIssuer, logs: LogCapture
) -> None:
    # B publishes a key with A's kid; a token "from A" signed with B's key is tried against A's
    # keys only, and a token "from B" against B's only.
    b = TestIssuer("https://idp.gemeente-b.example", ec_key(issuer_a.kid))
    authenticator = JwtAuthenticator(make_validator([issuer_a.config("gemeente-a"), b.config("gemeente-b")]))
    as_a_with_b_key = TestIssuer(issuer_a.issuer, b.key).token()
    as_b_with_a_key = TestIssuer(b.issuer, issuer_a.key).token()
    assert await refusal(authenticator, logs, as_a_with_b_key) == "bad_signature"
    assert await refusal(authenticator, logs, as_b_with_a_key) == "bad_signature"
    assert (await authenticator.authenticate(bearer(issuer_a.token()))).tenant == "gemeente-a"
    assert (await authenticator.authenticate(bearer(b.token()))).tenant == "gemeente-b"


@pytest.mark.parametrize(
    "header",
    [{"crit": ["exp"], "exp": 1}, {"typ": "dpop+jwt"}, {"typ": "logout+jwt"}],
    ids=["crit", "dpop", "logout"],
)
async def test_header_the_broker_does_not_understand(
    authenticator: JwtAuthenticator, issuer_a: TestIssuer, logs: LogCapture, header: dict[str, Any]
) -> None:
    signing_input, _ = issuer_a.unsigned({"alg": "ES256", "kid": issuer_a.kid, **header})
    token = f"{signing_input}.{b64url(b'x' * 64)}"
    assert await refusal(authenticator, logs, token) == "unsupported_header"


# --- the bearer header itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["abc", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln", f"{b64url(b'[1]')}.{b64url(b'{}')}.c2ln"],
    ids=["one-part", "not-base64-json", "payload-not-json", "header-not-object"],
)
async def test_malformed_token(authenticator: JwtAuthenticator, logs: LogCapture, token: str) -> None:
    with pytest.raises(ProblemError) as caught:
        await authenticator.authenticate(bearer(token))
    assert caught.value.status == 401
    assert token not in (caught.value.problem.detail or "")
    events = [e for e in logs.events if e.get("event") == "bearer_refused"]
    assert events[-1]["reason"] in {"malformed", "malformed_authorization"}


async def test_missing_bearer(authenticator: JwtAuthenticator) -> None:
    with pytest.raises(ProblemError) as caught:
        await authenticator.authenticate(request_with({}))
    assert caught.value.status == 401
    assert caught.value.headers["WWW-Authenticate"] == "Bearer"
    assert caught.value.problem.detail == "Er is geen bearer token meegestuurd."


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwdw==", "Bearer", "Bearer ", "Token abc.def.ghi", "Bearer a.b.c extra"],
)
async def test_authorization_that_is_no_bearer_jwt(
    authenticator: JwtAuthenticator, authorization: str
) -> None:
    with pytest.raises(ProblemError) as caught:
        await authenticator.authenticate(request_with({"authorization": authorization}))
    assert caught.value.status == 401
    assert "dXNlcjpwdw" not in (caught.value.problem.detail or "")


async def test_two_authorization_headers(authenticator: JwtAuthenticator, issuer_a: TestIssuer) -> None:
    token = issuer_a.token()
    request = request_with([("authorization", f"Bearer {token}"), ("authorization", f"Bearer {token}")])
    with pytest.raises(ProblemError) as caught:
        await authenticator.authenticate(request)
    assert caught.value.status == 401


async def test_refusal_log_names_issuer_and_kid_but_no_claim(
    authenticator: JwtAuthenticator, issuer_a: TestIssuer, logs: LogCapture
) -> None:
    token = issuer_a.token(exp=NOW - 3600, sub="very-personal-subject", employee_id="E-4711")
    await refusal(authenticator, logs, token)
    event = [e for e in logs.events if e.get("event") == "bearer_refused"][-1]
    assert event["issuer"] == issuer_a.issuer
    assert event["tenant"] == "gemeente-a"
    assert event["kid"] == issuer_a.kid
    assert "very-personal-subject" not in logs.text
    assert "E-4711" not in logs.text
