"""mTLS and RvIG's token endpoint: who may connect, who gets a token, which tokens the APIs accept."""

from __future__ import annotations

import base64
import os
import stat
import time
import urllib.parse

import httpx
import msgspec
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from app.sandbox.pki import ensure_dev_pki, oin_of_certificate
from app.sandbox.server import SandboxThread
from app.sandbox.tokens import load_signing_key
from tests.integration.sandbox.client import BROKER_OIN, OTHER_OIN, PERSONEN, TOKEN, SandboxClient

RAADPLEEG = {
    "type": "RaadpleegMetBurgerservicenummer",
    "burgerservicenummer": ["100000001"],
    "fields": ["naam"],
}
# What a TLS peer sees when the server refuses its certificate: with TLS 1.3 the refusal arrives
# after the client's handshake, on the first read.
_REFUSED = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)


# --- the dev PKI ---------------------------------------------------------------------------------


def test_dev_pki_is_reused_and_keys_are_private(sandbox: SandboxThread) -> None:
    pki = sandbox.pki
    again = ensure_dev_pki(sandbox.config.state_path, sandbox.config.oins)
    assert again == pki
    assert again.ca_cert.read_bytes() == pki.ca_cert.read_bytes()
    for key in [pki.server_key, pki.token_signing_key, *(c.key for c in pki.clients.values())]:
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600


def test_client_certificates_carry_the_oin_in_serial_number(sandbox: SandboxThread) -> None:
    assert set(sandbox.pki.clients) == {BROKER_OIN, OTHER_OIN}
    for oin, identity in sandbox.pki.clients.items():
        assert oin_of_certificate(identity.cert.read_bytes()) == oin


# --- mTLS ----------------------------------------------------------------------------------------


def test_connection_without_client_certificate_is_refused(brp: SandboxClient) -> None:
    with brp.client(with_cert=False) as http, pytest.raises(_REFUSED):
        http.post(TOKEN, data=brp.credentials("000001"))


def test_certificate_of_a_foreign_ca_is_refused(brp: SandboxClient) -> None:
    with brp.client(foreign=True) as http, pytest.raises(_REFUSED):
        http.post(TOKEN, data=brp.credentials("000001"))


# --- the token endpoint --------------------------------------------------------------------------


def test_token_carries_rvig_claims(brp: SandboxClient) -> None:
    response = brp.request_token(brp.credentials("000001"))

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == brp.sandbox.config.token_lifetime_seconds
    assert body["scope"] == f"000001-{BROKER_OIN}"
    claims = jwt.decode(body["access_token"], load_signing_key(brp.sandbox.pki.token_signing_key)).claims
    assert claims["claims"] == [f"OIN={BROKER_OIN}", "afnemerID=000001", "gemeenteCode=0599"]
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert claims["jti"]


def test_non_gemeente_token_has_no_gemeente_code(brp: SandboxClient) -> None:
    token = brp.fresh_token("000002")
    claims = jwt.decode(token, load_signing_key(brp.sandbox.pki.token_signing_key)).claims
    assert claims["claims"] == [f"OIN={BROKER_OIN}", "afnemerID=000002"]


def test_client_credentials_in_basic_auth_are_accepted(brp: SandboxClient) -> None:
    form = brp.credentials("000001")
    user = urllib.parse.quote_plus(form.pop("client_id"))
    password = urllib.parse.quote_plus(form.pop("client_secret"))
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()

    response = brp.request_token(form, headers={"Authorization": f"Basic {basic}"})

    assert response.status_code == 200, response.text


def test_scope_oin_other_than_certificate_oin_is_refused(brp: SandboxClient) -> None:
    form = brp.credentials("000001") | {"scope": f"000001-{OTHER_OIN}"}

    response = brp.request_token(form)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_certificate_not_registered_for_the_credentials_is_refused(brp: SandboxClient) -> None:
    form = brp.credentials("000001") | {"scope": f"000001-{OTHER_OIN}"}
    with brp.client(OTHER_OIN) as http:
        response = brp.request_token(form, http=http)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "nobody"}, 401, "invalid_client"),
        ({"client_secret": ""}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"resourceServer": "ResourceServer02"}, 400, "invalid_request"),
        ({"scope": ""}, 400, "invalid_scope"),
        ({"scope": "000001"}, 400, "invalid_scope"),
        ({"scope": f"000002-{BROKER_OIN}"}, 400, "invalid_scope"),
    ],
    ids=[
        "wrong-secret",
        "unknown-client",
        "empty-secret",
        "password-grant",
        "no-grant-type",
        "other-resource-server",
        "no-scope",
        "scope-without-oin",
        "scope-of-other-afnemer",
    ],
)
def test_token_request_errors_are_oauth2_json(
    brp: SandboxClient, change: dict[str, str], status: int, error: str
) -> None:
    response = brp.request_token(brp.credentials("000001") | change)

    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    assert "dev-only-secret" not in response.text


def test_token_request_must_be_a_form(brp: SandboxClient) -> None:
    response = brp.http.post(TOKEN, json=brp.credentials("000001"))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# --- bearer tokens at the APIs -------------------------------------------------------------------


def _signed(key: ECKey, sandbox: SandboxThread, **changes: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": sandbox.config.issuer,
        "aud": "ResourceServer01",
        "iat": now - 120,
        "exp": now + 60,
        "claims": [f"OIN={BROKER_OIN}", "afnemerID=000001", "gemeenteCode=0599"],
    }
    claims.update(changes)
    return jwt.encode({"alg": "ES256"}, claims, key)


def _assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "authentication"
    assert problem["title"] == "Niet correct geauthenticeerd."
    assert problem["instance"] == PERSONEN


def test_valid_token_is_accepted(brp: SandboxClient) -> None:
    key = load_signing_key(brp.sandbox.pki.token_signing_key)
    response = brp.post(PERSONEN, RAADPLEEG, token=_signed(key, brp.sandbox))
    assert response.status_code == 200, response.text


def test_expired_token_is_refused(brp: SandboxClient) -> None:
    key = load_signing_key(brp.sandbox.pki.token_signing_key)
    expired = _signed(key, brp.sandbox, exp=int(time.time()) - 1)
    _assert_unauthenticated(brp.post(PERSONEN, RAADPLEEG, token=expired))


def test_token_signed_by_a_foreign_key_is_refused(brp: SandboxClient) -> None:
    foreign = _signed(ECKey.generate_key("P-256"), brp.sandbox)
    _assert_unauthenticated(brp.post(PERSONEN, RAADPLEEG, token=foreign))


def test_token_of_another_issuer_is_refused(brp: SandboxClient) -> None:
    key = load_signing_key(brp.sandbox.pki.token_signing_key)
    _assert_unauthenticated(
        brp.post(PERSONEN, RAADPLEEG, token=_signed(key, brp.sandbox, iss="https://elders"))
    )


def test_token_for_an_unknown_afnemer_is_refused(brp: SandboxClient) -> None:
    key = load_signing_key(brp.sandbox.pki.token_signing_key)
    token = _signed(key, brp.sandbox, claims=[f"OIN={BROKER_OIN}", "afnemerID=999999"])
    _assert_unauthenticated(brp.post(PERSONEN, RAADPLEEG, token=token))


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "bearer  x.y.z", "Bearer not-a-jwt", "Basic Zm9vOmJhcg==", "Bearer a b"],
    ids=["empty", "scheme-only", "two-spaces", "garbage", "basic", "two-tokens"],
)
def test_missing_or_malformed_bearer_is_refused(brp: SandboxClient, authorization: str) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    _assert_unauthenticated(brp.http.post(PERSONEN, json=RAADPLEEG, headers=headers))


def test_authentication_is_checked_before_method_and_path(brp: SandboxClient) -> None:
    # RvIG's order: 401 before 405 and 404.
    assert brp.http.get(PERSONEN).status_code == 401
    assert brp.http.post("/haalcentraal/api/brp/onbekend", json={}).status_code == 401
    token = {"Authorization": f"Bearer {brp.token()}"}
    assert brp.http.get(PERSONEN, headers=token).status_code == 405
    assert brp.http.post("/haalcentraal/api/brp/onbekend", json={}, headers=token).status_code == 404


def test_sandbox_that_cannot_listen_fails_to_start(sandbox: SandboxThread) -> None:
    taken = msgspec.structs.replace(sandbox.config, port=sandbox.port)
    with pytest.raises(RuntimeError, match="did not start"):
        SandboxThread(taken, dataset=None).start(timeout=30)
