"""The tenant admin's pages in a real browser, end to end: the overview with its charts, granting
a team a narrower gegevensset (field picker, rule preview, save) and the gateway honouring it at
once, validation next to the field, keyboard use, limits, the audit of a change, a file-managed
tenant read-only, and another tenant's pages not found.

Every page is checked (axe-core WCAG 2.1 AA, no CSP or console error) and saved as the screenshot
the README shows (`.check("<nn>-<page>")`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.integration.browser.conftest import Portal, Visit
from tests.integration.conftest import dev_token

Tab = Callable[[], Awaitable[Visit]]

PERSONEN = "/haalcentraal/api/brp/personen"
BSN = "999993653"  # a sandbox person
TENANT = "amsterdam"  # managed by the portal (tenants/amsterdam.toml)
FILE_TENANT = "vallei-liemers"  # managed by its tenant file
READ_ONLY = "Deze organisatie wordt beheerd met een tenantbestand (GitOps)."


def expect(target: Any) -> Any:
    """Playwright's auto-waiting assertions (imported late: without Playwright the tests are skipped)."""
    from playwright.async_api import expect as playwright_expect

    return playwright_expect(target)


async def ask(portal: Portal, role: str, fields: list[str]) -> int:
    """A gateway request of an Amsterdam employee with `role` for `fields` of one person: its status."""
    token = dev_token(portal.sandbox, TENANT, employee="E1001", roles=(role,))
    body = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [BSN], "fields": fields}
    headers = {
        "Authorization": f"Bearer {token}",
        "x-doelbinding": "browsertest",
        "x-verwerking": "browsertest@amsterdam",  # the sociaal-domein rule requires it
    }
    async with httpx.AsyncClient(base_url=portal.base_url, timeout=30) as client:
        response = await client.post(PERSONEN, json=body, headers=headers)
    return response.status_code


async def test_the_overview_shows_the_traffic_as_charts_and_tables(visit: Tab) -> None:
    tab = await visit()
    portal = tab.portal
    assert [await ask(portal, "burgerzaken", ["naam"]) for _ in range(3)] == [200, 200, 200]
    assert await ask(portal, "burgerzaken", ["geboorte", "geslacht"]) == 200
    assert await ask(portal, "sociaal-domein", ["nationaliteiten"]) == 403

    await tab.login(TENANT)
    page = tab.page
    await expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Overzicht van "))
    charts = page.locator("svg[role=img]")
    await expect(charts.first).to_be_visible()
    assert await charts.count() >= 2  # requests and refusals
    await expect(page.get_by_role("heading", name="Weigeringen en storingen per dag")).to_be_visible()
    await tab.check("01-overzicht")

    # The numbers behind a chart, opened with the keyboard.
    summary = page.locator("summary", has_text="Als tabel").first
    details = page.locator("details", has=summary).first
    table = details.get_by_role("table")
    await expect(table).to_be_hidden()
    await summary.focus()
    await page.keyboard.press("Enter")
    await expect(details).to_have_attribute("open", "")
    await expect(table).to_be_visible()
    await expect(table.get_by_role("rowheader", name="Totaal")).to_be_visible()
    await tab.check("01b-overzicht-tabel")


async def test_the_admin_grants_a_team_a_narrower_gegevensset(visit: Tab) -> None:
    tab = await visit()
    await tab.login(TENANT)
    page = tab.page
    base = tab.portal.url(f"/t/{TENANT}")
    # Not yet: team-x falls under no rule.
    assert await ask(tab.portal, "team-x", ["naam"]) == 403

    # A gegevensset with only naam, for RaadpleegMetBurgerservicenummer.
    await page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Gegevenssets").click()
    await page.wait_for_url(f"{base}/gegevenssets")
    await page.get_by_role("link", name="Nieuwe gegevensset").click()
    await page.wait_for_url(f"{base}/gegevenssets/nieuw")
    await page.get_by_label("Naam", exact=True).fill("alleen-naam")
    await page.get_by_label("Omschrijving").fill("Team X: alleen de naam van een persoon.")
    zoekvragen = page.get_by_role("group", name="Zoekvragen", exact=True)
    await zoekvragen.get_by_label("Alle zoekvragen van de aangevinkte API's").uncheck()
    await zoekvragen.get_by_label("RaadpleegMetBurgerservicenummer", exact=True).check()
    # The search box (JavaScript) shows only the fields that match.
    velden = page.get_by_role("group", name="Velden (alleen Personen-API)")
    await velden.get_by_label("Zoek een veld").fill("naam")
    await expect(velden.get_by_role("status")).to_have_text(re.compile(r"^\d+ velden gevonden$"))
    await expect(velden.get_by_label("Hele groep geboorte")).to_be_hidden()
    await velden.get_by_label("Hele groep naam").check()
    await expect(velden.get_by_label("geslachtsnaam naam.geslachtsnaam")).to_be_checked()
    await tab.check("05-gegevensset")
    await velden.get_by_label("Zoek een veld").fill("")
    await expect(velden.get_by_label("Hele groep geboorte")).to_be_visible()
    await expect(velden.get_by_label("Hele groep geboorte")).not_to_be_checked()
    parameters = page.get_by_role("group", name="Parameters")
    await parameters.get_by_label("burgerservicenummer", exact=True).check()
    await page.get_by_role("button", name="Opslaan").click()
    await page.wait_for_url(f"{base}/gegevenssets?opgeslagen=alleen-naam")
    await expect(page.get_by_role("status")).to_have_text("De gegevensset alleen-naam is opgeslagen.")
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="alleen-naam", exact=True))
    await expect(row.get_by_role("cell").nth(2)).to_have_text("naam")
    await tab.check("04-gegevenssets")

    # A rule granting it to role team-x: first the preview, then save.
    await page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Toegang").click()
    await page.wait_for_url(f"{base}/toegang")
    await page.get_by_role("link", name="Nieuwe regel").click()
    await page.wait_for_url(f"{base}/toegang/nieuw")
    await page.get_by_label("Naam", exact=True).fill("team-x")
    await page.get_by_label("Omschrijving").fill("Team X ziet alleen namen.")
    await page.get_by_label("Wie", exact=True).fill("role:team-x")
    await page.get_by_role("group", name="Gegevenssets").get_by_label("alleen-naam", exact=True).check()
    await page.get_by_role("group", name="Verplichte headers").get_by_label("x-doelbinding").check()
    await page.get_by_role("button", name="Voorbeeld: wat mag deze rol vragen?").click()
    preview = page.get_by_role("region", name="Voorbeeld: wat mag deze rol vragen?")
    await expect(preview).to_contain_text("Dit is een voorbeeld: er is nog niets opgeslagen.")
    await expect(preview).to_contain_text("Gegevensset alleen-naam")
    await expect(
        preview.get_by_role("listitem").filter(has_text="raadplegen met burgerservicenummer")
    ).to_have_text(re.compile(r":\s*naam\s*$"))
    assert await ask(tab.portal, "team-x", ["naam"]) == 403  # a preview saves nothing
    await tab.check("03-toegang-regel")
    await page.get_by_role("button", name="Opslaan").click()
    await page.wait_for_url(f"{base}/toegang?opgeslagen=team-x")
    await expect(page.get_by_role("status")).to_have_text("De regel team-x is opgeslagen.")
    await expect(page.get_by_role("rowheader", name="team-x", exact=True)).to_be_visible()
    await tab.check("02-toegang")

    # The gateway honours it at once: naam yes, geboorte (outside the set) no.
    assert await ask(tab.portal, "team-x", ["naam"]) == 200
    assert await ask(tab.portal, "team-x", ["geboorte"]) == 403

    # The audit shows the change, before and after.
    await page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Audit").click()
    await page.wait_for_url(f"{base}/audit")
    await page.get_by_label("Onderdeel").select_option(label="Toegangsregel")
    await page.get_by_role("button", name="Filteren").click()
    await page.wait_for_url(re.compile(r".*/audit\?.*onderdeel=rule.*"))
    entries = page.get_by_role("table", name=re.compile("^Wijzigingen"))
    entry = entries.get_by_role("row").filter(has_text="team-x")
    await expect(entry).to_have_count(1)
    await expect(entry).to_contain_text("toegevoegd")
    # Only rules: the gegevensset added just before is filtered out.
    await expect(entries.locator("tbody tr").filter(has_not_text="Toegangsregel")).to_have_count(0)
    await entry.get_by_text("Toon voor en na").click()
    await expect(entry.get_by_text("Bestond nog niet.")).to_be_visible()
    after = entry.locator("pre.diff")
    await expect(after).to_be_visible()
    await expect(after).to_contain_text("role:team-x")
    await expect(after).to_contain_text("alleen-naam")
    await tab.check("07-audit")


async def test_a_rule_without_gegevensset_shows_the_error_by_the_field(visit: Tab) -> None:
    tab = await visit()
    await tab.login(TENANT)
    page = tab.page
    await page.goto(tab.portal.url(f"/t/{TENANT}/toegang/nieuw"))
    await page.get_by_label("Naam", exact=True).fill("zonder-set")
    await page.get_by_label("Wie", exact=True).fill("role:zonder-set")
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.get_by_role("button", name="Opslaan").click()
    assert (await answer.value).status == 400
    summary = page.get_by_role("alert")
    await expect(summary).to_contain_text("Niet opgeslagen.")
    error = page.locator("#regel-gegevenssets-error")
    await expect(error).to_have_text("Kies ten minste één gegevensset.")
    group = page.get_by_role("group", name="Gegevenssets")
    await expect(group).to_have_attribute("aria-describedby", "regel-gegevenssets-error")
    # What was typed is kept.
    await expect(page.get_by_label("Naam", exact=True)).to_have_value("zonder-set")
    await tab.check("03b-toegang-fout")

    # The summary's link leads to the field: the next Tab is the first gegevensset.
    await summary.get_by_role("link", name="Gegevenssets").click()
    await page.wait_for_url(re.compile(r".*#regel-gegevenssets$"))
    await page.keyboard.press("Tab")
    await expect(group.get_by_role("checkbox").first).to_be_focused()
    # Nothing was saved.
    await page.goto(tab.portal.url(f"/t/{TENANT}/toegang"))
    await expect(page.get_by_role("rowheader", name="zonder-set")).to_have_count(0)


async def _focused(page: Any) -> dict[str, Any]:
    """What has the keyboard focus: its id, tag, text and place on the page."""
    description: dict[str, Any] = await page.evaluate(
        """() => {
            const el = document.activeElement;
            const box = el.getBoundingClientRect();
            return {id: el.id, tag: el.tagName.toLowerCase(), text: (el.textContent || "").trim(),
                    top: box.top + window.scrollY, left: box.left + window.scrollX, height: box.height};
        }"""
    )
    return description


async def test_the_rule_form_works_with_the_keyboard(visit: Tab) -> None:
    tab = await visit()
    await tab.login(TENANT)
    page = tab.page
    await page.goto(tab.portal.url(f"/t/{TENANT}/toegang/nieuw"))
    # The skip link is the first stop and moves the focus to the content.
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Naar de inhoud")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_visible()  # shown when focused
    await tab.check("03c-toegang-regel-skiplink")
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()

    # From there, Tab visits the form's fields in the order they are shown, up to Opslaan.
    stops: list[dict[str, Any]] = []
    for _ in range(60):
        await page.keyboard.press("Tab")
        stops.append(await _focused(page))
        if stops[-1]["tag"] == "button" and stops[-1]["text"] == "Opslaan":
            break
    ids = [stop["id"] for stop in stops]
    assert stops[-1]["text"] == "Opslaan", ids
    fields = [i for i in ids if i.startswith("regel-")]
    expected = ["regel-naam", "regel-omschrijving", "regel-wie"]
    assert fields[:3] == expected, ids
    groups = [re.sub(r"-\d+$", "", i) for i in fields[3:]]
    assert groups == sorted(groups, key=["regel-afnemers", "regel-gegevenssets", "regel-headers"].index), ids
    assert {"regel-afnemers", "regel-gegevenssets", "regel-headers"} <= set(groups), ids
    controls = page.locator("#regel-form").locator("input:not([type=hidden]), textarea")
    assert len(fields) == await controls.count(), ids  # every field is reached, none skipped
    for before, after in itertools.pairwise(stops):
        same_line = abs(after["top"] - before["top"]) < max(before["height"], after["height"])
        assert after["left"] > before["left"] if same_line else after["top"] > before["top"], (before, after)


async def test_the_admin_changes_a_limit(visit: Tab) -> None:
    tab = await visit()
    await tab.login(TENANT)
    page = tab.page
    base = tab.portal.url(f"/t/{TENANT}")
    await page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Limieten").click()
    await page.wait_for_url(f"{base}/limieten")
    burst = page.get_by_label("Piek (burst), per medewerker")
    await expect(burst).to_have_value("20")  # tenants/amsterdam.toml
    await burst.fill("25")
    await page.get_by_role("button", name="Limieten opslaan").click()
    await page.wait_for_url(re.compile(r".*/limieten\?.+"))
    await expect(page.get_by_role("status")).to_have_text("De limieten zijn opgeslagen.")
    await expect(page.get_by_label("Piek (burst), per medewerker")).to_have_value("25")
    current = page.get_by_role("table", name="Limieten die nu gelden")
    await expect(current.get_by_role("row").filter(has_text="Per medewerker")).to_contain_text("piek 25")
    await tab.check("06-limieten")

    # And the audit has it, with the old and the new value.
    await page.goto(f"{base}/audit")
    await page.get_by_label("Onderdeel").select_option(label="Limiet")
    await page.get_by_role("button", name="Filteren").click()
    await page.wait_for_url(re.compile(r".*onderdeel=limit.*"))
    entry = page.get_by_role("table", name=re.compile("^Wijzigingen")).get_by_role("row").nth(1)
    await entry.get_by_text("Toon voor en na").click()
    diffs = entry.locator("pre.diff")
    await expect(diffs).to_have_count(2)
    await expect(diffs.nth(0)).to_contain_text("20")
    await expect(diffs.nth(1)).to_contain_text("25")
    await tab.check("07b-audit-limiet")


async def test_a_file_managed_tenant_is_read_only(visit: Tab) -> None:
    tab = await visit()
    await tab.login(FILE_TENANT)
    page = tab.page
    await page.goto(tab.portal.url(f"/t/{FILE_TENANT}/toegang"))
    await expect(page.get_by_text(READ_ONLY)).to_be_visible()
    assert await page.get_by_role("link", name="Nieuwe regel").count() == 0
    for name in ("Opslaan", "Verwijderen", "Koppeling toevoegen"):
        assert await page.get_by_role("button", name=re.compile(f"^{name}")).count() == 0, name
    assert await page.locator("main form[method=post]").count() == 0
    await tab.check("02b-toegang-bestand")

    await page.get_by_role("link", name="Bekijken regel burgerzaken").click()
    await page.wait_for_url(re.compile(r".*/toegang/burgerzaken$"))
    await expect(page.get_by_text(READ_ONLY)).to_be_visible()
    assert await page.get_by_role("button", name="Opslaan").count() == 0
    assert await page.locator("main form[method=post]").count() == 0
    await tab.check("03d-toegang-regel-bestand")


async def test_another_tenants_page_is_not_found(visit: Tab) -> None:
    tab = await visit()
    await tab.login(TENANT)
    page = tab.page
    response = await page.goto(tab.portal.url(f"/t/{FILE_TENANT}/toegang"))
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await expect(page.get_by_text("Foutcode 404.")).to_be_visible()
    assert FILE_TENANT not in await page.locator("main").inner_text()
    await tab.check("08-niet-gevonden")
