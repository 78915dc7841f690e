"""The ownership rules across tenants, as pure functions: who is told what, and only once."""

from __future__ import annotations

import msgspec

from app.tenancy import AfnemerSpec, TenantSpec
from app.tenancy.ownership import IssuerTrust, OwnershipProblem, afnemer_problems, shared_issuer_problems

ISSUER = "https://login.example.nl"


def _tenant(slug: str, *afnemer_ids: str) -> TenantSpec:
    afnemers = tuple(
        AfnemerSpec(
            afnemer_id=a, environment="proef", identity="supplier", client_id=f"c-{a}", client_secret="env:X"
        )
        for a in afnemer_ids
    )
    return TenantSpec(slug=slug, name=slug, kind="organisation", pattern="saas", afnemers=afnemers)


def _texts(problems: list[OwnershipProblem]) -> list[str]:
    return [str(p) for p in problems]


def test_an_afnemer_id_held_by_a_tenant_without_a_file_here_is_refused() -> None:
    assert _texts(afnemer_problems([_tenant("b", "000101")], {"000101": "a"})) == [
        "tenant 'b': afnemer 000101 already belongs to tenant 'a'"
    ]


def test_the_holder_keeps_it_and_only_the_newcomer_is_told() -> None:
    specs = [_tenant("aa", "000101"), _tenant("b", "000101")]
    assert _texts(afnemer_problems(specs, {"000101": "b"})) == [
        "tenant 'aa': afnemer 000101 already belongs to tenant 'b'"
    ]


def test_two_new_claims_are_reported_once() -> None:
    specs = [_tenant("a", "000101"), _tenant("b", "000101")]
    assert _texts(afnemer_problems(specs, {})) == [
        "tenant 'b': afnemer 000101 is declared by both tenant 'a' and tenant 'b' "
        "(an AfnemerID belongs to exactly one tenant)"
    ]


def test_a_move_in_one_apply_says_how_to_do_it() -> None:
    specs = [_tenant("a", "000102"), _tenant("b", "000101")]
    assert _texts(afnemer_problems(specs, {"000101": "a"})) == [
        "tenant 'b': afnemer 000101 moves from tenant 'a' to tenant 'b': apply 'a' without it first, "
        "then 'b' with it"
    ]


def test_own_afnemer_ids_are_no_problem() -> None:
    assert afnemer_problems([_tenant("a", "000101", "000102")], {"000101": "a"}) == []


def test_an_established_trust_is_never_blamed() -> None:
    established = IssuerTrust("a", ISSUER)
    newcomer = IssuerTrust("b", ISSUER, "tenant")
    assert _texts(shared_issuer_problems([established, newcomer], {established})) == [
        f"tenant 'b': issuer {ISSUER} is trusted by tenant 'a' without tenant_claim; "
        "the operator must first give tenant 'a' a tenant_claim"
    ]


def test_a_conflict_between_two_new_trusts_is_told_to_the_later_tenant_once() -> None:
    trusts = [IssuerTrust("a", ISSUER, "tenant", "x"), IssuerTrust("b", ISSUER, "tenant", "x")]
    assert _texts(shared_issuer_problems(trusts)) == [
        f"tenant 'b': issuer {ISSUER}: tenant_claim_value 'x' is already used by tenant 'a'"
    ]


def test_the_default_value_is_the_slug() -> None:
    trusts = [IssuerTrust("a", ISSUER, "tenant"), IssuerTrust("b", ISSUER, "tenant", "a")]
    assert len(shared_issuer_problems(trusts)) == 1
    assert (
        shared_issuer_problems([IssuerTrust("a", ISSUER, "tenant"), IssuerTrust("b", ISSUER, "tenant")]) == []
    )


def test_one_tenant_alone_on_an_issuer_needs_no_claim() -> None:
    alone = IssuerTrust("a", ISSUER)
    other = msgspec.structs.replace(alone, tenant="b", issuer="https://login.other.example")
    assert shared_issuer_problems([alone, other]) == []
