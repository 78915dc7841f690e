"""The audit log in PostgreSQL: chained per tenant, append-only for everyone, tenant-isolated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg
import pytest

from app.audit import (
    AuditBreakKind,
    AuditEntry,
    AuditError,
    AuditFilter,
    AuditQueryError,
    append_change,
    fingerprint_secret,
    read_audit,
    verify_audit,
)
from app.db import tenant_scope

Connect = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


def _entry(tenant: str, key: str, **overrides: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "tenant": tenant,
        "actor": f"{tenant}:A1",
        "role": "tenant-admin",
        "via": "api",
        "source": None,
        "resource": "rule",
        "key": key,
        "action": "add",
        "before": None,
        "after": {"name": key, "who": ["role:burgerzaken"], "rate": 1e300},
        "correlation_id": f"corr-{key}",
    }
    return AuditEntry(**{**values, **overrides})


async def _append(pool: asyncpg.Pool, *entries: AuditEntry) -> None:
    for entry in entries:
        async with tenant_scope(pool, entry.tenant) as connection:
            await append_change(connection, entry)


async def test_each_tenant_has_its_own_chain_and_it_verifies(
    runtime_pool: asyncpg.Pool, as_owner: Connect
) -> None:
    await _append(
        runtime_pool, _entry("aa", "r1"), _entry("bb", "r1"), _entry("aa", "r2"), _entry("aa", "r3")
    )
    page = await read_audit(runtime_pool, "aa")
    assert [(r.seq, r.key) for r in page.entries] == [(3, "r3"), (2, "r2"), (1, "r1")]
    assert page.entries[0].after == {"name": "r3", "who": ["role:burgerzaken"], "rate": 1e300}
    assert (await verify_audit(runtime_pool, "aa")).ok
    async with as_owner() as owner:
        report = await verify_audit(owner)
    assert report.ok
    assert [(c.tenant, c.entries, c.head_seq) for c in report.chains] == [("aa", 3, 3), ("bb", 1, 1)]


async def test_an_entry_rolls_back_with_its_change(runtime_pool: asyncpg.Pool) -> None:
    with pytest.raises(RuntimeError):
        async with tenant_scope(runtime_pool, "aa") as connection:
            await append_change(connection, _entry("aa", "r1"))
            raise RuntimeError("the change failed")
    await _append(runtime_pool, _entry("aa", "r2"))
    page = await read_audit(runtime_pool, "aa")
    assert [(r.seq, r.key) for r in page.entries] == [(1, "r2")]
    assert (await verify_audit(runtime_pool, "aa")).ok


async def test_an_entry_is_appended_only_inside_its_tenants_transaction(runtime_pool: asyncpg.Pool) -> None:
    async with runtime_pool.acquire() as connection:
        with pytest.raises(AuditError, match="inside the transaction"):
            await append_change(connection, _entry("aa", "r1"))
    async with tenant_scope(runtime_pool, "aa") as connection:
        with pytest.raises(AuditError, match="in that tenant's scope"):
            await append_change(connection, _entry("bb", "r1"))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE broker.audit_log SET actor = 'someone else'",
        "DELETE FROM broker.audit_log",
        "TRUNCATE broker.audit_log",
        "DELETE FROM broker.audit_chain_heads",
        "TRUNCATE broker.audit_chain_heads",
    ],
)
async def test_the_audit_log_is_append_only_for_the_runtime_role_and_the_owner(
    runtime_pool: asyncpg.Pool, as_owner: Connect, as_superuser: Connect, statement: str
) -> None:
    await _append(runtime_pool, _entry("aa", "r1"))
    async with tenant_scope(runtime_pool, "aa") as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute(statement)
    for connect in (as_owner, as_superuser):
        async with connect() as connection, connection.transaction():
            await connection.execute("SELECT set_config('app.tenant_id', 'aa', true)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await connection.execute(statement)
    assert (await verify_audit(runtime_pool, "aa")).ok
    assert len((await read_audit(runtime_pool, "aa")).entries) == 1


async def test_a_chain_head_only_moves_forward(runtime_pool: asyncpg.Pool) -> None:
    await _append(runtime_pool, _entry("aa", "r1"), _entry("aa", "r2"))
    async with tenant_scope(runtime_pool, "aa") as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="only moves forward"):
            await connection.execute("UPDATE broker.audit_chain_heads SET seq = 1")


async def _tamper(as_superuser: Connect, *statements: str) -> None:
    # What only someone with full control of the database can do: lift the triggers and RLS.
    async with as_superuser() as connection, connection.transaction():
        for table in ("audit_log", "audit_chain_heads"):
            await connection.execute(f"ALTER TABLE broker.{table} DISABLE TRIGGER USER")
        for statement in statements:
            await connection.execute(statement)
        for table in ("audit_log", "audit_chain_heads"):
            await connection.execute(f"ALTER TABLE broker.{table} ENABLE TRIGGER USER")


@pytest.mark.parametrize(
    ("statements", "kind", "seq"),
    [
        (
            ['UPDATE broker.audit_log SET after = \'{"name": "r2", "who": ["tenant"]}\' WHERE seq = 2'],
            AuditBreakKind.CHANGED,
            2,
        ),
        (["UPDATE broker.audit_log SET actor = 'tenants apply' WHERE seq = 1"], AuditBreakKind.CHANGED, 1),
        (["DELETE FROM broker.audit_log WHERE seq = 2"], AuditBreakKind.MISSING, 2),
        (["DELETE FROM broker.audit_log WHERE seq = 3"], AuditBreakKind.HEAD, 3),
        (
            ["UPDATE broker.audit_log SET prev_hash = hash WHERE seq = 3"],
            AuditBreakKind.LINK,
            3,
        ),
        (
            [
                "DELETE FROM broker.audit_log WHERE seq = 3",
                "UPDATE broker.audit_chain_heads SET seq = 2 WHERE true",
            ],
            AuditBreakKind.HEAD,
            2,
        ),
    ],
)
async def test_verify_finds_the_first_tampered_entry(
    runtime_pool: asyncpg.Pool,
    as_owner: Connect,
    as_superuser: Connect,
    statements: list[str],
    kind: AuditBreakKind,
    seq: int,
) -> None:
    await _append(
        runtime_pool, _entry("aa", "r1"), _entry("aa", "r2"), _entry("aa", "r3"), _entry("bb", "r1")
    )
    await _tamper(as_superuser, *[s.replace("WHERE", "WHERE tenant = 'aa' AND") for s in statements])
    async with as_owner() as owner:
        report = await verify_audit(owner)
    assert not report.ok
    broken = {chain.tenant: chain.first_break for chain in report.chains}
    assert broken["bb"] is None
    assert broken["aa"] is not None
    assert (broken["aa"].kind, broken["aa"].seq) == (kind, seq)


async def test_tenant_a_cannot_read_tenant_b_audit(runtime_pool: asyncpg.Pool, as_owner: Connect) -> None:
    await _append(runtime_pool, _entry("aa", "r1"), _entry("bb", "secret-rule"))
    assert [r.tenant for r in (await read_audit(runtime_pool, "aa")).entries] == ["aa"]
    async with tenant_scope(runtime_pool, "aa") as connection:
        # Whatever the query asks for, row-level security shows A's rows only.
        assert (await read_audit(connection, "bb")).entries == ()
        assert [r.tenant for r in (await read_audit(connection)).entries] == ["aa"]
        assert await connection.fetchval("SELECT count(*) FROM broker.audit_log") == 1
        assert await connection.fetchval("SELECT count(*) FROM broker.audit_chain_heads") == 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await connection.execute(
                "INSERT INTO broker.audit_log (tenant, seq, recorded_at, actor, role, via, resource, key, "
                "action, prev_hash, hash) VALUES ('bb', 2, now(), 'x', 'x', 'api', 'rule', 'x', 'add', "
                "'\\x00'::bytea, '\\x00'::bytea)"
            )
    async with runtime_pool.acquire() as connection:
        # No tenant named: nothing (fail closed).
        assert await connection.fetchval("SELECT count(*) FROM broker.audit_log") == 0
    async with as_owner() as owner:
        assert sorted(r.tenant for r in (await read_audit(owner)).entries) == ["aa", "bb"]


async def test_secrets_never_reach_the_stored_entry(
    runtime_pool: asyncpg.Pool, as_superuser: Connect
) -> None:
    plaintext = "hunter2-plain-secret"
    reference = "env:AFNEMER_000301_SECRET"
    before = {"afnemer_id": "000301", "client_secret": reference}
    after = {"afnemer_id": "000301", "client_secret": plaintext, "nested": [{"client_secret": plaintext}]}
    await _append(
        runtime_pool, _entry("aa", "000301", resource="afnemer", action="change", before=before, after=after)
    )
    async with as_superuser() as connection:
        stored = await connection.fetchval(
            "SELECT before::text || after::text FROM broker.audit_log WHERE tenant = 'aa'"
        )
    assert plaintext not in stored
    assert "AFNEMER_000301_SECRET" not in stored
    record = (await read_audit(runtime_pool, "aa")).entries[0]
    assert record.before == {"afnemer_id": "000301", "client_secret": fingerprint_secret(reference)}
    assert record.after == {
        "afnemer_id": "000301",
        "client_secret": "redacted",
        "nested": [{"client_secret": "redacted"}],
    }


async def test_reading_filters_and_pages(runtime_pool: asyncpg.Pool, as_owner: Connect) -> None:
    await _append(
        runtime_pool,
        _entry("aa", "r1"),
        _entry("aa", "000301", resource="afnemer", actor="operator:op1", role="operator"),
        _entry("bb", "r1"),
        _entry("aa", "r2"),
        _entry("aa", "r3", action="remove", before={"name": "r3"}, after=None),
    )
    rules = await read_audit(runtime_pool, "aa", AuditFilter(resource="rule"))
    assert [r.key for r in rules.entries] == ["r3", "r2", "r1"]
    assert rules.entries[0].before == {"name": "r3"} and rules.entries[0].after is None
    by_operator = await read_audit(runtime_pool, "aa", AuditFilter(actor="operator:op1"))
    assert [r.key for r in by_operator.entries] == ["000301"]
    now = dt.datetime.now(dt.UTC)
    assert (
        await read_audit(runtime_pool, "aa", AuditFilter(since=now + dt.timedelta(hours=1)))
    ).entries == ()
    assert (
        len((await read_audit(runtime_pool, "aa", AuditFilter(until=now + dt.timedelta(hours=1)))).entries)
        == 4
    )
    assert (
        await read_audit(runtime_pool, "aa", AuditFilter(until=now - dt.timedelta(hours=1)))
    ).entries == ()

    seen: list[tuple[str, int]] = []
    cursor: str | None = None
    async with as_owner() as owner:
        while True:
            page = await read_audit(owner, limit=2, cursor=cursor)
            seen += [(r.tenant, r.seq) for r in page.entries]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert sorted(seen) == [("aa", 1), ("aa", 2), ("aa", 3), ("aa", 4), ("bb", 1)]
    assert len(seen) == len(set(seen))
    with pytest.raises(AuditQueryError, match="cursor"):
        await read_audit(runtime_pool, "aa", cursor="not-a-cursor")
    with pytest.raises(AuditQueryError, match="limit"):
        await read_audit(runtime_pool, "aa", limit=0)
