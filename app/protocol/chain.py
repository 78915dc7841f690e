"""The hash chain that makes the protocol tamper-evident: one chain per tenant, numbered 1, 2, 3 ...

Design
------
- **One chain per tenant**, with gap-free sequence numbers. Record *n* of tenant *T* stores
  `prev_hash` (the hash of record *n-1*, or the tenant's genesis hash for *n = 1*) and its `hash`.
- **Format 2** (every record since migration 0012): the writer computes the record's *digest*,
  `SHA-256(RECORD_DOMAIN || canonical(record with seq 0))`, which covers everything but the
  record's place; the database links it: `hash = SHA-256(LINK_DOMAIN || prev_hash || seq as 8
  bytes big-endian || digest)`. Linking inside the database lets one self-committing statement
  (`broker.protocol_append_linked`) lock a head, link, insert and move the head, so a writer
  never holds a head across a client round trip and N writers on one tenant do not queue on
  each other's network latency (`app.protocol.append`).
- **Format 1** (records written before migration 0012): `hash = SHA-256(DOMAIN || prev_hash ||
  canonical(record))`, hashed by the writer. `verify` accepts a link in either format; each
  format has its own domain, so a hash of one can never pass as the other.
- **The head** of each chain (`protocol_chain_heads`: last seq and hash) is the only row that is
  ever updated, and only forward, under its row lock: writers (processes, replicas) appending
  for the same tenant queue on that lock inside the database and can never fork a chain; a
  batch locks its tenants in sorted order, so two batches cannot deadlock. A rolled-back batch
  leaves no trace: the numbers it took are taken again.
- **Canonical encoding**: `ChainedRecord` holds exactly the stored columns (and the persons, in
  answer order) in the form they read back from PostgreSQL, encoded as msgspec JSON with sorted
  keys. `search_parameters` is hashed as the exact JSON text stored in a `json` (not `jsonb`)
  column, so no number or key-order normalisation by the database can change the bytes. It is
  the one list of a record's fields: `verify` reads back exactly these columns. The fields of an
  aggregate (`request_count`, `last_occurred_at`, `correlation_ids`; migration 0009) are left out
  of the canonical form while they hold their defaults (one request), so every record written
  before them, and every record of one request, hashes exactly as it always did. The same holds
  for the context of Logboek Dataverwerkingen (`span_id`, `parent_span_id`,
  `processing_activity`, `foreign_processor`; migration 0016): left out while `None`, so records
  written before them keep their canonical bytes.
- **What `verify` detects** (see `app.protocol.verify`): a changed record or person row (its hash
  no longer matches), a forged record (a duplicate sequence number, a broken link, or a record
  beyond the head), and a removed record (a gap, or a head ahead of the last record). Retention
  removes old records legitimately; it writes a checkpoint (last removed seq and its hash) so the
  chain is still checked from there on.
- **Limits**: the chain is keyless. Someone with owner rights who rewrites *every* record after
  the one they change, and the head, leaves a consistent chain. Against that, publish the heads
  (`verify` prints them) to a place the database owner cannot write (a ticket, a signed e-mail, a
  transparency log); a later head must extend the published one.

This module must never log or print a record: it holds BSNs and search parameters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Final

import msgspec

from app.protocol.record import ProtocolRecord

__all__ = [
    "HASH_SIZE",
    "LINK_DOMAIN",
    "NO_TENANT",
    "ChainedRecord",
    "chained",
    "document_hash",
    "genesis_hash",
    "link_hash",
    "linked_hash",
    "normalise_time",
    "record_digest",
]

HASH_SIZE: Final = 32
# Requests rejected before a tenant was known (401) are stored under this tenant. It can never be
# a tenant slug (those start with a letter or digit), so no tenant's scope ever shows these rows.
NO_TENANT: Final = "-"
# Domain separation: a hash of this chain can never be mistaken for a hash of anything else.
_DOMAIN: Final = b"brp-broker protocol chain v1\n"
# Format 2: the digest of a record, and the link the database makes of it (migration 0012 spells
# LINK_DOMAIN out again; the test of the append function checks the two agree).
_RECORD_DOMAIN: Final = b"brp-broker protocol record v2\n"
LINK_DOMAIN: Final = b"brp-broker protocol chain v2\n"
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ENCODER: Final = msgspec.json.Encoder(order="sorted")


# gc=False: only text, numbers, times and tuples of them (no cycles possible), and a flood keeps
# thousands alive at once, which the cyclic garbage collector need not scan.
class ChainedRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """Exactly what the hash of one record covers: its stored columns and persons, in stored form.

    A record stands for one request, or (only under `NO_TENANT`, see `app.protocol.aggregate`)
    for `request_count` refused requests that arrived from `occurred_at` to `last_occurred_at`.
    """

    tenant: str
    seq: int
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    correlation_id: str
    trace_id: str | None
    member_organisation: str | None
    subject: str | None
    employee: str | None
    client_application: str | None
    afnemer_id: str | None
    environment: str | None
    doelbinding: str | None
    verwerking: str | None
    origin_oin: str | None
    api: str
    query_type: str | None
    # The JSON text stored in the `json` column, hashed as text.
    search_parameters: str
    requested_fields: tuple[str, ...]
    sent_fields: tuple[str, ...]
    status: int
    problem_code: str | None
    latency_ms: float
    # (bsn, role) in answer order.
    persons: tuple[tuple[str, str], ...]
    # An aggregate: how many requests, the last arrival, and the correlation ids of the requests
    # after the first (bounded; `correlation_id` is the first's). Only fields with a default may
    # follow: a default is not encoded, so records of one request keep their canonical bytes.
    request_count: int = 1
    last_occurred_at: dt.datetime | None = None
    correlation_ids: tuple[str, ...] = ()
    # The context of Logboek Dataverwerkingen (migration 0016), `None` in every earlier record: the
    # broker's span of the request (16 lowercase hex digits), the caller's span from its W3C
    # `traceparent`, the URI of the processing activity in the tenant's register, and the calling
    # organisation's URI (only when the caller sent its trace context).
    span_id: str | None = None
    parent_span_id: str | None = None
    processing_activity: str | None = None
    foreign_processor: str | None = None

    def canonical(self) -> bytes:
        """The bytes that are hashed: JSON with sorted keys, times in UTC with microseconds."""
        return _ENCODER.encode(self)


def normalise_time(moment: dt.datetime) -> dt.datetime:
    """`moment` in UTC; a naive time is taken to be UTC already (the pipeline always sends UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def chained(record: ProtocolRecord) -> ChainedRecord:
    """The stored form of `record`, not yet numbered (seq 0) nor stamped (recorded_at at the epoch).

    Raises `TypeError` when the search parameters are not JSON-serialisable.
    """
    return ChainedRecord(
        tenant=record.tenant or NO_TENANT,
        seq=0,
        occurred_at=normalise_time(record.occurred_at),
        recorded_at=_EPOCH,
        correlation_id=record.correlation_id,
        trace_id=record.trace_id,
        member_organisation=record.member_organisation,
        subject=record.subject,
        employee=record.employee,
        client_application=record.client_application,
        afnemer_id=record.afnemer_id,
        environment=record.environment,
        doelbinding=record.doelbinding,
        verwerking=record.verwerking,
        origin_oin=record.origin_oin,
        api=record.api,
        query_type=record.query_type,
        search_parameters=_ENCODER.encode(record.search_parameters).decode(),
        requested_fields=tuple(record.requested_fields),
        sent_fields=tuple(record.sent_fields),
        status=record.status,
        problem_code=record.problem_code,
        latency_ms=float(record.latency_ms),
        persons=tuple((person.bsn, person.role.value) for person in record.persons),
        span_id=record.span_id,
        parent_span_id=record.parent_span_id,
        processing_activity=record.processing_activity,
        foreign_processor=record.foreign_processor,
    )


def genesis_hash(tenant: str) -> bytes:
    """The `prev_hash` of a tenant's first record."""
    return hashlib.sha256(_DOMAIN + b"genesis\n" + tenant.encode()).digest()


def link_hash(prev_hash: bytes, record: ChainedRecord) -> bytes:
    """Format 1: the hash of `record` following `prev_hash` in its tenant's chain."""
    return document_hash(prev_hash, record.canonical())


def document_hash(prev_hash: bytes, document: bytes) -> bytes:
    """Format 1: the hash of a record's canonical `document` following `prev_hash`."""
    return hashlib.sha256(_DOMAIN + prev_hash + document).digest()


def record_digest(record: ChainedRecord) -> bytes:
    """Format 2: the digest of `record`, over all of it but its sequence number."""
    return hashlib.sha256(_RECORD_DOMAIN + msgspec.structs.replace(record, seq=0).canonical()).digest()


def linked_hash(prev_hash: bytes, seq: int, digest: bytes) -> bytes:
    """Format 2: the hash of the record with `digest` at `seq`, following `prev_hash`.

    The same computation as `broker.protocol_append_linked` (migration 0012) makes in the database.
    """
    return hashlib.sha256(LINK_DOMAIN + prev_hash + seq.to_bytes(8, "big") + digest).digest()
