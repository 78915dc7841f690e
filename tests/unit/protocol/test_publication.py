"""Publication of signed heads: the anchor file's lines, reading them (and log lines) back, the metric."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from app.protocol.anchors import (
    ANCHOR_FILE_SETTING,
    AnchorError,
    AnchorLine,
    append_anchor_lines,
    check_anchor_file,
    jws_parts,
    load_anchors,
)
from app.protocol.signing import PublicKeys, SignedHead, generate_signing_key
from app.telemetry import BrokerMetrics

KEY = generate_signing_key("k1")
KEYS = PublicKeys.from_jwks(KEY.public_jwk())


def _line(seq: int, tenant: str = "gemeente-a", hash_: str = "ab" * 32) -> AnchorLine:
    head = SignedHead(tenant=tenant, seq=seq, hash=hash_, signed_at=dt.datetime.now(dt.UTC))
    return AnchorLine(tenant=tenant, seq=seq, hash=hash_, signed_at="-", kid="k1", jws=KEY.sign(head))


def test_appended_lines_accumulate_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    append_anchor_lines(path, [_line(1), _line(2)])
    append_anchor_lines(path, [_line(3, tenant="-")])
    assert len(path.read_text().splitlines()) == 3
    anchors = load_anchors([path], KEYS)
    assert anchors.count == 3
    assert anchors.tenants == ("-", "gemeente-a")
    assert anchors.of("gemeente-a")[2] == {bytes.fromhex("ab" * 32): f"{path}:2"}


def test_log_lines_with_the_jws_in_parts_count_and_other_events_are_skipped(tmp_path: Path) -> None:
    line = _line(7)
    log = tmp_path / "broker.log"
    log.write_text(
        json.dumps({"event": "broker_started", "tenants": 2})
        + "\n"
        + json.dumps({"event": "protocol_head_signed", "seq": "[redacted]", "jws": jws_parts(line.jws)})
        + "\n\n"
    )
    anchors = load_anchors([log], KEYS)
    assert list(anchors.of("gemeente-a")) == [7]  # the JWS decides, not the (redacted) seq field


def test_a_line_whose_signature_fails_or_that_is_no_head_is_named(tmp_path: Path) -> None:
    forged = tmp_path / "forged.jsonl"
    other = generate_signing_key("k1")
    head = SignedHead(tenant="gemeente-a", seq=1, hash="cd" * 32, signed_at=dt.datetime.now(dt.UTC))
    forged.write_text(_line(1).encode().decode() + json.dumps({"jws": other.sign(head)}) + "\n")
    with pytest.raises(AnchorError, match=rf"{forged}:2: the signature does not verify"):
        load_anchors([forged], KEYS)
    assert load_anchors([forged], None).count == 2  # without keys a line is taken at its word

    junk = tmp_path / "junk.jsonl"
    junk.write_text("[1, 2]\n")
    with pytest.raises(AnchorError, match=rf"{junk}:1: not a published head"):
        load_anchors([junk], None)
    with pytest.raises(AnchorError, match="cannot read the file"):
        load_anchors([tmp_path / "missing.jsonl"], None)


def test_heads_published_twice_with_different_hashes_are_both_kept(tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    append_anchor_lines(path, [_line(5), _line(5, hash_="cd" * 32), _line(5)])
    assert len(load_anchors([path], KEYS).of("gemeente-a")[5]) == 2


def test_an_anchor_file_that_cannot_be_opened_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(AnchorError, match=rf"^{ANCHOR_FILE_SETTING}: .*cannot open for appending"):
        check_anchor_file(tmp_path / "no-such-dir" / "anchors.jsonl")
    check_anchor_file(tmp_path / "anchors.jsonl")
    assert (tmp_path / "anchors.jsonl").exists()


def test_the_signed_head_metric_and_the_failure_counter() -> None:
    metrics = BrokerMetrics(process_collectors=False)
    metrics.protocol_head_signed("gemeente-a", 41)
    metrics.protocol_head_signed("gemeente-a", 42)
    metrics.protocol_head_signed(None, 7)
    metrics.protocol_signing_failed()
    text = metrics.exposition().decode()
    assert 'brp_broker_protocol_signed_head_seq{tenant="gemeente-a"} 42.0' in text
    assert 'brp_broker_protocol_signed_head_seq{tenant=""} 7.0' in text
    assert "brp_broker_protocol_signing_failures_total 1.0" in text


def test_the_unverifiable_signed_head_counter() -> None:
    metrics = BrokerMetrics(process_collectors=False)
    assert "brp_broker_protocol_signed_heads_unverifiable_total 0.0" in metrics.exposition().decode()
    metrics.protocol_signed_head_unverifiable()
    assert "brp_broker_protocol_signed_heads_unverifiable_total 1.0" in metrics.exposition().decode()
