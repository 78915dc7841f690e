"""Overzicht: usage over 30 days as charts and tables, and the connection to RvIG as the broker sees it."""

from __future__ import annotations

import datetime as dt
import re
import ssl
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from cryptography import x509

from app.admin.auth import AdminRole
from app.dev import DEV_OIN
from app.portal.controllers.overview import certificate_status
from app.portal.dutch import dutch_date, dutch_day, dutch_number
from app.upstream import OinIdentity
from tests.integration.admin.conftest import PERSONEN, RAADPLEEG, AdminBroker, bearer
from tests.integration.conftest import SandboxControl
from tests.integration.portal.conftest import BEHEER, PortalAs, actor

HISTORIE = "/haalcentraal/api/brphistorie/verblijfplaatshistorie"
HISTORIE_BODY = {
    "type": "RaadpleegMetPeildatum",
    "burgerservicenummer": "999993653",
    "peildatum": "2020-01-01",
}
BSN = "999993653"
GEM_A, AFNEMER_A = "gem-a", "000004"
GEM_B, AFNEMER_B = "gem-b", "000005"
_FIGURE = re.compile(r'<p class="figure">([^<]*)</p>')


class _Tables(HTMLParser):
    """The page's tables by id: each row as the texts of its cells (th and td)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("id") or "", [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in {"th", "td"} and self._table is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"th", "td"} and self._table is not None and self._cell is not None:
            self._table[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _busy_rows(table: list[list[str]]) -> list[list[str]]:
    """The day rows (header and total row left out) that count anything."""
    return [row for row in table[1:-1] if row[-1] != "0"]


@pytest.fixture
async def gem_a(admin: AdminBroker) -> str:
    """An API-managed SaaS gemeente whose rule allows the Personen API only."""
    await admin.onboard(GEM_A, AFNEMER_A)
    return GEM_A


@pytest.fixture
async def rvig(sandbox_control: SandboxControl) -> AsyncIterator[SandboxControl]:
    """The sandbox without faults before and after the test."""
    sandbox_control.reset()
    yield sandbox_control
    sandbox_control.reset()


async def _send(admin: AdminBroker, slug: str, path: str, body: object, status: int) -> None:
    headers = {
        **bearer(admin.parties.tenant(slug, "burgerzaken", employee="medewerker-7")),
        "x-doelbinding": "test",
    }
    response = await admin.client.post(path, json=body, headers=headers)
    assert response.status_code == status, response.text


async def test_the_usage_of_each_afnemer_is_drawn_and_tabled(
    admin: AdminBroker, gem_a: str, rvig: SandboxControl, portal_as: PortalAs
) -> None:
    for _ in range(3):
        await _send(admin, gem_a, PERSONEN, RAADPLEEG, 200)
    await _send(admin, gem_a, HISTORIE, HISTORIE_BODY, 403)  # the rule allows Personen only
    rvig.fault("too_many_requests", retry_after=1, count=1)
    await _send(admin, gem_a, PERSONEN, RAADPLEEG, 429)
    rvig.fault("status", status=500, count=1)
    await _send(admin, gem_a, PERSONEN, RAADPLEEG, 502)

    person = await portal_as(actor(gem_a, AdminRole.TENANT_ADMIN))
    response = await person.get(f"/t/{gem_a}")

    assert response.status_code == 200, response.text
    html = response.text
    assert "<h1>Overzicht van Gemeente gem-a</h1>" in html
    # Cards: requests, 403, 429, failures at RvIG over the 30 days.
    assert _FIGURE.findall(html) == ["6", "1", "1", "1"]
    tables = _Tables(html).tables
    requests = tables[f"tabel-verzoeken-{AFNEMER_A}"]
    assert requests[0] == ["Dag", "Personen", "Bewoning", "Verblijfplaatshistorie", "Totaal"]
    assert len(requests) == 1 + 30 + 1  # header, 30 days, total
    [busy] = _busy_rows(requests)
    assert busy[1:] == ["5", "0", "1", "6"]
    assert requests[-1] == ["Totaal", "5", "0", "1", "6"]
    refusals = tables[f"tabel-weigeringen-{AFNEMER_A}"]
    assert refusals[0] == ["Dag", "Geweigerd (403)", "Te veel verzoeken (429)", "Storing bij RvIG", "Totaal"]
    assert _busy_rows(refusals) == [[busy[0], "1", "1", "1", "3"]]
    # The charts are inline SVG, named by their own title, with the same numbers on their bars.
    day = next(d for d in _recent_usage_days() if dutch_date(d) == busy[0])
    assert f'class="chart" role="img" aria-labelledby="verzoeken-{AFNEMER_A}-title' in html
    assert f"<title>{dutch_day(day)}: 5 Personen</title>" in html
    assert f"<title>{dutch_day(day)}: 1 Verblijfplaatshistorie</title>" in html
    assert f"<title>{dutch_day(day)}: 1 Storing bij RvIG</title>" in html
    assert html.count("<summary>Als tabel") == 2
    assert 'style="' not in html and "<style" not in html and "<script>" not in html
    assert BSN not in html and "medewerker-7" not in html  # aggregates only


async def test_a_quiet_tenant_says_so_without_empty_charts(
    admin: AdminBroker, gem_a: str, portal_as: PortalAs
) -> None:
    person = await portal_as(actor(gem_a, AdminRole.TENANT_ADMIN))
    response = await person.get(f"/t/{gem_a}")
    assert response.status_code == 200, response.text
    assert _FIGURE.findall(response.text) == ["0", "0", "0", "0"]
    assert f"AfnemerID {AFNEMER_A} · Gemeente {gem_a}" in response.text
    assert "Geen verzoeken in deze periode." in response.text
    assert "<svg" not in response.text


async def test_the_connection_shows_reachability_token_and_certificate_as_last_seen(
    admin: AdminBroker, gem_a: str, rvig: SandboxControl, portal_as: PortalAs
) -> None:
    person = await portal_as(actor(gem_a, AdminRole.TENANT_ADMIN))
    before = dt.datetime.now(dt.UTC)
    calls = rvig.token_requests(AFNEMER_A)

    fresh = await person.get(f"/t/{gem_a}")

    after = dt.datetime.now(dt.UTC)
    assert fresh.status_code == 200, fresh.text
    row = _Tables(fresh.text).tables["verbindingen"][1]
    assert row[0] == f"{AFNEMER_A} Gemeente {gem_a}"
    assert row[1] == "sandbox"
    assert row[2] == "nog niet gecontroleerd"  # the page itself never probes RvIG
    assert row[3].startswith("geen token")
    assert row[4] in {_certificate_text(admin, moment) for moment in (before, after)}
    assert rvig.token_requests(AFNEMER_A) == calls

    checked_from = dt.datetime.now(dt.UTC)
    await _send(admin, gem_a, PERSONEN, RAADPLEEG, 200)
    assert (await admin.client.get("/health/ready")).status_code == 200  # the readiness probe
    checked_to = dt.datetime.now(dt.UTC)

    seen = await person.get(f"/t/{gem_a}")

    row = _Tables(seen.text).tables["verbindingen"][1]
    assert row[2].startswith("bereikbaar Laatst gecontroleerd op ")
    # A moment is shown on the Netherlands' calendar: from 23:00 UTC (22:00 in summer) that is
    # already tomorrow's date.
    assert any(dutch_date(_dutch_day_of(moment)) in row[2] for moment in (checked_from, checked_to))
    assert row[3] == "geldig token De broker heeft een geldig token van RvIG."
    secret = next(a for a in admin.sandbox.config.afnemers if a.afnemer_id == AFNEMER_A).client_secret
    assert secret.reveal() not in seen.text and "access_token" not in seen.text


def _certificate_text(admin: AdminBroker, now: dt.datetime) -> str:
    """What the page says about the dev certificate (read from its file here) at `now`."""
    pem = admin.sandbox.pki.client(DEV_OIN).cert.read_bytes()
    not_after = x509.load_pem_x509_certificate(pem).not_valid_after_utc
    day = dutch_date(_dutch_day_of(not_after))
    days = (not_after - now).days
    return f"geldig Verloopt op {day} (over {dutch_number(days)} dagen). Certificaat dev, OIN {DEV_OIN}"


def _dutch_day_of(moment: dt.datetime) -> dt.date:
    return moment.astimezone(ZoneInfo("Europe/Amsterdam")).date()


def _recent_usage_days() -> list[dt.date]:
    """Today and yesterday as usage counts them: UTC days."""
    today = dt.datetime.now(dt.UTC).date()
    return [today - dt.timedelta(days=i) for i in range(2)]


async def test_an_admin_of_another_tenant_gets_404_and_the_operator_sees_it(
    admin: AdminBroker, gem_a: str, portal_as: PortalAs
) -> None:
    await admin.onboard(GEM_B, AFNEMER_B)
    await _send(admin, gem_a, PERSONEN, RAADPLEEG, 200)
    other = await portal_as(actor(GEM_B, AdminRole.TENANT_ADMIN))
    operator = await portal_as(actor(None, AdminRole.OPERATOR, subject="op-1"))

    refused = await other.get(f"/t/{gem_a}")
    seen = await operator.get(f"/t/{gem_a}")

    assert refused.status_code == 404
    assert AFNEMER_A not in refused.text and "Gemeente gem-a" not in refused.text
    assert seen.status_code == 200
    assert _FIGURE.findall(seen.text)[0] == "1"
    assert (await operator.get("/t/bestaat-niet")).status_code == 404


async def test_a_privacy_officer_without_the_admin_role_gets_403(
    admin: AdminBroker, gem_a: str, portal_as: PortalAs
) -> None:
    officer = await portal_as(actor(gem_a, AdminRole.PRIVACY_OFFICER))
    response = await officer.get(f"/t/{gem_a}")
    assert response.status_code == 403
    assert "Verzoeken" not in response.text


async def test_without_a_session_the_page_sends_to_the_login(admin: AdminBroker, gem_a: str) -> None:
    response = await admin.client.get(f"{BEHEER}/t/{gem_a}")
    assert response.status_code == 303
    assert response.headers["location"] == f"{BEHEER}/inloggen"


def test_numbers_and_dates_are_written_the_dutch_way() -> None:
    assert dutch_number(1234567) == "1.234.567"
    assert dutch_number(999) == "999"
    year = dt.date.today().year  # any year: the formatting is what is tested
    assert dutch_date(dt.date(year, 12, 6)) == f"6 december {year}"
    assert dutch_date(dt.date(year + 1, 3, 3)) == f"3 maart {year + 1}"


def _identity(not_after: dt.datetime) -> OinIdentity:
    return OinIdentity(
        name="dev",
        oin=DEV_OIN,
        ssl_context=ssl.create_default_context(),
        not_after=not_after,
        expiry_warning_days=30,
    )


def test_a_certificate_near_its_end_warns_and_an_expired_one_is_an_error() -> None:
    now = dt.datetime.now(dt.UTC)
    local = ZoneInfo("Europe/Amsterdam")
    soon, gone = now + dt.timedelta(days=10, hours=1), now - dt.timedelta(days=3, hours=1)
    warning = certificate_status(_identity(soon), "dev", now)
    expired = certificate_status(_identity(gone), "dev", now)
    missing = certificate_status(None, "weg", now)
    assert (warning.badge, warning.label) == ("warn", "verloopt binnenkort")
    assert warning.detail == f"Verloopt op {dutch_date(soon.astimezone(local).date())} (over 10 dagen)."
    assert (expired.badge, expired.label) == ("error", "verlopen")
    assert expired.detail == f"Verlopen op {dutch_date(gone.astimezone(local).date())} (3 dagen geleden)."
    assert (missing.badge, missing.label) == ("error", "ontbreekt")
    assert certificate_status(_identity(now + dt.timedelta(days=31)), "dev", now).badge == "ok"
