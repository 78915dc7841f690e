"""The privacy officer's inzage in a real browser: a request through the gateway about a BSN, then
the officer finds it, downloads it as CSV and opens the printable overview, while the BSN never
appears in an address, a page title or the tab's history; an invalid BSN is told next to the field."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.browser.conftest import SCREENSHOTS, Portal, Visit
from tests.integration.conftest import dev_token

# Imported like this so that without Playwright the module is skipped, as the conftest says why.
expect = pytest.importorskip("playwright.async_api").expect

Tab = Callable[[], Awaitable[Visit]]

BSN = "999993653"  # a person of the sandbox's test data
PERSONEN = "/haalcentraal/api/brp/personen"
EMPLOYEE = "B-0042"
DOELBINDING = "Burgerzaken: aanvraag reisdocument"
BSN_LABEL = "Burgerservicenummer (BSN)"


async def _consult(portal: Portal) -> None:
    """An employee of amsterdam asks the broker about BSN under the burgerzaken rule."""
    token = dev_token(portal.sandbox, "amsterdam", employee=EMPLOYEE, roles=("burgerzaken",))
    headers = {"Authorization": f"Bearer {token}", "x-doelbinding": DOELBINDING}
    body = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [BSN], "fields": ["naam"]}
    async with httpx.AsyncClient(base_url=portal.base_url, timeout=30) as client:
        response = await client.post(PERSONEN, json=body, headers=headers)
    assert response.status_code == 200, response.text


def _addresses_of(tab: Visit) -> list[str]:
    """Every address the tab navigates to or requests from now on (its history and more)."""
    seen: list[str] = []
    page = tab.page
    page.on("framenavigated", lambda frame: seen.append(frame.url) if frame == page.main_frame else None)
    page.on("request", lambda request: seen.append(request.url))
    return seen


async def _assert_no_bsn_in_address(tab: Visit) -> None:
    assert BSN not in tab.page.url
    assert BSN not in await tab.page.title()


async def test_the_privacy_officer_sees_who_consulted_a_bsn(visit: Tab, portal: Portal) -> None:
    await _consult(portal)
    tab = await visit()
    page = tab.page
    addresses = _addresses_of(tab)
    await tab.login("amsterdam", role="privacy-officer", employee="P1")

    # The form, and the protocol's hash chain checked as intact.
    assert page.url == portal.url("/t/amsterdam/inzage")
    chain = page.get_by_role("region", name="Controle van het protocol")
    await expect(chain.get_by_text("in orde", exact=True)).to_be_visible()
    await tab.check("10-inzage")

    # The results: the gateway's request, who asked it, under which AfnemerID and why.
    await page.get_by_label(BSN_LABEL).fill(BSN)
    await page.get_by_role("button", name="Inzage opvragen").click()
    table = page.get_by_role("table", name="Verstrekkingen over dit burgerservicenummer")
    await expect(table).to_be_visible()
    consulted = table.get_by_role("row").filter(has_text=DOELBINDING)
    await expect(consulted).to_have_count(1)
    for text in (f"Medewerker: {EMPLOYEE}", "000101", "Personen bevragen", "Geraadpleegd"):
        await expect(consulted).to_contain_text(text)
    await expect(page.get_by_role("status")).to_contain_text("vastgelegd in het protocol")
    assert await page.title() == "Inzage · amsterdam · BRP-beheerportaal"
    await _assert_no_bsn_in_address(tab)
    await tab.check("11-inzage-resultaat")

    # The CSV download: the header row and the entry.
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Download als CSV").click()
    download = await download_info.value
    assert download.suggested_filename == "inzage.csv"
    rows = _csv_rows(Path(await download.path()))
    entry = next(row for row in rows if row["doelbinding"] == DOELBINDING)
    assert entry["employee"] == EMPLOYEE and entry["afnemer_id"] == "000101"
    assert entry["tenant"] == "amsterdam" and entry["api"] == "personen"
    await _assert_no_bsn_in_address(tab)

    # The printable overview; on paper without the portal's menu.
    await page.get_by_role("button", name="Afdrukbare versie").click()
    await page.wait_for_url(portal.url("/t/amsterdam/inzage/afdruk"))
    overview = page.get_by_role("table", name="Verstrekkingen, de oudste bovenaan")
    await expect(overview.get_by_role("row").filter(has_text=DOELBINDING)).to_have_count(1)
    await _assert_no_bsn_in_address(tab)
    await tab.check("12-inzage-afdruk")
    menu = page.get_by_role("navigation", name="Hoofdmenu")
    await expect(menu).to_be_visible()
    await page.emulate_media(media="print")
    await expect(menu).to_be_hidden()
    await expect(page.get_by_role("button", name="Uitloggen")).to_be_hidden()
    await expect(page.get_by_text("Deze pagina is bedoeld om af te drukken")).to_be_hidden()
    await expect(overview).to_be_visible()
    await page.screenshot(path=str(_screenshot("12-inzage-afdruk-papier")), full_page=True)

    assert addresses, "the listeners saw the tab's navigations"
    assert [address for address in addresses if BSN in address] == []


async def test_an_invalid_bsn_is_told_next_to_the_field(visit: Tab, portal: Portal) -> None:
    tab = await visit()
    page = tab.page
    await tab.login("amsterdam", role="privacy-officer", employee="P1")
    await page.get_by_label(BSN_LABEL).fill("12345678")
    async with page.expect_response(
        lambda response: response.url == portal.url("/t/amsterdam/inzage")
    ) as sent:
        await page.get_by_role("button", name="Inzage opvragen").click()
    assert (await sent.value).status == 400
    field = page.get_by_label(BSN_LABEL)
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(field).to_have_value("12345678")
    error = page.locator("#bsn-error")
    await expect(error).to_have_text("Een BSN bestaat uit 9 cijfers.")  # plain Dutch, not a pattern
    assert "bsn-error" in (await field.get_attribute("aria-describedby") or "")
    summary = page.get_by_role("alert")
    await expect(summary.get_by_role("link", name=BSN_LABEL)).to_have_attribute("href", "#bsn")
    await expect(page.get_by_role("table")).to_have_count(0)
    assert "12345678" not in page.url
    await tab.check("13-inzage-ongeldig")


def _csv_rows(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    header = text.splitlines()[0].split(",")
    assert header[:4] == ["tenant", "occurred_at", "role", "employee"]
    assert {"afnemer_id", "doelbinding", "correlation_id"} <= set(header)
    return list(csv.DictReader(io.StringIO(text)))


def _screenshot(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
