"""`protocol export --format ldv`, and the tenant's `ldv keygen` / `ldv decrypt` commands."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from app.protocol import ExportError, ProtocolWriter, export, verify_export
from app.protocol.export import manifest_path
from app.protocol.ldv import LdvContext, LdvRecord
from app.protocol.ldv_subjects import PrivateSubjectKeys, SubjectKey, generate_private_key, public_jwk
from app.tenancy import apply, load_tenant_files
from app.tenancy.models import LdvSettings
from tests.integration.protocol.factories import PoolFactory, consulted, found, record, slug
from tests.support.tenants import write_saas_tenant
from tests.support.toml import inline

ACTIVITY = "https://register.example.nl/verwerkingsactiviteiten/brp"
BSNS = ("999993653", "999990019", "999991735")


class Registered:
    """A fresh database with one tenant (its `[ldv]` with a subject key unless told) and its records."""

    def __init__(self, url: str, tenant: str, private: dict[str, Any], moment: dt.datetime) -> None:
        self.url = url
        self.tenant = tenant
        self.private = private
        self.keys = PrivateSubjectKeys.from_json(msgspec.json.encode(private))
        self.from_, self.to = moment - dt.timedelta(days=1), moment + dt.timedelta(days=1)


async def register(url: str, folder: Path, *, subject_key: dict[str, Any] | None) -> str:
    """Apply a tenant file with `[ldv]` (and `subject_key` when given); returns its slug."""
    tenant = slug()
    folder.mkdir(exist_ok=True)
    secret = folder / "secret"
    secret.write_text("dev-only-secret")
    jwks = {"keys": [public_jwk(generate_private_key()) | {"use": "sig", "alg": "ES256"}]}
    path = write_saas_tenant(folder, tenant, jwks, secret)
    ldv = f'\n[ldv]\nprocessing_activity = "{ACTIVITY}"\n'
    if subject_key is not None:
        ldv += f"subject_key = {inline(subject_key)}\n"
    path.write_text(path.read_text() + ldv)
    await apply(url, load_tenant_files(folder), prune=False, dry_run=False)
    return tenant


@pytest.fixture
async def registered(fresh_url: str, runtime_pool: PoolFactory, tmp_path: Path) -> Registered:
    private = generate_private_key()
    tenant = await register(fresh_url, tmp_path / "tenants-ldv", subject_key=public_jwk(private))
    writer = ProtocolWriter(await runtime_pool(fresh_url))
    await writer.start()
    moment = dt.datetime.now(dt.UTC)
    try:
        for persons in ((), consulted(BSNS[0]), found(*BSNS), consulted(BSNS[1])):
            await writer.record(record(tenant, persons, occurred_at=moment))
        await writer.record(record(slug(), consulted(BSNS[0]), occurred_at=moment))  # another tenant
    finally:
        await writer.stop()
    return Registered(fresh_url, tenant, private, moment)


async def test_an_ldv_export_carries_the_chain_proof_of_the_records_it_was_made_from(
    registered: Registered, tmp_path: Path
) -> None:
    jsonl, ldv = tmp_path / "p.jsonl", tmp_path / "p.ldv.jsonl"
    proof = await export(
        registered.url, registered.tenant, fmt="jsonl", out=jsonl, from_=registered.from_, to=registered.to
    )
    derived = await export(
        registered.url, registered.tenant, fmt="ldv", out=ldv, from_=registered.from_, to=registered.to
    )
    assert derived.format == "ldv"
    for name in ("tenant", "records", "first_seq", "last_seq", "start_hash", "last_hash", "head"):
        assert getattr(derived, name) == getattr(proof, name), name
    assert derived.records == 4
    # Records of 0, 1, 3 and 1 persons: 1 + 1 + (1 + 3) + 1 lines.
    assert derived.lines == 7
    lines = [msgspec.json.decode(line, type=LdvRecord) for line in ldv.read_bytes().splitlines()]
    assert len(lines) == 7
    subjects = [
        registered.keys.decrypt(line.attributes["dpl.core.data_subject_id"])
        for line in lines
        if "dpl.core.data_subject_id" in line.attributes
    ]
    assert subjects == [BSNS[0], *BSNS, BSNS[1]]
    for bsn in BSNS:
        assert bsn.encode() not in ldv.read_bytes()
    assert all(line.attributes["dpl.core.processing_activity_id"] == ACTIVITY for line in lines)


async def test_the_ldv_lines_are_those_of_the_records_in_the_jsonl_export(
    registered: Registered, tmp_path: Path
) -> None:
    jsonl, ldv = tmp_path / "p.jsonl", tmp_path / "p.ldv.jsonl"
    await export(
        registered.url, registered.tenant, fmt="jsonl", out=jsonl, from_=registered.from_, to=registered.to
    )
    await export(
        registered.url, registered.tenant, fmt="ldv", out=ldv, from_=registered.from_, to=registered.to
    )
    context = LdvContext(SubjectKey.from_jwk(public_jwk(registered.private)))
    from app.protocol.chain import ChainedRecord

    records = [
        msgspec.convert(json.loads(line)["record"], ChainedRecord) for line in jsonl.read_text().splitlines()
    ]
    expected = [
        (line.trace_id, line.span_id, line.parent_span_id) for r in records for line in context.lines(r)
    ]
    exported = [msgspec.json.decode(line, type=LdvRecord) for line in ldv.read_bytes().splitlines()]
    assert [(line.trace_id, line.span_id, line.parent_span_id) for line in exported] == expected


async def test_an_ldv_export_is_not_verified_record_by_record(registered: Registered, tmp_path: Path) -> None:
    ldv = tmp_path / "p.ldv.jsonl"
    await export(
        registered.url, registered.tenant, fmt="ldv", out=ldv, from_=registered.from_, to=registered.to
    )
    with pytest.raises(ExportError, match="derived data") as refused:
        verify_export(ldv)
    assert "jsonl export of the same period" in str(refused.value)


async def test_an_ldv_export_without_a_subject_key_is_refused(
    fresh_url: str, runtime_pool: PoolFactory, tmp_path: Path
) -> None:
    tenant = await register(fresh_url, tmp_path / "tenants-ldv", subject_key=None)
    writer = ProtocolWriter(await runtime_pool(fresh_url))
    await writer.start()
    try:
        await writer.record(record(tenant, consulted(BSNS[0])))
    finally:
        await writer.stop()
    now = dt.datetime.now(dt.UTC)
    out = tmp_path / "p.ldv.jsonl"
    from_, to = now - dt.timedelta(days=1), now + dt.timedelta(days=1)
    with pytest.raises(ExportError, match="subject_key"):
        await export(fresh_url, tenant, fmt="ldv", out=out, from_=from_, to=to)
    assert not out.exists() and not manifest_path(out).exists()
    # A tenant the registry does not know (removed, or never configured): no key either.
    with pytest.raises(ExportError, match="subject_key"):
        await export(fresh_url, slug(), fmt="ldv", out=out, from_=from_, to=to)


# -- the commands ----------------------------------------------------------------------------------


def _run(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=base | (env or {}),
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_keygen_writes_a_private_key_only_its_owner_reads_and_prints_the_public_one(tmp_path: Path) -> None:
    out = tmp_path / "tenant.jwk"
    done = _run("ldv", "keygen", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    private = json.loads(out.read_text())
    public = json.loads(done.stdout)
    assert "d" in private and "d" not in public
    assert public == public_jwk(private)
    # What it printed is a valid [ldv] subject_key, and the file opens what it encrypts.
    assert LdvSettings(subject_key=public).subject_key == public
    token = SubjectKey.from_jwk(public).encrypt(BSNS[0])
    assert PrivateSubjectKeys.from_json(out.read_bytes()).decrypt(token) == BSNS[0]
    # ... and the line it suggests for the tenant file reads back as that key.
    (suggested,) = [line for line in done.stderr.decode().splitlines() if line.startswith("subject_key = {")]
    assert tomllib.loads(suggested)["subject_key"] == public
    # Never over an existing key.
    again = _run("ldv", "keygen", "--out", str(out))
    assert again.returncode == 2
    assert (
        again.stderr.decode().strip() == f"brp-broker: --out {out}: exists; a key file is never overwritten"
    )
    assert json.loads(out.read_text()) == private


def test_keygen_on_x25519(tmp_path: Path) -> None:
    done = _run("ldv", "keygen", "--out", str(tmp_path / "k.jwk"), "--curve", "X25519")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["crv"] == "X25519"


async def test_the_tenant_exports_then_decrypts_its_lines(registered: Registered, tmp_path: Path) -> None:
    key_file = tmp_path / "tenant.jwk"
    key_file.write_bytes(msgspec.json.encode(registered.private))
    day = dt.datetime.now(dt.UTC).date()
    period = [
        "--from",
        (day - dt.timedelta(days=1)).isoformat(),
        "--to",
        (day + dt.timedelta(days=2)).isoformat(),
    ]
    out = tmp_path / "p.ldv.jsonl"
    env = {"BROKER_DATABASE_URL": registered.url}
    done = _run(
        "protocol",
        "export",
        "--tenant",
        registered.tenant,
        *period,
        "--format",
        "ldv",
        "--out",
        str(out),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert f"{registered.tenant}\trecords=4".encode() in done.stdout

    refused = _run("protocol", "verify", "--export", str(out))
    assert refused.returncode == 2
    (line,) = refused.stderr.decode().strip().splitlines()
    assert line.startswith("brp-broker: ") and "derived data" in line

    decrypted = _run("ldv", "decrypt", "--key", str(key_file), stdin=out.read_bytes())
    assert decrypted.returncode == 0, decrypted.stderr
    documents = [json.loads(line) for line in decrypted.stdout.splitlines()]
    assert len(documents) == 7
    subjects = [d["attributes"].get("dpl.core.data_subject_id") for d in documents]
    assert [s for s in subjects if s is not None] == [BSNS[0], *BSNS, BSNS[1]]

    stranger = tmp_path / "other.jwk"
    stranger.write_bytes(msgspec.json.encode(generate_private_key()))
    wrong = _run("ldv", "decrypt", "--key", str(stranger), stdin=out.read_bytes())
    assert wrong.returncode == 2
    (line,) = wrong.stderr.decode().strip().splitlines()
    assert line.startswith("brp-broker: standard input, line 2: ") and "does not decrypt" in line
    for bsn in BSNS:
        assert bsn.encode() not in wrong.stdout + wrong.stderr
