"""The admin API's request and response models (msgspec), and how a tenant's state becomes them.

Request models document the bodies (`app.admin.body.RawBody`): the bodies themselves reach the
tenant-file validator as sent, in the shape of the tenant file's sections (the key of an object,
such as a rule's name, is in the path, as it is the section name in a file). Response models are
what the API returns; their canonical JSON is the resource's ETag. No response model has a field
that could hold a client secret: an afnemer shows only its secret's fingerprint.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from app.identity import ClaimMapping, IssuerConfig, PortalLogin
from app.policy import Gegevensset
from app.tenancy import Change, LdvSettings, Limits, MemberOrganisation, RateLimit, RuleSpec
from app.tenancy.models import AdminRoles, AfnemerSpec, Environment, Kind, Pattern, Status
from app.tenancy.service import TenantState, secret_fingerprint

__all__ = [
    "AfnemerBody",
    "AfnemerView",
    "ChangePlan",
    "GegevenssetBody",
    "IssuerBody",
    "LimitsView",
    "MemberBody",
    "PlannedChange",
    "RuleBody",
    "SecretBody",
    "TenantCreate",
    "TenantPatch",
    "TenantSummary",
    "TenantView",
    "afnemer_view",
    "limits_view",
    "plan",
    "tenant_summary",
    "tenant_view",
]


# -- requests (documentation of the raw bodies) ------------------------------------------------------


class MemberBody(msgspec.Struct, frozen=True, kw_only=True):
    """A member organisation (its code is in the path)."""

    name: str
    gemeente_code: str | None = None
    oin: str | None = None


class IssuerBody(msgspec.Struct, frozen=True, kw_only=True):
    """An identity provider the tenant trusts (an `[[issuers]]` table of the tenant file)."""

    issuer: str
    audiences: list[str]
    jwks_uri: str | None = None
    jwks: dict[str, Any] | None = None
    algorithms: list[str] = msgspec.field(default_factory=lambda: ["RS256", "ES256"])
    claims: ClaimMapping = msgspec.field(default_factory=ClaimMapping)
    tenant_claim: str | None = None
    tenant_claim_value: str | None = None
    login: PortalLogin | None = None


class AfnemerBody(msgspec.Struct, frozen=True, kw_only=True):
    """An AfnemerID's RvIG account (the AfnemerID is in the path).

    The client secret is write-only: give it when the afnemer is created, as a plain value
    (`client_secret`, stored encrypted) or a reference (`client_secret_reference`: `env:NAME` or
    `file:/path`); leave both out on a later change to keep it; rotate it with `PUT .../secret`.
    """

    environment: Environment
    identity: str
    client_id: str
    name: str = ""
    gemeente_code: str | None = None
    member: str | None = None
    client_secret: str | None = None
    client_secret_reference: str | None = None


class SecretBody(msgspec.Struct, frozen=True, kw_only=True):
    """A new client secret: exactly one of a plain value and a reference."""

    client_secret: str | None = None
    client_secret_reference: str | None = None


class GegevenssetBody(msgspec.Struct, frozen=True, kw_only=True):
    """What one purpose may see (a `[gegevenssets.<name>]` table; checked against RvIG's fields)."""

    apis: list[str] = msgspec.field(default_factory=lambda: ["personen"])
    query_types: list[str] = msgspec.field(default_factory=lambda: ["*"])
    fields: list[str] = msgspec.field(default_factory=list)
    parameters: list[str] = msgspec.field(default_factory=list)
    inclusief_overleden_personen: bool = False
    own_residents_gemeente: str | None = None
    own_residents_former_gemeenten: list[str] = msgspec.field(default_factory=list)
    geheimhouding: Literal["deliver", "withhold"] = "deliver"
    description: str = ""


class RuleBody(msgspec.Struct, frozen=True, kw_only=True):
    """Who may act for which AfnemerID(s) under which gegevenssets (a `[rules.<name>]` table).

    `who`: `tenant`, `role:R`, `employee:E`, `client:C`, `organisation:O`. The employee ↔ member
    mapping of a samenwerkingsverband met gezamenlijk personeel is a rule too:
    `who = ["employee:E2001"]`, `afnemers = ["000301"]`.
    """

    who: list[str]
    gegevenssets: list[str]
    afnemers: list[str] = msgspec.field(default_factory=list)
    required_headers: list[str] = msgspec.field(default_factory=list)
    description: str = ""


class TenantCreate(msgspec.Struct, frozen=True, kw_only=True):
    """A whole new tenant, in the shape of its tenant file (client secrets as in `AfnemerBody`)."""

    slug: str
    name: str
    kind: Kind
    pattern: Pattern
    status: Status = "active"
    admin: AdminRoles | None = None
    members: dict[str, MemberBody] = msgspec.field(default_factory=dict)
    issuers: list[IssuerBody] = msgspec.field(default_factory=list)
    afnemers: dict[str, AfnemerBody] = msgspec.field(default_factory=dict)
    gegevenssets: dict[str, GegevenssetBody] = msgspec.field(default_factory=dict)
    rules: dict[str, RuleBody] = msgspec.field(default_factory=dict)
    limits: Limits | None = None
    ldv: LdvSettings | None = None


class TenantPatch(msgspec.Struct, frozen=True, kw_only=True):
    """The tenant's own attributes the operator changes: name, status (suspend/resume), admin roles."""

    name: str | None = None
    status: Status | None = None
    admin: AdminRoles | None = None


# -- responses ----------------------------------------------------------------------------------------


class TenantSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One tenant in the operator's list."""

    slug: str
    name: str
    kind: Kind
    pattern: Pattern
    status: Status
    managed_by: Literal["file", "api"]


class TenantView(msgspec.Struct, frozen=True, kw_only=True):
    """A tenant's own attributes."""

    slug: str
    name: str
    kind: Kind
    pattern: Pattern
    status: Status
    managed_by: Literal["file", "api"]
    admin: AdminRoles


class AfnemerView(msgspec.Struct, frozen=True, kw_only=True):
    """An AfnemerID of the tenant; of its secret only a fingerprint (it changes when the secret does)."""

    afnemer_id: str
    name: str
    environment: Environment
    identity: str
    client_id: str
    gemeente_code: str | None
    member: str | None
    client_secret_fingerprint: str


class LimitsView(msgspec.Struct, frozen=True, kw_only=True):
    """The tenant's rate limits (None: the broker's default) and the operator's ceilings for them."""

    limits: Limits
    ceilings: Limits


class PlannedChange(msgspec.Struct, frozen=True, kw_only=True):
    """One object a write adds, changes or removes; `fields` names what changes (never values)."""

    resource: str
    key: str
    action: Literal["add", "change", "remove"]
    fields: list[str]


class ChangePlan(msgspec.Struct, frozen=True, kw_only=True):
    """What a write did, or with `dry_run` would do (then nothing was written)."""

    dry_run: bool
    changes: list[PlannedChange]


# -- from the tenant's state ----------------------------------------------------------------------------


def tenant_summary(state: TenantState) -> TenantSummary:
    """The list entry of a tenant."""
    spec = state.spec
    return TenantSummary(
        slug=spec.slug,
        name=spec.name,
        kind=spec.kind,
        pattern=spec.pattern,
        status=spec.status,
        managed_by="api" if state.managed_by == "api" else "file",
    )


def tenant_view(state: TenantState) -> TenantView:
    """A tenant's own attributes."""
    spec = state.spec
    return TenantView(
        slug=spec.slug,
        name=spec.name,
        kind=spec.kind,
        pattern=spec.pattern,
        status=spec.status,
        managed_by="api" if state.managed_by == "api" else "file",
        admin=spec.admin,
    )


def afnemer_view(afnemer: AfnemerSpec) -> AfnemerView:
    """An afnemer without its secret."""
    return AfnemerView(
        afnemer_id=afnemer.afnemer_id,
        name=afnemer.name,
        environment=afnemer.environment,
        identity=afnemer.identity,
        client_id=afnemer.client_id,
        gemeente_code=afnemer.gemeente_code,
        member=afnemer.member,
        client_secret_fingerprint=secret_fingerprint(afnemer.client_secret),
    )


def limits_view(state: TenantState) -> LimitsView:
    """The tenant's limits with their ceilings."""
    ceilings: dict[str, RateLimit] = dict(state.ceilings)
    return LimitsView(limits=state.spec.limits, ceilings=Limits(**ceilings))


def plan(changes: list[Change], *, dry_run: bool) -> ChangePlan:
    """The plan of a write."""
    return ChangePlan(
        dry_run=dry_run,
        changes=[
            PlannedChange(resource=c.object, key=c.key, action=c.action, fields=list(c.fields))
            for c in changes
        ],
    )


# Re-exported for the controllers' annotations.
MemberView = MemberOrganisation
IssuerView = IssuerConfig
RuleView = RuleSpec
GegevenssetView = Gegevensset
