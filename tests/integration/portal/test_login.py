"""The portal's login end to end over real HTTP: the organisation's identity provider (the
sandbox's dev IdP, authorization code + PKCE), the callback, the session; and the refusals."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec

from app.identity import PortalLogin
from app.sandbox.idp import DEV_IDP_ISSUER
from tests.integration.admin.conftest import AdminBroker
from tests.integration.portal.conftest import BEHEER

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _with_login(document: dict[str, Any], admin: AdminBroker) -> dict[str, Any]:
    """The tenant document with the portal's login at the dev IdP of this test's sandbox."""
    discovery = f"{admin.sandbox.base_url}/dev-idp/.well-known/openid-configuration"
    login = msgspec.to_builtins(PortalLogin(client_id="brp-beheerportaal", discovery_uri=discovery))
    document["issuers"][0]["login"] = login
    return document


async def _onboard_with_login(admin: AdminBroker, slug: str, afnemer_id: str) -> None:
    from tests.integration.admin.conftest import tenant_document

    document = _with_login(tenant_document(admin.sandbox, slug, afnemer_id), admin)
    response = await admin.as_operator("POST", "/tenants", json=document)
    assert response.status_code == 201, response.text
    await admin.until(lambda snapshot: slug in snapshot.tenants)


async def _log_in(
    admin: AdminBroker, browser: httpx.AsyncClient, query: str, form: dict[str, str]
) -> httpx.Response:
    """Start at the portal, answer the dev IdP's form, follow the redirect back; the callback's answer."""
    start = await browser.get(f"{BEHEER}/auth/start?{query}")
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    async with httpx.AsyncClient(timeout=30) as idp:
        page = await idp.get(authorize)
        assert page.status_code == 200
        fields = dict(_HIDDEN.findall(page.text))
        posted = await idp.post(authorize.split("?")[0], data={**fields, **form})
    assert posted.status_code == 303, posted.text
    callback = urlsplit(posted.headers["location"])
    return await browser.get(f"{callback.path}?{callback.query}")


async def test_a_tenant_admin_logs_in_with_pkce_and_gets_a_strict_session(admin: AdminBroker) -> None:
    await _onboard_with_login(admin, "inlog", "000002")
    async with httpx.AsyncClient(base_url=str(admin.client.base_url), timeout=30) as browser:
        start = await browser.get(f"{BEHEER}/auth/start?organisatie=inlog")
        query = parse_qs(urlsplit(start.headers["location"]).query)
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
        assert query["response_type"] == ["code"] and query["client_id"] == ["brp-beheerportaal"]
        assert query["login_hint"] == ["inlog"]
        login_cookie = start.headers["set-cookie"]
        assert "HttpOnly" in login_cookie and "SameSite=lax" in login_cookie.replace("Lax", "lax")

        done = await _log_in(
            admin, browser, "organisatie=inlog", {"tenant": "inlog", "employee": "A7", "role": "brp-admin"}
        )
        assert done.status_code == 200, done.text
        assert 'http-equiv="refresh"' in done.text
        cookies = done.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("brp_beheer="))
        assert "HttpOnly" in session and "SameSite=strict" in session.replace("Strict", "strict")
        assert "Path=/beheer" in session and "Secure" not in session  # served over plain HTTP here
        home = await browser.get(f"{BEHEER}/")
        assert home.headers["location"] == f"{BEHEER}/t/inlog"


async def test_the_operator_logs_in_at_the_operator_provider(admin: AdminBroker) -> None:
    async with httpx.AsyncClient(base_url=str(admin.client.base_url), timeout=30) as browser:
        done = await _log_in(admin, browser, "operator=1", {"subject": "op-7"})
        assert done.status_code == 200, done.text
        assert (await browser.get(f"{BEHEER}/")).headers["location"] == f"{BEHEER}/operator"


async def test_a_person_without_an_admin_role_gets_no_session(admin: AdminBroker) -> None:
    await _onboard_with_login(admin, "zonderrol", "000002")
    async with httpx.AsyncClient(base_url=str(admin.client.base_url), timeout=30) as browser:
        done = await _log_in(
            admin, browser, "organisatie=zonderrol", {"tenant": "zonderrol", "employee": "E1", "role": ""}
        )
        assert done.status_code == 403
        assert "geen beheerrol" in done.text
        assert not any(c.startswith("brp_beheer=") for c in done.headers.get_list("set-cookie"))


async def test_a_callback_in_another_browser_completes_nothing(admin: AdminBroker) -> None:
    await _onboard_with_login(admin, "csrf-login", "000002")
    async with (
        httpx.AsyncClient(base_url=str(admin.client.base_url), timeout=30) as victim,
        httpx.AsyncClient(base_url=str(admin.client.base_url), timeout=30) as attacker,
    ):
        start = await attacker.get(f"{BEHEER}/auth/start?organisatie=csrf-login")
        authorize = start.headers["location"]
        async with httpx.AsyncClient(timeout=30) as idp:
            fields = dict(_HIDDEN.findall((await idp.get(authorize)).text))
            posted = await idp.post(
                authorize.split("?")[0],
                data={**fields, "tenant": "csrf-login", "employee": "X", "role": "brp-admin"},
            )
        callback = urlsplit(posted.headers["location"])
        refused = await victim.get(f"{callback.path}?{callback.query}")  # no login cookie of this flow
        assert refused.status_code == 400
        assert not any(c.startswith("brp_beheer=") for c in refused.headers.get_list("set-cookie"))


async def test_a_wrong_state_is_refused_and_the_login_is_used_up(admin: AdminBroker) -> None:
    await _onboard_with_login(admin, "state", "000002")
    async with httpx.AsyncClient(base_url=str(admin.client.base_url), timeout=30) as browser:
        await browser.get(f"{BEHEER}/auth/start?organisatie=state")
        refused = await browser.get(f"{BEHEER}/auth/callback/t/state?code=abc&state=forged")
        assert refused.status_code == 400
        again = await browser.get(f"{BEHEER}/auth/callback/t/state?code=abc&state=forged")
        assert again.status_code == 400


async def test_an_unknown_organisation_and_one_without_portal_login_look_the_same(admin: AdminBroker) -> None:
    # "bestand" exists but has no portal login; "bestaat-niet" does not exist: one answer for both.
    unknown = await admin.client.get(f"{BEHEER}/auth/start?organisatie=bestaat-niet")
    without = await admin.client.get(f"{BEHEER}/auth/start?organisatie=bestand")
    assert unknown.status_code == without.status_code == 400
    assert "niet ingericht" in unknown.text and "niet ingericht" in without.text
    assert DEV_IDP_ISSUER not in without.text
