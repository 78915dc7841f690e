"""The diff of `tenants apply`: one change per object, attribute names but never values."""

from __future__ import annotations

import msgspec
import pytest

from app.tenancy import Plan, RateLimit, TenantSpec
from app.tenancy.apply import diff_tenant
from tests.unit.tenancy.demo import SECRET_VALUE, SECRET_VARIABLE, demo_specs


@pytest.fixture
def spec(monkeypatch: pytest.MonkeyPatch) -> TenantSpec:
    monkeypatch.setenv(SECRET_VARIABLE, SECRET_VALUE)
    return demo_specs()["vallei-liemers"]


def test_new_tenant_adds_every_object(spec: TenantSpec) -> None:
    changes = diff_tenant(None, spec)
    assert [(c.object, c.key, c.action) for c in changes] == [
        ("tenant", "vallei-liemers", "add"),
        ("member", "duiven", "add"),
        ("member", "ede", "add"),
        ("issuer", "https://127.0.0.1:8443/dev-idp", "add"),
        ("afnemer", "000301", "add"),
        ("afnemer", "000302", "add"),
        ("gegevensset", "burgerzaken", "add"),
        ("gegevensset", "wijkteam-duiven", "add"),
        ("gegevensset", "wijkteam-ede", "add"),
        ("rule", "burgerzaken", "add"),
        ("rule", "duiven", "add"),
        ("rule", "ede", "add"),
    ]


def test_same_spec_gives_no_changes(spec: TenantSpec) -> None:
    assert diff_tenant(spec, spec) == []


def test_changes_name_the_attributes_never_the_values(spec: TenantSpec) -> None:
    afnemers = (
        msgspec.structs.replace(spec.afnemers[0], client_secret="env:ROTATED_SECRET"),
        spec.afnemers[1],
    )
    changed = msgspec.structs.replace(
        spec,
        name="Nieuwe naam",
        afnemers=afnemers,
        rules=spec.rules[1:],
        limits=msgspec.structs.replace(spec.limits, employee=RateLimit(rate=1, burst=5)),
    )
    changes = diff_tenant(spec, changed)
    assert [(c.object, c.key, c.action, c.fields) for c in changes] == [
        ("tenant", "vallei-liemers", "change", ("name",)),
        ("afnemer", "000301", "change", ("client_secret",)),
        ("rule", "burgerzaken", "remove", ()),
        ("limit", "employee", "add", ()),
    ]
    text = Plan(changes=tuple(changes), dry_run=True).render()
    assert text.splitlines() == [
        "tenant vallei-liemers:",
        "  ~ tenant (name)",
        "  ~ afnemer 000301 (client_secret)",
        "  - rule burgerzaken",
        "  + limit employee",
        "Dry run: 4 change(s) not applied.",
    ]
    assert "ROTATED" not in text and SECRET_VARIABLE not in text


def test_empty_plan_says_so() -> None:
    plan = Plan(changes=(), kept=("old-tenant",), dry_run=False, applied=True)
    assert plan.is_empty
    assert plan.render().splitlines() == [
        "tenant old-tenant: no file; kept (--prune removes it)",
        "No changes: the database matches the tenant files.",
    ]
