"""The admin API under `/admin/v1`: operators onboard tenants, tenant admins manage their own
configuration, privacy officers do inzage. A thin HTTP orchestrator over `app.tenancy`,
`app.audit` and `app.protocol`, like `app.gateway`: parse, call the domain service, answer.

`app.admin.auth` holds the actor, its authentication and the guards every controller uses;
`app.admin.controllers` one controller per resource (add new ones to its `CONTROLLERS`);
`app.admin.routes` the `/admin/v1` router and its OpenAPI document.
"""

from __future__ import annotations

from app.admin.auth import (
    ACTOR_DEPENDENCY,
    AdminActor,
    AdminAuthenticator,
    AdminRole,
    RoleNames,
    actor_of,
    actor_of_request,
    operator_of_path,
    operator_only,
    privacy_officer_of_path,
    require_tenant_role,
    tenant_admin_of_path,
)
from app.admin.routes import ADMIN_PATH, admin_openapi, admin_router

__all__ = [
    "ACTOR_DEPENDENCY",
    "ADMIN_PATH",
    "AdminActor",
    "AdminAuthenticator",
    "AdminRole",
    "RoleNames",
    "actor_of",
    "actor_of_request",
    "admin_openapi",
    "admin_router",
    "operator_of_path",
    "operator_only",
    "privacy_officer_of_path",
    "require_tenant_role",
    "tenant_admin_of_path",
]
