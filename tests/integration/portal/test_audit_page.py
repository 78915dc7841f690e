"""The Audit page: a tenant's changes newest first, filtered by date, person and resource."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any
from urllib.parse import urlencode

import pytest

from app.admin.auth import AdminRole
from app.portal.controllers import audit as audit_page
from tests.integration.admin.conftest import AdminBroker
from tests.integration.portal.conftest import BEHEER, PortalAs, PortalClient, actor

AUDIT = "/t/gem-a/audit"
_TIME = re.compile(r'<time datetime="([^"]+)">')
_OLDER = re.compile(r'<a href="([^"]+)">Oudere wijzigingen</a>')
_ETAG = re.compile(r'name="etag" value="([^"]*)"')


async def _api_entries(admin: AdminBroker, slug: str = "gem-a") -> list[dict[str, Any]]:
    response = await admin.as_operator("GET", f"/tenants/{slug}/audit", params={"limit": 500})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def _moments(text: str) -> list[dt.datetime]:
    return [dt.datetime.fromisoformat(html.unescape(found)) for found in _TIME.findall(text)]


async def _set_limit(person: PortalClient, rate: str, burst: str) -> None:
    form = await person.get("/t/gem-a/limieten")
    found = _ETAG.search(form.text)
    assert found is not None
    saved = await person.post(
        "/t/gem-a/limieten",
        {"etag": html.unescape(found.group(1)), "limiet_tenant_rate": rate, "limiet_tenant_burst": burst},
    )
    assert saved.status_code == 303, saved.text


async def _gem_a_with_a_change(admin: AdminBroker, portal_as: PortalAs) -> PortalClient:
    """Gem-a onboarded by the operator, then one limit set by its tenant admin (`gem-a:A1`)."""
    await admin.onboard("gem-a", "000002")
    person = await portal_as(actor("gem-a", AdminRole.TENANT_ADMIN))
    await _set_limit(person, "3", "6")
    return person


async def test_the_audit_lists_every_change_newest_first_with_before_and_after(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await _gem_a_with_a_change(admin, portal_as)
    expected = await _api_entries(admin)

    page = await person.get(AUDIT)

    assert page.status_code == 200
    shown = _moments(page.text)
    assert len(shown) == len(expected)
    assert shown == sorted(shown, reverse=True)
    assert "gem-a:A1" in page.text and "beheerder" in page.text
    assert "operator:op-1" in page.text and "Toegangsregel" in page.text
    assert "<details>" in page.text and "<strong>Voor</strong>" in page.text
    assert "Bestond nog niet." in page.text  # the onboarding added everything
    month = audit_page.dutch_moment(dt.datetime.fromisoformat(expected[0]["recorded_at"])).split(" ")[1]
    assert month in page.text  # a Dutch date
    # The afnemer's secret is a fingerprint in the audit; the plain one is nowhere.
    assert "sha256:" in page.text
    assert "dev-only-secret-000002" not in page.text


async def test_the_resource_filter_narrows_the_list(admin: AdminBroker, portal_as: PortalAs) -> None:
    person = await _gem_a_with_a_change(admin, portal_as)

    limits = await person.get(f"{AUDIT}?onderdeel=limit")
    rules = await person.get(f"{AUDIT}?onderdeel=rule")

    assert len(_moments(limits.text)) == 1
    assert '<option value="limit" selected>' in limits.text
    assert "gem-a:A1" in limits.text and "operator:op-1" not in limits.text
    assert len(_moments(rules.text)) == 1
    assert "burgerzaken" in rules.text and "gem-a:A1" not in rules.text
    unknown = await person.get(f"{AUDIT}?onderdeel=schoenmaat")
    assert unknown.status_code == 400
    assert 'id="onderdeel-error"' in unknown.text


async def test_the_date_filter_counts_whole_days_in_amsterdam(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await _gem_a_with_a_change(admin, portal_as)
    entries = await _api_entries(admin)
    day = dt.datetime.fromisoformat(entries[0]["recorded_at"]).astimezone(audit_page.ZONE).date()
    on_that_day = [
        e
        for e in entries
        if dt.datetime.fromisoformat(e["recorded_at"]).astimezone(audit_page.ZONE).date() == day
    ]
    before, after = (day - dt.timedelta(days=1)).isoformat(), (day + dt.timedelta(days=1)).isoformat()

    that_day = await person.get(f"{AUDIT}?{urlencode({'van': day.isoformat(), 'tot': day.isoformat()})}")
    earlier = await person.get(f"{AUDIT}?tot={before}")
    later = await person.get(f"{AUDIT}?van={after}")

    assert len(_moments(that_day.text)) == len(on_that_day) > 0
    assert _moments(earlier.text) == [] and "Geen wijzigingen gevonden met dit filter." in earlier.text
    assert _moments(later.text) == []
    backwards = await person.get(f"{AUDIT}?van={after}&tot={before}")
    assert backwards.status_code == 400
    assert 'id="tot-error"' in backwards.text and 'href="#tot"' in backwards.text
    nonsense = await person.get(f"{AUDIT}?van=gisteren")
    assert nonsense.status_code == 400 and 'id="van-error"' in nonsense.text


async def test_the_person_filter_matches_part_of_the_name(admin: AdminBroker, portal_as: PortalAs) -> None:
    person = await _gem_a_with_a_change(admin, portal_as)
    entries = await _api_entries(admin)
    by_operator = [e for e in entries if e["actor"] == "operator:op-1"]

    operator = await person.get(f"{AUDIT}?persoon=op-1")
    admin_only = await person.get(f"{AUDIT}?persoon=a1")  # case does not matter

    assert len(_moments(operator.text)) == len(by_operator) > 1
    assert "gem-a:A1" not in operator.text
    assert len(_moments(admin_only.text)) == 1
    assert "operator:op-1" not in admin_only.text
    assert 'value="a1"' in admin_only.text  # the filter stays filled in


@pytest.mark.parametrize("persoon", ["", "op-1"])
async def test_older_changes_are_a_page_further(
    admin: AdminBroker, portal_as: PortalAs, monkeypatch: pytest.MonkeyPatch, persoon: str
) -> None:
    person = await _gem_a_with_a_change(admin, portal_as)
    await _set_limit(person, "4", "8")
    entries = await _api_entries(admin)
    wanted = [e for e in entries if persoon in e["actor"]]
    monkeypatch.setattr(audit_page, "_PAGE", 2)

    seen: list[dt.datetime] = []
    path: str | None = f"{AUDIT}?persoon={persoon}" if persoon else AUDIT
    while path is not None:
        page = await person.get(path)
        assert page.status_code == 200
        moments = _moments(page.text)
        assert len(moments) <= 2
        seen += moments
        older = _OLDER.search(page.text)
        path = html.unescape(older.group(1)).removeprefix(BEHEER) if older else None
        if path is not None:
            assert "Naar de nieuwste wijzigingen" in (await person.get(path)).text
    assert seen == [dt.datetime.fromisoformat(e["recorded_at"]) for e in wanted]


async def test_a_cursor_the_page_did_not_give_is_refused(admin: AdminBroker, portal_as: PortalAs) -> None:
    person = await _gem_a_with_a_change(admin, portal_as)
    assert (await person.get(f"{AUDIT}?verder=niet-van-ons")).status_code == 400


async def test_the_operator_reads_a_file_managed_tenant_s_audit(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    operator = await portal_as(actor(None, AdminRole.OPERATOR, subject="op-1"))
    page = await operator.get("/t/bestand/audit")
    assert page.status_code == 200
    assert len(_moments(page.text)) == len(await _api_entries(admin, "bestand")) > 0
    assert "tenants apply" in page.text and "tenantbestand" in page.text
    assert 'method="post"' not in page.text.split("<main", 1)[1]  # read-only


async def test_another_tenant_s_audit_is_not_found(admin: AdminBroker, portal_as: PortalAs) -> None:
    await admin.onboard("gem-a", "000002")
    other = await portal_as(actor("bestand", AdminRole.TENANT_ADMIN))
    assert (await other.get(AUDIT)).status_code == 404
    assert (await other.get(f"{AUDIT}?persoon=op-1")).status_code == 404


async def test_a_privacy_officer_without_the_admin_role_is_refused(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("gem-a", "000002")
    officer = await portal_as(actor("gem-a", AdminRole.PRIVACY_OFFICER, subject="P1"))
    assert (await officer.get(AUDIT)).status_code == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"van": "0001-01-01"}, "van"),  # midnight in Amsterdam then is before year 1 in UTC
        ({"van": "1899-12-31"}, "van"),
        ({"tot": "9999-12-31"}, "tot"),  # the day after does not exist
        ({"tot": "9999-01-01"}, "tot"),
        ({"van": "0001-01-01", "tot": "9999-12-31"}, "van"),
    ],
    ids=["year-1", "before-1900", "last-day", "year-9999", "both"],
)
async def test_a_date_outside_the_years_the_filter_takes_is_400_next_to_its_field(
    admin: AdminBroker, portal_as: PortalAs, query: dict[str, str], field: str
) -> None:
    await admin.onboard("gem-a", "000002")
    person = await portal_as(actor("gem-a", AdminRole.TENANT_ADMIN))

    page = await person.get(f"{AUDIT}?{urlencode(query)}")

    assert page.status_code == 400, page.text
    message = "Vul een datum in tussen 1 januari 1900 en 31 december 9998."
    assert f'<p class="field-error" id="{field}-error">{message}</p>' in page.text
    assert f'href="#{field}"' in page.text
    assert all(f'value="{value}"' in page.text for value in query.values())  # what was typed stays


async def test_the_first_and_last_day_the_filter_takes_are_read(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await _gem_a_with_a_change(admin, portal_as)
    page = await person.get(f"{AUDIT}?{urlencode({'van': '1900-01-01', 'tot': '9998-12-31'})}")
    assert page.status_code == 200, page.text
    assert len(_moments(page.text)) == len(await _api_entries(admin))
