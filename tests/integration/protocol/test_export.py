"""`protocol export` and `protocol verify --export`: a tenant's stretch of the chain, checked offline."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from app import cli
from app.protocol import ExportBreakKind, ExportError, ProtocolWriter, export, verify, verify_export
from app.protocol.chain import genesis_hash
from app.protocol.export import EXPORT_BATCH, manifest_path
from tests.integration.protocol.factories import PoolFactory, consulted, found, record, slug

TENANT = "gemeente-a"
OTHER = "gemeente-b"


class Chains:
    """Two tenants' chains in a fresh database, and when their records arrived."""

    def __init__(self, url: str, moments: list[dt.datetime], other_ids: list[str]) -> None:
        self.url = url
        self.moments = moments
        self.other_ids = other_ids


@pytest.fixture
async def chains(fresh_url: str, runtime_pool: PoolFactory) -> Chains:
    """Five records of TENANT one second apart, interleaved with three of OTHER."""
    writer = ProtocolWriter(await runtime_pool(fresh_url))
    await writer.start()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10)
    moments, other_ids = [], []
    try:
        for i in range(5):
            moment = start + dt.timedelta(seconds=i)
            moments.append(moment)
            await writer.record(
                record(TENANT, consulted(f"99999{i:04d}") + found("999990019"), occurred_at=moment)
            )
            if i < 3:
                other = record(OTHER, consulted("999990020"), occurred_at=moment)
                other_ids.append(other.correlation_id)
                await writer.record(other)
    finally:
        await writer.stop()
    return Chains(fresh_url, moments, other_ids)


def _wide(chains: Chains) -> dict[str, dt.datetime]:
    return {
        "from_": chains.moments[0] - dt.timedelta(days=1),
        "to": chains.moments[-1] + dt.timedelta(days=1),
    }


async def test_an_export_of_a_tenant_verifies_offline(chains: Chains, tmp_path: Path) -> None:
    await verify(chains.url)  # leaves a verified checkpoint at 5
    out = tmp_path / "a.jsonl"
    manifest = await export(chains.url, TENANT, fmt="jsonl", out=out, **_wide(chains))
    assert (manifest.records, manifest.first_seq, manifest.last_seq) == (5, 1, 5)
    assert manifest.start_hash == genesis_hash(TENANT).hex()
    assert manifest.head is not None and manifest.head.seq == 5 and manifest.head.hash == manifest.last_hash
    assert manifest.verified is not None and manifest.verified.seq == 5
    assert json.loads(manifest_path(out).read_text())["sha256"] == manifest.sha256
    report = verify_export(out)
    assert report.ok, report.first_break
    assert report.records == 5
    assert not out.with_name("a.jsonl.partial").exists()


async def test_another_tenants_records_are_never_in_the_export(chains: Chains, tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    await export(chains.url, TENANT, fmt="jsonl", out=out, **_wide(chains))
    text = out.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert {line["record"]["tenant"] for line in lines} == {TENANT}
    assert not any(correlation_id in text for correlation_id in chains.other_ids)
    assert "999990020" not in text


async def test_a_changed_field_names_its_seq(chains: Chains, tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    await export(chains.url, TENANT, fmt="jsonl", out=out, **_wide(chains))
    lines = out.read_text().splitlines(keepends=True)
    changed = json.loads(lines[2])
    changed["record"]["doelbinding"] = "iets anders"
    lines[2] = json.dumps(changed) + "\n"
    out.write_text("".join(lines))
    broken = verify_export(out).first_break
    assert broken is not None
    assert (broken.seq, broken.kind) == (3, ExportBreakKind.CHANGED)


async def test_a_removed_line_is_caught(chains: Chains, tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    await export(chains.url, TENANT, fmt="jsonl", out=out, **_wide(chains))
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:1] + lines[2:]))
    broken = verify_export(out).first_break
    assert broken is not None
    assert (broken.seq, broken.kind) == (2, ExportBreakKind.MISSING)


async def test_a_removed_last_line_is_caught(chains: Chains, tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    await export(chains.url, TENANT, fmt="jsonl", out=out, **_wide(chains))
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:-1]))
    broken = verify_export(out).first_break
    assert broken is not None
    assert (broken.seq, broken.kind) == (5, ExportBreakKind.MISSING)


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("records", 4, ExportBreakKind.MANIFEST),
        ("last_hash", "00" * 32, ExportBreakKind.MANIFEST),
        ("sha256", "00" * 32, ExportBreakKind.FILE),
        ("start_hash", "00" * 32, ExportBreakKind.MANIFEST),
        ("tenant", OTHER, ExportBreakKind.MANIFEST),
    ],
)
async def test_a_changed_manifest_is_caught(
    chains: Chains, tmp_path: Path, field: str, value: object, kind: ExportBreakKind
) -> None:
    out = tmp_path / "a.jsonl"
    await export(chains.url, TENANT, fmt="jsonl", out=out, **_wide(chains))
    manifest = json.loads(manifest_path(out).read_text())
    manifest[field] = value
    manifest_path(out).write_text(json.dumps(manifest))
    report = verify_export(out)
    assert report.first_break is not None
    assert report.first_break.kind == kind


async def test_the_period_is_from_inclusive_to_exclusive(chains: Chains, tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    manifest = await export(
        chains.url, TENANT, from_=chains.moments[1], to=chains.moments[3], fmt="jsonl", out=out
    )
    assert (manifest.records, manifest.first_seq, manifest.last_seq) == (2, 2, 3)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["record"]["seq"] for line in lines] == [2, 3]
    # A continuation: it starts at the hash of record 1.
    assert manifest.start_hash == lines[0]["prev_hash"] != genesis_hash(TENANT).hex()
    assert verify_export(out).ok


async def test_an_empty_period_is_an_empty_export_that_verifies(chains: Chains, tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    later = chains.moments[-1] + dt.timedelta(hours=1)
    manifest = await export(
        chains.url, TENANT, from_=later, to=later + dt.timedelta(hours=1), fmt="jsonl", out=out
    )
    assert (manifest.records, manifest.first_seq, manifest.last_seq, manifest.last_hash) == (
        0,
        None,
        None,
        None,
    )
    assert manifest.head is not None and manifest.head.seq == 5
    assert out.read_bytes() == b""
    report = verify_export(out)
    assert report.ok and report.records == 0


async def test_csv_carries_the_fields_but_is_not_verified_offline(chains: Chains, tmp_path: Path) -> None:
    out = tmp_path / "a.csv"
    manifest = await export(chains.url, TENANT, fmt="csv", out=out, **_wide(chains))
    rows = out.read_text().splitlines()
    assert len(rows) == 1 + manifest.records == 6
    assert rows[0].startswith("tenant,seq,occurred_at")
    assert rows[0].endswith("prev_hash,hash")
    with pytest.raises(ExportError, match="only a JSONL export"):
        verify_export(out)


async def test_a_large_export_streams_through_the_cursor(
    fresh_url: str, runtime_pool: PoolFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant, total = slug(), 20_000
    writer = ProtocolWriter(await runtime_pool(fresh_url), max_pending=total)
    await writer.start()
    try:
        for _ in range(total // 2000):
            await _gather(writer, [record(tenant, consulted("999990019")) for _ in range(2000)])
    finally:
        await writer.stop()
    cursors: list[dict[str, Any]] = []
    real_cursor: Callable[..., Any] = asyncpg.connection.Connection.cursor

    def spy(self: asyncpg.Connection, query: str, *args: object, **kwargs: Any) -> Any:
        cursors.append(kwargs)
        return real_cursor(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "cursor", spy)
    out = tmp_path / "big.jsonl"
    on_disk: list[tuple[int, int]] = []

    def progress(records: int) -> None:
        # Written as it goes: every reported record is already in the (partial) file.
        partial = out.with_name(out.name + ".partial")
        on_disk.append((records, partial.read_bytes().count(b"\n")))

    now = dt.datetime.now(dt.UTC)
    manifest = await export(
        fresh_url,
        tenant,
        from_=now - dt.timedelta(days=1),
        to=now + dt.timedelta(days=1),
        fmt="jsonl",
        out=out,
        progress=progress,
    )
    assert manifest.records == total
    assert cursors == [{"prefetch": EXPORT_BATCH}]
    assert len(on_disk) == total // EXPORT_BATCH + 1
    assert all(records == lines for records, lines in on_disk)
    assert verify_export(out).ok


async def _gather(writer: ProtocolWriter, records: list[Any]) -> None:
    await asyncio.gather(*(writer.record(r) for r in records))


def test_the_cli_exports_and_verifies_without_a_database(
    chains: Chains, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _cli_environment(monkeypatch)
    monkeypatch.setenv("BROKER_DATABASE_URL", chains.url)
    out = tmp_path / "a.jsonl"
    day = chains.moments[0].date()
    period = [
        "--from",
        (day - dt.timedelta(days=1)).isoformat(),
        "--to",
        (day + dt.timedelta(days=2)).isoformat(),
    ]
    assert cli.main(["protocol", "export", "--tenant", TENANT, *period, "--out", str(out)]) == 0
    assert f"{TENANT}\trecords=5\tseq=1..5" in capsys.readouterr().out

    monkeypatch.delenv("BROKER_DATABASE_URL")  # offline: no database at all
    assert cli.main(["protocol", "verify", "--export", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.endswith("\tok") and "records=5" in line

    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:3] + lines[4:]))
    assert cli.main(["protocol", "verify", "--export", str(out)]) == 1
    assert "BROKEN at seq 4 (missing)" in capsys.readouterr().out

    assert cli.main(["protocol", "verify", "--export", str(tmp_path / "nothing.jsonl")]) == 2
    (error,) = capsys.readouterr().err.strip().splitlines()
    assert error.startswith("brp-broker: ") and "nothing.jsonl.manifest.json" in error


def test_the_cli_refuses_a_tenant_that_never_existed_and_a_backward_period(
    chains: Chains, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _cli_environment(monkeypatch)
    monkeypatch.setenv("BROKER_DATABASE_URL", chains.url)
    out = tmp_path / "a.jsonl"
    today = dt.datetime.now(dt.UTC).date()
    period = ["--from", today.isoformat(), "--to", (today + dt.timedelta(days=1)).isoformat()]
    assert cli.main(["protocol", "export", "--tenant", "nooit-bestaan", *period, "--out", str(out)]) == 2
    assert "nooit-bestaan" in capsys.readouterr().err
    backward = ["--from", period[3], "--to", period[1]]
    assert cli.main(["protocol", "export", "--tenant", TENANT, *backward, "--out", str(out)]) == 2
    assert "--from" in capsys.readouterr().err
    assert not out.exists()


def _cli_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No BROKER_* from the test's environment; logging left as the test session set it up.

    (`main` would point the log at this test's captured stream, closed after it.)
    """
    monkeypatch.setattr(cli, "configure_logging", lambda *_args: None)
    for name in os.environ:
        if name.startswith("BROKER_"):
            monkeypatch.delenv(name)
