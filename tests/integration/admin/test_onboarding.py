"""The operator onboards a gemeente through the API alone; a tenant admin grants and revokes access
and the gateway follows: at once on the replica that answered the change (it reloads the tenant
before answering), within the NOTIFY reload on every other."""

from __future__ import annotations

from tests.integration.admin.conftest import ADMIN, PERSONEN, RAADPLEEG, AdminBroker, bearer


async def test_operator_onboards_a_gemeente_and_its_employees_reach_rvig(admin: AdminBroker) -> None:
    await admin.onboard("nieuwegem", "000004")
    employee = admin.parties.tenant("nieuwegem", "burgerzaken")

    response = await admin.client.post(PERSONEN, json=RAADPLEEG, headers=bearer(employee))

    assert response.status_code == 200, response.text
    assert response.json()["personen"]


async def test_a_role_granted_through_the_api_works_at_once_and_a_revoked_one_is_refused(
    admin: AdminBroker,
) -> None:
    await admin.onboard("nieuwegem", "000004")
    tenant_admin = bearer(admin.parties.admin("nieuwegem"))
    wijkteam = bearer(admin.parties.tenant("nieuwegem", "wijkteam", employee="W1"))
    assert (await admin.client.post(PERSONEN, json=RAADPLEEG, headers=wijkteam)).status_code == 403

    granted = await admin.client.put(
        f"{ADMIN}/tenants/nieuwegem/rules/wijkteam",
        json={"who": ["role:wijkteam"], "gegevenssets": ["basis"], "afnemers": ["000004"]},
        headers=tenant_admin,
    )
    assert granted.status_code == 200, granted.text
    assert (await admin.client.post(PERSONEN, json=RAADPLEEG, headers=wijkteam)).status_code == 200

    revoked = await admin.client.delete(
        f"{ADMIN}/tenants/nieuwegem/rules/wijkteam",
        headers={**tenant_admin, "If-Match": granted.headers["ETag"]},
    )
    assert revoked.status_code == 200, revoked.text
    assert (await admin.client.post(PERSONEN, json=RAADPLEEG, headers=wijkteam)).status_code == 403
