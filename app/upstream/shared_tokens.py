"""Shared RvIG tokens: one token per afnemer record per token lifetime across every replica.

`TokenManager` caches tokens per process. With a `TokenStore` it also shares them: whichever
replica (or worker) needs a token first obtains it and stores it; the others take it from the
store instead of asking RvIG themselves. `PostgresTokenStore` keeps them in `broker.upstream_tokens`
(migration 0014), under the tenant's row-level security.

Only sealed tokens leave the process. Three keys are derived from the key-encryption key
`BROKER_SECRET_KEY` with HKDF-SHA256, each under its own `info`:
- the seal key: AES-256-GCM, fresh 96-bit nonce per token, the token's cache key (`TokenKey`:
  tenant, AfnemerID, environment, identity, scope, credentials fingerprint) as associated data, so
  a sealed token copied to another row (another tenant, afnemer or credentials) does not decrypt;
- the credentials key: the HMAC key of the fingerprint in `TokenKey`, the same in every replica
  (without a store each `TokenManager` keeps its own random one, as before);
- the token MAC key: `invalidate` deletes a row only while it holds the token RvIG refused, and
  compares MACs to know, never tokens.

Single flight across replicas: a transaction takes `pg_advisory_xact_lock` on the cache key and
reads the row; a token not yet at its refresh point is used, otherwise this replica asks RvIG
(while holding the lock, so the others wait and then read its token), seals it and stores it.
Times in the table are the database's clock (`expires_at`, `refresh_at`); they reach the manager as
seconds from now. Trouble with the database never fails a request: the replica then asks RvIG
itself, as it did before (and logs the error class only).

Without `BROKER_SECRET_KEY`, or with `BROKER_TOKEN_SHARING=off`, there is no store.
This module never logs, returns in an error, or stores in clear a token or a secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final, Literal, Protocol

import asyncpg
import msgspec
import structlog
from asyncpg.pool import PoolConnectionProxy
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.db import DatabaseError
from app.secrets import SecretKey

if TYPE_CHECKING:
    from app.upstream.tokens import TokenKey

__all__ = ["Lease", "PostgresTokenStore", "TokenSealer", "TokenSharing", "TokenStore", "shared_token_store"]

_log = structlog.get_logger("app.upstream.shared_tokens")

TokenSharing = Literal["database", "off"]

_SEAL_INFO: Final = b"brp-broker upstream token seal v1"
_CREDENTIALS_INFO: Final = b"brp-broker upstream token credentials fingerprint v1"
_MAC_INFO: Final = b"brp-broker upstream token mac v1"
_ROW_DOMAIN: Final = b"brp-broker upstream token row v1\x00"
_SEAL_DOMAIN: Final = b"brp-broker upstream token v1\x00"
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16

# An outage or a misconfigured database: the replica then asks RvIG itself. OSError covers refused
# connections and timeouts (TimeoutError), including a pool or lock wait that took too long.
_DATABASE_TROUBLE: Final = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    DatabaseError,
    OSError,
)

_READ: Final = """
SELECT sealed, token_mac,
       extract(epoch FROM refresh_at - clock_timestamp())::float8 AS refresh_in,
       extract(epoch FROM expires_at - clock_timestamp())::float8 AS usable_for
FROM upstream_tokens WHERE tenant = $1 AND key = $2
"""
_WRITE: Final = """
INSERT INTO upstream_tokens
    (tenant, key, afnemer_id, environment, sealed, token_mac, obtained_at, refresh_at, expires_at)
SELECT $1, $2, $3, $4, $5, $6, c.now, c.now + make_interval(secs => $7), c.now + make_interval(secs => $8)
FROM (SELECT clock_timestamp() AS now) AS c
ON CONFLICT (tenant, key) DO UPDATE SET
    sealed = EXCLUDED.sealed, token_mac = EXCLUDED.token_mac, obtained_at = EXCLUDED.obtained_at,
    refresh_at = EXCLUDED.refresh_at, expires_at = EXCLUDED.expires_at
"""
# Row-level security keeps this to the tenant in scope; it runs once per token lifetime.
_PURGE: Final = "DELETE FROM upstream_tokens WHERE expires_at < clock_timestamp()"
_DISCARD: Final = "DELETE FROM upstream_tokens WHERE tenant = $1 AND key = $2 AND token_mac = $3"


class Lease(msgspec.Struct, frozen=True):
    """A token and its remaining life, in seconds from now: until it is due for refresh, and
    until it must no longer be used."""

    value: str
    refresh_in: float
    usable_for: float


class TokenStore(Protocol):
    """Where the replicas of one deployment share their RvIG tokens; `TokenManager` uses it."""

    @property
    def credentials_key(self) -> bytes:
        """The HMAC key of the credentials fingerprint in `TokenKey`: the same in every replica."""

    async def fetch_or_obtain(
        self, key: TokenKey, obtain: Callable[[], Awaitable[Lease]], *, refused: str | None = None
    ) -> Lease:
        """The shared token of `key` while it is before its refresh point (and is not `refused`),
        else `obtain()`'s, then shared: one `obtain()` across replicas asking at once. Trouble
        with the store itself is never raised; `obtain()`'s own failure is."""

    async def discard(self, key: TokenKey, token: str) -> None:
        """Forget `token` for every replica (RvIG refused it), unless another has replaced it."""


class TokenSealer:
    """The keys derived from the key-encryption key, and what is done with them. Shows no key."""

    __slots__ = ("_aead", "credentials_key", "seal_key", "token_mac_key")

    def __init__(self, kek: SecretKey) -> None:
        self.seal_key = kek.derive(_SEAL_INFO)
        self.credentials_key = kek.derive(_CREDENTIALS_INFO)
        self.token_mac_key = kek.derive(_MAC_INFO)
        self._aead = AESGCM(self.seal_key)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> TokenSealer | None:
        """The sealer of `BROKER_SECRET_KEY`, or None when it is not set."""
        kek = SecretKey.from_environment(environ)
        return None if kek is None else cls(kek)

    def row_key(self, key: TokenKey) -> bytes:
        """The row's primary key within its tenant: SHA-256 over the whole cache key."""
        return hashlib.sha256(_ROW_DOMAIN + _encoded(key)).digest()

    def seal(self, key: TokenKey, token: str) -> bytes:
        """`token` encrypted for `key` only: nonce ‖ ciphertext ‖ tag."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, token.encode(), _SEAL_DOMAIN + _encoded(key))

    def unseal(self, key: TokenKey, sealed: bytes) -> str | None:
        """The token sealed for `key`; None if it was sealed for another key, or altered."""
        if len(sealed) <= _NONCE_BYTES + _TAG_BYTES:
            return None
        try:
            plain = self._aead.decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _SEAL_DOMAIN + _encoded(key)
            )
        except InvalidTag:
            return None
        return plain.decode()

    def mac(self, token: str) -> bytes:
        """HMAC-SHA256 of `token`: tells whether a row holds it without storing it."""
        return hmac.new(self.token_mac_key, token.encode(), hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "TokenSealer(***)"


class PostgresTokenStore:
    """`TokenStore` in `broker.upstream_tokens`, through the app's pool (the runtime role)."""

    __slots__ = ("_lock_wait", "_pool", "_sealer", "_slots", "_timeout")

    def __init__(
        self,
        pool: asyncpg.Pool,
        sealer: TokenSealer,
        *,
        timeout: float,
        lock_wait: float = 15.0,
        connections: int = 4,
    ) -> None:
        self._pool = pool
        self._sealer = sealer
        # How long to wait for a pooled connection; and for another replica's token request (past
        # that, this replica asks RvIG itself rather than hold up its requests).
        self._timeout = timeout
        self._lock_wait = lock_wait
        # A fetch holds its connection while RvIG answers: at most this many at once, so a burst of
        # first requests for many afnemers cannot take the connections the protocol writer needs.
        self._slots = asyncio.Semaphore(connections)

    @property
    def credentials_key(self) -> bytes:
        """The HMAC key of the credentials fingerprint in `TokenKey`: the same in every replica."""
        return self._sealer.credentials_key

    async def fetch_or_obtain(
        self, key: TokenKey, obtain: Callable[[], Awaitable[Lease]], *, refused: str | None = None
    ) -> Lease:
        """See `TokenStore.fetch_or_obtain`."""
        obtained: Lease | None = None
        failure: BaseException | None = None

        async def obtain_once() -> Lease:
            nonlocal obtained, failure
            try:
                obtained = await obtain()
            except BaseException as exc:
                failure = exc
                raise
            return obtained

        try:
            return await self._fetch_or_obtain(key, obtain_once, refused)
        except _DATABASE_TROUBLE as error:
            if failure is not None:
                raise failure from None  # RvIG's answer, not the store's trouble
            _log.warning("token_store_unavailable", error=type(error).__name__, afnemer_id=key.afnemer_id)
            return obtained if obtained is not None else await obtain()

    async def discard(self, key: TokenKey, token: str) -> None:
        """See `TokenStore.discard`."""
        try:
            async with self._tenant_scope(key.tenant) as connection:
                await connection.execute(
                    _DISCARD, key.tenant, self._sealer.row_key(key), self._sealer.mac(token)
                )
        except _DATABASE_TROUBLE as error:
            _log.warning("token_store_unavailable", error=type(error).__name__, afnemer_id=key.afnemer_id)

    async def _fetch_or_obtain(
        self, key: TokenKey, obtain: Callable[[], Awaitable[Lease]], refused: str | None
    ) -> Lease:
        row_key = self._sealer.row_key(key)
        async with asyncio.timeout(self._timeout):
            await self._slots.acquire()
        try:
            return await self._locked_fetch_or_obtain(key, row_key, obtain, refused)
        finally:
            self._slots.release()

    async def _locked_fetch_or_obtain(
        self, key: TokenKey, row_key: bytes, obtain: Callable[[], Awaitable[Lease]], refused: str | None
    ) -> Lease:
        async with self._tenant_scope(key.tenant) as connection:
            # Replicas needing this token queue here; the first asks RvIG, the others read its token.
            lock = int.from_bytes(row_key[:8], "big", signed=True)
            await connection.execute("SELECT pg_advisory_xact_lock($1)", lock, timeout=self._lock_wait)
            row = await connection.fetchrow(_READ, key.tenant, row_key)
            shared = self._shared(key, row, refused) if row is not None else None
            if shared is not None:
                return shared
            lease = await obtain()
            refresh_in = min(lease.refresh_in, lease.usable_for)
            sealed = self._sealer.seal(key, lease.value)
            mac = self._sealer.mac(lease.value)
            await connection.execute(
                _WRITE,
                key.tenant,
                row_key,
                key.afnemer_id,
                key.environment,
                sealed,
                mac,
                refresh_in,
                lease.usable_for,
            )
            await connection.execute(_PURGE)
            return lease

    def _shared(self, key: TokenKey, row: asyncpg.Record, refused: str | None) -> Lease | None:
        if row["refresh_in"] <= 0:
            return None  # due for refresh: this replica obtains the next one
        if refused is not None and hmac.compare_digest(row["token_mac"], self._sealer.mac(refused)):
            return None
        value = self._sealer.unseal(key, row["sealed"])
        if value is None:
            # Sealed under another KEK, for another key, or altered: obtain anew and overwrite.
            _log.warning("token_store_unreadable", afnemer_id=key.afnemer_id)
            return None
        return Lease(value, refresh_in=row["refresh_in"], usable_for=row["usable_for"])

    @asynccontextmanager
    async def _tenant_scope(self, tenant: str) -> AsyncIterator[PoolConnectionProxy]:
        # app.db.tenant_scope, with a bounded wait for a connection: a busy pool must not hold up
        # a request's token.
        async with self._pool.acquire(timeout=self._timeout) as connection, connection.transaction():
            await connection.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
            yield connection


def shared_token_store(
    pool: asyncpg.Pool,
    sharing: TokenSharing,
    *,
    timeout: float,
    environ: Mapping[str, str] | None = None,
) -> PostgresTokenStore | None:
    """The store through which this deployment's replicas share RvIG tokens, or None (tokens per
    process, as before): without `BROKER_SECRET_KEY` nothing could be sealed, or sharing is off."""
    sealer = TokenSealer.from_environment(environ) if sharing == "database" else None
    if sealer is None:
        _log.info("upstream_tokens_per_process", sharing=sharing)
        return None
    _log.info("upstream_tokens_shared", sharing=sharing)
    return PostgresTokenStore(pool, sealer, timeout=timeout, connections=max(1, pool.get_max_size() // 4))


def _encoded(key: TokenKey) -> bytes:
    # Every field, length-prefixed: no two different keys encode alike, whatever their contents.
    parts = (part if isinstance(part, bytes) else part.encode() for part in key)
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)
