"""The Limieten page: tenant admins set limits under the operator's ceilings; the operator sets those."""

from __future__ import annotations

import html
import re
from typing import Any

from app.admin.auth import AdminRole
from app.portal.dutch import dutch_decimal as dutch_number
from tests.integration.admin.conftest import ADMIN, AdminBroker, bearer
from tests.integration.portal.conftest import BEHEER, PortalAs, PortalClient, actor

PAGE = "/t/gem-a/limieten"
CEILINGS = "/t/gem-a/limieten/plafonds"
_ETAG = re.compile(r'name="etag" value="([^"]*)"')
_DIFF = re.compile(r'<pre class="diff">(.*?)</pre>', re.S)


async def _limits(admin: AdminBroker, slug: str = "gem-a") -> dict[str, Any]:
    """The limits and ceilings as the admin API shows them."""
    response = await admin.as_operator("GET", f"/tenants/{slug}/limits")
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def _etag_of(person: PortalClient, path: str = PAGE) -> str:
    response = await person.get(path)
    assert response.status_code == 200, response.text
    found = _ETAG.search(response.text)
    assert found is not None, "no ETag in the form"
    return html.unescape(found.group(1))


async def _set_ceiling(admin: AdminBroker, scope: str, rate: float, burst: int) -> None:
    etag = (await admin.as_operator("GET", "/tenants/gem-a/limits")).headers["ETag"]
    response = await admin.as_operator(
        "PUT",
        "/tenants/gem-a/limits/ceilings",
        json={scope: {"rate": rate, "burst": burst}},
        headers={"If-Match": etag},
    )
    assert response.status_code == 200, response.text


def _limit_form(etag: str, **values: str) -> dict[str, str]:
    return {"etag": etag, **{f"limiet_{name}": value for name, value in values.items()}}


async def test_a_tenant_admin_lowers_a_limit_and_the_audit_shows_before_and_after(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("gem-a", "000002")
    person = await portal_as(actor("gem-a", AdminRole.TENANT_ADMIN))
    page = await person.get(PAGE)
    assert page.status_code == 200
    assert "standaard van de broker" in page.text
    settings = admin.app.state.resources.settings
    default = (
        f"{dutch_number(settings.ratelimit_tenant_rate)} per seconde, piek {settings.ratelimit_tenant_burst}"
    )
    assert default in page.text  # the broker's default for the whole organisation
    assert 'id="limieten-form"' in page.text
    assert 'id="plafonds-form"' not in page.text  # ceilings are the operator's

    first = await person.post(
        PAGE, _limit_form(await _etag_of(person), employee_rate="2", employee_burst="10")
    )
    assert first.status_code == 303, first.text
    assert first.headers["location"] == f"{BEHEER}{PAGE}?opgeslagen=limieten"
    lowered = await person.post(
        PAGE, _limit_form(await _etag_of(person), employee_rate="1,5", employee_burst="4")
    )
    assert lowered.status_code == 303, lowered.text

    via_api = await admin.client.get(
        f"{ADMIN}/tenants/gem-a/limits", headers=bearer(admin.parties.admin("gem-a"))
    )
    assert via_api.json()["limits"]["employee"] == {"rate": 1.5, "burst": 4}
    assert via_api.json()["limits"]["tenant"] is None
    shown = await person.get(f"{PAGE}?opgeslagen=limieten")
    assert "De limieten zijn opgeslagen." in shown.text
    assert "1,5 per seconde, piek 4" in shown.text

    audit = await person.get("/t/gem-a/audit?onderdeel=limit")
    assert audit.status_code == 200
    assert audit.text.count("<time datetime=") == 2
    newest_before, newest_after = (html.unescape(block) for block in _DIFF.findall(audit.text)[:2])
    assert '"rate": 2.0' in newest_before and '"burst": 10' in newest_before
    assert '"rate": 1.5' in newest_after and '"burst": 4' in newest_after
    assert "gem-a:A1" in audit.text
    assert "Gewijzigd: burst, rate" in audit.text
    assert "Limiet per medewerker" in audit.text


async def test_a_limit_above_the_ceiling_is_refused_next_to_its_field(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("gem-a", "000002")
    await _set_ceiling(admin, "employee", 5, 10)
    person = await portal_as(actor("gem-a", AdminRole.TENANT_ADMIN))
    page = await person.get(PAGE)
    assert "5 per seconde, piek 10" in page.text  # the ceiling is shown

    refused = await person.post(
        PAGE, _limit_form(await _etag_of(person), employee_rate="6", employee_burst="10")
    )

    assert refused.status_code == 400
    assert 'id="limiet-employee-rate-error"' in refused.text
    assert "hoger dan het plafond van de operator (5)" in refused.text
    assert 'aria-invalid="true" aria-describedby="limiet-employee-rate-error' in refused.text
    assert 'role="alert"' in refused.text and 'href="#limiet-employee-rate"' in refused.text
    assert 'name="limiet_employee_rate" value="6"' in refused.text  # what was sent stays
    assert (await _limits(admin))["limits"]["employee"] is None


async def test_form_text_that_is_no_number_or_half_a_limit_is_refused(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("gem-a", "000002")
    person = await portal_as(actor("gem-a", AdminRole.TENANT_ADMIN))

    text = await person.post(PAGE, _limit_form(await _etag_of(person), tenant_rate="veel", tenant_burst="5"))
    assert text.status_code == 400
    assert 'id="limiet-tenant-rate-error"' in text.text and "Vul een getal groter dan 0 in" in text.text

    half = await person.post(PAGE, _limit_form(await _etag_of(person), afnemer_rate="3"))
    assert half.status_code == 400  # the tenant file's validator: burst is required
    assert 'id="limiet-afnemer-burst-error"' in half.text and "Vul ook dit veld in" in half.text

    zero = await person.post(PAGE, _limit_form(await _etag_of(person), afnemer_rate="0", afnemer_burst="1"))
    assert zero.status_code == 400
    assert 'id="limiet-afnemer-rate-error"' in zero.text
    assert (await _limits(admin))["limits"] == {"tenant": None, "afnemer": None, "employee": None}


async def test_a_stale_form_is_refused_and_shows_the_new_state(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("gem-a", "000002")
    person = await portal_as(actor("gem-a", AdminRole.TENANT_ADMIN))
    stale = await _etag_of(person)
    await _set_ceiling(admin, "tenant", 30, 60)  # someone else changes the resource meanwhile

    refused = await person.post(PAGE, _limit_form(stale, tenant_rate="10", tenant_burst="20"))

    assert refused.status_code == 412
    assert "Iemand anders heeft dit intussen gewijzigd" in refused.text
    assert "30 per seconde, piek 60" in refused.text
    assert (await _limits(admin))["limits"]["tenant"] is None


async def test_the_operator_sets_and_removes_a_ceiling(admin: AdminBroker, portal_as: PortalAs) -> None:
    await admin.onboard("gem-a", "000002")
    operator = await portal_as(actor(None, AdminRole.OPERATOR, subject="op-1"))
    page = await operator.get(PAGE)
    assert 'id="plafonds-form"' in page.text and 'id="limieten-form"' in page.text

    saved = await operator.post(
        CEILINGS,
        {"etag": await _etag_of(operator), "plafond_tenant_rate": "20", "plafond_tenant_burst": "40"},
    )

    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"{BEHEER}{PAGE}?opgeslagen=plafonds"
    assert (await _limits(admin))["ceilings"]["tenant"] == {"rate": 20.0, "burst": 40}
    audit = await operator.get("/t/gem-a/audit?onderdeel=limit_ceiling")
    assert audit.text.count("<time datetime=") == 1
    assert "operator:op-1" in audit.text and "Plafond van een limiet" in audit.text

    half = await operator.post(CEILINGS, {"etag": await _etag_of(operator), "plafond_tenant_rate": "20"})
    assert half.status_code == 400
    assert 'id="plafond-tenant-burst-error"' in half.text

    removed = await operator.post(CEILINGS, {"etag": await _etag_of(operator)})
    assert removed.status_code == 303
    assert (await _limits(admin))["ceilings"]["tenant"] is None


async def test_a_tenant_admin_cannot_post_the_ceilings(admin: AdminBroker, portal_as: PortalAs) -> None:
    await admin.onboard("gem-a", "000002")
    person = await portal_as(actor("gem-a", AdminRole.TENANT_ADMIN))

    refused = await person.post(
        CEILINGS,
        {"etag": await _etag_of(person), "plafond_tenant_rate": "999", "plafond_tenant_burst": "999"},
    )

    assert refused.status_code == 403
    assert (await _limits(admin))["ceilings"]["tenant"] is None


async def test_every_post_needs_the_form_token(admin: AdminBroker, portal_as: PortalAs) -> None:
    await admin.onboard("gem-a", "000002")
    operator = await portal_as(actor(None, AdminRole.OPERATOR, subject="op-1"))
    etag = await _etag_of(operator)
    for path, fields in (
        (PAGE, {"limiet_tenant_rate": "1", "limiet_tenant_burst": "1"}),
        (CEILINGS, {"plafond_tenant_rate": "1", "plafond_tenant_burst": "1"}),
    ):
        refused = await operator.post(path, {"csrf": "not-the-token", "etag": etag, **fields})
        assert refused.status_code == 403
        assert "Formulier geweigerd" in refused.text
    view = await _limits(admin)
    assert view["limits"]["tenant"] is None and view["ceilings"]["tenant"] is None


async def test_a_file_managed_tenant_is_read_only(admin: AdminBroker, portal_as: PortalAs) -> None:
    before = await _limits(admin, "bestand")
    etag = (await admin.as_operator("GET", "/tenants/bestand/limits")).headers["ETag"]
    person = await portal_as(actor("bestand", AdminRole.TENANT_ADMIN))
    operator = await portal_as(actor(None, AdminRole.OPERATOR, subject="op-1"))
    for viewer in (person, operator):
        page = await viewer.get("/t/bestand/limieten")
        assert page.status_code == 200
        assert "wordt beheerd met een tenantbestand" in page.text
        assert "<form" not in page.text.split("<main", 1)[1]  # no forms in the page itself

    refused = await person.post("/t/bestand/limieten", _limit_form(etag, tenant_rate="1", tenant_burst="1"))
    assert refused.status_code == 409
    assert "wordt beheerd met een tenantbestand" in refused.text
    ceilings = await operator.post(
        "/t/bestand/limieten/plafonds",
        {"etag": etag, "plafond_tenant_rate": "1", "plafond_tenant_burst": "1"},
    )
    assert ceilings.status_code == 409
    assert await _limits(admin, "bestand") == before


async def test_another_tenant_s_limits_are_not_found(admin: AdminBroker, portal_as: PortalAs) -> None:
    await admin.onboard("gem-a", "000002")
    await admin.onboard("gem-b", "000003")
    etag = (await admin.as_operator("GET", "/tenants/gem-a/limits")).headers["ETag"]
    other = await portal_as(actor("gem-b", AdminRole.TENANT_ADMIN))

    assert (await other.get(PAGE)).status_code == 404
    assert (await other.post(PAGE, _limit_form(etag, tenant_rate="1", tenant_burst="1"))).status_code == 404
    refused = await other.post(
        CEILINGS, {"etag": etag, "plafond_tenant_rate": "1", "plafond_tenant_burst": "1"}
    )
    assert refused.status_code == 404
    view = await _limits(admin)
    assert view["limits"]["tenant"] is None and view["ceilings"]["tenant"] is None


async def test_a_privacy_officer_without_the_admin_role_is_refused(
    admin: AdminBroker, portal_as: PortalAs
) -> None:
    await admin.onboard("gem-a", "000002")
    etag = (await admin.as_operator("GET", "/tenants/gem-a/limits")).headers["ETag"]
    officer = await portal_as(actor("gem-a", AdminRole.PRIVACY_OFFICER, subject="P1"))

    assert (await officer.get(PAGE)).status_code == 403
    assert (await officer.post(PAGE, _limit_form(etag, tenant_rate="1", tenant_burst="1"))).status_code == 403
    assert (await _limits(admin))["limits"]["tenant"] is None
