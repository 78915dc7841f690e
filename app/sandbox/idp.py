"""The sandbox's dev identity provider: the tokens the demo tenants' employees and applications carry.

One issuer (`DEV_IDP_ISSUER`) serves every demo tenant; the broker tells them apart by the
`tenant` claim (its issuer configurations say `tenant_claim = "tenant"`). The supplier's operators
have an issuer of their own (`DEV_IDP_OPERATOR_ISSUER`, tokens without a tenant). Tokens are ES256 JWTs
signed with an EC P-256 key kept in `<state_dir>/pki/dev-idp.key` (0600, created when the sandbox
first serves the IdP, then reused), with `kid` = the key's RFC 7638 thumbprint. Issuing a token
never creates the key: a token signed with a key no sandbox serves is one every broker refuses,
so `issue_dev_token` raises `DevIdpKeyMissing` instead (e.g. `dev token` run in another folder).

Claims: `iss`, `aud`, `sub`, `iat`, `nbf`, `exp`, `jti`, `tenant`; `employee_id` for an employee
token (an application token has none), `roles`, `azp` (client) and `organisation` when given —
the claim names of `app.identity.ClaimMapping`'s defaults, plus `organisation`.

Endpoints, under `DEV_IDP_PATH` for the tenants' issuer and `DEV_IDP_OPERATOR_PATH` for the
operator's (both on the sandbox's HTTPS server, which requires a dev client certificate):

- `GET .../.well-known/openid-configuration` — the OpenID Provider metadata of that issuer;
- `GET /dev-idp/jwks.json` — the public keys (both issuers share the key);
- `POST .../token` — the authorization code grant with PKCE (`app.sandbox.login`).

A browser has no client certificate, so the login pages of the authorization code flow
(`GET`/`POST .../authorize`) are served by the sandbox's second, plain-HTTP listener, the login
server (`SandboxConfig.login_port`); the discovery documents name it as `authorization_endpoint`.
`dev_idp_jwks(state_dir)` returns the keys for a broker that configures them inline. Like the
rest of the sandbox this module imports nothing of the broker.

It is for development and tests only. It never logs a token or key material.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import msgspec
from joserfc import jwt
from joserfc.jwk import ECKey
from litestar import Request, Response, Router, get
from litestar.handlers import HTTPRouteHandler

__all__ = [
    "DEV_IDP_ALGORITHM",
    "DEV_IDP_AUDIENCE",
    "DEV_IDP_ISSUER",
    "DEV_IDP_ISSUERS",
    "DEV_IDP_OPERATOR",
    "DEV_IDP_OPERATOR_ISSUER",
    "DEV_IDP_OPERATOR_PATH",
    "DEV_IDP_PATH",
    "DEV_IDP_TENANTS",
    "DEV_IDP_TENANT_CLAIM",
    "DevIdpIssuer",
    "DevIdpKeyMissing",
    "dev_idp_jwks",
    "dev_idp_key_path",
    "dev_idp_router",
    "ensure_dev_idp_key",
    "issue_dev_token",
    "load_dev_idp_key",
]

DEV_IDP_PATH: Final = "/dev-idp"
# An identifier, not an address the broker dials: it stays the same whatever port the sandbox uses.
DEV_IDP_ISSUER: Final = "https://127.0.0.1:8443/dev-idp"
# The operator's tokens (admin API) come from an issuer of their own, signed with the same key: an
# operator's identity provider is never one a tenant trusts.
DEV_IDP_OPERATOR_ISSUER: Final = DEV_IDP_ISSUER + "/operator"
DEV_IDP_OPERATOR_PATH: Final = DEV_IDP_PATH + "/operator"
DEV_IDP_AUDIENCE: Final = "brp-broker"
DEV_IDP_TENANT_CLAIM: Final = "tenant"
DEV_IDP_ALGORITHM: Final = "ES256"

_KEY_FILE: Final = "dev-idp.key"
_JWKS_CACHE_SECONDS: Final = 300
_DISCOVERY: Final = "/.well-known/openid-configuration"


class DevIdpIssuer(msgspec.Struct, frozen=True):
    """One of the dev IdP's two issuers: its identifier, where its endpoints live, whose it is."""

    issuer: str
    path: str
    operator: bool

    @property
    def authorize_path(self) -> str:
        """Its login page on the login server (the authorization endpoint)."""
        return f"{self.path}/authorize"

    @property
    def token_path(self) -> str:
        """Its token endpoint on the sandbox's HTTPS server."""
        return f"{self.path}/token"

    def metadata(self, base_url: str, login_url: str | None) -> dict[str, Any]:
        """Its OpenID Provider metadata; without a login server, no authorization endpoint."""
        document: dict[str, Any] = {
            "issuer": self.issuer,
            "jwks_uri": f"{base_url}{DEV_IDP_PATH}/jwks.json",
            "token_endpoint": f"{base_url}{self.token_path}",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid"],
            "id_token_signing_alg_values_supported": [DEV_IDP_ALGORITHM],
            "subject_types_supported": ["public"],
        }
        if login_url is not None:
            document["authorization_endpoint"] = f"{login_url}{self.authorize_path}"
        return document


# The tenants' employees (a `tenant` claim says whose) and the supplier's operators (no tenant).
DEV_IDP_TENANTS: Final = DevIdpIssuer(DEV_IDP_ISSUER, DEV_IDP_PATH, operator=False)
DEV_IDP_OPERATOR: Final = DevIdpIssuer(DEV_IDP_OPERATOR_ISSUER, DEV_IDP_OPERATOR_PATH, operator=True)
DEV_IDP_ISSUERS: Final = (DEV_IDP_TENANTS, DEV_IDP_OPERATOR)


class DevIdpKeyMissing(Exception):
    """There is no dev IdP key in the state folder; `str()` is one line saying what to do."""


def dev_idp_key_path(state_dir: Path) -> Path:
    """Where the dev IdP's signing key lives: `<state_dir>/pki/dev-idp.key`."""
    return state_dir / "pki" / _KEY_FILE


def ensure_dev_idp_key(state_dir: Path) -> ECKey:
    """The dev IdP's signing key, created (EC P-256, file mode 0600) on first use and then reused."""
    path = dev_idp_key_path(state_dir)
    key = _read_key(path)
    if key is None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _create_key(path)
        key = _read_key(path)
        if key is None:
            raise RuntimeError(f"the dev IdP key at {path} cannot be read")
    return key


def load_dev_idp_key(state_dir: Path) -> ECKey:
    """The dev IdP's existing signing key; raise `DevIdpKeyMissing` when there is none."""
    path = dev_idp_key_path(state_dir)
    key = _read_key(path)
    if key is None:
        raise DevIdpKeyMissing(
            f"no dev identity provider key in {path.resolve()}: run `make dev` (or `brp-broker "
            "sandbox`) first, or set BROKER_STATE_DIR to the state folder it uses"
        )
    return key


def dev_idp_jwks(state_dir: Path) -> dict[str, Any]:
    """The dev IdP's public JWK Set (`{"keys": [...]}`), e.g. for an inline issuer configuration."""
    key = ensure_dev_idp_key(state_dir)
    public = key.as_dict(private=False)
    return {"keys": [{**public, "kid": key.thumbprint(), "use": "sig", "alg": DEV_IDP_ALGORITHM}]}


def issue_dev_token(
    state_dir: Path,
    *,
    tenant: str | None,
    subject: str,
    employee: str | None = None,
    roles: Iterable[str] = (),
    client: str | None = None,
    organisation: str | None = None,
    audience: str = DEV_IDP_AUDIENCE,
    lifetime: int = 3600,
    extra_claims: Mapping[str, Any] | None = None,
    issuer: str = DEV_IDP_ISSUER,
    now: float | None = None,
) -> str:
    """A signed token of the dev IdP: an employee token when `employee` is given, else an application token.

    `extra_claims` are added last and replace standard claims of the same name (tests use that to
    make expired or otherwise broken tokens); `now` (Unix seconds) defaults to the current time.
    Raises `DevIdpKeyMissing` when the sandbox has not created its key in `state_dir`.
    """
    key = load_dev_idp_key(state_dir)
    issued_at = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + lifetime,
        "jti": secrets.token_urlsafe(16),
    }
    if tenant is not None:  # None: an operator token (see DEV_IDP_OPERATOR_ISSUER)
        claims[DEV_IDP_TENANT_CLAIM] = tenant
    optional = {"employee_id": employee, "azp": client, "organisation": organisation}
    claims.update({name: value for name, value in optional.items() if value is not None})
    role_list = list(roles)
    if role_list:
        claims["roles"] = role_list
    claims.update(extra_claims or {})
    header = {"alg": DEV_IDP_ALGORITHM, "typ": "JWT", "kid": key.thumbprint()}
    return jwt.encode(header, claims, key, algorithms=[DEV_IDP_ALGORITHM])


def dev_idp_router(state_dir: Path, *, login_url: str | None = None) -> Router:
    """The dev IdP's JWKS and both issuers' discovery documents, for the sandbox's HTTPS app.

    `login_url` is the login server's address (`http://host:port`), named in the documents as the
    authorization endpoint's. The key is created here, when the app is built, so the first request
    does no file I/O.
    """
    jwks = dev_idp_jwks(state_dir)

    @get("/jwks.json", sync_to_thread=False)
    def jwks_endpoint() -> Response[dict[str, Any]]:
        """The dev IdP's public keys."""
        cache = {"Cache-Control": f"public, max-age={_JWKS_CACHE_SECONDS}"}
        return Response(jwks, media_type="application/jwk-set+json", headers=cache)

    def discovery(idp: DevIdpIssuer) -> HTTPRouteHandler:
        def endpoint(request: Request[Any, Any, Any]) -> dict[str, Any]:
            return idp.metadata(str(request.base_url).rstrip("/"), login_url)

        path = idp.path.removeprefix(DEV_IDP_PATH) + _DISCOVERY
        return get(path, sync_to_thread=False, name=f"dev-idp-discovery{path}")(endpoint)

    handlers = [jwks_endpoint, *(discovery(idp) for idp in DEV_IDP_ISSUERS)]
    return Router(path=DEV_IDP_PATH, route_handlers=handlers)


def _read_key(path: Path) -> ECKey | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return ECKey.import_key(data)


def _create_key(path: Path) -> None:
    key = ECKey.generate_key("P-256", private=True)
    pem = key.as_pem(private=True)
    # mkstemp creates the file 0600 before a byte is written; linking it into place fails if
    # another process got there first, and then that process's key is the one everybody uses.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
