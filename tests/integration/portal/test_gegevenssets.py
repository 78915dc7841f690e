"""The Gegevenssets page: gegevenssets edited with a field picker from RvIG's catalogue, checked and
saved by the admin API's own service."""

from __future__ import annotations

import re
from typing import Any

from app.admin.auth import AdminRole
from tests.integration.admin.conftest import PERSONEN, RAADPLEEG, AdminBroker, bearer
from tests.integration.portal.conftest import (
    BEHEER,
    PortalAs,
    actor,
    audit_count,
    etag_of,
    tenant_admin,
    tenant_api,
)

PAGE = "/t/gem-a/gegevenssets"
NEW = f"{PAGE}/nieuw"
WIJKTEAM = {
    "name": "wijkteam",
    "description": "Wijkteam: adres en naam van eigen inwoners",
    "apis": ["personen"],
    "query_types": ["ZoekMetPostcodeEnHuisnummer", "RaadpleegMetBurgerservicenummer"],
    "fields": ["naam", "naam.voornamen", "naam.geslachtsnaam", "verblijfplaats.verblijfadres.postcode"],
    "parameters": ["postcode", "huisnummer", "burgerservicenummer"],
    "own_residents_gemeente": "0518",
    "inclusief_overleden_personen": "1",
    "geheimhouding": "withhold",
}


async def test_the_form_offers_rvigs_fields_as_groups_with_sub_fields(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await tenant_admin(admin, portal_as)
    form = await person.get(NEW)
    assert form.status_code == 200
    text = form.text
    assert 'id="gegevensset-form"' in text
    assert '<label for="veld-naam">Hele groep naam</label>' in text
    assert 'id="veld-naam-voornamen" name="fields" value="naam.voornamen"' in text
    assert 'id="veld-kinderen-naam-voornamen"' in text  # a sub-field of a sub-group
    assert 'value="*"' in text and "Alle velden (*)" in text
    assert 'type="search" id="veld-zoeken"' in text
    assert "data-field-search hidden" in text  # the search box appears with the script only
    assert '<script src="/beheer/static/gegevenssets.js" defer></script>' in text
    assert 'id="zoekvraag-BewoningMetPeriode"' in text
    assert 'id="parameter-postcode"' in text and 'value="inclusiefOverledenPersonen"' not in text
    assert "inOnderzoek" not in text
    # "Inclusief overleden personen" is a checkbox like the others: in a list, its label after it.
    assert re.search(
        r'<ul class="checks">\s*<li><input type="checkbox" id="set-overleden"'
        r' name="inclusief_overleden_personen"[^>]*>\s*'
        r'<label for="set-overleden">Inclusief overleden personen',
        text,
    )
    script = await person.get("/static/gegevenssets.js")
    assert script.status_code == 200 and "data-field-picker" in script.text


async def test_a_gegevensset_is_saved_as_the_admin_api_would_and_is_listed(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await tenant_admin(admin, portal_as)

    saved = await person.post(NEW, {**WIJKTEAM, "action": "save"})

    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"{BEHEER}{PAGE}?opgeslagen=wijkteam"
    stored = (await tenant_api(admin, "gem-a/gegevenssets/wijkteam")).json()
    assert stored["fields"] == ["naam", "verblijfplaats.verblijfadres.postcode"]
    assert stored["query_types"] == ["ZoekMetPostcodeEnHuisnummer", "RaadpleegMetBurgerservicenummer"]
    assert stored["own_residents_gemeente"] == "0518"
    assert stored["inclusief_overleden_personen"] is True
    assert stored["geheimhouding"] == "withhold"
    listing = await person.get(f"{PAGE}?opgeslagen=wijkteam")
    assert "De gegevensset wijkteam is opgeslagen." in listing.text
    assert "naam, verblijfplaats.verblijfadres.postcode" in listing.text

    form = await person.get(f"{PAGE}/wijkteam")
    assert 'id="veld-naam" name="fields" value="naam" checked' in form.text
    # A ticked group shows its sub-fields ticked (it allows them) and opens nothing it need not.
    assert 'id="veld-naam-voornamen" name="fields" value="naam.voornamen" checked' in form.text
    assert "Wat deze gegevensset nu toestaat" in form.text
    assert "Ja, van gemeente 0518" in form.text


async def test_a_gegevensset_is_changed_with_its_etag_and_keeps_what_the_picker_does_not_offer(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await tenant_admin(admin, portal_as)
    put = await admin.client.put(
        "/admin/v1/tenants/gem-a/gegevenssets/breed",
        json={"apis": ["personen"], "fields": ["naam.*", "geboorte"], "parameters": ["*"]},
        headers=bearer(admin.parties.admin("gem-a")),
    )
    assert put.status_code == 200, put.text
    form = await person.get(f"{PAGE}/breed")
    assert 'value="naam.*" checked' in form.text  # an extra, kept ticked
    etag = await etag_of(person, f"{PAGE}/breed")

    changed = await person.post(
        f"{PAGE}/breed",
        {
            "etag": etag,
            "apis": ["personen"],
            "query_types": ["*"],
            "fields": ["naam.*", "leeftijd"],
            "parameters": ["*"],
        },
    )
    assert changed.status_code == 303, changed.text
    assert (await tenant_api(admin, "gem-a/gegevenssets/breed")).json()["fields"] == ["leeftijd", "naam.*"]

    stale = await person.post(f"{PAGE}/breed", {"etag": etag, "apis": ["personen"], "fields": ["naam"]})
    assert stale.status_code == 412
    assert "Iemand anders heeft dit intussen gewijzigd" in stale.text
    assert 'id="veld-leeftijd" name="fields" value="leeftijd" checked' in stale.text  # the current set
    assert (await tenant_api(admin, "gem-a/gegevenssets/breed")).json()["fields"] == ["leeftijd", "naam.*"]


async def test_the_checkers_problems_are_shown_next_to_the_fields_and_nothing_is_saved(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await tenant_admin(admin, portal_as)
    audited = await audit_count(admin)

    refused = await person.post(
        NEW,
        {
            "name": "fout",
            "apis": ["bewoning"],
            "query_types": ["RaadpleegMetBurgerservicenummer"],
            "fields": ["naam"],
            "parameters": ["straat"],
            "own_residents_gemeente": "12",
        },
    )

    assert refused.status_code == 400
    text = refused.text
    assert 'id="set-velden-error"' in text and "Alleen de Personen-API heeft velden" in text
    assert 'id="set-zoekvragen-error"' in text and "hoort bij de API personen" in text
    assert 'id="set-parameters-error"' in text
    assert 'id="set-gemeente-error"' in text and "vier cijfers" in text
    assert 'aria-invalid="true" aria-describedby="set-gemeente-error set-gemeente-hint"' in text
    assert 'href="#set-velden"' in text and 'role="alert"' in text
    assert 'id="api-bewoning" name="apis" value="bewoning" checked' in text  # the choices stay
    assert (await tenant_api(admin, "gem-a/gegevenssets/fout")).status_code == 404
    assert await audit_count(admin) == audited

    bad_name = await person.post(NEW, {"name": "Fout!", "apis": ["personen"]})
    assert bad_name.status_code == 400 and 'id="set-naam-error"' in bad_name.text
    taken = await person.post(NEW, {"name": "basis", "apis": ["personen"]})
    assert taken.status_code == 409 and "Er is al een gegevensset met deze naam." in taken.text


async def test_the_preview_shows_what_the_set_allows_and_saves_nothing(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await tenant_admin(admin, portal_as)
    audited = await audit_count(admin)
    preview = await person.post(NEW, {**WIJKTEAM, "action": "preview"})
    assert preview.status_code == 200, preview.text
    assert "er is nog niets opgeslagen" in preview.text
    assert (
        "ZoekMetPostcodeEnHuisnummer" in preview.text and "parameters: huisnummer, postcode" in preview.text
    )
    assert "Ja, van gemeente 0518" in preview.text
    # Fields only for what the allowed types answer: no "zoeken op adresseerbaar object".
    assert "Bij raadplegen met burgerservicenummer:" in preview.text and "Bij zoeken:" in preview.text
    assert "adresseerbaar object" not in preview.text
    assert (await tenant_api(admin, "gem-a/gegevenssets/wijkteam")).status_code == 404
    assert await audit_count(admin) == audited


async def test_a_gegevensset_in_use_is_not_removed_and_an_unused_one_is(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await tenant_admin(admin, portal_as)
    basis = (await tenant_api(admin, "gem-a/gegevenssets/basis")).headers["ETag"]
    in_use = await person.post(f"{PAGE}/basis/verwijderen", {"etag": basis})
    assert in_use.status_code == 400
    assert "De regel burgerzaken gebruikt deze gegevensset nog." in in_use.text
    assert (await tenant_api(admin, "gem-a/gegevenssets/basis")).status_code == 200

    await person.post(NEW, {**WIJKTEAM, "action": "save"})
    etag = (await tenant_api(admin, "gem-a/gegevenssets/wijkteam")).headers["ETag"]
    removed = await person.post(f"{PAGE}/wijkteam/verwijderen", {"etag": etag})
    assert removed.status_code == 303
    assert removed.headers["location"] == f"{BEHEER}{PAGE}?verwijderd=wijkteam"
    assert (await tenant_api(admin, "gem-a/gegevenssets/wijkteam")).status_code == 404


async def test_every_post_needs_the_form_token(admin: AdminBroker, portal_as: PortalAs) -> None:
    person = await tenant_admin(admin, portal_as)
    etag = (await tenant_api(admin, "gem-a/gegevenssets/basis")).headers["ETag"]
    posts: dict[str, dict[str, Any]] = {
        NEW: {"name": "x", "apis": ["personen"]},
        f"{PAGE}/basis": {"apis": ["personen"], "fields": ["*"], "etag": etag},
        f"{PAGE}/basis/verwijderen": {"etag": etag},
    }
    for path, data in posts.items():
        refused = await person.post(path, {**data, "csrf": "not-the-token"})
        assert refused.status_code == 403, path
        assert "Formulier geweigerd" in refused.text
    assert (await tenant_api(admin, "gem-a/gegevenssets/basis")).headers["ETag"] == etag
    assert (await tenant_api(admin, "gem-a/gegevenssets/x")).status_code == 404


async def test_a_file_managed_tenant_is_shown_read_only_and_its_posts_are_refused(
    admin: AdminBroker, portal_as: PortalAs, file_tenant: str
) -> None:
    person = await portal_as(actor(file_tenant, AdminRole.TENANT_ADMIN))
    listing = await person.get(f"/t/{file_tenant}/gegevenssets")
    assert listing.status_code == 200
    assert "beheerd met een tenantbestand (GitOps)" in listing.text
    assert "alles" in listing.text and "Verwijderen" not in listing.text
    view = await person.get(f"/t/{file_tenant}/gegevenssets/alles")
    assert 'id="gegevensset-form"' not in view.text and "gegevenssets.js" not in view.text
    assert "alle velden" in view.text
    before = (await tenant_api(admin, f"{file_tenant}/gegevenssets")).headers["ETag"]

    refused = await person.post(
        f"/t/{file_tenant}/gegevenssets/nieuw", {"name": "nieuw-set", "apis": ["personen"]}
    )
    assert refused.status_code == 409
    etag = (await tenant_api(admin, f"{file_tenant}/gegevenssets/alles")).headers["ETag"]
    removed = await person.post(f"/t/{file_tenant}/gegevenssets/alles/verwijderen", {"etag": etag})
    assert removed.status_code == 409
    assert (await tenant_api(admin, f"{file_tenant}/gegevenssets")).headers["ETag"] == before


async def test_another_tenants_admin_gets_not_found_and_changes_nothing(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("gem-a", "000004")
    other = await tenant_admin(admin, portal_as, "gem-b")
    etag = (await tenant_api(admin, "gem-a/gegevenssets/basis")).headers["ETag"]
    for path in (PAGE, NEW, f"{PAGE}/basis"):
        assert (await other.get(path)).status_code == 404, path
    posts: dict[str, dict[str, Any]] = {
        NEW: {"name": "x", "apis": ["personen"]},
        f"{PAGE}/basis": {"apis": ["personen"], "fields": ["*"], "etag": etag},
        f"{PAGE}/basis/verwijderen": {"etag": etag},
    }
    for path, data in posts.items():
        assert (await other.post(path, data)).status_code == 404, path
    assert (await tenant_api(admin, "gem-a/gegevenssets/basis")).headers["ETag"] == etag


async def test_a_privacy_officer_may_not_manage_gegevenssets(admin: AdminBroker, portal_as: PortalAs) -> None:
    await admin.onboard("gem-a", "000004")
    officer = await portal_as(actor("gem-a", AdminRole.PRIVACY_OFFICER))
    assert (await officer.get(PAGE)).status_code == 403
    assert (await officer.post(NEW, {"name": "x", "apis": ["personen"]})).status_code == 403
    assert (await tenant_api(admin, "gem-a/gegevenssets/x")).status_code == 404


async def test_a_narrowed_gegevensset_narrows_what_its_rule_allows_at_once(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await tenant_admin(admin, portal_as)
    burgerzaken = bearer(admin.parties.tenant("gem-a", "burgerzaken"))
    bsn_only = {**RAADPLEEG, "fields": ["burgerservicenummer"]}
    assert (await admin.client.post(PERSONEN, json=bsn_only, headers=burgerzaken)).status_code == 200
    etag = await etag_of(person, f"{PAGE}/basis")

    narrowed = await person.post(
        f"{PAGE}/basis",
        {"etag": etag, "apis": ["personen"], "query_types": ["*"], "fields": ["naam"], "parameters": ["*"]},
    )

    assert narrowed.status_code == 303, narrowed.text
    assert (await admin.client.post(PERSONEN, json=bsn_only, headers=burgerzaken)).status_code == 403
    assert (await admin.client.post(PERSONEN, json=RAADPLEEG, headers=burgerzaken)).status_code == 200
