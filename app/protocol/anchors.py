"""Anchors: signed chain heads published outside the database, and read back by `verify --anchors`.

The broker publishes every head it signs (`app.protocol.signed_heads`) where a database
administrator cannot change it: a log line `protocol_head_signed`, a metric, and — when
`BROKER_PROTOCOL_ANCHOR_FILE` is set — one JSON line per head appended to that file:

    {"hash": hex, "jws": compact JWS, "kid": key id, "seq": n, "signed_at": RFC 3339, "tenant": slug}

The file is opened with O_APPEND for every round of heads, written in one `write`, flushed and
fsynced before the round counts as published. Keep it on storage the database administrator cannot
write (another volume, an append-only or WORM bucket a log shipper copies it to).

`load_anchors` reads such files back for `verify`: anchor-file lines, and also the broker's own
JSON log lines (`"event": "protocol_head_signed"`, whose `jws` is logged as its three parts so the
log's redaction of tokens leaves it intact); other log lines are skipped. The JWS is authoritative:
the head a line stands for is what its signature covers (checked when public keys are given), not
the line's other fields, which are there for people.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import msgspec

from app.protocol.signing import PublicKeys, SignatureError, SignedHead, open_signed_head, read_signed_head

__all__ = [
    "ANCHOR_FILE_SETTING",
    "HEAD_SIGNED_EVENT",
    "AnchorError",
    "AnchorLine",
    "Anchors",
    "PublishedHead",
    "append_anchor_lines",
    "check_anchor_file",
    "jws_parts",
    "load_anchors",
]

ANCHOR_FILE_SETTING: Final = "BROKER_PROTOCOL_ANCHOR_FILE"
HEAD_SIGNED_EVENT: Final = "protocol_head_signed"
_FILE_MODE: Final = 0o640
_MAX_LINE_BYTES: Final = 1 << 20
_ENCODER: Final = msgspec.json.Encoder(order="sorted")


class AnchorError(Exception):
    """An anchor file cannot be written or read; `str()` is one line naming the file (and line)."""


class AnchorLine(msgspec.Struct, frozen=True, kw_only=True):
    """One published head, as a line of the anchor file."""

    tenant: str
    seq: int
    hash: str
    signed_at: str
    kid: str
    jws: str

    def encode(self) -> bytes:
        """The line, with its newline."""
        return _ENCODER.encode(self) + b"\n"


class PublishedHead(msgspec.Struct, frozen=True):
    """A head read from an anchor file, and where it was read (`FILE:LINE`)."""

    head: SignedHead
    source: str


class Anchors:
    """Published heads by tenant and sequence number: every hash published for each (tenant, seq)."""

    __slots__ = ("_heads", "count")

    def __init__(self, heads: Iterable[PublishedHead]) -> None:
        self._heads: dict[str, dict[int, dict[bytes, str]]] = {}
        self.count = 0
        for published in heads:
            self.count += 1
            head = published.head
            by_hash = self._heads.setdefault(head.tenant, {}).setdefault(head.seq, {})
            by_hash.setdefault(head.hash_bytes, published.source)

    @property
    def tenants(self) -> tuple[str, ...]:
        """The tenants with a published head, sorted."""
        return tuple(sorted(self._heads))

    def of(self, tenant: str) -> dict[int, dict[bytes, str]]:
        """`tenant`'s published heads: per seq, each hash published for it and the line that did."""
        return self._heads.get(tenant, {})


def jws_parts(token: str) -> dict[str, str]:
    """A compact JWS as its flattened JSON members (RFC 7515 §7.2.2), as the log line carries it."""
    protected, payload, signature = token.split(".")
    return {"protected": protected, "payload": payload, "signature": signature}


def check_anchor_file(path: Path) -> None:
    """Fail at start, naming the setting, when the anchor file cannot be opened for appending."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, _FILE_MODE))
    except OSError as exc:
        raise AnchorError(
            f"{ANCHOR_FILE_SETTING}: {path}: cannot open for appending ({exc.strerror})"
        ) from None


def append_anchor_lines(path: Path, lines: Sequence[AnchorLine]) -> None:
    """Append `lines` to the anchor file in one write, then flush them to disk (blocking: run in a thread)."""
    if not lines:
        return
    data = b"".join(line.encode() for line in lines)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, _FILE_MODE)
    try:
        written = os.write(descriptor, data)
        if written != len(data):
            raise OSError(f"short write to the anchor file ({written} of {len(data)} bytes)")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def load_anchors(paths: Sequence[Path], keys: PublicKeys | None) -> Anchors:
    """The heads published in `paths`; each signature is checked when `keys` are given.

    Raises `AnchorError` naming the file and line of anything that is not a published head, or
    whose signature does not verify: an anchor file that cannot be trusted is no evidence.
    """
    return Anchors(head for path in paths for head in _read(path, keys))


def _read(path: Path, keys: PublicKeys | None) -> Iterable[PublishedHead]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise AnchorError(f"--anchors {path}: cannot read the file ({exc.strerror})") from None
    with handle:
        # Lines are read within a bound: an anchor line is a few hundred bytes, a log line a few KiB.
        for number, raw in enumerate(iter(lambda: handle.readline(_MAX_LINE_BYTES + 1), b""), start=1):
            if len(raw) > _MAX_LINE_BYTES:
                raise AnchorError(f"--anchors {path}:{number}: line too long for a published head")
            if not raw.strip():
                continue
            source = f"{path}:{number}"
            token = _token(raw, source)
            if token is None:
                continue
            try:
                head = read_signed_head(token) if keys is None else open_signed_head(token, keys).head
            except SignatureError as exc:
                raise AnchorError(f"--anchors {source}: {exc}") from None
            yield PublishedHead(head, source)


def _token(raw: bytes, source: str) -> str | None:
    """The compact JWS of a line; None for a log line of another event."""
    try:
        line = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise AnchorError(f"--anchors {source}: not a JSON line") from None
    if not isinstance(line, dict):
        raise AnchorError(f"--anchors {source}: not a published head")
    if "event" in line and line["event"] != HEAD_SIGNED_EVENT:
        return None
    token = line.get("jws")
    if isinstance(token, dict) and all(isinstance(token.get(part), str) for part in _PARTS):
        return ".".join(token[part] for part in _PARTS)
    if isinstance(token, str):
        return token
    raise AnchorError(f"--anchors {source}: has no 'jws' of a signed head")


_PARTS: Final = ("protected", "payload", "signature")
