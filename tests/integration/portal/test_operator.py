"""The operator's pages: the tenants list, suspend/resume, and onboarding a tenant with the wizard."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from app.admin.auth import AdminRole
from app.sandbox.idp import DEV_IDP_ISSUER
from tests.integration.admin.conftest import ADMIN, PERSONEN, RAADPLEEG, AdminBroker, bearer
from tests.integration.portal.conftest import BEHEER, PortalAs, PortalClient, actor

OPERATOR = actor(None, AdminRole.OPERATOR, subject="op-1")
# A sandbox AfnemerID no other portal test onboards: a non-gemeente allowed `naam` ad hoc.
WIZARD_AFNEMER = "000005"


class _FormFields(HTMLParser):
    """What a browser would send of one form as it stands: its hidden and text inputs, checked
    boxes, selected options (`visible=False`: the hidden inputs only)."""

    def __init__(self, form_id: str, *, visible: bool) -> None:
        super().__init__()
        self.form_id = form_id
        self.visible = visible
        self.inside = False
        self.select: str | None = None
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        name, value = attributes.get("name") or "", attributes.get("value") or ""
        if tag == "form":
            self.inside = attributes.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input":
            kind = attributes.get("type")
            if kind == "hidden" or (
                self.visible and (kind == "text" or (kind == "checkbox" and "checked" in attributes))
            ):
                self.fields.append((name, value))
        elif tag == "select" and self.visible:
            self.select = name
        elif tag == "option" and self.select is not None and "selected" in attributes:
            self.fields.append((self.select, value))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def form_fields(html: str, form_id: str = "operator-nieuw", *, visible: bool = True) -> dict[str, list[str]]:
    parser = _FormFields(form_id, visible=visible)
    parser.feed(html)
    fields: dict[str, list[str]] = {}
    for name, value in parser.fields:
        fields.setdefault(name, []).append(value)
    return fields


def hidden_fields(html: str, form_id: str = "operator-nieuw") -> dict[str, list[str]]:
    return form_fields(html, form_id, visible=False)


async def wizard_step(person: PortalClient, page: httpx.Response, **fields: Any) -> httpx.Response:
    """Submit the wizard's form on `page` with `fields` typed in (and its hidden fields)."""
    data: dict[str, Any] = {**form_fields(page.text), "actie": "volgende", **fields}
    return await person.post("/operator/nieuw", data)


def step_title(page: httpx.Response) -> str:
    found = re.search(r'<h2 id="stap-titel">([^<]+)</h2>', page.text)
    assert found is not None, page.text
    return found.group(1)


def status_etag(html: str, slug: str) -> str:
    form = re.search(rf'id="status-{slug}">(.*?)</form>', html, re.S)
    assert form is not None, f"no status form for {slug}"
    etag = re.search(r'name="etag" value="([^"]+)"', form.group(1))
    assert etag is not None
    return etag.group(1).replace("&#34;", '"').replace("&quot;", '"')


def issuer_fields(admin: AdminBroker, slug: str, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "issuer": DEV_IDP_ISSUER,
        "audiences": "brp-broker",
        "jwks_uri": f"{admin.sandbox.base_url}/dev-idp/jwks.json",
        "algorithms": ["ES256"],
        "tenant_claim": "tenant",
        "tenant_claim_value": slug,
        "login_client_id": "beheerportaal",
    }
    return {**fields, **overrides}


def afnemer_fields(afnemer_id: str = WIZARD_AFNEMER, **overrides: Any) -> dict[str, Any]:
    fields = {
        "afnemer_id": afnemer_id,
        "afnemer_name": "Gemeente Wizard, burgerzaken",
        "environment": "sandbox",
        "identity": "dev",
        "client_id": f"broker-dev-{afnemer_id}",
        "gemeente_code": "",
    }
    return {**fields, **overrides}


def sandbox_secret(admin: AdminBroker, afnemer_id: str) -> str:
    afnemer = next(a for a in admin.sandbox.config.afnemers if a.afnemer_id == afnemer_id)
    return afnemer.client_secret.reveal()


async def status_of(admin: AdminBroker, slug: str) -> str:
    response = await admin.as_operator("GET", f"/tenants/{slug}")
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


# -- the tenants list ---------------------------------------------------------------------------------


async def test_the_operator_sees_every_tenant_and_a_file_managed_one_read_only(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("api-gem", "000003")
    operator = await portal_as(OPERATOR)

    response = await operator.get("/operator")

    assert response.status_code == 200, response.text
    html = response.text
    assert "<h1>Tenants</h1>" in html
    for slug in ("bestand", "api-gem"):
        assert f"<code>{slug}</code>" in html
        assert f'href="{BEHEER}/t/{slug}"' in html
    assert f'action="{BEHEER}/operator/t/api-gem/status"' in html
    assert f'action="{BEHEER}/operator/t/bestand/status"' not in html
    assert "beheerd met een tenantbestand: wijzig status in het bestand" in html
    assert "portaal-API" in html and '<span class="badge badge--ok">actief</span>' in html


async def test_suspending_ends_the_tenant_and_its_admins_sessions_at_once_and_resume_restores_it(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("schorsgem", "000003")
    operator = await portal_as(OPERATOR)
    tenant_admin = await portal_as(actor("schorsgem", AdminRole.TENANT_ADMIN))
    cookie = tenant_admin.client.cookies.get("brp_beheer")
    assert cookie is not None
    sessions = admin.app.state.portal.sessions
    assert await sessions.find(cookie) is not None

    listing = await operator.get("/operator")
    suspended = await operator.post(
        "/operator/t/schorsgem/status",
        {"status": "suspended", "etag": status_etag(listing.text, "schorsgem")},
    )

    assert suspended.status_code == 303, suspended.text
    assert suspended.headers["location"] == f"{BEHEER}/operator?opgeschort=schorsgem"
    assert await sessions.find(cookie) is None  # ended by the suspension itself, not lazily
    await admin.until(lambda snapshot: not snapshot.tenants["schorsgem"].active)
    assert await status_of(admin, "schorsgem") == "suspended"
    after = await operator.client.get(suspended.headers["location"])
    assert "Organisatie schorsgem is opgeschort." in after.text
    assert '<span class="badge badge--warn">opgeschort</span>' in after.text
    assert (await tenant_admin.get("/")).headers["location"] == f"{BEHEER}/inloggen?reden=sessie"

    resumed = await operator.post(
        "/operator/t/schorsgem/status", {"status": "active", "etag": status_etag(after.text, "schorsgem")}
    )

    assert resumed.status_code == 303, resumed.text
    assert resumed.headers["location"] == f"{BEHEER}/operator?hervat=schorsgem"
    await admin.until(lambda snapshot: snapshot.tenants["schorsgem"].active)
    assert await status_of(admin, "schorsgem") == "active"
    assert (
        "Organisatie schorsgem is weer actief."
        in (await operator.client.get(resumed.headers["location"])).text
    )


async def test_a_status_change_with_a_stale_version_is_refused_and_shows_the_new_state(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("schorsgem", "000003")
    operator = await portal_as(OPERATOR)

    response = await operator.post("/operator/t/schorsgem/status", {"status": "suspended", "etag": '"stale"'})

    assert response.status_code == 412
    assert "Iemand anders heeft dit intussen gewijzigd" in response.text
    assert await status_of(admin, "schorsgem") == "active"


async def test_suspending_a_file_managed_tenant_by_a_forged_post_is_refused(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    operator = await portal_as(OPERATOR)
    tenant_admin = await portal_as(actor("bestand", AdminRole.TENANT_ADMIN))

    response = await operator.post("/operator/t/bestand/status", {"status": "suspended", "etag": '"x"'})

    assert response.status_code == 409
    assert "wordt beheerd met een tenantbestand" in response.text
    assert await status_of(admin, "bestand") == "active"
    assert admin.directory.snapshot.tenants["bestand"].active
    assert (await tenant_admin.get("/")).headers["location"] == f"{BEHEER}/t/bestand"


async def test_operator_forms_need_the_form_token(admin: AdminBroker, portal_as: PortalAs) -> None:
    await admin.onboard("schorsgem", "000003")
    operator = await portal_as(OPERATOR)
    etag = status_etag((await operator.get("/operator")).text, "schorsgem")

    forged = await operator.post(
        "/operator/t/schorsgem/status", {"csrf": "not-the-token", "status": "suspended", "etag": etag}
    )
    other_site = await operator.post(
        "/operator/t/schorsgem/status",
        {"status": "suspended", "etag": etag},
        headers={"Origin": "https://evil.example"},
    )
    wizard = await operator.post("/operator/nieuw", {"csrf": "not-the-token", "stap": "1", "slug": "x"})

    for response in (forged, other_site, wizard):
        assert response.status_code == 403
        assert "Formulier geweigerd" in response.text
    assert await status_of(admin, "schorsgem") == "active"


async def test_anyone_but_the_operator_gets_403_on_every_operator_page_and_post(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("schorsgem", "000003")
    people = [
        await portal_as(actor("schorsgem", AdminRole.TENANT_ADMIN)),
        await portal_as(actor("schorsgem", AdminRole.PRIVACY_OFFICER)),
        await portal_as(actor("bestand", AdminRole.TENANT_ADMIN)),
    ]
    for person in people:
        responses = [
            await person.get("/operator"),
            await person.get("/operator/nieuw"),
            await person.post("/operator/t/schorsgem/status", {"status": "suspended", "etag": '"x"'}),
            await person.post("/operator/t/bestand/status", {"status": "suspended", "etag": '"x"'}),
            await person.post("/operator/nieuw", {"stap": "1", "slug": "indringer", "actie": "volgende"}),
        ]
        for response in responses:
            assert response.status_code == 403, response.request.url
            assert "Deze operatie is voorbehouden aan de operator." in response.text
    assert await status_of(admin, "schorsgem") == "active"
    assert await status_of(admin, "bestand") == "active"


# -- the onboarding wizard ----------------------------------------------------------------------------


async def test_the_wizard_onboards_a_gemeente_whose_employees_then_reach_rvig(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    operator = await portal_as(OPERATOR)
    secret = sandbox_secret(admin, WIZARD_AFNEMER)
    pages: list[httpx.Response] = []

    start = await operator.get("/operator/nieuw")
    pages.append(start)
    assert start.status_code == 200
    assert step_title(start) == "Stap 1 van 5: Organisatie"
    issuer_step = await wizard_step(
        operator, start, slug="wizardgem", name="Gemeente Wizard", kind="organisation", pattern="saas"
    )
    pages.append(issuer_step)
    assert issuer_step.status_code == 200, issuer_step.text
    assert step_title(issuer_step) == "Stap 2 van 5: Identiteitsprovider"  # no members for an organisation
    afnemer_step = await wizard_step(operator, issuer_step, **issuer_fields(admin, "wizardgem"))
    pages.append(afnemer_step)
    assert step_title(afnemer_step) == "Stap 3 van 5: AfnemerID"
    admin_step = await wizard_step(operator, afnemer_step, **afnemer_fields())
    pages.append(admin_step)
    assert step_title(admin_step) == "Stap 4 van 5: Eerste beheerder"
    assert "<code>tenant</code> de waarde <code>wizardgem</code>" in admin_step.text
    review = await wizard_step(
        operator, admin_step, admin_roles="wizard-beheer", privacy_officer_roles="wizard-privacy"
    )
    pages.append(review)
    assert review.status_code == 200, review.text
    assert step_title(review) == "Stap 5 van 5: Controleren en aanmaken"
    assert "Plan van de proefrun" in review.text and WIZARD_AFNEMER in review.text
    assert 'type="password" id="client_secret"' in review.text
    assert "wizardgem" not in admin.directory.snapshot.tenants  # the dry run kept nothing

    created = await operator.post(
        "/operator/nieuw", {**hidden_fields(review.text), "actie": "aanmaken", "client_secret": secret}
    )

    assert created.status_code == 303, created.text
    assert created.headers["location"] == f"{BEHEER}/operator?aangemaakt=wizardgem"
    listing = await operator.client.get(created.headers["location"])
    pages.append(listing)
    assert "Organisatie wizardgem is aangemaakt" in listing.text
    assert f'action="{BEHEER}/operator/t/wizardgem/status"' in listing.text
    for page in pages:
        assert secret not in page.text
    await admin.until(lambda snapshot: "wizardgem" in snapshot.tenants)

    # Its first admin (the role named in step "Eerste beheerder") grants access; the gateway follows.
    first_admin = bearer(admin.parties.tenant("wizardgem", "wizard-beheer", employee="A1"))
    granted = await admin.client.put(
        f"{ADMIN}/tenants/wizardgem/gegevenssets/basis",
        json={"apis": ["personen"], "fields": ["naam", "burgerservicenummer"], "parameters": ["*"]},
        headers=first_admin,
    )
    assert granted.status_code == 200, granted.text
    rule = await admin.client.put(
        f"{ADMIN}/tenants/wizardgem/rules/burgerzaken",
        json={"who": ["role:burgerzaken"], "gegevenssets": ["basis"]},
        headers=first_admin,
    )
    assert rule.status_code == 200, rule.text
    employee = bearer(admin.parties.tenant("wizardgem", "burgerzaken"))
    response = await admin.client.post(PERSONEN, json=RAADPLEEG, headers=employee)
    assert response.status_code == 200, response.text
    assert response.json()["personen"]


async def test_a_step_s_problem_comes_back_next_to_its_field(admin: AdminBroker, portal_as: PortalAs) -> None:
    operator = await portal_as(OPERATOR)
    start = await operator.get("/operator/nieuw")
    issuer_step = await wizard_step(
        operator, start, slug="wizardgem", name="Gemeente Wizard", kind="organisation", pattern="saas"
    )

    response = await wizard_step(
        operator, issuer_step, **issuer_fields(admin, "wizardgem", jwks_uri="http://idp.example/jwks.json")
    )

    assert response.status_code == 400
    assert step_title(response) == "Stap 2 van 5: Identiteitsprovider"
    assert re.search(r'<p class="field-error" id="jwks_uri-error">[^<]*https://', response.text)
    jwks_input = re.search(r'<input type="text" id="jwks_uri"[^>]*>', response.text)
    assert jwks_input is not None
    assert 'aria-invalid="true"' in jwks_input.group(0) and "jwks_uri-error" in jwks_input.group(0)
    assert 'href="#jwks_uri"' in response.text  # the summary links to the field
    assert 'value="http://idp.example/jwks.json"' in response.text  # what was typed stays
    assert "wizardgem" not in await admin.app.state.tenancy_service.slugs()


async def test_the_first_step_refuses_a_slug_that_exists(admin: AdminBroker, portal_as: PortalAs) -> None:
    operator = await portal_as(OPERATOR)
    start = await operator.get("/operator/nieuw")

    response = await wizard_step(
        operator, start, slug="bestand", name="Dubbel", kind="organisation", pattern="saas"
    )

    assert response.status_code == 400
    assert step_title(response) == "Stap 1 van 5: Organisatie"
    assert 'id="slug-error">Er is al een organisatie met deze korte naam.' in response.text


async def test_an_afnemer_of_another_tenant_is_refused_by_the_dry_run_at_its_own_step(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    operator = await portal_as(OPERATOR)
    start = await operator.get("/operator/nieuw")
    issuer_step = await wizard_step(
        operator, start, slug="wizardgem", name="Gemeente Wizard", kind="organisation", pattern="saas"
    )
    afnemer_step = await wizard_step(operator, issuer_step, **issuer_fields(admin, "wizardgem"))
    admin_step = await wizard_step(operator, afnemer_step, **afnemer_fields("000001"))  # the file tenant's

    response = await wizard_step(operator, admin_step)

    assert response.status_code == 409
    assert step_title(response) == "Stap 3 van 5: AfnemerID"
    assert re.search(r'id="afnemer_id-error">[^<]*000001[^<]*bestand', response.text)


async def test_problems_of_the_create_itself_go_to_their_step_and_the_secret_is_never_shown(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    operator = await portal_as(OPERATOR)
    start = await operator.get("/operator/nieuw")
    issuer_step = await wizard_step(
        operator, start, slug="wizardgem", name="Gemeente Wizard", kind="organisation", pattern="saas"
    )
    afnemer_step = await wizard_step(operator, issuer_step, **issuer_fields(admin, "wizardgem"))
    admin_step = await wizard_step(operator, afnemer_step, **afnemer_fields())
    review = await wizard_step(operator, admin_step)
    secret = "very-secret-value-9f3c"

    no_secret = await operator.post("/operator/nieuw", {**hidden_fields(review.text), "actie": "aanmaken"})
    tampered = await operator.post(
        "/operator/nieuw",
        {
            **hidden_fields(review.text),
            "jwks_uri": "http://idp.example/jwks.json",  # a hidden field changed after its step
            "actie": "aanmaken",
            "client_secret": secret,
        },
    )
    as_reference = await operator.post(
        "/operator/nieuw",
        {**hidden_fields(review.text), "actie": "aanmaken", "client_secret_reference": secret},
    )

    assert no_secret.status_code == 400
    assert step_title(no_secret) == "Stap 5 van 5: Controleren en aanmaken"
    assert 'id="client_secret-error"' in no_secret.text
    assert tampered.status_code == 400
    assert step_title(tampered) == "Stap 2 van 5: Identiteitsprovider"
    assert 'id="jwks_uri-error"' in tampered.text
    assert as_reference.status_code == 400
    assert 'id="client_secret_reference-error"' in as_reference.text
    for response in (review, no_secret, tampered, as_reference):
        assert secret not in response.text
    assert "wizardgem" not in await admin.app.state.tenancy_service.slugs()


async def test_a_samenwerkingsverband_names_its_members_with_as_many_rows_as_needed(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    operator = await portal_as(OPERATOR)
    start = await operator.get("/operator/nieuw")
    members_step = await wizard_step(
        operator, start, slug="verband", name="Verband", kind="samenwerkingsverband", pattern="delegatie"
    )
    assert step_title(members_step) == "Stap 2 van 6: Leden"
    assert members_step.text.count('name="member_code"') == 3

    more = await operator.post(
        "/operator/nieuw",
        {**hidden_fields(members_step.text), "actie": "extra_lid", "member_code": ["A", "", "", ""]},
    )
    assert more.text.count('name="member_code"') == 4
    one = await wizard_step(
        operator, more, member_code=["A", ""], member_name=["Gemeente A", ""], member_gemeente=["0518", ""]
    )
    assert one.status_code == 400
    assert 'id="members-error"' in one.text and "at least two member organisations" in one.text
    twice = await wizard_step(
        operator,
        one,
        member_code=["A", "A"],
        member_name=["Gemeente A", "Gemeente B"],
        member_gemeente=["", ""],
    )
    assert twice.status_code == 400
    assert 'id="member-1-code-error">Deze code staat al bij een ander lid.' in twice.text
    bad_code = await wizard_step(
        operator,
        one,
        member_code=["A", "B"],
        member_name=["Gemeente A", "Gemeente B"],
        member_gemeente=["0518", "12"],
    )
    assert bad_code.status_code == 400
    assert 'id="member-1-gemeente-error"' in bad_code.text

    issuer_step = await wizard_step(
        operator,
        bad_code,
        member_code=["A", "B"],
        member_name=["Gemeente A", "Gemeente B"],
        member_gemeente=["0518", "0599"],
    )
    assert step_title(issuer_step) == "Stap 3 van 6: Identiteitsprovider"
    afnemer_step = await wizard_step(operator, issuer_step, **issuer_fields(admin, "verband"))
    assert 'id="member"' in afnemer_step.text  # a member's AfnemerID can be chosen
    admin_step = await wizard_step(operator, afnemer_step, **afnemer_fields("000002", member=""))
    review = await wizard_step(operator, admin_step)
    assert review.status_code == 200, review.text
    assert "Gemeente A (code <code>A</code>, gemeentecode 0518)" in review.text
    assert "Plan van de proefrun" in review.text

    back = await operator.post(
        "/operator/nieuw", {**hidden_fields(review.text, "operator-nieuw-wijzigen"), "naar": "2"}
    )
    assert step_title(back) == "Stap 2 van 6: Leden"
    assert 'value="Gemeente B"' in back.text


def shared_afnemer_fields() -> dict[str, Any]:
    """Step AfnemerID of a samenwerkingsverband met gezamenlijk personeel: one AfnemerID per member."""
    return {
        "environment": "sandbox",
        "identity": "dev",
        "afnemer_row_id": ["000301", "000302"],
        "afnemer_row_name": ["Gemeente Ede", "Gemeente Duiven"],
        "afnemer_row_client_id": ["broker-dev-000301", "broker-dev-000302"],
        "afnemer_row_gemeente": ["0228", "0226"],
        "afnemer_row_member": ["ede", "duiven"],
    }


async def shared_staff_steps(admin: AdminBroker, operator: PortalClient) -> list[httpx.Response]:
    """The wizard up to step "Eerste medewerkers" of the werkorganisatie "verband" (Ede and Duiven)."""
    start = await operator.get("/operator/nieuw")
    members_step = await wizard_step(
        operator,
        start,
        slug="verband",
        name="Verband",
        kind="samenwerkingsverband",
        pattern="gezamenlijk_personeel",
    )
    issuer_step = await wizard_step(
        operator,
        members_step,
        member_code=["ede", "duiven"],
        member_name=["Gemeente Ede", "Gemeente Duiven"],
        member_gemeente=["0228", "0226"],
    )
    afnemer_step = await wizard_step(operator, issuer_step, **issuer_fields(admin, "verband"))
    assert step_title(afnemer_step) == "Stap 4 van 7: AfnemerID"
    assert 'id="afnemer-1-id"' in afnemer_step.text  # one AfnemerID per member
    staff_step = await wizard_step(operator, afnemer_step, **shared_afnemer_fields())
    assert staff_step.status_code == 200, staff_step.text
    assert step_title(staff_step) == "Stap 5 van 7: Eerste medewerkers"
    return [start, members_step, issuer_step, afnemer_step, staff_step]


async def test_the_wizard_onboards_gezamenlijk_personeel_with_an_afnemer_per_member_and_employees(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    operator = await portal_as(OPERATOR)
    secrets = {afnemer: sandbox_secret(admin, afnemer) for afnemer in ("000301", "000302")}
    pages = await shared_staff_steps(admin, operator)
    staff_step = pages[-1]
    assert staff_step.text.count('name="staff_employee"') == 1
    assert "Gegevenssets" in staff_step.text  # the tenant admin refines the first gegevensset there
    more = await operator.post(
        "/operator/nieuw",
        {
            **form_fields(staff_step.text),
            "actie": "extra_medewerker",
            "staff_employee": "E1",
            "staff_member": "ede",
        },
    )
    pages.append(more)
    assert more.text.count('name="staff_employee"') == 2
    admin_step = await wizard_step(
        operator, more, staff_employee=["E1", "E2"], staff_member=["ede", "duiven"]
    )
    pages.append(admin_step)
    assert step_title(admin_step) == "Stap 6 van 7: Eerste beheerder"
    review = await wizard_step(operator, admin_step)
    pages.append(review)
    assert review.status_code == 200, review.text
    assert step_title(review) == "Stap 7 van 7: Controleren en aanmaken"
    assert "Plan van de proefrun" in review.text
    assert "medewerker-e1-ede" in review.text and "medewerker-e2-duiven" in review.text
    assert 'type="password" id="client_secret-000301"' in review.text
    assert 'type="password" id="client_secret-000302"' in review.text

    created = await operator.post(
        "/operator/nieuw",
        {
            **hidden_fields(review.text),
            "actie": "aanmaken",
            **{f"client_secret-{afnemer}": secret for afnemer, secret in secrets.items()},
        },
    )

    assert created.status_code == 303, created.text
    assert created.headers["location"] == f"{BEHEER}/operator?aangemaakt=verband"
    pages.append(await operator.client.get(created.headers["location"]))
    for page in pages:
        for secret in secrets.values():
            assert secret not in page.text
    await admin.until(lambda snapshot: "verband" in snapshot.tenants)
    stored = await admin.as_operator("GET", "/tenants/verband")
    assert stored.status_code == 200, stored.text

    # E1 works for Ede: with Ede's AfnemerID the gateway answers; with Duiven's it refuses.
    e1 = bearer(admin.parties.tenant("verband", "medewerker", employee="E1"))
    for_ede = await admin.client.post(PERSONEN, json=RAADPLEEG, headers={**e1, "x-afnemer-id": "000301"})
    assert for_ede.status_code == 200, for_ede.text
    assert for_ede.json()["personen"]
    for_duiven = await admin.client.post(PERSONEN, json=RAADPLEEG, headers={**e1, "x-afnemer-id": "000302"})
    assert for_duiven.status_code == 403, for_duiven.text


async def test_an_employee_without_member_organisation_is_refused_next_to_its_field(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    operator = await portal_as(OPERATOR)
    afnemer_step = (await shared_staff_steps(admin, operator))[3]
    twice = await wizard_step(
        operator, afnemer_step, **{**shared_afnemer_fields(), "afnemer_row_id": ["000301"] * 2}
    )
    assert twice.status_code == 400
    assert step_title(twice) == "Stap 4 van 7: AfnemerID"
    assert 'id="afnemer-1-id-error">Deze AfnemerID staat al bij een ander lid.' in twice.text
    staff_step = await wizard_step(operator, twice, **shared_afnemer_fields())

    none = await wizard_step(operator, staff_step, staff_employee="", staff_member="")
    without_member = await wizard_step(operator, staff_step, staff_employee="E1", staff_member="")

    assert none.status_code == 400
    assert step_title(none) == "Stap 5 van 7: Eerste medewerkers"
    assert 'id="staff-error"' in none.text
    assert without_member.status_code == 400
    assert step_title(without_member) == "Stap 5 van 7: Eerste medewerkers"
    assert 'id="staff-0-member-error"' in without_member.text
    assert 'href="#staff-0-member"' in without_member.text
    assert 'value="E1"' in without_member.text
    # A forged "Aanmaken" with the row still incomplete goes back to that step too.
    forged = await operator.post(
        "/operator/nieuw",
        {
            **hidden_fields(without_member.text),
            "staff_employee": "E1",
            "staff_member": "",
            "stap": "7",
            "actie": "aanmaken",
            "client_secret-000301": "x",
            "client_secret-000302": "y",
        },
    )
    assert forged.status_code == 400
    assert 'id="staff-0-member-error"' in forged.text
    assert "verband" not in await admin.app.state.tenancy_service.slugs()


async def test_text_the_database_cannot_hold_is_refused_next_to_its_field(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    operator = await portal_as(OPERATOR)
    start = await operator.get("/operator/nieuw")

    response = await wizard_step(
        operator, start, slug="wizardgem", name="Gemeente\x00Wizard", kind="organisation", pattern="saas"
    )

    assert response.status_code == 400
    assert 'id="name-error">Het teken U+0000 is niet toegestaan.' in response.text


async def test_the_login_s_discovery_url_is_carried_to_the_created_tenant_s_issuer(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    operator = await portal_as(OPERATOR)
    discovery = f"{admin.sandbox.base_url}/dev-idp/.well-known/openid-configuration"
    start = await operator.get("/operator/nieuw")
    issuer_step = await wizard_step(
        operator, start, slug="wizardgem", name="Gemeente Wizard", kind="organisation", pattern="saas"
    )
    assert (
        '<label for="login_discovery_uri">Discovery-URL voor inloggen (optioneel)</label>' in issuer_step.text
    )
    afnemer_step = await wizard_step(
        operator, issuer_step, **issuer_fields(admin, "wizardgem", login_discovery_uri=discovery)
    )
    assert hidden_fields(afnemer_step.text)["login_discovery_uri"] == [discovery]
    admin_step = await wizard_step(operator, afnemer_step, **afnemer_fields())
    review = await wizard_step(operator, admin_step)
    assert review.status_code == 200, review.text
    assert f"<dt>Discovery-URL voor inloggen (optioneel)</dt><dd>{discovery}</dd>" in review.text
    back = await operator.post(
        "/operator/nieuw", {**hidden_fields(review.text, "operator-nieuw-wijzigen"), "naar": "3"}
    )
    assert step_title(back) == "Stap 2 van 5: Identiteitsprovider"
    assert f'id="login_discovery_uri" name="login_discovery_uri" value="{discovery}"' in back.text

    created = await operator.post(
        "/operator/nieuw",
        {
            **hidden_fields(review.text),
            "actie": "aanmaken",
            "client_secret": sandbox_secret(admin, WIZARD_AFNEMER),
        },
    )

    assert created.status_code == 303, created.text
    state = await admin.app.state.tenancy_service.read("wizardgem")
    login = state.spec.issuers[0].login
    assert login is not None
    assert (login.client_id, login.discovery_uri) == ("beheerportaal", discovery)


async def test_a_login_discovery_url_without_https_is_refused_next_to_its_field(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    operator = await portal_as(OPERATOR)
    start = await operator.get("/operator/nieuw")
    issuer_step = await wizard_step(
        operator, start, slug="wizardgem", name="Gemeente Wizard", kind="organisation", pattern="saas"
    )
    plain = "http://idp.example/.well-known/openid-configuration"

    response = await wizard_step(
        operator, issuer_step, **issuer_fields(admin, "wizardgem", login_discovery_uri=plain)
    )
    without_client_id = await wizard_step(
        operator,
        issuer_step,
        **issuer_fields(
            admin, "wizardgem", login_client_id="", login_discovery_uri=plain.replace("http:", "https:")
        ),
    )

    assert response.status_code == 400
    assert step_title(response) == "Stap 2 van 5: Identiteitsprovider"
    assert re.search(r'<p class="field-error" id="login_discovery_uri-error">[^<]*https://', response.text)
    field = re.search(r'<input type="text" id="login_discovery_uri"[^>]*>', response.text)
    assert field is not None
    assert 'aria-invalid="true"' in field.group(0) and "login_discovery_uri-error" in field.group(0)
    assert 'href="#login_discovery_uri"' in response.text
    assert f'value="{plain}"' in response.text
    assert 'id="login_client_id-error"' not in response.text
    # A discovery URL is of no use without the portal's client id: the validator asks for it.
    assert without_client_id.status_code == 400
    assert 'id="login_client_id-error"' in without_client_id.text
    assert "wizardgem" not in await admin.app.state.tenancy_service.slugs()


@pytest.mark.parametrize("field", ["stap", "naar", "gezien"])
async def test_a_step_number_of_other_digits_than_0_to_9_is_no_step(
    admin: AdminBroker, portal_as: PortalAs, field: str
) -> None:
    """'²' is a digit to `str.isdigit` but no number to `int`: the wizard treats it as any other text."""
    operator = await portal_as(OPERATOR)
    start = await operator.get("/operator/nieuw")

    response = await wizard_step(
        operator,
        start,
        slug="wizardgem",
        name="Gemeente Wizard",
        kind="organisation",
        pattern="saas",
        **{field: "²"},
    )

    assert response.status_code == 200, response.text
    assert step_title(response) == "Stap 2 van 5: Identiteitsprovider"
