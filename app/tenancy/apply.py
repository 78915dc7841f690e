"""`tenants apply`: make the database say what the tenant files say, in one transaction.

This module owns the diff between files and database (`Plan`, one `Change` per object added,
changed or removed) and its application. The semantics, as `kubectl apply --prune`:
- a tenant file is the whole truth about its tenant: objects missing from it (an afnemer, a
  rule, ...) are removed, so taking away a grant in the file takes it away;
- a tenant without a file is left alone unless `prune` is asked for, which removes it with all of
  its configuration (the plan lists such tenants either way);
- a second run with the same files changes nothing and its plan is empty.

Apply runs with the owner's (migration) URL as the owner role, which row-level security binds too:
each tenant is read and written with `app.tenant_id` set to that tenant. Everything happens in one
transaction under an advisory lock (concurrent applies queue), so the plan shown is the plan
applied, and a failure applies nothing. Every written table announces the change
(`NOTIFY brp_tenancy, '<slug>'`, sent by trigger on commit), so every replica reloads that tenant.

Files never reach another tenant (`app.tenancy.ownership`): before writing anything, also in a dry
run, the files are checked against what the tenants that remain after the apply hold (the
operator's registries of AfnemerIDs and issuers, migration 0008): a file claiming another
tenant's AfnemerID, or joining an issuer in a way that would change how another tenant's tokens
are resolved, is refused with every such problem named. The database enforces the same rules on
every write, whoever writes. Pruned tenants are removed before the files are written, so what they
held is free for the files.

Files and the admin API share the tenants: a tenant is managed by file (`managed_by = 'file'`,
migration 0010) or through the admin API ('api'). Apply refuses, before anything is written, a file
for an API-managed tenant unless `take_over` is given, which hands the tenant back to the files
(`managed_by` becomes 'file', a change of its own in the plan). Prune never removes an
API-managed tenant: it has no file by design.

Every change is audited (`app.audit`) in the same transaction, after its write: one entry per
`Change`, actor "tenants apply", role "operator", the tenant's file as source (the directory for
a pruned tenant), the object before and after with secrets fingerprinted, and one correlation id
for the whole run. A dry run writes no entry.

It never logs, prints or returns a secret: the plan names changed attributes, never their values.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import asyncpg
import msgspec

from app.audit import AuditEntry, append_change, audit_document
from app.db.migrations import OWNER_ROLE
from app.tenancy import store
from app.tenancy.models import Limits, TenantSpec
from app.tenancy.ownership import IssuerTrust, afnemer_problems, shared_issuer_problems

__all__ = [
    "APPLY_ACTOR",
    "APPLY_LOCK_KEY",
    "Change",
    "Plan",
    "TenancyApplyError",
    "apply",
    "diff_tenant",
    "plan",
    "write_tenant",
]

# Any fixed 64-bit number; this one reads "brp-tena" in hex-ish.
APPLY_LOCK_KEY: Final = 0x6272_702D_7465_6E61
# Who the audit names for a change made by `tenants apply` (its role: the operator's command).
APPLY_ACTOR: Final = "tenants apply"
_APPLY_ROLE: Final = "operator"
_TAKE_OVER: Final = ("managed_by",)

Action = Literal["add", "change", "remove"]
T = TypeVar("T")

_SYMBOL: Final = {"add": "+", "change": "~", "remove": "-"}
_LIMIT_SCOPES: Final = ("tenant", "afnemer", "employee")
# The tenant's own attributes (the rest of a TenantSpec are objects of their own).
_TENANT_FIELDS: Final = ("name", "kind", "pattern", "status", "admin", "ldv")


class TenancyApplyError(Exception):
    """The files cannot be applied to this database; the message says why (never a secret)."""


class Change(msgspec.Struct, frozen=True):
    """One object added, changed or removed; `fields` names what changed (never the values)."""

    tenant: str
    object: str
    key: str
    action: Action
    fields: tuple[str, ...] = ()

    def render(self) -> str:
        """One line of the plan."""
        label = self.object if self.object == "tenant" else f"{self.object} {self.key}"
        if self.object == "tenant" and self.action == "remove":
            label = "tenant, with all of its configuration"
        detail = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{_SYMBOL[self.action]} {label}{detail}"


class Plan(msgspec.Struct, frozen=True):
    """What an apply does (or, for a dry run, would do)."""

    changes: tuple[Change, ...]
    # Tenants in the database without a file, kept because prune was not asked for.
    kept: tuple[str, ...] = ()
    # Tenants managed through the admin API that have no file: apply and prune leave them alone.
    api_managed: tuple[str, ...] = ()
    prune: bool = False
    dry_run: bool = True
    applied: bool = False

    @property
    def is_empty(self) -> bool:
        """True when the database already says what the files say."""
        return not self.changes

    def render(self) -> str:
        """The plan for a terminal: per tenant its changes, then what was kept or pruned."""
        lines: list[str] = []
        for tenant in _ordered_unique(c.tenant for c in self.changes):
            lines.append(f"tenant {tenant}:")
            lines.extend(f"  {c.render()}" for c in self.changes if c.tenant == tenant)
        lines.extend(f"tenant {slug}: no file; kept (--prune removes it)" for slug in self.kept)
        lines.extend(f"tenant {slug}: managed through the admin API; left alone" for slug in self.api_managed)
        if self.is_empty:
            lines.append("No changes: the database matches the tenant files.")
        elif self.dry_run:
            lines.append(f"Dry run: {len(self.changes)} change(s) not applied.")
        elif self.applied:
            lines.append(f"Applied {len(self.changes)} change(s) in one transaction.")
        return "\n".join(lines)


class _Run(msgspec.Struct, frozen=True):
    """One apply: whether it takes API-managed tenants over, where its files are, its correlation id."""

    take_over: bool
    directory: str | None
    correlation_id: str

    def source(self, slug: str | None = None) -> str | None:
        """The file of tenant `slug` (the directory itself without a slug), for the audit."""
        if self.directory is None or slug is None:
            return self.directory
        return str(Path(self.directory) / f"{slug}.toml")


async def plan(url: str, specs: Sequence[TenantSpec], prune: bool, *, take_over: bool = False) -> Plan:
    """The changes `apply` would make; the database is not changed."""
    return await apply(url, specs, prune, dry_run=True, take_over=take_over)


async def apply(
    url: str,
    specs: Sequence[TenantSpec],
    prune: bool,
    dry_run: bool,
    *,
    take_over: bool = False,
    directory: Path | str | None = None,
) -> Plan:
    """Bring the database at `url` (owner/migration URL) in line with `specs`; the plan it followed.

    `take_over`: also overwrite tenants managed through the admin API, handing them to the files.
    `directory`: where the files were read (`<directory>/<slug>.toml`), named as the audit's source.
    """
    _check_specs(specs, prune)
    run = _Run(take_over, None if directory is None else str(directory), str(uuid.uuid4()))
    connection = await asyncpg.connect(url)
    try:
        # READ COMMITTED: the database's check of shared issuers must see concurrent writers (0008).
        transaction = connection.transaction(isolation="read_committed")
        await transaction.start()
        try:
            result = await _apply_locked(connection, specs, prune, dry_run, run)
        except BaseException:
            await transaction.rollback()
            raise
        if dry_run:
            await transaction.rollback()
        else:
            await transaction.commit()
        return result
    except asyncpg.PostgresError as exc:
        raise TenancyApplyError(f"the database refused the change: {exc.__class__.__name__}: {exc}") from None
    finally:
        await connection.close()


def _check_specs(specs: Sequence[TenantSpec], prune: bool) -> None:
    slugs = [s.slug for s in specs]
    if len(slugs) != len(set(slugs)):
        raise TenancyApplyError("a tenant slug is given twice")
    if prune and not specs:
        # An empty or mistyped directory must not wipe every tenant.
        raise TenancyApplyError("no tenant files: refusing to prune every tenant")


async def _apply_locked(
    connection: asyncpg.Connection, specs: Sequence[TenantSpec], prune: bool, dry_run: bool, run: _Run
) -> Plan:
    await _become_owner(connection)
    await connection.execute("SELECT pg_advisory_xact_lock($1)", APPLY_LOCK_KEY)
    registry = {entry.slug: entry for entry in await store.list_tenants(connection)}
    absent = sorted(set(registry) - {s.slug for s in specs})
    by_api = await _managed_by_api(connection, sorted(registry), lock=not dry_run)
    _refuse_api_managed([s.slug for s in specs if s.slug in by_api], run.take_over)
    pruned = [slug for slug in absent if slug not in by_api] if prune else []
    await _check_ownership(connection, specs, set(registry) - set(pruned))
    if not dry_run:
        # First, so that what a pruned tenant held (an AfnemerID, an issuer) is free for the files.
        for slug in pruned:
            await _prune(connection, registry[slug].id, slug, run)
    changes: list[Change] = []
    for spec in sorted(specs, key=lambda s: s.slug):
        entry = registry.get(spec.slug)
        tenant_id = entry.id if entry else uuid.uuid4()
        await store.scope_to(connection, spec.slug)
        current = await store.read_tenant(connection) if entry else None
        tenant_changes = diff_tenant(current, spec)
        if spec.slug in by_api:  # taken over (refused above otherwise)
            tenant_changes.insert(0, Change(spec.slug, "tenant", spec.slug, "change", _TAKE_OVER))
        if tenant_changes and not dry_run:
            if spec.slug in by_api:
                await store.set_managed_by(connection, tenant_id, "file")
            await write_tenant(connection, tenant_id, current, spec)
            await _audit(connection, tenant_changes, current, spec, run)
        changes.extend(tenant_changes)
    changes.extend(Change(slug, "tenant", slug, "remove") for slug in pruned)
    return Plan(
        changes=tuple(changes),
        kept=() if prune else tuple(slug for slug in absent if slug not in by_api),
        api_managed=tuple(slug for slug in absent if slug in by_api),
        prune=prune,
        dry_run=dry_run,
        applied=not dry_run,
    )


async def _managed_by_api(connection: asyncpg.Connection, slugs: Iterable[str], *, lock: bool) -> set[str]:
    """The tenants among `slugs` managed through the admin API (with `lock`, rows locked until commit,
    so an admin API write to one of them waits for the apply)."""
    managed: set[str] = set()
    for slug in slugs:
        await store.scope_to(connection, slug)
        management = await store.tenant_management(connection, lock=lock)
        if management is not None and management.managed_by == "api":
            managed.add(slug)
    return managed


def _refuse_api_managed(slugs: Sequence[str], take_over: bool) -> None:
    if not slugs or take_over:
        return
    names = ", ".join(repr(slug) for slug in slugs)
    which = f"tenant {names} is" if len(slugs) == 1 else f"tenants {names} are"
    raise TenancyApplyError(
        f"{which} managed through the admin API; `tenants apply` does not overwrite "
        f"{'it' if len(slugs) == 1 else 'them'} (nothing was changed; --take-over hands "
        f"{'it' if len(slugs) == 1 else 'them'} to the files)"
    )


async def _prune(connection: asyncpg.Connection, tenant_id: uuid.UUID, slug: str, run: _Run) -> None:
    await store.scope_to(connection, slug)
    try:
        before: Any = await store.read_tenant(connection)
    except msgspec.ValidationError:
        before = {"slug": slug}  # a configuration that no longer fits the model is removed all the same
    await store.delete_tenant(connection, tenant_id)
    await append_change(connection, _entry(Change(slug, "tenant", slug, "remove"), before, None, run))


# -- the audit ----------------------------------------------------------------------------------


async def _audit(
    connection: asyncpg.Connection,
    changes: Iterable[Change],
    current: TenantSpec | None,
    desired: TenantSpec,
    run: _Run,
) -> None:
    """One audit entry per change, with the object before and after (secrets fingerprinted)."""
    for change in changes:
        if change.object == "tenant" and change.fields == _TAKE_OVER:
            before: Any = {"managed_by": "api"}
            after: Any = {"managed_by": "file"}
        else:
            before, after = _object_of(current, change), _object_of(desired, change)
        await append_change(connection, _entry(change, before, after, run, source=run.source(change.tenant)))


def _entry(change: Change, before: Any, after: Any, run: _Run, *, source: str | None = None) -> AuditEntry:
    return AuditEntry(
        tenant=change.tenant,
        actor=APPLY_ACTOR,
        role=_APPLY_ROLE,
        via="tenants apply",
        source=source if source is not None else run.source(),
        resource=change.object,
        key=change.key,
        action=change.action,
        before=audit_document(before),
        after=audit_document(after),
        correlation_id=run.correlation_id,
    )


def _object_of(spec: TenantSpec | None, change: Change) -> Any:
    """The object a change is about, as `spec` has it (None: not in it)."""
    if spec is None:
        return None
    if change.object == "tenant":
        return {
            "slug": spec.slug,
            **{name: msgspec.to_builtins(getattr(spec, name)) for name in _TENANT_FIELDS},
        }
    if change.object == "limit":
        return getattr(spec.limits, change.key)
    collections: dict[str, tuple[Iterable[Any], Callable[[Any], str]]] = {
        "member": (spec.members, lambda m: m.code),
        "issuer": (spec.issuers, lambda i: i.issuer),
        "afnemer": (spec.afnemers, lambda a: a.afnemer_id),
        "gegevensset": (spec.gegevenssets, lambda g: g.name),
        "rule": (spec.rules, lambda r: r.name),
    }
    items, key = collections[change.object]
    return next((item for item in items if key(item) == change.key), None)


async def _check_ownership(
    connection: asyncpg.Connection, specs: Sequence[TenantSpec], remaining: set[str]
) -> None:
    """Refuse files that would give a tenant what another tenant (in the database or a file) holds.

    `remaining`: the tenants in the database that are still there after the apply.
    """
    holders = {
        afnemer_id: slug
        for afnemer_id, slug in (await store.afnemer_holders(connection)).items()
        if slug in remaining
    }
    stored = [trust for trust in await store.issuer_trusts(connection) if trust.tenant in remaining]
    written = {spec.slug for spec in specs}
    after = [trust for trust in stored if trust.tenant not in written]
    after += [IssuerTrust.of(issuer) for spec in specs for issuer in spec.issuers]
    established = set(stored) & set(after)
    problems = afnemer_problems(specs, holders) + shared_issuer_problems(after, established)
    if problems:
        lines = "\n".join(f"  {problem}" for problem in problems)
        raise TenancyApplyError(
            "the tenant files claim what belongs to another tenant (the operator assigns AfnemerIDs and "
            f"identity providers; nothing was changed):\n{lines}"
        )


async def _become_owner(connection: asyncpg.Connection) -> None:
    member = await connection.fetchval(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) "
        "THEN pg_has_role(current_user, $1, 'MEMBER') ELSE false END",
        OWNER_ROLE,
    )
    if not member:
        raise TenancyApplyError(
            f"`tenants apply` needs the owner's connection (a member of {OWNER_ROLE}, "
            "e.g. BROKER_DATABASE_OWNER_URL), not the runtime role's"
        )
    # As the owner, whom FORCE ROW LEVEL SECURITY binds: every statement names its tenant.
    await connection.execute(f'SET LOCAL ROLE "{OWNER_ROLE}"')


# -- the diff -----------------------------------------------------------------------------------


def diff_tenant(current: TenantSpec | None, desired: TenantSpec) -> list[Change]:
    """Every object that differs between the database's `current` and the file's `desired`."""
    slug = desired.slug
    changes: list[Change] = []
    if current is None:
        changes.append(Change(slug, "tenant", slug, "add"))
        current = TenantSpec(slug=slug, name=desired.name, kind=desired.kind, pattern=desired.pattern)
    else:
        fields = _changed_fields(current, desired, _TENANT_FIELDS)
        if fields:
            changes.append(Change(slug, "tenant", slug, "change", fields))
    changes += _diff(slug, "member", current.members, desired.members, lambda m: m.code)
    changes += _diff(slug, "issuer", current.issuers, desired.issuers, lambda i: i.issuer)
    changes += _diff(slug, "afnemer", current.afnemers, desired.afnemers, lambda a: a.afnemer_id)
    changes += _diff(slug, "gegevensset", current.gegevenssets, desired.gegevenssets, lambda g: g.name)
    changes += _diff(slug, "rule", current.rules, desired.rules, lambda r: r.name)
    changes += _diff_limits(slug, current.limits, desired.limits)
    return changes


def _diff(
    slug: str, kind: str, current: Iterable[T], desired: Iterable[T], key: Callable[[T], str]
) -> list[Change]:
    now = {key(item): item for item in current}
    wanted = {key(item): item for item in desired}
    changes: list[Change] = []
    for name in sorted(now.keys() | wanted.keys()):
        before, after = now.get(name), wanted.get(name)
        if before is None:
            changes.append(Change(slug, kind, name, "add"))
        elif after is None:
            changes.append(Change(slug, kind, name, "remove"))
        elif before != after:
            changes.append(Change(slug, kind, name, "change", _changed_fields(before, after)))
    return changes


def _diff_limits(slug: str, current: Limits, desired: Limits) -> list[Change]:
    changes: list[Change] = []
    for scope in _LIMIT_SCOPES:
        before, after = getattr(current, scope), getattr(desired, scope)
        if before == after:
            continue
        action: Action = "add" if before is None else "remove" if after is None else "change"
        fields = _changed_fields(before, after) if action == "change" else ()
        changes.append(Change(slug, "limit", scope, action, fields))
    return changes


def _changed_fields(before: Any, after: Any, names: Iterable[str] | None = None) -> tuple[str, ...]:
    fields = names or [f.name for f in msgspec.structs.fields(type(after))]
    return tuple(name for name in fields if getattr(before, name) != getattr(after, name))


# -- writing ------------------------------------------------------------------------------------


async def write_tenant(
    connection: store.Connection, tenant_id: uuid.UUID, current: TenantSpec | None, desired: TenantSpec
) -> None:
    """Write what differs between `current` (None: a new tenant) and `desired`, in the caller's
    transaction and tenant scope (also the admin API's write path)."""
    # Order matters for the foreign keys: what others point at is added before and removed after
    # what points at it (members ← afnemers ← rules → gegevenssets).
    if current is None:
        await store.insert_tenant(connection, tenant_id, desired)
        current = TenantSpec(slug=desired.slug, name=desired.name, kind=desired.kind, pattern=desired.pattern)
    elif _changed_fields(current, desired, _TENANT_FIELDS):
        await store.update_tenant(connection, tenant_id, desired)
    for member in _added_or_changed(current.members, desired.members):
        await store.put_member(connection, tenant_id, member)
    for afnemer in _added_or_changed(current.afnemers, desired.afnemers):
        await store.put_afnemer(connection, tenant_id, afnemer)
    for gegevensset in _added_or_changed(current.gegevenssets, desired.gegevenssets):
        await store.put_gegevensset(connection, tenant_id, gegevensset)
    for issuer in _added_or_changed(current.issuers, desired.issuers):
        await store.put_issuer(connection, tenant_id, issuer)
    for name in _removed(current.rules, desired.rules, lambda r: r.name):
        await store.delete_rule(connection, tenant_id, name)
    for rule in _added_or_changed(current.rules, desired.rules):
        await store.put_rule(connection, tenant_id, rule)
    for afnemer_id in _removed(current.afnemers, desired.afnemers, lambda a: a.afnemer_id):
        await store.delete_afnemer(connection, tenant_id, afnemer_id)
    for name in _removed(current.gegevenssets, desired.gegevenssets, lambda g: g.name):
        await store.delete_gegevensset(connection, tenant_id, name)
    for issuer_url in _removed(current.issuers, desired.issuers, lambda i: i.issuer):
        await store.delete_issuer(connection, tenant_id, issuer_url)
    for code in _removed(current.members, desired.members, lambda m: m.code):
        await store.delete_member(connection, tenant_id, code)
    await _write_limits(connection, tenant_id, current.limits, desired.limits)


async def _write_limits(
    connection: store.Connection, tenant_id: uuid.UUID, current: Limits, desired: Limits
) -> None:
    for scope in _LIMIT_SCOPES:
        before, after = getattr(current, scope), getattr(desired, scope)
        if before == after:
            continue
        if after is None:
            await store.delete_limit(connection, tenant_id, scope)
        else:
            await store.put_limit(connection, tenant_id, scope, after)


def _added_or_changed(current: Iterable[T], desired: Iterable[T]) -> list[T]:
    # Structs compare by value: whatever is not already there, exactly, is written.
    existing = list(current)
    return [item for item in desired if item not in existing]


def _removed(current: Iterable[T], desired: Iterable[T], key: Callable[[T], str]) -> list[str]:
    wanted = {key(item) for item in desired}
    return [key(item) for item in current if key(item) not in wanted]


def _ordered_unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
