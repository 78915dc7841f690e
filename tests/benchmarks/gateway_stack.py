"""Processes of the gateway benchmark: the sandbox, the broker's config, and the broker itself.

`python -m tests.benchmarks.gateway_stack sandbox PORT` | `config PORT OUT.toml` | `broker`
(state folder from BROKER_STATE_DIR). Used by `gateway_load`; not a test.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import msgspec

from app.cli import _run_server
from app.db import EmbeddedPostgres, apply_migrations, ensure_database, with_user
from app.dev import with_sandbox_upstream
from app.logging import configure_logging
from app.sandbox.config import load_config
from app.sandbox.pki import ensure_dev_pki
from app.sandbox.server import build_server
from app.settings import Settings, load_settings


def _state() -> Path:
    return Path(os.environ["BROKER_STATE_DIR"])


def sandbox(port: int) -> None:
    """Run the sandbox in the foreground; print a marker once it listens."""
    server, _ = build_server(
        load_config(port=port, state_dir=str(_state())),
        access_log=False,
        on_started=lambda: print("SANDBOX READY", flush=True),
    )
    server.run()


def config(port: int, out: Path) -> None:
    """Write the broker's TOML: dev identity, sandbox URLs, dev afnemer, a pool sized for the load."""
    sandbox_config = load_config(port=port, state_dir=str(_state()))
    pki = ensure_dev_pki(_state(), sandbox_config.oins)
    settings = with_sandbox_upstream(
        Settings(state_dir=_state()), sandbox_config, pki, f"https://127.0.0.1:{port}"
    )
    environment = msgspec.structs.replace(
        settings.environments["sandbox"], max_connections=512, max_keepalive_connections=512
    )
    document = {
        "identities": msgspec.to_builtins(settings.identities, enc_hook=str),
        "environments": {"sandbox": msgspec.to_builtins(environment)},
        "afnemer": msgspec.to_builtins(settings.afnemer, enc_hook=str),
        "database_pool_max": 40,
    }
    out.write_bytes(msgspec.toml.encode(document))


def broker() -> None:
    """Embedded PostgreSQL, migrations, then the broker in the foreground."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    embedded = EmbeddedPostgres(settings.state_dir / "postgres")
    admin = asyncio.run(ensure_database(embedded.start(), "brp_bench"))
    asyncio.run(apply_migrations(admin))
    settings = msgspec.structs.replace(
        settings, database_url=with_user(admin, settings.database_runtime_role)
    )
    try:
        _run_server(settings)
    finally:
        embedded.stop()


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "sandbox":
        sandbox(int(sys.argv[2]))
    elif command == "config":
        config(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        broker()
