"""The Toegang page: access rules added, changed, previewed and removed through the admin API's own
service; the employee ↔ member mapping of a samenwerkingsverband met gezamenlijk personeel."""

from __future__ import annotations

import html
import re
from typing import Any

from app.admin.auth import AdminRole
from app.audit import read_audit
from tests.integration.admin.conftest import ADMIN, PERSONEN, RAADPLEEG, AdminBroker, bearer
from tests.integration.portal.conftest import (
    BEHEER,
    ETAG,
    PortalAs,
    actor,
    audit_count,
    etag_of,
    tenant_admin,
    tenant_api,
)

PAGE = "/t/gem-a/toegang"
NEW = f"{PAGE}/nieuw"
BSN = RAADPLEEG["burgerservicenummer"][0]

NAAM_ONLY = {
    "name": "alleen-naam",
    "description": "Alleen de naam, op burgerservicenummer",
    "apis": ["personen"],
    "query_types": ["RaadpleegMetBurgerservicenummer"],
    # A ticked group ticks its sub-fields too (the picker sends both; the group is what is kept).
    "fields": ["naam", "naam.voornamen"],
    "parameters": ["burgerservicenummer"],
    "geheimhouding": "deliver",
}
TEAM_X = {"name": "team-x", "description": "Team X", "who": "role:team-x\n", "gegevenssets": ["alleen-naam"]}


def _as(admin: AdminBroker, slug: str, role: str, **kwargs: Any) -> dict[str, str]:
    return bearer(admin.parties.tenant(slug, role, **kwargs))


# -- the main task -------------------------------------------------------------------------------------


async def test_a_narrower_gegevensset_granted_to_a_role_lets_it_ask_that_and_nothing_more(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await tenant_admin(admin, portal_as)
    team_x = _as(admin, "gem-a", "team-x", employee="X1")
    assert (await admin.client.post(PERSONEN, json=RAADPLEEG, headers=team_x)).status_code == 403

    saved_set = await person.post("/t/gem-a/gegevenssets/nieuw", {**NAAM_ONLY, "action": "save"})
    assert saved_set.status_code == 303, saved_set.text
    assert saved_set.headers["location"] == f"{BEHEER}/t/gem-a/gegevenssets?opgeslagen=alleen-naam"
    stored_set = (await tenant_api(admin, "gem-a/gegevenssets/alleen-naam")).json()
    assert stored_set["fields"] == ["naam"]
    assert stored_set["query_types"] == ["RaadpleegMetBurgerservicenummer"]

    saved_rule = await person.post(NEW, {**TEAM_X, "action": "save"})
    assert saved_rule.status_code == 303, saved_rule.text
    assert saved_rule.headers["location"] == f"{BEHEER}{PAGE}?opgeslagen=team-x"
    assert BSN not in saved_rule.headers["location"]
    rule = (await tenant_api(admin, "gem-a/rules/team-x")).json()
    assert rule["who"] == ["role:team-x"] and rule["gegevenssets"] == ["alleen-naam"]
    listed = await person.get(f"{PAGE}?opgeslagen=team-x")
    assert "De regel team-x is opgeslagen." in listed.text and "role:team-x" in listed.text

    allowed = await admin.client.post(PERSONEN, json=RAADPLEEG, headers=team_x)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["personen"][0]["naam"]
    outside = await admin.client.post(PERSONEN, json={**RAADPLEEG, "fields": ["geboorte"]}, headers=team_x)
    assert outside.status_code == 403
    assert outside.json()["code"] == "unauthorizedField"

    entries = (await read_audit(admin.app.state.resources.pool, "gem-a", limit=500)).entries
    added = {(e.resource, e.key, e.action, e.role) for e in entries}
    assert ("rule", "team-x", "add", "tenant-admin") in added
    assert ("gegevensset", "alleen-naam", "add", "tenant-admin") in added


async def test_a_rule_is_changed_with_its_etag_and_a_stale_form_shows_the_new_state(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await tenant_admin(admin, portal_as)
    form = await person.get(f"{PAGE}/burgerzaken")
    assert form.status_code == 200
    assert 'id="regel-form"' in form.text and "role:burgerzaken" in form.text
    etag = await etag_of(person, f"{PAGE}/burgerzaken")
    body = {"who": "role:burgerzaken\nrole:publiekszaken", "gegevenssets": ["basis"], "etag": etag}

    changed = await person.post(f"{PAGE}/burgerzaken", {**body, "required_headers": ["x-doelbinding"]})
    assert changed.status_code == 303, changed.text
    rule = (await tenant_api(admin, "gem-a/rules/burgerzaken")).json()
    assert rule["who"] == ["role:burgerzaken", "role:publiekszaken"]
    assert rule["required_headers"] == ["x-doelbinding"]

    stale = await person.post(f"{PAGE}/burgerzaken", {**body, "description": "te laat"})
    assert stale.status_code == 412
    assert "Iemand anders heeft dit intussen gewijzigd" in stale.text
    assert "x-doelbinding" in stale.text  # the current rule, with its new ETag
    assert ETAG.search(stale.text) and html.unescape(ETAG.search(stale.text).group(1)) != etag  # type: ignore[union-attr]
    assert (await tenant_api(admin, "gem-a/rules/burgerzaken")).json()["description"] == ""


async def test_a_rule_is_removed_with_a_post_and_redirect(admin: AdminBroker, portal_as: PortalAs) -> None:
    person = await tenant_admin(admin, portal_as)
    await person.post(NEW, {"name": "wijkteam", "who": "role:wijkteam", "gegevenssets": ["basis"]})
    listing = await person.get(PAGE)
    assert 'action="/beheer/t/gem-a/toegang/wijkteam/verwijderen"' in listing.text
    etag = (await tenant_api(admin, "gem-a/rules/wijkteam")).headers["ETag"]

    stale = await person.post(f"{PAGE}/wijkteam/verwijderen", {"etag": '"oud"'})
    assert stale.status_code == 412
    assert (await tenant_api(admin, "gem-a/rules/wijkteam")).status_code == 200

    removed = await person.post(f"{PAGE}/wijkteam/verwijderen", {"etag": etag})
    assert removed.status_code == 303
    assert removed.headers["location"] == f"{BEHEER}{PAGE}?verwijderd=wijkteam"
    assert (await tenant_api(admin, "gem-a/rules/wijkteam")).status_code == 404
    assert "De regel wijkteam is verwijderd." in (await person.get(f"{PAGE}?verwijderd=wijkteam")).text
    # A crafted link cannot make the page claim what did not happen.
    crafted = await person.get(f"{PAGE}?opgeslagen=wijkteam&verwijderd=burgerzaken")
    assert "is opgeslagen" not in crafted.text and "is verwijderd" not in crafted.text


# -- validation ----------------------------------------------------------------------------------------


async def test_the_validators_problems_are_shown_next_to_the_fields_and_nothing_is_saved(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await tenant_admin(admin, portal_as)
    audited = await audit_count(admin)

    refused = await person.post(
        NEW, {"name": "wijkteam", "who": "rol:wijkteam", "afnemers": ["999999"], "action": "save"}
    )

    assert refused.status_code == 400
    text = refused.text
    assert 'id="regel-wie-error"' in text and "&#39;rol:wijkteam&#39; kan niet" in text
    assert 'id="regel-gegevenssets-error"' in text and "Kies ten minste één gegevensset." in text
    assert 'id="regel-afnemers-error"' in text and "AfnemerID 999999 hoort niet bij deze organisatie." in text
    assert 'aria-invalid="true" aria-describedby="regel-wie-error regel-wie-hint"' in text
    assert 'role="alert"' in text and 'href="#regel-wie"' in text and 'href="#regel-gegevenssets"' in text
    assert "rol:wijkteam</textarea>" in text  # what was typed stays
    assert (await tenant_api(admin, "gem-a/rules/wijkteam")).status_code == 404
    assert await audit_count(admin) == audited


async def test_a_bad_or_taken_or_reserved_name_is_refused_by_the_name(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await tenant_admin(admin, portal_as)
    body = {"who": "tenant", "gegevenssets": ["basis"]}
    bad = await person.post(NEW, {**body, "name": "Wijk Team"})
    assert bad.status_code == 400
    assert 'id="regel-naam-error"' in bad.text and "kleine letters" in bad.text
    taken = await person.post(NEW, {**body, "name": "burgerzaken"})
    assert taken.status_code == 409
    assert "Er is al een regel met deze naam." in taken.text
    assert (await tenant_api(admin, "gem-a/rules/burgerzaken")).json()["who"] == ["role:burgerzaken"]
    reserved = await person.post(NEW, {**body, "name": "nieuw"})
    assert reserved.status_code == 400 and 'id="regel-naam-error"' in reserved.text


# -- the preview ---------------------------------------------------------------------------------------


async def test_the_preview_shows_what_the_rule_would_allow_and_saves_nothing(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await tenant_admin(admin, portal_as)
    audited = await audit_count(admin)
    sets = (await tenant_api(admin, "gem-a/gegevenssets")).headers["ETag"]

    preview = await person.post(
        NEW, {"name": "team-y", "who": "role:team-y", "gegevenssets": ["basis"], "action": "preview"}
    )

    assert preview.status_code == 200, preview.text
    text = preview.text
    assert "Voorbeeld: wat mag deze rol vragen?" in text
    assert "er is nog niets opgeslagen" in text and "Opslaan zou de regel toevoegen" in text
    assert "Gegevensset basis" in text
    assert "burgerservicenummer, naam" in text  # the fields the gegevensset allows
    assert "RaadpleegMetBurgerservicenummer" in text
    assert 'value="team-y"' in text  # the form stays filled in, ready to save
    assert (await tenant_api(admin, "gem-a/rules/team-y")).status_code == 404
    assert (await tenant_api(admin, "gem-a/gegevenssets")).headers["ETag"] == sets
    assert await audit_count(admin) == audited
    team_y = _as(admin, "gem-a", "team-y")
    assert (await admin.client.post(PERSONEN, json=RAADPLEEG, headers=team_y)).status_code == 403

    invalid = await person.post(NEW, {"name": "team-y", "who": "role:team-y", "action": "preview"})
    assert invalid.status_code == 400 and 'id="regel-gegevenssets-error"' in invalid.text


async def test_what_a_role_may_ask_lists_its_rules_and_their_gegevenssets(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    person = await tenant_admin(admin, portal_as)
    page = await person.get(f"{PAGE}?rol=burgerzaken")
    assert page.status_code == 200
    assert "Wat mag rol burgerzaken?" in page.text
    assert "<strong>burgerzaken</strong>" in page.text  # the rule
    assert "Samen geven ze de gegevenssets: basis." in page.text
    assert "burgerservicenummer, naam" in page.text

    nobody = await person.get(f"{PAGE}?rol=onbekend")
    assert "Geen enkele regel geldt voor de rol onbekend" in nobody.text
    assert "er mag niets gevraagd worden" in nobody.text


# -- who may do what -----------------------------------------------------------------------------------


async def test_every_post_needs_the_form_token(admin: AdminBroker, portal_as: PortalAs) -> None:
    person = await tenant_admin(admin, portal_as)
    etag = (await tenant_api(admin, "gem-a/rules/burgerzaken")).headers["ETag"]
    posts: dict[str, dict[str, Any]] = {
        NEW: {"name": "x", "who": "tenant", "gegevenssets": ["basis"]},
        f"{PAGE}/burgerzaken": {"who": "tenant", "gegevenssets": ["basis"], "etag": etag},
        f"{PAGE}/burgerzaken/verwijderen": {"etag": etag},
        f"{PAGE}/medewerkers": {"employee": "E1", "member": "x", "gegevenssets": ["basis"]},
        f"{PAGE}/medewerkers/verwijderen": {"rule": "burgerzaken", "employee": "E1", "etag": etag},
    }
    for path, data in posts.items():
        refused = await person.post(path, {**data, "csrf": "not-the-token"})
        assert refused.status_code == 403, path
        assert "Formulier geweigerd" in refused.text
    assert (await tenant_api(admin, "gem-a/rules/burgerzaken")).headers["ETag"] == etag
    assert (await tenant_api(admin, "gem-a/rules/x")).status_code == 404


async def test_a_file_managed_tenant_is_shown_read_only_and_its_posts_are_refused(
    admin: AdminBroker, portal_as: PortalAs, file_tenant: str
) -> None:
    person = await portal_as(actor(file_tenant, AdminRole.TENANT_ADMIN))
    listing = await person.get(f"/t/{file_tenant}/toegang")
    assert listing.status_code == 200
    assert "beheerd met een tenantbestand (GitOps)" in listing.text
    assert "iedereen" in listing.text  # its rule
    assert "Verwijderen" not in listing.text and "Nieuwe regel" not in listing.text
    rule = await person.get(f"/t/{file_tenant}/toegang/iedereen")
    assert rule.status_code == 200
    assert 'id="regel-form"' not in rule.text and "beheerd met een tenantbestand" in rule.text
    assert "Wat mag deze regel?" in rule.text and "alle velden" in rule.text
    before = (await tenant_api(admin, f"{file_tenant}/rules")).headers["ETag"]

    refused = await person.post(
        f"/t/{file_tenant}/toegang/nieuw", {"name": "nieuwe", "who": "tenant", "gegevenssets": ["alles"]}
    )
    assert refused.status_code == 409
    assert 'id="regel-form"' not in refused.text
    removed = await person.post(f"/t/{file_tenant}/toegang/iedereen/verwijderen", {"etag": before})
    assert removed.status_code == 409
    assert (await tenant_api(admin, f"{file_tenant}/rules")).headers["ETag"] == before


async def test_another_tenants_admin_gets_not_found_and_changes_nothing(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("gem-a", "000004")
    other = await tenant_admin(admin, portal_as, "gem-b")
    etag = (await tenant_api(admin, "gem-a/rules/burgerzaken")).headers["ETag"]
    for path in (PAGE, NEW, f"{PAGE}/burgerzaken", f"{PAGE}?rol=burgerzaken"):
        assert (await other.get(path)).status_code == 404, path
    posts: dict[str, dict[str, Any]] = {
        NEW: {"name": "x", "who": "tenant", "gegevenssets": ["basis"]},
        f"{PAGE}/burgerzaken": {"who": "tenant", "gegevenssets": ["basis"], "etag": etag},
        f"{PAGE}/burgerzaken/verwijderen": {"etag": etag},
        f"{PAGE}/medewerkers": {"employee": "E1", "member": "x", "gegevenssets": ["basis"]},
        f"{PAGE}/medewerkers/verwijderen": {"rule": "burgerzaken", "employee": "E1", "etag": etag},
    }
    for path, data in posts.items():
        assert (await other.post(path, data)).status_code == 404, path
    assert (await tenant_api(admin, "gem-a/rules/burgerzaken")).headers["ETag"] == etag
    assert (await tenant_api(admin, "gem-a/rules/x")).status_code == 404


async def test_a_privacy_officer_may_not_manage_access(admin: AdminBroker, portal_as: PortalAs) -> None:
    await admin.onboard("gem-a", "000004")
    officer = await portal_as(actor("gem-a", AdminRole.PRIVACY_OFFICER))
    assert (await officer.get(PAGE)).status_code == 403
    assert (await officer.get(f"{PAGE}/burgerzaken")).status_code == 403
    refused = await officer.post(NEW, {"name": "x", "who": "tenant", "gegevenssets": ["basis"]})
    assert refused.status_code == 403
    assert (await tenant_api(admin, "gem-a/rules/x")).status_code == 404


async def test_the_operator_manages_a_tenants_rules(admin: AdminBroker, portal_as: PortalAs) -> None:
    await admin.onboard("gem-a", "000004")
    operator = await portal_as(actor(None, AdminRole.OPERATOR, subject="op-1"))
    assert (await operator.get(PAGE)).status_code == 200
    saved = await operator.post(NEW, {"name": "team-z", "who": "role:team-z", "gegevenssets": ["basis"]})
    assert saved.status_code == 303
    assert (await tenant_api(admin, "gem-a/rules/team-z")).status_code == 200
    assert (await operator.get("/t/bestaat-niet/toegang")).status_code == 404


# -- gezamenlijk personeel -----------------------------------------------------------------------------


def _secret(admin: AdminBroker, afnemer_id: str) -> str:
    account = next(a for a in admin.sandbox.config.afnemers if a.afnemer_id == afnemer_id)
    secret: str = account.client_secret.reveal()
    return secret


def _afnemer(admin: AdminBroker, afnemer_id: str, member: str, gemeente_code: str) -> dict[str, Any]:
    return {
        "name": f"Gemeente {member.title()}",
        "environment": "sandbox",
        "identity": "dev",
        "client_id": f"broker-dev-{afnemer_id}",
        "client_secret": _secret(admin, afnemer_id),
        "gemeente_code": gemeente_code,
        "member": member,
    }


async def _shared_staff(admin: AdminBroker) -> None:
    """A werkorganisatie of Ede and Duiven: E2002 works for Ede (as does everyone of Ede)."""
    await admin.onboard(
        "samen",
        "000301",
        kind="samenwerkingsverband",
        pattern="gezamenlijk_personeel",
        members={
            "ede": {"name": "Gemeente Ede", "gemeente_code": "0228"},
            "duiven": {"name": "Gemeente Duiven", "gemeente_code": "0226"},
        },
        afnemers={
            "000301": _afnemer(admin, "000301", "ede", "0228"),
            "000302": _afnemer(admin, "000302", "duiven", "0226"),
        },
        rules={
            "ede": {
                "who": ["organisation:ede", "employee:E2002"],
                "afnemers": ["000301"],
                "gegevenssets": ["basis"],
            },
            "duiven": {"who": ["organisation:duiven"], "afnemers": ["000302"], "gegevenssets": ["basis"]},
        },
    )


async def test_employees_are_mapped_to_member_organisations_by_rules(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await _shared_staff(admin)
    person = await portal_as(actor("samen", AdminRole.TENANT_ADMIN))
    e2001 = _as(admin, "samen", "medewerker", employee="E2001")
    assert (await admin.client.post(PERSONEN, json=RAADPLEEG, headers=e2001)).status_code == 403

    page = await person.get("/t/samen/toegang")
    assert page.status_code == 200
    assert "Medewerkers per lid-organisatie" in page.text
    assert '<th scope="row">E2002</th>' in page.text and "Gemeente Ede" in page.text
    assert 'id="medewerker-form"' in page.text
    assert '<option value="duiven">Gemeente Duiven</option>' in page.text

    added = await person.post(
        "/t/samen/toegang/medewerkers", {"employee": "E2001", "member": "duiven", "gegevenssets": ["basis"]}
    )
    assert added.status_code == 303, added.text
    assert "E2001" not in added.headers["location"]
    rule = (await tenant_api(admin, "samen/rules/medewerker-e2001-duiven")).json()
    assert rule["who"] == ["employee:E2001"] and rule["afnemers"] == ["000302"]
    mapped = await person.get("/t/samen/toegang")
    row = re.search(r'<th scope="row">E2001</th>\s*<td>([^<]*)</td>', mapped.text)
    assert row is not None and row.group(1) == "Gemeente Duiven"
    # The employee now acts for Duiven's AfnemerID.
    assert (await admin.client.post(PERSONEN, json=RAADPLEEG, headers=e2001)).status_code == 200

    # Taking E2002 out of the Ede rule keeps the rule for Ede's own people.
    ede = await tenant_api(admin, "samen/rules/ede")
    out = await person.post(
        "/t/samen/toegang/medewerkers/verwijderen",
        {"rule": "ede", "employee": "E2002", "etag": ede.headers["ETag"]},
    )
    assert out.status_code == 303, out.text
    assert (await tenant_api(admin, "samen/rules/ede")).json()["who"] == ["organisation:ede"]
    # Taking E2001 out of its own rule removes the rule.
    own = await tenant_api(admin, "samen/rules/medewerker-e2001-duiven")
    gone = await person.post(
        "/t/samen/toegang/medewerkers/verwijderen",
        {"rule": "medewerker-e2001-duiven", "employee": "E2001", "etag": own.headers["ETag"]},
    )
    assert gone.status_code == 303
    assert (await tenant_api(admin, "samen/rules/medewerker-e2001-duiven")).status_code == 404
    assert (await admin.client.post(PERSONEN, json=RAADPLEEG, headers=e2001)).status_code == 403


async def test_a_mapping_without_employee_or_gegevensset_is_refused_by_its_fields(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await _shared_staff(admin)
    person = await portal_as(actor("samen", AdminRole.TENANT_ADMIN))
    empty = await person.post("/t/samen/toegang/medewerkers", {"employee": " ", "member": ""})
    assert empty.status_code == 400
    assert 'id="medewerker-nummer-error"' in empty.text and 'id="medewerker-lid-error"' in empty.text
    no_set = await person.post("/t/samen/toegang/medewerkers", {"employee": "E3", "member": "ede"})
    assert no_set.status_code == 400
    assert 'id="medewerker-gegevenssets-error"' in no_set.text
    assert "Kies ten minste één gegevensset." in no_set.text
    assert 'value="E3"' in no_set.text
    assert (await tenant_api(admin, "samen/rules/medewerker-e3-ede")).status_code == 404


async def test_a_saas_tenant_has_no_employee_mapping(admin: AdminBroker, portal_as: PortalAs) -> None:
    person = await tenant_admin(admin, portal_as)
    page = await person.get(PAGE)
    assert "Medewerkers per lid-organisatie" not in page.text
    assert ADMIN not in page.text
