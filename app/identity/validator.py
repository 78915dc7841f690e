"""`TokenValidator`: a bearer JWT in, the `Principal` it proves out — or `TokenRefused`.

This module owns the rules a caller's token must meet; the tenant comes from configuration (the
issuer and, for a shared issuer, the tenant claim), never from the token alone:

1. A JWS in compact form (no JWE, no JSON serialisation), at most `max_token_bytes` long, whose
   protected header names an `alg` in `ALLOWED_ALGORITHMS` (so never `none` and never an HMAC
   algorithm, whatever the configuration says), has no `crit` member, and a `typ` (if any) of
   `JWT` or `at+jwt`.
2. The unverified `iss` selects the `IssuerConfig`s (`IssuerDirectory`); none → refused. When
   several tenants share the issuer, each config's `tenant_claim` must equal its
   `tenant_claim_value` (default: the tenant's slug); exactly one config must match. A config
   without `tenant_claim` matches any token of its issuer (that issuer serves one tenant).
3. The `alg` must also be in that issuer's own `algorithms`; the signature must verify with a key
   of that issuer's JWKS (`JwksCache`), never another issuer's.
4. Claims (of the verified payload): `iss` equal to the issuer, `exp` required, `aud` required and
   sharing a value with the issuer's `audiences`, `nbf` and `iat` respected; `leeway` (60 s) for
   clock skew on each time.
5. The claim mapping gives subject (required), employee, client, roles and organisation; a token
   without an employee claim is an `application` token (a task application; its employee comes
   from `x-gebruiker`, see `app.identity.headers`).

Claim names in `ClaimMapping` may be dotted paths into nested objects (`realm_access.roles`); a
claim whose name itself contains dots (`https://example.org/roles`) is found first.

It never logs; it raises `TokenRefused`, whose `reason` is a fixed word and whose context
(issuer, tenant, kid — shortened) is safe to log. It never puts a token or claim value in an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

import msgspec
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import Key
from joserfc.jws import CompactSignature, JWSRegistry, extract_compact, validate_compact
from joserfc.jwt import JWTClaimsRegistry

from app.identity.config import ALLOWED_ALGORITHMS, ClaimMapping, IssuerConfig
from app.identity.jwks import JwksCache, KeyLookupError
from app.identity.principal import Principal

__all__ = ["IssuerDirectory", "StaticIssuerDirectory", "TokenRefused", "TokenValidator"]

_ACCEPTED_TYPES: Final = frozenset({"jwt", "at+jwt", "application/jwt", "application/at+jwt"})
_CONTEXT_LENGTH: Final = 200
_CLAIM_TIME_REASONS: Final = {"nbf": "not_yet_valid", "iat": "issued_in_future", "aud": "wrong_audience"}


class IssuerDirectory(Protocol):
    """Which trusted issuer configurations carry this `iss` (tenancy fills it from its cache)."""

    def issuers_for(self, issuer: str) -> Sequence[IssuerConfig]: ...


class StaticIssuerDirectory:
    """A fixed list of issuer configurations (tests, the dev stack)."""

    __slots__ = ("_by_issuer",)

    def __init__(self, configs: Iterable[IssuerConfig]) -> None:
        self._by_issuer: dict[str, tuple[IssuerConfig, ...]] = {}
        for config in configs:
            self._by_issuer[config.issuer] = (*self._by_issuer.get(config.issuer, ()), config)

    def issuers_for(self, issuer: str) -> Sequence[IssuerConfig]:
        """The configurations of `issuer`, in the order given; empty when it is not trusted."""
        return self._by_issuer.get(issuer, ())


class TokenRefused(Exception):
    """A token that proves nothing. `reason` is a fixed word; the context is safe to log."""

    def __init__(
        self, reason: str, *, issuer: str | None = None, tenant: str | None = None, kid: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.issuer = issuer
        self.tenant = tenant
        self.kid = kid

    @property
    def expired(self) -> bool:
        """Whether the token was fine but for its age (clients may be told so)."""
        return self.reason == "expired"


class _Unverified(msgspec.Struct, frozen=True):
    """What the token says before anything is checked: used only to pick issuer, tenant and key."""

    jws: CompactSignature
    algorithm: str
    kid: str | None
    issuer: str
    claims: dict[str, Any]


class _Verified(msgspec.Struct, frozen=True):
    """A token that passed every check, remembered until it expires."""

    principal: Principal
    issuer: str
    config: IssuerConfig
    expires_at: float


class TokenValidator:
    """Validates bearer JWTs against the trusted issuers; one per app, safe for concurrent use.

    `clock` is wall-clock time in seconds (token times are Unix times).

    A caller sends the same token with every request until it expires, so a verified token is
    remembered (at most `cache_size`, oldest forgotten first) and the signature is not checked
    again. A remembered token is honoured only while its issuer configuration is still trusted as
    it was (a suspended tenant or a changed issuer ends it at once) and before its `exp`.
    """

    __slots__ = ("_cache_size", "_clock", "_directory", "_jwks", "_leeway", "_max_token_bytes", "_verified")

    def __init__(
        self,
        directory: IssuerDirectory,
        jwks: JwksCache,
        *,
        clock: Callable[[], float] = time.time,
        leeway: int = 60,
        max_token_bytes: int = 16 * 1024,
        cache_size: int = 10_000,
    ) -> None:
        self._verified: dict[str, _Verified] = {}
        self._cache_size = cache_size
        self._directory = directory
        self._jwks = jwks
        self._clock = clock
        self._leeway = leeway
        self._max_token_bytes = max_token_bytes

    async def validate(self, token: str) -> Principal:
        """The principal a valid token proves, or `TokenRefused`."""
        remembered = self._remembered(token)
        if remembered is not None:
            return remembered
        unverified = self._parse(token)
        config = _select_issuer(self._directory.issuers_for(unverified.issuer), unverified)
        context = {
            "issuer": _short(unverified.issuer),
            "tenant": config.tenant,
            "kid": _short(unverified.kid),
        }
        if unverified.algorithm not in config.algorithms:
            raise TokenRefused("algorithm_not_allowed", **context)
        try:
            keys = await self._jwks.keys_for(config, unverified.kid, unverified.algorithm)
        except KeyLookupError as error:
            raise TokenRefused(error.reason, **context) from None
        claims = _verified_claims(unverified, keys, context)
        if not _tenant_matches(config, claims):  # the signed payload, checked again
            raise TokenRefused("tenant_mismatch", **context)
        self._check_claims(config, claims, context)
        principal = _principal(config, claims, context)
        self._remember(token, _Verified(principal, unverified.issuer, config, float(claims["exp"])))
        return principal

    def _remembered(self, token: str) -> Principal | None:
        verified = self._verified.get(token)
        if verified is None:
            return None
        if self._clock() >= verified.expires_at or verified.config not in self._directory.issuers_for(
            verified.issuer
        ):
            del self._verified[token]
            return None
        return verified.principal

    def _remember(self, token: str, verified: _Verified) -> None:
        if len(self._verified) >= self._cache_size:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = verified

    def _parse(self, token: str) -> _Unverified:
        raw = token.encode("ascii", errors="replace")
        if len(raw) > self._max_token_bytes:
            raise TokenRefused("malformed")
        try:
            jws = extract_compact(raw)
            header = jws.headers()
            claims = msgspec.json.decode(jws.payload)
        except (JoseError, ValueError, TypeError):
            raise TokenRefused("malformed") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if not isinstance(claims, dict) or not isinstance(algorithm, str):
            raise TokenRefused("malformed")
        if kid is not None and not isinstance(kid, str):
            raise TokenRefused("malformed")
        issuer = claims.get("iss")
        context = {"issuer": _short(issuer), "kid": _short(kid)}
        if algorithm not in ALLOWED_ALGORITHMS:
            raise TokenRefused("algorithm_not_allowed", **context)
        if "crit" in header or str(header.get("typ", "JWT")).lower() not in _ACCEPTED_TYPES:
            raise TokenRefused("unsupported_header", **context)
        if not isinstance(issuer, str) or not issuer:
            raise TokenRefused("missing_issuer", kid=_short(kid))
        return _Unverified(jws=jws, algorithm=algorithm, kid=kid, issuer=issuer, claims=claims)

    def _check_claims(self, config: IssuerConfig, claims: dict[str, Any], context: dict[str, Any]) -> None:
        if not config.audiences:  # an empty list would accept every audience
            raise TokenRefused("no_audience_configured", **context)
        registry = JWTClaimsRegistry(
            now=int(self._clock()),
            leeway=self._leeway,
            iss={"essential": True, "value": config.issuer},
            aud={"essential": True, "values": list(config.audiences)},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise TokenRefused("expired", **context) from None
        except MissingClaimError:
            raise TokenRefused("missing_claim", **context) from None
        except InvalidClaimError as error:
            raise TokenRefused(_CLAIM_TIME_REASONS.get(error.claim, "invalid_claim"), **context) from None


def _select_issuer(candidates: Sequence[IssuerConfig], unverified: _Unverified) -> IssuerConfig:
    context = {"issuer": _short(unverified.issuer), "kid": _short(unverified.kid)}
    if not candidates:
        raise TokenRefused("unknown_issuer", **context)
    matching = [config for config in candidates if _tenant_matches(config, unverified.claims)]
    if not matching:
        raise TokenRefused("tenant_mismatch", **context)
    if len(matching) > 1:
        # Two tenants would accept this token: a configuration error, never a coin toss.
        raise TokenRefused("ambiguous_tenant", **context)
    return matching[0]


def _tenant_matches(config: IssuerConfig, claims: Mapping[str, Any]) -> bool:
    if config.tenant_claim is None:
        return True
    expected = config.tenant_claim_value if config.tenant_claim_value is not None else config.tenant
    value = _claim(claims, config.tenant_claim)
    return isinstance(value, str) and value == expected


def _verified_claims(unverified: _Unverified, keys: Sequence[Key], context: dict[str, Any]) -> dict[str, Any]:
    # Only the one algorithm already checked against both allow-lists; extra (non-critical)
    # header members of real identity providers are tolerated, `crit` was refused before.
    registry = JWSRegistry(algorithms=[unverified.algorithm], strict_check_header=False)
    for key in keys:
        try:
            if validate_compact(unverified.jws, key, registry=registry):
                return _payload(unverified.jws, context)
        except (JoseError, ValueError, TypeError):
            continue
    raise TokenRefused("bad_signature", **context)


def _payload(jws: CompactSignature, context: dict[str, Any]) -> dict[str, Any]:
    claims = msgspec.json.decode(jws.payload)
    if not isinstance(claims, dict):
        raise TokenRefused("malformed", **context)
    return claims


def _principal(config: IssuerConfig, claims: Mapping[str, Any], context: dict[str, Any]) -> Principal:
    mapping: ClaimMapping = config.claims
    subject = _text(_claim(claims, mapping.subject))
    if subject is None:
        raise TokenRefused("missing_subject", **context)
    employee = _text(_claim(claims, mapping.employee)) if mapping.employee else None
    organisation = _text(_claim(claims, mapping.organisation)) if mapping.organisation else None
    return Principal(
        tenant=config.tenant,
        subject=subject,
        employee=employee,
        client=_text(_claim(claims, mapping.client)),
        roles=_roles(_claim(claims, mapping.roles)),
        organisation=organisation,
        kind="user" if employee is not None else "application",
    )


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str | None:
    # Employee numbers are sometimes JSON numbers; booleans and objects are not identifiers.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value.strip() else None


def _roles(value: Any) -> tuple[str, ...]:
    # A list of names, or one space-separated string (the OAuth `scope` convention).
    items = value.split() if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(dict.fromkeys(item for item in items if isinstance(item, str) and item))


def _short(value: object) -> str | None:
    # Header and claim values come from outside; keep what goes into log lines short.
    return value[:_CONTEXT_LENGTH] if isinstance(value, str) else None
