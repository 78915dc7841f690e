"""`HeadSigner`: signs every chain head that moved, stores the signature, and publishes it.

A plain hash chain can be recomputed end to end by whoever controls the database. A head signed
with a key the database never sees cannot: `verify --public-keys` checks every stored signature,
and that each signed (seq, hash) is still in the chain (`app.protocol.verify`).

Each round (every `interval` seconds, in the app's lifespan, only when a signing key is configured):

1. in one transaction as the runtime role, take a transaction-level advisory lock — when another
   replica or worker process holds it, that one is signing: skip this round (no duplicates);
2. read every chain's head and its newest signed head (`broker.protocol_heads_for_signing()`,
   migration 0018: slugs, sequence numbers and hashes only, never a record);
3. sign each head that moved since its newest signed head — or did not move, but was last signed
   `heartbeat` seconds ago or more: the heartbeat lets `verify` tell a quiet chain from a signer
   that stopped or signatures that were removed — and insert it (as its tenant, under row-level
   security; ON CONFLICT DO NOTHING);
4. after COMMIT, publish each head this process stored: a log line `protocol_head_signed` (tenant,
   seq, hash, kid and the JWS in its three parts), `on_signed(tenant, seq)` (the metric), and a line
   in the anchor file when one is set (`app.protocol.anchors`).

The chain of requests refused before a tenant was known (`NO_TENANT`) is signed like any other:
it is part of the register `verify` walks, and its head holds nothing but counts and hashes. Its
metric label is the empty tenant, as for every metric of such requests.

A failing round (database, anchor file) is logged with its error class and SQLSTATE only, counted
through `on_failure`, and tried again next round; the data path never waits for the signer. Never
logs a record, and never the key (`SigningKey` prints its key id only).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Final

import asyncpg
import msgspec
import structlog

from app.protocol.anchors import HEAD_SIGNED_EVENT, AnchorLine, append_anchor_lines, jws_parts
from app.protocol.chain import NO_TENANT
from app.protocol.signing import SignedHead, SigningKey

__all__ = ["DEFAULT_HEARTBEAT_SECONDS", "DEFAULT_INTERVAL_SECONDS", "HeadSigner", "StoredSignature"]

DEFAULT_INTERVAL_SECONDS: Final = 60.0
DEFAULT_HEARTBEAT_SECONDS: Final = 1800.0
# Any fixed 64-bit number; reads "brp-sign".
_LOCK_KEY: Final = 0x6272_702D_7369_676E
_HEADS: Final = (
    "SELECT tenant, seq, hash, signed_seq, signed_hash, signed_at FROM broker.protocol_heads_for_signing()"
)
_SCOPE: Final = "SELECT set_config('app.tenant_id', $1, true)"
_INSERT: Final = """
INSERT INTO broker.protocol_signed_heads (tenant, seq, hash, signed_at, key_id, jws)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
RETURNING true
"""

_log = structlog.get_logger("app.protocol.signed_heads")


class StoredSignature(msgspec.Struct, frozen=True):
    """A head this process signed and stored in a round."""

    head: SignedHead
    key_id: str
    jws: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class HeadSigner:
    """The periodic task that signs moved chain heads; see the module docstring.

    `start()` in the lifespan after the pool, `stop()` before it closes. `clock` gives the signing
    time (tests pass their own); `sign_round()` runs one round at once (tests, and the task).
    """

    __slots__ = (
        "_anchor_file",
        "_clock",
        "_heartbeat",
        "_interval",
        "_key",
        "_on_failure",
        "_on_signed",
        "_pool",
        "_task",
    )

    def __init__(
        self,
        pool: asyncpg.Pool,
        key: SigningKey,
        *,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        heartbeat: float = DEFAULT_HEARTBEAT_SECONDS,
        anchor_file: Path | None = None,
        clock: Callable[[], dt.datetime] = _now,
        on_signed: Callable[[str | None, int], None] | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self._pool = pool
        self._key = key
        self._interval = interval
        self._heartbeat = dt.timedelta(seconds=heartbeat)
        self._anchor_file = anchor_file
        self._clock = clock
        self._on_signed = on_signed
        self._on_failure = on_failure
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start signing: a round at once, then one every `interval` seconds."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="protocol-head-signer")

    async def stop(self) -> None:
        """Stop signing (a round under way is abandoned; its transaction rolls back)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise

    async def sign_round(self) -> tuple[StoredSignature, ...]:
        """Sign and store every head that is due, then publish them; the heads this process stored."""
        stored = await self._store_due_heads()
        await self._publish(stored)
        return stored

    async def _run(self) -> None:
        while True:
            try:
                await self.sign_round()
            except Exception as exc:  # a dead signer would show only in the next verify
                self._failed("protocol_signing_failed", exc)
            await asyncio.sleep(self._interval)

    async def _store_due_heads(self) -> tuple[StoredSignature, ...]:
        stored: list[StoredSignature] = []
        async with self._pool.acquire() as connection, connection.transaction():
            if not await connection.fetchval("SELECT pg_try_advisory_xact_lock($1)", _LOCK_KEY):
                return ()  # another replica or worker is signing right now
            now = self._clock()
            for row in await connection.fetch(_HEADS):
                if not self._due(row, now):
                    continue
                head = SignedHead(
                    tenant=row["tenant"], seq=int(row["seq"]), hash=bytes(row["hash"]).hex(), signed_at=now
                )
                token = self._key.sign(head)
                await connection.execute(_SCOPE, head.tenant)
                if await connection.fetchval(
                    _INSERT, head.tenant, head.seq, bytes(row["hash"]), now, self._key.key_id, token
                ):
                    stored.append(StoredSignature(head, self._key.key_id, token))
        return tuple(stored)

    def _due(self, row: asyncpg.Record, now: dt.datetime) -> bool:
        """Whether a head moved since its newest signature, or that signature is a heartbeat old."""
        if row["signed_seq"] is None:
            return True
        moved = (int(row["signed_seq"]), bytes(row["signed_hash"])) != (int(row["seq"]), bytes(row["hash"]))
        signed_at: dt.datetime = row["signed_at"]
        return moved or now - signed_at >= self._heartbeat

    async def _publish(self, stored: tuple[StoredSignature, ...]) -> None:
        lines = []
        for signature in stored:
            head = signature.head
            # The JWS in its three parts: whole, it has the shape of a JWT, which the log's
            # redaction removes (rightly, for tokens; a signed head is public).
            _log.info(
                HEAD_SIGNED_EVENT,
                tenant=head.tenant,
                seq=head.seq,
                hash=head.hash,
                kid=signature.key_id,
                jws=jws_parts(signature.jws),
            )
            if self._on_signed is not None:
                self._on_signed(None if head.tenant == NO_TENANT else head.tenant, head.seq)
            lines.append(
                AnchorLine(
                    tenant=head.tenant,
                    seq=head.seq,
                    hash=head.hash,
                    signed_at=_rfc3339(head.signed_at),
                    kid=signature.key_id,
                    jws=signature.jws,
                )
            )
        if self._anchor_file is not None and lines:
            try:
                await asyncio.to_thread(append_anchor_lines, self._anchor_file, lines)
            except OSError as exc:
                self._failed("protocol_anchor_failed", exc)

    def _failed(self, event: str, exc: BaseException) -> None:
        _log.warning(event, error=type(exc).__name__, sqlstate=getattr(exc, "sqlstate", None))
        if self._on_failure is not None:
            self._on_failure()


def _rfc3339(moment: dt.datetime) -> str:
    return msgspec.json.encode(moment).decode().strip('"')
