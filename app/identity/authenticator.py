"""`JwtAuthenticator`: step 1 of the data path — `Authorization: Bearer <jwt>` to a `Principal`.

This module owns reading the bearer token from the request, turning every refusal into RvIG's 401
`authentication` problem (RFC 6750: `WWW-Authenticate: Bearer`, with `error="invalid_token"` when
a token was sent), and checking the caller's `x-*` headers once the token is valid (400).

The 401 detail is one of a few fixed texts; it never echoes the token or says which check failed
beyond "expired", so a prober learns nothing about issuers, tenants or keys. Why a token was
refused is logged at info level with the reason word and, where known, the issuer, tenant and key
id — never the token, never another claim value.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec
import structlog
from litestar import Request
from litestar.datastructures import Headers

from app.brp.problems import ProblemError, unauthenticated
from app.identity.headers import CallerHeaders, parse_caller_headers
from app.identity.principal import Principal
from app.identity.validator import TokenRefused, TokenValidator

__all__ = ["AuthenticatedCaller", "JwtAuthenticator", "bearer_token"]

_log = structlog.get_logger("app.identity")

# RFC 6750 §2.1: `Bearer` (any case), one or more spaces, a b64token; a JWS has three segments.
_BEARER: Final = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)")
_NO_TOKEN: Final = "Er is geen bearer token meegestuurd."  # noqa: S105 - a message, not a secret
_MALFORMED: Final = "Het bearer token is geen geldige JWT."
_INVALID: Final = "Het bearer token is ongeldig."
_EXPIRED: Final = "Het bearer token is verlopen."


class AuthenticatedCaller(msgspec.Struct, frozen=True):
    """Who is calling and what they state about the request."""

    principal: Principal
    headers: CallerHeaders


def bearer_token(headers: Headers) -> str:
    """The JWT of the request's one `Authorization: Bearer` header, or `ProblemError` 401."""
    values = headers.getall("authorization", [])
    if not values:
        raise unauthenticated(_NO_TOKEN)
    match = _BEARER.fullmatch(values[0].strip()) if len(values) == 1 else None
    if match is None:
        _log.info("bearer_refused", reason="malformed_authorization")
        raise _invalid_token(_MALFORMED)
    return match.group(1)


class JwtAuthenticator:
    """The `Authenticator` seam over a `TokenValidator`; one per app."""

    __slots__ = ("_validator",)

    def __init__(self, validator: TokenValidator) -> None:
        self._validator = validator

    async def authenticate(self, request: Request[Any, Any, Any]) -> Principal:
        """The caller (for an application token: with the employee of `x-gebruiker`), or 401/400."""
        return (await self.identify(request)).principal

    async def identify(self, request: Request[Any, Any, Any]) -> AuthenticatedCaller:
        """The caller and its checked `x-*` headers: 401 for the token first, then 400 for headers."""
        token = bearer_token(request.headers)
        try:
            principal = await self._validator.validate(token)
        except TokenRefused as refused:
            _log.info(
                "bearer_refused",
                reason=refused.reason,
                issuer=refused.issuer,
                tenant=refused.tenant,
                kid=refused.kid,
            )
            raise _invalid_token(_EXPIRED if refused.expired else _INVALID) from None
        headers = parse_caller_headers(request.headers, principal)
        if principal.kind == "application":
            # The application acts for the employee it names; protocol and limits need that name.
            principal = msgspec.structs.replace(principal, employee=headers.gebruiker)
        return AuthenticatedCaller(principal=principal, headers=headers)


def _invalid_token(detail: str) -> ProblemError:
    error = unauthenticated(detail)
    error.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return error
