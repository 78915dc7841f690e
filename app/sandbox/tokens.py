"""RvIG's token endpoint, played by the sandbox: OAuth2 client credentials over mTLS, JWTs out.

This module owns the grant rules (`grant_type`, client credentials, `scope=<AfnemerID>-<OIN>`
whose OIN must be the OIN of the client certificate, `resourceServer=ResourceServer01`), the
token's claims (RvIG's multi-valued `claims`: `OIN=…`, `afnemerID=…`, `gemeenteCode=…`) and their
verification for the APIs. Errors are RFC 6749 JSON (`invalid_client`, `invalid_scope`, ...).

It never logs, echoes or stores a client secret or a token; log lines name the afnemer and the
error code only. Secrets are compared in constant time, also for unknown clients.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec
import structlog
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.jwt import JWTClaimsRegistry

from app.sandbox.config import AfnemerConfig, DevSecret, SandboxConfig

__all__ = [
    "RESOURCE_SERVER",
    "TOKEN_PATH",
    "InvalidTokenError",
    "OAuthError",
    "OAuthErrorCode",
    "TokenResponse",
    "TokenService",
    "VerifiedToken",
    "bearer_token",
    "load_signing_key",
    "parse_token_form",
    "requested_client_id",
]

TOKEN_PATH = "/nidp/oauth/nam/token"  # noqa: S105 - a URL path, not a secret
RESOURCE_SERVER = "ResourceServer01"
_ALGORITHM = "ES256"
_SCOPE = re.compile(r"^([0-9]{6})-([0-9]{20})$")
# Compared against when the client_id is unknown, so an unknown client costs as much time as a
# known one with a wrong secret.
_DUMMY_SECRET = DevSecret("unknown-client-" + "x" * 32)

_log = structlog.get_logger("app.sandbox.tokens")

OAuthErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "temporarily_unavailable",
]


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: `{"error": ..., "error_description": ...}` with its HTTP status."""

    def __init__(self, error: OAuthErrorCode, description: str, status: int = 400) -> None:
        super().__init__(f"{status} {error}")
        self.error: OAuthErrorCode = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        """The JSON body of the error response."""
        return {"error": self.error, "error_description": self.description}


class InvalidTokenError(Exception):
    """A bearer token the APIs must refuse with 401; the message is safe to log."""


class TokenResponse(msgspec.Struct, frozen=True):
    """RvIG's token response."""

    access_token: str
    expires_in: int
    scope: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret


class VerifiedToken(msgspec.Struct, frozen=True):
    """What the APIs learn from a valid token.

    `serial` numbers the tokens this sandbox instance issued (None for a token of an earlier
    instance that shares the signing key); the `reject_tokens` knob compares against it, because
    `iat` has a resolution of one second.
    """

    afnemer_id: str
    oin: str
    gemeente_code: str | None
    expires_at: int
    serial: int | None


def load_signing_key(path: Path) -> ECKey:
    """The sandbox's token signing key (EC P-256, PEM) from the dev PKI folder."""
    return ECKey.import_key(path.read_bytes())


def parse_token_form(body: bytes) -> dict[str, str]:
    """The `application/x-www-form-urlencoded` body of a token request.

    RFC 6749 §3.2: a parameter sent twice is an `invalid_request`.
    """
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise OAuthError("invalid_request", "The request body is not UTF-8 form data.") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthError("invalid_request", f"Parameter {name} is included more than once.")
        form[name] = value
    return form


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (one space, nothing after the token)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        return None
    return token


class TokenService:
    """Issues and verifies the sandbox's access tokens for the afnemers of one config."""

    __slots__ = ("_config", "_instance", "_key", "_now", "_serial")

    def __init__(self, config: SandboxConfig, key: ECKey, now: Callable[[], float] = time.time) -> None:
        self._config = config
        self._key = key
        self._now = now
        self._serial = 0
        # Distinguishes this process's tokens from those of an earlier run with the same key.
        self._instance = secrets.token_hex(6)

    @property
    def last_serial(self) -> int:
        """The serial of the most recently issued token (0 before the first)."""
        return self._serial

    def grant(
        self, form: Mapping[str, str], authorization: str | None, peer_oin: str | None
    ) -> tuple[AfnemerConfig, TokenResponse]:
        """Apply RvIG's client-credentials rules and issue a token, or raise `OAuthError`."""
        _check_grant_type(form)
        afnemer = self._authenticate(form, authorization)
        if peer_oin is None:
            raise OAuthError("invalid_client", "A client certificate with an OIN is required.", 401)
        if peer_oin != afnemer.oin:
            raise OAuthError(
                "invalid_client", "The client certificate is not registered for these credentials.", 401
            )
        if form.get("resourceServer") != RESOURCE_SERVER:
            raise OAuthError("invalid_request", f"Parameter resourceServer must be {RESOURCE_SERVER}.")
        scope = _check_scope(form.get("scope"), afnemer, peer_oin)
        return afnemer, self._issue(afnemer, scope)

    def verify(self, token: str) -> VerifiedToken:
        """The afnemer a bearer token was issued to, or `InvalidTokenError`."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=[_ALGORITHM])
        except (JoseError, ValueError) as exc:
            raise InvalidTokenError("signature or format") from exc
        claims = decoded.claims
        registry = JWTClaimsRegistry(
            now=int(self._now()),
            iss={"essential": True, "value": self._config.issuer},
            aud={"essential": True, "value": RESOURCE_SERVER},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise InvalidTokenError(type(exc).__name__) from exc
        values = _claim_values(claims.get("claims"))
        afnemer = self._config.afnemer_by_id(values.get("afnemerID", ""))
        if afnemer is None or values.get("OIN") != afnemer.oin:
            raise InvalidTokenError("unknown afnemer")
        return VerifiedToken(
            afnemer_id=afnemer.afnemer_id,
            oin=afnemer.oin,
            gemeente_code=values.get("gemeenteCode"),
            expires_at=int(claims["exp"]),
            serial=self._serial_of(claims.get("jti")),
        )

    def _authenticate(self, form: Mapping[str, str], authorization: str | None) -> AfnemerConfig:
        client_id, secret = _client_credentials(form, authorization)
        afnemer = self._config.afnemer_by_client_id(client_id)
        expected = afnemer.client_secret if afnemer else _DUMMY_SECRET
        if not expected.matches(secret) or afnemer is None:
            _log.info("token_refused", reason="invalid_client")
            raise OAuthError("invalid_client", "Client authentication failed.", 401)
        return afnemer

    def _issue(self, afnemer: AfnemerConfig, scope: str) -> TokenResponse:
        self._serial += 1
        issued_at = int(self._now())
        lifetime = self._config.token_lifetime_seconds
        multi = [f"OIN={afnemer.oin}", f"afnemerID={afnemer.afnemer_id}"]
        if afnemer.gemeente_code:
            multi.append(f"gemeenteCode={afnemer.gemeente_code}")
        payload: dict[str, Any] = {
            "iss": self._config.issuer,
            "sub": afnemer.client_id,
            "aud": RESOURCE_SERVER,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + lifetime,
            "jti": f"{self._instance}.{self._serial}",
            "scope": scope,
            "claims": multi,
        }
        header = {"alg": _ALGORITHM, "typ": "JWT", "kid": self._key.thumbprint()}
        token = jwt.encode(header, payload, self._key, algorithms=[_ALGORITHM])
        _log.info("token_issued", afnemer_id=afnemer.afnemer_id, expires_in=lifetime)
        return TokenResponse(access_token=token, expires_in=lifetime, scope=scope)

    def _serial_of(self, jti: object) -> int | None:
        if not isinstance(jti, str):
            return None
        instance, _, serial = jti.partition(".")
        return int(serial) if instance == self._instance and serial.isdigit() else None


def requested_client_id(form: Mapping[str, str], authorization: str | None) -> str | None:
    """The client_id a token request names (form or Basic), unauthenticated — for counting only."""
    try:
        basic = _basic_credentials(authorization)
    except OAuthError:
        basic = None
    return basic[0] if basic is not None else form.get("client_id")


def _check_grant_type(form: Mapping[str, str]) -> None:
    grant_type = form.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "Parameter grant_type is required.")
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "Only grant_type client_credentials is supported.")


def _client_credentials(form: Mapping[str, str], authorization: str | None) -> tuple[str, str]:
    basic = _basic_credentials(authorization)
    in_body = form.get("client_id") is not None or form.get("client_secret") is not None
    if basic is not None and in_body:
        raise OAuthError("invalid_request", "Use one client authentication method, not two.")
    client_id, secret = basic if basic is not None else (form.get("client_id"), form.get("client_secret"))
    if not client_id or not secret:
        raise OAuthError("invalid_client", "Client authentication failed.", 401)
    return client_id, secret


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "Unsupported client authentication scheme.", 401)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_client", "Malformed Basic credentials.", 401) from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "Malformed Basic credentials.", 401)
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)


def _check_scope(scope: str | None, afnemer: AfnemerConfig, peer_oin: str) -> str:
    if not scope:
        raise OAuthError("invalid_scope", "Parameter scope is required: <AfnemerID>-<OIN>.")
    match = _SCOPE.match(scope)
    if match is None:
        raise OAuthError("invalid_scope", "Scope must be <AfnemerID>-<OIN> (6 and 20 digits).")
    afnemer_id, oin = match.groups()
    if afnemer_id != afnemer.afnemer_id:
        raise OAuthError("invalid_scope", "The AfnemerID in the scope does not belong to this client.")
    if oin != peer_oin:
        raise OAuthError("invalid_scope", "The OIN in the scope is not the OIN of the client certificate.")
    return scope


def _claim_values(raw: object) -> dict[str, str]:
    # RvIG's `claims` is multi-valued: a list of "name=value" strings (a single string when one).
    items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    values: dict[str, str] = {}
    for item in items:
        if isinstance(item, str) and "=" in item:
            name, _, value = item.partition("=")
            values[name] = value
    return values
