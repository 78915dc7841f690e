"""How one identity provider (an OIDC issuer of a tenant) is trusted: the typed configuration.

Tenancy loads these from the tenant files and the database; `app.identity` validates tokens
against them. A tenant may have several issuers; several tenants may share one issuer, told apart
by `tenant_claim` / `tenant_claim_value`.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = ["ALLOWED_ALGORITHMS", "ClaimMapping", "IssuerConfig", "PortalLogin"]

# Asymmetric algorithms only: an HMAC algorithm with a published key would let anyone sign.
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class ClaimMapping(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which token claims carry what the broker needs to know about the caller."""

    subject: str = "sub"
    # Employee number; absent in application tokens (they name the employee in x-gebruiker).
    employee: str | None = "employee_id"
    roles: str = "roles"
    client: str = "azp"
    # The organisation the employee works for (samenwerkingsverband met gezamenlijk personeel).
    organisation: str | None = None


class PortalLogin(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """How the beheerportaal signs this issuer's users in: OpenID Connect authorization code + PKCE.

    The portal is a public client (PKCE, no client secret): `client_id` is its registration at
    the identity provider, with `<portal>/beheer/auth/callback/t/<slug>` as redirect URI. The endpoints come
    from the provider's discovery document (`<issuer>/.well-known/openid-configuration` unless
    `discovery_uri` names another place).
    """

    client_id: str
    discovery_uri: str | None = None
    scope: str = "openid"

    def discovery(self, issuer: str) -> str:
        """Where the provider's OpenID discovery document is."""
        return self.discovery_uri or f"{issuer.rstrip('/')}/.well-known/openid-configuration"


class IssuerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One trusted issuer of one tenant."""

    tenant: str  # the tenant's slug
    issuer: str
    audiences: tuple[str, ...]
    jwks_uri: str | None = None
    jwks: dict[str, Any] | None = None  # inline JWKS (a JSON Web Key Set object)
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    claims: ClaimMapping = msgspec.field(default_factory=ClaimMapping)
    # When several tenants share this issuer: the claim that says which tenant, and its value.
    tenant_claim: str | None = None
    tenant_claim_value: str | None = None
    kind: Literal["oidc"] = "oidc"
    # The beheerportaal's login through this issuer; None: its users cannot log in to the portal.
    login: PortalLogin | None = None
