"""Secrets at rest: a reference to where a secret lives (`env:NAME`, `file:/path`), or the secret
encrypted under the key-encryption key (`enc:v1:...`) — never the secret itself.

`Secret` wraps a resolved value so that printing, logging or encoding it by accident shows
nothing. Only the code that must send the secret (the token request) calls `reveal()`.

Encryption (`SecretKey`): AES-256-GCM under a 32-byte key-encryption key (KEK) from the
environment variable `BROKER_SECRET_KEY` (base64, e.g. `openssl rand -base64 32`), with a fresh
96-bit nonce per value and caller-chosen associated data (tenancy binds each client secret to its
tenant and AfnemerID, so a value copied to another afnemer does not decrypt). The stored form is
`enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`; the key id (8 hex digits of a hash of the
key) lets a wrong key be named as such instead of failing as "altered".

This module never logs, and no error it raises ever contains a secret or a key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets as _random
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "ENCRYPTED_PREFIX",
    "SECRET_KEY_VARIABLE",
    "Secret",
    "SecretDecryptionError",
    "SecretKey",
    "SecretReferenceError",
    "generate_secret_key",
    "is_encrypted",
    "resolve_secret",
    "validate_reference",
    "validate_stored_secret",
]

SECRET_KEY_VARIABLE: Final = "BROKER_SECRET_KEY"  # noqa: S105 - a variable name, not a key
ENCRYPTED_PREFIX: Final = "enc:v1:"

_KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
_ENCRYPTED: Final = re.compile(r"^enc:v1:(?P<kid>[0-9a-f]{8}):(?P<data>[A-Za-z0-9_-]+)$")
_ENV_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretReferenceError(Exception):
    """A reference is malformed or points at nothing; the message never holds a secret."""


class SecretDecryptionError(SecretReferenceError):
    """An `enc:` value cannot be decrypted: wrong key, altered value, or another owner's value."""


class Secret:
    """A secret value whose repr and str are redacted."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself; call only where it is sent."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


class SecretKey:
    """The key-encryption key: encrypts and decrypts `enc:v1:` values. Its repr shows the key id only."""

    __slots__ = ("_aead", "_key", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise SecretReferenceError(f"{SECRET_KEY_VARIABLE} must be {_KEY_BYTES} bytes (got {len(key)})")
        self._key = key
        self._aead = AESGCM(key)
        # Identifies the key without revealing it: a wrong key is then reported as such.
        self.key_id = hashlib.sha256(b"brp-broker secret key id\x00" + key).hexdigest()[:8]

    @classmethod
    def from_text(cls, text: str) -> SecretKey:
        """The key from its base64 form (standard or URL-safe alphabet, padding optional)."""
        cleaned = text.strip().replace("-", "+").replace("_", "/")
        try:
            key = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise SecretReferenceError(
                f"{SECRET_KEY_VARIABLE} is not base64 (create one with `openssl rand -base64 32`)"
            ) from None
        return cls(key)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SecretKey | None:
        """The key from `BROKER_SECRET_KEY`, or None when it is not set."""
        text = (os.environ if environ is None else environ).get(SECRET_KEY_VARIABLE, "")
        return cls.from_text(text) if text.strip() else None

    def derive(self, info: bytes) -> bytes:
        """A 32-byte key for the purpose `info` names (HKDF-SHA256): one KEK, independent keys."""
        return HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=None, info=info).derive(self._key)

    def encrypt(self, value: str, associated_data: bytes) -> str:
        """`value` encrypted as `enc:v1:<key id>:<data>`, bound to `associated_data`."""
        if not value:
            raise SecretReferenceError("an empty secret cannot be encrypted")
        nonce = _random.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8"), associated_data)
        data = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{ENCRYPTED_PREFIX}{self.key_id}:{data}"

    def decrypt(self, stored: str, associated_data: bytes) -> Secret:
        """The secret in an `enc:v1:` value; `SecretDecryptionError` names what is wrong."""
        match = _ENCRYPTED.match(stored)
        if match is None:
            raise SecretReferenceError("an encrypted secret has the form enc:v1:<key id>:<data>")
        if match["kid"] != self.key_id:
            raise SecretDecryptionError(
                f"encrypted with another key (key id {match['kid']}); "
                f"{SECRET_KEY_VARIABLE} has key id {self.key_id}"
            )
        data = match["data"]
        try:
            blob = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        except (binascii.Error, ValueError):
            raise SecretReferenceError("an encrypted secret's data is not base64url") from None
        if len(blob) <= _NONCE_BYTES + _TAG_BYTES:
            raise SecretReferenceError("an encrypted secret is too short to hold a value")
        try:
            plain = self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], associated_data)
        except InvalidTag:
            raise SecretDecryptionError(
                "cannot decrypt: the value was altered, or was encrypted for another tenant or afnemer"
            ) from None
        return Secret(plain.decode("utf-8"))

    def __repr__(self) -> str:
        return f"SecretKey(key_id={self.key_id!r})"

    __str__ = __repr__


def generate_secret_key() -> str:
    """A new random key-encryption key in base64, to put in `BROKER_SECRET_KEY` of every replica."""
    return base64.b64encode(_random.token_bytes(_KEY_BYTES)).decode("ascii")


def is_encrypted(value: str) -> bool:
    """Whether a stored secret is an `enc:` value (rather than a reference)."""
    return value.startswith("enc:")


def validate_reference(reference: str) -> None:
    """Raise `SecretReferenceError` unless `reference` is `env:NAME` or `file:PATH`."""
    scheme, _, target = reference.partition(":")
    if scheme not in ("env", "file") or not target:
        raise SecretReferenceError(
            "a secret must be given as a reference, env:VARIABLE or file:/path (plain values are refused)"
        )
    if scheme == "env" and not _ENV_NAME.match(target):
        raise SecretReferenceError("env: must name an environment variable (letters, digits, _)")


def validate_stored_secret(value: str) -> None:
    """Raise `SecretReferenceError` unless `value` is a reference (`env:`, `file:`) or `enc:v1:...`."""
    if is_encrypted(value):
        if _ENCRYPTED.match(value) is None:
            raise SecretReferenceError("an encrypted secret has the form enc:v1:<key id>:<data>")
        return
    try:
        validate_reference(value)
    except SecretReferenceError:
        raise SecretReferenceError(
            "a secret must be a reference (env:VARIABLE, file:/path) or encrypted (enc:v1:...); "
            "plain values are refused"
        ) from None


def resolve_secret(
    reference: str, *, key: SecretKey | None = None, associated_data: bytes | None = None
) -> Secret:
    """Read the secret a reference points at (a mounted Kubernetes Secret file, or a variable).

    An `enc:v1:` value is decrypted with `key` and must be given the `associated_data` it was
    encrypted with.
    """
    if is_encrypted(reference):
        if key is None:
            raise SecretReferenceError(f"{SECRET_KEY_VARIABLE} is not set; it is needed for enc: secrets")
        if associated_data is None:
            raise SecretReferenceError("an enc: secret needs the associated data it was encrypted with")
        return key.decrypt(reference, associated_data)
    validate_reference(reference)
    scheme, _, target = reference.partition(":")
    if scheme == "env":
        value = os.environ.get(target)
        if not value:
            raise SecretReferenceError(f"environment variable {target} is not set")
        return Secret(value)
    try:
        value = Path(target).read_text("utf-8").strip()
    except OSError as exc:
        raise SecretReferenceError(f"cannot read secret file {target} ({exc.strerror})") from None
    if not value:
        raise SecretReferenceError(f"secret file {target} is empty")
    return Secret(value)
