"""Who is calling: bearer-token validation and the `Principal` it yields.

The app's lifespan builds one `JwksCache` (over the shared identity-provider `httpx.AsyncClient`),
one `TokenValidator` (over tenancy's `IssuerDirectory`) and one `JwtAuthenticator`; the gateway
calls `JwtAuthenticator.authenticate`. Nothing in this package logs a token.
"""

from __future__ import annotations

from app.identity.authenticator import AuthenticatedCaller, JwtAuthenticator, bearer_token
from app.identity.config import ALLOWED_ALGORITHMS, ClaimMapping, IssuerConfig, PortalLogin
from app.identity.headers import CallerHeaders, parse_caller_headers
from app.identity.jwks import JwksCache, KeyLookupError
from app.identity.principal import Principal
from app.identity.validator import IssuerDirectory, StaticIssuerDirectory, TokenRefused, TokenValidator

__all__ = [
    "ALLOWED_ALGORITHMS",
    "AuthenticatedCaller",
    "CallerHeaders",
    "ClaimMapping",
    "IssuerConfig",
    "IssuerDirectory",
    "JwksCache",
    "JwtAuthenticator",
    "KeyLookupError",
    "PortalLogin",
    "Principal",
    "StaticIssuerDirectory",
    "TokenRefused",
    "TokenValidator",
    "bearer_token",
    "parse_caller_headers",
]
