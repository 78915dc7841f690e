"""Signed chain heads: the signer signs what moved, once; `verify` with the public key alone catches
a superuser who rewrites a whole chain consistently — with the signatures left, deleted or forged,
behind a forged verified checkpoint — and published heads (anchors) catch it too."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest

from app.main import create_app
from app.protocol import BreakKind, ProtocolWriter, VerifyReport, create_partitions, format_report, verify
from app.protocol.anchors import load_anchors
from app.protocol.chain import NO_TENANT, ChainedRecord, linked_hash, record_digest
from app.protocol.retention import apply_retention, years_before
from app.protocol.signed_heads import HeadSigner
from app.protocol.signing import PublicKeys, SignedHead, SigningKey, SigningKeyError, generate_signing_key
from app.protocol.verify import ChainReport
from app.settings import Settings
from tests.conftest import LogCapture
from tests.integration.protocol.factories import PoolFactory, consulted, record, refused_without_tenant, slug
from tests.support.servers import ServerTask

TENANT = "gemeente-a"
OTHER = "gemeente-b"
HOUR = dt.timedelta(hours=1)


class Clock:
    """The signer's wall clock, moved by hand."""

    def __init__(self, now: dt.datetime | None = None) -> None:
        self.now = now or dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def key() -> SigningKey:
    return generate_signing_key()


@pytest.fixture
def keys(key: SigningKey) -> PublicKeys:
    return PublicKeys.from_jwks({"keys": [key.public_jwk()]})


@pytest.fixture
async def pool(fresh_url: str, runtime_pool: PoolFactory) -> asyncpg.Pool:
    return await runtime_pool(fresh_url)


@pytest.fixture
async def writer(pool: asyncpg.Pool) -> AsyncIterator[ProtocolWriter]:
    protocol = ProtocolWriter(pool)
    await protocol.start()
    yield protocol
    await protocol.stop()


@pytest.fixture
async def owner(fresh_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection with triggers off: an owner bent on tampering."""
    connection = await asyncpg.connect(fresh_url)
    await connection.execute("SET session_replication_role = replica")
    yield connection
    await connection.close()


async def _write(writer: ProtocolWriter, tenant: str, count: int) -> None:
    for i in range(count):
        await writer.record(record(tenant, consulted(f"99999{i:04d}")))


async def _signatures(url: str, tenant: str | None = None) -> list[tuple[str, int]]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT tenant, seq FROM broker.protocol_signed_heads WHERE $1::text IS NULL OR tenant = $1 "
            "ORDER BY tenant, seq, signed_at",
            tenant,
        )
    finally:
        await connection.close()
    return [(row["tenant"], row["seq"]) for row in rows]


def _chain(report: VerifyReport, tenant: str = TENANT) -> ChainReport:
    return next(chain for chain in report.chains if chain.tenant == tenant)


def _first_break(report: VerifyReport, tenant: str = TENANT) -> tuple[int, BreakKind, str]:
    chain = _chain(report, tenant)
    assert chain.first_break is not None, f"tampering went unnoticed:\n{format_report(report)}"
    return chain.first_break.seq, chain.first_break.kind, chain.first_break.detail


async def _rewrite(owner: asyncpg.Connection, tenant: str = TENANT, from_seq: int = 2) -> None:
    """Change record `from_seq` and recompute every later hash and the head: a consistent forgery."""
    await owner.execute(
        "UPDATE broker.protocol_records SET doelbinding = 'verzonnen' WHERE tenant = $1 AND seq = $2",
        tenant,
        from_seq,
    )
    fields = [name for name in ChainedRecord.__struct_fields__ if name != "persons"]
    columns = ", ".join(
        "search_parameters::text AS search_parameters" if f == "search_parameters" else f for f in fields
    )
    rows = await owner.fetch(
        f"SELECT {columns}, prev_hash FROM broker.protocol_records "
        "WHERE tenant = $1 AND seq >= $2 ORDER BY seq",
        tenant,
        from_seq,
    )
    prev = bytes(rows[0]["prev_hash"])
    for row in rows:
        persons = await owner.fetch(
            "SELECT bsn, role FROM broker.protocol_persons WHERE tenant = $1 AND seq = $2 ORDER BY position",
            tenant,
            row["seq"],
        )
        stored = {name: row[name] for name in fields} | {"persons": [(p["bsn"], p["role"]) for p in persons]}
        rewritten = linked_hash(prev, row["seq"], record_digest(msgspec.convert(stored, ChainedRecord)))
        await owner.execute(
            "UPDATE broker.protocol_records SET prev_hash = $3, hash = $4 WHERE tenant = $1 AND seq = $2",
            tenant,
            row["seq"],
            prev,
            rewritten,
        )
        prev = rewritten
    await owner.execute("UPDATE broker.protocol_chain_heads SET hash = $2 WHERE tenant = $1", tenant, prev)


async def _insert_signature(owner: asyncpg.Connection, key: SigningKey, head: SignedHead) -> None:
    await owner.execute(
        "INSERT INTO broker.protocol_signed_heads (tenant, seq, hash, signed_at, key_id, jws) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        head.tenant,
        head.seq,
        head.hash_bytes,
        head.signed_at,
        key.key_id,
        key.sign(head),
    )


async def _head(owner: asyncpg.Connection, tenant: str = TENANT) -> tuple[int, bytes]:
    row = await owner.fetchrow("SELECT seq, hash FROM broker.protocol_chain_heads WHERE tenant = $1", tenant)
    assert row is not None
    return int(row["seq"]), bytes(row["hash"])


# -- the signer ---------------------------------------------------------------------------------


async def test_the_signer_signs_each_moved_head_once_and_again_after_a_heartbeat(
    fresh_url: str, pool: asyncpg.Pool, writer: ProtocolWriter, key: SigningKey, logs: LogCapture
) -> None:
    clock = Clock()
    metric: dict[str | None, int] = {}
    signer = HeadSigner(pool, key, heartbeat=1800, clock=clock, on_signed=metric.__setitem__)
    await _write(writer, TENANT, 3)
    await _write(writer, OTHER, 2)
    await writer.record(refused_without_tenant())

    first = await signer.sign_round()
    again = await signer.sign_round()
    await _write(writer, TENANT, 1)
    moved = await signer.sign_round()
    clock.now += dt.timedelta(seconds=1800)
    heartbeat = await signer.sign_round()

    assert sorted((s.head.tenant, s.head.seq) for s in first) == [(NO_TENANT, 1), (TENANT, 3), (OTHER, 2)]
    assert again == ()
    assert [(s.head.tenant, s.head.seq) for s in moved] == [(TENANT, 4)]
    assert sorted((s.head.tenant, s.head.seq) for s in heartbeat) == [(NO_TENANT, 1), (TENANT, 4), (OTHER, 2)]
    assert await _signatures(fresh_url, TENANT) == [(TENANT, 3), (TENANT, 4), (TENANT, 4)]
    assert metric == {None: 1, TENANT: 4, OTHER: 2}
    signed = [e for e in logs.events if e["event"] == "protocol_head_signed"]
    assert len(signed) == 7
    assert {"tenant", "seq", "hash", "kid", "jws"} <= set(signed[0])
    assert "[redacted]" not in json.dumps(signed[0]["jws"])  # the log keeps the JWS whole
    assert not any(f"99999{i:04d}" in logs.text for i in range(3))  # no BSN anywhere


async def test_replicas_racing_to_sign_store_each_head_once(
    fresh_url: str, runtime_pool: PoolFactory, writer: ProtocolWriter, key: SigningKey
) -> None:
    clock = Clock()
    replicas = [HeadSigner(await runtime_pool(fresh_url), key, clock=clock) for _ in range(3)]
    for round_ in range(3):
        await _write(writer, TENANT, 2)
        await _write(writer, OTHER, 1)
        clock.now += dt.timedelta(seconds=60)
        stored = await asyncio.gather(*(replica.sign_round() for replica in replicas))
        assert sum(len(signatures) for signatures in stored) == 2, f"round {round_}"
    assert await _signatures(fresh_url) == [
        (TENANT, 2),
        (TENANT, 4),
        (TENANT, 6),
        (OTHER, 1),
        (OTHER, 2),
        (OTHER, 3),
    ]


async def test_the_runtime_role_cannot_change_or_remove_a_signature_nor_can_the_owner(
    fresh_url: str, pool: asyncpg.Pool, writer: ProtocolWriter, key: SigningKey
) -> None:
    await _write(writer, TENANT, 1)
    await HeadSigner(pool, key).sign_round()
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT set_config('app.tenant_id', $1, true)", TENANT)
        for statement in ("UPDATE protocol_signed_heads SET seq = 9", "DELETE FROM protocol_signed_heads"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with connection.transaction():
                    await connection.execute(statement)
    admin = await asyncpg.connect(fresh_url)
    try:
        await admin.execute("SET ROLE brp_owner")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await admin.execute("DELETE FROM broker.protocol_signed_heads")
    finally:
        await admin.close()


async def test_the_anchor_file_gets_one_line_per_signed_head(
    pool: asyncpg.Pool, writer: ProtocolWriter, key: SigningKey, keys: PublicKeys, tmp_path: Path
) -> None:
    anchor_file = tmp_path / "anchors.jsonl"
    signer = HeadSigner(pool, key, anchor_file=anchor_file)
    await _write(writer, TENANT, 2)
    await signer.sign_round()
    await _write(writer, TENANT, 1)
    await signer.sign_round()
    lines = [json.loads(line) for line in anchor_file.read_text().splitlines()]
    assert [(line["tenant"], line["seq"], line["kid"]) for line in lines] == [
        (TENANT, 2, key.key_id),
        (TENANT, 3, key.key_id),
    ]
    anchors = load_anchors([anchor_file], keys)
    assert sorted(anchors.of(TENANT)) == [2, 3]


# -- verify with the public key -----------------------------------------------------------------


async def test_an_honest_signed_chain_verifies_and_reports_its_unsigned_stretch(
    fresh_url: str, pool: asyncpg.Pool, writer: ProtocolWriter, key: SigningKey, keys: PublicKeys
) -> None:
    await _write(writer, TENANT, 3)
    await writer.record(refused_without_tenant())
    await HeadSigner(pool, key).sign_round()
    await _write(writer, TENANT, 2)  # just written: not signed yet, and young

    report = await verify(fresh_url, public_keys=keys, full=True)

    assert report.ok, format_report(report)
    status = _chain(report).signed
    assert status is not None
    assert (status.signatures, status.signed_seq, status.unsigned) == (1, 3, 2)
    assert _chain(report, NO_TENANT).signed is not None
    assert "signed=3" in format_report(report) and "unsigned=2" in format_report(report)


async def test_a_whole_chain_rewritten_with_its_signatures_left_is_caught(
    fresh_url: str,
    pool: asyncpg.Pool,
    writer: ProtocolWriter,
    key: SigningKey,
    keys: PublicKeys,
    owner: asyncpg.Connection,
) -> None:
    signer = HeadSigner(pool, key)
    await _write(writer, TENANT, 3)
    await signer.sign_round()
    await _write(writer, TENANT, 2)
    await signer.sign_round()
    await _rewrite(owner, from_seq=2)

    assert (await verify(fresh_url, full=True)).ok  # the keyless chain cannot tell
    seq, kind, detail = _first_break(await verify(fresh_url, public_keys=keys, full=True))
    assert (seq, kind) == (3, BreakKind.SIGNED)
    assert "rewritten" in detail


async def test_a_rewrite_with_the_signatures_deleted_is_caught_once_it_is_older_than_the_limit(
    fresh_url: str,
    pool: asyncpg.Pool,
    writer: ProtocolWriter,
    key: SigningKey,
    keys: PublicKeys,
    owner: asyncpg.Connection,
) -> None:
    await _write(writer, TENANT, 4)
    await HeadSigner(pool, key).sign_round()
    await _rewrite(owner, from_seq=1)
    await owner.execute("DELETE FROM broker.protocol_signed_heads WHERE tenant = $1", TENANT)

    later = dt.datetime.now(dt.UTC) + 2 * HOUR
    report = await verify(fresh_url, public_keys=keys, full=True, now=later)

    seq, kind, detail = _first_break(report)
    assert (seq, kind) == (1, BreakKind.UNSIGNED)
    assert "records 1..4 are not signed" in detail
    assert "no signed head" not in format_report(report)  # a break, not a note


async def test_deleting_the_newest_signatures_is_caught_even_when_the_unsigned_records_look_young(
    fresh_url: str,
    pool: asyncpg.Pool,
    writer: ProtocolWriter,
    key: SigningKey,
    keys: PublicKeys,
    owner: asyncpg.Connection,
) -> None:
    clock = Clock(dt.datetime.now(dt.UTC) - 3 * HOUR)
    signer = HeadSigner(pool, key, clock=clock)
    await _write(writer, TENANT, 2)
    await signer.sign_round()  # three hours ago
    await _write(writer, TENANT, 2)
    clock.now = dt.datetime.now(dt.UTC)
    await signer.sign_round()  # now: the heartbeat and this would both have kept it fresh
    await _rewrite(owner, from_seq=3)
    await owner.execute("DELETE FROM broker.protocol_signed_heads WHERE tenant = $1 AND seq > 2", TENANT)

    seq, kind, detail = _first_break(await verify(fresh_url, public_keys=keys, full=True))

    assert (seq, kind) == (2, BreakKind.UNSIGNED)
    assert "newer signatures were removed" in detail


async def test_a_rewrite_with_signatures_forged_by_another_key_is_caught(
    fresh_url: str,
    pool: asyncpg.Pool,
    writer: ProtocolWriter,
    key: SigningKey,
    keys: PublicKeys,
    owner: asyncpg.Connection,
) -> None:
    await _write(writer, TENANT, 3)
    await HeadSigner(pool, key).sign_round()
    await _rewrite(owner, from_seq=1)
    await owner.execute("DELETE FROM broker.protocol_signed_heads WHERE tenant = $1", TENANT)
    seq, hash_ = await _head(owner)
    forged = SignedHead(TENANT, seq, hash_.hex(), dt.datetime.now(dt.UTC))

    await _insert_signature(owner, generate_signing_key(), forged)
    _, kind, detail = _first_break(await verify(fresh_url, public_keys=keys, full=True))
    assert kind == BreakKind.SIGNATURE and "not among the public keys" in detail

    await owner.execute("DELETE FROM broker.protocol_signed_heads WHERE tenant = $1", TENANT)
    await _insert_signature(
        owner, generate_signing_key(key.key_id), forged
    )  # the published key id, another key
    _, kind, detail = _first_break(await verify(fresh_url, public_keys=keys, full=True))
    assert kind == BreakKind.SIGNATURE and "does not verify" in detail


async def test_a_signature_row_that_differs_from_its_jws_is_caught(
    fresh_url: str,
    pool: asyncpg.Pool,
    writer: ProtocolWriter,
    key: SigningKey,
    keys: PublicKeys,
    owner: asyncpg.Connection,
) -> None:
    await _write(writer, TENANT, 2)
    await HeadSigner(pool, key).sign_round()
    await owner.execute("UPDATE broker.protocol_signed_heads SET seq = 1 WHERE tenant = $1", TENANT)
    _, kind, detail = _first_break(await verify(fresh_url, public_keys=keys, full=True))
    assert kind == BreakKind.SIGNATURE and "differs from what its signature says" in detail


async def test_records_cut_off_after_a_signed_head_are_caught(
    fresh_url: str,
    pool: asyncpg.Pool,
    writer: ProtocolWriter,
    key: SigningKey,
    keys: PublicKeys,
    owner: asyncpg.Connection,
) -> None:
    await _write(writer, TENANT, 4)
    await HeadSigner(pool, key).sign_round()
    hash_2 = await owner.fetchval(
        "SELECT hash FROM broker.protocol_records WHERE tenant = $1 AND seq = 2", TENANT
    )
    await owner.execute("DELETE FROM broker.protocol_persons WHERE tenant = $1 AND seq > 2", TENANT)
    await owner.execute("DELETE FROM broker.protocol_records WHERE tenant = $1 AND seq > 2", TENANT)
    await owner.execute(
        "UPDATE broker.protocol_chain_heads SET seq = 2, hash = $2 WHERE tenant = $1", TENANT, hash_2
    )

    assert (await verify(fresh_url, full=True)).ok  # a shorter chain is still a chain
    seq, kind, detail = _first_break(await verify(fresh_url, public_keys=keys, full=True))
    assert (seq, kind) == (4, BreakKind.SIGNED)
    assert "removed from its end" in detail


async def test_a_forged_verified_checkpoint_does_not_let_a_rewrite_pass_with_the_keys(
    fresh_url: str,
    pool: asyncpg.Pool,
    writer: ProtocolWriter,
    key: SigningKey,
    keys: PublicKeys,
    owner: asyncpg.Connection,
) -> None:
    await _write(writer, TENANT, 3)
    await HeadSigner(pool, key).sign_round()
    await _write(writer, TENANT, 2)
    await _rewrite(owner, from_seq=1)
    seq, hash_ = await _head(owner)
    await owner.execute(
        "INSERT INTO broker.protocol_verified (tenant, through_seq, through_hash) VALUES ($1, $2, $3)",
        TENANT,
        seq,
        hash_,
    )

    assert (await verify(fresh_url)).ok  # the incremental run trusts the owner's note
    report = await verify(fresh_url, public_keys=keys)
    found, kind, _ = _first_break(report)
    assert (found, kind) == (3, BreakKind.SIGNED)
    assert "verified checkpoint 5 is not a signed head: walked from signed head 3" in format_report(report)


async def test_an_incremental_run_with_keys_continues_from_a_signed_checkpoint(
    fresh_url: str, pool: asyncpg.Pool, writer: ProtocolWriter, key: SigningKey, keys: PublicKeys
) -> None:
    signer = HeadSigner(pool, key)
    await _write(writer, TENANT, 3)
    await signer.sign_round()
    assert (await verify(fresh_url, public_keys=keys)).ok  # notes a verified checkpoint at 3
    await _write(writer, TENANT, 2)
    await signer.sign_round()

    report = await verify(fresh_url, public_keys=keys)

    assert report.ok, format_report(report)
    chain = _chain(report)
    assert (chain.records, chain.after_seq, chain.after, chain.notes) == (2, 3, "signed", ())
    assert "(after signed 3)" in format_report(report)


async def test_old_and_new_keys_verify_together_after_a_rotation_and_a_missing_key_fails(
    fresh_url: str, pool: asyncpg.Pool, writer: ProtocolWriter
) -> None:
    old, new = generate_signing_key(), generate_signing_key()
    await _write(writer, TENANT, 2)
    await HeadSigner(pool, old).sign_round()
    await _write(writer, TENANT, 2)
    await HeadSigner(pool, new).sign_round()
    both = PublicKeys.from_jwks({"keys": [old.public_jwk(), new.public_jwk()]})
    only_new = PublicKeys.from_jwks({"keys": [new.public_jwk()]})

    report = await verify(fresh_url, public_keys=both, full=True)
    assert report.ok, format_report(report)
    assert _chain(report).signed is not None and _chain(report).signed.signatures == 2  # type: ignore[union-attr]
    seq, kind, detail = _first_break(await verify(fresh_url, public_keys=only_new, full=True))
    assert (seq, kind) == (2, BreakKind.SIGNATURE)
    assert old.key_id in detail


async def test_a_signed_head_that_retention_removed_still_verifies(
    fresh_url: str, pool: asyncpg.Pool, writer: ProtocolWriter, key: SigningKey, keys: PublicKeys
) -> None:
    today = dt.datetime.now(dt.UTC)
    old = years_before(today, 21)
    admin = await asyncpg.connect(fresh_url)
    try:
        await create_partitions(admin, old.date())
    finally:
        await admin.close()
    signer = HeadSigner(pool, key)
    for _ in range(2):
        await writer.record(record(TENANT, consulted("999993653"), occurred_at=old))
    await signer.sign_round()
    await _write(writer, TENANT, 1)
    await signer.sign_round()
    await apply_retention(fresh_url)

    report = await verify(fresh_url, public_keys=keys, full=True)

    assert report.ok, format_report(report)
    assert _chain(report).records == 1


# -- anchors ------------------------------------------------------------------------------------


async def test_published_heads_pass_on_an_honest_chain_and_catch_a_rewrite_without_any_key(
    fresh_url: str,
    pool: asyncpg.Pool,
    writer: ProtocolWriter,
    key: SigningKey,
    keys: PublicKeys,
    owner: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    anchor_file = tmp_path / "anchors.jsonl"
    signer = HeadSigner(pool, key, anchor_file=anchor_file)
    await _write(writer, TENANT, 3)
    await signer.sign_round()
    await _write(writer, TENANT, 1)
    await signer.sign_round()

    honest = await verify(fresh_url, anchors=load_anchors([anchor_file], keys), public_keys=keys, full=True)
    assert honest.ok, format_report(honest)
    assert _chain(honest).signed.anchors == 2  # type: ignore[union-attr]

    await _rewrite(owner, from_seq=2)
    await owner.execute("DELETE FROM broker.protocol_signed_heads")
    seq, kind, detail = _first_break(await verify(fresh_url, anchors=load_anchors([anchor_file], None)))
    assert (seq, kind) == (3, BreakKind.ANCHOR)
    assert str(anchor_file) in detail


async def test_the_brokers_own_log_lines_serve_as_anchors(
    fresh_url: str,
    pool: asyncpg.Pool,
    writer: ProtocolWriter,
    key: SigningKey,
    keys: PublicKeys,
    owner: asyncpg.Connection,
    logs: LogCapture,
    tmp_path: Path,
) -> None:
    await _write(writer, TENANT, 2)
    await HeadSigner(pool, key).sign_round()
    log_file = tmp_path / "broker.log"
    log_file.write_text(logs.text)

    assert (await verify(fresh_url, anchors=load_anchors([log_file], keys), full=True)).ok
    await _rewrite(owner, from_seq=1)
    assert (
        _first_break(await verify(fresh_url, anchors=load_anchors([log_file], keys), full=True))[1]
        == BreakKind.ANCHOR
    )


async def test_a_published_head_of_a_chain_the_database_lost_is_caught(
    fresh_url: str,
    pool: asyncpg.Pool,
    writer: ProtocolWriter,
    key: SigningKey,
    keys: PublicKeys,
    owner: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    anchor_file = tmp_path / "anchors.jsonl"
    await _write(writer, OTHER, 3)
    await HeadSigner(pool, key, anchor_file=anchor_file).sign_round()
    for table in ("protocol_persons", "protocol_records", "protocol_chain_heads", "protocol_signed_heads"):
        await owner.execute(f"DELETE FROM broker.{table} WHERE tenant = $1", OTHER)

    seq, kind, detail = _first_break(
        await verify(fresh_url, anchors=load_anchors([anchor_file], keys)), OTHER
    )
    assert (seq, kind) == (3, BreakKind.ANCHOR)
    assert "not in the database" in detail


# -- in the app ---------------------------------------------------------------------------------


async def test_the_app_signs_heads_when_a_key_is_configured_and_publishes_them(
    settings: Settings, app_pool: asyncpg.Pool, key: SigningKey, tmp_path: Path
) -> None:
    key_file = tmp_path / "signing.jwk"
    key_file.write_text(json.dumps(key.private_jwk()))
    anchor_file = tmp_path / "anchors.jsonl"
    configured = msgspec.structs.replace(
        settings, protocol_signing_key_file=key_file, protocol_anchor_file=anchor_file
    )
    tenant = slug()
    protocol = ProtocolWriter(app_pool)
    await protocol.start()
    await protocol.record(record(tenant, consulted("999993653")))
    await protocol.stop()
    app = create_app(configured)
    async with ServerTask(app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        signer: HeadSigner = app.state.head_signer
        await signer.stop()  # its first round ran (or runs) on its own; one more here, deterministically
        await signer.sign_round()
        metrics = (await client.get("/metrics")).text

    published = [json.loads(line) for line in anchor_file.read_text().splitlines()]
    assert [(line["seq"], line["kid"]) for line in published if line["tenant"] == tenant] == [(1, key.key_id)]
    assert f'brp_broker_protocol_signed_head_seq{{tenant="{tenant}"}} 1.0' in metrics


async def test_the_app_does_not_start_with_an_unusable_signing_key(
    settings: Settings, tmp_path: Path
) -> None:
    broken = msgspec.structs.replace(settings, protocol_signing_key_file=tmp_path / "missing.jwk")
    with pytest.raises(BaseExceptionGroup) as raised:  # Litestar runs the lifespan in a task group
        async with create_app(broken).lifespan():
            pass
    assert raised.group_contains(SigningKeyError, match="^BROKER_PROTOCOL_SIGNING_KEY_FILE: ")
    assert not hasattr(create_app(settings).state, "head_signer")  # no key: no signer


async def test_a_malformed_signature_row_of_the_runtime_role_is_a_break_not_a_crash(
    fresh_url: str, pool: asyncpg.Pool, writer: ProtocolWriter, key: SigningKey, keys: PublicKeys
) -> None:
    await _write(writer, TENANT, 2)
    await _write(writer, OTHER, 2)
    await HeadSigner(pool, key).sign_round()
    seq, hash_ = 2, b"\x00" * 32
    payload = SignedHead(OTHER, seq, hash_.hex(), dt.datetime.now(dt.UTC))
    token = key.sign(payload)
    _, body, signature = token.split(".")
    # The runtime role may insert (the signer does): for any tenant it scopes itself to.
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT set_config('app.tenant_id', $1, true)", OTHER)
        for number, alg in enumerate((["Ed25519"], {"Ed25519": 1}), start=1):
            header = {"alg": alg, "kid": key.key_id, "typ": "brp-broker-head+json"}
            protected = _b64url(json.dumps(header).encode())
            await connection.execute(
                "INSERT INTO protocol_signed_heads (tenant, seq, hash, signed_at, key_id, jws) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                OTHER,
                seq,
                hash_,
                payload.signed_at + dt.timedelta(seconds=number),
                key.key_id,
                f"{protected}.{body}.{signature}",
            )

    report = await verify(fresh_url, public_keys=keys, full=True)

    assert _chain(report, TENANT).ok
    seq_, kind, detail = _first_break(report, OTHER)
    assert (seq_, kind) == (seq, BreakKind.SIGNATURE) and "not a signed head" in detail


def _b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_an_anchor_line_that_is_no_head_is_refused_by_name_never_trusted_nor_echoed(
    key: SigningKey, tmp_path: Path
) -> None:
    from app.protocol.anchors import AnchorError

    now = dt.datetime.now(dt.UTC)
    hash_ = "0" * 64
    escape = "\x1b]0;pwned\x07"
    cases = {
        # Beyond PostgreSQL's bigint: verify would crash looking it up.
        "seq": key.sign(SignedHead(TENANT, 2**70, hash_, now)),
        # A tenant with terminal escapes: the report prints tenants.
        "tenant": key.sign(SignedHead(TENANT + escape, 1, hash_, now)),
    }
    for name, token in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text(json.dumps({"jws": token}) + "\n")
        with pytest.raises(AnchorError) as raised:
            load_anchors([path], None)
        assert escape not in str(raised.value)
    unknown = tmp_path / "unknown.jsonl"
    header, _, signature = cases["seq"].split(".")
    body = _b64url(
        json.dumps(
            {"tenant": TENANT, "seq": 1, "hash": hash_, "signed_at": now.isoformat(), escape: 1}
        ).encode()
    )
    unknown.write_text(json.dumps({"jws": f"{header}.{body}.{signature}"}) + "\n")
    with pytest.raises(AnchorError) as raised:
        load_anchors([unknown], None)
    assert escape not in str(raised.value) and "\x1b" not in str(raised.value)
    huge = tmp_path / "huge.jsonl"
    huge.write_bytes(b"x" * (2 << 20))  # one line, no newline: never read whole
    with pytest.raises(AnchorError, match="too long"):
        load_anchors([huge], None)


async def test_the_runtime_role_cannot_thin_signatures_by_setting_the_thinning_flag(
    fresh_url: str, pool: asyncpg.Pool, writer: ProtocolWriter, key: SigningKey
) -> None:
    await _write(writer, TENANT, 1)
    await HeadSigner(pool, key).sign_round()
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT set_config('app.tenant_id', $1, true)", TENANT)
        await connection.execute("SELECT set_config('broker.thinning_signed_heads', 'on', true)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with connection.transaction():
                await connection.execute("DELETE FROM protocol_signed_heads")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with connection.transaction():
                await connection.fetch(
                    "SELECT * FROM broker.protocol_thin_signed_heads($1, now() - interval '2 days')", TENANT
                )
    assert await _signatures(fresh_url, TENANT) == [(TENANT, 1)]
