"""Tenancy in PostgreSQL: the SQL that reads and writes one tenant's configuration.

This module owns the mapping between `TenantSpec` and the tables of migration 0005 (and the
tenant row's columns of later ones: the admin roles of 0010, the `[ldv]` object of 0016). Every
function takes a connection whose transaction already names the tenant (`app.tenant_id`, see
`app.db.tenant_scope` and `scope_to`), so row-level security decides what it can see; only the
registries (operator data) are read without a tenant: the tenant registry (ids, slugs, status)
by anyone, the AfnemerID and issuer registries of migration 0008 by the owner role alone.

A tenant is read in ONE statement, so its configuration is consistent even while an apply commits
between two reads. This module never decrypts or resolves a secret, and never logs.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from app.identity import IssuerConfig
from app.policy import Gegevensset
from app.tenancy.models import AfnemerSpec, MemberOrganisation, RateLimit, RuleSpec, TenantSpec
from app.tenancy.ownership import IssuerTrust

__all__ = [
    "NOTIFY_CHANNEL",
    "Connection",
    "RegistryEntry",
    "TenantManagement",
    "afnemer_holders",
    "delete_afnemer",
    "delete_ceiling",
    "delete_gegevensset",
    "delete_issuer",
    "delete_limit",
    "delete_member",
    "delete_rule",
    "delete_tenant",
    "find_tenant",
    "insert_tenant",
    "issuer_trusts",
    "list_tenants",
    "put_afnemer",
    "put_ceiling",
    "put_gegevensset",
    "put_issuer",
    "put_limit",
    "put_member",
    "put_rule",
    "read_ceilings",
    "read_tenant",
    "scope_to",
    "set_managed_by",
    "tenant_management",
    "update_tenant",
]

# The channel every change to a tenancy table is announced on (payload: the slug, or '*').
NOTIFY_CHANNEL: Final = "brp_tenancy"

Connection = asyncpg.Connection | PoolConnectionProxy


class TenantManagement(msgspec.Struct, frozen=True):
    """A tenant's id and who manages it: 'file' (tenants apply) or 'api' (the admin API)."""

    id: uuid.UUID
    managed_by: str


class RegistryEntry(msgspec.Struct, frozen=True):
    """A tenant as the registry knows it: enough to load it in its own scope."""

    id: uuid.UUID
    slug: str
    status: str


# -- registry and scope -------------------------------------------------------------------------


async def list_tenants(connection: Connection) -> list[RegistryEntry]:
    """Every tenant in the registry, by slug."""
    rows = await connection.fetch("SELECT id, slug, status FROM broker.tenant_registry ORDER BY slug")
    return [RegistryEntry(row["id"], row["slug"], row["status"]) for row in rows]


async def find_tenant(connection: Connection, slug: str) -> RegistryEntry | None:
    """The registry entry of `slug`, if the tenant exists."""
    row = await connection.fetchrow(
        "SELECT id, slug, status FROM broker.tenant_registry WHERE slug = $1", slug
    )
    return None if row is None else RegistryEntry(row["id"], row["slug"], row["status"])


async def afnemer_holders(connection: Connection) -> dict[str, str]:
    """Every AfnemerID of the broker with the slug of the tenant that holds it (owner role only)."""
    rows = await connection.fetch(
        "SELECT a.afnemer_id, r.slug FROM broker.afnemer_registry a "
        "JOIN broker.tenant_registry r ON r.id = a.tenant_id"
    )
    return {row["afnemer_id"]: row["slug"] for row in rows}


async def issuer_trusts(connection: Connection) -> list[IssuerTrust]:
    """Every tenant's trust of every issuer, with its tenant claim (owner role only)."""
    rows = await connection.fetch(
        "SELECT r.slug, i.issuer, i.tenant_claim, i.tenant_claim_value FROM broker.issuer_registry i "
        "JOIN broker.tenant_registry r ON r.id = i.tenant_id ORDER BY i.issuer, r.slug"
    )
    return [
        IssuerTrust(row["slug"], row["issuer"], row["tenant_claim"], row["tenant_claim_value"])
        for row in rows
    ]


async def scope_to(connection: Connection, slug: str) -> None:
    """Name the tenant (by slug) this transaction works for (transaction-local, like `tenant_scope`)."""
    await connection.execute("SELECT set_config('app.tenant_id', $1, true)", slug)


# -- reading --------------------------------------------------------------------------------------

# One statement: a consistent view of the tenant even while another transaction commits. The
# JSON has TenantSpec's shape; collections are ordered by key as TenantSpec requires.
_READ_TENANT = """
SELECT json_build_object(
    'slug', t.slug, 'name', t.name, 'kind', t.kind, 'pattern', t.pattern, 'status', t.status,
    'admin', json_build_object(
        'admin_roles', to_json(t.admin_roles), 'privacy_officer_roles', to_json(t.privacy_officer_roles)
    ),
    'ldv', t.ldv,
    'members', coalesce((
        SELECT json_agg(json_build_object(
            'code', m.code, 'name', m.name, 'gemeente_code', m.gemeente_code, 'oin', m.oin
        ) ORDER BY m.code)
        FROM broker.member_organisations m), '[]'),
    'issuers', coalesce((
        SELECT json_agg(
            i.config || jsonb_build_object('tenant', t.slug, 'issuer', i.issuer) ORDER BY i.issuer
        )
        FROM broker.identity_providers i), '[]'),
    'afnemers', coalesce((
        SELECT json_agg(json_build_object(
            'afnemer_id', a.afnemer_id, 'name', a.name, 'environment', a.environment,
            'identity', a.identity, 'client_id', a.client_id, 'client_secret', a.client_secret,
            'gemeente_code', a.gemeente_code, 'member', a.member_organisation
        ) ORDER BY a.afnemer_id)
        FROM broker.afnemers a), '[]'),
    'gegevenssets', coalesce((
        SELECT json_agg(g.definition || jsonb_build_object('name', g.name) ORDER BY g.name)
        FROM broker.gegevenssets g), '[]'),
    'rules', coalesce((
        SELECT json_agg(json_build_object(
            'name', r.name,
            'description', r.description,
            'who', (SELECT coalesce(json_agg(s ORDER BY s), '[]') FROM unnest(r.subjects) s),
            'required_headers',
                (SELECT coalesce(json_agg(h ORDER BY h), '[]') FROM unnest(r.required_headers) h),
            'afnemers', (SELECT coalesce(json_agg(ra.afnemer_id ORDER BY ra.afnemer_id), '[]')
                         FROM broker.access_rule_afnemers ra WHERE ra.rule = r.name),
            'gegevenssets', (SELECT coalesce(json_agg(rg.gegevensset ORDER BY rg.gegevensset), '[]')
                             FROM broker.access_rule_gegevenssets rg WHERE rg.rule = r.name)
        ) ORDER BY r.name)
        FROM broker.access_rules r), '[]'),
    'limits', coalesce((
        SELECT json_object_agg(l.scope, json_build_object('rate', l.rate, 'burst', l.burst))
        FROM broker.rate_limits l), '{}')
)::text
FROM broker.tenants t
"""


async def read_tenant(connection: Connection) -> TenantSpec | None:
    """The configuration of the transaction's tenant, or None when it has no tenant row.

    Raises `msgspec.ValidationError` when a stored object no longer fits its model.
    """
    text = await connection.fetchval(_READ_TENANT)
    if text is None:
        return None
    return msgspec.json.decode(text, type=TenantSpec)


# -- writing: the tenant itself ------------------------------------------------------------------


async def insert_tenant(
    connection: Connection, tenant_id: uuid.UUID, spec: TenantSpec, *, managed_by: str = "file"
) -> None:
    """Create the tenant row (the registry follows by trigger); `managed_by` is 'file' or 'api'."""
    await connection.execute(
        "INSERT INTO broker.tenants (id, slug, name, kind, pattern, status, admin_roles, "
        "privacy_officer_roles, managed_by, ldv) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)",
        tenant_id,
        spec.slug,
        spec.name,
        spec.kind,
        spec.pattern,
        spec.status,
        list(spec.admin.admin_roles),
        list(spec.admin.privacy_officer_roles),
        managed_by,
        _json_without(spec.ldv),
    )


async def update_tenant(connection: Connection, tenant_id: uuid.UUID, spec: TenantSpec) -> None:
    """Change the tenant row's own attributes."""
    await connection.execute(
        "UPDATE broker.tenants SET name = $2, kind = $3, pattern = $4, status = $5, admin_roles = $6, "
        "privacy_officer_roles = $7, ldv = $8::jsonb, updated_at = now() WHERE id = $1",
        tenant_id,
        spec.name,
        spec.kind,
        spec.pattern,
        spec.status,
        list(spec.admin.admin_roles),
        list(spec.admin.privacy_officer_roles),
        _json_without(spec.ldv),
    )


async def tenant_management(connection: Connection, *, lock: bool = True) -> TenantManagement | None:
    """How the transaction's tenant is managed; None when it has no tenant row. With `lock`, its
    row stays locked until the transaction ends, so concurrent admin writes to one tenant queue."""
    statement = "SELECT id, managed_by FROM broker.tenants"
    row = await connection.fetchrow(statement + (" FOR UPDATE" if lock else ""))
    return None if row is None else TenantManagement(row["id"], row["managed_by"])


async def set_managed_by(connection: Connection, tenant_id: uuid.UUID, managed_by: str) -> None:
    """Hand the tenant to the files ('file') or to the admin API ('api')."""
    await connection.execute(
        "UPDATE broker.tenants SET managed_by = $2, updated_at = now() WHERE id = $1", tenant_id, managed_by
    )


async def read_ceilings(connection: Connection) -> dict[str, RateLimit]:
    """The operator's limit ceilings of the transaction's tenant, by scope."""
    rows = await connection.fetch("SELECT scope, rate, burst FROM broker.limit_ceilings ORDER BY scope")
    return {row["scope"]: RateLimit(rate=row["rate"], burst=row["burst"]) for row in rows}


async def put_ceiling(connection: Connection, tenant_id: uuid.UUID, scope: str, limit: RateLimit) -> None:
    """Set the operator's ceiling of one limit scope."""
    await connection.execute(
        "INSERT INTO broker.limit_ceilings (tenant_id, scope, rate, burst) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (tenant_id, scope) DO UPDATE SET rate = EXCLUDED.rate, burst = EXCLUDED.burst",
        tenant_id,
        scope,
        limit.rate,
        limit.burst,
    )


async def delete_ceiling(connection: Connection, tenant_id: uuid.UUID, scope: str) -> None:
    """No ceiling for one limit scope."""
    await connection.execute(
        "DELETE FROM broker.limit_ceilings WHERE tenant_id = $1 AND scope = $2", tenant_id, scope
    )


async def delete_tenant(connection: Connection, tenant_id: uuid.UUID) -> None:
    """Remove the tenant and all of its configuration."""
    # Rules (and their links) first: a link keeps its afnemer from being deleted on its own,
    # and cascades from the tenant row do not order themselves around that.
    await connection.execute("DELETE FROM broker.access_rules WHERE tenant_id = $1", tenant_id)
    await connection.execute("DELETE FROM broker.tenants WHERE id = $1", tenant_id)


# -- writing: the objects of a tenant ------------------------------------------------------------


async def put_member(connection: Connection, tenant_id: uuid.UUID, member: MemberOrganisation) -> None:
    """Add or change a member organisation."""
    await connection.execute(
        "INSERT INTO broker.member_organisations (tenant_id, code, name, gemeente_code, oin) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, code) DO UPDATE "
        "SET name = EXCLUDED.name, gemeente_code = EXCLUDED.gemeente_code, oin = EXCLUDED.oin",
        tenant_id,
        member.code,
        member.name,
        member.gemeente_code,
        member.oin,
    )


async def delete_member(connection: Connection, tenant_id: uuid.UUID, code: str) -> None:
    """Remove a member organisation (no afnemer may still belong to it)."""
    await connection.execute(
        "DELETE FROM broker.member_organisations WHERE tenant_id = $1 AND code = $2", tenant_id, code
    )


async def put_issuer(connection: Connection, tenant_id: uuid.UUID, issuer: IssuerConfig) -> None:
    """Add or change an identity provider."""
    await connection.execute(
        "INSERT INTO broker.identity_providers (tenant_id, issuer, config) VALUES ($1, $2, $3::jsonb) "
        "ON CONFLICT (tenant_id, issuer) DO UPDATE SET config = EXCLUDED.config",
        tenant_id,
        issuer.issuer,
        _json_without(issuer, "tenant", "issuer"),
    )


async def delete_issuer(connection: Connection, tenant_id: uuid.UUID, issuer: str) -> None:
    """Remove an identity provider."""
    await connection.execute(
        "DELETE FROM broker.identity_providers WHERE tenant_id = $1 AND issuer = $2", tenant_id, issuer
    )


async def put_afnemer(connection: Connection, tenant_id: uuid.UUID, afnemer: AfnemerSpec) -> None:
    """Add or change an afnemer (its secret as the reference or `enc:` value it was given)."""
    await connection.execute(
        "INSERT INTO broker.afnemers (tenant_id, afnemer_id, name, environment, identity, client_id, "
        "client_secret, gemeente_code, member_organisation) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (tenant_id, afnemer_id) DO UPDATE SET name = EXCLUDED.name, "
        "environment = EXCLUDED.environment, identity = EXCLUDED.identity, client_id = EXCLUDED.client_id, "
        "client_secret = EXCLUDED.client_secret, gemeente_code = EXCLUDED.gemeente_code, "
        "member_organisation = EXCLUDED.member_organisation",
        tenant_id,
        afnemer.afnemer_id,
        afnemer.name,
        afnemer.environment,
        afnemer.identity,
        afnemer.client_id,
        afnemer.client_secret,
        afnemer.gemeente_code,
        afnemer.member,
    )


async def delete_afnemer(connection: Connection, tenant_id: uuid.UUID, afnemer_id: str) -> None:
    """Remove an afnemer (no rule may still name it)."""
    await connection.execute(
        "DELETE FROM broker.afnemers WHERE tenant_id = $1 AND afnemer_id = $2", tenant_id, afnemer_id
    )


async def put_gegevensset(connection: Connection, tenant_id: uuid.UUID, gegevensset: Gegevensset) -> None:
    """Add or change a gegevensset."""
    await connection.execute(
        "INSERT INTO broker.gegevenssets (tenant_id, name, definition) VALUES ($1, $2, $3::jsonb) "
        "ON CONFLICT (tenant_id, name) DO UPDATE SET definition = EXCLUDED.definition",
        tenant_id,
        gegevensset.name,
        _json_without(gegevensset, "name"),
    )


async def delete_gegevensset(connection: Connection, tenant_id: uuid.UUID, name: str) -> None:
    """Remove a gegevensset (no rule may still name it)."""
    await connection.execute(
        "DELETE FROM broker.gegevenssets WHERE tenant_id = $1 AND name = $2", tenant_id, name
    )


async def put_rule(connection: Connection, tenant_id: uuid.UUID, rule: RuleSpec) -> None:
    """Add or change an access rule with its afnemers and gegevenssets."""
    await connection.execute(
        "INSERT INTO broker.access_rules (tenant_id, name, description, subjects, required_headers) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, name) DO UPDATE SET "
        "description = EXCLUDED.description, subjects = EXCLUDED.subjects, "
        "required_headers = EXCLUDED.required_headers",
        tenant_id,
        rule.name,
        rule.description,
        list(rule.who),
        list(rule.required_headers),
    )
    await _replace_links(connection, tenant_id, rule)


async def delete_rule(connection: Connection, tenant_id: uuid.UUID, name: str) -> None:
    """Remove an access rule (its links go with it)."""
    await connection.execute(
        "DELETE FROM broker.access_rules WHERE tenant_id = $1 AND name = $2", tenant_id, name
    )


async def put_limit(connection: Connection, tenant_id: uuid.UUID, scope: str, limit: RateLimit) -> None:
    """Set the rate limit of one scope (tenant, afnemer, employee)."""
    await connection.execute(
        "INSERT INTO broker.rate_limits (tenant_id, scope, rate, burst) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (tenant_id, scope) DO UPDATE SET rate = EXCLUDED.rate, burst = EXCLUDED.burst",
        tenant_id,
        scope,
        limit.rate,
        limit.burst,
    )


async def delete_limit(connection: Connection, tenant_id: uuid.UUID, scope: str) -> None:
    """Back to the broker's default for one scope."""
    await connection.execute(
        "DELETE FROM broker.rate_limits WHERE tenant_id = $1 AND scope = $2", tenant_id, scope
    )


async def _replace_links(connection: Connection, tenant_id: uuid.UUID, rule: RuleSpec) -> None:
    # Static SQL per link table: the names are never built from input.
    for statement in (
        "DELETE FROM broker.access_rule_afnemers WHERE tenant_id = $1 AND rule = $2",
        "DELETE FROM broker.access_rule_gegevenssets WHERE tenant_id = $1 AND rule = $2",
    ):
        await connection.execute(statement, tenant_id, rule.name)
    await connection.execute(
        "INSERT INTO broker.access_rule_afnemers (tenant_id, rule, afnemer_id) "
        "SELECT $1, $2, unnest($3::text[])",
        tenant_id,
        rule.name,
        list(rule.afnemers),
    )
    await connection.execute(
        "INSERT INTO broker.access_rule_gegevenssets (tenant_id, rule, gegevensset) "
        "SELECT $1, $2, unnest($3::text[])",
        tenant_id,
        rule.name,
        list(rule.gegevenssets),
    )


def _json_without(value: msgspec.Struct, *names: str) -> str:
    data: dict[str, Any] = msgspec.to_builtins(value)
    for name in names:
        data.pop(name, None)
    return msgspec.json.encode(data).decode()
