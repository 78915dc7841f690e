"""The dev IdP's authorization code flow with PKCE, over real HTTP: the login server (plain HTTP,
for the browser) and the token endpoint on the sandbox's HTTPS server (mTLS), as the portal uses them."""

from __future__ import annotations

import re
import secrets
import urllib.parse
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from app.sandbox.idp import (
    DEV_IDP_AUDIENCE,
    DEV_IDP_ISSUER,
    DEV_IDP_OPERATOR_ISSUER,
    dev_idp_jwks,
)
from app.sandbox.login import pkce_s256_challenge
from app.sandbox.server import SandboxThread
from tests.integration.sandbox.client import SandboxClient

CLIENT_ID = "beheerportaal"
# Only echoed back by the IdP, never dialled; its own query must survive the redirect.
REDIRECT_URI = "https://portal.example/beheer/auth/callback/t/amsterdam?next=%2Fbeheer"
TENANT = "/dev-idp"
OPERATOR = "/dev-idp/operator"


@pytest.fixture(scope="module")
def idp(brp: SandboxClient) -> httpx.Client:
    """The portal's side of the HTTPS server (discovery, token endpoint): dev client certificate."""
    return brp.http


@pytest.fixture
def browser(sandbox: SandboxThread) -> Iterator[httpx.Client]:
    """A browser at the login server: plain HTTP, no certificate, redirects not followed."""
    with httpx.Client(base_url=sandbox.login_url, timeout=30, follow_redirects=False) as client:
        yield client


class Login:
    """One login's secrets, as the portal makes them."""

    def __init__(self) -> None:
        self.state = secrets.token_urlsafe(16)
        self.nonce = secrets.token_urlsafe(16)
        self.verifier = secrets.token_urlsafe(48)

    def query(self, **changes: str | None) -> dict[str, str]:
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": pkce_s256_challenge(self.verifier),
            "code_challenge_method": "S256",
            **changes,
        }
        return {name: value for name, value in params.items() if value is not None}


def form_fields(html: str) -> dict[str, str]:
    """The named input and select values of a page (selected option, or the first)."""

    class Fields(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.values: dict[str, str] = {}
            self._select: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = {k: v or "" for k, v in attrs}
            if tag == "input" and "name" in a:
                self.values[a["name"]] = a.get("value", "")
            elif tag == "select":
                self._select = a["name"]
            elif (
                tag == "option"
                and self._select is not None
                and (self._select not in self.values or "selected" in a)
            ):
                self.values[self._select] = a["value"]

        def handle_endtag(self, tag: str) -> None:
            if tag == "select":
                self._select = None

    parser = Fields()
    parser.feed(html)
    return parser.values


def log_in(browser: httpx.Client, path: str, login: Login, **fields: str) -> httpx.Response:
    """GET the form, fill it in as a person would, POST it."""
    page = browser.get(f"{path}/authorize", params=login.query(login_hint="amsterdam"))
    assert page.status_code == 200, page.text
    return browser.post(f"{path}/authorize", data={**form_fields(page.text), **fields})


def code_of(answer: httpx.Response, login: Login) -> str:
    assert answer.status_code == 303, answer.text
    location = urllib.parse.urlsplit(answer.headers["location"])
    query = urllib.parse.parse_qs(location.query)
    assert query["state"] == [login.state]
    (code,) = query["code"]
    return code


def exchange(idp: httpx.Client, path: str, code: str, verifier: str, **changes: str) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "code_verifier": verifier,
        **changes,
    }
    return idp.post(f"{path}/token", data=form)


def claims(sandbox: SandboxThread, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(dev_idp_jwks(sandbox.config.state_path))  # type: ignore[arg-type]
    decoded: dict[str, Any] = jwt.decode(token, keys, algorithms=["ES256"]).claims
    return decoded


@pytest.mark.parametrize(("path", "issuer"), [(TENANT, DEV_IDP_ISSUER), (OPERATOR, DEV_IDP_OPERATOR_ISSUER)])
def test_discovery_names_the_login_server_and_token_endpoint_on_their_real_ports(
    sandbox: SandboxThread, idp: httpx.Client, path: str, issuer: str
) -> None:
    document = idp.get(f"{path}/.well-known/openid-configuration").json()
    assert document["issuer"] == issuer
    assert document["authorization_endpoint"] == f"http://127.0.0.1:{sandbox.login_port}{path}/authorize"
    assert document["token_endpoint"] == f"{sandbox.base_url}{path}/token"
    assert document["jwks_uri"] == f"{sandbox.base_url}/dev-idp/jwks.json"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["response_types_supported"] == ["code"]
    assert document["grant_types_supported"] == ["authorization_code"]
    assert document["token_endpoint_auth_methods_supported"] == ["none"]
    assert sandbox.login_port not in {0, sandbox.port}


def test_the_login_form_is_dutch_html_with_the_request_in_hidden_fields(browser: httpx.Client) -> None:
    login = Login()
    page = browser.get(f"{TENANT}/authorize", params=login.query(login_hint="amsterdam"))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert '<html lang="nl">' in page.text
    assert "Inloggen bij de ontwikkel-identiteitsprovider" in page.text
    assert "<script" not in page.text
    fields = form_fields(page.text)
    assert fields["tenant"] == "amsterdam"  # from login_hint
    assert fields["employee"] == "A1"
    assert fields["role"] == "brp-admin"
    assert fields["state"] == login.state
    assert fields["code_challenge_method"] == "S256"
    assert fields["redirect_uri"] == REDIRECT_URI


def test_employee_logs_in_and_the_portal_gets_tokens_with_the_chosen_claims(
    sandbox: SandboxThread, browser: httpx.Client, idp: httpx.Client
) -> None:
    login = Login()
    answer = log_in(
        browser, TENANT, login, tenant="amsterdam", employee="E1001", role="brp-admin privacy-officer"
    )
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "&code=")
    tokens = exchange(idp, TENANT, code_of(answer, login), login.verifier)
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["cache-control"] == "no-store"
    body = tokens.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 3600, "openid")
    access = claims(sandbox, body["access_token"])
    assert access["iss"] == DEV_IDP_ISSUER
    assert access["aud"] == DEV_IDP_AUDIENCE
    assert access["sub"] == "amsterdam-E1001"
    assert access["tenant"] == "amsterdam"
    assert access["employee_id"] == "E1001"
    assert access["roles"] == ["brp-admin", "privacy-officer"]
    assert access["azp"] == CLIENT_ID
    identity = claims(sandbox, body["id_token"])
    assert (identity["iss"], identity["aud"], identity["sub"]) == (
        DEV_IDP_ISSUER,
        CLIENT_ID,
        "amsterdam-E1001",
    )
    assert identity["nonce"] == login.nonce


def test_employee_without_admin_role_gets_no_roles(
    sandbox: SandboxThread, browser: httpx.Client, idp: httpx.Client
) -> None:
    login = Login()
    answer = log_in(browser, TENANT, login, role="")
    body = exchange(idp, TENANT, code_of(answer, login), login.verifier).json()
    access = claims(sandbox, body["access_token"])
    assert access["sub"] == "amsterdam-A1"
    assert "roles" not in access


def test_operator_logs_in_at_the_operator_issuer(
    sandbox: SandboxThread, browser: httpx.Client, idp: httpx.Client
) -> None:
    login = Login()
    answer = log_in(browser, OPERATOR, login)  # the default user
    tokens = exchange(idp, OPERATOR, code_of(answer, login), login.verifier)
    assert tokens.status_code == 200, tokens.text
    access = claims(sandbox, tokens.json()["access_token"])
    assert access["iss"] == DEV_IDP_OPERATOR_ISSUER
    assert access["aud"] == DEV_IDP_AUDIENCE
    assert access["sub"] == "operator-1"
    assert access["roles"] == ["operator"]
    assert "tenant" not in access
    assert "employee_id" not in access


def test_operator_form_has_no_tenant_and_no_role_choice(browser: httpx.Client) -> None:
    page = browser.get(f"{OPERATOR}/authorize", params=Login().query())
    assert page.status_code == 200
    fields = form_fields(page.text)
    assert fields["subject"] == "operator-1"
    assert not {"tenant", "employee", "role"} & set(fields)


def test_wrong_verifier_is_invalid_grant_and_uses_the_code_up(
    browser: httpx.Client, idp: httpx.Client
) -> None:
    login = Login()
    code = code_of(log_in(browser, TENANT, login), login)
    wrong = exchange(idp, TENANT, code, secrets.token_urlsafe(48))
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert exchange(idp, TENANT, code, login.verifier).json()["error"] == "invalid_grant"


def test_a_code_is_redeemed_once(browser: httpx.Client, idp: httpx.Client) -> None:
    login = Login()
    code = code_of(log_in(browser, TENANT, login), login)
    assert exchange(idp, TENANT, code, login.verifier).status_code == 200
    again = exchange(idp, TENANT, code, login.verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "changes",
    [
        {"redirect_uri": "https://portal.example/elders"},
        {"client_id": "een-andere-client"},
    ],
)
def test_code_for_another_redirect_uri_or_client_is_invalid_grant(
    browser: httpx.Client, idp: httpx.Client, changes: dict[str, str]
) -> None:
    login = Login()
    code = code_of(log_in(browser, TENANT, login), login)
    answer = exchange(idp, TENANT, code, login.verifier, **changes)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_a_tenant_code_is_no_good_at_the_operator_token_endpoint(
    browser: httpx.Client, idp: httpx.Client
) -> None:
    login = Login()
    code = code_of(log_in(browser, TENANT, login), login)
    answer = exchange(idp, OPERATOR, code, login.verifier)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"code_verifier": ""}, "invalid_request"),
        ({}, "invalid_grant"),  # the code "unknown" was never issued
    ],
)
def test_token_request_errors_follow_rfc_6749(idp: httpx.Client, changes: dict[str, str], error: str) -> None:
    answer = exchange(idp, TENANT, "unknown", secrets.token_urlsafe(48), **changes)
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == error
    assert body["error_description"]


@pytest.mark.parametrize(
    "changes",
    [
        {"code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"code_challenge": None},
        {"response_type": "token"},
        {"redirect_uri": "javascript:alert(1)"},
    ],
)
def test_a_bad_authorization_request_gets_a_400_page_and_no_redirect(
    browser: httpx.Client, changes: dict[str, str | None]
) -> None:
    query = Login().query(**changes)
    page = browser.get(f"{TENANT}/authorize", params=query)
    assert page.status_code == 400
    assert "location" not in page.headers
    assert "Ongeldig inlogverzoek" in page.text
    posted = browser.post(
        f"{TENANT}/authorize", data={**query, "tenant": "amsterdam", "employee": "A1", "role": ""}
    )
    assert posted.status_code == 400
    assert "location" not in posted.headers


def test_a_form_without_a_tenant_is_shown_again_with_the_error(browser: httpx.Client) -> None:
    login = Login()
    page = browser.get(f"{TENANT}/authorize", params=login.query())
    answer = browser.post(f"{TENANT}/authorize", data={**form_fields(page.text), "tenant": ""})
    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert re.search(r'<input id="tenant"[^>]*aria-invalid="true"', answer.text)
    assert form_fields(answer.text)["state"] == login.state
