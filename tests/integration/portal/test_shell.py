"""The portal's shell: headers on every answer, the login redirect, logout and its form token."""

from __future__ import annotations

import httpx

from app.admin.auth import AdminRole
from tests.integration.admin.conftest import AdminBroker
from tests.integration.portal.conftest import BEHEER, PortalAs, actor


async def test_the_login_page_is_dutch_html_with_a_strict_policy(admin: AdminBroker) -> None:
    response = await admin.client.get(f"{BEHEER}/inloggen")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="nl">' in response.text
    policy = response.headers["content-security-policy"]
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_without_a_session_every_page_sends_to_the_login(admin: AdminBroker) -> None:
    response = await admin.client.get(f"{BEHEER}/")
    assert response.status_code == 303
    assert response.headers["location"] == f"{BEHEER}/inloggen"


async def test_a_forged_session_cookie_is_no_session(admin: AdminBroker) -> None:
    async with httpx.AsyncClient(
        base_url=str(admin.client.base_url), cookies={"brp_beheer": "x" * 43}
    ) as forged:
        response = await forged.get(f"{BEHEER}/")
    assert response.status_code == 303
    assert response.headers["location"] == f"{BEHEER}/inloggen?reden=sessie"


async def test_each_role_starts_on_its_own_page(admin: AdminBroker, portal_as: PortalAs) -> None:
    tenant_admin = await portal_as(actor("bestand", AdminRole.TENANT_ADMIN))
    officer = await portal_as(actor("bestand", AdminRole.PRIVACY_OFFICER))
    operator = await portal_as(actor(None, AdminRole.OPERATOR, subject="op-1"))
    assert (await tenant_admin.get("/")).headers["location"] == f"{BEHEER}/t/bestand"
    assert (await officer.get("/")).headers["location"] == f"{BEHEER}/t/bestand/inzage"
    assert (await operator.get("/")).headers["location"] == f"{BEHEER}/operator"


async def test_logout_needs_the_form_token_and_ends_the_session(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await portal_as(actor("bestand", AdminRole.TENANT_ADMIN))
    refused = await person.post("/uitloggen", {"csrf": "not-the-token"})
    assert refused.status_code == 403
    assert "Formulier geweigerd" in refused.text
    assert (await person.get("/")).status_code == 303  # still logged in: to its start page
    assert (await person.get("/")).headers["location"] == f"{BEHEER}/t/bestand"

    done = await person.post("/uitloggen")
    assert done.status_code == 303
    assert done.headers["location"] == f"{BEHEER}/inloggen?uitgelogd=1"
    after = await person.get("/")
    assert after.headers["location"] == f"{BEHEER}/inloggen?reden=sessie"


async def test_a_post_from_another_origin_is_refused(admin: AdminBroker, portal_as: PortalAs) -> None:
    person = await portal_as(actor("bestand", AdminRole.TENANT_ADMIN))
    refused = await person.post("/uitloggen", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert (await person.get("/")).headers["location"] == f"{BEHEER}/t/bestand"


async def test_a_suspended_tenant_s_sessions_end(admin: AdminBroker, portal_as: PortalAs) -> None:
    await admin.onboard("opgeschort", "000002")
    person = await portal_as(actor("opgeschort", AdminRole.TENANT_ADMIN))
    assert (await person.get("/")).headers["location"] == f"{BEHEER}/t/opgeschort"
    etag = (await admin.as_operator("GET", "/tenants/opgeschort")).headers["etag"]
    response = await admin.as_operator(
        "PATCH", "/tenants/opgeschort", json={"status": "suspended"}, headers={"If-Match": etag}
    )
    assert response.status_code == 200, response.text
    await admin.until(lambda snapshot: not snapshot.tenants["opgeschort"].active)
    assert (await person.get("/")).headers["location"] == f"{BEHEER}/inloggen?reden=sessie"


async def test_another_tenant_s_page_is_the_plain_not_found_page_with_the_menu(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("ander", "000002")
    person = await portal_as(actor("bestand", AdminRole.TENANT_ADMIN))
    other = await person.get("/t/ander/toegang")
    missing = await person.get("/t/bestaat-niet/toegang")
    assert other.status_code == missing.status_code == 404
    assert "Deze pagina bestaat niet" in other.text
    assert other.text.replace("ander", "bestaat-niet") == missing.text  # the same page for both
    assert "Uitloggen" in other.text  # still logged in: the menu and logout stay
