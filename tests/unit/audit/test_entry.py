"""Secrets in audit entries: fingerprints of stored forms, never a value; the chain's canonical form."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from app.audit import REDACTED, audit_document, fingerprint_secret, redact_secrets
from app.audit.chain import ChainedEntry, entry_hash, genesis_hash
from app.secrets import SecretKey
from app.tenancy.models import AfnemerSpec, encrypt_client_secret


@pytest.mark.parametrize(
    "stored", ["env:AFNEMER_SECRET", "file:/run/secrets/afnemer-000301", "enc:v1:0123abcd:AAAA_-bb"]
)
def test_a_stored_secret_becomes_a_short_fingerprint_of_its_stored_form(stored: str) -> None:
    fingerprint = fingerprint_secret(stored)
    assert fingerprint.startswith("sha256:") and len(fingerprint) == len("sha256:") + 16
    assert stored.partition(":")[2] not in fingerprint
    assert fingerprint_secret(stored) == fingerprint
    assert fingerprint_secret(fingerprint) == fingerprint  # redacting twice changes nothing


def test_a_changed_reference_or_a_re_encrypted_secret_shows_a_new_fingerprint() -> None:
    assert fingerprint_secret("env:A") != fingerprint_secret("env:B")
    key = SecretKey(bytes(32))
    first = encrypt_client_secret(key, "amsterdam", "000301", "same secret")
    second = encrypt_client_secret(key, "amsterdam", "000301", "same secret")
    assert fingerprint_secret(first) != fingerprint_secret(second)


@pytest.mark.parametrize("value", ["hunter2", "", "enc:v1:nothex:xx", "sha256:short"])
def test_anything_but_a_stored_form_is_redacted_not_hashed(value: str) -> None:
    assert fingerprint_secret(value) == REDACTED


def test_secrets_are_replaced_at_any_depth() -> None:
    data = {"a": [{"client_secret": "hunter2"}, {"b": {"client_secret": "env:X"}}], "client_secret": 5}
    assert redact_secrets(data) == {
        "a": [{"client_secret": REDACTED}, {"b": {"client_secret": fingerprint_secret("env:X")}}],
        "client_secret": REDACTED,
    }


def test_an_afnemer_is_audited_without_its_secret() -> None:
    afnemer = AfnemerSpec(
        afnemer_id="000301", environment="sandbox", identity="dev", client_id="c", client_secret="env:S"
    )
    document = audit_document(afnemer)
    assert document is not None
    assert document["client_secret"] == fingerprint_secret("env:S")
    assert document["client_id"] == "c"
    assert audit_document(None) is None


# One moment for every entry of a test run (so only the changed column differs), from now.
_RECORDED = dt.datetime.now(dt.UTC).replace(microsecond=123456)


def _entry(**changes: object) -> ChainedEntry:
    base = ChainedEntry(
        tenant="aa",
        seq=1,
        recorded_at=_RECORDED,
        actor="tenants apply",
        role="operator",
        via="tenants apply",
        source="tenants/aa.toml",
        resource="rule",
        key="r1",
        action="add",
        before=None,
        after='{"name":"r1"}',
        correlation_id="c",
    )
    return msgspec.structs.replace(base, **changes)


def test_the_hash_covers_every_column_and_not_the_time_zone() -> None:
    prev = genesis_hash("aa")
    digest = entry_hash(prev, _entry())
    assert genesis_hash("aa") != genesis_hash("bb")
    for change in (
        {"actor": "x"},
        {"after": '{"name": "r1"}'},
        {"seq": 2},
        {"source": None},
        {"before": "{}"},
    ):
        assert entry_hash(prev, _entry(**change)) != digest
    amsterdam = dt.timezone(dt.timedelta(hours=1))
    same_moment = _entry().recorded_at.astimezone(amsterdam)
    assert entry_hash(prev, _entry(recorded_at=same_moment)) == digest
