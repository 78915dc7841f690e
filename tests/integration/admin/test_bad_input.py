"""Input no client should send still gets a 4xx problem, never a 500 — and never stores a secret.

Found by review: deep nesting in a body, a NUL character anywhere text reaches PostgreSQL, a BSN
with a trailing newline, and private key material in an issuer's inline JWKS.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.admin.conftest import ADMIN, AdminBroker, bearer, tenant_document

RULE = {"who": ["role:wijkteam"], "gegevenssets": ["basis"], "afnemers": ["000004"]}


async def _onboarded(admin: AdminBroker) -> dict[str, str]:
    await admin.onboard("gem-a", "000004")
    return bearer(admin.parties.admin("gem-a"))


def _is_client_problem(response: Any) -> None:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in response.text


@pytest.mark.parametrize("body", [b"[" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000, b'{"who": ["\xff"]}'])
async def test_a_body_too_deep_or_not_utf8_is_400(admin: AdminBroker, body: bytes) -> None:
    headers = await _onboarded(admin)
    response = await admin.client.put(
        f"{ADMIN}/tenants/gem-a/rules/r1",
        content=body,
        headers={**headers, "content-type": "application/json"},
    )
    _is_client_problem(response)
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("PUT", "/tenants/gem-a/rules/r1", {"json": {**RULE, "description": "a\u0000b"}}),
        ("PUT", "/tenants/gem-a/rules/r1", {"json": {**RULE, "who": ["role:a\u0000"]}}),
        ("GET", "/tenants/gem-a/audit", {"params": {"actor": "\u0000"}}),
        ("GET", "/tenants/gem-a/audit", {"params": {"resource": "x\u0000"}}),
    ],
)
async def test_a_nul_character_is_a_client_problem(
    admin: AdminBroker, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    headers = await _onboarded(admin)
    response = await admin.client.request(method, ADMIN + path, headers=headers, **kwargs)
    _is_client_problem(response)


async def test_a_nul_character_from_the_operator_is_a_client_problem(admin: AdminBroker) -> None:
    await admin.onboard("gem-a", "000004")
    patched = await admin.as_operator("PATCH", "/tenants/gem-a", json={"name": "Gem\u0000A"})
    _is_client_problem(patched)
    every = await admin.as_operator("GET", "/audit", params={"tenant": "\u0000"})
    _is_client_problem(every)
    slug = await admin.as_operator("GET", "/tenants/gem-a%00")
    _is_client_problem(slug)


async def test_a_bsn_with_a_trailing_newline_is_refused_naming_bsn(admin: AdminBroker) -> None:
    await admin.onboard("gem-a", "000004")
    response = await admin.client.post(
        f"{ADMIN}/tenants/gem-a/inzage",
        json={"bsn": "999993653\n"},
        headers=bearer(admin.parties.privacy_officer("gem-a")),
    )
    assert response.status_code == 400, response.text
    assert [p["name"] for p in response.json()["invalidParams"]] == ["bsn"]


@pytest.mark.parametrize(
    "period",
    [{"from": "0001-01-01"}, {"to": "0001-01-01"}, {"from": "9999-12-31"}, {"to": "9999-12-31"}],
    ids=["from-year-1", "to-year-1", "from-year-9999", "to-year-9999"],
)
async def test_an_inzage_over_the_first_or_last_day_a_date_holds_is_answered(
    admin: AdminBroker, period: dict[str, str]
) -> None:
    """The portal's Inzage page broke on these days (it shows the day before `to`); the API reads
    them as UTC midnights, with nothing to overflow, and answers (a guard that it stays so)."""
    await admin.onboard("gem-a", "000004")
    response = await admin.client.post(
        f"{ADMIN}/tenants/gem-a/inzage",
        json={"bsn": "999993653", **period},
        headers=bearer(admin.parties.privacy_officer("gem-a")),
    )
    assert response.status_code == 200, response.text
    assert response.json() == []


@pytest.mark.parametrize(
    "extra_key",
    [
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "c2VjcmV0LWQ"},
        {"kty": "oct", "k": "c2VjcmV0LWs"},
    ],
    ids=["private-ec", "symmetric"],
)
async def test_an_issuer_jwks_with_private_or_symmetric_keys_is_refused_and_not_stored(
    admin: AdminBroker, extra_key: dict[str, str]
) -> None:
    document = tenant_document(admin.sandbox, "gem-b", "000005")
    issuer = document["issuers"][0]
    issuer["jwks"] = {"keys": [*issuer["jwks"]["keys"], extra_key]}
    response = await admin.as_operator("POST", "/tenants", json=document)
    assert response.status_code == 400, response.text
    assert "c2VjcmV0" not in response.text
    assert any(p["name"].startswith("issuers") for p in response.json()["invalidParams"])


async def test_a_body_over_the_broker_s_limit_is_413_before_it_is_read(admin: AdminBroker) -> None:
    limit = admin.app.state.resources.settings.max_body_bytes
    document = tenant_document(admin.sandbox, "te-groot", "000002", name="x" * (limit + 1))
    response = await admin.as_operator("POST", "/tenants", json=document)
    assert response.status_code == 413
    assert "te-groot" not in admin.directory.snapshot.tenants


async def test_a_burst_beyond_what_the_database_holds_is_a_problem_naming_it(admin: AdminBroker) -> None:
    # The limits tables store burst as a 32-bit integer: one above it is the caller's mistake.
    path = "/tenants/bestand-api/limits"
    await admin.onboard("bestand-api", "000002")
    etag = (await admin.as_operator("GET", path)).headers["ETag"]
    response = await admin.as_operator(
        "PUT", path, json={"employee": {"rate": 5, "burst": 2**31}}, headers={"If-Match": etag}
    )
    assert response.status_code == 400, response.text
    assert [p["name"] for p in response.json()["invalidParams"]] == ["limits.employee.burst"]
