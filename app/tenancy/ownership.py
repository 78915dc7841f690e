"""What belongs to one tenant across the whole broker: its AfnemerIDs, and its place on an issuer.

The operator assigns AfnemerIDs and identity providers to tenants; a tenant's configuration may
never reach another tenant. Two rules follow, stated here for the tenant files and `tenants apply`
(which check before writing) and enforced again by the database (migration 0008, whose
`broker.issuer_sharing_problem` words its refusals the same way):

- An AfnemerID belongs to exactly one tenant.
- Tenants sharing an issuer each use the same `tenant_claim` and a `tenant_claim_value` of their
  own (default: the slug), so every token of the issuer names exactly one of them. An issuer
  trusted by a tenant without a `tenant_claim` is that tenant's alone.

The rules are checked on the state *after* a change: which tenants remain, with what they then
declare. A problem is laid at the door of a tenant that changes; a trust that is already in the
database unchanged (`established`) is never the one told to move, since a file for another tenant
cannot change it.

Pure functions over values; no I/O, no secrets.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

import msgspec

from app.identity import IssuerConfig
from app.tenancy.models import TenantSpec

__all__ = ["IssuerTrust", "OwnershipProblem", "afnemer_problems", "shared_issuer_problems"]


class IssuerTrust(msgspec.Struct, frozen=True):
    """One tenant's trust of one issuer, as far as telling tenants apart is concerned."""

    tenant: str
    issuer: str
    tenant_claim: str | None = None
    tenant_claim_value: str | None = None

    @classmethod
    def of(cls, config: IssuerConfig) -> IssuerTrust:
        """The trust an issuer configuration declares."""
        return cls(config.tenant, config.issuer, config.tenant_claim, config.tenant_claim_value)

    @property
    def claim_value(self) -> str:
        """The value the tenant claim must have for this tenant (as `app.identity` compares it)."""
        return self.tenant_claim_value if self.tenant_claim_value is not None else self.tenant


class OwnershipProblem(msgspec.Struct, frozen=True):
    """A tenant declaring what is not (or not only) its own; `text` names every tenant involved."""

    tenant: str
    text: str

    def __str__(self) -> str:
        return f"tenant {self.tenant!r}: {self.text}"


def afnemer_problems(specs: Sequence[TenantSpec], holders: Mapping[str, str]) -> list[OwnershipProblem]:
    """AfnemerIDs that `specs` would give a second tenant; `holders` maps AfnemerID → slug today.

    `holders` holds only the tenants that remain after the change (a pruned tenant gives its
    AfnemerIDs back first). An AfnemerID moving from one tenant's file to another's in the same
    apply is refused too: the database checks each write, so the holder lets go in one apply and
    the new tenant takes it in the next.
    """
    claimants: dict[str, list[str]] = {}
    for spec in sorted(specs, key=lambda s: s.slug):
        for afnemer in spec.afnemers:
            claimants.setdefault(afnemer.afnemer_id, []).append(spec.slug)
    in_files = {spec.slug for spec in specs}
    problems: list[OwnershipProblem] = []
    for afnemer_id, slugs in sorted(claimants.items()):
        holder = holders.get(afnemer_id)
        if holder is None:
            first = slugs[0]
            problems += [
                OwnershipProblem(
                    slug,
                    f"afnemer {afnemer_id} is declared by both tenant {first!r} and tenant {slug!r} "
                    "(an AfnemerID belongs to exactly one tenant)",
                )
                for slug in slugs[1:]
            ]
        elif holder in in_files and holder not in slugs:
            problems += [
                OwnershipProblem(
                    slug,
                    f"afnemer {afnemer_id} moves from tenant {holder!r} to tenant {slug!r}: "
                    f"apply {holder!r} without it first, then {slug!r} with it",
                )
                for slug in slugs
            ]
        else:
            problems += [
                OwnershipProblem(slug, f"afnemer {afnemer_id} already belongs to tenant {holder!r}")
                for slug in slugs
                if slug != holder
            ]
    return problems


def shared_issuer_problems(
    trusts: Iterable[IssuerTrust], established: Collection[IssuerTrust] = ()
) -> list[OwnershipProblem]:
    """Every way the `trusts` (all tenants, after the change) break the rule for shared issuers.

    `established` are trusts already in the database, unchanged: they are never blamed.
    """
    by_issuer: dict[str, list[IssuerTrust]] = {}
    for trust in trusts:
        by_issuer.setdefault(trust.issuer, []).append(trust)
    problems: list[OwnershipProblem] = []
    for issuer in sorted(by_issuer):
        users = sorted(by_issuer[issuer], key=lambda t: t.tenant)
        for trust in users:
            if trust in established:
                continue
            others = [o for o in users if o.tenant != trust.tenant]
            problems += [
                OwnershipProblem(trust.tenant, text) for text in _problems_of(trust, others, established)
            ]
    return problems


def _problems_of(
    trust: IssuerTrust, others: Sequence[IssuerTrust], established: Collection[IssuerTrust]
) -> list[str]:
    issuer = trust.issuer
    texts: list[str] = []
    for other in others:
        if other.tenant_claim is None and other in established:
            texts.append(
                f"issuer {issuer} is trusted by tenant {other.tenant!r} without tenant_claim; "
                f"the operator must first give tenant {other.tenant!r} a tenant_claim"
            )
    if others and trust.tenant_claim is None:
        names = ", ".join(f"tenant {o.tenant!r}" for o in others)
        claim = next((o.tenant_claim for o in others if o.tenant_claim is not None), None)
        wanted = repr(claim) if claim else "(the same claim for every tenant of the issuer)"
        texts.append(
            f"issuer {issuer} is shared with {names} and needs tenant_claim {wanted} "
            "with a tenant_claim_value of its own (default: the slug)"
        )
    if trust.tenant_claim is None:
        return texts
    for other in others:
        # Between two changing tenants, the later one (by slug) is told: one message per conflict.
        if other.tenant_claim is None or (other not in established and other.tenant > trust.tenant):
            continue
        if other.tenant_claim != trust.tenant_claim:
            texts.append(
                f"issuer {issuer}: tenant_claim {trust.tenant_claim!r} differs from the claim of tenant "
                f"{other.tenant!r} ({other.tenant_claim!r}); tenants sharing an issuer use the same claim"
            )
        elif other.claim_value == trust.claim_value:
            texts.append(
                f"issuer {issuer}: tenant_claim_value {trust.claim_value!r} is already used by tenant "
                f"{other.tenant!r}"
            )
    return texts
