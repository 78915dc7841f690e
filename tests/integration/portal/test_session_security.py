"""The security review's findings on logins and sessions, each a test that failed before its fix:
an answer for another login (the OAuth mix-up) opens no session; a session is judged anew on every
request (role names, trusted issuers); a suspension ends sessions whoever suspends; the removal of a
`__Secure-` cookie is itself `Secure`."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from app.admin.auth import AdminRole
from app.portal.web import LOGIN_COOKIE, SESSION_COOKIE, expired_cookie
from app.sandbox.idp import DEV_IDP_ISSUER
from tests.integration.admin.conftest import AdminBroker
from tests.integration.portal.conftest import BEHEER, PortalAs, actor
from tests.integration.portal.test_login import _HIDDEN, _log_in, _onboard_with_login


async def _code_for(admin: AdminBroker, browser: httpx.AsyncClient, query: str, form: dict[str, str]) -> str:
    """Start a login and get the IdP's answer (the callback address with code and state), unused."""
    start = await browser.get(f"{BEHEER}/auth/start?{query}")
    authorize = start.headers["location"]
    async with httpx.AsyncClient(timeout=30) as idp:
        fields = dict(_HIDDEN.findall((await idp.get(authorize)).text))
        posted = await idp.post(authorize.split("?")[0], data={**fields, **form})
    return str(posted.headers["location"])


async def test_an_answer_delivered_at_another_owner_s_callback_opens_no_session(admin: AdminBroker) -> None:
    # A tenant's identity provider that bounces the login to another provider makes the answer
    # arrive at that provider's callback address (here: the operator's) for a tenant login.
    await _onboard_with_login(admin, "mixup", "000002")
    async with httpx.AsyncClient(base_url=str(admin.client.base_url), timeout=30) as browser:
        answer = urlsplit(
            await _code_for(
                admin,
                browser,
                "organisatie=mixup",
                {"tenant": "mixup", "employee": "A1", "role": "brp-admin"},
            )
        )
        assert answer.path == f"{BEHEER}/auth/callback/t/mixup"
        refused = await browser.get(f"{BEHEER}/auth/callback/operator?{answer.query}")
        assert refused.status_code == 400
        assert not any(c.startswith("brp_beheer=") for c in refused.headers.get_list("set-cookie"))


async def test_an_answer_naming_another_issuer_opens_no_session(admin: AdminBroker) -> None:
    await _onboard_with_login(admin, "iss", "000002")
    async with httpx.AsyncClient(base_url=str(admin.client.base_url), timeout=30) as browser:
        answer = urlsplit(
            await _code_for(
                admin, browser, "organisatie=iss", {"tenant": "iss", "employee": "A1", "role": "brp-admin"}
            )
        )
        query = {key: values[0] for key, values in parse_qs(answer.query).items()}
        query["iss"] = "https://idp.attacker.example"
        refused = await browser.get(f"{answer.path}?{urlencode(query)}")
        assert refused.status_code == 400


async def test_a_token_for_another_tenant_than_the_login_s_opens_no_session(admin: AdminBroker) -> None:
    # Both tenants trust the shared dev IdP; the login was for "alfa", the token says "beta".
    await _onboard_with_login(admin, "alfa", "000002")
    await _onboard_with_login(admin, "beta", "000003")
    async with httpx.AsyncClient(base_url=str(admin.client.base_url), timeout=30) as browser:
        done = await _log_in(
            admin, browser, "organisatie=alfa", {"tenant": "beta", "employee": "A1", "role": "brp-admin"}
        )
        assert done.status_code == 401
        assert not any(c.startswith("brp_beheer=") for c in done.headers.get_list("set-cookie"))


async def test_a_session_ends_when_the_tenant_s_role_names_no_longer_grant_its_role(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("rollen", "000002")
    person = await portal_as(actor("rollen", AdminRole.TENANT_ADMIN))
    assert (await person.get("/t/rollen/toegang")).status_code == 200
    etag = (await admin.as_operator("GET", "/tenants/rollen")).headers["etag"]
    patched = await admin.as_operator(
        "PATCH",
        "/tenants/rollen",
        headers={"If-Match": etag},
        json={"admin": {"admin_roles": ["andere-rol"], "privacy_officer_roles": ["privacy-officer"]}},
    )
    assert patched.status_code == 200, patched.text
    await admin.until(lambda snapshot: snapshot.tenants["rollen"].spec.admin.admin_roles == ("andere-rol",))
    after = await person.get("/t/rollen/toegang")
    assert after.status_code == 303
    assert after.headers["location"].startswith(f"{BEHEER}/inloggen")
    saved = await person.post(
        "/t/rollen/toegang/nieuw", {"name": "x", "who": "role:x", "gegevenssets": "basis"}
    )
    assert saved.status_code == 303 and saved.headers["location"].startswith(f"{BEHEER}/inloggen")


async def test_a_session_ends_when_the_tenant_no_longer_trusts_its_issuer(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    document = await admin.onboard("vertrouwen", "000002")
    person = await portal_as(actor("vertrouwen", AdminRole.TENANT_ADMIN))
    assert (await person.get("/t/vertrouwen/toegang")).status_code == 200
    other = {
        **document["issuers"][0],
        "issuer": "https://idp.elders.example",
        "jwks_uri": "https://idp.elders.example/jwks",
    }
    other.pop("jwks")
    etag = (await admin.as_operator("GET", "/tenants/vertrouwen/issuers")).headers["etag"]
    replaced = await admin.as_operator(
        "PUT", "/tenants/vertrouwen/issuers", headers={"If-Match": etag}, json=[other]
    )
    assert replaced.status_code == 200, replaced.text
    await admin.until(
        lambda snapshot: all(i.issuer != DEV_IDP_ISSUER for i in snapshot.tenants["vertrouwen"].spec.issuers)
    )
    assert (await person.get("/t/vertrouwen/toegang")).headers["location"].startswith(f"{BEHEER}/inloggen")


async def test_a_suspension_through_the_admin_api_ends_sessions_even_if_resumed_at_once(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("pauze", "000002")
    person = await portal_as(actor("pauze", AdminRole.TENANT_ADMIN))
    assert (await person.get("/t/pauze/toegang")).status_code == 200
    for status in ("suspended", "active"):  # no portal request in between
        etag = (await admin.as_operator("GET", "/tenants/pauze")).headers["etag"]
        changed = await admin.as_operator(
            "PATCH", "/tenants/pauze", headers={"If-Match": etag}, json={"status": status}
        )
        assert changed.status_code == 200, changed.text
    await admin.until(lambda snapshot: snapshot.tenants["pauze"].active)
    assert (await person.get("/t/pauze/toegang")).headers["location"].startswith(f"{BEHEER}/inloggen")


def test_removing_a_secure_prefixed_cookie_is_itself_secure() -> None:
    settings = SimpleNamespace(portal_url="https://brp.example.nl")
    request = SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(portal=SimpleNamespace(settings=settings)))
    )
    for base, same_site in ((SESSION_COOKIE, "strict"), (LOGIN_COOKIE, "lax")):
        removal = expired_cookie(request, base)  # type: ignore[arg-type]
        assert removal.key == f"__Secure-{base}"
        assert removal.secure and removal.max_age == 0 and removal.samesite == same_site
