"""Export a stretch of one tenant's protocol for archive and audit, and verify such an export offline.

`export(url, tenant, from_=..., to=..., fmt=..., out=...)` writes every record of `tenant` from
its first record with `from_ <= occurred_at` to its last with `occurred_at < to` (the bounds of
`inzage`), in sequence order, as it reads them: a server-side cursor inside one read-only REPEATABLE READ
transaction as the owner role, scoped to the tenant (`WHERE tenant = $1`, as `verify`), so memory
stays constant for any size. The stretch is contiguous by sequence number: a record committed
between two of the period but that arrived just outside it (arrival and commit order differ by a
few milliseconds) is included, or the exported chain would have a hole. `export_lines` and
`export_manifest` are the same two steps for a caller that holds its own transaction (the admin
API's streamed export, as the runtime role).

Formats
-------
- **jsonl**: one JSON object per line, `{"record": ..., "prev_hash": hex, "hash": hex}`, where
  `record` is the record's chained form (`ChainedRecord`: exactly what `app.protocol.chain`
  hashes, persons included). An auditor re-encodes it canonically and recomputes its link, in
  format 2 (`linked_hash(prev, seq, record_digest)`) or, for a record from before migration 0012,
  format 1 — as `verify` does.
- **csv**: the same fields, one column each; lists as JSON arrays, `None` as an empty cell, and a
  cell a spreadsheet would run as a formula prefixed with `'` (as `inzage`). CSV cannot tell
  `None` from an empty text, and the prefix changes values, so a CSV export is for reading; its
  integrity as a file is in the manifest's SHA-256, but only a JSONL export can be verified
  record by record (`verify_export` refuses a CSV).
- **ldv**: the records as Logboek Dataverwerkingen lines (`app.protocol.ldv`, LDV 1.0.0), one
  JSON line per LDV record, the same lines (and ids) the delivery to the tenant's Logboek sends;
  data subjects encrypted to the tenant's `[ldv] subject_key` (an export without one is refused:
  a BSN never leaves in clear). It is derived data: the manifest carries the chain proof of the
  protocol records the lines were made from (and `lines`, their number), so the JSONL export of
  the same period proves them; the lines themselves cannot be re-hashed into the chain, and
  `verify_export` refuses an LDV export.

The manifest
------------
A separate file, `FILE.manifest.json`, not a first or last line: the manifest carries the SHA-256
of the export file, which a line of that file cannot hold; the record count and last hash are
known only at the end of a stream; and a file of records only stays a plain JSONL/CSV file that
any tool reads. It holds the tenant, the period, the format, the count, the first and last
sequence numbers, `start_hash` (the `prev_hash` of the first exported record, so the stretch can
be checked as the continuation of an earlier export or of a published head), `last_hash`, the
chain head and the latest verified checkpoint at export time (same snapshot), the file's SHA-256,
the broker version and the time of the export. The manifest is not signed: compare its
`last_hash` (or `start_hash`) with the heads published from `protocol verify`.

`verify_export(path)` needs no database: it re-hashes every record from the manifest's
`start_hash` and checks the links, the sequence, the tenant, the count, first/last seq, the last
hash and the file's SHA-256, and reports the first break. The file is written under a temporary
name and renamed when complete, the manifest after it. Never logs or prints a record: an export
holds BSNs and search parameters; reports hold sequence numbers, hashes and counts only.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import hashlib
import importlib.metadata
import io
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import IO, Final, Literal

import asyncpg
import msgspec

from app.protocol.access import Connection, operator_connection
from app.protocol.chain import (
    ChainedRecord,
    genesis_hash,
    link_hash,
    linked_hash,
    normalise_time,
    record_digest,
)
from app.protocol.ldv import LdvContext
from app.protocol.ldv_subjects import LdvKeyError

__all__ = [
    "EXPORT_BATCH",
    "RECORD_SELECT",
    "ExportBreak",
    "ExportBreakKind",
    "ExportError",
    "ExportFormat",
    "ExportManifest",
    "ExportReport",
    "ExportTally",
    "export",
    "export_lines",
    "export_manifest",
    "format_export_report",
    "manifest_bytes",
    "manifest_path",
    "record_from_row",
    "verify_export",
]

ExportFormat = Literal["jsonl", "csv", "ldv"]
EXPORT_FORMATS: Final[tuple[ExportFormat, ...]] = ("jsonl", "csv", "ldv")
# Rows fetched per round trip of the cursor: what an export holds in memory at most.
EXPORT_BATCH: Final = 1000
MANIFEST_VERSION: Final = 1

_STORED: Final = tuple(name for name in ChainedRecord.__struct_fields__ if name != "persons")
_AS_STORED: Final = {"search_parameters": "r.search_parameters::text AS search_parameters"}
# The seq range of the period first (pruned to its months), then the contiguous stretch by seq.
_RANGE: Final = """
SELECT min(seq) AS first_seq, max(seq) AS last_seq FROM protocol_records
WHERE tenant = $1 AND occurred_at >= $2 AND occurred_at < $3
"""
# Every stored column of a record with its links and persons, as `record_from_row` reads them; the
# caller adds its WHERE and ORDER BY (shared with the LDV delivery).
RECORD_SELECT: Final = f"""
SELECT {", ".join(_AS_STORED.get(name, f"r.{name}") for name in _STORED)}, r.prev_hash, r.hash,
       coalesce(p.bsns, '{{}}') AS person_bsns, coalesce(p.roles, '{{}}') AS person_roles
FROM protocol_records r
LEFT JOIN LATERAL (
    SELECT array_agg(p.bsn ORDER BY p.position) AS bsns, array_agg(p.role ORDER BY p.position) AS roles
    FROM protocol_persons p
    WHERE p.tenant = r.tenant AND p.seq = r.seq AND p.occurred_at = r.occurred_at
) p ON true
"""  # noqa: S608 -- the identifiers are ChainedRecord's field names, never input
_ROWS: Final = (
    RECORD_SELECT + "WHERE r.tenant = $1 AND r.seq >= $2 AND r.seq <= $3 ORDER BY r.seq, r.occurred_at"
)
_HEAD: Final = "SELECT seq, hash FROM protocol_chain_heads WHERE tenant = $1"
_VERIFIED: Final = (
    "SELECT through_seq, through_hash FROM protocol_verified WHERE tenant = $1 ORDER BY id DESC LIMIT 1"
)
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_CSV_COLUMNS: Final = (*ChainedRecord.__struct_fields__, "prev_hash", "hash")
_READ_CHUNK: Final = 1 << 16
_LDV_ENCODER: Final = msgspec.json.Encoder()


class ExportError(Exception):
    """An export cannot be made or read (a file, a format, a manifest); the message says why."""


class ChainPoint(msgspec.Struct, frozen=True):
    """A place in a chain: a sequence number and the hash of the record there (hex)."""

    seq: int
    hash: str


class ExportManifest(msgspec.Struct, frozen=True, kw_only=True):
    """What an offline verification of one export needs, beside the export file."""

    manifest_version: int
    tenant: str
    period_from: dt.datetime
    period_to: dt.datetime
    format: ExportFormat
    records: int
    first_seq: int | None
    last_seq: int | None
    start_hash: str | None
    last_hash: str | None
    head: ChainPoint | None
    verified: ChainPoint | None
    sha256: str
    broker_version: str
    created_at: dt.datetime
    # An ldv export: how many LDV lines the file holds (a record gives one or more).
    lines: int | None = None


class _Line(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    record: ChainedRecord
    prev_hash: str
    hash: str


class ExportBreakKind(enum.StrEnum):
    """What is wrong in an export (the chain's kinds, and the export's own)."""

    CHANGED = "changed"
    DUPLICATE = "duplicate"
    MISSING = "missing"
    LINK = "link"
    TENANT = "tenant"
    MANIFEST = "manifest"
    FILE = "file"


class ExportBreak(msgspec.Struct, frozen=True):
    """The first thing wrong in an export: at which sequence number, and what."""

    seq: int
    kind: ExportBreakKind
    detail: str


class ExportReport(msgspec.Struct, frozen=True):
    """An export verified: its manifest, how many records were checked, and the first break if any."""

    path: str
    manifest: ExportManifest
    records: int
    first_break: ExportBreak | None = None

    @property
    def ok(self) -> bool:
        """True when the export is intact."""
        return self.first_break is None


def manifest_path(path: Path) -> Path:
    """Where the manifest of the export at `path` is: `FILE.manifest.json`."""
    return path.with_name(path.name + ".manifest.json")


async def export(
    url: str,
    tenant: str,
    *,
    from_: dt.datetime,
    to: dt.datetime,
    fmt: ExportFormat,
    out: Path,
    progress: Callable[[int], None] | None = None,
) -> ExportManifest:
    """Write `tenant`'s records of `from_ <= occurred_at < to` to `out` and its manifest beside it.

    `progress` is called with the number of records written after each batch. The ldv format
    reads the tenant's `[ldv]` settings in the same snapshot; without a subject key it is refused.
    """
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; use jsonl, csv or ldv")
    start, end = normalise_time(from_), normalise_time(to)
    if start >= end:
        raise ExportError("the period is empty: --from must lie before --to")
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("wb") as handle:
            async with (
                operator_connection(url) as connection,
                connection.transaction(isolation="repeatable_read", readonly=True),
            ):
                ldv = await _ldv_context(connection, tenant) if fmt == "ldv" else None
                written = await _write(
                    connection,
                    tenant,
                    start=start,
                    end=end,
                    fmt=fmt,
                    handle=handle,
                    progress=progress,
                    ldv=ldv,
                )
                manifest = await export_manifest(connection, tenant, written, start=start, end=end, fmt=fmt)
        os.replace(partial, out)
    except OSError as exc:
        raise ExportError(f"{out}: cannot write the export ({exc.strerror})") from None
    finally:
        partial.unlink(missing_ok=True)
    try:
        manifest_path(out).write_bytes(manifest_bytes(manifest))
    except OSError as exc:
        raise ExportError(f"{manifest_path(out)}: cannot write the manifest ({exc.strerror})") from None
    return manifest


def manifest_bytes(manifest: ExportManifest) -> bytes:
    """The manifest as its file holds it: indented JSON and a final newline."""
    return msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n"


async def export_manifest(
    connection: Connection,
    tenant: str,
    written: ExportTally,
    *,
    start: dt.datetime,
    end: dt.datetime,
    fmt: ExportFormat,
) -> ExportManifest:
    """The manifest of what `written` counted, with the head and checkpoint read in the same snapshot."""
    head = await _point(connection, _HEAD, tenant)
    verified = await _point(connection, _VERIFIED, tenant)
    return ExportManifest(
        manifest_version=MANIFEST_VERSION,
        tenant=tenant,
        period_from=start,
        period_to=end,
        format=fmt,
        records=written.records,
        first_seq=written.first_seq,
        last_seq=written.last_seq,
        start_hash=written.start_hash,
        last_hash=written.last_hash,
        head=head,
        verified=verified,
        sha256=written.sha256.hexdigest(),
        broker_version=_broker_version(),
        created_at=dt.datetime.now(dt.UTC),
        lines=written.lines if fmt == "ldv" else None,
    )


class ExportTally:
    """What was exported so far: counted and hashed as it goes (for the manifest)."""

    __slots__ = ("first_seq", "last_hash", "last_seq", "lines", "records", "sha256", "start_hash")

    def __init__(self) -> None:
        self.records = 0
        self.lines = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self.start_hash: str | None = None
        self.last_hash: str | None = None
        self.sha256 = hashlib.sha256()


async def _write(
    connection: Connection,
    tenant: str,
    *,
    start: dt.datetime,
    end: dt.datetime,
    fmt: ExportFormat,
    handle: IO[bytes],
    progress: Callable[[int], None] | None,
    ldv: LdvContext | None,
) -> ExportTally:
    written = ExportTally()
    lines = export_lines(connection, tenant, start=start, end=end, fmt=fmt, written=written, ldv=ldv)
    async for data in lines:
        handle.write(data)
        if progress is not None and written.records and written.records % EXPORT_BATCH == 0:
            handle.flush()
            progress(written.records)
    if progress is not None:
        progress(written.records)
    return written


async def export_lines(
    connection: Connection,
    tenant: str,
    *,
    start: dt.datetime,
    end: dt.datetime,
    fmt: ExportFormat,
    written: ExportTally,
    ldv: LdvContext | None = None,
) -> AsyncIterator[bytes]:
    """The export's lines (a CSV header first), read by cursor inside the caller's transaction.

    Counts and hashes each line into `written` before it is yielded, so the manifest can be made
    (`export_manifest`) once the lines are done. Memory stays at one batch of the cursor. The ldv
    format needs the tenant's `ldv` context, and yields a record's LDV lines together.
    """
    if fmt == "csv":
        yield _tallied(written, _csv_row(_CSV_COLUMNS))
    encode = _encoder(fmt, ldv, written)
    bounds = await connection.fetchrow(_RANGE, tenant, start, end)
    if bounds is None or bounds["first_seq"] is None:
        return
    rows = connection.cursor(_ROWS, tenant, bounds["first_seq"], bounds["last_seq"], prefetch=EXPORT_BATCH)
    async for row in rows:
        record, prev_hash, stored_hash = record_from_row(row), bytes(row["prev_hash"]), bytes(row["hash"])
        if written.first_seq is None:
            written.first_seq, written.start_hash = record.seq, prev_hash.hex()
        data = _tallied(written, encode(record, prev_hash, stored_hash))
        written.records += 1
        written.last_seq, written.last_hash = record.seq, stored_hash.hex()
        yield data


def _encoder(
    fmt: ExportFormat, ldv: LdvContext | None, written: ExportTally
) -> Callable[[ChainedRecord, bytes, bytes], bytes]:
    if fmt == "jsonl":
        return _jsonl_line
    if fmt == "csv":
        return _csv_line
    if ldv is None:
        raise ExportError("an ldv export needs the tenant's [ldv] settings (its subject_key)")
    context = ldv

    def ldv_lines(record: ChainedRecord, _prev_hash: bytes, _stored_hash: bytes) -> bytes:
        lines = context.lines(record)
        written.lines += len(lines)
        return b"".join(_LDV_ENCODER.encode(line) + b"\n" for line in lines)

    return ldv_lines


async def _ldv_context(connection: Connection, tenant: str) -> LdvContext:
    """The LDV context of `tenant` from its configuration, read in the export's snapshot."""
    from app.tenancy import store

    await store.scope_to(connection, tenant)
    try:
        spec = await store.read_tenant(connection)
    except msgspec.ValidationError:
        raise ExportError(f"tenant {tenant!r}: the stored configuration does not fit the model") from None
    if spec is None:
        raise ExportError(
            f"tenant {tenant!r} is not configured (removed?): an ldv export needs its [ldv] subject_key"
        )
    try:
        return LdvContext.for_tenant(spec.ldv)
    except LdvKeyError as error:
        raise ExportError(f"tenant {tenant!r}: {error}") from None


def _tallied(written: ExportTally, data: bytes) -> bytes:
    written.sha256.update(data)
    return data


def _jsonl_line(record: ChainedRecord, prev_hash: bytes, stored_hash: bytes) -> bytes:
    return msgspec.json.encode(_Line(record, prev_hash.hex(), stored_hash.hex())) + b"\n"


def _csv_line(record: ChainedRecord, prev_hash: bytes, stored_hash: bytes) -> bytes:
    cells = [_cell(getattr(record, name)) for name in ChainedRecord.__struct_fields__]
    return _csv_row([*cells, prev_hash.hex(), stored_hash.hex()])


def _csv_row(cells: tuple[str, ...] | list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue().encode()


def _cell(value: object) -> str:
    if value is None:
        text = ""
    elif isinstance(value, tuple):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    elif isinstance(value, dt.datetime):
        text = value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    else:
        text = str(value)
    # A cell starting like a formula would run as one in a spreadsheet (CSV injection).
    return "'" + text if text.startswith(_FORMULA_START) else text


async def _point(connection: Connection, query: str, tenant: str) -> ChainPoint | None:
    row = await connection.fetchrow(query, tenant)
    return None if row is None else ChainPoint(int(row[0]), bytes(row[1]).hex())


def record_from_row(row: asyncpg.Record) -> ChainedRecord:
    """The chained record of a row of `RECORD_SELECT`."""
    stored: dict[str, object] = {name: row[name] for name in _STORED}
    stored["persons"] = tuple(zip(row["person_bsns"], row["person_roles"], strict=True))
    return msgspec.convert(stored, ChainedRecord)


def _broker_version() -> str:
    try:
        return importlib.metadata.version("brp-broker")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def verify_export(path: Path) -> ExportReport:
    """Verify the JSONL export at `path` against its manifest, offline; raise `ExportError` when
    the export or its manifest cannot be read at all."""
    manifest = _read_manifest(path)
    if manifest.format == "ldv":
        raise ExportError(
            f"{path}: an ldv export is derived data (Logboek lines, subjects encrypted) and cannot be "
            "verified record by record; verify the jsonl export of the same period, whose manifest "
            f"names the same records (seq {manifest.first_seq or 0}..{manifest.last_seq or 0}, "
            f"last hash {manifest.last_hash or '-'})"
        )
    if manifest.format != "jsonl":
        raise ExportError(
            f"{path}: only a JSONL export can be verified offline (this one is {manifest.format})"
        )
    walk = _ExportWalk(manifest)
    try:
        with path.open("rb") as handle:
            for line in _hashed_lines(handle, walk.sha256):
                walk.step(line)
                if walk.first_break is not None:
                    break
    except OSError as exc:
        raise ExportError(f"{path}: cannot read the export ({exc.strerror})") from None
    walk.finish()
    return ExportReport(str(path), manifest, walk.records, walk.first_break)


def format_export_report(report: ExportReport) -> str:
    """One line, for the CLI: the export, its tenant, records checked, last seq:hash, ok or the break."""
    manifest, broken = report.manifest, report.first_break
    state = "ok" if broken is None else f"BROKEN at seq {broken.seq} ({broken.kind}): {broken.detail}"
    last = "" if manifest.last_seq is None else f"{manifest.last_seq}:{manifest.last_hash}"
    return (
        f"{report.path}\t{manifest.tenant}\trecords={report.records}"
        f"\tseq={manifest.first_seq or 0}..{manifest.last_seq or 0}\tlast={last}\t{state}"
    )


def _read_manifest(path: Path) -> ExportManifest:
    where = manifest_path(path)
    try:
        return msgspec.json.decode(where.read_bytes(), type=ExportManifest)
    except OSError as exc:
        raise ExportError(f"{where}: cannot read the manifest ({exc.strerror})") from None
    except msgspec.ValidationError as exc:
        raise ExportError(f"{where}: not an export manifest ({exc})") from None
    except msgspec.DecodeError:
        raise ExportError(f"{where}: not an export manifest (not JSON)") from None


def _hashed_lines(handle: IO[bytes], sha256: hashlib._Hash) -> Iterator[bytes]:
    """The lines of `handle`, one at a time, feeding every byte to `sha256` on the way."""
    for line in handle:
        sha256.update(line)
        yield line


class _ExportWalk:
    """The state of walking an export's records in file order."""

    __slots__ = ("expected_prev", "expected_seq", "first_break", "manifest", "records", "sha256")

    def __init__(self, manifest: ExportManifest) -> None:
        self.manifest = manifest
        self.records = 0
        self.first_break: ExportBreak | None = None
        self.sha256 = hashlib.sha256()
        self.expected_seq = manifest.first_seq if manifest.first_seq is not None else 1
        self.expected_prev = bytes.fromhex(manifest.start_hash or "")
        if manifest.first_seq == 1 and self.expected_prev != genesis_hash(manifest.tenant):
            self.fail(1, ExportBreakKind.MANIFEST, "start_hash is not the genesis of the tenant's chain")

    def fail(self, seq: int, kind: ExportBreakKind, detail: str) -> None:
        """Note a break; only the first is kept."""
        if self.first_break is None:
            self.first_break = ExportBreak(seq, kind, detail)

    def step(self, line: bytes) -> None:
        """Check one line of the export."""
        self.records += 1
        try:
            parsed = msgspec.json.decode(line, type=_Line)
            prev_hash, stored_hash = bytes.fromhex(parsed.prev_hash), bytes.fromhex(parsed.hash)
        except (msgspec.DecodeError, ValueError):
            self.fail(self.expected_seq, ExportBreakKind.CHANGED, f"line {self.records} is not a record")
            return
        record, seq = parsed.record, parsed.record.seq
        if not _matches(prev_hash, seq, record, stored_hash):
            self.fail(seq, ExportBreakKind.CHANGED, "the record does not match its hash")
        elif record.tenant != self.manifest.tenant:
            self.fail(seq, ExportBreakKind.TENANT, "the record is not of the manifest's tenant")
        elif seq < self.expected_seq:
            self.fail(seq, ExportBreakKind.DUPLICATE, "this sequence number occurs more than once")
        elif seq > self.expected_seq:
            self.fail(
                self.expected_seq,
                ExportBreakKind.MISSING,
                f"records {self.expected_seq}..{seq - 1} are missing",
            )
        elif prev_hash != self.expected_prev:
            self.fail(seq, ExportBreakKind.LINK, "prev_hash is not the hash of the record before")
        else:
            self.expected_seq, self.expected_prev = seq + 1, stored_hash

    def finish(self) -> None:
        """Compare the end of the walk and the file's digest with the manifest."""
        manifest, last_seq = self.manifest, self.expected_seq - 1
        if self.first_break is not None:
            return
        if self.records != manifest.records:
            self.fail(
                last_seq + 1,
                ExportBreakKind.MISSING if self.records < manifest.records else ExportBreakKind.MANIFEST,
                f"the manifest says {manifest.records} records, the file holds {self.records}",
            )
        elif self.records and (
            last_seq != manifest.last_seq or self.expected_prev.hex() != manifest.last_hash
        ):
            self.fail(
                last_seq, ExportBreakKind.MANIFEST, "the last record is not the manifest's last_seq:last_hash"
            )
        elif self.sha256.hexdigest() != manifest.sha256:
            self.fail(last_seq, ExportBreakKind.FILE, "the file's SHA-256 is not the manifest's")


def _matches(prev_hash: bytes, seq: int, record: ChainedRecord, stored_hash: bytes) -> bool:
    """True when `stored_hash` links `record` onto `prev_hash` in format 2 or (older records) 1."""
    return (
        linked_hash(prev_hash, seq, record_digest(record)) == stored_hash
        or link_hash(prev_hash, record) == stored_hash
    )
