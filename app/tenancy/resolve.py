"""Resolution: which AfnemerID a caller acts for, under which gegevenssets — RvIG's patterns.

This module owns step 2 of the request flow. From the caller's `Principal` (its own tenant only:
the lookup starts at the principal's tenant, so no header can ever reach another tenant's
afnemer), the tenant's access rules and the request headers it decides:
- **SaaS**: the tenant's own AfnemerID, for every caller;
- **samenwerkingsverband onder delegatie**: the samenwerkingsverband's AfnemerID, for every caller;
- **samenwerkingsverband met gezamenlijk personeel**: the AfnemerID(s) the caller's rules map it
  to (by employee, role, client application or the token's organisation claim). Exactly one → it;
  several → the caller picks one with `x-afnemer-id` (400 without it); one not mapped → 403.
An `x-afnemer-id` is honoured under every pattern only when it names the AfnemerID the pattern
gives (so a client can pin it), and refused with 403 otherwise.

The gegevenssets are those of the caller's rules that hold for the chosen afnemer (a rule without
afnemers holds for all); the headers those rules require must be present (400 naming each).

Pure and synchronous: it reads one immutable snapshot and raises `ProblemError`s; it never logs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Protocol

from app.brp.problems import InvalidParam, bad_request, forbidden, service_unavailable
from app.identity import Principal
from app.policy import Gegevensset
from app.tenancy.models import Access, AccessRule, Afnemer, DirectorySnapshot, LdvSettings, Tenant

__all__ = ["AFNEMER_HEADER", "SnapshotSource", "TenancyResolver", "resolve_access"]

AFNEMER_HEADER: Final = "x-afnemer-id"

_AFNEMER_ID: Final = re.compile(r"^[0-9]{6}$")
_NOT_AUTHORISED_API: Final = "U bent niet geautoriseerd voor het gebruik van deze API."
_NOT_AUTHORISED_AFNEMER: Final = "U bent niet geautoriseerd voor deze afnemer."
_NO_LDV: Final = LdvSettings()


def resolve_access(
    snapshot: DirectorySnapshot,
    principal: Principal,
    requested_afnemer_id: str | None,
    headers: Mapping[str, str],
) -> Access:
    """The afnemer and doelbinding of this request, or a `ProblemError` (400, 403 or 503).

    `headers` are the request headers with lower-case names (Litestar's are case-insensitive).
    """
    tenant = snapshot.tenants.get(principal.tenant)
    if tenant is None or not tenant.active:
        raise forbidden("unauthorized", _NOT_AUTHORISED_API, "De organisatie is niet (meer) aangesloten.")
    requested = _requested(requested_afnemer_id)
    rules = tenant.rules_for(principal)
    if not rules:
        raise forbidden("unauthorized", _NOT_AUTHORISED_API, "Er is geen doelbinding voor deze gebruiker.")
    afnemer = _choose_afnemer(tenant, rules, requested)
    applicable = tuple(rule for rule in rules if rule.covers(afnemer.afnemer_id))
    gegevenssets = _gegevenssets(applicable)
    if not gegevenssets:
        raise forbidden("unauthorized", _NOT_AUTHORISED_AFNEMER, "Er is geen doelbinding voor deze afnemer.")
    _require_headers(applicable, headers)
    if afnemer.account is None:
        # Configuration the broker cannot use (unknown identity, unreadable secret): logged at load.
        raise service_unavailable("afnemerUnavailable", "De afnemer is tijdelijk niet beschikbaar.")
    return Access(
        account=afnemer.account,
        gegevenssets=gegevenssets,
        member_organisation=_member_organisation(tenant, afnemer, principal),
        policy=snapshot.policies.policy_for(gegevenssets),
    )


def _member_organisation(tenant: Tenant, afnemer: Afnemer, principal: Principal) -> str | None:
    # The member the afnemer belongs to (gezamenlijk personeel); under delegatie the afnemer is the
    # samenwerkingsverband's own, and the caller's organisation claim says for which member it acts.
    if afnemer.member_organisation is not None:
        return afnemer.member_organisation
    if principal.organisation is not None and principal.organisation in tenant.members:
        return principal.organisation
    return None


def _requested(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not _AFNEMER_ID.match(value):
        raise bad_request(
            [
                InvalidParam(
                    code="pattern", name=AFNEMER_HEADER, reason="Waarde voldoet niet aan patroon ^[0-9]{6}$."
                )
            ]
        )
    return value


def _choose_afnemer(tenant: Tenant, rules: tuple[AccessRule, ...], requested: str | None) -> Afnemer:
    if tenant.pattern == "gezamenlijk_personeel":
        candidates = sorted({a for rule in rules for a in rule.afnemers if a in tenant.afnemers})
    else:
        # SaaS and delegatie: the one afnemer of the tenant (the files guarantee exactly one).
        candidates = sorted(tenant.afnemers)[:1]
    if requested is not None:
        if requested not in candidates:
            raise forbidden(
                "unauthorized",
                _NOT_AUTHORISED_AFNEMER,
                "De AfnemerID in x-afnemer-id is niet aan u gekoppeld.",
            )
        return tenant.afnemers[requested]
    if not candidates:
        raise forbidden("unauthorized", _NOT_AUTHORISED_AFNEMER, "U bent aan geen afnemer gekoppeld.")
    if len(candidates) > 1:
        raise bad_request(
            [
                InvalidParam(
                    code="required",
                    name=AFNEMER_HEADER,
                    reason="Header is verplicht: de medewerker werkt voor meerdere afnemers.",
                )
            ]
        )
    return tenant.afnemers[candidates[0]]


def _gegevenssets(rules: tuple[AccessRule, ...]) -> tuple[Gegevensset, ...]:
    # In rule order, each once: the same combination always gives the same (cached) policy.
    seen: dict[str, Gegevensset] = {}
    for rule in rules:
        for gegevensset in rule.gegevenssets:
            seen.setdefault(gegevensset.name, gegevensset)
    return tuple(seen[name] for name in sorted(seen))


def _require_headers(rules: tuple[AccessRule, ...], headers: Mapping[str, str]) -> None:
    required = sorted({header for rule in rules for header in rule.required_headers})
    missing = [name for name in required if not (headers.get(name) or "").strip()]
    if missing:
        raise bad_request(
            InvalidParam(code="required", name=name, reason="Header is verplicht.") for name in missing
        )


class SnapshotSource(Protocol):
    """Where the current snapshot comes from (a `TenantDirectory`)."""

    @property
    def snapshot(self) -> DirectorySnapshot: ...


class TenancyResolver:
    """The gateway's resolver seam, over a `TenantDirectory` (or anything with a `snapshot`).

    Proposed seam (the headers are needed for `x-afnemer-id` and required headers, and the
    doelbinding travels with the afnemer): `resolve(principal, requested, headers) -> Access`;
    and `ldv_settings(tenant)` for the protocol record of any request whose tenant is known.
    """

    __slots__ = ("_directory",)

    def __init__(self, directory: SnapshotSource) -> None:
        self._directory = directory

    def resolve(self, principal: Principal, requested: str | None, headers: Mapping[str, str]) -> Access:
        """The caller's afnemer and doelbinding for this request (see `resolve_access`)."""
        return resolve_access(self._directory.snapshot, principal, requested, headers)

    def ldv_settings(self, tenant: str) -> LdvSettings:
        """The tenant's Logboek Dataverwerkingen settings (not configured: the defaults)."""
        found = self._directory.snapshot.tenants.get(tenant)
        return found.spec.ldv if found is not None else _NO_LDV
