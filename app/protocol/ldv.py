"""The protocol as Logboek Dataverwerkingen (LDV) lines: Logius' standard, version 1.0.0.

`ldv_records(record, subject_key=..., resource_attributes=...)` maps one stored protocol record
(`ChainedRecord`) onto the lines of the standard's Logboek interface (`LdvRecord`). It is a pure
function: the same record always gives the same lines (the subject's ciphertext aside, which is
new at each encryption), so the delivery to a tenant's Logboek (`app.protocol.ldv_delivery`) and
`protocol export --format ldv` give the same ids, and a Logboek can drop a line it already has.

The mapping
-----------
- **The request is one action**: `trace_id` the record's (the caller's when it sent a valid
  `traceparent`, else the broker's own), `span_id` the broker's span of the request,
  `parent_span_id` the caller's span when the calling application is known (`[ldv] caller`, then
  `dpl.core.foreign_operation.processor`; without it a parent would read as the broker's own).
  `start_time` is the arrival (`occurred_at`), `end_time` arrival plus latency, both in
  milliseconds since the Epoch. `name` says in Dutch what happened
  ("BRP bevraagd: RaadpleegMetBurgerservicenummer (Personen)").
- **Status** by the standard's rules: a 2xx answer is `Ok` (the broker marks success
  explicitly), a refusal (4xx: invalid input, no authorisation, rate limit) and a request the
  client cancelled (499) are `Unset` — handled without an internal error —, and 5xx is `Error`
  with the problem code as `exception.type` (never a message or a stack trace).
- **Attributes** only in the namespace the standard defines (`dpl.core.*`): the processing
  activity (`dpl.core.processing_activity_id`: the record's, or for a record without one the
  tenant's default), and when the caller sent a `traceparent`, the calling application
  (`dpl.core.foreign_operation.processor`; the caller's span is then `parent_span_id`).
- **Data subjects**, one per line at most: no person, one line without a subject; one person,
  that line names them; several (a search), the request's line without a subject plus one child
  line per person, each its own action (`span_id` derived from the request's, `parent_span_id` the
  request's span). A subject is `dpl.core.data_subject_id` = the BSN encrypted to the tenant's
  public key (`app.protocol.ldv_subjects`) and `dpl.core.data_subject_id_type` = `BSN`.
- **Records without ids of their own**: a record written before migration 0016 has no
  `span_id`, and some have no `trace_id`. Their ids are derived from (tenant, seq), each under its
  own domain-separated SHA-256, so they are stable (the same at every delivery and export) and
  distinct from the ids of another tenant's or another record's lines. A record whose trace id
  is derived has no `parent_span_id` (a parent would be in another trace).
- Records of requests without a tenant (`NO_TENANT`, refused before authentication) belong to no
  tenant's Logboek: they give no lines.

Never logs a line: it holds (encrypted) subjects and the record's ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, Literal

import msgspec

from app.protocol.chain import NO_TENANT, ChainedRecord
from app.protocol.ldv_subjects import LdvKeyError, SubjectKey

if TYPE_CHECKING:
    from app.tenancy.models import LdvSettings

__all__ = [
    "LDV_VERSION",
    "LdvContext",
    "LdvKeyError",
    "LdvRecord",
    "LdvResource",
    "LdvStatus",
    "SubjectKey",
    "action_name",
    "broker_resource",
    "ldv_records",
    "ldv_status",
]

LDV_VERSION: Final = "1.0.0"
"""The version of Logius' "Logboek Dataverwerkingen" this mapping follows."""

LdvStatus = Literal["Unset", "Ok", "Error"]

PROCESSING_ACTIVITY: Final = "dpl.core.processing_activity_id"
DATA_SUBJECT_ID: Final = "dpl.core.data_subject_id"
DATA_SUBJECT_ID_TYPE: Final = "dpl.core.data_subject_id_type"
FOREIGN_PROCESSOR: Final = "dpl.core.foreign_operation.processor"
EXCEPTION_TYPE: Final = "exception.type"

_TRACE_ID: Final = re.compile(r"[0-9a-f]{32}")
_SPAN_ID: Final = re.compile(r"[0-9a-f]{16}")
_INVALID_TRACE: Final = "0" * 32
_INVALID_SPAN: Final = "0" * 16
# Domain separation: a derived id of one kind can never equal one of another kind.
_DERIVED_TRACE: Final = b"brp-broker ldv trace v1\n"
_DERIVED_SPAN: Final = b"brp-broker ldv span v1\n"
_SUBJECT_SPAN: Final = b"brp-broker ldv subject span v1\n"
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND: Final = dt.timedelta(microseconds=1)

_API_NAMES: Final = {
    "personen": "Personen",
    "bewoning": "Bewoning",
    "verblijfplaatshistorie": "Verblijfplaatshistorie",
}
# Protocol records of the broker's own functions over the protocol (admin API).
_OWN_ACTIONS: Final = {
    "inzage": "Inzage in het BRP-protocol",
    "protocol-export": "BRP-protocol geëxporteerd",
}
_ROLE_NAMES: Final = {"consulted": "Persoon geraadpleegd", "found": "Persoon gevonden"}


class LdvResource(msgspec.Struct, frozen=True):
    """The system that processed: the standard's `resource` with its `attributes`."""

    attributes: dict[str, str]


class LdvRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One line of the Logboek interface of LDV 1.0.0 (JSON names as the standard's fields).

    Ids in lower-case hex (trace 16 bytes, span 8 bytes), times in milliseconds since the Epoch.
    """

    trace_id: str
    span_id: str
    # Omitted when the action has no parent (no caller's span, not a child line).
    parent_span_id: str | None = None
    status: LdvStatus
    name: str
    start_time: int
    end_time: int
    resource: LdvResource
    attributes: dict[str, str]


def ldv_records(
    record: ChainedRecord,
    *,
    subject_key: SubjectKey,
    resource_attributes: Mapping[str, str],
    default_processing_activity: str | None = None,
) -> list[LdvRecord]:
    """The LDV lines of `record`: its request, and a child line per person when there are several.

    `subject_key` is the tenant's public key (`SubjectKey.from_jwk`, which refuses a tenant without
    one: a BSN never leaves in clear). `default_processing_activity` stands in for a record that
    has none (written before migration 0016, or outside the gateway).
    """
    if record.tenant == NO_TENANT:
        return []
    trace_id, span_id, caller_span_id = _ids(record)
    # In 1.0.0 a parent outside the broker is marked by the calling application (the processor);
    # a caller's span without one would claim to be an action of the broker itself.
    parent_span_id = caller_span_id if record.foreign_processor else None
    status = ldv_status(record.status)
    start = _epoch_microseconds(record.occurred_at)
    start_time = start // 1000
    end_time = max(start_time, (start + round(max(record.latency_ms, 0.0) * 1000)) // 1000)
    name = action_name(record.api, record.query_type)
    common: dict[str, str] = {}
    activity = record.processing_activity or default_processing_activity
    if activity:
        common[PROCESSING_ACTIVITY] = activity
    if status == "Error":
        common[EXCEPTION_TYPE] = record.problem_code or str(record.status)
    request_attributes = dict(common)
    if record.foreign_processor and parent_span_id is not None:
        request_attributes[FOREIGN_PROCESSOR] = record.foreign_processor
    resource = LdvResource(dict(resource_attributes))

    def line(span: str, parent: str | None, title: str, attributes: dict[str, str]) -> LdvRecord:
        return LdvRecord(
            trace_id=trace_id,
            span_id=span,
            parent_span_id=parent,
            status=status,
            name=title,
            start_time=start_time,
            end_time=end_time,
            resource=resource,
            attributes=attributes,
        )

    persons = record.persons
    if len(persons) == 1:
        bsn, _role = persons[0]
        return [line(span_id, parent_span_id, name, request_attributes | _subject(subject_key, bsn))]
    lines = [line(span_id, parent_span_id, name, request_attributes)]
    for index, (bsn, role) in enumerate(persons):
        lines.append(
            line(
                _subject_span_id(trace_id, span_id, index),
                span_id,
                f"{_ROLE_NAMES.get(role, 'Persoon verwerkt')} — {name}",
                common | _subject(subject_key, bsn),
            )
        )
    return lines


def ldv_status(http_status: int) -> LdvStatus:
    """The standard's status of a request answered with `http_status` (499: cancelled by the client)."""
    if 200 <= http_status < 300:
        return "Ok"
    if http_status >= 500:
        return "Error"
    return "Unset"


def action_name(api: str, query_type: str | None) -> str:
    """A human, Dutch name of the action, e.g. "BRP bevraagd: RaadpleegMetBurgerservicenummer (Personen)"."""
    own = _OWN_ACTIONS.get(api)
    if own is not None:
        return own
    label = _API_NAMES.get(api, api)
    return f"BRP bevraagd: {query_type} ({label})" if query_type else f"BRP bevraagd ({label})"


def broker_resource() -> dict[str, str]:
    """The `resource` attributes of the broker's lines: service name and version (OpenTelemetry's)."""
    try:
        version = importlib.metadata.version("brp-broker")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {"service.name": "brp-broker", "service.version": version}


def _ids(record: ChainedRecord) -> tuple[str, str, str | None]:
    """(trace id, span id, parent span id) of the request's action, derived where the record has none."""
    where = f"{record.tenant}\n{record.seq}".encode()
    trace_id = _valid(record.trace_id, _TRACE_ID, _INVALID_TRACE)
    parent = _valid(record.parent_span_id, _SPAN_ID, _INVALID_SPAN)
    if trace_id is None:
        trace_id, parent = _derived(_DERIVED_TRACE + where, 16), None
    span_id = _valid(record.span_id, _SPAN_ID, _INVALID_SPAN) or _derived(_DERIVED_SPAN + where, 8)
    return trace_id, span_id, parent


def _subject_span_id(trace_id: str, span_id: str, index: int) -> str:
    """The span id of the child line of the `index`-th person of the request `span_id`."""
    return _derived(_SUBJECT_SPAN + bytes.fromhex(trace_id + span_id) + index.to_bytes(4, "big"), 8)


def _valid(value: str | None, shape: re.Pattern[str], invalid: str) -> str | None:
    if value is None:
        return None
    lowered = value.lower()
    return lowered if shape.fullmatch(lowered) and lowered != invalid else None


def _derived(material: bytes, size: int) -> str:
    digest = bytearray(hashlib.sha256(material).digest()[:size])
    if not any(digest):  # all zeros is W3C's invalid id; 2**-64 odds, but never emit one
        digest[-1] = 1
    return digest.hex()


def _subject(key: SubjectKey, bsn: str) -> dict[str, str]:
    return {DATA_SUBJECT_ID: key.encrypt(bsn), DATA_SUBJECT_ID_TYPE: "BSN"}


def _epoch_microseconds(moment: dt.datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return (aware - _EPOCH) // _MICROSECOND


class LdvContext:
    """What mapping a tenant's records needs besides the records: its key, resource and default."""

    __slots__ = ("default_processing_activity", "resource_attributes", "subject_key")

    def __init__(
        self,
        subject_key: SubjectKey,
        *,
        resource_attributes: Mapping[str, str] | None = None,
        default_processing_activity: str | None = None,
    ) -> None:
        self.subject_key = subject_key
        self.resource_attributes = dict(resource_attributes or broker_resource())
        self.default_processing_activity = default_processing_activity

    @classmethod
    def for_tenant(cls, ldv: LdvSettings) -> LdvContext:
        """The context of a tenant's `[ldv]` settings; raises `LdvKeyError` without a usable subject key."""
        return cls(SubjectKey.from_jwk(ldv.subject_key), default_processing_activity=ldv.processing_activity)

    def lines(self, record: ChainedRecord) -> list[LdvRecord]:
        """`ldv_records` of `record` in this context."""
        return ldv_records(
            record,
            subject_key=self.subject_key,
            resource_attributes=self.resource_attributes,
            default_processing_activity=self.default_processing_activity,
        )
