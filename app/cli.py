"""The `brp-broker` command: serve, dev, migrate, sandbox.

Every command reads the settings first; a wrong setting ends the program with one line naming
the variable (exit status 2), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec
import structlog

from app.db import EmbeddedPostgres, MigrationError, apply_migrations, ensure_database, with_user
from app.logging import configure_logging
from app.settings import Settings, SettingsError, load_settings

__all__ = ["main"]

_log = structlog.get_logger("app.cli")

DEV_DATABASE = "brp_broker"


class CommandError(Exception):
    """A command cannot do its work; the message is the one line the operator sees."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brp-broker", description="Multi-tenant gateway to RvIG's BRP API.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the broker (needs BROKER_DATABASE_URL)")
    commands.add_parser("dev", help="embedded PostgreSQL + migrations + broker on 127.0.0.1:8080")
    commands.add_parser("migrate", help="apply pending database migrations")
    sandbox = commands.add_parser("sandbox", help="run the local stand-in of RvIG (https://127.0.0.1:8443)")
    sandbox.add_argument("--config", type=Path, default=None, help="sandbox TOML (default: the packaged one)")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command")
    convert = sandbox_commands.add_parser("convert", help="rebuild personen.json from RvIG's test set CSV")
    convert.add_argument("args", nargs=argparse.REMAINDER, help="options of the converter (see --help)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    # Uvicorn shuts down gracefully on SIGTERM and then re-raises it; exiting through SystemExit
    # (not the default kill) lets `finally` blocks run, e.g. stopping the embedded PostgreSQL.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if args.command == "sandbox" and args.sandbox_command == "convert":
        from app.sandbox.data.convert import main as convert

        return convert(args.args)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "sandbox":
            return _sandbox(settings, args.config)
        return _COMMANDS[args.command](settings)
    except (SettingsError, CommandError, MigrationError) as exc:
        print(f"brp-broker: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    sys.exit(0)


def _serve(settings: Settings) -> int:
    if settings.database_url is None:
        raise CommandError(
            "BROKER_DATABASE_URL: is required for `serve` (`brp-broker dev` starts an embedded database)"
        )
    _run_server(settings)
    return 0


def _migrate(settings: Settings) -> int:
    url = settings.migration_url
    if url is None:
        raise CommandError("BROKER_DATABASE_OWNER_URL or BROKER_DATABASE_URL: is required for `migrate`")
    result = asyncio.run(apply_migrations(url))
    print(f"applied {len(result.applied)} migration(s); {result.already_applied} were already applied")
    return 0


def _sandbox(settings: Settings, config_path: Path | None) -> int:
    from app.sandbox.config import load_config
    from app.sandbox.server import serve_sandbox

    serve_sandbox(load_config(config_path, state_dir=str(settings.state_dir)))
    return 0


def _dev(settings: Settings) -> int:
    from app.dev import with_sandbox_upstream
    from app.sandbox.config import load_config
    from app.sandbox.server import SandboxThread

    embedded: EmbeddedPostgres | None = None
    if settings.database_url is None:
        embedded = EmbeddedPostgres(settings.state_dir / "postgres")
        admin_url = asyncio.run(ensure_database(embedded.start(), DEV_DATABASE))
        settings = msgspec.structs.replace(
            settings,
            database_owner_url=admin_url,
            database_url=with_user(admin_url, settings.database_runtime_role),
        )
        _log.info("embedded_postgres_started", data_dir=str(embedded.data_dir))
    try:
        _migrate(settings)
        sandbox_config = load_config(state_dir=str(settings.state_dir))
        with SandboxThread(sandbox_config) as sandbox:
            _log.info("sandbox_started", url=sandbox.base_url)
            if settings.afnemer is None:
                settings = with_sandbox_upstream(settings, sandbox_config, sandbox.pki, sandbox.base_url)
            _run_server(settings)
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def _run_server(settings: Settings) -> None:
    import uvicorn

    from app.main import create_app

    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        http="httptools",
        server_header=False,
    )
    uvicorn.Server(config).run()


_COMMANDS = {"serve": _serve, "dev": _dev, "migrate": _migrate}


if __name__ == "__main__":
    sys.exit(main())
