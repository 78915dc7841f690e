"""The tenancy model: what a tenant declares (`TenantSpec`) and what the hot path reads (`Tenant`).

Two layers, deliberately apart:
- *Specs* are the declarative configuration exactly as a tenant file states it and as the
  database stores it (secrets as references or `enc:` values). Two specs compare equal when
  they configure the same thing; `apply` diffs them.
- *Runtime objects* (`Tenant`, `Afnemer`, `AccessRule`, `DirectorySnapshot`) are built from specs
  by the directory: secrets resolved into `Secret`s, OIN identities looked up, rule subjects
  parsed. They are immutable; a reload builds new ones.

This module holds data and the small rules that belong to it (which rule matches a caller). It
does no I/O and never holds a plain secret outside a `Secret`.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Final, Literal

import msgspec

from app.brp import fields_catalogue
from app.identity import IssuerConfig, Principal
from app.policy import DoelbindingPolicy, FieldIndex, Gegevensset
from app.secrets import SecretKey
from app.upstream import AfnemerAccount

__all__ = [
    "DEFAULT_ADMIN_ROLES",
    "DEFAULT_PRIVACY_OFFICER_ROLES",
    "REQUIRED_HEADER_NAMES",
    "SUBJECT_KINDS",
    "Access",
    "AccessRule",
    "AdminRoles",
    "Afnemer",
    "AfnemerSpec",
    "DirectorySnapshot",
    "Environment",
    "Kind",
    "LdvSettings",
    "Limits",
    "MemberOrganisation",
    "Pattern",
    "PolicyCache",
    "RateLimit",
    "RuleSpec",
    "Status",
    "Subject",
    "Tenant",
    "TenantSpec",
    "afnemer_secret_context",
    "encrypt_client_secret",
]

Kind = Literal["organisation", "samenwerkingsverband"]
Pattern = Literal["saas", "delegatie", "gezamenlijk_personeel"]
Status = Literal["active", "suspended"]
Environment = Literal["sandbox", "proef", "productie"]

# The request headers a rule can make mandatory (RvIG's; app.identity validates their form).
REQUIRED_HEADER_NAMES: Final = ("x-doelbinding", "x-verwerking", "x-gebruiker", "x-origin-oin")
# Who a rule is for: every caller of the tenant, or callers with a role, an employee number, a
# client application (the token's client id) or a member organisation (the organisation claim).
SUBJECT_KINDS: Final = ("tenant", "role", "employee", "client", "organisation")

PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]


def afnemer_secret_context(slug: str, afnemer_id: str) -> bytes:
    """The associated data an afnemer's `enc:` client secret is bound to: its tenant and AfnemerID.

    A value copied into another tenant's or afnemer's configuration therefore does not decrypt.
    """
    return f"brp-broker/tenant/{slug}/afnemer/{afnemer_id}".encode()


def encrypt_client_secret(key: SecretKey, slug: str, afnemer_id: str, value: str) -> str:
    """The `enc:v1:` form of an afnemer's client secret, for its tenant file (operator command)."""
    return key.encrypt(value, afnemer_secret_context(slug, afnemer_id))


# --- Specs: the declarative configuration -----------------------------------------------------


class MemberOrganisation(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A member organisation of a samenwerkingsverband; `code` is its value in the organisation claim."""

    code: str
    name: str
    gemeente_code: str | None = None
    oin: str | None = None


class AfnemerSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """An AfnemerID with its RvIG account; `client_secret` is a reference or `enc:` value, never plain."""

    afnemer_id: str
    environment: Environment
    # The OIN identity (certificate) from the broker's settings the account is registered for.
    identity: str
    client_id: str
    client_secret: str
    name: str = ""
    gemeente_code: str | None = None
    # The member organisation this AfnemerID belongs to; None: the tenant's own.
    member: str | None = None


class RuleSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Who (subjects) may act for which afnemer(s) under which gegevenssets, with which headers."""

    name: str
    # "tenant", "role:R", "employee:E", "client:C", "organisation:O"; any one matching applies the rule.
    who: tuple[str, ...]
    gegevenssets: tuple[str, ...]
    # Empty: the rule holds for whichever afnemer the caller acts for.
    afnemers: tuple[str, ...] = ()
    required_headers: tuple[str, ...] = ()
    description: str = ""


# The limits tables hold a burst as a 32-bit integer (migrations 0005, 0010).
Burst = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class RateLimit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A GCRA limit: sustained requests per second, and how many may arrive at once."""

    rate: PositiveFloat
    burst: Burst


class Limits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A tenant's rate limits; None means "the broker's default from settings"."""

    tenant: RateLimit | None = None
    afnemer: RateLimit | None = None
    employee: RateLimit | None = None


DEFAULT_ADMIN_ROLES: Final = ("brp-admin",)
DEFAULT_PRIVACY_OFFICER_ROLES: Final = ("privacy-officer",)


class AdminRoles(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Which roles in the tenant's own tokens make a tenant admin or a privacy officer (admin API)."""

    admin_roles: tuple[str, ...] = DEFAULT_ADMIN_ROLES
    privacy_officer_roles: tuple[str, ...] = DEFAULT_PRIVACY_OFFICER_ROLES


class LdvSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The tenant's Logboek Dataverwerkingen (`[ldv]`); the defaults: not configured.

    - `processing_activity`: the URI of the default processing activity in the tenant's register
      (`dpl.core.processing_activity_id`);
    - `processing_activities`: an `x-verwerking` or `x-doelbinding` value → the URI of its
      processing activity (the verwerking is looked up first, then the doelbinding);
    - `caller`: the URI of the organisation calling the broker, recorded as the processor of the
      foreign operation when it sends its W3C `traceparent`;
    - `subject_key`: the tenant's PUBLIC key (JWK: EC P-256/P-384/P-521 or OKP X25519) data subject
      ids are encrypted to, so only the tenant can read them;
    - `endpoint`: the OTLP/HTTP traces endpoint of the tenant's own Logboek (None: records are
      only available from the protocol store).
    """

    processing_activity: str | None = None
    processing_activities: dict[str, str] = msgspec.field(default_factory=dict)
    caller: str | None = None
    subject_key: dict[str, str] | None = None
    endpoint: str | None = None

    def processing_activity_for(self, verwerking: str | None, doelbinding: str | None) -> str | None:
        """The processing activity of a request: by its verwerking, else its doelbinding, else the default."""
        for stated in (verwerking, doelbinding):
            if stated is not None and stated in self.processing_activities:
                return self.processing_activities[stated]
        return self.processing_activity


class TenantSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One tenant's whole configuration, as in `tenants/<slug>.toml` and in the database.

    Collections are sorted by their key, so equal configurations compare equal.
    """

    slug: str
    name: str
    kind: Kind
    pattern: Pattern
    status: Status = "active"
    members: tuple[MemberOrganisation, ...] = ()
    issuers: tuple[IssuerConfig, ...] = ()
    afnemers: tuple[AfnemerSpec, ...] = ()
    gegevenssets: tuple[Gegevensset, ...] = ()
    rules: tuple[RuleSpec, ...] = ()
    limits: Limits = msgspec.field(default_factory=Limits)
    admin: AdminRoles = msgspec.field(default_factory=AdminRoles)
    ldv: LdvSettings = msgspec.field(default_factory=LdvSettings)


# --- Runtime: what the hot path reads ------------------------------------------------------------


class Subject(msgspec.Struct, frozen=True):
    """One parsed rule subject."""

    kind: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> Subject:
        """`tenant`, or `<kind>:<value>`; the text was validated when the file was loaded."""
        kind, _, value = text.partition(":")
        return cls(kind, value or None)

    def matches(self, principal: Principal) -> bool:
        """Whether this subject describes the caller."""
        if self.kind == "tenant":
            return True
        if self.kind == "role":
            return self.value in principal.roles
        if self.kind == "employee":
            # An application token's employee comes from its own x-gebruiker header: an assertion
            # of the application, so it never grants what the application itself was not granted.
            return principal.kind == "user" and principal.employee == self.value
        if self.kind == "client":
            return principal.client == self.value
        if self.kind == "organisation":
            return principal.organisation == self.value
        return False


class AccessRule(msgspec.Struct, frozen=True):
    """A rule ready for matching: parsed subjects, resolved gegevenssets."""

    name: str
    subjects: tuple[Subject, ...]
    afnemers: frozenset[str]
    gegevenssets: tuple[Gegevensset, ...]
    required_headers: tuple[str, ...] = ()

    def matches(self, principal: Principal) -> bool:
        """Whether the rule applies to the caller (any subject matching)."""
        return any(subject.matches(principal) for subject in self.subjects)

    def covers(self, afnemer_id: str) -> bool:
        """Whether the rule holds when acting for `afnemer_id` (a rule without afnemers holds for all)."""
        return not self.afnemers or afnemer_id in self.afnemers


class Afnemer(msgspec.Struct, frozen=True, kw_only=True):
    """An afnemer of a tenant; `account` is None when it cannot be used (`problem` says why)."""

    afnemer_id: str
    name: str
    environment: str
    gemeente_code: str | None
    member_organisation: str | None
    account: AfnemerAccount | None
    problem: str | None = None


class Tenant(msgspec.Struct, frozen=True, kw_only=True):
    """One tenant as the hot path sees it."""

    id: uuid.UUID
    slug: str
    name: str
    kind: Kind
    pattern: Pattern
    status: Status
    members: Mapping[str, MemberOrganisation]
    issuers: tuple[IssuerConfig, ...]
    afnemers: Mapping[str, Afnemer]
    gegevenssets: Mapping[str, Gegevensset]
    rules: tuple[AccessRule, ...]
    limits: Limits
    # The spec it was built from, to compare on reload.
    spec: TenantSpec

    @property
    def active(self) -> bool:
        """Whether the tenant may be used at all."""
        return self.status == "active"

    def rules_for(self, principal: Principal) -> tuple[AccessRule, ...]:
        """The rules that apply to the caller."""
        return tuple(rule for rule in self.rules if rule.matches(principal))


class PolicyCache:
    """Compiled `DoelbindingPolicy`s per combination of gegevenssets, shared by all snapshots.

    Keys are the gegevensset values themselves, so a changed gegevensset never meets a stale
    policy. Bounded (least recently used out) because combinations depend on callers.
    """

    __slots__ = ("_entries", "_index", "_size")

    def __init__(self, index: FieldIndex | None = None, size: int = 1024) -> None:
        self._index = index
        self._size = size
        self._entries: OrderedDict[tuple[Gegevensset, ...], DoelbindingPolicy] = OrderedDict()

    def policy_for(self, gegevenssets: tuple[Gegevensset, ...]) -> DoelbindingPolicy:
        """The compiled policy of these gegevenssets (built on first use)."""
        policy = self._entries.get(gegevenssets)
        if policy is not None:
            self._entries.move_to_end(gegevenssets)
            return policy
        if self._index is None:
            self._index = FieldIndex(fields_catalogue())
        policy = DoelbindingPolicy(gegevenssets, index=self._index)
        self._entries[gegevenssets] = policy
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return policy


class DirectorySnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Every tenant's configuration at one moment; replaced whole on reload, never changed."""

    tenants: Mapping[str, Tenant] = msgspec.field(default_factory=lambda: MappingProxyType({}))
    # issuer URL → the issuer configurations of active tenants that trust it
    issuers: Mapping[str, tuple[IssuerConfig, ...]] = msgspec.field(
        default_factory=lambda: MappingProxyType({})
    )
    policies: PolicyCache = msgspec.field(default_factory=PolicyCache)
    generation: int = 0

    @classmethod
    def of(cls, tenants: Sequence[Tenant], policies: PolicyCache, generation: int) -> DirectorySnapshot:
        """A snapshot of these tenants, with the issuer index of the active ones."""
        issuers: dict[str, tuple[IssuerConfig, ...]] = {}
        for tenant in sorted(tenants, key=lambda t: t.slug):
            if tenant.active:
                for issuer in tenant.issuers:
                    issuers[issuer.issuer] = (*issuers.get(issuer.issuer, ()), issuer)
        return cls(
            tenants=MappingProxyType({t.slug: t for t in tenants}),
            issuers=MappingProxyType(issuers),
            policies=policies,
            generation=generation,
        )

    def issuers_for(self, issuer: str) -> Sequence[IssuerConfig]:
        """The configurations of active tenants that trust `issuer`."""
        return self.issuers.get(issuer, ())


class Access(msgspec.Struct, frozen=True):
    """What a caller may do in this request: the afnemer it acts for and its doelbinding."""

    account: AfnemerAccount
    gegevenssets: tuple[Gegevensset, ...]
    # For the protocol: the member organisation of a samenwerkingsverband the request is for (the
    # afnemer's member; under delegatie the caller's organisation claim, if it names a member).
    member_organisation: str | None
    # The compiled doelbinding of `gegevenssets` (app.policy), shared between requests.
    policy: DoelbindingPolicy
