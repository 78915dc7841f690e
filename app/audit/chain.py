"""The hash chain that makes the audit log tamper-evident: one chain per tenant, numbered 1, 2, 3 ...

Entry *n* of tenant *T* stores `prev_hash` (the hash of entry *n-1*, or the tenant's genesis hash
for *n = 1*) and `hash = SHA-256(DOMAIN || prev_hash || canonical(entry n))`, exactly as the
protocol's chain (`app.protocol.chain`) but with a domain of its own, so a hash of one chain can
never stand for a hash of the other. `canonical` is msgspec JSON with sorted keys of every stored
column; `before` and `after` are hashed as the exact JSON text stored (a `json` column).

The chain is keyless; its limits are the protocol's: someone with owner rights who rewrites every
entry after the one they change, and the head, leaves a consistent chain. Publish the heads
(`verify_audit` reports them) where the database owner cannot write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Final

import msgspec

__all__ = ["ChainedEntry", "entry_hash", "genesis_hash"]

_DOMAIN: Final = b"brp-broker audit chain v1\n"
_ENCODER: Final = msgspec.json.Encoder(order="sorted")


class ChainedEntry(msgspec.Struct, frozen=True, kw_only=True):
    """Exactly what the hash of one entry covers: its stored columns, in stored form."""

    tenant: str
    seq: int
    recorded_at: dt.datetime
    actor: str
    role: str
    via: str
    source: str | None
    resource: str
    key: str
    action: str
    # The JSON text stored in the `json` columns, hashed as text.
    before: str | None
    after: str | None
    correlation_id: str | None

    def canonical(self) -> bytes:
        """The bytes that are hashed: JSON with sorted keys, the time in UTC."""
        return _ENCODER.encode(msgspec.structs.replace(self, recorded_at=self.recorded_at.astimezone(dt.UTC)))


def genesis_hash(tenant: str) -> bytes:
    """The `prev_hash` of a tenant's first entry."""
    return hashlib.sha256(_DOMAIN + b"genesis\n" + tenant.encode()).digest()


def entry_hash(prev_hash: bytes, entry: ChainedEntry) -> bytes:
    """The hash of `entry` following `prev_hash` in its tenant's chain."""
    return hashlib.sha256(_DOMAIN + prev_hash + entry.canonical()).digest()
