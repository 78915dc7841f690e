"""`brp-broker audit verify`: the operator's check of the audit chains, as `protocol verify` is."""

from __future__ import annotations

import asyncpg

from tests.integration.audit.test_audit_log import Connect, _append, _entry, _tamper
from tests.integration.test_cli import _one_line, _run


async def test_audit_verify_reports_intact_then_the_first_tampered_entry(
    owner_url: str, runtime_pool: asyncpg.Pool, as_superuser: Connect
) -> None:
    await _append(runtime_pool, _entry("aa", "r1"), _entry("aa", "r2"), _entry("bb", "r1"))
    env = {"BROKER_DATABASE_OWNER_URL": owner_url}

    intact = _run("audit", "verify", env=env)
    assert intact.returncode == 0, intact.stderr
    lines = intact.stdout.strip().splitlines()
    assert [line.split("\t")[:2] for line in lines[:-1]] == [["aa", "entries=2"], ["bb", "entries=1"]]
    assert lines[-1] == "audit chain intact"

    await _tamper(
        as_superuser, "UPDATE broker.audit_log SET actor = 'someone' WHERE tenant = 'aa' AND seq = 2"
    )
    broken = _run("audit", "verify", "--tenant", "aa", env=env)
    assert broken.returncode == 1
    assert "BROKEN at seq 2 (changed)" in broken.stdout
    assert broken.stdout.strip().endswith("audit chain BROKEN")


def test_audit_verify_of_a_tenant_the_broker_never_had_is_refused(owner_url: str) -> None:
    done = _run("audit", "verify", "--tenant", "nope", env={"BROKER_DATABASE_OWNER_URL": owner_url})
    assert done.returncode == 2
    assert "no such tenant" in _one_line(done)
