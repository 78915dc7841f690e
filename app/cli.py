"""The `brp-broker` command.

    serve | dev [token ...] | migrate | sandbox [convert ...] | tenants apply DIR [--take-over] |
    tenants export DIR [--tenant SLUG] |
    protocol verify [--export FILE | --public-keys FILE --anchors FILE] |
    protocol retention [--keep-signed-heads-days DAYS] | protocol inzage | protocol export |
    protocol signing-key generate --out FILE |
    ldv keygen --out FILE | ldv decrypt --key FILE

Every command reads the settings first; a wrong setting or input, a database it cannot reach, a
port already in use, a tenant that does not exist or a broker that cannot start ends the program
with one line naming what is wrong (exit status 2), never a traceback. No command prints a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import structlog

from app.db import (
    DatabaseUnavailable,
    EmbeddedPostgres,
    MigrationError,
    apply_migrations,
    ensure_database,
    require_database,
    with_user,
)
from app.logging import configure_logging
from app.sandbox.data import convert
from app.secrets import SecretKey, SecretReferenceError
from app.server import StartupError, require_free_port, run_broker
from app.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from app.audit import AuditVerifyReport
    from app.protocol.anchors import Anchors
    from app.protocol.signing import PublicKeys
    from app.sandbox.config import SandboxConfig
    from app.sandbox.server import SandboxThread

__all__ = ["main"]

_log = structlog.get_logger("app.cli")

DEV_DATABASE = "brp_broker"
DEMO_TENANTS = Path("tenants")


class CommandError(Exception):
    """A command cannot do its work; the message is the one line the operator sees."""


# Everything that ends a command with its one line (exit status 2).
_ONE_LINE_ERRORS = (
    SettingsError,
    CommandError,
    MigrationError,
    SecretReferenceError,
    DatabaseUnavailable,
    StartupError,
    ValueError,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brp-broker", description="Multi-tenant gateway to RvIG's BRP API.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the broker (needs BROKER_DATABASE_URL)")
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes (default: BROKER_WORKERS, 1); share limits through BROKER_REDIS_URL",
    )
    dev = commands.add_parser("dev", help="embedded PostgreSQL + sandbox RvIG + demo tenants + broker")
    dev_commands = dev.add_subparsers(dest="dev_command")
    token = dev_commands.add_parser("token", help="print a dev identity provider token for curl")
    token.add_argument("--tenant", help="tenant slug, e.g. amsterdam (required unless --operator)")
    token.add_argument(
        "--operator", action="store_true", help="an operator token for the admin API (no tenant)"
    )
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
    apply.add_argument(
        "--take-over",
        action="store_true",
        help="also overwrite tenants managed through the admin API, handing them to the files",
    )
    export = tenant_commands.add_parser(
        "export", help="write tenants from the database as tenant files (DIR/<slug>.toml)"
    )
    export.add_argument("directory", type=Path)
    export.add_argument("--tenant", help="only this tenant (slug)")
    tenant_commands.add_parser("new-key", help="print a new BROKER_SECRET_KEY (key-encryption key)")
    encrypt = tenant_commands.add_parser(
        "encrypt-secret", help="encrypt a client secret read from standard input, for a tenant file"
    )
    encrypt.add_argument("--tenant", required=True, help="tenant slug")
    encrypt.add_argument("--afnemer", required=True, help="AfnemerID")
    _protocol_parser(commands)
    _ldv_parser(commands)
    audit = commands.add_parser("audit", help="the audit log of configuration changes (needs the owner URL)")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_verify = audit_commands.add_parser(
        "verify", help="check the hash chain; report the first broken link"
    )
    audit_verify.add_argument("--tenant")
    return parser


def _sandbox_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sandbox = commands.add_parser(
        "sandbox",
        help="run the local stand-in of RvIG (https://127.0.0.1:8443; BROKER_SANDBOX_PORT) and its dev "
        "IdP's login pages (http://127.0.0.1:8444; BROKER_SANDBOX_LOGIN_PORT)",
    )
    sandbox.add_argument("--config", type=Path, default=None, help="sandbox TOML (default: the packaged one)")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command")
    convert.add_arguments(
        sandbox_commands.add_parser(
            "convert", help="rebuild personen.json from RvIG's test set CSV", description=convert.DESCRIPTION
        )
    )


def _protocol_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    protocol = commands.add_parser("protocol", help="the protocol register (needs the owner URL)")
    protocol_commands = protocol.add_subparsers(dest="protocol_command", required=True)
    verify = protocol_commands.add_parser("verify", help="check the hash chain; report the first broken link")
    verify.add_argument("--tenant")
    verify.add_argument(
        "--full",
        action="store_true",
        help="walk whole chains, not only what came after the last verified run",
    )
    verify.add_argument(
        "--export",
        type=Path,
        metavar="FILE",
        help="verify a JSONL export and its FILE.manifest.json offline, without the database",
    )
    _signature_arguments(verify)
    _signing_key_parser(protocol_commands)
    retention = protocol_commands.add_parser(
        "retention", help="drop partitions older than the term; thin old signed chain heads"
    )
    retention.add_argument("--term-years", type=int, default=20)
    retention.add_argument(
        "--keep-signed-heads-days",
        type=int,
        metavar="DAYS",
        help="keep every signed chain head of the last DAYS UTC days (1-36525, default 35); of older "
        "days the newest per chain and day, and those verify compares with a retention checkpoint",
    )
    inzage = protocol_commands.add_parser("inzage", help="who consulted or found a person (citizen request)")
    inzage.add_argument("--tenant", required=True)
    inzage.add_argument("--bsn", required=True)
    inzage.add_argument("--from", dest="from_", type=dt.date.fromisoformat)
    inzage.add_argument("--to", type=dt.date.fromisoformat)
    inzage.add_argument("--format", choices=["json", "csv"], default="json")
    export = protocol_commands.add_parser(
        "export",
        help="write a tenant's records of a period, with FILE.manifest.json, for archive and audit",
        description="Export a tenant's records (from inclusive, to exclusive) in sequence order. "
        "jsonl can be verified offline (protocol verify --export FILE); csv is for reading; ldv "
        "writes Logboek Dataverwerkingen lines (subjects encrypted to the tenant's [ldv] subject_key).",
    )
    export.add_argument("--tenant", required=True)
    export.add_argument(
        "--from", dest="from_", required=True, type=dt.date.fromisoformat, metavar="YYYY-MM-DD"
    )
    export.add_argument("--to", required=True, type=dt.date.fromisoformat, metavar="YYYY-MM-DD")
    export.add_argument(
        "--format",
        choices=["jsonl", "csv", "ldv"],
        default="jsonl",
        help="jsonl (verifiable), csv, or ldv (Logboek Dataverwerkingen 1.0.0 lines)",
    )
    export.add_argument("--out", required=True, type=Path, metavar="FILE")


def _ldv_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ldv = commands.add_parser(
        "ldv", help="Logboek Dataverwerkingen: the tenant's key pair for data subjects (no database)"
    )
    ldv_commands = ldv.add_subparsers(dest="ldv_command", required=True)
    keygen = ldv_commands.add_parser(
        "keygen",
        help="make a key pair: the private JWK to --out (mode 0600), the public JWK printed for the "
        "tenant file's [ldv] subject_key",
    )
    keygen.add_argument("--out", required=True, type=Path, metavar="PRIVATE.jwk")
    keygen.add_argument("--curve", choices=["P-256", "P-384", "P-521", "X25519"], default="P-256")
    decrypt = ldv_commands.add_parser(
        "decrypt",
        help="read LDV JSONL on standard input, write it with dpl.core.data_subject_id decrypted",
    )
    decrypt.add_argument(
        "--key", required=True, type=Path, metavar="PRIVATE.jwk", help="a private JWK or a JWK Set"
    )


def _signature_arguments(verify: argparse.ArgumentParser) -> None:
    verify.add_argument(
        "--public-keys",
        type=Path,
        metavar="FILE",
        help="the broker's public signing keys (JWKS or JWK): also check every signed chain head",
    )
    verify.add_argument(
        "--anchors",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="published heads (anchor file, or the broker's JSON log); repeatable: the chain must hold each",
    )
    verify.add_argument(
        "--max-unsigned-age",
        type=_duration,
        default=None,
        metavar="AGE",
        help="with --public-keys: the longest a record may stay unsigned, and the oldest the newest "
        "signature may be (e.g. 90m, 2h, 3600s; default 1h; must exceed the signer's interval + heartbeat)",
    )


def _signing_key_parser(protocol_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    signing_key = protocol_commands.add_parser("signing-key", help="the key chain heads are signed with")
    key_commands = signing_key.add_subparsers(dest="signing_key_command", required=True)
    generate = key_commands.add_parser(
        "generate",
        help="write a new private Ed25519 JWK (mode 0600) and print the public JWKS to publish",
        description="Writes a new signing key for BROKER_PROTOCOL_SIGNING_KEY_FILE and prints the "
        "public keys auditors verify with (protocol verify --public-keys). To rotate, give the JWKS "
        "published so far with --jwks: the old keys stay in it, so old signatures keep verifying.",
    )
    generate.add_argument("--out", required=True, type=Path, metavar="FILE", help="must not exist yet")
    generate.add_argument("--kid", help="key id (default: the key's RFC 7638 thumbprint)")
    generate.add_argument("--jwks", type=Path, metavar="FILE", help="public keys published so far, kept")


def _duration(text: str) -> dt.timedelta:
    """`90m`, `2h`, `3600s` or `3600` (seconds) as a duration; argparse shows the error."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90m, 2h, 3600s)") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("must be longer than 0")
    return dt.timedelta(seconds=seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    # Uvicorn shuts down gracefully on SIGTERM and then re-raises it; exiting through SystemExit
    # (not the default kill) lets `finally` blocks run, e.g. stopping the embedded PostgreSQL.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if args.command == "sandbox" and args.sandbox_command == "convert":
        return convert.run(args)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        return _command(args)(settings, args)
    except _ONE_LINE_ERRORS as exc:
        print(f"brp-broker: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _command(args: argparse.Namespace) -> Callable[[Settings, argparse.Namespace], int]:
    if args.command == "dev" and args.dev_command == "token":
        return _dev_token
    if args.command == "protocol":
        return _PROTOCOL[args.protocol_command]
    if args.command == "audit":
        return _audit_verify
    if args.command == "ldv":
        return _ldv_keygen if args.ldv_command == "keygen" else _ldv_decrypt
    return _COMMANDS[args.command]


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    sys.exit(0)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    if args.workers is not None:
        # Validated like BROKER_WORKERS (the option wins over it).
        try:
            settings = load_settings({**os.environ, "BROKER_WORKERS": str(args.workers)})
        except SettingsError as exc:
            raise CommandError(str(exc).replace("BROKER_WORKERS", "--workers", 1)) from None
    if settings.database_url is None:
        raise CommandError(
            "BROKER_DATABASE_URL: is required for `serve` (`brp-broker dev` starts an embedded database)"
        )
    _require_signing_key(settings)
    asyncio.run(require_database(settings.database_url, within=settings.database_timeout))
    run_broker(settings)
    return 0


def _owner_url(settings: Settings) -> str:
    url = settings.migration_url
    if url is not None:
        asyncio.run(require_database(url, within=settings.database_timeout))
        return url
    # Without a URL, the operator commands work on the embedded database of `brp-broker dev`.
    data_dir = settings.state_dir / "postgres"
    if (data_dir / "PG_VERSION").exists():
        return asyncio.run(ensure_database(EmbeddedPostgres(data_dir).start(), DEV_DATABASE))
    raise CommandError("BROKER_DATABASE_OWNER_URL or BROKER_DATABASE_URL: is required for this command")


def _migrate(settings: Settings, _args: argparse.Namespace | None = None) -> int:
    result = asyncio.run(apply_migrations(_owner_url(settings)))
    built = f"; built {len(result.indexes_built)} partition index(es)" if result.indexes_built else ""
    print(f"applied {len(result.applied)} migration(s); {result.already_applied} were already applied{built}")
    return 0


def _sandbox(settings: Settings, args: argparse.Namespace) -> int:
    from app.sandbox.server import LoginServerUnavailable, serve_sandbox

    config = _sandbox_config(settings, args.config)
    require_free_port(config.host, config.port, "BROKER_SANDBOX_PORT")
    require_free_port(config.host, config.login_port, "BROKER_SANDBOX_LOGIN_PORT")
    try:
        serve_sandbox(config)
    except LoginServerUnavailable as exc:  # its login port was taken after the check above
        raise CommandError(f"{exc} (BROKER_SANDBOX_LOGIN_PORT)") from None
    return 0


def _sandbox_config(settings: Settings, path: Path | None = None) -> SandboxConfig:
    """The sandbox's config, in the state folder, on `BROKER_SANDBOX_PORT` and
    `BROKER_SANDBOX_LOGIN_PORT` when those are set."""
    from app.sandbox.config import load_config

    ports = {"port": settings.sandbox_port, "login_port": settings.sandbox_login_port}
    given = {name: port for name, port in ports.items() if port is not None}
    return load_config(path, state_dir=str(settings.state_dir), **given)


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

    if args.tenants_command == "export":
        return _tenants_export(settings, args)
    try:
        specs = load_tenant_files(args.directory, secret_key=SecretKey.from_environment())
        plan = asyncio.run(
            apply(
                _owner_url(settings),
                specs,
                prune=args.prune,
                dry_run=args.dry_run,
                take_over=args.take_over,
                directory=args.directory,
            )
        )
    except (TenantFileError, TenancyApplyError) as exc:
        raise CommandError(str(exc)) from None
    print(plan.render())
    return 0


def _tenants_export(settings: Settings, args: argparse.Namespace) -> int:
    from app.tenancy.export import TenancyExportError, read_tenant_files, write_tenant_files

    try:
        files = asyncio.run(read_tenant_files(_owner_url(settings), args.tenant))
    except TenancyExportError as exc:
        raise CommandError(str(exc)) from None
    try:
        written = write_tenant_files(files, args.directory)
    except OSError as exc:
        raise CommandError(f"{args.directory}: cannot write the tenant files ({exc.strerror})") from None
    for tenant in written:
        print(f"{tenant.path} (managed by {tenant.managed_by})")
    print(f"Exported {len(written)} tenant(s).")
    return 0


def _protocol_verify(settings: Settings, args: argparse.Namespace) -> int:
    from app.protocol import format_report, verify
    from app.protocol.verify import DEFAULT_MAX_UNSIGNED_AGE

    if args.export is not None:
        if args.public_keys is not None or args.anchors or args.max_unsigned_age is not None:
            raise CommandError(
                "--export: cannot be combined with --public-keys, --anchors or --max-unsigned-age"
            )
        return _protocol_verify_export(args)
    if args.max_unsigned_age is not None and args.public_keys is None:
        raise CommandError("--max-unsigned-age: needs --public-keys (it ages signatures)")
    keys, anchors = _signature_inputs(args)
    url = _owner_url(settings)
    if args.tenant is not None and (anchors is None or args.tenant not in anchors.tenants):
        asyncio.run(_require_tenant(url, args.tenant))
    report = asyncio.run(
        verify(
            url,
            args.tenant,
            full=args.full,
            public_keys=keys,
            anchors=anchors,
            max_unsigned_age=args.max_unsigned_age or DEFAULT_MAX_UNSIGNED_AGE,
        )
    )
    print(format_report(report))
    return 0 if report.ok else 1


def _signature_inputs(args: argparse.Namespace) -> tuple[PublicKeys | None, Anchors | None]:
    """The public keys and published heads `verify` was given, read before the database is touched."""
    from app.protocol.anchors import AnchorError, load_anchors
    from app.protocol.signing import SigningKeyError, load_public_keys

    try:
        keys = None if args.public_keys is None else load_public_keys(args.public_keys)
        anchors = load_anchors(args.anchors, keys) if args.anchors else None
    except SigningKeyError as exc:
        raise CommandError(f"--public-keys {exc}") from None
    except AnchorError as exc:
        raise CommandError(str(exc)) from None
    return keys, anchors


def _protocol_signing_key(_settings: Settings, args: argparse.Namespace) -> int:
    """`signing-key generate`: a new private key file (never printed), the public JWKS on stdout."""
    import json

    from app.protocol.signing import PublicKeys, SigningKeyError, generate_signing_key, load_public_keys

    try:
        published = load_public_keys(args.jwks) if args.jwks is not None else PublicKeys({})
        key = generate_signing_key(args.kid)
    except SigningKeyError as exc:
        raise CommandError(str(exc)) from None
    if published.get(key.key_id) is not None:
        raise CommandError(f"--kid: {key.key_id!r} is already in {args.jwks}; a new key needs a new key id")
    document = json.dumps(key.private_jwk(), indent=2).encode() + b"\n"
    try:
        # O_EXCL: never overwrite a key; 0600 from the start, not chmod after writing.
        descriptor = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise CommandError(f"--out {args.out}: cannot create the key file ({exc.strerror})") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(document)
    jwks = PublicKeys.from_jwks(key.public_jwk()).merged(published.items()).jwks()
    print(json.dumps(jwks, indent=2))
    print(f"wrote {args.out} (key id {key.key_id}); publish the JWKS above", file=sys.stderr)
    return 0


def _require_signing_key(settings: Settings) -> None:
    """Refuse to serve, in one line naming the setting, with a signing key or anchor file it cannot use."""
    from app.protocol.anchors import AnchorError, check_anchor_file
    from app.protocol.signing import SigningKeyError, load_signing_key

    if settings.protocol_signing_key_file is None:
        return
    try:
        load_signing_key(settings.protocol_signing_key_file)
        if settings.protocol_anchor_file is not None:
            check_anchor_file(settings.protocol_anchor_file)
    except (SigningKeyError, AnchorError) as exc:
        raise CommandError(str(exc)) from None


def _protocol_verify_export(args: argparse.Namespace) -> int:
    """Verify an export offline: no database, so no database URL is needed."""
    from app.protocol.export import ExportError, format_export_report, verify_export

    if args.tenant is not None or args.full:
        raise CommandError("--export: cannot be combined with --tenant or --full (the manifest names both)")
    try:
        report = verify_export(args.export)
    except ExportError as exc:
        raise CommandError(str(exc)) from None
    print(format_export_report(report))
    return 0 if report.ok else 1


def _protocol_export(settings: Settings, args: argparse.Namespace) -> int:
    from app.protocol import ProtocolAccessError
    from app.protocol.export import ExportError, export, manifest_path

    if args.from_ >= args.to:
        raise CommandError("--from: must lie before --to")
    url = _owner_url(settings)
    asyncio.run(_require_tenant(url, args.tenant))
    started = time.monotonic()

    def progress(records: int) -> None:
        print(f"\rexported {records} records, {time.monotonic() - started:.1f} s", end="", file=sys.stderr)

    try:
        manifest = asyncio.run(
            export(
                url,
                args.tenant,
                from_=dt.datetime.combine(args.from_, dt.time(), dt.UTC),
                to=dt.datetime.combine(args.to, dt.time(), dt.UTC),
                fmt=args.format,
                out=args.out,
                progress=progress if sys.stderr.isatty() else None,
            )
        )
    except (ExportError, ProtocolAccessError) as exc:
        raise CommandError(str(exc)) from None
    if sys.stderr.isatty():
        print(file=sys.stderr)
    seqs = "" if manifest.first_seq is None else f"\tseq={manifest.first_seq}..{manifest.last_seq}"
    print(
        f"{args.out}\t{manifest.tenant}\trecords={manifest.records}{seqs}\tmanifest={manifest_path(args.out)}"
    )
    return 0


def _ldv_keygen(_settings: Settings, args: argparse.Namespace) -> int:
    """A tenant's key pair: the private JWK to a new file only its owner reads, the public one printed."""
    from app.protocol.ldv_subjects import generate_private_key, public_jwk

    private = generate_private_key(args.curve)
    try:
        descriptor = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CommandError(f"--out {args.out}: exists; a key file is never overwritten") from None
    except OSError as exc:
        raise CommandError(f"--out {args.out}: cannot create the key file ({exc.strerror})") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(msgspec.json.format(msgspec.json.encode(private), indent=2) + b"\n")
    public = public_jwk(private)
    print(msgspec.json.encode(public).decode())
    # A TOML inline table: JSON strings are valid TOML basic strings.
    inline = ", ".join(f"{name} = {msgspec.json.encode(public[name]).decode()}" for name in sorted(public))
    print(
        f"The private key is in {args.out} (mode 0600): keep it with the tenant, never with the broker.\n"
        f"In the tenant file:\n[ldv]\nsubject_key = {{ {inline} }}",
        file=sys.stderr,
    )
    return 0


def _ldv_decrypt(_settings: Settings, args: argparse.Namespace) -> int:
    """LDV JSONL from standard input to standard output, with each data subject decrypted."""
    from app.protocol.ldv_subjects import LdvKeyError, PrivateSubjectKeys, decrypt_lines

    try:
        keys = PrivateSubjectKeys.from_json(args.key.read_bytes())
    except OSError as exc:
        raise CommandError(f"--key {args.key}: cannot read the key file ({exc.strerror})") from None
    except LdvKeyError as exc:
        raise CommandError(f"--key {args.key}: {exc}") from None
    out = sys.stdout.buffer
    try:
        for line in decrypt_lines(sys.stdin.buffer, keys):
            out.write(line)
    except LdvKeyError as exc:
        out.flush()
        raise CommandError(f"standard input, {exc}") from None
    out.flush()
    return 0


def _audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    from app.audit import format_audit_report, verify_audit
    from app.protocol import ProtocolAccessError
    from app.protocol.access import operator_connection
    from app.tenancy.store import find_tenant

    async def verified() -> AuditVerifyReport:
        async with operator_connection(url) as connection:
            report = await verify_audit(connection, args.tenant)
            # A removed tenant's audit outlives it; a tenant with neither never existed.
            never_existed = (
                args.tenant is not None
                and not report.chains[0].entries
                and await find_tenant(connection, args.tenant) is None
            )
            if never_existed:
                raise CommandError(
                    f"--tenant {args.tenant}: no such tenant (not registered, no audit entries)"
                )
            return report

    url = _owner_url(settings)
    try:
        report = asyncio.run(verified())
    except ProtocolAccessError as exc:
        raise CommandError(str(exc)) from None
    print(format_audit_report(report))
    return 0 if report.ok else 1


async def _require_tenant(url: str, tenant: str) -> None:
    """Refuse a tenant the broker never had: not registered, and no protocol register of its own.

    A removed tenant's register outlives it (the legal term), so it still counts.
    """
    from app.protocol import ProtocolAccessError
    from app.protocol.access import operator_connection
    from app.protocol.tenants import has_register
    from app.tenancy.store import find_tenant

    try:
        async with operator_connection(url) as connection:
            if await find_tenant(connection, tenant) is None and not await has_register(connection, tenant):
                raise CommandError(
                    f"--tenant {tenant}: no such tenant (not in the tenant registry, no protocol records)"
                )
    except ProtocolAccessError as exc:
        raise CommandError(str(exc)) from None


def _protocol_retention(settings: Settings, args: argparse.Namespace) -> int:
    from app.protocol import RetentionError, apply_retention
    from app.protocol.retention import DEFAULT_KEEP_SIGNED_HEADS_DAYS

    keep = args.keep_signed_heads_days
    try:
        report = asyncio.run(
            apply_retention(
                _owner_url(settings),
                term_years=args.term_years,
                keep_signed_heads_days=DEFAULT_KEEP_SIGNED_HEADS_DAYS if keep is None else keep,
            )
        )
    except RetentionError as exc:
        raise CommandError(str(exc)) from None
    print(msgspec.json.encode(report).decode())
    return 0


def _protocol_inzage(settings: Settings, args: argparse.Namespace) -> int:
    from app.protocol import inzage, render

    def moment(day: dt.date | None) -> dt.datetime | None:
        return None if day is None else dt.datetime.combine(day, dt.time(), dt.UTC)

    url = _owner_url(settings)
    asyncio.run(_require_tenant(url, args.tenant))
    entries = asyncio.run(inzage(url, args.tenant, args.bsn, moment(args.from_), moment(args.to)))
    print(render(entries, args.format))
    return 0


def _dev_token(settings: Settings, args: argparse.Namespace) -> int:
    from app.sandbox.idp import DEV_IDP_OPERATOR_ISSUER, DevIdpKeyMissing, issue_dev_token

    if args.operator == (args.tenant is not None):
        raise CommandError("dev token: give --tenant SLUG, or --operator")
    try:
        if args.operator:
            token = issue_dev_token(
                settings.state_dir,
                tenant=None,
                subject=args.employee or "operator",
                roles=("operator", *args.role),
                issuer=DEV_IDP_OPERATOR_ISSUER,
                lifetime=args.lifetime,
            )
        else:
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
    except DevIdpKeyMissing as exc:
        raise CommandError(str(exc)) from None
    print(token)
    return 0


def _dev(settings: Settings, _args: argparse.Namespace) -> int:
    from app.dev import apply_tenants, sandbox_settings, with_dev_signing_key, write_dev_secrets

    sandbox_config = _sandbox_config(settings)
    # Before anything starts: a second `make dev` (or anything else on these ports) is one line.
    require_free_port(settings.host, settings.port, "BROKER_PORT")
    require_free_port(sandbox_config.host, sandbox_config.port, "BROKER_SANDBOX_PORT")
    require_free_port(sandbox_config.host, sandbox_config.login_port, "BROKER_SANDBOX_LOGIN_PORT")
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
        with _started_sandbox(sandbox_config) as sandbox:
            _log.info("sandbox_started", url=sandbox.base_url, login_url=sandbox.login_url)
            settings = with_dev_signing_key(sandbox_settings(settings, sandbox.pki, sandbox.base_url))
            write_dev_secrets(settings.state_dir / "secrets", sandbox_config)
            if DEMO_TENANTS.is_dir():
                plan = asyncio.run(
                    apply_tenants(
                        _owner_url(settings),
                        DEMO_TENANTS,
                        sandbox_url=sandbox.base_url,
                        state_dir=settings.state_dir,
                    )
                )
                _log.info("demo_tenants_applied", changes=len(plan.changes))
            run_broker(settings)
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


@contextlib.contextmanager
def _started_sandbox(config: SandboxConfig) -> Iterator[SandboxThread]:
    """The sandbox of `dev` in its thread, stopped on the way out; a failed start is one line."""
    from app.sandbox.server import LoginServerUnavailable, SandboxThread

    try:
        sandbox = SandboxThread(config)
    except LoginServerUnavailable as exc:  # its login port was taken after the check above
        raise CommandError(f"{exc} (BROKER_SANDBOX_LOGIN_PORT)") from None
    try:
        sandbox.start()
    except RuntimeError as exc:  # e.g. its port was taken after the check above
        raise CommandError(
            f"{exc} on {config.host}:{config.port} (see the log above; BROKER_SANDBOX_PORT)"
        ) from None
    try:
        yield sandbox
    finally:
        sandbox.stop()


_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "serve": _serve,
    "dev": _dev,
    "migrate": _migrate,
    "sandbox": _sandbox,
    "tenants": _tenants,
}
_PROTOCOL: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "verify": _protocol_verify,
    "signing-key": _protocol_signing_key,
    "retention": _protocol_retention,
    "inzage": _protocol_inzage,
    "export": _protocol_export,
}


if __name__ == "__main__":
    sys.exit(main())
