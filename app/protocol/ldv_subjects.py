"""The data subject of a Logboek Dataverwerkingen line, encrypted so that only its tenant can read it.

LDV 1.0.0 requires `dpl.core.data_subject_id` to be encrypted. The broker encrypts each BSN as a
JWE in compact form (RFC 7516) to the tenant's own **public** key, `[ldv] subject_key` in its tenant
file: key agreement `ECDH-ES` (a fresh ephemeral key per value, RFC 7518 §4.6) and content
encryption `A256GCM`; the JWE header carries the key's `kid` when the JWK has one, so a tenant that
rotates keys knows which private key opens a value. Accepted keys: EC P-256, P-384, P-521 or OKP
X25519, public half only.

What this gives, and what it does not:
- Only the holder of the private key (the tenant, never the broker, never the Logboek's operator)
  can turn a value back into a BSN: the broker keeps no private key.
- Two encryptions of one BSN differ (a new ephemeral key and IV each time), so the Logboek cannot
  link the lines of one person across requests without the tenant's key. That is the point: a
  Logboek, or a copy of it, does not become a second register of who was looked up.
- A tenant that needs to find every line about one person (an inzage over its Logboek) decrypts
  its lines (`brp-broker ldv decrypt`); the broker's own protocol answers that question directly
  (`protocol inzage`).

The tenant's tools: `generate_private_key` (`brp-broker ldv keygen`) and `decrypt_lines`
(`brp-broker ldv decrypt`). Never logs a subject id, a BSN or a key.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final, Literal, TypeAlias

import msgspec
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey

__all__ = [
    "CURVES",
    "SUBJECT_ALGORITHM",
    "SUBJECT_ENCRYPTION",
    "Curve",
    "LdvKeyError",
    "PrivateSubjectKeys",
    "SubjectKey",
    "decrypt_lines",
    "generate_private_key",
    "public_jwk",
]

SUBJECT_ALGORITHM: Final = "ECDH-ES"
SUBJECT_ENCRYPTION: Final = "A256GCM"
Curve = Literal["P-256", "P-384", "P-521", "X25519"]
CURVES: Final[tuple[Curve, ...]] = ("P-256", "P-384", "P-521", "X25519")
_EC_CURVES: Final = ("P-256", "P-384", "P-521")
_ALGORITHMS: Final = (SUBJECT_ALGORITHM, SUBJECT_ENCRYPTION)
_SUBJECT_ID: Final = "dpl.core.data_subject_id"
# The members of a JWK that hold private key material (RFC 7518 §6.2.2, §6.3.2; RFC 8037).
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

_Key: TypeAlias = ECKey | OKPKey


class LdvKeyError(ValueError):
    """A subject key is missing, not of an accepted kind, or does not open a value; the message says
    which, never the key or a value."""


class SubjectKey:
    """A tenant's public key for `dpl.core.data_subject_id`: encrypts, never decrypts."""

    __slots__ = ("_header", "_key", "kid")

    def __init__(self, key: _Key, kid: str | None) -> None:
        self._key = key
        self.kid = kid
        self._header: dict[str, str] = {"alg": SUBJECT_ALGORITHM, "enc": SUBJECT_ENCRYPTION}
        if kid is not None:
            self._header["kid"] = kid

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any] | None) -> SubjectKey:
        """The key of a tenant's `[ldv] subject_key`; raises `LdvKeyError` when there is none, when it
        holds private material, or when it is not EC P-256/384/521 or OKP X25519."""
        if jwk is None:
            raise LdvKeyError(
                "the tenant has no [ldv] subject_key: LDV lines name data subjects only encrypted, "
                "so they need the tenant's public key (brp-broker ldv keygen)"
            )
        if _PRIVATE_MEMBERS & set(jwk):
            raise LdvKeyError(
                "[ldv] subject_key holds a private key; give only its public half (the broker must "
                "never be able to decrypt)"
            )
        key = _import(jwk, "[ldv] subject_key")
        kid = jwk.get("kid")
        subject_key = cls(key, kid if isinstance(kid, str) and kid else None)
        try:
            # A key can import and still give no shared secret (an X25519 low-order point).
            subject_key.encrypt("probe")
        except (JoseError, ValueError):
            raise LdvKeyError("[ldv] subject_key gives no shared secret: not a usable public key") from None
        return subject_key

    def encrypt(self, subject_id: str) -> str:
        """`subject_id` as a JWE in compact form, readable only with the tenant's private key."""
        return jwe.encrypt_compact(dict(self._header), subject_id.encode(), self._key, algorithms=_ALGORITHMS)


def generate_private_key(curve: Curve = "P-256") -> dict[str, Any]:
    """A new private JWK on `curve` for `ECDH-ES` (`use` enc), its `kid` the RFC 7638 thumbprint (so
    a tenant that rotates keys tells them apart)."""
    key: _Key = OKPKey.generate_key("X25519") if curve == "X25519" else ECKey.generate_key(curve)
    private: dict[str, Any] = dict(key.as_dict(private=True))
    private.update(kid=key.thumbprint(), use="enc", alg=SUBJECT_ALGORITHM)
    return private


def public_jwk(private: Mapping[str, Any]) -> dict[str, Any]:
    """The public half of a private JWK: what goes into the tenant file's `[ldv] subject_key`."""
    return {name: value for name, value in private.items() if name not in _PRIVATE_MEMBERS}


class PrivateSubjectKeys:
    """The tenant's private key(s), from a JWK or a JWK Set (`{"keys": [...]}`, for rotated keys)."""

    __slots__ = ("_keys",)

    def __init__(self, keys: list[tuple[str | None, _Key]]) -> None:
        self._keys = keys

    @classmethod
    def from_json(cls, data: bytes) -> PrivateSubjectKeys:
        """Read a private JWK or JWK Set; raises `LdvKeyError` when it holds no usable private key."""
        try:
            document = msgspec.json.decode(data)
        except msgspec.DecodeError:
            raise LdvKeyError("the key file is not JSON (a private JWK or a JWK Set)") from None
        if not isinstance(document, dict):
            raise LdvKeyError("the key file is not a JWK or a JWK Set")
        members = document.get("keys", [document])
        if not isinstance(members, list) or not members:
            raise LdvKeyError("the key file's JWK Set holds no keys")
        keys: list[tuple[str | None, _Key]] = []
        for index, member in enumerate(members):
            where = f"key {index + 1} of the key file"
            if not isinstance(member, dict) or "d" not in member:
                raise LdvKeyError(f"{where} is not a private key (no 'd')")
            kid = member.get("kid")
            keys.append((kid if isinstance(kid, str) and kid else None, _import(member, where)))
        return cls(keys)

    def decrypt(self, token: str) -> str:
        """The subject id in the JWE `token`; raises `LdvKeyError` when no key of these opens it."""
        kid = _header_kid(token)
        candidates = [key for key_id, key in self._keys if kid is None or key_id in (kid, None)]
        for key in candidates:
            try:
                plaintext = jwe.decrypt_compact(token, key, algorithms=_ALGORITHMS).plaintext
            except (JoseError, ValueError):
                continue
            if plaintext is not None:
                return plaintext.decode()
        named = f" (kid {kid})" if kid is not None else ""
        raise LdvKeyError(f"the data subject id does not decrypt with the given key{named}")


def decrypt_lines(lines: Iterable[bytes], keys: PrivateSubjectKeys) -> Iterator[bytes]:
    """LDV JSONL lines with `dpl.core.data_subject_id` decrypted; other lines pass unchanged.

    Raises `LdvKeyError` naming the line number (never its content) when a line is no LDV JSON
    object or its subject does not decrypt.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            document = msgspec.json.decode(line)
        except msgspec.DecodeError:
            raise LdvKeyError(f"line {number}: not JSON") from None
        attributes = document.get("attributes") if isinstance(document, dict) else None
        if not isinstance(attributes, dict):
            raise LdvKeyError(f"line {number}: not an LDV line (no attributes)")
        token = attributes.get(_SUBJECT_ID)
        if isinstance(token, str):
            try:
                attributes[_SUBJECT_ID] = keys.decrypt(token)
            except LdvKeyError as error:
                raise LdvKeyError(f"line {number}: {error}") from None
        yield msgspec.json.encode(document) + b"\n"


def _import(jwk: Mapping[str, Any], where: str) -> _Key:
    kty, crv = jwk.get("kty"), jwk.get("crv")
    try:
        if kty == "EC" and crv in _EC_CURVES:
            return ECKey.import_key(dict(jwk))
        if kty == "OKP" and crv == "X25519":
            return OKPKey.import_key(dict(jwk))
    except (JoseError, ValueError, TypeError):
        raise LdvKeyError(f"{where} is not a valid {kty} {crv} key") from None
    raise LdvKeyError(f"{where} must be an EC key on P-256, P-384 or P-521, or an OKP key on X25519")


def _header_kid(token: str) -> str | None:
    """The `kid` of a compact JWE's protected header, or None."""
    encoded = token.split(".", 1)[0]
    try:
        header = msgspec.json.decode(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise LdvKeyError("the data subject id is not a JWE in compact form") from None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None
