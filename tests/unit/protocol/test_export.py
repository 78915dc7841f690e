"""`verify_export` offline, on exports built here: both chain formats, and what it refuses to read."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import msgspec
import pytest

from app.brp import PersonRef, PersonRole
from app.protocol import ExportBreakKind, ExportError, ExportManifest, ProtocolRecord, verify_export
from app.protocol.chain import ChainedRecord, chained, genesis_hash, link_hash, linked_hash, record_digest
from app.protocol.export import ChainPoint, format_export_report, manifest_path

TENANT = "gemeente-a"


def _record(seq: int, now: dt.datetime) -> ChainedRecord:
    record = ProtocolRecord(
        tenant=TENANT,
        occurred_at=now + dt.timedelta(seconds=seq),
        correlation_id=f"c-{seq}",
        api="personen",
        status=200,
        latency_ms=1.5,
        search_parameters={"burgerservicenummer": ["999993653"]},
        persons=(PersonRef("999993653", PersonRole.CONSULTED),),
    )
    return msgspec.structs.replace(chained(record), seq=seq, recorded_at=now + dt.timedelta(seconds=seq))


def _write_export(path: Path, *, old_format_through: int, count: int = 4) -> ExportManifest:
    """A JSONL export of records 1..count: format 1 up to `old_format_through`, format 2 after."""
    now = dt.datetime.now(dt.UTC)
    prev, lines = genesis_hash(TENANT), []
    for seq in range(1, count + 1):
        record = _record(seq, now)
        own = (
            link_hash(prev, record)
            if seq <= old_format_through
            else linked_hash(prev, seq, record_digest(record))
        )
        lines.append(
            msgspec.json.encode({"record": record, "prev_hash": prev.hex(), "hash": own.hex()}) + b"\n"
        )
        prev = own
    data = b"".join(lines)
    path.write_bytes(data)
    manifest = ExportManifest(
        manifest_version=1,
        tenant=TENANT,
        period_from=now - dt.timedelta(days=1),
        period_to=now + dt.timedelta(days=1),
        format="jsonl",
        records=count,
        first_seq=1,
        last_seq=count,
        start_hash=genesis_hash(TENANT).hex(),
        last_hash=prev.hex(),
        head=ChainPoint(count, prev.hex()),
        verified=None,
        sha256=hashlib.sha256(data).hexdigest(),
        broker_version="test",
        created_at=now,
    )
    manifest_path(path).write_bytes(msgspec.json.encode(manifest))
    return manifest


def test_records_from_before_migration_0012_verify_beside_newer_ones(tmp_path: Path) -> None:
    out = tmp_path / "mixed.jsonl"
    _write_export(out, old_format_through=2)
    report = verify_export(out)
    assert report.ok, report.first_break
    assert report.records == 4
    line = format_export_report(report)
    assert line.startswith(f"{out}\t{TENANT}\trecords=4\tseq=1..4\tlast=4:") and line.endswith("\tok")


def test_a_changed_person_names_its_seq(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    _write_export(out, old_format_through=0)
    lines = out.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b"999993653", b"999990019", 1)
    out.write_bytes(b"".join(lines))
    report = verify_export(out)
    assert report.first_break is not None
    assert (report.first_break.seq, report.first_break.kind) == (2, ExportBreakKind.CHANGED)
    assert "BROKEN at seq 2 (changed): the record does not match its hash" in format_export_report(report)


def test_a_line_that_is_no_record_is_a_break_not_a_crash(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    _write_export(out, old_format_through=0)
    lines = out.read_bytes().splitlines(keepends=True)
    lines[2] = b"not json\n"
    out.write_bytes(b"".join(lines))
    broken = verify_export(out).first_break
    assert broken is not None and (broken.seq, broken.kind) == (3, ExportBreakKind.CHANGED)


def test_swapped_lines_are_caught(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    _write_export(out, old_format_through=0)
    lines = out.read_bytes().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    out.write_bytes(b"".join(lines))
    broken = verify_export(out).first_break
    assert broken is not None and (broken.seq, broken.kind) == (2, ExportBreakKind.MISSING)


def test_an_export_without_a_readable_manifest_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    _write_export(out, old_format_through=0)
    manifest_path(out).write_text("{}")
    with pytest.raises(ExportError, match="not an export manifest"):
        verify_export(out)
    manifest_path(out).unlink()
    with pytest.raises(ExportError, match="cannot read the manifest"):
        verify_export(out)
