"""The operator's pages in a real browser: the tenants with their status, suspend and resume,
onboarding a new tenant step by step, and no inzage of a tenant's protocol."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.sandbox.idp import DEV_IDP_ISSUER
from tests.integration.browser.conftest import Portal, Visit

# Imported like this so that without Playwright the module is skipped, as the conftest says why.
expect = pytest.importorskip("playwright.async_api").expect

Tab = Callable[[], Awaitable[Visit]]

DEMO_TENANTS = ("amsterdam", "belastingen-rijnmond", "vallei-liemers")
AMSTERDAM = "Gemeente Amsterdam (demo)"
FILE_MANAGED = "beheerd met een tenantbestand: wijzig status in het bestand"
NEW_SLUG = "gemeente-test"
# A sandbox afnemer no demo tenant uses (tenants/*.toml use 000101, 000201, 000301, 000302).
FREE_AFNEMER = "000004"


def _row(tab: Visit, slug: str) -> Any:  # a Playwright Locator
    table = tab.page.get_by_role("table", name=re.compile(r"^Organisaties"))
    return table.get_by_role("row").filter(has=tab.page.get_by_role("rowheader", name=slug, exact=True))


async def test_the_operator_sees_the_tenants_and_suspends_and_resumes_one(visit: Tab, portal: Portal) -> None:
    tab = await visit()
    page = tab.page
    await tab.login(None)
    assert page.url == portal.url("/operator")
    for slug in DEMO_TENANTS:
        await expect(_row(tab, slug)).to_have_count(1)
    # A file-managed tenant: no status button, and the reason instead.
    for slug in ("vallei-liemers", "belastingen-rijnmond"):
        row = _row(tab, slug)
        await expect(row.get_by_role("button")).to_have_count(0)
        await expect(row).to_contain_text(FILE_MANAGED)
        await expect(row.get_by_role("cell", name="bestand", exact=True)).to_have_count(1)
    amsterdam = _row(tab, "amsterdam")
    await expect(amsterdam.get_by_text("actief", exact=True)).to_be_visible()
    await expect(amsterdam).to_contain_text("portaal-API")
    await tab.check("20-operator")

    try:
        await amsterdam.get_by_role("button", name=f"Opschorten {AMSTERDAM}").click()
        await page.wait_for_url(portal.url("/operator?opgeschort=amsterdam"))
        await expect(page.get_by_role("status")).to_contain_text("Organisatie amsterdam is opgeschort")
        await expect(amsterdam.get_by_text("opgeschort", exact=True)).to_be_visible()
        await tab.check("20-operator-opgeschort")
        # Its people cannot log in to the portal meanwhile (the login page says so, with 401).
        employee = await visit()
        await employee.login("amsterdam")
        assert employee.page.url.startswith(portal.url("/auth/callback"))
        await expect(employee.page.get_by_text("Inloggen is niet gelukt.")).to_be_visible()
        await employee.check("24-inloggen-opgeschort")
    finally:
        await amsterdam.get_by_role("button", name=f"Hervatten {AMSTERDAM}").click()
        await page.wait_for_url(portal.url("/operator?hervat=amsterdam"))
    await expect(page.get_by_role("status")).to_contain_text("Organisatie amsterdam is weer actief")
    await expect(amsterdam.get_by_text("actief", exact=True)).to_be_visible()
    await tab.check("20-operator-hervat")


async def test_the_operator_onboards_a_tenant_step_by_step(visit: Tab, portal: Portal) -> None:
    afnemer = next(a for a in portal.sandbox.config.afnemers if a.afnemer_id == FREE_AFNEMER)
    tab = await visit()
    page = tab.page
    await tab.login(None)
    await page.get_by_role("link", name="Nieuwe organisatie aansluiten").click()
    await page.wait_for_url(portal.url("/operator/nieuw"))

    await _at_step(tab, 1, "Organisatie")
    await _field(tab, "Korte naam (slug)").fill(NEW_SLUG)
    await _field(tab, "Naam van de organisatie").fill("Gemeente Test")
    await _field(tab, "Soort organisatie").select_option(label="organisatie")
    await _field(tab, "Aansluitpatroon").select_option(label="SaaS (eigen AfnemerID)")
    await tab.check("21-operator-nieuw-organisatie")
    await _next(tab)

    await _at_step(tab, 2, "Identiteitsprovider")
    await _field(tab, "Issuer-URL").fill(DEV_IDP_ISSUER)
    await _field(tab, "Audience").fill("brp-broker")
    await _field(tab, "JWKS-URL").fill(f"{portal.sandbox.base_url}/dev-idp/jwks.json")
    algorithms = page.get_by_role("group", name="Algoritmen")
    await expect(algorithms.get_by_label("ES256", exact=True)).to_be_checked()
    await _field(tab, "Tenant-claim").fill("tenant")
    await _field(tab, "Waarde van de tenant-claim").fill(NEW_SLUG)
    await _field(tab, "Client id voor het beheerportaal").fill("brp-beheerportaal")
    # The dev IdP's issuer names the sandbox's default address, not this test's sandbox: its
    # discovery document is elsewhere.
    discovery = f"{portal.sandbox.base_url}/dev-idp/.well-known/openid-configuration"
    await _field(tab, "Discovery-URL voor inloggen (optioneel)").fill(discovery)
    await tab.check("21-operator-nieuw-identiteitsprovider")
    await _next(tab)

    await _at_step(tab, 3, "AfnemerID")
    await _field(tab, "AfnemerID").fill(afnemer.afnemer_id)
    await _field(tab, "Naam van de AfnemerID").fill("Gemeente Test, burgerzaken")
    await _field(tab, "Omgeving").select_option(label="sandbox (lokale testomgeving)")
    await _field(tab, "OIN-identiteit").select_option("dev")
    await _field(tab, "Client id bij RvIG").fill(afnemer.client_id)
    await _field(tab, "Gemeentecode").fill(afnemer.gemeente_code or "")
    await tab.check("21-operator-nieuw-afnemerid")
    await _next(tab)

    await _at_step(tab, 4, "Eerste beheerder")
    await expect(_field(tab, "Rollen van beheerders")).not_to_have_value("")
    await expect(_field(tab, "Rollen van functionarissen gegevensbescherming")).not_to_have_value("")
    await tab.check("21-operator-nieuw-beheerder")
    await _next(tab)

    await _at_step(tab, 5, "Controleren en aanmaken")
    plan = page.get_by_role("table", name="Plan van de proefrun")
    await expect(plan).to_contain_text(NEW_SLUG)
    await expect(plan).to_contain_text(afnemer.afnemer_id)
    await expect(page.get_by_text(afnemer.client_secret.reveal())).to_have_count(0)
    await expect(page.get_by_text(discovery, exact=True)).to_be_visible()
    await tab.check("21-operator-nieuw-controleren")
    await _field(tab, "Client secret").fill(afnemer.client_secret.reveal())
    await page.get_by_role("button", name="Aanmaken").click()

    await page.wait_for_url(portal.url(f"/operator?aangemaakt={NEW_SLUG}"))
    await expect(page.get_by_role("status")).to_contain_text(f"Organisatie {NEW_SLUG} is aangemaakt")
    created = _row(tab, NEW_SLUG)
    await expect(created).to_contain_text("Gemeente Test")
    await expect(created).to_contain_text("portaal-API")
    await expect(created.get_by_text("actief", exact=True)).to_be_visible()
    assert afnemer.client_secret.reveal() not in await page.content()
    await tab.check("22-operator-aangemaakt")

    # Its first admin logs in through the dev IdP, found by the discovery URL of step 2.
    first_admin = await visit()
    await first_admin.login(NEW_SLUG, role="brp-admin")
    assert first_admin.page.url == portal.url(f"/t/{NEW_SLUG}")
    await expect(first_admin.page.get_by_role("heading", level=1)).to_have_text("Overzicht van Gemeente Test")
    await first_admin.check("25-nieuwe-organisatie-overzicht")


async def test_the_operator_cannot_open_a_tenants_inzage(visit: Tab, portal: Portal) -> None:
    tab = await visit()
    page = tab.page
    await tab.login(None)
    response = await page.goto(portal.url("/t/amsterdam/inzage"))
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "U bent niet geautoriseerd voor deze operatie."
    )
    await expect(page.get_by_label("Burgerservicenummer (BSN)")).to_have_count(0)
    await tab.check("23-operator-geen-inzage")


def _field(tab: Visit, label: str) -> Any:  # a Playwright Locator
    return tab.page.get_by_label(label, exact=True)


async def _at_step(tab: Visit, position: int, title: str) -> None:
    """The wizard shows step `position` of 5 (a SaaS organisation has no members' step)."""
    await expect(
        tab.page.get_by_role("heading", level=2, name=f"Stap {position} van 5: {title}")
    ).to_be_visible()
    steps = tab.page.get_by_role("navigation", name="Stappen van het aansluiten")
    await expect(steps.locator('[aria-current="step"]')).to_have_text(title)
    await expect(tab.page.get_by_role("alert")).to_have_count(0)


async def _next(tab: Visit) -> None:
    async with tab.page.expect_response(lambda response: response.request.method == "POST") as sent:
        await tab.page.get_by_role("button", name="Volgende stap").click()
    assert (await sent.value).status == 200
    await tab.page.wait_for_load_state()
