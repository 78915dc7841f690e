"""Who may do what: every endpoint and method of the admin API for every party.

Parties: the operator, the tenant's admin, its privacy officer, a plain employee, the admin of
another tenant, and no token. Another tenant's actor learns nothing (404, as for a tenant that does
not exist); within its own tenant a missing role is 403; without a token 401.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.admin.conftest import ADMIN, AdminBroker, bearer

T = "/tenants/gem-a"
RULE = {"who": ["role:x"], "gegevenssets": ["basis"]}
GEGEVENSSET = {"apis": ["personen"], "fields": ["naam"], "parameters": ["*"]}
MEMBER = {"name": "Lid"}
AFNEMER = {"environment": "sandbox", "identity": "dev", "client_id": "c", "client_secret": "s"}

# (method, path, body, who may): "operator", "admin" (the tenant's admin, and the operator).
ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("GET", "/tenants", None, "operator"),
    ("POST", "/tenants", {"slug": "x"}, "operator"),
    ("GET", T, None, "admin"),
    ("PATCH", T, {"name": "Gemeente A"}, "operator"),
    ("DELETE", T, None, "operator"),
    ("GET", f"{T}/members", None, "admin"),
    ("GET", f"{T}/members/m1", None, "admin"),
    ("PUT", f"{T}/members/m1", MEMBER, "operator"),
    ("DELETE", f"{T}/members/m1", None, "operator"),
    ("GET", f"{T}/issuers", None, "admin"),
    ("PUT", f"{T}/issuers", [], "operator"),
    ("GET", f"{T}/afnemers", None, "admin"),
    ("GET", f"{T}/afnemers/000004", None, "admin"),
    ("PUT", f"{T}/afnemers/000004", AFNEMER, "operator"),
    ("PUT", f"{T}/afnemers/000004/secret", {"client_secret": "s"}, "operator"),
    ("DELETE", f"{T}/afnemers/000004", None, "operator"),
    ("GET", f"{T}/rules", None, "admin"),
    ("GET", f"{T}/rules/burgerzaken", None, "admin"),
    ("PUT", f"{T}/rules/burgerzaken", RULE, "admin"),
    ("DELETE", f"{T}/rules/burgerzaken", None, "admin"),
    ("GET", f"{T}/gegevenssets", None, "admin"),
    ("GET", f"{T}/gegevenssets/basis", None, "admin"),
    ("PUT", f"{T}/gegevenssets/basis", GEGEVENSSET, "admin"),
    ("DELETE", f"{T}/gegevenssets/basis", None, "admin"),
    ("GET", f"{T}/limits", None, "admin"),
    ("PUT", f"{T}/limits", {}, "admin"),
    ("PUT", f"{T}/limits/ceilings", {}, "operator"),
    ("GET", f"{T}/ldv", None, "admin"),
    ("PUT", f"{T}/ldv", {}, "admin"),
]


def _refusal(party: str, may: str, path: str) -> int | None:
    """The status a party gets, or None when it is let through (to the handler)."""
    if party == "none":
        return 401
    if party == "operator":
        return None
    if party == "admin" and may == "admin":
        return None
    tenant_route = path.startswith(T)
    if party == "other-admin":
        return 404 if tenant_route else 403
    return 403


@pytest.mark.parametrize("party", ["operator", "admin", "privacy-officer", "employee", "other-admin", "none"])
async def test_each_party_reaches_exactly_its_own_endpoints(admin: AdminBroker, party: str) -> None:
    await admin.onboard("gem-a", "000004")
    await admin.onboard("gem-b", "000005")
    tokens = {
        "operator": admin.parties.operator(),
        "admin": admin.parties.admin("gem-a"),
        "privacy-officer": admin.parties.privacy_officer("gem-a"),
        "employee": admin.parties.tenant("gem-a", "burgerzaken"),
        "other-admin": admin.parties.admin("gem-b"),
    }
    headers = bearer(tokens[party]) if party in tokens else {}
    wrong: list[str] = []
    for method, path, body, may in ENDPOINTS:
        # dry_run: whoever gets through changes nothing, so every case sees the same tenant.
        response = await admin.client.request(
            method, ADMIN + path, json=body, headers={**headers, "If-Match": "*"}, params={"dry_run": "true"}
        )
        expected = _refusal(party, may, path)
        # A SaaS tenant has no member organisations: there the handler's own answer is 404 too.
        missing = "/members/" in path
        through = response.status_code not in (401, 403, 404) or (missing and response.status_code == 404)
        if expected is None and not through:
            wrong.append(f"{method} {path}: refused {response.status_code} {response.text}")
        if expected is not None and response.status_code != expected:
            wrong.append(f"{method} {path}: {response.status_code}, expected {expected}")
    assert not wrong, "\n".join(wrong)


async def test_a_token_of_the_operator_idp_without_the_operator_role_is_nobody(admin: AdminBroker) -> None:
    token = admin.parties.operator(roles=("viewer",))
    response = await admin.client.get(f"{ADMIN}/tenants", headers=bearer(token))
    assert response.status_code == 403


async def test_a_tenant_admin_cannot_reach_another_tenant_by_body_etag_or_afnemer(admin: AdminBroker) -> None:
    await admin.onboard("gem-a", "000004")
    await admin.onboard("gem-b", "000005")
    b_admin = bearer(admin.parties.admin("gem-b"))
    a_rule = await admin.as_operator("GET", "/tenants/gem-a/rules/burgerzaken")

    # A body naming the other tenant is not a way in: the tenant is the path's, and no body has one.
    by_body = await admin.client.put(
        f"{ADMIN}/tenants/gem-b/rules/burgerzaken",
        json={**RULE, "gegevenssets": ["basis"], "tenant": "gem-a"},
        headers={**b_admin, "If-Match": "*"},
    )
    assert by_body.status_code == 400
    assert {p["name"] for p in by_body.json()["invalidParams"]} == {"rules.burgerzaken.tenant"}
    # Another tenant's ETag does not open the other tenant's resource.
    by_etag = await admin.client.put(
        f"{ADMIN}/tenants/gem-a/rules/burgerzaken",
        json=RULE,
        headers={**b_admin, "If-Match": a_rule.headers["ETag"]},
    )
    assert by_etag.status_code == 404
    # An AfnemerID of another tenant cannot be mapped: it is not one of this tenant's.
    by_afnemer = await admin.client.put(
        f"{ADMIN}/tenants/gem-b/rules/leen",
        json={"who": ["tenant"], "gegevenssets": ["basis"], "afnemers": ["000004"]},
        headers=b_admin,
    )
    assert by_afnemer.status_code == 400
    assert by_afnemer.json()["invalidParams"] == [
        {
            "code": "invalid",
            "name": "rules.leen.afnemers",
            "reason": "unknown afnemer '000004' (not in [afnemers])",
        }
    ]
    # Nor can the operator give one tenant's AfnemerID to another: the database refuses it.
    afnemer = {
        "environment": "sandbox",
        "identity": "dev",
        "client_id": "c",
        "client_secret_reference": "env:X",
    }
    taken = await admin.as_operator("PUT", "/tenants/gem-b/afnemers/000004", json=afnemer)
    assert taken.status_code in (400, 409)
