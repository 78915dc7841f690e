"""Signed chain heads, hardened: `verify --public-keys` reports UTC days without a valid signature
(BROKEN only when records were recorded in them), and the signer trusts only stored signed heads it
can verify with its own key, so a row the runtime role forged cannot stop the heartbeat.

Dates are derived from now: the signer's clock and the records' `recorded_at` are set back by
whole days, never to a fixed date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from app.protocol import BreakKind, ProtocolWriter, format_report, verify, write_batch
from app.protocol.chain import chained
from app.protocol.signed_heads import HeadSigner
from app.protocol.signing import PublicKeys, SignedHead, SigningKey, generate_signing_key
from tests.conftest import LogCapture
from tests.integration.protocol.factories import PoolFactory, consulted, record
from tests.integration.protocol.test_signed_heads import Clock, _chain, _first_break

TENANT = "gemeente-a"
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
UNVERIFIABLE = "protocol_signed_head_unverifiable"


def _midnight(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture
def key() -> SigningKey:
    return generate_signing_key()


@pytest.fixture
def keys(key: SigningKey) -> PublicKeys:
    return PublicKeys.from_jwks({"keys": [key.public_jwk()]})


@dataclass
class Broker:
    """Records with a chosen `recorded_at`, and signing rounds at a chosen moment."""

    pool: asyncpg.Pool
    signer: HeadSigner
    clock: Clock

    async def write(self, recorded_at: dt.datetime, count: int = 1) -> None:
        """`count` records of TENANT, recorded (stamped) at `recorded_at`."""
        async with self.pool.acquire() as connection, connection.transaction():
            entries = [chained(record(TENANT, consulted("999993653"))) for _ in range(count)]
            await write_batch(connection, entries, recorded_at)

    async def sign(self, moment: dt.datetime) -> list[tuple[int, dt.datetime]]:
        """One signing round at `moment`: the (seq, signed_at) it stored for TENANT."""
        self.clock.now = moment
        return [
            (s.head.seq, s.head.signed_at) for s in await self.signer.sign_round() if s.head.tenant == TENANT
        ]


@pytest.fixture
async def broker(fresh_url: str, runtime_pool: PoolFactory, key: SigningKey) -> AsyncIterator[Broker]:
    pool = await runtime_pool(fresh_url)
    writer = ProtocolWriter(pool)  # creates the partitions the records go to
    await writer.start()
    clock = Clock()
    yield Broker(pool, HeadSigner(pool, key, heartbeat=1800, clock=clock), clock)
    await writer.stop()


@pytest.fixture
async def owner(fresh_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection with triggers off: an owner bent on tampering."""
    connection = await asyncpg.connect(fresh_url)
    await connection.execute("SET session_replication_role = replica")
    yield connection
    await connection.close()


# -- days without a valid signature ---------------------------------------------------------------


async def test_days_the_honest_broker_was_down_without_records_are_a_note_not_a_break(
    fresh_url: str, broker: Broker, keys: PublicKeys
) -> None:
    now = dt.datetime.now(dt.UTC)
    today = _midnight(now)
    await broker.write(today - 5 * DAY + HOUR, count=2)
    await broker.sign(today - 5 * DAY + 2 * HOUR)
    # Down from day -4 to day -3 (a weekend): no records, no signatures.
    await broker.write(today - 2 * DAY + HOUR)
    await broker.sign(today - 2 * DAY + 2 * HOUR)
    await broker.sign(today - DAY + 2 * HOUR)
    await broker.sign(now)

    report = await verify(fresh_url, public_keys=keys, full=True, now=now)

    chain = _chain(report)
    assert chain.ok, format_report(report)
    first, last = (today - 4 * DAY).date(), (today - 3 * DAY).date()
    assert any(f"{first}..{last}" in note and "no valid signature" in note for note in chain.notes), (
        format_report(report)
    )
    assert "protocol chain intact" in format_report(report)


async def test_days_without_a_valid_signature_but_with_records_recorded_in_them_are_a_break(
    fresh_url: str, broker: Broker, keys: PublicKeys, owner: asyncpg.Connection
) -> None:
    now = dt.datetime.now(dt.UTC)
    today = _midnight(now)
    for days_back in (5, 4, 3, 2, 1):
        await broker.write(today - days_back * DAY + HOUR)
        await broker.sign(today - days_back * DAY + 2 * HOUR)
    await broker.sign(now)
    assert (await verify(fresh_url, public_keys=keys, full=True, now=now)).ok

    # Days -4 and -3 lose their signatures (the owner, triggers off): the later ones still cover
    # every record, so only the days without a signature tell.
    await owner.execute(
        "DELETE FROM broker.protocol_signed_heads WHERE tenant = $1 AND signed_at >= $2 AND signed_at < $3",
        TENANT,
        today - 4 * DAY,
        today - 2 * DAY,
    )
    report = await verify(fresh_url, public_keys=keys, full=True, now=now)

    seq, kind, detail = _first_break(report)
    assert kind == BreakKind.GAP
    assert seq == 2  # the first record recorded in the gap (day -4)
    first, last = (today - 4 * DAY).date(), (today - 3 * DAY).date()
    assert f"{first}..{last}" in detail


# -- the signer trusts only what it can verify --------------------------------------------------------


async def _insert_as_runtime(pool: asyncpg.Pool, head: SignedHead, key_id: str, jws: str) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT set_config('app.tenant_id', $1, true)", head.tenant)
        await connection.execute(
            "INSERT INTO protocol_signed_heads (tenant, seq, hash, signed_at, key_id, jws) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            head.tenant,
            head.seq,
            head.hash_bytes,
            head.signed_at,
            key_id,
            jws,
        )


async def _head(pool: asyncpg.Pool) -> tuple[int, bytes]:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT set_config('app.tenant_id', $1, true)", TENANT)
        row = await connection.fetchrow(
            "SELECT seq, hash FROM protocol_chain_heads WHERE tenant = $1", TENANT
        )
    assert row is not None
    return int(row["seq"]), bytes(row["hash"])


async def test_a_row_the_runtime_role_forged_at_the_head_does_not_stop_the_heartbeat(
    broker: Broker, key: SigningKey, logs: LogCapture
) -> None:
    start = dt.datetime.now(dt.UTC)
    await broker.write(start, count=2)
    assert [seq for seq, _ in await broker.sign(start)] == [2]
    seq, hash_ = await _head(broker.pool)
    forged = SignedHead(TENANT, seq, hash_.hex(), start + dt.timedelta(minutes=20))
    other = generate_signing_key()
    await _insert_as_runtime(broker.pool, forged, key.key_id, other.sign(forged))  # claims our key id

    heartbeat = await broker.sign(start + dt.timedelta(minutes=31))
    quiet = await broker.sign(start + dt.timedelta(minutes=32))

    assert [s for s, _ in heartbeat] == [2]
    assert quiet == []
    unverifiable = [e for e in logs.events if e["event"] == UNVERIFIABLE]
    assert len(unverifiable) == 1
    assert {k: unverifiable[0][k] for k in ("tenant", "seq")} == {"tenant": TENANT, "seq": 2}
    assert "jws" not in unverifiable[0] and "hash" not in unverifiable[0]


async def test_a_row_dated_in_the_future_does_not_count_as_the_newest(
    broker: Broker, key: SigningKey
) -> None:
    start = dt.datetime.now(dt.UTC)
    await broker.write(start)
    await broker.sign(start)
    seq, hash_ = await _head(broker.pool)
    # Even one with a valid signature (clock skew between replicas, or a key that leaked once).
    ahead = SignedHead(TENANT, seq, hash_.hex(), start + DAY)
    await _insert_as_runtime(broker.pool, ahead, key.key_id, key.sign(ahead))

    heartbeat = await broker.sign(start + dt.timedelta(minutes=31))

    assert [s for s, _ in heartbeat] == [1]


async def test_a_forged_row_beyond_the_head_does_not_make_the_signer_sign_every_round(
    broker: Broker, key: SigningKey
) -> None:
    start = dt.datetime.now(dt.UTC)
    await broker.write(start)
    await broker.sign(start)
    forged = SignedHead(TENANT, 1000, "00" * 32, start + dt.timedelta(minutes=1))
    await _insert_as_runtime(broker.pool, forged, key.key_id, generate_signing_key().sign(forged))

    first = await broker.sign(start + dt.timedelta(minutes=2))
    second = await broker.sign(start + dt.timedelta(minutes=3))

    assert [s for s, _ in first] == [1]  # the forged newest is ignored: the head is signed anew
    assert second == []  # and then its own signature is the newest again
