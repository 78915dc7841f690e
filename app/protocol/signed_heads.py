"""`HeadSigner`: signs every chain head that moved, stores the signature, and publishes it.

A plain hash chain can be recomputed end to end by whoever controls the database. A head signed
with a key the database never sees cannot: `verify --public-keys` checks every stored signature,
and that each signed (seq, hash) is still in the chain (`app.protocol.verify`).

Each round (every `interval` seconds, in the app's lifespan, only when a signing key is configured):

1. in one transaction as the runtime role, take a transaction-level advisory lock — when another
   replica or worker process holds it, that one is signing: skip this round (no duplicates);
2. read every chain's head and its newest signed head signed at or before this round's clock
   (`broker.protocol_heads_for_signing(now)`, migration 0020: slugs, sequence numbers, hashes and
   the signed head's JWS, never a record) — a row dated in the future is never the newest;
3. trust that newest signed head only when its JWS verifies under this signer's own public key and
   says what its row says: the runtime role may INSERT signed heads, so a forged row at the head
   must not pass for a recent signature. A row it cannot verify is ignored — logged once as
   `protocol_signed_head_unverifiable` (tenant and seq only) — and the head counts as unsigned;
   the signature stored then is the newest from the next round on. (A JWS this process stored or
   verified before is not checked again: one Ed25519 check per chain only when its newest row
   changed, not thousands every minute.) A rotated key re-signs every head once, for the same
   reason: it cannot verify the old key's rows;
4. sign each head that moved since its newest trusted signed head, or has none — or did not move,
   but was last signed `heartbeat` seconds ago or more: the heartbeat lets `verify` tell a quiet
   chain from a signer that stopped or signatures that were removed — and insert it (as its tenant,
   under row-level security; ON CONFLICT DO NOTHING);
5. after COMMIT, publish each head this process stored: a log line `protocol_head_signed` (tenant,
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
from app.protocol.signing import SignatureError, SignedHead, SigningKey, open_signed_head

__all__ = [
    "DEFAULT_HEARTBEAT_SECONDS",
    "DEFAULT_INTERVAL_SECONDS",
    "UNVERIFIABLE_EVENT",
    "HeadSigner",
    "StoredSignature",
]

DEFAULT_INTERVAL_SECONDS: Final = 60.0
DEFAULT_HEARTBEAT_SECONDS: Final = 1800.0
# Any fixed 64-bit number; reads "brp-sign".
_LOCK_KEY: Final = 0x6272_702D_7369_676E
_HEADS: Final = (
    "SELECT tenant, seq, hash, signed_seq, signed_hash, signed_at, signed_key_id, signed_jws "
    "FROM broker.protocol_heads_for_signing($1)"
)
_SCOPE: Final = "SELECT set_config('app.tenant_id', $1, true)"
_INSERT: Final = """
INSERT INTO broker.protocol_signed_heads (tenant, seq, hash, signed_at, key_id, jws)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
RETURNING true
"""

UNVERIFIABLE_EVENT: Final = "protocol_signed_head_unverifiable"

# A signed-head row as the signer compares it: seq, hash, signed_at, key id, JWS.
_Stated = tuple[int, bytes, dt.datetime, str, str]

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
    `on_unverifiable` is called once per newly seen signed-head row the signer cannot verify.
    """

    __slots__ = (
        "_anchor_file",
        "_clock",
        "_heartbeat",
        "_interval",
        "_key",
        "_on_failure",
        "_on_signed",
        "_on_unverifiable",
        "_pool",
        "_public",
        "_task",
        "_trusted",
        "_unverifiable",
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
        on_unverifiable: Callable[[], None] | None = None,
    ) -> None:
        self._pool = pool
        self._key = key
        self._interval = interval
        self._heartbeat = dt.timedelta(seconds=heartbeat)
        self._anchor_file = anchor_file
        self._clock = clock
        self._on_signed = on_signed
        self._on_failure = on_failure
        self._on_unverifiable = on_unverifiable
        self._task: asyncio.Task[None] | None = None
        self._public = key.public_keys()
        # Per tenant: the newest JWS this process stored or verified (no need to check it again),
        # and the last row it could not verify (logged once, not every round).
        self._trusted: dict[str, _Stated] = {}
        self._unverifiable: dict[str, tuple[int, dt.datetime]] = {}

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
            for row in await connection.fetch(_HEADS, now):
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
        # After the transaction: a round rolled back stored nothing to trust.
        for signature in stored:
            head = signature.head
            self._trusted[head.tenant] = (
                head.seq,
                head.hash_bytes,
                head.signed_at,
                signature.key_id,
                signature.jws,
            )
        return tuple(stored)

    def _due(self, row: asyncpg.Record, now: dt.datetime) -> bool:
        """Whether a head has no trusted signature, moved since it, or that one is a heartbeat old."""
        if row["signed_seq"] is None or not self._trusts(row):
            return True
        moved = (int(row["signed_seq"]), bytes(row["signed_hash"])) != (int(row["seq"]), bytes(row["hash"]))
        signed_at: dt.datetime = row["signed_at"]
        return moved or now - signed_at >= self._heartbeat

    def _trusts(self, row: asyncpg.Record) -> bool:
        """Whether the newest signed-head row verifies under this key and says what its JWS says."""
        tenant, token = row["tenant"], row["signed_jws"]
        # The whole row, not the JWS alone: a genuine JWS copied into a row dated later is no newer.
        stated: _Stated = (
            int(row["signed_seq"]),
            bytes(row["signed_hash"]),
            row["signed_at"],
            row["signed_key_id"],
            token,
        )
        if self._trusted.get(tenant) == stated:
            return True
        try:
            opened = open_signed_head(token, self._public)
        except SignatureError:
            opened = None
        if opened is not None and (tenant, *stated) == (
            opened.head.tenant,
            opened.head.seq,
            opened.head.hash_bytes,
            opened.head.signed_at,
            opened.key_id,
            token,
        ):
            self._trusted[tenant] = stated
            return True
        self._note_unverifiable(tenant, int(row["signed_seq"]), row["signed_at"])
        return False

    def _note_unverifiable(self, tenant: str, seq: int, signed_at: dt.datetime) -> None:
        # Tenant and seq only: the row is whatever someone inserted, never echoed.
        if self._unverifiable.get(tenant) != (seq, signed_at):
            self._unverifiable[tenant] = (seq, signed_at)
            _log.warning(UNVERIFIABLE_EVENT, tenant=tenant, seq=seq)
            if self._on_unverifiable is not None:
                self._on_unverifiable()

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
