"""The Inzage page: the privacy officer's protocolled inzage for a BSN (only ever in a POST body),
its CSV and printable versions (each an inzage of its own), and the chain status."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from app.admin.auth import AdminActor, AdminRole
from app.admin.controllers.privacy import ChainStatus
from app.portal.controllers import inzage
from app.protocol import InzageEntry
from tests.conftest import LogCapture
from tests.integration.admin.conftest import PERSONEN, AdminBroker, bearer
from tests.integration.admin.registers import protocol_rows
from tests.integration.portal.conftest import PortalAs, PortalClient, actor

BSN = "999993653"  # Suzanne Moulin, born 1985-12-01, in the sandbox's test set
TENANT = "bestand"  # AfnemerID 000001, every employee may use everything
PAGE = f"/t/{TENANT}/inzage"
POSTS = (PAGE, f"{PAGE}/csv", f"{PAGE}/afdruk")
RAADPLEEG = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [BSN], "fields": ["naam"]}
ZOEK = {
    "type": "ZoekMetGeslachtsnaamEnGeboortedatum",
    "geslachtsnaam": "Moulin",
    "geboortedatum": "1985-12-01",
    "fields": ["naam", "burgerservicenummer"],
}
_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)


async def _officer_client(portal_as: PortalAs, tenant: str = TENANT) -> PortalClient:
    return await portal_as(actor(tenant, AdminRole.PRIVACY_OFFICER, subject="fg-1"))


async def _consult_and_find(admin: AdminBroker) -> None:
    """An employee of the tenant consults the person by BSN, then finds her with a search."""
    headers = {
        **bearer(admin.parties.tenant(TENANT, employee="E7")),
        "x-doelbinding": "Bijstandsverlening",
        "x-verwerking": "Heronderzoek",
    }
    for body in (RAADPLEEG, ZOEK):
        response = await admin.client.post(PERSONEN, json=body, headers=headers)
        assert response.status_code == 200, response.text


async def _inzage_records(url: str) -> list[asyncpg.Record]:
    return [row for row in await protocol_rows(url, TENANT) if row["api"] == "inzage"]


def _title(response: httpx.Response) -> str:
    found = _TITLE.search(response.text)
    assert found is not None
    return found.group(1)


# -- the inzage -----------------------------------------------------------------------------------


async def test_the_officer_sees_who_consulted_or_found_the_person(
    admin: AdminBroker, admin_database: str, portal_as: PortalAs
) -> None:
    await _consult_and_find(admin)
    officer = await _officer_client(portal_as)

    form = await officer.get(PAGE)
    assert form.status_code == 200, form.text
    assert 'id="inzage-form"' in form.text and 'for="bsn"' in form.text
    assert "ook deze inzage wordt vastgelegd" in form.text
    before = await protocol_rows(admin_database, TENANT)

    response = await officer.post(PAGE, {"bsn": BSN, "from": "", "to": ""})

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert BSN in page and BSN not in _title(response)
    for expected in (
        "000001",
        "Bijstandsverlening",
        "Heronderzoek",
        "Medewerker: E7",
        "RaadpleegMetBurgerservicenummer",
        "ZoekMetGeslachtsnaamEnGeboortedatum",
        "Geraadpleegd",
        "Gevonden bij een zoekvraag",
        "Gezocht op: geboortedatum, geslachtsnaam",
        "Deze inzage is vastgelegd",
    ):
        assert expected in page, expected
    assert "Moulin" not in page  # a search's values are never shown: they may name other people
    consulted_at = before[0]["occurred_at"].astimezone(ZoneInfo("Europe/Amsterdam"))
    assert consulted_at.strftime("%d-%m-%Y %H:%M") in page  # Dutch time
    # The download forms carry the BSN in hidden fields, with the form token.
    assert page.count(f'name="bsn" value="{BSN}"') == 2
    assert (
        'action="/beheer/t/bestand/inzage/csv"' in page and 'action="/beheer/t/bestand/inzage/afdruk"' in page
    )

    after = await protocol_rows(admin_database, TENANT)
    (record,) = after[len(before) :]  # exactly one new record: this inzage's own
    assert record["api"] == "inzage"
    assert (record["subject"], record["employee"]) == ("fg-1", "fg-1")
    assert [list(p) for p in record["persons"]] == [[BSN, "consulted"]]


async def test_the_csv_download_has_the_header_row_and_the_entries(
    admin: AdminBroker, admin_database: str, portal_as: PortalAs
) -> None:
    await _consult_and_find(admin)
    officer = await _officer_client(portal_as)
    before = len(await _inzage_records(admin_database))

    response = await officer.post(f"{PAGE}/csv", {"bsn": BSN, "from": "", "to": ""})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="inzage.csv"'
    assert response.headers["cache-control"] == "no-store"
    lines = response.text.splitlines()
    assert lines[0] == ",".join(InzageEntry.__struct_fields__)
    assert len(lines) == 3  # the header row, the consultation and the search
    assert "consulted" in lines[1] and "found" in lines[2]
    assert all("000001" in line and "Bijstandsverlening" in line for line in lines[1:])
    assert len(await _inzage_records(admin_database)) == before + 1  # the download is an inzage too


async def test_the_printable_version_is_a_letter_for_the_citizen(
    admin: AdminBroker, admin_database: str, portal_as: PortalAs
) -> None:
    await _consult_and_find(admin)
    officer = await _officer_client(portal_as)
    today = dt.datetime.now(dt.UTC).date()
    period = {
        "from": (today - dt.timedelta(days=1)).isoformat(),
        "to": (today + dt.timedelta(days=1)).isoformat(),
    }
    before = len(await _inzage_records(admin_database))

    response = await officer.post(f"{PAGE}/afdruk", {"bsn": BSN, **period})

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert '<h1 id="overzicht">Overzicht van verstrekkingen uit de BRP</h1>' in page
    assert f"{TENANT} (test)" in page  # the organisation's name
    assert f"tot en met {today.day} " in page  # `to` is excluded: the day before is the last
    assert "Opgesteld op" in page and str(dt.datetime.now(ZoneInfo("Europe/Amsterdam")).year) in page
    assert "Geraadpleegd" in page and "Gevonden bij een zoekvraag" in page
    assert 'class="no-print notice"' in page
    assert BSN not in _title(response)
    assert len(await _inzage_records(admin_database)) == before + 1


async def test_each_inzage_adds_exactly_one_record_and_the_next_one_shows_it(
    admin: AdminBroker, admin_database: str, portal_as: PortalAs
) -> None:
    officer = await _officer_client(portal_as)
    for path in POSTS:
        before = len(await protocol_rows(admin_database, TENANT))
        response = await officer.post(path, {"bsn": BSN})
        assert response.status_code == 200, (path, response.text)
        after = await protocol_rows(admin_database, TENANT)
        assert [row["api"] for row in after[before:]] == ["inzage"], path
    # The third inzage read the protocol before its own record: it shows the first two.
    assert response.text.count("Inzage door de functionaris gegevensbescherming") == 2


async def test_no_bsn_in_any_url_location_title_or_log_line(
    logs: LogCapture, admin: AdminBroker, portal_as: PortalAs
) -> None:
    await _consult_and_find(admin)
    officer = await _officer_client(portal_as)
    responses = [await officer.get(PAGE)]
    responses += [await officer.post(path, {"bsn": BSN}) for path in POSTS]
    responses.append(await officer.post(PAGE, {"bsn": BSN + "0"}))  # invalid: re-rendered with it
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 400]
    for response in responses:
        for seen in (response, *response.history):
            assert BSN not in str(seen.request.url)
            assert BSN not in seen.headers.get("location", "")
        if response.headers["content-type"].startswith("text/html"):
            assert BSN not in _title(response)
    assert BSN not in logs.text


# -- refusals -------------------------------------------------------------------------------------


_NOT_A_BSN = "Een BSN bestaat uit 9 cijfers."
_OUT_OF_RANGE = "Vul een datum in tussen 1 januari 1900 en 31 december 9998."


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"bsn": "12345678"}, "bsn", _NOT_A_BSN),
        ({"bsn": "99999365a"}, "bsn", _NOT_A_BSN),
        ({"bsn": ""}, "bsn", _NOT_A_BSN),
        ({"bsn": f"{BSN}\n"}, "bsn", _NOT_A_BSN),
        (
            {"bsn": BSN, "from": "2026-02-01", "to": "2026-01-01"},
            "to",
            "De einddatum moet na de begindatum liggen.",
        ),
        ({"bsn": BSN, "from": "gisteren"}, "from", "Vul een geldige datum in."),
        ({"bsn": BSN, "to": "0001-01-01"}, "to", _OUT_OF_RANGE),
        ({"bsn": BSN, "from": "0001-01-01"}, "from", _OUT_OF_RANGE),
        ({"bsn": BSN, "to": "9999-12-31"}, "to", _OUT_OF_RANGE),
    ],
    ids=[
        "eight-digits",
        "not-digits",
        "empty",
        "trailing-newline",
        "to-before-from",
        "from-not-a-date",
        "to-year-1",
        "from-year-1",
        "to-year-9999",
    ],
)
async def test_an_invalid_form_is_400_with_the_message_next_to_the_field_and_no_record(
    admin: AdminBroker,
    admin_database: str,
    portal_as: PortalAs,
    form: dict[str, str],
    field: str,
    message: str,
) -> None:
    officer = await _officer_client(portal_as)
    before = len(await protocol_rows(admin_database, TENANT))

    response = await officer.post(PAGE, form)

    assert response.status_code == 400, response.text
    assert f'<p class="field-error" id="{field}-error">' in response.text
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', response.text, re.DOTALL)
    assert 'role="alert"' in response.text and f'href="#{field}"' in response.text
    # The admin API's rule, in plain Dutch for a person (the API keeps RvIG's words).
    assert f'<p class="field-error" id="{field}-error">{message}</p>' in response.text
    assert "patroon" not in response.text and "Waarde ligt niet na" not in response.text
    assert "RFC3339" not in response.text
    assert len(await protocol_rows(admin_database, TENANT)) == before


async def test_the_admin_api_keeps_the_brp_apis_words_for_a_bsn_and_a_period(admin: AdminBroker) -> None:
    """Only the portal speaks plain Dutch: the API answers as the BRP APIs do."""
    officer = bearer(admin.parties.privacy_officer(TENANT))
    reasons = []
    for body in ({"bsn": "12345678"}, {"bsn": BSN, "from": "2026-02-01", "to": "2026-01-01"}):
        response = await admin.client.post(f"/admin/v1/tenants/{TENANT}/inzage", json=body, headers=officer)
        assert response.status_code == 400, response.text
        reasons += [param["reason"] for param in response.json()["invalidParams"]]
    assert reasons == ["Waarde voldoet niet aan patroon ^[0-9]{9}$.", "Waarde ligt niet na from."]


@pytest.mark.parametrize("path", POSTS)
async def test_a_period_outside_the_years_the_form_takes_is_refused_before_anything_is_recorded(
    admin: AdminBroker, admin_database: str, portal_as: PortalAs, path: str
) -> None:
    officer = await _officer_client(portal_as)
    before = len(await protocol_rows(admin_database, TENANT))

    response = await officer.post(path, {"bsn": BSN, "from": "0001-01-01", "to": "9999-12-31"})

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/html")
    for field in ("from", "to"):
        assert f'<p class="field-error" id="{field}-error">{_OUT_OF_RANGE}</p>' in response.text
    assert len(await protocol_rows(admin_database, TENANT)) == before  # refused: nobody was looked up


async def test_the_first_and_last_day_the_form_takes_are_an_inzage(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    officer = await _officer_client(portal_as)
    response = await officer.post(f"{PAGE}/afdruk", {"bsn": BSN, "from": "1900-01-01", "to": "9998-12-31"})
    assert response.status_code == 200, response.text
    assert "van 1 januari 1900 tot en met 30 december 9998" in response.text


@pytest.mark.parametrize("path", POSTS[1:])
async def test_a_download_with_an_invalid_bsn_shows_the_form_and_records_nothing(
    admin: AdminBroker, admin_database: str, portal_as: PortalAs, path: str
) -> None:
    officer = await _officer_client(portal_as)
    before = len(await protocol_rows(admin_database, TENANT))
    response = await officer.post(path, {"bsn": "12345678"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert '<p class="field-error" id="bsn-error">' in response.text
    assert len(await protocol_rows(admin_database, TENANT)) == before


@pytest.mark.parametrize("path", POSTS)
async def test_a_post_without_the_form_token_is_refused_and_records_nothing(
    admin: AdminBroker, admin_database: str, portal_as: PortalAs, path: str
) -> None:
    officer = await _officer_client(portal_as)
    before = len(await protocol_rows(admin_database, TENANT))
    refused = await officer.post(path, {"csrf": "not-the-token", "bsn": BSN})
    other_origin = await officer.post(path, {"bsn": BSN}, headers={"Origin": "https://evil.example"})
    assert (refused.status_code, other_origin.status_code) == (403, 403)
    assert "Formulier geweigerd" in refused.text and BSN not in refused.text
    assert len(await protocol_rows(admin_database, TENANT)) == before


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (actor(TENANT, AdminRole.TENANT_ADMIN), 403),  # a tenant admin is not the privacy officer
        (actor(None, AdminRole.OPERATOR, subject="op-1"), 403),  # never the operator
        (actor("ander", AdminRole.PRIVACY_OFFICER, AdminRole.TENANT_ADMIN), 404),  # another tenant's
    ],
    ids=["tenant-admin", "operator", "other-tenants-officer"],
)
async def test_the_inzage_is_for_the_tenants_own_privacy_officer_only(
    admin: AdminBroker,
    admin_database: str,
    portal_as: PortalAs,
    who: AdminActor,
    status: int,
) -> None:
    await admin.onboard("ander", "000002")
    await _consult_and_find(admin)
    person = await portal_as(who)
    before = len(await protocol_rows(admin_database, TENANT))

    responses = [await person.get(PAGE)] + [await person.post(path, {"bsn": BSN}) for path in POSTS]

    assert [r.status_code for r in responses] == [status] * 4
    for response in responses:
        assert BSN not in response.text and "Bijstandsverlening" not in response.text
        assert "Controle van het protocol" not in response.text
    assert len(await protocol_rows(admin_database, TENANT)) == before  # a refusal processes nobody


# -- chain status ---------------------------------------------------------------------------------


async def test_the_chain_of_a_fresh_tenant_is_in_order(admin: AdminBroker, portal_as: PortalAs) -> None:
    await admin.onboard("nieuw", "000002")
    officer = await _officer_client(portal_as, "nieuw")

    response = await officer.get("/t/nieuw/inzage")

    assert response.status_code == 200, response.text
    assert "Controle van het protocol" in response.text
    assert '<span class="badge badge--ok">in orde</span>' in response.text
    assert "<dt>Gecontroleerde records</dt>\n    <dd>0</dd>" in response.text


async def test_the_chains_counts_are_written_as_dutch_readers_write_them(
    admin: AdminBroker, portal_as: PortalAs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A verify of 1234 records, as the admin API reports it (writing that many would be slow).
    async def verified(request: Any, slug: str) -> ChainStatus:
        return ChainStatus(
            tenant=slug, state="ok", records=1234, head="h", head_seq=1234, head_hash="ab" * 32
        )

    monkeypatch.setattr(inzage, "tenant_chain_status", verified)
    officer = await _officer_client(portal_as)

    response = await officer.get(PAGE)

    assert response.status_code == 200, response.text
    assert "<dt>Gecontroleerde records</dt>\n    <dd>1.234</dd>" in response.text


async def test_a_tampered_chain_is_shown_broken_with_its_first_break(
    admin: AdminBroker, admin_database: str, portal_as: PortalAs
) -> None:
    await _consult_and_find(admin)
    officer = await _officer_client(portal_as)
    assert "in orde" in (await officer.get(PAGE)).text
    owner = await asyncpg.connect(admin_database)
    try:
        # What an owner bent on tampering could do: triggers off, one record changed.
        await owner.execute("SET session_replication_role = replica")
        await owner.execute(
            "UPDATE broker.protocol_records SET doelbinding = 'iets anders' WHERE tenant = $1 AND seq = 2",
            TENANT,
        )
    finally:
        await owner.close()

    response = await officer.get(PAGE)

    assert response.status_code == 200
    assert '<span class="badge badge--error">gebroken</span>' in response.text
    assert "Bij record 2: een record is gewijzigd" in response.text


# -- the protocol cannot be written -----------------------------------------------------------------


async def test_an_inzage_whose_record_cannot_be_committed_shows_nothing(
    admin: AdminBroker, admin_database: str, portal_as: PortalAs
) -> None:
    await _consult_and_find(admin)
    officer = await _officer_client(portal_as)
    owner = await asyncpg.connect(admin_database)
    try:
        await owner.execute("REVOKE INSERT ON broker.protocol_records FROM brp_app")
        refused = await officer.post(PAGE, {"bsn": BSN})
    finally:
        await owner.execute("GRANT INSERT ON broker.protocol_records TO brp_app")
        await owner.close()
    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("text/html")
    assert (
        BSN not in refused.text and "000001" not in refused.text and "Bijstandsverlening" not in refused.text
    )
    recovered = await officer.post(PAGE, {"bsn": BSN})
    assert recovered.status_code == 200 and "Bijstandsverlening" in recovered.text
