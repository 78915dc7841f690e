"""Protocollering: the legal register of every request (Wet BRP art. 3.11).

Owns the protocol tables (migration 0003), the writer that commits a record before a request may
answer (`ProtocolWriter`, group commit), the per-tenant hash chain and its `verify`, monthly
partitions and `apply_retention`, `inzage` for citizens' requests, and `export` for archive and
audit (verifiable offline with `verify_export`), and the Logboek Dataverwerkingen view of the
records (`ldv_records`, delivered to a tenant's Logboek by `ldv_delivery`). Must never log a
record, a BSN or a search parameter, and never store a token or a secret. Requests refused
before a tenant was known are counted into aggregate records by a lane of their own
(`AnonymousLane`), so a flood of them never slows down a tenant's protocol.
"""

from __future__ import annotations

from app.protocol.access import ProtocolAccessError, ProtocolSource
from app.protocol.anonymous import LaneStats
from app.protocol.append import protocol_unavailable
from app.protocol.chain import NO_TENANT, ChainedRecord
from app.protocol.export import (
    ExportBreak,
    ExportBreakKind,
    ExportError,
    ExportFormat,
    ExportManifest,
    ExportReport,
    export,
    format_export_report,
    verify_export,
)
from app.protocol.inzage import InzageEntry, InzageFormat, inzage, render
from app.protocol.ldv import LDV_VERSION, LdvContext, LdvKeyError, LdvRecord, SubjectKey, ldv_records
from app.protocol.partitions import (
    DEFAULT_MONTHS_AHEAD,
    Partition,
    create_partitions,
    ensure_partitions,
    list_partitions,
)
from app.protocol.record import ProtocolRecord
from app.protocol.retention import (
    DEFAULT_TERM_YEARS,
    HARD_FLOOR_YEARS,
    RetentionError,
    RetentionReport,
    apply_retention,
)
from app.protocol.verify import BreakKind, ChainBreak, ChainReport, VerifyReport, format_report, verify
from app.protocol.writer import ProtocolWriter, WriterStats, write_batch

__all__ = [
    "DEFAULT_MONTHS_AHEAD",
    "DEFAULT_TERM_YEARS",
    "HARD_FLOOR_YEARS",
    "LDV_VERSION",
    "NO_TENANT",
    "BreakKind",
    "ChainBreak",
    "ChainReport",
    "ChainedRecord",
    "ExportBreak",
    "ExportBreakKind",
    "ExportError",
    "ExportFormat",
    "ExportManifest",
    "ExportReport",
    "InzageEntry",
    "InzageFormat",
    "LaneStats",
    "LdvContext",
    "LdvKeyError",
    "LdvRecord",
    "Partition",
    "ProtocolAccessError",
    "ProtocolRecord",
    "ProtocolSource",
    "ProtocolWriter",
    "RetentionError",
    "RetentionReport",
    "SubjectKey",
    "VerifyReport",
    "WriterStats",
    "apply_retention",
    "create_partitions",
    "ensure_partitions",
    "export",
    "format_export_report",
    "format_report",
    "inzage",
    "ldv_records",
    "list_partitions",
    "protocol_unavailable",
    "render",
    "verify",
    "verify_export",
    "write_batch",
]
