"""The operator commands, run as an operator runs them: `brp-broker ...` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from app.db import apply_migrations
from app.secrets import SecretKey
from app.tenancy import afnemer_secret_context

BSN = "999993653"


def _run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=base | (env or {}),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_new_key_and_encrypt_secret_round_trip() -> None:
    key = _run("tenants", "new-key").stdout.strip()
    done = _run(
        "tenants",
        "encrypt-secret",
        "--tenant",
        "amsterdam",
        "--afnemer",
        "000101",
        env={"BROKER_SECRET_KEY": key},
        stdin="s3cret\n",
    )
    assert done.returncode == 0, done.stderr
    value = done.stdout.strip()
    assert value.startswith("enc:v1:") and "s3cret" not in value
    decrypted = SecretKey.from_text(key).decrypt(value, afnemer_secret_context("amsterdam", "000101"))
    assert decrypted.reveal() == "s3cret"


def test_encrypt_secret_without_a_key_is_one_clear_line() -> None:
    done = _run("tenants", "encrypt-secret", "--tenant", "a", "--afnemer", "000101", stdin="x\n")
    assert done.returncode == 2
    assert done.stderr.strip() == "brp-broker: BROKER_SECRET_KEY: is required to encrypt a secret"


async def test_tenants_apply_dry_run_then_apply_then_nothing(new_database, test_tenants: Path) -> None:  # type: ignore[no-untyped-def]
    url = await new_database()
    await apply_migrations(url)
    env = {"BROKER_DATABASE_URL": url}
    dry = _run("tenants", "apply", str(test_tenants), "--dry-run", env=env)
    first = _run("tenants", "apply", str(test_tenants), env=env)
    second = _run("tenants", "apply", str(test_tenants), env=env)
    assert dry.returncode == first.returncode == second.returncode == 0, first.stderr
    assert "tenant testgemeente:" in dry.stdout
    assert "Dry run:" in dry.stdout
    assert "tenant testgemeente:" in first.stdout  # the dry run applied nothing
    assert "Dry run:" not in first.stdout
    assert second.stdout.strip() == "No changes: the database matches the tenant files."


def test_bad_tenant_file_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text(
        'slug = "broken"\nname = "B"\nkind = "organisation"\npattern = "saas"\n'
        '[afnemers.12345]\nenvironment = "proef"\n'
    )
    done = _run(
        "tenants",
        "apply",
        str(tmp_path),
        "--dry-run",
        env={"BROKER_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"},
    )
    assert done.returncode == 2
    assert "broken.toml" in done.stderr
    assert "12345" in done.stderr
    assert "Traceback" not in done.stderr


async def test_protocol_verify_and_inzage_after_gateway_traffic(
    broker: httpx.AsyncClient, database_url: str
) -> None:
    assert (
        await broker.post(
            "/haalcentraal/api/brp/personen",
            json={
                "type": "RaadpleegMetBurgerservicenummer",
                "burgerservicenummer": [BSN],
                "fields": ["naam"],
            },
            headers={"x-doelbinding": "inzage-test"},
        )
    ).status_code == 200
    env = {"BROKER_DATABASE_URL": database_url}
    verify = _run("protocol", "verify", "--tenant", "testgemeente", env=env)
    assert verify.returncode == 0, verify.stderr
    assert "protocol chain intact" in verify.stdout
    inzage = _run("protocol", "inzage", "--tenant", "testgemeente", "--bsn", BSN, env=env)
    assert inzage.returncode == 0, inzage.stderr
    entries = json.loads(inzage.stdout)
    assert any(entry.get("doelbinding") == "inzage-test" for entry in entries)
    csv = _run("protocol", "inzage", "--tenant", "testgemeente", "--bsn", BSN, "--format", "csv", env=env)
    assert csv.stdout.splitlines()[0].count(",") > 3
    bad = _run("protocol", "inzage", "--tenant", "testgemeente", "--bsn", "12", env=env)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
