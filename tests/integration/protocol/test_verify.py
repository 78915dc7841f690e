"""The hash chain and `verify`: an intact chain passes; each kind of tampering is the first break."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import msgspec
import pytest

from app.db import with_user
from app.protocol import BreakKind, ProtocolAccessError, ProtocolWriter, VerifyReport, format_report, verify
from app.protocol.chain import chained, link_hash
from tests.integration.protocol.factories import PoolFactory, consulted, found, record, slug

TENANT = "gemeente-a"


@pytest.fixture
async def chain(fresh_url: str, runtime_pool: PoolFactory) -> str:
    """A fresh database holding one tenant's chain of five records (admin URL)."""
    writer = ProtocolWriter(await runtime_pool(fresh_url))
    await writer.start()
    for i in range(5):
        await writer.record(record(TENANT, consulted(f"99999{i:04d}") + found("999990019")))
    await writer.stop()
    return fresh_url


@pytest.fixture
async def owner(chain: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection with triggers off: what an owner bent on tampering could do."""
    connection = await asyncpg.connect(chain)
    await connection.execute("SET session_replication_role = replica")
    yield connection
    await connection.close()


def _first_break(report: VerifyReport) -> tuple[int, BreakKind]:
    (chain,) = report.chains
    assert chain.first_break is not None, "tampering went unnoticed"
    return chain.first_break.seq, chain.first_break.kind


async def _forge(owner: asyncpg.Connection, seq: int, prev_hash: bytes) -> None:
    """Insert a record with a correct hash over its own content: a forger who knows the algorithm."""
    occurred_at = await owner.fetchval("SELECT occurred_at FROM broker.protocol_records WHERE seq = 1")
    recorded_at = await owner.fetchval("SELECT recorded_at FROM broker.protocol_records WHERE seq = 1")
    forged = msgspec.structs.replace(
        chained(record(TENANT, occurred_at=occurred_at, employee="niemand")), seq=seq, recorded_at=recorded_at
    )
    await owner.execute(
        "INSERT INTO broker.protocol_records (tenant, seq, occurred_at, recorded_at, correlation_id, "
        "trace_id, subject, employee, client_application, afnemer_id, environment, doelbinding, verwerking, "
        "origin_oin, api, query_type, search_parameters, requested_fields, sent_fields, status, latency_ms, "
        "prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
        "$17::json, $18, $19, $20, $21, $22, $23)",
        forged.tenant,
        forged.seq,
        forged.occurred_at,
        forged.recorded_at,
        forged.correlation_id,
        forged.trace_id,
        forged.subject,
        forged.employee,
        forged.client_application,
        forged.afnemer_id,
        forged.environment,
        forged.doelbinding,
        forged.verwerking,
        forged.origin_oin,
        forged.api,
        forged.query_type,
        forged.search_parameters,
        list(forged.requested_fields),
        list(forged.sent_fields),
        forged.status,
        forged.latency_ms,
        prev_hash,
        link_hash(prev_hash, forged),
    )


async def _hash_of(owner: asyncpg.Connection, seq: int) -> bytes:
    value: bytes = await owner.fetchval("SELECT hash FROM broker.protocol_records WHERE seq = $1", seq)
    return value


async def test_an_intact_chain_verifies(chain: str) -> None:
    report = await verify(chain)
    assert report.ok
    (tenant,) = report.chains
    assert (tenant.tenant, tenant.records, tenant.head_seq) == (TENANT, 5, 5)
    assert "protocol chain intact" in format_report(report)


async def test_concurrent_replicas_on_one_tenant_keep_one_unbroken_chain(
    fresh_url: str, runtime_pool: PoolFactory
) -> None:
    tenants = [slug(), slug()]
    replicas = [ProtocolWriter(await runtime_pool(fresh_url)) for _ in range(3)]
    for replica in replicas:
        await replica.start()
    await asyncio.gather(
        *(replicas[i % 3].record(record(tenants[i % 2], found("999990019"))) for i in range(300))
    )
    for replica in replicas:
        await replica.stop()
    report = await verify(fresh_url)
    assert report.ok, format_report(report)
    assert sorted((c.tenant, c.records) for c in report.chains) == sorted((t, 150) for t in tenants)


async def test_a_changed_record_is_the_first_break(chain: str, owner: asyncpg.Connection) -> None:
    await owner.execute("UPDATE broker.protocol_records SET doelbinding = 'iets anders' WHERE seq = 3")
    assert _first_break(await verify(chain)) == (3, BreakKind.CHANGED)


async def test_a_changed_person_is_the_first_break(chain: str, owner: asyncpg.Connection) -> None:
    await owner.execute("UPDATE broker.protocol_persons SET bsn = '999990020' WHERE seq = 2 AND position = 1")
    assert _first_break(await verify(chain)) == (2, BreakKind.CHANGED)


async def test_a_removed_person_is_the_first_break(chain: str, owner: asyncpg.Connection) -> None:
    await owner.execute("DELETE FROM broker.protocol_persons WHERE seq = 4 AND position = 0")
    assert _first_break(await verify(chain)) == (4, BreakKind.CHANGED)


async def test_a_changed_record_with_its_hash_recomputed_breaks_the_next_link(
    chain: str, owner: asyncpg.Connection
) -> None:
    prev = await _hash_of(owner, 1)
    await owner.execute("DELETE FROM broker.protocol_records WHERE seq = 2")
    await owner.execute("DELETE FROM broker.protocol_persons WHERE seq = 2")
    await _forge(owner, 2, prev)
    assert _first_break(await verify(chain)) == (3, BreakKind.LINK)


async def test_a_removed_record_is_the_first_break(chain: str, owner: asyncpg.Connection) -> None:
    await owner.execute("DELETE FROM broker.protocol_records WHERE seq = 3")
    await owner.execute("DELETE FROM broker.protocol_persons WHERE seq = 3")
    seq, kind = _first_break(await verify(chain))
    assert (seq, kind) == (3, BreakKind.MISSING)


async def test_a_removed_last_record_is_found_by_the_head(chain: str, owner: asyncpg.Connection) -> None:
    await owner.execute("DELETE FROM broker.protocol_records WHERE seq = 5")
    await owner.execute("DELETE FROM broker.protocol_persons WHERE seq = 5")
    assert _first_break(await verify(chain)) == (5, BreakKind.MISSING)


async def test_a_forged_record_beside_a_real_one_is_the_first_break(
    chain: str, owner: asyncpg.Connection
) -> None:
    await _forge(owner, 3, await _hash_of(owner, 2))
    assert _first_break(await verify(chain)) == (3, BreakKind.DUPLICATE)


async def test_a_forged_record_after_the_end_is_found_by_the_head(
    chain: str, owner: asyncpg.Connection
) -> None:
    await _forge(owner, 6, await _hash_of(owner, 5))
    assert _first_break(await verify(chain)) == (6, BreakKind.HEAD)


async def test_a_forged_person_row_is_found(chain: str, owner: asyncpg.Connection) -> None:
    await owner.execute(
        "INSERT INTO broker.protocol_persons (tenant, seq, occurred_at, position, bsn, role) "
        "VALUES ($1, 9, now(), 0, '999990020', 'found')",
        TENANT,
    )
    assert _first_break(await verify(chain)) == (9, BreakKind.ORPHAN)


async def test_a_head_moved_by_the_runtime_role_is_found(chain: str, runtime_pool: PoolFactory) -> None:
    pool = await runtime_pool(chain)
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT set_config('app.tenant_id', $1, true)", TENANT)
        await connection.execute("UPDATE protocol_chain_heads SET seq = 7")
    assert _first_break(await verify(chain)) == (6, BreakKind.MISSING)


async def test_a_tenant_verifies_its_own_chain_with_the_runtime_pool(
    chain: str, runtime_pool: PoolFactory
) -> None:
    pool = await runtime_pool(chain)
    own = await verify(pool, TENANT)
    other = await verify(pool, "gemeente-b")
    assert own.ok and own.chains[0].records == 5
    assert other.ok and other.chains[0].records == 0  # nothing of gemeente-a is visible to it


@pytest.fixture
async def login_role(chain: str) -> AsyncIterator[Callable[[bool], Awaitable[str]]]:
    """Factory: a fresh login role, a member of the owner role or not; dropped after the test."""
    admin = await asyncpg.connect(chain)
    made: list[str] = []

    async def make(owner_member: bool) -> str:
        name = f"op_{uuid.uuid4().hex[:10]}"
        membership = " IN ROLE brp_owner" if owner_member else ""
        await admin.execute(f"CREATE ROLE {name} LOGIN{membership}")
        made.append(name)
        return name

    yield make
    for name in made:
        await admin.execute(f"DROP ROLE {name}")
    await admin.close()


async def test_an_operator_login_in_the_owner_role_verifies_every_tenant(
    chain: str, login_role: Callable[[bool], Awaitable[str]]
) -> None:
    report = await verify(with_user(chain, await login_role(True)))
    assert report.ok
    assert [c.tenant for c in report.chains] == [TENANT]


async def test_a_login_outside_the_owner_role_is_refused(
    chain: str, login_role: Callable[[bool], Awaitable[str]]
) -> None:
    with pytest.raises(ProtocolAccessError, match="owner"):
        await verify(with_user(chain, await login_role(False)))


async def _append(url: str, runtime_pool: PoolFactory, count: int) -> None:
    writer = ProtocolWriter(await runtime_pool(url))
    await writer.start()
    for _ in range(count):
        await writer.record(record(TENANT, consulted("999993653")))
    await writer.stop()


async def test_a_verified_chain_is_checked_from_its_checkpoint_next_time(
    chain: str, runtime_pool: PoolFactory
) -> None:
    first = await verify(chain)
    await _append(chain, runtime_pool, 3)

    incremental = await verify(chain)
    full = await verify(chain, full=True)

    assert (first.chains[0].records, first.chains[0].after_seq) == (5, 0)
    assert incremental.ok
    assert (incremental.chains[0].records, incremental.chains[0].after_seq) == (3, 5)
    assert "after verified 5" in format_report(incremental)
    assert full.ok
    assert (full.chains[0].records, full.chains[0].after_seq) == (8, 0)


async def test_an_incremental_verify_catches_changes_at_and_after_its_checkpoint(
    chain: str, owner: asyncpg.Connection, runtime_pool: PoolFactory
) -> None:
    await verify(chain)
    await _append(chain, runtime_pool, 2)
    await owner.execute("UPDATE broker.protocol_records SET employee = 'niemand' WHERE seq = 7")
    assert _first_break(await verify(chain)) == (7, BreakKind.CHANGED)
    await owner.execute("UPDATE broker.protocol_records SET doelbinding = 'iets anders' WHERE seq = 5")
    assert _first_break(await verify(chain)) == (5, BreakKind.CHANGED)


async def test_a_rewrite_below_the_checkpoint_needs_the_full_verify(
    chain: str, owner: asyncpg.Connection
) -> None:
    await verify(chain)
    await owner.execute("UPDATE broker.protocol_records SET doelbinding = 'iets anders' WHERE seq = 2")
    assert (await verify(chain)).ok  # what the checkpoint is for: not walking 1..5 again
    assert _first_break(await verify(chain, full=True)) == (2, BreakKind.CHANGED)


async def test_a_removed_checkpoint_record_is_missing(chain: str, owner: asyncpg.Connection) -> None:
    await verify(chain)
    await owner.execute("DELETE FROM broker.protocol_persons WHERE seq = 5")
    await owner.execute("DELETE FROM broker.protocol_records WHERE seq = 5")
    assert _first_break(await verify(chain)) == (5, BreakKind.MISSING)


async def test_the_runtime_role_reads_the_checkpoint_but_never_writes_one(
    chain: str, runtime_pool: PoolFactory
) -> None:
    pool = await runtime_pool(chain)
    assert (await verify(pool, TENANT)).chains[0].records == 5  # no checkpoint yet: everything
    assert (await verify(pool, TENANT)).chains[0].records == 5  # and it wrote none
    await verify(chain)  # the operator's run notes one
    assert (await verify(pool, TENANT)).chains[0].after_seq == 5


async def test_records_linked_before_migration_0012_still_verify_and_the_chain_goes_on(
    chain: str, owner: asyncpg.Connection, runtime_pool: PoolFactory
) -> None:
    # A record hashed by a writer of the previous release (format 1), as during a rolling upgrade.
    await _forge(owner, 6, await _hash_of(owner, 5))
    await owner.execute(
        "UPDATE broker.protocol_chain_heads SET seq = 6, hash = $2 WHERE tenant = $1",
        TENANT,
        await _hash_of(owner, 6),
    )
    await _append(chain, runtime_pool, 1)
    report = await verify(chain, full=True)
    assert report.ok, format_report(report)
    assert report.chains[0].records == 7
