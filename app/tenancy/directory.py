"""`TenantDirectory`: every tenant's configuration in memory, kept current by LISTEN/NOTIFY.

This module owns the cache the hot path reads instead of the database: an immutable
`DirectorySnapshot`, replaced whole on every reload (a reader holding the old one keeps a
consistent view). How it stays current:
- loaded at `start()`, after the listener is in place (so no change falls between the two);
- one listener connection per app instance (`LISTEN brp_tenancy`); a notification carries the
  changed tenant's slug (or `*`), and only that tenant is reloaded; bursts coalesce;
- when the listener connection drops it is re-established (with backoff) and everything is
  reloaded, since notifications sent meanwhile are lost;
- a full safety reload every `safety_reload_seconds` (default 60) catches anything else, e.g. a
  rotated secret file.
A failed reload keeps the last good snapshot and is logged.

Cross-tenant reads without weakening row-level security: the list of tenants comes from
`tenant_registry` (operator data: ids, slugs, status; no configuration), and each tenant is then
loaded inside its own `tenant_scope`, so every configuration table keeps its fail-closed policy.

It implements `app.identity`'s `IssuerDirectory` (`issuers_for`). It never logs a secret: an
afnemer whose secret cannot be read is logged by tenant, AfnemerID and reason only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import asyncpg
import msgspec
import structlog
from asyncpg.pool import PoolConnectionProxy

from app.db import tenant_scope
from app.identity import IssuerConfig
from app.secrets import SecretKey
from app.tenancy import store
from app.tenancy.build import build_tenant
from app.tenancy.models import DirectorySnapshot, PolicyCache, Tenant

__all__ = ["ALL_TENANTS", "TenantDirectory"]

# The payload that asks for a full reload.
ALL_TENANTS: Final = "*"

_log = structlog.get_logger("app.tenancy.directory")

_RETRY_FIRST_SECONDS: Final = 0.5
_RETRY_MAX_SECONDS: Final = 30.0
# What a lost database looks like to asyncpg; anything else is a bug and is not retried silently.
_DATABASE_ERRORS: Final = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


class TenantDirectory:
    """The in-memory tenant configuration of one app instance; built and started in the lifespan.

    `identities` maps the broker's OIN identity names to their OINs (from the settings'
    identities); `secret_key` decrypts `enc:` client secrets (None: such afnemers are unusable).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        identities: Mapping[str, str],
        *,
        secret_key: SecretKey | None = None,
        safety_reload_seconds: float = 60.0,
        policies: PolicyCache | None = None,
    ) -> None:
        self._pool = pool
        self._identities = dict(identities)
        self._secret_key = secret_key
        self._safety_reload_seconds = safety_reload_seconds
        self._policies = policies or PolicyCache()
        self._snapshot = DirectorySnapshot(policies=self._policies)
        self._reload_lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._listener: PoolConnectionProxy | None = None
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        self._lost = False
        self._task: asyncio.Task[None] | None = None

    # -- what the hot path reads ----------------------------------------------------------------

    @property
    def snapshot(self) -> DirectorySnapshot:
        """The current configuration of every tenant (immutable; take it once per request)."""
        return self._snapshot

    def issuers_for(self, issuer: str) -> Sequence[IssuerConfig]:
        """`IssuerDirectory`: the configurations of active tenants that trust `issuer`."""
        return self._snapshot.issuers_for(issuer)

    def tenant(self, slug: str) -> Tenant | None:
        """One tenant's current configuration."""
        return self._snapshot.tenants.get(slug)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen, load every tenant, then follow changes in the background.

        Raises when the database cannot be reached: the app must not serve without its tenants.
        """
        await self._listen()
        try:
            await self.reload()
        except BaseException:
            await self._unlisten()
            raise
        self._task = asyncio.create_task(self._watch(), name="tenancy-directory")

    async def stop(self) -> None:
        """Stop following changes and give the listener connection back (before the pool closes)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._unlisten()

    async def reload(self, slugs: Iterable[str] | None = None) -> DirectorySnapshot:
        """Reload the named tenants (None: all of them) and publish a new snapshot."""
        async with self._reload_lock:
            current = self._snapshot
            if slugs is None:
                tenants = await self._load_all(current)
            else:
                tenants = await self._load_some(current, sorted(set(slugs)))
            snapshot = DirectorySnapshot.of(list(tenants.values()), self._policies, current.generation + 1)
            self._snapshot = snapshot
        _log.debug("tenancy_reloaded", tenants=len(snapshot.tenants), full=slugs is None)
        async with self._changed:
            self._changed.notify_all()
        return snapshot

    async def wait_for(self, predicate: Callable[[DirectorySnapshot], bool]) -> DirectorySnapshot:
        """The first snapshot (current or after a reload) for which `predicate` holds."""
        async with self._changed:
            await self._changed.wait_for(lambda: predicate(self._snapshot))
            return self._snapshot

    # -- loading --------------------------------------------------------------------------------

    async def _load_all(self, current: DirectorySnapshot) -> dict[str, Tenant]:
        async with self._pool.acquire() as connection:
            entries = await store.list_tenants(connection)
        tenants: dict[str, Tenant] = {}
        for entry in entries:
            tenant = await self._load(entry, current)
            if tenant is not None:
                tenants[entry.slug] = tenant
        return tenants

    async def _load_some(self, current: DirectorySnapshot, slugs: list[str]) -> dict[str, Tenant]:
        tenants = dict(current.tenants)
        for slug in slugs:
            async with self._pool.acquire() as connection:
                entry = await store.find_tenant(connection, slug)
            tenant = None if entry is None else await self._load(entry, current)
            if tenant is None:
                tenants.pop(slug, None)
            else:
                tenants[slug] = tenant
        return tenants

    async def _load(self, entry: store.RegistryEntry, current: DirectorySnapshot) -> Tenant | None:
        previous = current.tenants.get(entry.slug)
        try:
            async with tenant_scope(self._pool, entry.slug) as connection:
                spec = await store.read_tenant(connection)
        except msgspec.ValidationError as exc:
            # A stored object no longer fits its model (e.g. after a model change): keep the last
            # good configuration of this tenant rather than dropping it.
            _log.error("tenancy_tenant_unreadable", tenant=entry.slug, error=str(exc))
            return previous
        if spec is None:
            return None
        tenant = build_tenant(entry.id, spec, self._identities, self._secret_key)
        _log_unusable_afnemers(tenant, previous)
        return tenant

    # -- following changes ----------------------------------------------------------------------

    async def _watch(self) -> None:
        retry = _RETRY_FIRST_SECONDS
        while True:
            try:
                if self._listener is None:
                    await self._listen()
                    # Notifications sent while nobody listened are lost: catch up on everything.
                    await self.reload()
                    retry = _RETRY_FIRST_SECONDS
                    _log.info("tenancy_listener_restored")
                await self._follow()
                _log.warning("tenancy_listener_lost")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Whatever went wrong, this task must survive: without it the cache goes stale.
                log = _log.warning if isinstance(exc, _DATABASE_ERRORS) else _log.error
                log("tenancy_listener_unavailable", error=type(exc).__name__, retry_in=retry)
                await self._unlisten()
                await asyncio.sleep(retry)
                retry = min(retry * 2, _RETRY_MAX_SECONDS)
                continue
            await self._unlisten()

    async def _follow(self) -> None:
        """Reload on notifications and on the safety interval until the listener is lost."""
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._safety_reload_seconds)
            except TimeoutError:
                self._pending.add(ALL_TENANTS)
            self._wake.clear()
            if self._lost:
                return
            pending, self._pending = self._pending, set()
            if pending:
                await self._reload_quietly(None if ALL_TENANTS in pending else pending)

    async def _reload_quietly(self, slugs: Iterable[str] | None) -> None:
        try:
            await self.reload(slugs)
        except _DATABASE_ERRORS as exc:
            # Keep the last good snapshot; the next notification or safety reload tries again.
            self._pending.add(ALL_TENANTS)
            _log.warning("tenancy_reload_failed", error=type(exc).__name__)

    async def _listen(self) -> None:
        connection: PoolConnectionProxy = await self._pool.acquire()
        try:
            self._lost = False
            connection.add_termination_listener(self._on_lost)
            await connection.add_listener(store.NOTIFY_CHANNEL, self._on_notify)
        except BaseException:
            await self._pool.release(connection)
            raise
        self._listener = connection

    async def _unlisten(self) -> None:
        connection, self._listener = self._listener, None
        if connection is None:
            return
        # A connection the server closed was already handed back to the pool by asyncpg, and its
        # proxy then refuses every call: nothing is left to undo.
        with contextlib.suppress(*_DATABASE_ERRORS):
            connection.remove_termination_listener(self._on_lost)
            await connection.remove_listener(store.NOTIFY_CHANNEL, self._on_notify)
        with contextlib.suppress(*_DATABASE_ERRORS):
            await self._pool.release(connection)

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: object) -> None:
        self._pending.add(str(payload) or ALL_TENANTS)
        self._wake.set()

    def _on_lost(self, _connection: Any) -> None:
        self._lost = True
        self._wake.set()


def _log_unusable_afnemers(tenant: Tenant, previous: Tenant | None) -> None:
    # Once per new problem, not on every safety reload.
    for afnemer in tenant.afnemers.values():
        before = previous.afnemers.get(afnemer.afnemer_id) if previous else None
        if afnemer.problem and (before is None or before.problem != afnemer.problem):
            _log.error(
                "tenancy_afnemer_unusable",
                tenant=tenant.slug,
                afnemer_id=afnemer.afnemer_id,
                reason=afnemer.problem,
            )
