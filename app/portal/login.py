"""Logging in to the beheerportaal: OpenID Connect authorization code flow with PKCE (S256).

Whose identity provider: a tenant's people log in at an issuer their tenant trusts that has a
`login` table in the tenant file (`app.identity.PortalLogin`); operators at the operator's
identity provider (`BROKER_OPERATOR_LOGIN_CLIENT_ID`). The portal is a public client: PKCE
binds the code to this login, `state` to this browser (kept server-side with the verifier,
`app.portal.sessions`).

Who the person is, is decided exactly as the admin API decides it: the access token from the
code exchange goes through `AdminAuthenticator` (the gateway's JWT validation against the
tenant's issuers, or the operator's provider), so a portal user is never more than the same
token would be at `/admin/v1`. The token is not kept after that.

authlib makes the authorization URL and redeems the code; the provider's endpoints come from its
discovery document, cached per process for `_METADATA_SECONDS`.
"""

from __future__ import annotations

import ssl
import time
import warnings
from typing import Any, Final

import httpx
import msgspec

from app.identity import PortalLogin
from app.settings import Settings
from app.tenancy import TenantDirectory

with warnings.catch_warnings():
    # authlib prefers httpx2 and falls back to httpx with a deprecation notice; this project keeps
    # httpx2 out (one HTTP client library), and the fallback is supported. authlib installs an
    # "always" filter for its notices when first imported, so that comes first and is overridden.
    import authlib.deprecate

    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.common.errors import AuthlibBaseError
    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import AsyncOAuth2Client

__all__ = [
    "LoginFailed",
    "LoginTarget",
    "OidcLogin",
    "ProviderMetadata",
    "login_targets",
    "new_login_secrets",
    "operator_target",
]

_METADATA_SECONDS: Final = 300.0
_TIMEOUT: Final = 5.0


class LoginFailed(Exception):
    """The identity provider could not be reached or refused the code; `str()` is safe to show."""


class LoginTarget(msgspec.Struct, frozen=True, kw_only=True):
    """One identity provider a person can log in at: whose it is, and the portal's client there."""

    tenant: str | None  # None: the operator's provider
    issuer: str
    login: PortalLogin


class ProviderMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """The endpoints of an identity provider's discovery document the flow needs."""

    authorization_endpoint: str
    token_endpoint: str


def login_targets(directory: TenantDirectory, slug: str) -> list[LoginTarget]:
    """The tenant's identity providers the portal can log in at (none for an unknown tenant)."""
    tenant = directory.snapshot.tenants.get(slug)
    if tenant is None:
        return []
    return [
        LoginTarget(tenant=slug, issuer=issuer.issuer, login=issuer.login)
        for issuer in tenant.spec.issuers
        if issuer.login is not None
    ]


def operator_target(settings: Settings) -> LoginTarget | None:
    """The operator's identity provider, when the operator login is configured."""
    if settings.operator_issuer is None or settings.operator_login_client_id is None:
        return None
    login = PortalLogin(
        client_id=settings.operator_login_client_id, discovery_uri=settings.operator_login_discovery_uri
    )
    return LoginTarget(tenant=None, issuer=settings.operator_issuer, login=login)


class OidcLogin:
    """The portal's OIDC client side: one per app, over the identity providers' TLS context."""

    __slots__ = ("_context", "_http", "_metadata")

    def __init__(self, http: httpx.AsyncClient, context: ssl.SSLContext) -> None:
        self._http = http
        self._context = context
        self._metadata: dict[str, tuple[float, ProviderMetadata]] = {}

    async def metadata(self, target: LoginTarget) -> ProviderMetadata:
        """The provider's endpoints, from its discovery document (cached)."""
        uri = target.login.discovery(target.issuer)
        cached = self._metadata.get(uri)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            response = await self._http.get(uri)
            response.raise_for_status()
            metadata = msgspec.json.decode(response.content, type=ProviderMetadata)
        except (httpx.HTTPError, msgspec.ValidationError, msgspec.DecodeError):
            raise LoginFailed("De identiteitsprovider is niet bereikbaar.") from None
        self._metadata[uri] = (time.monotonic() + _METADATA_SECONDS, metadata)
        return metadata

    async def authorization_url(
        self, target: LoginTarget, redirect_uri: str, *, state: str, code_verifier: str
    ) -> str:
        """Where to send the browser: the provider's authorize endpoint with this login's PKCE challenge."""
        metadata = await self.metadata(target)
        extra: dict[str, Any] = {"nonce": generate_token(24)}
        if target.tenant is not None:
            extra["login_hint"] = target.tenant
        async with self._client(target, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata.authorization_endpoint, state=state, code_verifier=code_verifier, **extra
            )
        return str(url)

    async def redeem(self, target: LoginTarget, redirect_uri: str, *, code: str, code_verifier: str) -> str:
        """The access token the provider gives for the code (PKCE verifier included)."""
        metadata = await self.metadata(target)
        try:
            async with self._client(target, redirect_uri) as client:
                token = await client.fetch_token(
                    metadata.token_endpoint, code=code, code_verifier=code_verifier
                )
        except (AuthlibBaseError, httpx.HTTPError, ValueError):
            raise LoginFailed("De identiteitsprovider heeft de inlogcode niet aanvaard.") from None
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise LoginFailed("De identiteitsprovider gaf geen toegangstoken.")
        return access_token

    def _client(self, target: LoginTarget, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=target.login.client_id,
            token_endpoint_auth_method="none",  # noqa: S106 - a public client: PKCE instead of a secret
            code_challenge_method="S256",
            scope=target.login.scope,
            redirect_uri=redirect_uri,
            verify=self._context,
            timeout=_TIMEOUT,
            trust_env=False,
            follow_redirects=False,
        )


def new_login_secrets() -> tuple[str, str]:
    """A fresh `state` and PKCE `code_verifier` (RFC 7636: 43–128 characters)."""
    return generate_token(32), generate_token(64)
