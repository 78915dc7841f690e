"""What one audit entry says, and how a secret becomes a fingerprint before it reaches one.

An `AuditEntry` is one change of one configuration object (resource + key) of one tenant: who made
it (actor, role, via the API or `tenants apply` with its source file), what it was before and what
it is after (None for an object that did not exist, or no longer does), and the correlation id of
the request or apply run.

Secrets never reach the audit log. Every value under a `client_secret` key, at any depth of
`before` and `after`, is replaced by `fingerprint_secret(value)`, whoever builds the entry
(`audit_document` does it for callers; `append_change` does it again on the way in, so a caller
that forgets cannot leak). The fingerprint:

- of a stored form (`env:NAME`, `file:/path`, `enc:v1:...`) is `sha256:` and the first 16 hex
  digits of a SHA-256 (with a domain prefix) of that stored text. The stored text is never a
  secret: a reference names where the secret lives, and an `enc:` value is AES-GCM ciphertext
  with a random nonce. So the fingerprint needs no key (`tenants apply` may run without
  BROKER_SECRET_KEY), cannot be reversed, and tells a reader exactly what they need: whether the
  secret (or its reference) changed between two entries. Re-encrypting the same secret gives a
  new fingerprint, as it is a new stored value;
- of anything else (a plain value that should never have come this far) is `redacted`: a hash of
  a plain, possibly guessable secret is never written anywhere;
- of a fingerprint is the fingerprint itself, so redacting twice changes nothing.

This module does no I/O and never logs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

import msgspec

__all__ = [
    "REDACTED",
    "SECRET_KEYS",
    "Action",
    "AuditEntry",
    "AuditRecord",
    "Via",
    "audit_document",
    "fingerprint_secret",
    "redact_secrets",
]

Via = Literal["api", "tenants apply"]
Action = Literal["add", "change", "remove"]

# Keys whose values are secrets wherever they occur in an object.
SECRET_KEYS: Final = frozenset({"client_secret"})
REDACTED: Final = "redacted"

_FINGERPRINT: Final = re.compile(r"^sha256:[0-9a-f]{16}$")
_STORED_SECRET: Final = re.compile(
    r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+|enc:v1:[0-9a-f]{8}:[A-Za-z0-9_-]+)$"
)
_DOMAIN: Final = b"brp-broker audit secret fingerprint v1\n"


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One change of one configuration object, as its writer reports it.

    `resource`: the kind of object (tenant, member, issuer, afnemer, gegevensset, rule, limit,
    or what the API adds); `key`: which one (the slug, a code, an AfnemerID, a name, a scope).
    `before`/`after`: the object as JSON-able data, None where it did not or no longer exists.
    """

    tenant: str
    actor: str
    role: str
    via: Via
    source: str | None
    resource: str
    key: str
    action: Action
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    correlation_id: str | None


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One stored entry, as read back: the entry with its place in the tenant's chain."""

    tenant: str
    seq: int
    recorded_at: dt.datetime
    actor: str
    role: str
    via: Via
    source: str | None
    resource: str
    key: str
    action: Action
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    correlation_id: str | None
    hash: str


def fingerprint_secret(value: str) -> str:
    """What the audit shows for a secret: `sha256:<16 hex>` of its stored form, never the value."""
    if _FINGERPRINT.match(value):
        return value
    if not _STORED_SECRET.match(value):
        return REDACTED
    return "sha256:" + hashlib.sha256(_DOMAIN + value.encode("utf-8")).hexdigest()[:16]


def redact_secrets(value: Any) -> Any:
    """`value` (JSON-able data) with every secret replaced by its fingerprint, at any depth."""
    if isinstance(value, Mapping):
        return {
            key: _fingerprint_any(item) if key in SECRET_KEYS else redact_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_secrets(item) for item in value]
    return value


def audit_document(value: Any) -> dict[str, Any] | None:
    """An object (a msgspec Struct or a mapping) as the audit stores it, secrets fingerprinted.

    None stays None (the object did not or does not exist).
    """
    if value is None:
        return None
    data = msgspec.to_builtins(value)
    if not isinstance(data, dict):
        raise TypeError(f"an audited object is a table of fields, not {type(data).__name__}")
    redacted: dict[str, Any] = redact_secrets(data)
    return redacted


def _fingerprint_any(value: Any) -> Any:
    if value is None:
        return None
    return fingerprint_secret(value) if isinstance(value, str) else REDACTED
