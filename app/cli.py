"""The `brp-broker` command.

    serve | dev [token ...] | migrate | sandbox [convert ...] | tenants apply DIR |
    protocol verify | protocol retention | protocol inzage

Every command reads the settings first; a wrong setting or input ends the program with one line
naming what is wrong (exit status 2), never a traceback. No command prints a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec
import structlog

from app.db import EmbeddedPostgres, MigrationError, apply_migrations, ensure_database, with_user
from app.logging import configure_logging
from app.secrets import SecretKey, SecretReferenceError
from app.settings import Settings, SettingsError, load_settings

__all__ = ["main"]

_log = structlog.get_logger("app.cli")

DEV_DATABASE = "brp_broker"
DEMO_TENANTS = Path("tenants")


class CommandError(Exception):
    """A command cannot do its work; the message is the one line the operator sees."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brp-broker", description="Multi-tenant gateway to RvIG's BRP API.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the broker (needs BROKER_DATABASE_URL)")
    dev = commands.add_parser("dev", help="embedded PostgreSQL + sandbox RvIG + demo tenants + broker")
    dev_commands = dev.add_subparsers(dest="dev_command")
    token = dev_commands.add_parser("token", help="print a dev identity provider token for curl")
    token.add_argument("--tenant", required=True, help="tenant slug, e.g. amsterdam")
    token.add_argument("--employee", help="employee id (omit for an application token)")
    token.add_argument("--role", action="append", default=[], help="role (repeatable)")
    token.add_argument("--client", default="dev-client", help="client application id")
    token.add_argument("--organisation", help="member organisation (samenwerkingsverband)")
    token.add_argument("--lifetime", type=int, default=3600, help="seconds")
    commands.add_parser("migrate", help="apply pending database migrations")
    _sandbox_parser(commands)
    tenants = commands.add_parser("tenants", help="declarative tenant configuration")
    tenant_commands = tenants.add_subparsers(dest="tenants_command", required=True)
    apply = tenant_commands.add_parser("apply", help="validate, show and apply tenants/*.toml")
    apply.add_argument("directory", type=Path)
    apply.add_argument("--dry-run", action="store_true", help="show the changes, change nothing")
    apply.add_argument("--prune", action="store_true", help="also remove tenants that have no file")
    tenant_commands.add_parser("new-key", help="print a new BROKER_SECRET_KEY (key-encryption key)")
    encrypt = tenant_commands.add_parser(
        "encrypt-secret", help="encrypt a client secret read from standard input, for a tenant file"
    )
    encrypt.add_argument("--tenant", required=True, help="tenant slug")
    encrypt.add_argument("--afnemer", required=True, help="AfnemerID")
    _protocol_parser(commands)
    return parser


def _sandbox_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sandbox = commands.add_parser("sandbox", help="run the local stand-in of RvIG (https://127.0.0.1:8443)")
    sandbox.add_argument("--config", type=Path, default=None, help="sandbox TOML (default: the packaged one)")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command")
    convert = sandbox_commands.add_parser("convert", help="rebuild personen.json from RvIG's test set CSV")
    convert.add_argument("args", nargs=argparse.REMAINDER, help="options of the converter (see --help)")


def _protocol_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    protocol = commands.add_parser("protocol", help="the protocol register (needs the owner URL)")
    protocol_commands = protocol.add_subparsers(dest="protocol_command", required=True)
    verify = protocol_commands.add_parser("verify", help="check the hash chain; report the first broken link")
    verify.add_argument("--tenant")
    retention = protocol_commands.add_parser("retention", help="drop partitions older than the term")
    retention.add_argument("--term-years", type=int, default=20)
    inzage = protocol_commands.add_parser("inzage", help="who consulted or found a person (citizen request)")
    inzage.add_argument("--tenant", required=True)
    inzage.add_argument("--bsn", required=True)
    inzage.add_argument("--from", dest="from_", type=dt.date.fromisoformat)
    inzage.add_argument("--to", type=dt.date.fromisoformat)
    inzage.add_argument("--format", choices=["json", "csv"], default="json")


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
        return _command(args)(settings, args)
    except (SettingsError, CommandError, MigrationError, SecretReferenceError, ValueError) as exc:
        print(f"brp-broker: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _command(args: argparse.Namespace) -> Callable[[Settings, argparse.Namespace], int]:
    if args.command == "dev" and args.dev_command == "token":
        return _dev_token
    if args.command == "protocol":
        return _PROTOCOL[args.protocol_command]
    return _COMMANDS[args.command]


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    sys.exit(0)


def _serve(settings: Settings, _args: argparse.Namespace) -> int:
    if settings.database_url is None:
        raise CommandError(
            "BROKER_DATABASE_URL: is required for `serve` (`brp-broker dev` starts an embedded database)"
        )
    _run_server(settings)
    return 0


def _owner_url(settings: Settings) -> str:
    url = settings.migration_url
    if url is not None:
        return url
    # Without a URL, the operator commands work on the embedded database of `brp-broker dev`.
    data_dir = settings.state_dir / "postgres"
    if (data_dir / "PG_VERSION").exists():
        return asyncio.run(ensure_database(EmbeddedPostgres(data_dir).start(), DEV_DATABASE))
    raise CommandError("BROKER_DATABASE_OWNER_URL or BROKER_DATABASE_URL: is required for this command")


def _migrate(settings: Settings, _args: argparse.Namespace | None = None) -> int:
    result = asyncio.run(apply_migrations(_owner_url(settings)))
    print(f"applied {len(result.applied)} migration(s); {result.already_applied} were already applied")
    return 0


def _sandbox(settings: Settings, args: argparse.Namespace) -> int:
    from app.sandbox.config import load_config
    from app.sandbox.server import serve_sandbox

    serve_sandbox(load_config(args.config, state_dir=str(settings.state_dir)))
    return 0


def _tenants(settings: Settings, args: argparse.Namespace) -> int:
    from app.secrets import generate_secret_key
    from app.tenancy import (
        TenancyApplyError,
        TenantFileError,
        apply,
        encrypt_client_secret,
        load_tenant_files,
    )

    if args.tenants_command == "new-key":
        print(generate_secret_key())
        return 0
    if args.tenants_command == "encrypt-secret":
        key = SecretKey.from_environment()
        if key is None:
            raise CommandError("BROKER_SECRET_KEY: is required to encrypt a secret")
        value = sys.stdin.readline().strip()
        print(encrypt_client_secret(key, args.tenant, args.afnemer, value))
        return 0

    try:
        specs = load_tenant_files(args.directory, secret_key=SecretKey.from_environment())
        plan = asyncio.run(apply(_owner_url(settings), specs, prune=args.prune, dry_run=args.dry_run))
    except (TenantFileError, TenancyApplyError) as exc:
        raise CommandError(str(exc)) from None
    print(plan.render())
    return 0


def _protocol_verify(settings: Settings, args: argparse.Namespace) -> int:
    from app.protocol import format_report, verify

    report = asyncio.run(verify(_owner_url(settings), args.tenant))
    print(format_report(report))
    return 0 if report.ok else 1


def _protocol_retention(settings: Settings, args: argparse.Namespace) -> int:
    from app.protocol import RetentionError, apply_retention

    try:
        report = asyncio.run(apply_retention(_owner_url(settings), term_years=args.term_years))
    except RetentionError as exc:
        raise CommandError(str(exc)) from None
    print(msgspec.json.encode(report).decode())
    return 0


def _protocol_inzage(settings: Settings, args: argparse.Namespace) -> int:
    from app.protocol import inzage, render

    def moment(day: dt.date | None) -> dt.datetime | None:
        return None if day is None else dt.datetime.combine(day, dt.time(), dt.UTC)

    entries = asyncio.run(
        inzage(_owner_url(settings), args.tenant, args.bsn, moment(args.from_), moment(args.to))
    )
    print(render(entries, args.format))
    return 0


def _dev_token(settings: Settings, args: argparse.Namespace) -> int:
    from app.sandbox.idp import issue_dev_token

    token = issue_dev_token(
        settings.state_dir,
        tenant=args.tenant,
        subject=args.employee or args.client,
        employee=args.employee,
        roles=tuple(args.role),
        client=args.client,
        organisation=args.organisation,
        lifetime=args.lifetime,
    )
    print(token)
    return 0


def _dev(settings: Settings, _args: argparse.Namespace) -> int:
    from app.dev import apply_tenants, sandbox_settings, write_dev_secrets
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
            settings = sandbox_settings(settings, sandbox.pki, sandbox.base_url)
            write_dev_secrets(settings.state_dir / "secrets", sandbox_config)
            if DEMO_TENANTS.is_dir():
                plan = asyncio.run(apply_tenants(_owner_url(settings), DEMO_TENANTS))
                _log.info("demo_tenants_applied", changes=len(plan.changes))
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


_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "serve": _serve,
    "dev": _dev,
    "migrate": _migrate,
    "sandbox": _sandbox,
    "tenants": _tenants,
}
_PROTOCOL: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "verify": _protocol_verify,
    "retention": _protocol_retention,
    "inzage": _protocol_inzage,
}


if __name__ == "__main__":
    sys.exit(main())
