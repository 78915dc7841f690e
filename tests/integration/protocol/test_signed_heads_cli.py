"""The signing commands as an operator and an auditor run them: `brp-broker ...` in a subprocess."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import asyncpg

from app.protocol import ProtocolWriter
from app.protocol.signed_heads import HeadSigner
from app.protocol.signing import SIGNING_KEY_SETTING, load_signing_key
from tests.integration.protocol.factories import PoolFactory, consulted, record

TENANT = "gemeente-a"
# Never reached: `serve` refuses an unusable key before it touches the database.
UNREACHABLE_DATABASE = "postgresql://brp_app@127.0.0.1:9/none"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("brp-broker: ")
    return line


def test_generate_writes_a_private_key_only_its_owner_reads_and_prints_the_public_jwks(
    tmp_path: Path,
) -> None:
    first = _run("protocol", "signing-key", "generate", "--out", str(tmp_path / "2025.jwk"), "--kid", "2025")
    assert first.returncode == 0, first.stderr
    (tmp_path / "jwks.json").write_text(first.stdout)
    second = _run(
        "protocol",
        "signing-key",
        "generate",
        "--out",
        str(tmp_path / "2026.jwk"),
        "--jwks",
        str(tmp_path / "jwks.json"),
    )
    assert second.returncode == 0, second.stderr

    assert stat.S_IMODE((tmp_path / "2025.jwk").stat().st_mode) == 0o600
    new = load_signing_key(tmp_path / "2026.jwk")
    published = json.loads(second.stdout)["keys"]
    assert sorted(key["kid"] for key in published) == sorted(["2025", new.key_id])  # rotation keeps the old
    assert all("d" not in key for key in published)
    assert json.loads((tmp_path / "2026.jwk").read_text())["d"] not in second.stdout + second.stderr


def test_generate_never_overwrites_a_key(tmp_path: Path) -> None:
    existing = tmp_path / "key.jwk"
    existing.write_text("{}")
    line = _one_line(_run("protocol", "signing-key", "generate", "--out", str(existing)))
    assert "cannot create the key file (File exists)" in line
    assert existing.read_text() == "{}"


def test_serve_with_a_missing_signing_key_names_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "signing.jwk"
    env = {"BROKER_DATABASE_URL": UNREACHABLE_DATABASE, SIGNING_KEY_SETTING: str(missing)}
    line = _one_line(_run("serve", env=env))
    assert (
        line
        == f"brp-broker: {SIGNING_KEY_SETTING}: {missing}: cannot read the file (No such file or directory)"
    )


def test_serve_with_an_invalid_signing_key_names_the_setting_and_never_echoes_it(tmp_path: Path) -> None:
    invalid = tmp_path / "signing.jwk"
    invalid.write_text('{"kty": "OKP", "crv": "Ed25519", "d": "c2VjcmV0LWtleS1tYXRlcmlhbA", "x": "oops"}')
    env = {"BROKER_DATABASE_URL": UNREACHABLE_DATABASE, SIGNING_KEY_SETTING: str(invalid)}
    done = _run("serve", env=env)
    line = _one_line(done)
    assert line.startswith(f"brp-broker: {SIGNING_KEY_SETTING}: {invalid}: ")
    assert "c2VjcmV0" not in done.stderr + done.stdout


async def test_verify_with_public_keys_and_anchors_from_the_command_line(
    fresh_url: str, runtime_pool: PoolFactory, tmp_path: Path
) -> None:
    generated = _run("protocol", "signing-key", "generate", "--out", str(tmp_path / "key.jwk"))
    (tmp_path / "jwks.json").write_text(generated.stdout)
    pool = await runtime_pool(fresh_url)
    writer = ProtocolWriter(pool)
    await writer.start()
    for _ in range(3):
        await writer.record(record(TENANT, consulted("999993653")))
    await writer.stop()
    anchors = tmp_path / "anchors.jsonl"
    await HeadSigner(pool, load_signing_key(tmp_path / "key.jwk"), anchor_file=anchors).sign_round()
    env = {"BROKER_DATABASE_URL": fresh_url}
    args = (
        "protocol",
        "verify",
        "--full",
        "--public-keys",
        str(tmp_path / "jwks.json"),
        "--anchors",
        str(anchors),
    )

    honest = _run(*args, env=env)
    assert honest.returncode == 0, honest.stdout + honest.stderr
    assert "signed=3 at " in honest.stdout and "anchors=1" in honest.stdout

    owner = await asyncpg.connect(fresh_url)
    try:
        await owner.execute("SET session_replication_role = replica")
        await owner.execute("DELETE FROM broker.protocol_signed_heads")
        await owner.execute("DELETE FROM broker.protocol_persons WHERE seq = 3")
        await owner.execute("DELETE FROM broker.protocol_records WHERE seq = 3")
        await owner.execute(
            "UPDATE broker.protocol_chain_heads SET seq = 2, hash = "
            "(SELECT hash FROM broker.protocol_records WHERE seq = 2)"
        )
    finally:
        await owner.close()
    cut = _run(*args, env=env)
    assert cut.returncode == 1, cut.stdout + cut.stderr
    assert "BROKEN at seq 3 (anchor)" in cut.stdout

    wrong = _run(*args[:-1], str(tmp_path / "jwks.json"), env=env)  # the JWKS given as anchors
    assert _one_line(wrong).endswith("jwks.json:1: not a JSON line")
