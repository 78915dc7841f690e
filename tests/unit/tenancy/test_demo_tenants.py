"""The demo tenants work end to end: each afnemer exists in the sandbox with the same account."""

from __future__ import annotations

import pytest

from app.sandbox.config import load_config
from app.tenancy import TenantSpec, load_tenant_files
from tests.unit.tenancy.demo import TENANTS_DIR

SPECS = load_tenant_files(TENANTS_DIR)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.slug)
def test_every_demo_afnemer_is_a_sandbox_afnemer(spec: TenantSpec) -> None:
    sandbox = load_config()
    for afnemer in spec.afnemers:
        registered = sandbox.afnemer_by_id(afnemer.afnemer_id)
        assert registered is not None, afnemer.afnemer_id
        assert registered.client_id == afnemer.client_id
        assert registered.gemeente_code == afnemer.gemeente_code
        assert afnemer.environment == "sandbox"
        assert afnemer.client_secret == f"file:.state/secrets/afnemer-{afnemer.afnemer_id}"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.slug)
def test_sandbox_autorisatie_covers_what_the_doelbinding_allows(spec: TenantSpec) -> None:
    # For an afnemer that is no gemeente RvIG checks fields and parameters too: the demo's
    # gegevenssets must not allow what RvIG would then refuse.
    sandbox = load_config()
    for afnemer in spec.afnemers:
        registered = sandbox.afnemer_by_id(afnemer.afnemer_id)
        assert registered is not None
        if registered.is_gemeente:
            continue
        for gegevensset in spec.gegevenssets:
            assert set(gegevensset.fields) <= set(registered.fields), gegevensset.name
            assert set(gegevensset.parameters) <= set(registered.parameters), gegevensset.name


def test_the_demo_covers_the_three_patterns() -> None:
    assert sorted(s.pattern for s in SPECS) == ["delegatie", "gezamenlijk_personeel", "saas"]
    delegatie = next(s for s in SPECS if s.pattern == "delegatie")
    assert len(delegatie.members) == 2
    assert [a.member for a in delegatie.afnemers] == [None]
    gezamenlijk = next(s for s in SPECS if s.pattern == "gezamenlijk_personeel")
    assert sorted(a.member or "" for a in gezamenlijk.afnemers) == ["duiven", "ede"]
