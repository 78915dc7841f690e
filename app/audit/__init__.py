"""The audit log: every configuration change, append-only and tamper-evident (migration 0011).

Every change through the admin API or `tenants apply` is recorded in the same transaction as the
change itself: when, who (subject and role, or "tenants apply" with the file it read), which
tenant, which object (resource + key), what it was before and is after, and the correlation id.
One hash chain per tenant, as for the protocol; `verify_audit` walks it.

Readers: a tenant's admins read their own tenant's entries (runtime role, row-level security);
operators read every tenant's (owner role). A secret never reaches an entry: it is replaced by a
fingerprint (`fingerprint_secret`) before the entry is written. Nothing here logs an entry.
"""

from __future__ import annotations

from app.audit.entry import (
    REDACTED,
    Action,
    AuditEntry,
    AuditRecord,
    Via,
    audit_document,
    fingerprint_secret,
    redact_secrets,
)
from app.audit.log import (
    MAX_PAGE,
    AuditError,
    AuditFilter,
    AuditPage,
    AuditQueryError,
    append_change,
    moment_in_range,
    read_audit,
)
from app.audit.service import AuditService, AuditUnavailable, UnknownAuditTenant
from app.audit.verify import (
    AuditBreak,
    AuditBreakKind,
    AuditChainReport,
    AuditVerifyReport,
    format_audit_report,
    verify_audit,
)

__all__ = [
    "MAX_PAGE",
    "REDACTED",
    "Action",
    "AuditBreak",
    "AuditBreakKind",
    "AuditChainReport",
    "AuditEntry",
    "AuditError",
    "AuditFilter",
    "AuditPage",
    "AuditQueryError",
    "AuditRecord",
    "AuditService",
    "AuditUnavailable",
    "AuditVerifyReport",
    "UnknownAuditTenant",
    "Via",
    "append_change",
    "audit_document",
    "fingerprint_secret",
    "format_audit_report",
    "moment_in_range",
    "read_audit",
    "redact_secrets",
    "verify_audit",
]
