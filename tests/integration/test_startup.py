"""`brp-broker serve` refuses to start with one clear line when something it needs is unusable.

Each case runs `serve` as an operator does (subprocess, config file, variables) with one thing
wrong: it must end quickly with exit status 2, its last line `brp-broker: ...` naming what is
wrong and where, no traceback anywhere, and no secret.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from app.db import with_user
from app.sandbox.server import SandboxThread
from app.settings import Settings
from tests.integration.serving import ServeProcess, serve_environment


def _refusal(broker: ServeProcess) -> str:
    """The one line `serve` ended with (after checking how it ended)."""
    status = broker.wait()
    output = broker.output
    assert status == 2, output
    assert "Traceback" not in output
    last = output.strip().splitlines()[-1]
    assert last.startswith("brp-broker: "), output
    return last


def _with_identity(settings: Settings, **changes: Path) -> Settings:
    (identity,) = settings.identities
    return msgspec.structs.replace(settings, identities=(msgspec.structs.replace(identity, **changes),))


async def _serve(settings: Settings, folder: Path, database_url: str, **variables: str) -> str:
    env = serve_environment(settings, folder, database_url, **variables)
    with ServeProcess(env) as broker:
        return await asyncio.to_thread(_refusal, broker)


async def test_a_private_key_that_cannot_be_read_is_named(
    broker_settings: Settings, database_url: str, sandbox: SandboxThread, tmp_path: Path
) -> None:
    missing = tmp_path / "keys" / "supplier.key"
    line = await _serve(
        _with_identity(broker_settings, private_key=missing), tmp_path, with_user(database_url, "brp_app")
    )
    (identity,) = broker_settings.identities
    assert f"identity {identity.name}" in line
    assert str(missing) in line
    assert "No such file or directory" in line


async def test_a_private_key_that_is_no_key_is_named(
    broker_settings: Settings, database_url: str, sandbox: SandboxThread, tmp_path: Path
) -> None:
    garbage = tmp_path / "supplier.key"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    line = await _serve(
        _with_identity(broker_settings, private_key=garbage), tmp_path, with_user(database_url, "brp_app")
    )
    assert str(garbage) in line
    assert "private key" in line


async def test_a_private_key_of_another_certificate_is_named(
    broker_settings: Settings, database_url: str, sandbox: SandboxThread, tmp_path: Path
) -> None:
    (identity,) = broker_settings.identities
    other = next(client for oin, client in sandbox.pki.clients.items() if oin != identity.oin)
    line = await _serve(
        _with_identity(broker_settings, private_key=other.key), tmp_path, with_user(database_url, "brp_app")
    )
    assert str(other.key) in line
    assert str(identity.certificate) in line


async def test_a_certificate_that_cannot_be_read_is_named(
    broker_settings: Settings, database_url: str, sandbox: SandboxThread, tmp_path: Path
) -> None:
    missing = tmp_path / "supplier.crt"
    line = await _serve(
        _with_identity(broker_settings, certificate=missing), tmp_path, with_user(database_url, "brp_app")
    )
    assert f"cannot read certificate {missing}" in line


async def test_a_database_without_the_brokers_schema_says_to_migrate(
    broker_settings: Settings,
    new_database,
    sandbox: SandboxThread,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    empty: str = await new_database()
    line = await _serve(broker_settings, tmp_path, empty)
    assert "brp-broker migrate" in line


async def test_an_unusable_secret_key_for_the_tenant_secrets_is_named(
    broker_settings: Settings, database_url: str, sandbox: SandboxThread, tmp_path: Path
) -> None:
    line = await _serve(
        broker_settings, tmp_path, with_user(database_url, "brp_app"), BROKER_SECRET_KEY="not-a-key-s3cret"
    )
    assert "BROKER_SECRET_KEY" in line
    assert "s3cret" not in line


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf"),
        ({"OTEL_TRACES_SAMPLER": "always_on"}, "OTEL_TRACES_SAMPLER"),
    ],
)
async def test_a_trace_export_the_broker_cannot_make_is_named(
    broker_settings: Settings,
    database_url: str,
    sandbox: SandboxThread,
    tmp_path: Path,
    variables: dict[str, str],
    named: str,
) -> None:
    line = await _serve(
        broker_settings,
        tmp_path,
        with_user(database_url, "brp_app"),
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318",
        **variables,
    )
    assert named in line


async def test_a_worker_that_cannot_start_stops_all_of_them_with_its_one_line(
    broker_settings: Settings, database_url: str, sandbox: SandboxThread, tmp_path: Path
) -> None:
    missing = tmp_path / "supplier.key"
    line = await _serve(
        _with_identity(broker_settings, private_key=missing),
        tmp_path,
        with_user(database_url, "brp_app"),
        BROKER_WORKERS="2",
    )
    assert str(missing) in line
