"""From a stored `TenantSpec` to the runtime `Tenant` the hot path reads.

This module owns what happens to a tenant's configuration between the database and the cache:
each afnemer's OIN is looked up from the broker's identities, its client secret resolved (`env:`,
`file:`) or decrypted (`enc:`, bound to tenant and AfnemerID) into a `Secret`, each rule's subjects
parsed and gegevenssets attached. An afnemer that cannot be used (unknown identity, unreadable
secret) stays in the tenant without an account, with the reason, so a caller gets a clear 503
instead of the whole tenant disappearing.

It does no I/O beyond reading a referenced secret file, and never puts a secret in a reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from types import MappingProxyType

from app.policy import Gegevensset
from app.secrets import SecretKey, SecretReferenceError, resolve_secret
from app.tenancy.models import (
    AccessRule,
    Afnemer,
    AfnemerSpec,
    RuleSpec,
    Subject,
    Tenant,
    TenantSpec,
    afnemer_secret_context,
)
from app.upstream import AfnemerAccount

__all__ = ["build_tenant"]


def build_tenant(
    tenant_id: uuid.UUID,
    spec: TenantSpec,
    identities: Mapping[str, str],
    secret_key: SecretKey | None,
) -> Tenant:
    """The runtime tenant of `spec`; `identities` maps OIN identity names to their OIN."""
    gegevenssets = {g.name: g for g in spec.gegevenssets}
    afnemers = {a.afnemer_id: _afnemer(spec.slug, a, identities, secret_key) for a in spec.afnemers}
    return Tenant(
        id=tenant_id,
        slug=spec.slug,
        name=spec.name,
        kind=spec.kind,
        pattern=spec.pattern,
        status=spec.status,
        members=MappingProxyType({m.code: m for m in spec.members}),
        issuers=spec.issuers,
        afnemers=MappingProxyType(afnemers),
        gegevenssets=MappingProxyType(gegevenssets),
        rules=tuple(_rule(rule, gegevenssets) for rule in spec.rules),
        limits=spec.limits,
        spec=spec,
    )


def _afnemer(
    slug: str, spec: AfnemerSpec, identities: Mapping[str, str], secret_key: SecretKey | None
) -> Afnemer:
    account: AfnemerAccount | None = None
    problem: str | None = None
    oin = identities.get(spec.identity)
    if oin is None:
        problem = f"OIN identity {spec.identity!r} is not configured in this broker"
    else:
        try:
            secret = resolve_secret(
                spec.client_secret,
                key=secret_key,
                associated_data=afnemer_secret_context(slug, spec.afnemer_id),
            )
        except SecretReferenceError as exc:
            problem = f"client secret: {exc}"
        else:
            account = AfnemerAccount(
                tenant=slug,
                afnemer_id=spec.afnemer_id,
                environment=spec.environment,
                identity=spec.identity,
                oin=oin,
                client_id=spec.client_id,
                client_secret=secret,
                gemeente_code=spec.gemeente_code,
            )
    return Afnemer(
        afnemer_id=spec.afnemer_id,
        name=spec.name,
        environment=spec.environment,
        gemeente_code=spec.gemeente_code,
        member_organisation=spec.member,
        account=account,
        problem=problem,
    )


def _rule(spec: RuleSpec, gegevenssets: Mapping[str, Gegevensset]) -> AccessRule:
    # The database's foreign keys guarantee every named gegevensset exists; skipping is belt and braces.
    sets = tuple(gegevenssets[name] for name in spec.gegevenssets if name in gegevenssets)
    return AccessRule(
        name=spec.name,
        subjects=tuple(Subject.parse(text) for text in spec.who),
        afnemers=frozenset(spec.afnemers),
        gegevenssets=sets,
        required_headers=spec.required_headers,
    )
