"""Processes of the gateway benchmarks: the sandbox, an embedded PostgreSQL, the broker with its tenants.

    python -m tests.benchmarks.gateway_stack sandbox PORT
    python -m tests.benchmarks.gateway_stack postgres
    python -m tests.benchmarks.gateway_stack broker UPSTREAM [--tenants N]
    python -m tests.benchmarks.gateway_stack floor UPSTREAM [--busy-ms MS]

The state folder comes from BROKER_STATE_DIR, the broker's port and worker processes from
BROKER_PORT and BROKER_WORKERS, like `brp-broker serve`. Used by `gateway_load` and `scale_out`;
not a test.

- `postgres` starts the embedded PostgreSQL of the state folder, prints a marker, and holds it until
  its stdin closes (the benchmark ends, or dies): brokers started meanwhile join that server, so
  one server outlives several brokers and its pid is known.
- `broker` runs migrations, writes and applies N tenants, then serves. UPSTREAM is the sandbox's
  port, or the base URL of another RvIG stand-in (the anchor's nginx). Tenant 1 is `bench` with the
  sandbox's afnemer 000001; tenants 2..N (`bench-2`, ...) each have an afnemer of their own
  (900002, ...) that only a stand-in which accepts any afnemer (the anchor's nginx) serves.
- `floor` serves `stack_floor`'s pass-through (no database) the way the broker is served, in
  BROKER_WORKERS processes as `serve` starts them (on Linux a listening socket per worker): what
  the stack costs before the broker does any work of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import signal
import sys
from pathlib import Path

import msgspec
import uvicorn

from app.db import EmbeddedPostgres, apply_migrations, ensure_database, with_user
from app.dev import sandbox_settings, write_dev_secrets
from app.logging import configure_logging
from app.sandbox.config import load_config
from app.sandbox.idp import dev_idp_jwks
from app.sandbox.pki import ensure_dev_pki
from app.sandbox.server import build_server
from app.server import WorkersWithOwnListeners, run_broker, uvicorn_config
from app.settings import Settings, load_settings
from app.tenancy import apply, load_tenant_files
from app.tuning import size_tls_read_buffers
from tests.benchmarks.stack_floor import floor_app
from tests.support.tenants import write_saas_tenant

__all__ = ["BENCH_TENANT", "POSTGRES_READY", "bench_tenants"]

BENCH_TENANT = "bench"
POSTGRES_READY = "POSTGRES READY"
# What the broker's processes share: the same 40 connections to PostgreSQL, split over the workers.
_DATABASE_CONNECTIONS = 40


def _state() -> Path:
    return Path(os.environ["BROKER_STATE_DIR"])


def bench_tenants(count: int) -> list[tuple[str, str]]:
    """(slug, AfnemerID) of the first `count` benchmark tenants."""
    return [(BENCH_TENANT, "000001")] + [
        (f"{BENCH_TENANT}-{n}", f"{900000 + n:06d}") for n in range(2, count + 1)
    ]


def sandbox(port: int) -> None:
    """Run the sandbox in the foreground; print a marker once it listens."""
    server, _ = build_server(
        load_config(port=port, state_dir=str(_state())),
        access_log=False,
        on_started=lambda: print("SANDBOX READY", flush=True),
    )
    server.run()


def postgres() -> None:
    """Hold the state folder's embedded PostgreSQL until stdin closes; print a marker once it runs."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    embedded = EmbeddedPostgres(_state() / "postgres")
    try:
        embedded.start()
        print(POSTGRES_READY, flush=True)
        sys.stdin.read()  # returns at EOF: the benchmark closed the pipe, or ended
    finally:
        embedded.stop()


def _tenant_folder(tenants: int) -> Path:
    secrets = write_dev_secrets(_state() / "secrets", load_config(state_dir=str(_state())))
    folder = _state() / "tenants"
    folder.mkdir(exist_ok=True)
    jwks = dev_idp_jwks(_state())
    for slug, afnemer_id in bench_tenants(tenants):
        secret = secrets.get(afnemer_id) or _stand_in_secret(afnemer_id)
        write_saas_tenant(folder, slug, jwks, secret, afnemer_id=afnemer_id)
    return folder


def _stand_in_secret(afnemer_id: str) -> Path:
    """A client secret for an afnemer the sandbox does not know (a stand-in accepts any)."""
    path = _state() / "secrets" / f"afnemer-{afnemer_id}"
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(f"bench-secret-{afnemer_id}")
    return path.resolve()


def broker(upstream_url: str, tenants: int) -> None:
    """Embedded PostgreSQL, migrations, the benchmark tenants, then the broker in the foreground."""
    # As `brp-broker` does: SIGTERM ends through SystemExit, so the embedded server is stopped too.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    pki = ensure_dev_pki(_state(), load_config(state_dir=str(_state())).oins)
    embedded = EmbeddedPostgres(settings.state_dir / "postgres")
    admin = asyncio.run(ensure_database(embedded.start(), "brp_bench"))
    asyncio.run(apply_migrations(admin))
    asyncio.run(apply(admin, load_tenant_files(_tenant_folder(tenants)), prune=False, dry_run=False))
    settings = sandbox_settings(settings, pki, upstream_url)
    environment = msgspec.structs.replace(
        settings.environments["sandbox"], max_connections=512, max_keepalive_connections=512
    )
    settings = msgspec.structs.replace(
        settings,
        database_url=with_user(admin, settings.database_runtime_role),
        environments={"sandbox": environment},
        database_pool_max=max(_DATABASE_CONNECTIONS // settings.workers, 10),
    )
    try:
        run_broker(settings)
    finally:
        embedded.stop()


def floor(upstream_url: str, busy_ms: float) -> None:
    """The stack floor (`stack_floor`) in the foreground, served as the broker is."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    pki = ensure_dev_pki(_state(), load_config(state_dir=str(_state())).oins)
    settings = sandbox_settings(settings, pki, upstream_url)
    if settings.workers == 1:
        uvicorn.Server(uvicorn_config(settings, _floor_process_app(settings, busy_ms))).run()
        return
    factory = functools.partial(_floor_worker_app, settings, busy_ms)  # pickled to each worker
    WorkersWithOwnListeners(uvicorn_config(settings, factory, workers=settings.workers, factory=True)).run()


def _floor_worker_app(settings: Settings, busy_ms: float) -> object:
    # A new process: its logging (uvicorn's start line, which `scale_out` waits for) is not set up.
    configure_logging(settings.log_level, settings.log_format)
    return _floor_process_app(settings, busy_ms)


def _floor_process_app(settings: Settings, busy_ms: float) -> object:
    size_tls_read_buffers()  # as each broker process does
    return floor_app(settings, busy_ms)


def _upstream_url(value: str) -> str:
    return f"https://127.0.0.1:{value}" if value.isdigit() else value.rstrip("/")


def main() -> None:
    """Run the process named by the first argument."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("sandbox").add_argument("port", type=int)
    commands.add_parser("postgres")
    broker_command = commands.add_parser("broker")
    broker_command.add_argument("upstream", help="the sandbox's port, or an RvIG stand-in's base URL")
    broker_command.add_argument("--tenants", type=int, default=1)
    floor_command = commands.add_parser("floor")
    floor_command.add_argument("upstream", help="an RvIG stand-in's base URL")
    floor_command.add_argument("--busy-ms", type=float, default=0.0, help="CPU kept busy per request")
    args = parser.parse_args()
    if args.command == "sandbox":
        sandbox(args.port)
    elif args.command == "postgres":
        postgres()
    elif args.command == "floor":
        floor(_upstream_url(args.upstream), args.busy_ms)
    else:
        broker(_upstream_url(args.upstream), args.tenants)


if __name__ == "__main__":
    main()
