"""The dev IdP's authorization code flow without a network: codes, request checks, the pages, the config."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from app.cli import _sandbox_config
from app.sandbox.config import load_config
from app.sandbox.idp import DEV_IDP_OPERATOR, DEV_IDP_TENANTS
from app.sandbox.login import (
    AuthorizationCodes,
    AuthorizationGrant,
    InvalidAuthorizationRequest,
    create_login_app,
    parse_authorization_request,
    pkce_s256_challenge,
    redeem_code,
)
from app.sandbox.tokens import OAuthError
from app.settings import load_settings

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 appendix B
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
# Only echoed back by the IdP, never dialled: the portal's callback address on an example host.
REDIRECT_URI = "https://portal.example/beheer/auth/callback/t/amsterdam"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def grant(**changes: object) -> AuthorizationGrant:
    fields: dict[str, object] = {
        "issuer": DEV_IDP_TENANTS.issuer,
        "client_id": "beheerportaal",
        "redirect_uri": REDIRECT_URI,
        "code_challenge": CHALLENGE,
        "nonce": None,
        "subject": "amsterdam-A1",
        "tenant": "amsterdam",
        "employee": "A1",
        "roles": ("brp-admin",),
        **changes,
    }
    return msgspec.convert(fields, AuthorizationGrant)


def request_params(**changes: str | None) -> dict[str, list[str]]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": "beheerportaal",
        "redirect_uri": REDIRECT_URI,
        "state": "xyz",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        **changes,
    }
    return {name: [value] for name, value in params.items() if value is not None}


def token_form(code: str, **changes: str) -> dict[str, str]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": "beheerportaal",
        "code_verifier": VERIFIER,
    }
    return form | changes


# --- PKCE and codes ---------------------------------------------------------------------------------


def test_s256_challenge_is_rfc_7636s_example() -> None:
    assert pkce_s256_challenge(VERIFIER) == CHALLENGE


def test_a_code_is_redeemed_once() -> None:
    codes = AuthorizationCodes()
    code = codes.issue(grant())
    assert codes.redeem(code) == grant()
    assert codes.redeem(code) is None


def test_a_code_expires_after_its_lifetime() -> None:
    clock = FakeClock()
    codes = AuthorizationCodes(lifetime=60, clock=clock)
    code = codes.issue(grant())
    clock.now += 60
    assert codes.redeem(code) is None


def test_a_code_is_good_until_its_lifetime_ends() -> None:
    clock = FakeClock()
    codes = AuthorizationCodes(lifetime=60, clock=clock)
    code = codes.issue(grant())
    clock.now += 59.9
    assert codes.redeem(code) == grant()


def test_concurrent_redemptions_of_one_code_give_it_to_one() -> None:
    codes = AuthorizationCodes()
    code = codes.issue(grant())
    start = threading.Barrier(8)
    results: list[AuthorizationGrant | None] = []
    lock = threading.Lock()

    def redeem() -> None:
        start.wait()
        outcome = codes.redeem(code)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=redeem) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result is not None for result in results) == 1


def test_stores_of_two_sandboxes_share_nothing() -> None:
    code = AuthorizationCodes().issue(grant())
    assert AuthorizationCodes().redeem(code) is None


# --- the authorization request ---------------------------------------------------------------------


def test_a_complete_request_is_accepted() -> None:
    request = parse_authorization_request(request_params(nonce="n", login_hint="amsterdam", scope="openid"))
    assert (request.client_id, request.state, request.nonce, request.login_hint) == (
        "beheerportaal",
        "xyz",
        "n",
        "amsterdam",
    )


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"code_challenge_method": None}, "S256"),
        ({"code_challenge_method": "plain"}, "S256"),
        ({"code_challenge": None}, "code_challenge"),
        ({"code_challenge": "te-kort"}, "code_challenge"),
        ({"response_type": "token"}, "response_type"),
        ({"state": None}, "state"),
        ({"client_id": None}, "client_id"),
        ({"redirect_uri": None}, "redirect_uri"),
        ({"redirect_uri": "/relatief"}, "redirect_uri"),
        ({"redirect_uri": "javascript:alert(1)"}, "redirect_uri"),
        ({"redirect_uri": "http://127.0.0.1/cb#fragment"}, "redirect_uri"),
        ({"redirect_uri": "http://iemand@127.0.0.1/cb"}, "redirect_uri"),
        ({"redirect_uri": "http://127.0.0.1:poort/cb"}, "redirect_uri"),
    ],
)
def test_a_bad_request_is_refused_in_dutch(changes: dict[str, str | None], words: str) -> None:
    with pytest.raises(InvalidAuthorizationRequest, match=words):
        parse_authorization_request(request_params(**changes))


def test_a_repeated_parameter_is_refused() -> None:
    params = request_params() | {"state": ["a", "b"]}
    with pytest.raises(InvalidAuthorizationRequest, match="meer dan één keer"):
        parse_authorization_request(params)


# --- the token request -----------------------------------------------------------------------------


def test_the_right_verifier_redeems_the_code() -> None:
    codes = AuthorizationCodes()
    assert redeem_code(DEV_IDP_TENANTS, token_form(codes.issue(grant())), codes) == grant()


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"grant_type": ""}, "invalid_request"),
        ({"grant_type": "refresh_token"}, "unsupported_grant_type"),
        ({"code_verifier": ""}, "invalid_request"),
        ({"client_id": ""}, "invalid_request"),
        ({"code_verifier": "x" * 43}, "invalid_grant"),
        ({"code_verifier": "kort"}, "invalid_grant"),
        ({"client_id": "andere-client"}, "invalid_grant"),
        ({"redirect_uri": REDIRECT_URI + "?x=1"}, "invalid_grant"),
    ],
)
def test_token_request_errors(changes: dict[str, str], error: str) -> None:
    codes = AuthorizationCodes()
    with pytest.raises(OAuthError) as refused:
        redeem_code(DEV_IDP_TENANTS, token_form(codes.issue(grant()), **changes), codes)
    assert refused.value.error == error


def test_a_code_of_one_issuer_is_refused_by_the_other() -> None:
    codes = AuthorizationCodes()
    with pytest.raises(OAuthError) as refused:
        redeem_code(DEV_IDP_OPERATOR, token_form(codes.issue(grant())), codes)
    assert refused.value.error == "invalid_grant"


# --- the pages -------------------------------------------------------------------------------------


class PageStructure(HTMLParser):
    """What an accessibility check looks at: labels, fields, headings, scripts and style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.labels: set[str] = set()
        self.fields: list[str] = []
        self.style_attributes = 0
        self.html_lang: str | None = None
        self.style_blocks: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        self.style_attributes += "style" in a
        if tag == "html":
            self.html_lang = a.get("lang")
        if tag == "label":
            self.labels.add(a.get("for") or "")
        if tag in {"input", "select", "textarea"} and a.get("type") != "hidden":
            self.fields.append(a.get("id") or "")
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style_blocks.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False


@pytest.fixture
def login_client() -> Iterator[TestClient[Litestar]]:
    with TestClient(create_login_app(AuthorizationCodes())) as client:
        yield client


@pytest.mark.parametrize("path", [DEV_IDP_TENANTS.authorize_path, DEV_IDP_OPERATOR.authorize_path])
def test_login_form_is_accessible_dutch_html_without_script(
    login_client: TestClient[Litestar], path: str
) -> None:
    page = login_client.get(path, params={k: v[0] for k, v in request_params().items()})
    assert page.status_code == 200
    structure = PageStructure()
    structure.feed(page.text)
    assert structure.html_lang == "nl"
    assert structure.tags.count("h1") == 1
    assert structure.tags.count("title") == 1
    assert structure.tags.count("main") == 1
    assert "script" not in structure.tags
    assert structure.style_attributes == 0
    assert structure.fields
    assert set(structure.fields) <= structure.labels  # every field has its <label for=...>
    assert "Inloggen" in page.text
    # The one style block is the one the CSP allows by hash; nothing else may run or load.
    (css,) = structure.style_blocks
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    policy = page.headers["content-security-policy"]
    assert f"style-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy


def test_a_submitted_login_redirects_with_code_and_state_keeping_the_query(
    login_client: TestClient[Litestar],
) -> None:
    uri = REDIRECT_URI + "?next=%2Fbeheer%2Foperator"
    form = {k: v[0] for k, v in request_params(redirect_uri=uri).items()}
    answer = login_client.post(
        DEV_IDP_TENANTS.authorize_path,
        data=form | {"tenant": "amsterdam", "employee": "E1", "role": "privacy-officer"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert re.fullmatch(re.escape(uri) + r"&code=[A-Za-z0-9_-]{40,}&state=xyz", location)


def test_an_unknown_role_is_refused(login_client: TestClient[Litestar]) -> None:
    form = {k: v[0] for k, v in request_params().items()}
    answer = login_client.post(
        DEV_IDP_TENANTS.authorize_path,
        data=form | {"tenant": "amsterdam", "employee": "E1", "role": "operator"},
        follow_redirects=False,
    )
    assert answer.status_code == 400
    assert "location" not in answer.headers


# --- configuration ---------------------------------------------------------------------------------


def test_login_port_defaults_to_8444() -> None:
    assert load_config().login_port == 8444


def test_a_sandbox_on_a_free_port_gets_a_free_login_port_too() -> None:
    assert load_config(port=0).login_port == 0
    assert load_config(port=0, login_port=9444).login_port == 9444
    assert load_config(port=9443).login_port == 8444


@pytest.mark.parametrize("port", [-1, 65536])
def test_login_port_must_be_a_port(port: int) -> None:
    with pytest.raises(msgspec.ValidationError, match="login_port"):
        load_config(login_port=port)


def test_broker_sandbox_login_port_reaches_the_sandbox_config(tmp_path: Path) -> None:
    settings = load_settings({"BROKER_SANDBOX_LOGIN_PORT": "9444", "BROKER_STATE_DIR": str(tmp_path)})
    assert settings.sandbox_login_port == 9444
    assert _sandbox_config(settings).login_port == 9444
    free = load_settings({"BROKER_SANDBOX_PORT": "0", "BROKER_STATE_DIR": str(tmp_path)})
    assert _sandbox_config(free).login_port == 0
    assert _sandbox_config(load_settings({"BROKER_STATE_DIR": str(tmp_path)})).login_port == 8444
