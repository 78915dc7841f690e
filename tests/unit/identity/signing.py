"""Test issuers: a key pair, its JWKS and tokens signed (or forged) by hand."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from app.identity import ClaimMapping, IssuerConfig

NOW = 1_700_000_000
AUDIENCE = "brp-broker"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def ec_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid}, private=True)


def rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)


class TestIssuer:
    """An identity provider under the test's control."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, issuer: str, key: ECKey | RSAKey, alg: str = "ES256") -> None:
        self.issuer = issuer
        self.key = key
        self.alg = alg

    @property
    def kid(self) -> str:
        assert self.key.kid is not None
        return self.key.kid

    def public_jwk(self) -> dict[str, Any]:
        return {**self.key.as_dict(private=False), "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}

    def config(self, tenant: str = "gemeente-a", **options: Any) -> IssuerConfig:
        """An inline-JWKS configuration trusting this issuer for `tenant`."""
        values: dict[str, Any] = {
            "tenant": tenant,
            "issuer": self.issuer,
            "audiences": (AUDIENCE,),
            "jwks": self.jwks(),
            "algorithms": ("RS256", "ES256"),
            "claims": ClaimMapping(organisation="organisation"),
        }
        values.update(options)
        return IssuerConfig(**values)

    def claims(self, now: int = NOW, **overrides: Any) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "user-1",
            "employee_id": "E1",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, *, header: dict[str, Any] | None = None, now: int = NOW, **claims: Any) -> str:
        """A properly signed token; a claim given as `None` is left out."""
        head = {"alg": self.alg, "kid": self.kid, **(header or {})}
        return jwt.encode(head, self.claims(now, **claims), self.key, algorithms=[head["alg"]])

    def unsigned(self, header: dict[str, Any], **claims: Any) -> tuple[str, str]:
        """The signing input `b64(header).b64(payload)` of a hand-made token, and its header part."""
        head = b64url(json.dumps(header).encode())
        body = b64url(json.dumps(self.claims(**claims)).encode())
        return f"{head}.{body}", head

    def alg_none_token(self, **claims: Any) -> str:
        signing_input, _ = self.unsigned({"alg": "none", "typ": "JWT"}, **claims)
        return signing_input + "."

    def hs256_with_public_key(self, secret: bytes, **claims: Any) -> str:
        """The classic key-confusion forgery: HMAC keyed with the issuer's *public* key."""
        signing_input, _ = self.unsigned({"alg": "HS256", "typ": "JWT", "kid": self.kid}, **claims)
        mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
        return f"{signing_input}.{b64url(mac)}"

    def public_pem(self) -> bytes:
        return self.key.as_pem(private=False)

    def public_jwk_bytes(self) -> bytes:
        return json.dumps(self.public_jwk()).encode()
