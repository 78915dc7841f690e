"""Tenancy: tenants, their identity providers, afnemers, gegevenssets and access rules, and
RvIG's connection patterns (SaaS, samenwerkingsverband onder delegatie, met gezamenlijk personeel).

- `load_tenant_files` / `plan` / `apply`: the declarative `tenants/<slug>.toml` files, validated,
  diffed and applied to the database in one transaction (`brp-broker tenants apply`).
- `TenantDirectory`: every tenant's configuration cached in memory, reloaded on change
  (LISTEN/NOTIFY); the hot path reads no configuration from the database. It is the identity
  layer's `IssuerDirectory`.
- `resolve_access` / `TenancyResolver`: the AfnemerID a caller acts for and its doelbinding.

Tenancy never stores, logs or returns a plain client secret (references and `enc:` values only;
resolved secrets live in `app.secrets.Secret`), and never lets a caller reach another tenant's
configuration: row-level security in the database, the principal's own tenant in memory.
"""

from __future__ import annotations

from app.tenancy.apply import Change, Plan, TenancyApplyError, apply, plan
from app.tenancy.build import build_tenant
from app.tenancy.directory import TenantDirectory
from app.tenancy.files import TenantFileError, TenantFileProblem, load_tenant_files
from app.tenancy.models import (
    Access,
    AccessRule,
    Afnemer,
    AfnemerSpec,
    DirectorySnapshot,
    LdvSettings,
    Limits,
    MemberOrganisation,
    PolicyCache,
    RateLimit,
    RuleSpec,
    Tenant,
    TenantSpec,
    afnemer_secret_context,
    encrypt_client_secret,
)
from app.tenancy.resolve import TenancyResolver, resolve_access

__all__ = [
    "Access",
    "AccessRule",
    "Afnemer",
    "AfnemerSpec",
    "Change",
    "DirectorySnapshot",
    "LdvSettings",
    "Limits",
    "MemberOrganisation",
    "Plan",
    "PolicyCache",
    "RateLimit",
    "RuleSpec",
    "TenancyApplyError",
    "TenancyResolver",
    "Tenant",
    "TenantDirectory",
    "TenantFileError",
    "TenantFileProblem",
    "TenantSpec",
    "afnemer_secret_context",
    "apply",
    "build_tenant",
    "encrypt_client_secret",
    "load_tenant_files",
    "plan",
    "resolve_access",
]
