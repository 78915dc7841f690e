"""`TenancyService`: the tenant configuration operations of the admin API, one transaction each.

This module owns reading a tenant's configuration for the API and changing it. A change is made
to the tenant's whole configuration, in the shape of its tenant file (`tenant_document`), and
validated by exactly the function that validates a tenant file (`parse_tenant`): the same input
gets the same problems, with the same key paths (`rules.<name>.gegevenssets`), as `tenants apply`.
It is then written by `tenants apply`'s own machinery (`diff_tenant` + `write_tenant`), with one
audit entry per changed object (`app.audit.append_change`), all in one transaction; the tables'
triggers announce the change (NOTIFY) so every replica's directory reloads the tenant.

Rules of a change, in the order they are checked:
1. the tenant exists (404) and is managed by the API, not by a file (409 `tenantManagedByFile`);
2. optimistic concurrency: each resource has a strong ETag (SHA-256 of the canonical msgspec JSON
   of the resource as the API returns it). Changing or removing an existing resource needs
   `If-Match` (428 `preconditionRequired` without it); a stale one is 412 `preconditionFailed`;
3. the whole tenant validates (400 `paramsValidation`, each problem's key path as `name`), and
   limits a tenant admin sets stay under the operator's ceilings (400 naming the field);
4. the database agrees (ownership of AfnemerIDs and issuers, migration 0008: 409 `conflict`).
A dry run does all of that, writes, checks deferred constraints and rolls back: the plan it
returns is what the change would do; nothing is kept, no audit entry, no notification.

Tenant-level work runs on the runtime pool (no BYPASSRLS) inside the tenant's scope. Removing a
tenant needs the owner's connection (the runtime role may not delete tenants): that one operation
connects with `owner_url`.

Secrets: a client secret arrives as a plain value (encrypted at once with the key-encryption key,
bound to tenant and AfnemerID) or as a reference, and leaves only as a fingerprint. Nothing here
logs.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
import msgspec

from app.audit import Action, AuditEntry, append_change, audit_document, fingerprint_secret
from app.brp.problems import InvalidParam, Problem, ProblemError, bad_request, not_found, type_for_status
from app.db.migrations import OWNER_ROLE
from app.secrets import SecretKey, SecretReferenceError, validate_reference
from app.tenancy import store
from app.tenancy.apply import Change, diff_tenant, write_tenant
from app.tenancy.files import parse_tenant, tenant_document
from app.tenancy.models import RateLimit, TenantSpec, encrypt_client_secret

__all__ = [
    "LIMIT_SCOPES",
    "Actor",
    "ChangeRequest",
    "Document",
    "Edit",
    "TenancyService",
    "TenantState",
    "etag_of",
    "secret_fingerprint",
]

LIMIT_SCOPES: Final = ("tenant", "afnemer", "employee")

Document = dict[str, Any]
# Changes a tenant's file document in place (the API's request turned into the file's terms).
Edit = Callable[[Document], None]

_BAD_REQUEST_CODE: Final = "paramsValidation"


class Actor(msgspec.Struct, frozen=True):
    """Who makes a change, as the audit records it."""

    label: str
    role: str
    # A tenant admin's limits must stay under the operator's ceilings; the operator's need not.
    bound_by_ceilings: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeRequest:
    """One write of the API: who, to which tenant, about which resource, under which conditions.

    `view` gives the resource the request is about as the API returns it (None when absent); its
    ETag is compared with `if_match`.
    """

    actor: Actor
    slug: str
    view: Callable[[TenantState], Any]
    if_match: str | None = None
    dry_run: bool = False
    correlation_id: str | None = None


class TenantState(msgspec.Struct, frozen=True):
    """A tenant's configuration and what the API knows about it besides."""

    spec: TenantSpec
    managed_by: str
    ceilings: Mapping[str, RateLimit]


def etag_of(view: msgspec.Struct | list[Any] | tuple[Any, ...] | None) -> str | None:
    """The strong ETag of a resource as returned (None for a resource that does not exist)."""
    if view is None:
        return None
    digest = hashlib.sha256(msgspec.json.encode(view, order="sorted")).hexdigest()
    return f'"{digest[:32]}"'


def secret_fingerprint(stored: str) -> str:
    """What the API shows of a client secret: the audit's fingerprint of its stored form."""
    return fingerprint_secret(stored)


class _DryRun(Exception):
    """Unwinds a dry run's transaction; carries the plan."""

    def __init__(self, changes: list[Change]) -> None:
        super().__init__("dry run")
        self.changes = changes


class TenancyService:
    """The admin API's access to tenant configuration; one per app."""

    __slots__ = ("_committed", "_owner_url", "_pool", "_secret_key")

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        owner_url: str | None,
        secret_key: SecretKey | None,
        committed: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        """`committed(slug)` runs after each committed change, before it is answered: the app
        reloads that tenant in this replica's directory, so a client reads its own writes (other
        replicas follow the NOTIFY within moments)."""
        self._pool = pool
        self._owner_url = owner_url
        self._secret_key = secret_key
        self._committed = committed

    @asynccontextmanager
    async def _writing(self, connection: store.Connection, request: ChangeRequest) -> AsyncIterator[None]:
        """One read-committed transaction: rolled back on error and for a dry run, else committed
        (deferred constraints are checked then), and then `committed` for the tenant."""
        transaction = connection.transaction(isolation="read_committed")
        await transaction.start()
        try:
            yield
        except BaseException:
            await transaction.rollback()
            raise
        if request.dry_run:
            await transaction.rollback()
            return
        await transaction.commit()
        if self._committed is not None:
            await self._committed(request.slug)

    # -- reading -----------------------------------------------------------------------------------

    async def slugs(self) -> list[str]:
        """Every tenant's slug (the registry, readable without a tenant scope)."""
        async with self._pool.acquire() as connection:
            return [entry.slug for entry in await store.list_tenants(connection)]

    async def read(self, slug: str) -> TenantState:
        """The tenant's configuration, or `ProblemError` 404."""
        async with self._pool.acquire() as connection, connection.transaction(readonly=True):
            await store.scope_to(connection, slug)
            state = await _read_state(connection, lock=False)
        if state is None:
            raise not_found()
        return state[1]

    # -- changing ------------------------------------------------------------------------------------

    async def change(self, request: ChangeRequest, edit: Edit) -> tuple[TenantState, list[Change]]:
        """Apply `edit` to the tenant's document under the rules of this module.

        Returns the state after the change and the changes made (for a dry run: the changes it
        would make, and the state it would leave).
        """
        try:
            async with self._pool.acquire() as connection, self._writing(connection, request):
                result = await self._change_in(connection, request, edit)
            return result
        except asyncpg.PostgresError as error:
            problem = _database_problem(error)
            if problem is None:
                raise
            raise problem from None

    async def _change_in(
        self, connection: store.Connection, request: ChangeRequest, edit: Edit
    ) -> tuple[TenantState, list[Change]]:
        tenant_id, state = await _locked_for_change(connection, request)
        document = tenant_document(state.spec)
        edit(document)
        desired = self.validate(document, request.slug)
        if request.actor.bound_by_ceilings:
            _check_ceilings(desired, state.ceilings)
        changes = diff_tenant(state.spec, desired)
        after = msgspec.structs.replace(state, spec=desired)
        if changes:
            await write_tenant(connection, tenant_id, state.spec, desired)
            if request.dry_run:
                await connection.execute("SET CONSTRAINTS ALL IMMEDIATE")
            else:
                await _audit(connection, request, state.spec, desired, changes)
        return after, changes

    async def set_ceilings(
        self, request: ChangeRequest, ceilings: Mapping[str, RateLimit | None]
    ) -> TenantState:
        """Set (or, with None, remove) the operator's ceilings of a tenant's limits.

        Ceilings are operator data about an API-managed tenant; a file-managed tenant's admins
        change nothing through the API, so it needs none.
        """
        async with self._pool.acquire() as connection, self._writing(connection, request):
            tenant_id, state = await _locked_for_change(connection, request)
            wanted = dict(state.ceilings)
            for scope, ceiling in ceilings.items():
                if ceiling is None:
                    wanted.pop(scope, None)
                else:
                    wanted[scope] = ceiling
            changes = [
                Change(
                    request.slug,
                    "limit_ceiling",
                    scope,
                    _action(state.ceilings.get(scope), wanted.get(scope)),
                )
                for scope in LIMIT_SCOPES
                if state.ceilings.get(scope) != wanted.get(scope)
            ]
            for change in changes:
                after = wanted.get(change.key)
                if after is None:
                    await store.delete_ceiling(connection, tenant_id, change.key)
                else:
                    await store.put_ceiling(connection, tenant_id, change.key, after)
                if not request.dry_run:
                    await append_change(
                        connection,
                        _entry(request, change, state.ceilings.get(change.key), after),
                    )
        return msgspec.structs.replace(state, ceilings=wanted)

    async def create(self, request: ChangeRequest, document: Document) -> tuple[TenantState, list[Change]]:
        """Create a tenant managed by the API from its whole document (the tenant file's shape).

        Client secrets in the document may be plain values (encrypted here) or references.
        `request.slug` must be the document's slug.
        """
        document = self._with_stored_secrets(document, request.slug)
        spec = self.validate(document, request.slug)
        try:
            async with self._pool.acquire() as connection, self._writing(connection, request):
                changes = await self._create_in(connection, request, spec)
        except asyncpg.PostgresError as error:
            problem = _database_problem(error)
            if problem is None:
                raise
            raise problem from None
        return TenantState(spec=spec, managed_by="api", ceilings={}), changes

    async def _create_in(
        self, connection: store.Connection, request: ChangeRequest, spec: TenantSpec
    ) -> list[Change]:
        if await store.find_tenant(connection, spec.slug) is not None:
            raise _problem(
                409, "De tenant bestaat al.", "tenantExists", f"Tenant {spec.slug!r} already exists."
            )
        await store.scope_to(connection, spec.slug)
        tenant_id = uuid.uuid4()
        bare = TenantSpec(
            slug=spec.slug,
            name=spec.name,
            kind=spec.kind,
            pattern=spec.pattern,
            status=spec.status,
            admin=spec.admin,
        )
        await store.insert_tenant(connection, tenant_id, bare, managed_by="api")
        await write_tenant(connection, tenant_id, bare, spec)
        changes = diff_tenant(None, spec)
        if request.dry_run:
            await connection.execute("SET CONSTRAINTS ALL IMMEDIATE")
        else:
            await _audit(connection, request, None, spec, changes)
        return changes

    async def delete(self, request: ChangeRequest) -> list[Change]:
        """Remove an API-managed tenant with all of its configuration (the owner's connection)."""
        if self._owner_url is None:
            raise _problem(
                503,
                "Bronservice is tijdelijk niet beschikbaar.",
                "ownerConnectionMissing",
                "Removing a tenant needs the owner's database connection (BROKER_DATABASE_OWNER_URL).",
            )
        connection = await asyncpg.connect(self._owner_url)
        try:
            async with self._writing(connection, request):
                changes = await self._delete_in(connection, request)
            return changes
        finally:
            await connection.close()

    async def _delete_in(self, connection: asyncpg.Connection, request: ChangeRequest) -> list[Change]:
        # As the owner, whom FORCE ROW LEVEL SECURITY binds too: only this tenant's rows.
        await connection.execute(f'SET LOCAL ROLE "{OWNER_ROLE}"')
        tenant_id, state = await _locked_for_change(connection, request)
        changes = [Change(request.slug, "tenant", request.slug, "remove")]
        await store.delete_tenant(connection, tenant_id)
        if not request.dry_run:
            await _audit(connection, request, state.spec, None, changes)
        return changes

    # -- validation and secrets ----------------------------------------------------------------------

    def validate(self, document: Document, slug: str | None) -> TenantSpec:
        """The spec of a tenant document, validated as a tenant file is; 400 naming every problem."""
        spec, problems = parse_tenant(
            document,
            f"tenant {slug or document.get('slug')}",
            expected_slug=slug,
            secret_key=self._secret_key,
        )
        if problems or spec is None:
            raise bad_request(
                InvalidParam(code="invalid", name=p.key or "tenant", reason=p.message) for p in problems
            )
        return spec

    def stored_secret(
        self, slug: str, afnemer_id: str, *, value: str | None, reference: str | None, field: str
    ) -> str:
        """A client secret as stored: a plain `value` encrypted for its tenant and AfnemerID, or a
        checked `reference` (`env:`, `file:`). Exactly one must be given; 400 naming `field` otherwise."""
        if (value is None) == (reference is None):
            raise _invalid(field, "give exactly one of client_secret and client_secret_reference")
        if reference is not None:
            try:
                validate_reference(reference)
            except SecretReferenceError as error:
                raise _invalid(f"{field}_reference", str(error)) from None
            return reference
        if not value or not value.strip():
            raise _invalid(field, "must not be empty")
        if self._secret_key is None:
            raise _invalid(
                field,
                "this broker has no key-encryption key (BROKER_SECRET_KEY); "
                "give client_secret_reference instead",
            )
        return encrypt_client_secret(self._secret_key, slug, afnemer_id, value)

    def _with_stored_secrets(self, document: Document, slug: str) -> Document:
        afnemers = document.get("afnemers")
        if not isinstance(afnemers, Mapping):
            return document
        stored: dict[str, Any] = {}
        for afnemer_id, given in afnemers.items():
            entry = given
            if isinstance(entry, Mapping) and (
                "client_secret" in entry or "client_secret_reference" in entry
            ):
                entry = dict(entry)
                value, reference = (
                    entry.pop("client_secret", None),
                    entry.pop("client_secret_reference", None),
                )
                field = f"afnemers.{afnemer_id}.client_secret"
                if not (value is None or isinstance(value, str)) or not (
                    reference is None or isinstance(reference, str)
                ):
                    raise _invalid(field, "must be text")
                entry["client_secret"] = self.stored_secret(
                    slug, str(afnemer_id), value=value, reference=reference, field=field
                )
            stored[afnemer_id] = entry
        return {**document, "afnemers": stored}


# -- helpers -----------------------------------------------------------------------------------------


async def _read_state(connection: store.Connection, *, lock: bool) -> tuple[uuid.UUID, TenantState] | None:
    # The row lock first: what is read after it is what the change is made to.
    management = await store.tenant_management(connection, lock=lock)
    if management is None:
        return None
    spec = await store.read_tenant(connection)
    if spec is None:  # pragma: no cover - the row was just read
        return None
    ceilings = await store.read_ceilings(connection)
    return management.id, TenantState(spec=spec, managed_by=management.managed_by, ceilings=ceilings)


async def _locked_for_change(
    connection: store.Connection, request: ChangeRequest
) -> tuple[uuid.UUID, TenantState]:
    """The tenant `request` changes, its row locked: 404 when there is none, 409 when its file
    manages it, 412/428 when `If-Match` does not match the resource as it is."""
    await store.scope_to(connection, request.slug)
    found = await _read_state(connection, lock=True)
    if found is None:
        raise not_found()
    tenant_id, state = found
    _require_api_managed(state)
    _check_precondition(etag_of(request.view(state)), request.if_match)
    return tenant_id, state


def _require_api_managed(state: TenantState) -> None:
    if state.managed_by != "api":
        raise _problem(
            409,
            "De tenant wordt met een tenantbestand beheerd.",
            "tenantManagedByFile",
            f"Tenant {state.spec.slug!r} is managed by its tenant file: change the file and run "
            "`brp-broker tenants apply`. The admin API changes only tenants created through it.",
        )


def _check_precondition(current: str | None, if_match: str | None) -> None:
    if if_match is None:
        if current is not None:
            raise _problem(
                428,
                "Een If-Match header is verplicht.",
                "preconditionRequired",
                "Send If-Match with the ETag of the resource you read (GET), so no other change is lost.",
            )
        return
    wanted = [tag.strip() for tag in if_match.split(",")]
    if "*" in wanted and current is not None:
        return
    if current is None or current not in wanted:
        raise _problem(
            412,
            "De resource is intussen gewijzigd.",
            "preconditionFailed",
            "The If-Match ETag is not the resource's current ETag: read it again and redo the change.",
        )


def _check_ceilings(spec: TenantSpec, ceilings: Mapping[str, RateLimit]) -> None:
    params: list[InvalidParam] = []
    for scope in LIMIT_SCOPES:
        limit: RateLimit | None = getattr(spec.limits, scope)
        ceiling = ceilings.get(scope)
        if limit is None or ceiling is None:
            continue
        if limit.rate > ceiling.rate:
            params.append(
                InvalidParam(
                    code="ceiling",
                    name=f"limits.{scope}.rate",
                    reason=f"{limit.rate:g} is above the operator's ceiling of {ceiling.rate:g}",
                )
            )
        if limit.burst > ceiling.burst:
            params.append(
                InvalidParam(
                    code="ceiling",
                    name=f"limits.{scope}.burst",
                    reason=f"{limit.burst} is above the operator's ceiling of {ceiling.burst}",
                )
            )
    if params:
        raise bad_request(params)


async def _audit(
    connection: store.Connection,
    request: ChangeRequest,
    before: TenantSpec | None,
    after: TenantSpec | None,
    changes: list[Change],
) -> None:
    for change in changes:
        entry = _entry(request, change, _object(before, change), _object(after, change))
        await append_change(connection, entry)


def _entry(request: ChangeRequest, change: Change, before: Any, after: Any) -> AuditEntry:
    return AuditEntry(
        tenant=change.tenant,
        actor=request.actor.label,
        role=request.actor.role,
        via="api",
        source=None,
        resource=change.object,
        key=change.key,
        action=change.action,
        before=audit_document(before) if change.action != "add" else None,
        after=audit_document(after) if change.action != "remove" else None,
        correlation_id=request.correlation_id,
    )


def _action(before: object, after: object) -> Action:
    return "add" if before is None else "remove" if after is None else "change"


def _object(spec: TenantSpec | None, change: Change) -> Any:
    """The object a change is about, in `spec` (None when absent)."""
    if spec is None:
        return None
    if change.object == "tenant":
        return {
            "slug": spec.slug,
            "name": spec.name,
            "kind": spec.kind,
            "pattern": spec.pattern,
            "status": spec.status,
            "admin": msgspec.to_builtins(spec.admin),
        }
    if change.object == "limit":
        return getattr(spec.limits, change.key)
    collections: dict[str, tuple[tuple[Any, ...], Callable[[Any], str]]] = {
        "member": (spec.members, lambda m: m.code),
        "issuer": (spec.issuers, lambda i: i.issuer),
        "afnemer": (spec.afnemers, lambda a: a.afnemer_id),
        "gegevensset": (spec.gegevenssets, lambda g: g.name),
        "rule": (spec.rules, lambda r: r.name),
    }
    items, key = collections[change.object]
    return next((item for item in items if key(item) == change.key), None)


def _problem(status: int, title: str, code: str, detail: str) -> ProblemError:
    return ProblemError(
        Problem(type=type_for_status(status), title=title, status=status, detail=detail, code=code)
    )


def _invalid(name: str, reason: str) -> ProblemError:
    return bad_request([InvalidParam(code="invalid", name=name, reason=reason)])


def _database_problem(error: asyncpg.PostgresError) -> ProblemError | None:
    """A change the database refused (ownership of AfnemerIDs and issuers, 0008) as a problem."""
    if isinstance(
        error, asyncpg.IntegrityConstraintViolationError | asyncpg.ObjectNotInPrerequisiteStateError
    ):
        # The 0008 triggers word their refusals for people (no secret, no person data).
        detail = str(error).split("\n")[0]
        return _problem(409, "De wijziging botst met de configuratie.", "conflict", detail)
    return None
