"""The audit over HTTP: tenant admins read their own tenant's, operators every tenant's; never a secret."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from tests.integration.admin.conftest import ADMIN, AdminBroker, bearer


def _entries(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


async def _grant_wijkteam(admin: AdminBroker) -> None:
    granted = await admin.client.put(
        f"{ADMIN}/tenants/nieuwegem/rules/wijkteam",
        json={"who": ["role:wijkteam"], "gegevenssets": ["basis"], "afnemers": ["000004"]},
        headers=bearer(admin.parties.admin("nieuwegem")),
    )
    assert granted.status_code == 200, granted.text


async def test_a_tenant_admin_sees_their_change_in_the_audit(admin: AdminBroker) -> None:
    await admin.onboard("nieuwegem", "000004")
    await _grant_wijkteam(admin)

    response = await admin.client.get(
        f"{ADMIN}/tenants/nieuwegem/audit",
        params={"resource": "rule", "actor": "nieuwegem:nieuwegem-A1"},
        headers=bearer(admin.parties.admin("nieuwegem")),
    )

    (entry,) = _entries(response)
    assert (entry["tenant"], entry["resource"], entry["key"], entry["action"]) == (
        "nieuwegem",
        "rule",
        "wijkteam",
        "add",
    )
    assert (entry["role"], entry["via"], entry["source"]) == ("tenant-admin", "api", None)
    assert entry["before"] is None
    assert entry["after"]["who"] == ["role:wijkteam"]
    assert entry["correlation_id"]


async def test_the_operator_reads_every_tenants_audit_and_filters_it(admin: AdminBroker) -> None:
    await admin.onboard("nieuwegem", "000004")
    everything = _entries(await admin.as_operator("GET", "/audit", params={"limit": 500}))
    assert {e["tenant"] for e in everything} == {"bestand", "nieuwegem"}
    assert {e["actor"] for e in everything if e["tenant"] == "bestand"} == {"tenants apply"}
    assert {e["actor"] for e in everything if e["tenant"] == "nieuwegem"} == {"operator:op-1"}
    only = _entries(
        await admin.as_operator("GET", "/audit", params={"tenant": "bestand", "resource": "tenant"})
    )
    assert [(e["tenant"], e["resource"], e["action"]) for e in only] == [("bestand", "tenant", "add")]
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert _entries(await admin.as_operator("GET", "/audit", params={"since": tomorrow})) == []
    assert len(_entries(await admin.as_operator("GET", "/audit", params={"until": tomorrow}))) == len(
        everything
    )

    # Pages: newest first, each entry once.
    seen: list[tuple[str, int]] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        response = await admin.as_operator("GET", "/audit", params=params)
        seen += [(e["tenant"], e["seq"]) for e in _entries(response)]
        cursor = response.json().get("next_cursor")
        if cursor is None:
            break
        params = {"limit": 2, "cursor": cursor}
    assert sorted(seen) == sorted((e["tenant"], e["seq"]) for e in everything)


def _cursor(fields: list[Any]) -> str:
    """A hand-made cursor in the API's own encoding (base64url JSON)."""
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-01-01T00:00:00"}, "until"),  # no offset: which zone?
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"cursor": "not-ours"}, "cursor"),
        # Out of what PostgreSQL and the date arithmetic hold: a problem, not a 500.
        ({"since": "0001-01-01T00:00:00+05:00"}, "since"),
        ({"until": "9999-12-31T23:59:59-05:00"}, "until"),
        ({"cursor": _cursor(["0001-01-01T00:00:00+05:00", "bestand", 1])}, "cursor"),
        ({"cursor": _cursor(["2026-01-01T00:00:00+00:00", "bestand", 10**20])}, "cursor"),
        ({"cursor": _cursor(["2026-01-01T00:00:00+00:00", "best\u0000and", 1])}, "cursor"),
    ],
)
async def test_a_bad_filter_is_a_problem_naming_it(
    admin: AdminBroker, params: dict[str, Any], name: str
) -> None:
    for path in ("/audit", "/tenants/bestand/audit"):
        response = await admin.as_operator("GET", path, params=params)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [p["name"] for p in response.json()["invalidParams"]] == [name]


async def test_nobody_reads_another_tenants_audit(admin: AdminBroker) -> None:
    await admin.onboard("nieuwegem", "000004")
    parties = admin.parties
    expected = {
        # Another tenant's admin: as if the tenant did not exist.
        parties.admin("bestand"): 404,
        parties.privacy_officer("nieuwegem"): 403,
        parties.tenant("nieuwegem", "burgerzaken"): 403,
        parties.admin("nieuwegem"): 200,
        parties.operator(): 200,
    }
    for token, status in expected.items():
        response = await admin.client.get(f"{ADMIN}/tenants/nieuwegem/audit", headers=bearer(token))
        assert response.status_code == status, response.text
        if status == 200:
            assert {e["tenant"] for e in response.json()["entries"]} == {"nieuwegem"}
    assert (await admin.client.get(f"{ADMIN}/tenants/nieuwegem/audit")).status_code == 401
    for token in (parties.admin("nieuwegem"), parties.privacy_officer("nieuwegem")):
        response = await admin.client.get(f"{ADMIN}/audit", headers=bearer(token))
        assert response.status_code == 403, response.text
    # A tenant the broker never had: 404 for the operator too.
    assert (await admin.as_operator("GET", "/tenants/nooit/audit")).status_code == 404


async def test_a_secret_set_through_the_api_never_shows_in_the_audit(admin: AdminBroker) -> None:
    document = await admin.onboard("nieuwegem", "000004")
    plain = document["afnemers"]["000004"]["client_secret"]
    etag = (await admin.as_operator("GET", "/tenants/nieuwegem/afnemers/000004")).headers["ETag"]
    rotated = await admin.client.put(
        f"{ADMIN}/tenants/nieuwegem/afnemers/000004/secret",
        json={"client_secret": "a-rotated-plain-secret"},
        headers={**bearer(admin.parties.operator()), "If-Match": etag},
    )
    assert rotated.status_code == 200, rotated.text
    for path in ("/audit", "/tenants/nieuwegem/audit"):
        response = await admin.as_operator("GET", path, params={"limit": 500})
        assert response.status_code == 200
        assert plain not in response.text
        assert "a-rotated-plain-secret" not in response.text
        assert "enc:v1:" not in response.text
    afnemer = _entries(
        await admin.as_operator("GET", "/tenants/nieuwegem/audit", params={"resource": "afnemer"})
    )
    fingerprints = {e["after"]["client_secret"] for e in afnemer if e["after"]}
    assert len(fingerprints) == 2 and all(f.startswith("sha256:") for f in fingerprints)
