"""The operator commands, run as an operator runs them: `brp-broker ...` in a subprocess."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.db import apply_migrations, create_pool, with_user
from app.protocol import ProtocolWriter
from app.sandbox.data import PERSONEN_JSON, TESTSET_CSV
from app.sandbox.idp import dev_idp_key_path, ensure_dev_idp_key
from app.secrets import SecretKey
from app.tenancy import afnemer_secret_context
from tests.integration.protocol.factories import consulted, record
from tests.support.servers import free_port

BSN = "999993653"


def _run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, cwd: Path | None = None
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
        cwd=cwd,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a refused command printed (and nothing else, no traceback)."""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("brp-broker: ")
    return line


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


def test_serve_with_an_unreachable_database_says_which_and_why() -> None:
    closed = free_port()  # nothing listens there
    url = f"postgresql://brp_app:hunter2@127.0.0.1:{closed}/brp_broker"
    done = _run("serve", env={"BROKER_DATABASE_URL": url, "BROKER_PORT": str(free_port())})
    assert done.returncode == 2
    line = _one_line(done)
    assert f"127.0.0.1:{closed}" in line
    assert "brp_broker" in line  # the database
    assert "ConnectionRefusedError" in line  # what went wrong
    assert "hunter2" not in done.stderr + done.stdout


def test_migrate_with_an_unreachable_database_says_which_and_why() -> None:
    closed = free_port()
    url = f"postgresql://brp_owner:hunter2@127.0.0.1:{closed}/brp_broker"
    done = _run("migrate", env={"BROKER_DATABASE_OWNER_URL": url})
    assert done.returncode == 2
    line = _one_line(done)
    assert f"127.0.0.1:{closed}" in line
    assert "hunter2" not in line


def test_dev_token_outside_the_checkout_refuses_instead_of_inventing_a_key(tmp_path: Path) -> None:
    # Another working directory: `.state` (with the key the sandbox serves) is not there.
    done = _run("dev", "token", "--tenant", "amsterdam", "--employee", "E1001", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""  # no token the broker would refuse
    line = _one_line(done)
    assert str(dev_idp_key_path(tmp_path / ".state")) in line
    assert "make dev" in line
    assert "BROKER_STATE_DIR" in line
    assert not dev_idp_key_path(tmp_path / ".state").exists()


def test_dev_token_signs_with_the_key_of_the_state_folder(tmp_path: Path) -> None:
    key = ensure_dev_idp_key(tmp_path)  # what the sandbox of `make dev` creates
    done = _run("dev", "token", "--tenant", "amsterdam", env={"BROKER_STATE_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    header = json.loads(base64.urlsafe_b64decode(done.stdout.split(".")[0] + "=="))
    assert header["kid"] == key.thumbprint()


@pytest.fixture
async def departed_tenant_register(new_database) -> str:  # type: ignore[no-untyped-def]
    """A database whose protocol holds records of `vertrokken`, a tenant no longer registered."""
    url: str = await new_database()
    await apply_migrations(url)
    pool = await create_pool(with_user(url, "brp_app"), "brp_app", min_size=1, max_size=4)
    writer = ProtocolWriter(pool)
    await writer.start()
    try:
        await writer.record(record("vertrokken", consulted(BSN)))
    finally:
        await writer.stop()
        await pool.close()
    return url


@pytest.mark.parametrize(
    "command",
    [("protocol", "verify"), ("protocol", "inzage", "--bsn", BSN)],
    ids=["verify", "inzage"],
)
def test_protocol_commands_refuse_a_tenant_that_does_not_exist(
    departed_tenant_register: str, command: tuple[str, ...]
) -> None:
    env = {"BROKER_DATABASE_URL": departed_tenant_register}
    done = _run(*command, "--tenant", "nooit-bestaan", env=env)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "nooit-bestaan" in _one_line(done)


def test_protocol_commands_still_serve_a_removed_tenants_register(departed_tenant_register: str) -> None:
    env = {"BROKER_DATABASE_URL": departed_tenant_register}
    verify = _run("protocol", "verify", "--tenant", "vertrokken", env=env)
    assert verify.returncode == 0, verify.stderr
    assert "vertrokken\trecords=1" in verify.stdout
    inzage = _run("protocol", "inzage", "--tenant", "vertrokken", "--bsn", BSN, env=env)
    assert inzage.returncode == 0, inzage.stderr
    assert len(json.loads(inzage.stdout)) == 1


def test_sandbox_convert_takes_csv_and_out_as_the_readme_shows(tmp_path: Path) -> None:
    out = tmp_path / "personen.json"
    done = _run("sandbox", "convert", "--csv", str(TESTSET_CSV), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout
    assert len(json.loads(out.read_text())["personen"]) == len(
        json.loads(PERSONEN_JSON.read_text())["personen"]
    )
