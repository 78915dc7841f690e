"""Writes through the admin API: concurrency (ETag, If-Match), dry runs, file-managed tenants,
one validator with the tenant files, limit ceilings, write-only secrets and the audit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.audit import read_audit
from app.tenancy.files import parse_tenant, tenant_document
from tests.conftest import LogCapture
from tests.integration.admin.conftest import ADMIN, AdminBroker, bearer
from tests.integration.admin.conftest import tenant_document as new_tenant

RULES = f"{ADMIN}/tenants/gem-a/rules"
WIJKTEAM = {"who": ["role:wijkteam"], "gegevenssets": ["basis"], "afnemers": ["000004"]}


async def _admin_headers(admin: AdminBroker) -> dict[str, str]:
    await admin.onboard("gem-a", "000004")
    return bearer(admin.parties.admin("gem-a"))


async def test_changing_an_existing_resource_needs_its_current_etag(admin: AdminBroker) -> None:
    headers = await _admin_headers(admin)
    created = await admin.client.put(f"{RULES}/wijkteam", json=WIJKTEAM, headers=headers)
    assert created.status_code == 200
    etag = created.headers["ETag"]
    assert (await admin.client.get(f"{RULES}/wijkteam", headers=headers)).headers["ETag"] == etag

    without = await admin.client.put(f"{RULES}/wijkteam", json=WIJKTEAM, headers=headers)
    assert (without.status_code, without.json()["code"]) == (428, "preconditionRequired")

    changed = await admin.client.put(
        f"{RULES}/wijkteam",
        json={**WIJKTEAM, "description": "Wijkteam"},
        headers={**headers, "If-Match": etag},
    )
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag

    stale = await admin.client.put(f"{RULES}/wijkteam", json=WIJKTEAM, headers={**headers, "If-Match": etag})
    assert (stale.status_code, stale.json()["code"]) == (412, "preconditionFailed")
    stale_delete = await admin.client.delete(f"{RULES}/wijkteam", headers={**headers, "If-Match": etag})
    assert stale_delete.status_code == 412


async def test_a_dry_run_shows_the_plan_and_changes_nothing(admin: AdminBroker) -> None:
    headers = await _admin_headers(admin)
    before = (await admin.client.get(RULES, headers=headers)).headers["ETag"]
    audited = len((await read_audit(admin.app.state.resources.pool, "gem-a", limit=500)).entries)

    response = await admin.client.put(
        f"{RULES}/wijkteam", json=WIJKTEAM, headers=headers, params={"dry_run": "true"}
    )

    assert response.status_code == 200
    assert response.json() == {
        "dry_run": True,
        "changes": [{"resource": "rule", "key": "wijkteam", "action": "add", "fields": []}],
    }
    assert (await admin.client.get(RULES, headers=headers)).headers["ETag"] == before
    assert (await admin.client.get(f"{RULES}/wijkteam", headers=headers)).status_code == 404
    assert len((await read_audit(admin.app.state.resources.pool, "gem-a", limit=500)).entries) == audited


async def test_every_write_is_audited_with_actor_role_and_before_and_after(admin: AdminBroker) -> None:
    headers = await _admin_headers(admin)
    created = await admin.client.put(
        f"{RULES}/wijkteam", json=WIJKTEAM, headers={**headers, "x-correlation-id": "c-1"}
    )
    await admin.client.delete(f"{RULES}/wijkteam", headers={**headers, "If-Match": created.headers["ETag"]})

    page = await read_audit(admin.app.state.resources.pool, "gem-a", limit=500)
    rules = [e for e in page.entries if e.resource == "rule" and e.key == "wijkteam"]
    removed, added = rules
    assert (added.action, added.actor, added.role, added.via) == (
        "add",
        "gem-a:gem-a-A1",
        "tenant-admin",
        "api",
    )
    assert added.correlation_id == "c-1"
    assert added.before is None
    assert added.after is not None and added.after["who"] == ["role:wijkteam"]
    assert (removed.action, removed.after) == ("remove", None)
    onboarding = {
        (e.resource, e.action, e.actor) for e in page.entries if e.resource in ("tenant", "afnemer")
    }
    assert onboarding == {("tenant", "add", "operator:op-1"), ("afnemer", "add", "operator:op-1")}


async def test_a_file_managed_tenant_is_changed_by_its_file_only(
    admin: AdminBroker, file_tenant: str
) -> None:
    operator = bearer(admin.parties.operator())
    response = await admin.client.put(
        f"{ADMIN}/tenants/{file_tenant}/rules/nieuw",
        json={"who": ["tenant"], "gegevenssets": ["alles"]},
        headers=operator,
    )
    assert response.status_code == 409
    assert response.json()["code"] == "tenantManagedByFile"
    assert "tenants apply" in response.json()["detail"]
    # Reading is fine.
    tenant = await admin.client.get(f"{ADMIN}/tenants/{file_tenant}", headers=operator)
    assert tenant.json()["managed_by"] == "file"


async def test_the_api_refuses_what_the_tenant_file_refuses_in_the_same_words(admin: AdminBroker) -> None:
    headers = await _admin_headers(admin)
    body: dict[str, Any] = {
        "who": ["role:wijkteam", "afdeling:x"],
        "gegevenssets": ["bestaat-niet"],
        "required_headers": ["x-foo"],
        "kleur": "blauw",
    }
    response = await admin.client.put(f"{RULES}/wijkteam", json=body, headers=headers)

    state = await admin.app.state.tenancy_service.read("gem-a")
    document = tenant_document(state.spec)
    document["rules"]["wijkteam"] = body
    _, problems = parse_tenant(document, "gem-a.toml", expected_slug="gem-a")
    assert response.status_code == 400
    assert response.json()["code"] == "paramsValidation"
    assert [(p["name"], p["reason"]) for p in response.json()["invalidParams"]] == [
        (p.key, p.message) for p in problems
    ]
    assert len(problems) == 4


async def test_a_slug_with_nine_digits_in_a_row_is_refused_without_echoing_it(admin: AdminBroker) -> None:
    document = new_tenant(admin.sandbox, "gemeente-123456789", "000004")
    response = await admin.as_operator("POST", "/tenants", json=document)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert [(p["name"], p["reason"]) for p in response.json()["invalidParams"]] == [
        ("slug", "must not hold nine or more digits in a row (logs and metrics treat those as a BSN)")
    ]
    assert "123456789" not in response.text
    listed = await admin.as_operator("GET", "/tenants")
    assert "gemeente-" not in listed.text


async def test_a_gegevensset_is_checked_against_rvigs_fields(admin: AdminBroker) -> None:
    headers = await _admin_headers(admin)
    response = await admin.client.put(
        f"{ADMIN}/tenants/gem-a/gegevenssets/smal",
        json={"apis": ["personen"], "fields": ["naam", "schoenmaat"], "parameters": ["*"]},
        headers=headers,
    )
    assert response.status_code == 400
    assert [p["name"] for p in response.json()["invalidParams"]] == ["gegevenssets.smal.fields"]


async def test_tenant_admins_set_limits_up_to_the_operators_ceiling(admin: AdminBroker) -> None:
    headers = await _admin_headers(admin)
    limits = f"{ADMIN}/tenants/gem-a/limits"
    etag = (await admin.client.get(limits, headers=headers)).headers["ETag"]
    ceiling = await admin.as_operator(
        "PUT",
        "/tenants/gem-a/limits/ceilings",
        json={"employee": {"rate": 5, "burst": 10}},
        headers={"If-Match": etag},
    )
    assert ceiling.status_code == 200, ceiling.text
    etag = ceiling.headers["ETag"]

    above = await admin.client.put(
        limits, json={"employee": {"rate": 6, "burst": 10}}, headers={**headers, "If-Match": etag}
    )
    assert above.status_code == 400
    assert above.json()["invalidParams"] == [
        {
            "code": "ceiling",
            "name": "limits.employee.rate",
            "reason": "6 is above the operator's ceiling of 5",
        }
    ]
    within = await admin.client.put(
        limits, json={"employee": {"rate": 5, "burst": 10}}, headers={**headers, "If-Match": etag}
    )
    assert within.status_code == 200
    assert within.json()["limits"]["employee"] == {"rate": 5.0, "burst": 10}


async def test_a_secret_is_write_only_and_never_logged(
    admin: AdminBroker, logs: LogCapture, tmp_path: Path
) -> None:
    await admin.onboard("gem-a", "000004")
    secret = "rotated-secret-value-4711"
    afnemer = f"{ADMIN}/tenants/gem-a/afnemers/000004"
    operator = bearer(admin.parties.operator())
    read = await admin.client.get(afnemer, headers=operator)

    rotated = await admin.client.put(
        f"{afnemer}/secret",
        json={"client_secret": secret},
        headers={**operator, "If-Match": read.headers["ETag"]},
    )

    assert rotated.status_code == 200
    assert rotated.json()["client_secret_fingerprint"].startswith("sha256:")
    assert rotated.json()["client_secret_fingerprint"] != read.json()["client_secret_fingerprint"]
    assert "client_secret" not in rotated.json()
    listed = await admin.client.get(
        f"{ADMIN}/tenants/gem-a/afnemers", headers=bearer(admin.parties.admin("gem-a"))
    )
    page = await read_audit(admin.app.state.resources.pool, "gem-a", limit=500)
    for text in (rotated.text, listed.text, logs.text, str(page)):
        assert secret not in text
        assert "dev-only-secret-000004" not in text
    spec = (await admin.app.state.tenancy_service.read("gem-a")).spec
    assert spec.afnemers[0].client_secret.startswith("enc:v1:")


async def test_the_operator_suspends_and_resumes_a_tenant(admin: AdminBroker) -> None:
    await admin.onboard("gem-a", "000004")
    operator = bearer(admin.parties.operator())
    etag = (await admin.client.get(f"{ADMIN}/tenants/gem-a", headers=operator)).headers["ETag"]
    suspended = await admin.client.patch(
        f"{ADMIN}/tenants/gem-a", json={"status": "suspended"}, headers={**operator, "If-Match": etag}
    )
    assert suspended.json()["status"] == "suspended"
    await admin.until(lambda s: not s.tenants["gem-a"].active)
    resumed = await admin.client.patch(
        f"{ADMIN}/tenants/gem-a",
        json={"status": "active"},
        headers={**operator, "If-Match": suspended.headers["ETag"]},
    )
    assert resumed.json()["status"] == "active"


async def test_the_operator_removes_an_api_managed_tenant(admin: AdminBroker) -> None:
    await admin.onboard("gem-a", "000004")
    operator = bearer(admin.parties.operator())
    etag = (await admin.client.get(f"{ADMIN}/tenants/gem-a", headers=operator)).headers["ETag"]
    removed = await admin.client.delete(f"{ADMIN}/tenants/gem-a", headers={**operator, "If-Match": etag})
    assert removed.status_code == 200, removed.text
    await admin.until(lambda s: "gem-a" not in s.tenants)
    assert (await admin.client.get(f"{ADMIN}/tenants/gem-a", headers=operator)).status_code == 404


async def test_the_admin_openapi_document_has_the_real_schemas(admin: AdminBroker) -> None:
    document = (await admin.client.get(f"{ADMIN}/openapi.json")).json()
    rule_put = document["paths"]["/admin/v1/tenants/{slug}/rules/{name}"]["put"]
    assert rule_put["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RuleBody"
    }
    assert "client_secret" not in document["components"]["schemas"]["AfnemerView"]["properties"]
    broker_schema = (await admin.client.get("/schema/openapi.json")).json()
    assert not any(path.startswith("/admin") for path in broker_schema["paths"])


async def test_the_admin_openapi_document_describes_errors_as_problems(admin: AdminBroker) -> None:
    document = (await admin.client.get(f"{ADMIN}/openapi.json")).json()
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert responses["default"]["content"] == problem, (method, path)
            if "400" in responses:
                assert responses["400"]["content"] == problem, (method, path)
    assert "invalidParams" in document["components"]["schemas"]["Problem"]["properties"]
