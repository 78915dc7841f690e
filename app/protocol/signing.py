"""Signed chain heads: the broker's Ed25519 key, the JWS of one head, and the public keys that check it.

A signed head says "at `signed_at` the chain of `tenant` ended at `seq` with `hash`". It is a JWS
in compact serialization (RFC 7515), signed with Ed25519:

- header: `alg` `Ed25519` (RFC 9864's fully specified name; the older polymorphic `EdDSA` of
  RFC 8037, which RFC 9864 deprecates, is accepted when verifying — the key must be an Ed25519
  key either way), `kid` (which key), `typ` `brp-broker-head+json` (explicit typing, RFC 8725
  §3.11: a head can never pass for a token, nor a token for a head);
- payload: JSON with sorted keys `{"hash": hex, "seq": n, "signed_at": RFC 3339 UTC, "tenant": slug}`.
  A head holds no person data: the hash is a SHA-256 over records, the tenant a slug.

Keys are OKP Ed25519 JWKs (RFC 8037). The private key is a file mounted as a secret
(`BROKER_PROTOCOL_SIGNING_KEY_FILE`); its key id is its `kid` member or else its RFC 7638
thumbprint. Auditors hold the public keys as a JWKS (`PublicKeys`). Rotation: a new key file has a
new key id; the old public key stays in the published JWKS, so the old signatures keep verifying.

Never logs; no error ever quotes a key file's content or a private key member.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import msgspec
from joserfc import jws
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import OKPKey

__all__ = [
    "ALGORITHM",
    "HEAD_TYPE",
    "SIGNING_KEY_SETTING",
    "OpenedHead",
    "PublicKeys",
    "SignatureError",
    "SignedHead",
    "SigningKey",
    "SigningKeyError",
    "generate_signing_key",
    "load_public_keys",
    "load_signing_key",
    "open_signed_head",
    "read_signed_head",
]

SIGNING_KEY_SETTING: Final = "BROKER_PROTOCOL_SIGNING_KEY_FILE"
ALGORITHM: Final = "Ed25519"
HEAD_TYPE: Final = "brp-broker-head+json"
_ACCEPTED_ALGORITHMS: Final = frozenset({ALGORITHM, "EdDSA"})
_REGISTRY: Final = jws.JWSRegistry(algorithms=sorted(_ACCEPTED_ALGORITHMS))
_KEY_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_HEX_HASH: Final = re.compile(r"[0-9a-f]{64}")
# A `typ` or `alg` printed in a message: media-type and algorithm characters, never arbitrary text.
_HEADER_TOKEN: Final = re.compile(r"[A-Za-z0-9._:+/-]{1,64}")
_MAX_SEQ: Final = 2**63 - 1  # PostgreSQL's bigint
_MAX_TENANT: Final = 128
# A JWKS file of public keys is small; anything larger is not one.
_MAX_KEY_FILE_BYTES: Final = 1_000_000
_ENCODER: Final = msgspec.json.Encoder(order="sorted")


class SigningKeyError(Exception):
    """A key file cannot be used; `str()` is one line naming the file or setting, never a key."""


class SignatureError(Exception):
    """A signed head does not verify; `str()` says why (never more than the key id)."""


class SignedHead(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the broker signs: a chain's head at a moment."""

    tenant: str
    seq: int
    hash: str
    signed_at: dt.datetime

    @property
    def hash_bytes(self) -> bytes:
        """The head's hash as stored in the database."""
        return bytes.fromhex(self.hash)


class OpenedHead(msgspec.Struct, frozen=True):
    """A signed head whose signature verified, and the id of the key that made it."""

    head: SignedHead
    key_id: str


class SigningKey:
    """The broker's private Ed25519 key and its key id."""

    __slots__ = ("_key", "key_id")

    def __init__(self, key: OKPKey, key_id: str) -> None:
        self._key = key
        self.key_id = key_id

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r})"

    def sign(self, head: SignedHead) -> str:
        """`head` as a JWS compact serialization."""
        header = {"alg": ALGORITHM, "kid": self.key_id, "typ": HEAD_TYPE}
        return jws.serialize_compact(header, _ENCODER.encode(head), self._key, registry=_REGISTRY)

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK, with its key id, `alg` and `use`: what auditors get."""
        return {**dict(self._key.as_dict(private=False)), "kid": self.key_id, "alg": ALGORITHM, "use": "sig"}

    def public_keys(self) -> PublicKeys:
        """Its public half alone, as `PublicKeys`: what the signer checks stored heads with."""
        return PublicKeys({self.key_id: OKPKey.import_key(dict(self._key.as_dict(private=False)))})

    def private_jwk(self) -> dict[str, Any]:
        """The private key as a JWK (for `signing-key generate` to write to its file, nowhere else)."""
        return {**dict(self._key.as_dict(private=True)), "kid": self.key_id, "alg": ALGORITHM, "use": "sig"}


class PublicKeys:
    """Ed25519 public keys by key id: what `verify --public-keys` checks signatures with."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Mapping[str, OKPKey]) -> None:
        self._keys = dict(keys)

    @classmethod
    def from_jwks(cls, document: object, source: str = "the public keys") -> PublicKeys:
        """Public keys from a JWKS (`{"keys": [...]}`) or a single JWK; `SigningKeyError` if wrong."""
        members = document.get("keys") if isinstance(document, dict) and "keys" in document else [document]
        if not isinstance(members, list) or not members:
            raise SigningKeyError(f"{source}: not a JWK or a JWKS with at least one key")
        keys: dict[str, OKPKey] = {}
        for index, member in enumerate(members):
            where = f"{source}, key {index + 1}"
            if isinstance(member, dict) and "d" in member:
                raise SigningKeyError(f"{where}: is a private key; give only public keys")
            key = _ed25519_key(member, where)
            key_id = _key_id(member, key, where)
            if key_id in keys and keys[key_id].as_dict() != key.as_dict():
                raise SigningKeyError(f"{where}: key id {key_id!r} is given twice for different keys")
            keys[key_id] = key
        return cls(keys)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The key ids, sorted."""
        return tuple(sorted(self._keys))

    def get(self, key_id: str) -> OKPKey | None:
        """The public key with `key_id`, if any."""
        return self._keys.get(key_id)

    def jwks(self) -> dict[str, Any]:
        """Every key as a public JWKS, in key id order."""
        return {
            "keys": [
                {**dict(self._keys[kid].as_dict(private=False)), "kid": kid, "alg": ALGORITHM, "use": "sig"}
                for kid in self.key_ids
            ]
        }

    def merged(self, others: Iterable[tuple[str, OKPKey]]) -> PublicKeys:
        """These keys and `others` (key id, key) together."""
        return PublicKeys({**self._keys, **dict(others)})

    def items(self) -> list[tuple[str, OKPKey]]:
        """(key id, key) pairs, sorted by key id."""
        return [(kid, self._keys[kid]) for kid in self.key_ids]


def generate_signing_key(key_id: str | None = None) -> SigningKey:
    """A new Ed25519 key; its key id is `key_id`, or else its RFC 7638 thumbprint."""
    key = OKPKey.generate_key("Ed25519")
    if key_id is not None and not _KEY_ID.fullmatch(key_id):
        raise SigningKeyError("--kid: use 1 to 128 letters, digits, '.', '_', ':' or '-'")
    return SigningKey(key, key_id or key.thumbprint())


def load_signing_key(path: Path, setting: str = SIGNING_KEY_SETTING) -> SigningKey:
    """The private Ed25519 JWK in the file at `path`; `SigningKeyError` naming `setting` if unusable."""
    document = _read_json(path, f"{setting}: {path}")
    if not isinstance(document, dict) or "d" not in document:
        raise SigningKeyError(f"{setting}: {path} is not a private JWK (an OKP Ed25519 key with 'd')")
    key = _ed25519_key(document, f"{setting}: {path}")
    return SigningKey(key, _key_id(document, key, f"{setting}: {path}"))


def load_public_keys(path: Path) -> PublicKeys:
    """The public keys in the JWKS or JWK file at `path`; `SigningKeyError` naming the file if unusable."""
    return PublicKeys.from_jwks(_read_json(path, str(path)), str(path))


def open_signed_head(token: str, keys: PublicKeys) -> OpenedHead:
    """The head `token` signs, after checking its signature with `keys`; `SignatureError` if it fails."""
    compact = _extract(token)
    header = compact.headers()
    key_id = header.get("kid")
    if not isinstance(key_id, str):
        raise SignatureError("the signature names no key id")
    typ, alg = header.get("typ"), header.get("alg")
    # Strings only: the header is whatever a row's JWS says, and a list is no member of a set.
    if typ != HEAD_TYPE or not isinstance(alg, str) or alg not in _ACCEPTED_ALGORITHMS:
        raise SignatureError(f"not a signed head (typ {_shown_value(typ)}, alg {_shown_value(alg)})")
    key = keys.get(key_id)
    if key is None:
        raise SignatureError(f"signed with key {_shown(key_id)}, which is not among the public keys")
    try:
        with warnings.catch_warnings():
            # RFC 9864 deprecates the name `EdDSA`; with an Ed25519 key (checked on loading) it is
            # exactly Ed25519, so heads signed under the old name verify without a warning.
            warnings.simplefilter("ignore", SecurityWarning)
            valid = jws.validate_compact(compact, key, registry=_REGISTRY)
    except (JoseError, ValueError, TypeError) as exc:
        raise SignatureError(f"the signature cannot be checked ({type(exc).__name__})") from None
    if not valid:
        raise SignatureError(f"the signature does not verify under key {_shown(key_id)}")
    return OpenedHead(_payload(compact.payload), key_id)


def read_signed_head(token: str) -> SignedHead:
    """The head `token` claims, WITHOUT checking its signature (anchors read without public keys)."""
    return _payload(_extract(token).payload)


def _extract(token: str) -> Any:
    try:
        return jws.extract_compact(token.encode(), registry=_REGISTRY)
    except (JoseError, ValueError, TypeError, UnicodeError) as exc:
        raise SignatureError(f"not a JWS compact serialization ({type(exc).__name__})") from None


def _payload(payload: bytes) -> SignedHead:
    try:
        head = msgspec.json.decode(payload, type=SignedHead)
    except msgspec.ValidationError as exc:
        # msgspec's text may name an unknown member: the payload's own, printable or not.
        shown = "".join(c if c.isprintable() else "?" for c in str(exc))
        raise SignatureError(f"the signed payload is not a chain head ({shown})") from None
    except msgspec.DecodeError:
        raise SignatureError("the signed payload is not JSON") from None
    # A head read without its signature (an anchor file) is printed and looked up in the database:
    # a seq beyond bigint or a tenant with control characters is no head the broker signed.
    if (
        not _HEX_HASH.fullmatch(head.hash)
        or not 1 <= head.seq <= _MAX_SEQ
        or head.signed_at.tzinfo is None
        or not 0 < len(head.tenant) <= _MAX_TENANT
        or not head.tenant.isprintable()
    ):
        raise SignatureError("the signed payload is not a chain head (tenant, hash, seq or signed_at)")
    return head


def _read_json(path: Path, where: str) -> object:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise SigningKeyError(f"{where}: cannot read the file ({exc.strerror})") from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise SigningKeyError(f"{where}: too large for a key file")
    try:
        document: object = json.loads(data)
    except (ValueError, UnicodeError):
        # Never quote the content: it may be a key.
        raise SigningKeyError(f"{where}: not JSON (a JWK or JWKS is expected)") from None
    return document


def _ed25519_key(member: object, where: str) -> OKPKey:
    if not isinstance(member, dict) or member.get("kty") != "OKP" or member.get("crv") != "Ed25519":
        raise SigningKeyError(f"{where}: not an Ed25519 key (kty OKP, crv Ed25519)")
    if member.get("alg") not in (None, *_ACCEPTED_ALGORITHMS):
        raise SigningKeyError(f"{where}: the key is for alg {member.get('alg')!r}, not Ed25519")
    try:
        key = OKPKey.import_key({name: member[name] for name in ("kty", "crv", "x", "d") if name in member})
        # Derived from the private member, not copied from `x`.
        public_x = OKPKey.import_key(key.public_key).as_dict()["x"]
    except (JoseError, ValueError, TypeError, KeyError):
        raise SigningKeyError(f"{where}: not a valid Ed25519 JWK") from None
    if public_x != member.get("x"):
        # A `d` that does not belong to its `x` would sign heads that the published key rejects.
        raise SigningKeyError(f"{where}: its private and public members do not belong together")
    return key


def _key_id(member: dict[str, Any], key: OKPKey, where: str) -> str:
    key_id = member.get("kid")
    if key_id is None:
        return key.thumbprint()
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise SigningKeyError(f"{where}: 'kid' must be 1 to 128 letters, digits, '.', '_', ':' or '-'")
    return key_id


def _shown_value(value: object) -> str:
    """A header value from a signature, safe to print: a short token, else only its type."""
    if value is None or (isinstance(value, str) and _HEADER_TOKEN.fullmatch(value)):
        return repr(value)
    return f"(a {type(value).__name__})"


def _shown(key_id: str) -> str:
    """A key id from a signature, safe to print: only the characters a key id may have."""
    return repr(key_id) if _KEY_ID.fullmatch(key_id) else "(an invalid key id)"
