"""Who is calling the admin API: the `AdminActor`, how a bearer token becomes one, and the guards.

Two kinds of identity provider are trusted, each through the gateway's own JWT machinery
(`app.identity.TokenValidator`, `JwksCache`); this module parses no token itself:

- **The operator's identity provider** (settings `operator_issuer`, `operator_audiences`,
  `operator_jwks_uri`, `operator_role_claim`): a token of it with the role `operator` in that claim
  is an operator, for every tenant.
- **Each tenant's own identity providers** (the issuers the gateway trusts for that tenant): the
  token resolves to the tenant's `Principal`; its roles are compared with the tenant's admin role
  names (tenant file `[admin] admin_roles`, `privacy_officer_roles`; defaults `brp-admin` and
  `privacy-officer`). A caller with neither role is an actor without admin roles: every guard
  refuses it (403).

A token is tried against the operator's provider first; only when that provider does not know
its issuer is it tried against the tenants'. So the operator's issuer must not also be a tenant's
(`make dev` gives the dev IdP's operator tokens an issuer of their own).

Guards (Litestar) decide per route; the path parameter `slug` names the tenant:
- `operator_only`: operators.
- `operator_of_path`: operators, for a route about tenant `{slug}`.
- `tenant_admin_of_path`: operators, and tenant admins of `{slug}`.
- `privacy_officer_of_path`: privacy officers of `{slug}` (not the operator: an inzage is the
  tenant's processing, done by its own officer).
A tenant's actor addressing *another* tenant gets 404, the answer for a tenant that does not
exist, so the API does not reveal which tenants exist; within its own tenant, a missing role is
403. No token or an invalid one is 401, exactly as on the gateway.

The actor is resolved once per request (cached in the request scope) and injected into handlers
as `actor: AdminActor` (`Provide(actor_of_request)`, see `ACTOR_DEPENDENCY`). Nothing here logs
a token or claim value.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Final

import msgspec
import structlog
from joserfc.jws import extract_compact
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler

from app.brp.problems import ProblemError, forbidden, not_found, unauthenticated
from app.identity import (
    ClaimMapping,
    IssuerConfig,
    JwksCache,
    Principal,
    StaticIssuerDirectory,
    TokenRefused,
    TokenValidator,
    bearer_token,
)
from app.settings import Settings
from app.tenancy import TenantDirectory
from app.tenancy.models import DEFAULT_ADMIN_ROLES, DEFAULT_PRIVACY_OFFICER_ROLES

__all__ = [
    "ACTOR_DEPENDENCY",
    "DEFAULT_ADMIN_ROLES",
    "DEFAULT_PRIVACY_OFFICER_ROLES",
    "OPERATOR_ROLE",
    "OPERATOR_TENANT",
    "AdminActor",
    "AdminAuthenticator",
    "AdminRole",
    "Identified",
    "RoleNames",
    "actor_of",
    "actor_of_request",
    "build_authenticator",
    "operator_actor",
    "operator_issuer_config",
    "operator_of_path",
    "operator_only",
    "privacy_officer_of_path",
    "require_tenant_role",
    "tenant_admin_of_path",
    "token_issuer",
]

_log = structlog.get_logger("app.admin")

# The role value an operator token carries in the operator role claim.
OPERATOR_ROLE: Final = "operator"
# A placeholder tenant for the operator's issuer configuration: never a valid slug (an underscore).
OPERATOR_TENANT: Final = "_operator"

_SCOPE_KEY: Final = "brp_admin_actor"
_INVALID: Final = "Het bearer token is ongeldig."
_EXPIRED: Final = "Het bearer token is verlopen."
_FORBIDDEN_TITLE: Final = "U bent niet geautoriseerd voor deze operatie."


class AdminRole(StrEnum):
    """What an actor may do in the admin API."""

    OPERATOR = "operator"
    TENANT_ADMIN = "tenant-admin"
    PRIVACY_OFFICER = "privacy-officer"


class AdminActor(msgspec.Struct, frozen=True):
    """An authenticated caller of the admin API."""

    subject: str
    roles: frozenset[AdminRole]
    tenant: str | None  # None for an operator

    def label(self) -> str:
        """Who, for the audit: `operator:<subject>` or `<tenant>:<subject>`."""
        return f"operator:{self.subject}" if self.tenant is None else f"{self.tenant}:{self.subject}"

    @property
    def is_operator(self) -> bool:
        """Whether the actor is the operator (every tenant)."""
        return AdminRole.OPERATOR in self.roles

    def role(self) -> str:
        """The actor's main role as text, for the audit (operator, tenant-admin, privacy-officer or none)."""
        for role in (AdminRole.OPERATOR, AdminRole.TENANT_ADMIN, AdminRole.PRIVACY_OFFICER):
            if role in self.roles:
                return role.value
        return "none"


class Identified(msgspec.Struct, frozen=True):
    """What a valid token proves: the actor, the principal it came from, and the token's issuer."""

    actor: AdminActor
    principal: Principal
    issuer: str


def token_issuer(token: str) -> str:
    """The `iss` of a token that has already been validated (read, not checked again)."""
    claims = msgspec.json.decode(extract_compact(token.encode()).payload)
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) else ""


class RoleNames(msgspec.Struct, frozen=True):
    """A tenant's names (in its own tokens' role claim) for its admins and privacy officers."""

    admin: tuple[str, ...] = DEFAULT_ADMIN_ROLES
    privacy_officer: tuple[str, ...] = DEFAULT_PRIVACY_OFFICER_ROLES


def operator_issuer_config(
    issuer: str,
    audiences: tuple[str, ...],
    *,
    jwks_uri: str | None = None,
    jwks: dict[str, Any] | None = None,
    role_claim: str = "roles",
    algorithms: tuple[str, ...] = ("RS256", "ES256"),
) -> IssuerConfig:
    """The operator's identity provider as an issuer configuration for `TokenValidator`."""
    return IssuerConfig(
        tenant=OPERATOR_TENANT,
        issuer=issuer,
        audiences=audiences,
        jwks_uri=jwks_uri,
        jwks=jwks,
        algorithms=algorithms,
        claims=ClaimMapping(employee=None, roles=role_claim),
    )


class AdminAuthenticator:
    """Bearer token → `AdminActor`; one per app.

    `operator`: the validator over the operator's identity provider (None: no operator configured).
    `tenants`: the gateway's validator over every tenant's identity providers.
    `role_names`: a tenant's admin role names by slug (None for a tenant that does not exist).
    """

    __slots__ = ("_operator", "_role_names", "_tenants")

    def __init__(
        self,
        operator: TokenValidator | None,
        tenants: TokenValidator,
        role_names: Callable[[str], RoleNames | None],
    ) -> None:
        self._operator = operator
        self._tenants = tenants
        self._role_names = role_names

    async def authenticate(self, token: str) -> AdminActor:
        """The actor the token proves, or `ProblemError` 401."""
        return (await self.identify(token)).actor

    async def identify(self, token: str) -> Identified:
        """The actor the token proves with what it was proven from (issuer, roles), or 401."""
        try:
            operator = await self._operator_principal(token)
            if operator is not None:
                return Identified(operator_actor(operator), operator, token_issuer(token))
            principal = await self._tenants.validate(token)
            return Identified(self.tenant_actor(principal), principal, token_issuer(token))
        except TokenRefused as refused:
            _log.info(
                "admin_bearer_refused",
                reason=refused.reason,
                issuer=refused.issuer,
                tenant=refused.tenant,
                kid=refused.kid,
            )
            raise _invalid_token(_EXPIRED if refused.expired else _INVALID) from None

    async def _operator_principal(self, token: str) -> Principal | None:
        if self._operator is None:
            return None
        try:
            return await self._operator.validate(token)
        except TokenRefused as refused:
            if refused.reason == "unknown_issuer":
                return None  # not the operator's provider: perhaps a tenant's
            raise

    def tenant_actor(self, principal: Principal) -> AdminActor:
        """A tenant's person as an actor: their roles compared with the tenant's current role names."""
        names = self._role_names(principal.tenant) or RoleNames()
        roles: set[AdminRole] = set()
        if any(role in names.admin for role in principal.roles):
            roles.add(AdminRole.TENANT_ADMIN)
        if any(role in names.privacy_officer for role in principal.roles):
            roles.add(AdminRole.PRIVACY_OFFICER)
        return AdminActor(subject=principal.subject, roles=frozenset(roles), tenant=principal.tenant)


def operator_actor(principal: Principal) -> AdminActor:
    """A principal of the operator's provider as an actor: the operator only with the operator role."""
    # A token of the operator's provider without the operator role proves nobody here.
    roles = frozenset({AdminRole.OPERATOR}) if OPERATOR_ROLE in principal.roles else frozenset()
    return AdminActor(subject=principal.subject, roles=roles, tenant=None)


def _invalid_token(detail: str) -> ProblemError:
    error = unauthenticated(detail)
    error.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return error


# -- per request ----------------------------------------------------------------------------------


async def actor_of(connection: ASGIConnection[Any, Any, Any, Any]) -> AdminActor:
    """The request's actor, authenticated once and remembered in the request state (401 if none)."""
    cached = connection.state.get(_SCOPE_KEY)
    if isinstance(cached, AdminActor):
        return cached
    authenticator: AdminAuthenticator = connection.app.state.admin_authenticator
    actor = await authenticator.authenticate(bearer_token(connection.headers))
    connection.state[_SCOPE_KEY] = actor
    return actor


async def actor_of_request(request: ASGIConnection[Any, Any, Any, Any]) -> AdminActor:
    """The dependency behind `actor: AdminActor` in admin handlers."""
    return await actor_of(request)


ACTOR_DEPENDENCY: Final = {"actor": Provide(actor_of_request)}


def require_tenant_role(actor: AdminActor, slug: str, *roles: AdminRole, operator: bool) -> None:
    """Refuse unless the actor may act on tenant `slug` in one of `roles` (or as operator, if allowed).

    Another tenant's actor gets 404 (existence is not revealed); a role missing within its own
    tenant (or an operator where operators are not allowed) is 403.
    """
    if actor.is_operator:
        if operator:
            return
        raise _forbidden("Deze operatie is voor de eigen functionaris van de tenant, niet voor de operator.")
    if actor.tenant != slug:
        raise not_found()
    if not roles:
        raise _forbidden("Deze operatie is voorbehouden aan de operator.")
    if not any(role in actor.roles for role in roles):
        wanted = " of ".join(role.value for role in roles)
        raise _forbidden(f"Hiervoor is de rol {wanted} van deze tenant nodig.")


def _forbidden(detail: str) -> ProblemError:
    return forbidden("unauthorized", _FORBIDDEN_TITLE, detail)


def _path_slug(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    slug = connection.path_params.get("slug")
    if not isinstance(slug, str):
        raise RuntimeError("an admin route guarded per tenant needs the path parameter {slug}")
    return slug


async def operator_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: the operator only."""
    actor = await actor_of(connection)
    if not actor.is_operator:
        raise _forbidden("Deze operatie is voorbehouden aan de operator.")


async def operator_of_path(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: the operator, for the tenant `{slug}` of the path (its own actors: 403; others: 404)."""
    actor = await actor_of(connection)
    require_tenant_role(actor, _path_slug(connection), operator=True)


async def tenant_admin_of_path(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: the operator, or a tenant admin of the tenant `{slug}` of the path."""
    actor = await actor_of(connection)
    require_tenant_role(actor, _path_slug(connection), AdminRole.TENANT_ADMIN, operator=True)


async def privacy_officer_of_path(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: a privacy officer of the tenant `{slug}` of the path (never the operator)."""
    actor = await actor_of(connection)
    require_tenant_role(actor, _path_slug(connection), AdminRole.PRIVACY_OFFICER, operator=False)


def build_authenticator(
    settings: Settings, tenants: TokenValidator, jwks: JwksCache, directory: TenantDirectory
) -> AdminAuthenticator:
    """The app's admin authenticator: the operator's provider from `settings` (when configured),
    the gateway's validator for tenants, role names from the tenant directory's snapshot."""
    operator = None
    if settings.operator_issuer is not None:
        config = operator_issuer_config(
            settings.operator_issuer,
            settings.operator_audiences,
            jwks_uri=settings.operator_jwks_uri,
            role_claim=settings.operator_role_claim,
            algorithms=settings.operator_algorithms,
        )
        operator = TokenValidator(StaticIssuerDirectory([config]), jwks)

    def role_names(slug: str) -> RoleNames | None:
        tenant = directory.snapshot.tenants.get(slug)
        if tenant is None:
            return None
        admin = tenant.spec.admin
        return RoleNames(admin=admin.admin_roles, privacy_officer=admin.privacy_officer_roles)

    return AdminAuthenticator(operator, tenants, role_names)
