"""`/admin/v1/tenants/{slug}/ldv`: the tenant's Logboek Dataverwerkingen settings through the admin API.

Validated by the tenant file's validator (the same problems, named `ldv.<field>`), kept as given,
applied to the gateway's protocol records, and another tenant's admin neither sees nor sets them.
The endpoint (where the broker sends records) is the operator's to set.
"""

from __future__ import annotations

import secrets
from typing import Any

from joserfc.jwk import ECKey

from app.tenancy import LdvSettings
from tests.integration.admin.conftest import ADMIN, PERSONEN, RAADPLEEG, AdminBroker, bearer
from tests.integration.gateway.records import the_one_record
from tests.support.ids import request_id

LDV = f"{ADMIN}/tenants/gem-a/ldv"
REGISTER = "https://register.gem-a.example/verwerkingsactiviteiten"
SETTINGS: dict[str, Any] = {
    "processing_activity": f"{REGISTER}/brp",
    "processing_activities": {"burgerzaken": f"{REGISTER}/burgerzaken"},
    "caller": "https://zaaksysteem.gem-a.example",
}
ENDPOINT = "https://logboek.gem-a.example/v1/traces"


def _public_key() -> dict[str, str]:
    jwk = ECKey.generate_key("P-256").as_dict(private=False)
    return {name: value for name, value in jwk.items() if isinstance(value, str)}


async def _etag(admin: AdminBroker, headers: dict[str, str], url: str = LDV) -> str:
    response = await admin.client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return response.headers["ETag"]


async def test_a_tenant_admin_sets_ldv_and_reads_back_exactly_that(admin: AdminBroker) -> None:
    await admin.onboard("gem-a", "000004")
    headers = bearer(admin.parties.admin("gem-a"))
    before = await admin.client.get(LDV, headers=headers)
    assert before.json() == {
        "processing_activity": None,
        "processing_activities": {},
        "caller": None,
        "subject_key": None,
        "endpoint": None,
    }
    body = {**SETTINGS, "subject_key": _public_key()}

    put = await admin.client.put(LDV, json=body, headers={**headers, "If-Match": before.headers["ETag"]})

    assert put.status_code == 200, put.text
    got = await admin.client.get(LDV, headers=headers)
    assert got.json() == put.json() == {**body, "endpoint": None}
    assert got.headers["ETag"] == put.headers["ETag"] != before.headers["ETag"]
    await admin.until(lambda snapshot: snapshot.tenants["gem-a"].spec.ldv.caller == SETTINGS["caller"])
    assert admin.directory.snapshot.tenants["gem-a"].spec.ldv == LdvSettings(**body)


async def test_the_gateway_records_what_the_admin_configured(admin: AdminBroker, admin_database: str) -> None:
    await admin.onboard("gem-a", "000004")
    headers = bearer(admin.parties.admin("gem-a"))
    put = await admin.client.put(
        LDV, json=SETTINGS, headers={**headers, "If-Match": await _etag(admin, headers)}
    )
    assert put.status_code == 200, put.text
    await admin.until(lambda snapshot: snapshot.tenants["gem-a"].spec.ldv.caller == SETTINGS["caller"])

    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    correlation_id = request_id("ldv")
    response = await admin.client.post(
        PERSONEN,
        json=RAADPLEEG,
        headers={
            **bearer(admin.parties.tenant("gem-a", "burgerzaken")),
            "x-doelbinding": "burgerzaken",
            "traceparent": f"00-{trace_id}-{span_id}-01",
            "x-correlation-id": correlation_id,
        },
    )
    assert response.status_code == 200, response.text
    stored = await the_one_record(admin_database, correlation_id)
    assert (stored["trace_id"], stored["parent_span_id"]) == (trace_id, span_id)
    assert stored["processing_activity"] == f"{REGISTER}/burgerzaken"
    assert stored["foreign_processor"] == SETTINGS["caller"]


async def test_an_invalid_ldv_is_a_problem_naming_the_field(admin: AdminBroker) -> None:
    await admin.onboard("gem-a", "000004")
    headers = bearer(admin.parties.admin("gem-a"))
    etag = await _etag(admin, headers)
    private = ECKey.generate_key("P-256", private=True).as_dict(private=True)
    body: dict[str, Any] = {
        "processing_activity": "not a uri",
        "subject_key": private,
        "processing_activities": {"x": "ftp://elders.example"},
        "colour": "red",
    }

    response = await admin.client.put(LDV, json=body, headers={**headers, "If-Match": etag})

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {p["name"] for p in response.json()["invalidParams"]} == {
        "ldv.colour",
        "ldv.processing_activity",
        "ldv.subject_key",
        "ldv.processing_activities.x",
    }
    assert str(private["d"]) not in response.text
    assert await _etag(admin, headers) == etag  # nothing changed


async def test_only_the_operator_sets_or_changes_the_endpoint(admin: AdminBroker) -> None:
    await admin.onboard("gem-a", "000004")
    headers = bearer(admin.parties.admin("gem-a"))
    with_endpoint = {**SETTINGS, "subject_key": _public_key(), "endpoint": ENDPOINT}

    by_admin = await admin.client.put(
        LDV, json=with_endpoint, headers={**headers, "If-Match": await _etag(admin, headers)}
    )
    assert by_admin.status_code == 403
    assert "ldv.endpoint" in by_admin.json()["detail"]

    by_operator = await admin.as_operator(
        "PUT", "/tenants/gem-a/ldv", json=with_endpoint, headers={"If-Match": await _etag(admin, headers)}
    )
    assert by_operator.status_code == 200, by_operator.text
    assert by_operator.json()["endpoint"] == ENDPOINT

    # The tenant admin changes the rest, keeping the operator's endpoint.
    kept = {**with_endpoint, "caller": "https://ander-zaaksysteem.gem-a.example"}
    by_admin_again = await admin.client.put(
        LDV, json=kept, headers={**headers, "If-Match": by_operator.headers["ETag"]}
    )
    assert by_admin_again.status_code == 200, by_admin_again.text
    removed = await admin.client.put(
        LDV, json=SETTINGS, headers={**headers, "If-Match": by_admin_again.headers["ETag"]}
    )
    assert removed.status_code == 403


async def test_another_tenants_admin_can_neither_see_nor_set_ldv(admin: AdminBroker) -> None:
    await admin.onboard("gem-a", "000004")
    await admin.onboard("gem-b", "000005")
    a_admin = bearer(admin.parties.admin("gem-a"))
    b_admin = bearer(admin.parties.admin("gem-b"))
    etag = await _etag(admin, a_admin)
    put = await admin.client.put(LDV, json=SETTINGS, headers={**a_admin, "If-Match": etag})
    assert put.status_code == 200

    seen = await admin.client.get(LDV, headers=b_admin)
    assert seen.status_code == 404
    assert SETTINGS["caller"] not in seen.text
    set_ = await admin.client.put(
        LDV, json={"caller": "https://b.example"}, headers={**b_admin, "If-Match": put.headers["ETag"]}
    )
    assert set_.status_code == 404
    assert (await admin.client.get(LDV, headers=a_admin)).json()["caller"] == SETTINGS["caller"]
    # And gem-b's own stays its own.
    assert (await admin.client.get(f"{ADMIN}/tenants/gem-b/ldv", headers=b_admin)).json()["caller"] is None


async def test_a_tenant_created_with_ldv_keeps_it(admin: AdminBroker) -> None:
    await admin.onboard("gem-a", "000004", ldv=SETTINGS)
    got = await admin.as_operator("GET", "/tenants/gem-a/ldv")
    assert got.status_code == 200
    assert {k: v for k, v in got.json().items() if k in SETTINGS} == SETTINGS


async def test_a_file_managed_tenants_ldv_is_read_only(admin: AdminBroker, file_tenant: str) -> None:
    url = f"{ADMIN}/tenants/{file_tenant}/ldv"
    operator = bearer(admin.parties.operator())
    etag = await _etag(admin, operator, url)
    response = await admin.client.put(url, json=SETTINGS, headers={**operator, "If-Match": etag})
    assert (response.status_code, response.json()["code"]) == (409, "tenantManagedByFile")


_ZERO_X25519 = {"kty": "OKP", "crv": "X25519", "x": "A" * 43}  # a low-order point: no shared key


async def test_malformed_ldv_bodies_are_problems_never_500(admin: AdminBroker) -> None:
    await admin.onboard("gem-a", "000004")
    headers = bearer(admin.parties.admin("gem-a"))
    key = _public_key()
    bodies: list[Any] = [
        None,
        [],
        "ldv",
        7,
        {"processing_activities": "x"},
        {"processing_activities": {"": f"{REGISTER}/brp"}},
        {"processing_activities": {"a": 5}},
        {"caller": "http://[::1"},
        {"caller": "https://x.example:99999/"},
        {"caller": "https://user:pw@x.example/"},
        {"caller": "https://x.example/\u202e"},
        {"caller": ["https://x.example/"]},
        {"subject_key": {"kty": "EC", "crv": "P-256", "x": 5}},
        {"subject_key": {**key, "x": "!!!"}},
        {"subject_key": {**key, "crv": "P-384"}},
        {"subject_key": "not a key"},
        {"subject_key": _ZERO_X25519},
        {"subject_key": {**key, "kid": "k" * 1000}},
        {"subject_key": {**key, "kid": "k\n1"}},
    ]
    for body in bodies:
        etag = await _etag(admin, headers)
        response = await admin.client.put(LDV, json=body, headers={**headers, "If-Match": etag})
        assert response.status_code == 400, (body, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
