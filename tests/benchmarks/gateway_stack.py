"""Processes of the gateway benchmark: the sandbox, and the broker with one benchmark tenant.

`python -m tests.benchmarks.gateway_stack sandbox PORT` | `broker SANDBOX_PORT`
(state folder from BROKER_STATE_DIR). Used by `gateway_load`; not a test.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import msgspec

from app.db import EmbeddedPostgres, apply_migrations, ensure_database, with_user
from app.dev import sandbox_settings, write_dev_secrets
from app.logging import configure_logging
from app.sandbox.config import load_config
from app.sandbox.idp import dev_idp_jwks
from app.sandbox.pki import ensure_dev_pki
from app.sandbox.server import build_server
from app.server import run_broker
from app.settings import load_settings
from app.tenancy import apply, load_tenant_files
from tests.support.tenants import write_saas_tenant

BENCH_TENANT = "bench"


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


def _tenant_folder(port: int) -> Path:
    sandbox_config = load_config(port=port, state_dir=str(_state()))
    secrets = write_dev_secrets(_state() / "secrets", sandbox_config)
    folder = _state() / "tenants"
    folder.mkdir(exist_ok=True)
    write_saas_tenant(folder, BENCH_TENANT, dev_idp_jwks(_state()), secrets["000001"])
    return folder


def broker(port: int) -> None:
    """Embedded PostgreSQL, migrations, the benchmark tenant, then the broker in the foreground."""
    # As `brp-broker` does: SIGTERM ends through SystemExit, so the embedded server is stopped too.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    sandbox_config = load_config(port=port, state_dir=str(_state()))
    pki = ensure_dev_pki(_state(), sandbox_config.oins)
    embedded = EmbeddedPostgres(settings.state_dir / "postgres")
    admin = asyncio.run(ensure_database(embedded.start(), "brp_bench"))
    asyncio.run(apply_migrations(admin))
    asyncio.run(apply(admin, load_tenant_files(_tenant_folder(port)), prune=False, dry_run=False))
    settings = sandbox_settings(settings, pki, f"https://127.0.0.1:{port}")
    environment = msgspec.structs.replace(
        settings.environments["sandbox"], max_connections=512, max_keepalive_connections=512
    )
    settings = msgspec.structs.replace(
        settings,
        database_url=with_user(admin, settings.database_runtime_role),
        environments={"sandbox": environment},
        database_pool_max=40,
    )
    try:
        run_broker(settings)
    finally:
        embedded.stop()


if __name__ == "__main__":
    if sys.argv[1] == "sandbox":
        sandbox(int(sys.argv[2]))
    else:
        broker(int(sys.argv[2]))
