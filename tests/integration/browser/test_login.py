"""Logging in to the beheerportaal in a real browser, through the dev identity provider's form, as
each role; what each role is shown and not shown; logout."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from tests.integration.browser.conftest import Visit

Tab = Callable[[], Awaitable[Visit]]


async def test_the_login_page(visit: Tab) -> None:
    tab = await visit()
    await tab.page.goto(tab.portal.url("/inloggen"))
    assert await tab.page.title() == "Inloggen · BRP-beheerportaal"
    await tab.check("00-inloggen")


async def test_the_tenant_admin_logs_in_and_sees_the_admin_pages_only(visit: Tab) -> None:
    tab = await visit()
    await tab.login("amsterdam", role="brp-admin")
    assert tab.page.url == tab.portal.url("/t/amsterdam")
    nav = tab.page.get_by_role("navigation", name="Hoofdmenu")
    for label in ("Overzicht", "Toegang", "Gegevenssets", "Limieten", "Audit"):
        assert await nav.get_by_role("link", name=label).count() == 1
    assert await nav.get_by_role("link", name="Inzage").count() == 0
    assert await nav.get_by_role("link", name="Tenants").count() == 0
    # Not the privacy officer's page, and not another tenant's.
    assert (await tab.page.goto(tab.portal.url("/t/amsterdam/inzage"))).status == 403
    assert (await tab.page.goto(tab.portal.url("/t/vallei-liemers"))).status == 404
    assert (await tab.page.goto(tab.portal.url("/operator"))).status == 403


async def test_the_privacy_officer_lands_on_inzage(visit: Tab) -> None:
    tab = await visit()
    await tab.login("amsterdam", role="privacy-officer", employee="P1")
    assert tab.page.url == tab.portal.url("/t/amsterdam/inzage")
    nav = tab.page.get_by_role("navigation", name="Hoofdmenu")
    assert await nav.get_by_role("link", name="Toegang").count() == 0
    assert (await tab.page.goto(tab.portal.url("/t/amsterdam/toegang"))).status == 403


async def test_the_operator_lands_on_the_tenants(visit: Tab) -> None:
    tab = await visit()
    await tab.login(None)
    assert tab.page.url == tab.portal.url("/operator")
    assert (await tab.page.goto(tab.portal.url("/t/amsterdam/inzage"))).status == 403


async def test_an_employee_without_an_admin_role_is_told_so(visit: Tab) -> None:
    tab = await visit()
    await tab.login("amsterdam", role="", employee="E1")
    assert "geen beheerrol" in await tab.page.content()
    assert (await tab.page.goto(tab.portal.url("/"))).url.endswith("/beheer/inloggen")


async def test_logout_ends_the_session(visit: Tab) -> None:
    tab = await visit()
    await tab.login("amsterdam")
    cookies = await tab.page.context.cookies()
    session = next(c for c in cookies if c["name"] == "brp_beheer")
    assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/beheer"
    await tab.page.get_by_role("button", name="Uitloggen").click()
    await tab.page.wait_for_url(re.compile(r".*/beheer/inloggen\?uitgelogd=1$"))
    assert "U bent uitgelogd" in await tab.page.content()
    # The old cookie, replayed, is no session any more (ended server-side, not just forgotten).
    await tab.page.context.add_cookies([session])
    response = await tab.page.goto(tab.portal.url("/t/amsterdam"))
    assert response is not None and "/beheer/inloggen" in response.url
