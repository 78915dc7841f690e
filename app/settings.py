"""The broker's one settings object: typed, frozen, read from `BROKER_*` variables and a TOML file.

Every field `x` is set by the environment variable `BROKER_X` or by the key `x` in the TOML file
named by `BROKER_CONFIG_FILE`; the environment wins. Validation happens once, at start: a wrong or
missing value raises `SettingsError` naming the variable, and the CLI prints that one line.

Secrets never live here in plain text beyond a reference: settings that point at a secret hold a
`file:`/`env:` reference, resolved where it is used.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from app.upstream.config import DEFAULT_ENVIRONMENTS, EnvironmentConfig, IdentityConfig, TokenConfig

__all__ = ["ENV_PREFIX", "Settings", "SettingsError", "load_settings"]

ENV_PREFIX = "BROKER_"

_DATABASE_URL = re.compile(r"^postgres(ql)?://")
_REDIS_URL = re.compile(r"^rediss?://")

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]


class SettingsError(Exception):
    """A setting is missing or wrong; `str()` is the one line shown to the operator."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """All settings of one broker process. Defaults are the safe local-development values."""

    host: str = "127.0.0.1"
    port: Port = 8080
    # Worker processes of `serve`, for a VM: each has its own pool and limits (see `ratelimit_replicas`).
    # In Kubernetes keep 1 and scale with replicas.
    workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    # The event loop of each serving process. asyncio's own; uvloop (libuv) needs a little less CPU
    # per request but had the longer tail at saturation (README → Performance, measured side by side
    # by `tests/benchmarks/scale_out.py --event-loops asyncio uvloop`).
    event_loop: Literal["asyncio", "uvloop"] = "asyncio"
    # On SIGTERM readiness answers 503 "draining" at once; the broker keeps accepting requests for
    # this long (so load balancers that poll readiness stop sending), then stops listening.
    shutdown_delay_seconds: NonNegativeInt = 0
    # After that, requests in flight get this long to finish; the rest are cancelled (protocolled as
    # 499). Then the protocol writer writes every accepted record and the process exits 0.
    shutdown_drain_seconds: NonNegativeInt = 20
    # Where `dev` and `sandbox` run the sandbox RvIG; None: the sandbox config's port (8443).
    # 0 picks a free port (tests, or a second checkout beside a running `make dev`).
    sandbox_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] | None = None
    # Where they run the dev IdP's login pages (plain HTTP, for the browser); None: the sandbox
    # config's (8444), or a free port when `sandbox_port` is 0.
    sandbox_login_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] | None = None
    # Runtime connection; when unset the CLI starts an embedded PostgreSQL in `state_dir`.
    database_url: str | None = None
    # Connection that runs migrations (owner or admin); defaults to `database_url`.
    database_owner_url: str | None = None
    # The role the app runs as; it owns nothing and has no BYPASSRLS.
    database_runtime_role: str = "brp_app"
    database_pool_min: PositiveInt = 2
    # At least 4: the tenancy listener and the protocol writer each hold one while serving.
    database_pool_max: Annotated[int, msgspec.Meta(ge=4)] = 20
    database_timeout: PositiveFloat = 5.0
    # Shared rate limits across replicas; without it each replica limits on its own.
    redis_url: str | None = None
    # Default limits (requests per second, burst) for tenants whose file sets none.
    ratelimit_tenant_rate: PositiveFloat = 25.0
    ratelimit_tenant_burst: PositiveInt = 50
    ratelimit_afnemer_rate: PositiveFloat = 10.0
    ratelimit_afnemer_burst: PositiveInt = 20
    ratelimit_employee_rate: PositiveFloat = 2.0
    ratelimit_employee_burst: PositiveInt = 10
    # Replicas serving the broker: while Redis is unreachable each enforces 1/replicas of a limit.
    ratelimit_replicas: PositiveInt = 1
    ratelimit_retry_seconds: PositiveFloat = 5.0
    ratelimit_redis_timeout: PositiveFloat = 0.25
    state_dir: Path = Path(".state")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    # How long /health/ready waits for the database before answering 503.
    ready_timeout: PositiveFloat = 2.0
    # Largest request body the gateway reads (20 BSNs and 130 fields fit in a few KiB).
    max_body_bytes: PositiveInt = 65_536
    # Upstream (RvIG): OIN identities, per-environment URL overrides, token requests.
    # Structured settings come from the config file only.
    identities: tuple[IdentityConfig, ...] = ()
    environments: dict[str, EnvironmentConfig] = msgspec.field(default_factory=dict)
    token: TokenConfig = msgspec.field(default_factory=TokenConfig)
    # "database": the replicas share one RvIG token per afnemer per token lifetime, sealed in
    # PostgreSQL under a key derived from BROKER_SECRET_KEY (without that key: as "off").
    # "off": every process obtains its own.
    token_sharing: Literal["database", "off"] = "database"  # noqa: S105 - a mode, not a secret
    # Extra CA certificates trusted when fetching identity providers' JWKS (None: system store).
    idp_ca_bundle: Path | None = None
    # An OIN identity whose certificate is presented to identity providers that require mTLS
    # (the sandbox's dev IdP does; so do some government IdPs). None: no client certificate.
    idp_identity: str | None = None
    # Re-read every tenant's configuration this often, besides on change (LISTEN/NOTIFY).
    tenancy_safety_reload_seconds: PositiveFloat = 60.0
    # The operator's own identity provider (admin API): a token of `operator_issuer` for one of
    # `operator_audiences` (comma-separated in the environment) with the role `operator` in the
    # claim `operator_role_claim` is the operator. Unset: nobody is the operator.
    operator_issuer: str | None = None
    operator_audiences: tuple[str, ...] = ()
    operator_jwks_uri: str | None = None
    operator_role_claim: str = "roles"
    operator_algorithms: tuple[str, ...] = ("RS256", "ES256")
    # The beheerportaal's login for operators (OIDC authorization code + PKCE at the operator's
    # identity provider): the portal's client id there, and where its discovery document is
    # (default `<operator_issuer>/.well-known/openid-configuration`). Unset: no operator login.
    operator_login_client_id: str | None = None
    operator_login_discovery_uri: str | None = None
    # The beheerportaal's public address (e.g. https://brp.example.nl), from which its OIDC
    # redirect URI is made; unset: the address the request came in on (fine without a proxy).
    portal_url: str | None = None
    # A portal session ends after this many minutes without a request, and always after
    # `portal_session_max_minutes`; logout, suspension or removal of its tenant end it at once.
    portal_session_idle_minutes: PositiveInt = 30
    portal_session_max_minutes: PositiveInt = 480
    # Signed chain heads (app/protocol/signed_heads.py): a private Ed25519 JWK mounted as a secret
    # file (`brp-broker protocol signing-key generate`); unset: nothing is signed. Every interval
    # the broker signs each chain head that moved, and re-signs an unmoved one after the heartbeat
    # (so `verify --public-keys` can tell a quiet chain from removed signatures; its
    # --max-unsigned-age must exceed interval + heartbeat). Each signed head is also appended to
    # `protocol_anchor_file` when set (a file the database administrator cannot write).
    protocol_signing_key_file: Path | None = None
    protocol_signing_interval_seconds: PositiveFloat = 60.0
    protocol_signing_heartbeat_seconds: PositiveFloat = 1800.0
    protocol_anchor_file: Path | None = None
    # Delivery of Logboek Dataverwerkingen lines to the Logboeks of tenants with `[ldv] endpoint`:
    # how often to look for new records, records per POST, the POST's timeout, and the longest
    # wait before trying a Logboek that failed again (the wait doubles from 1 s up to it).
    ldv_delivery_interval_seconds: PositiveFloat = 2.0
    ldv_delivery_batch: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 200
    ldv_delivery_timeout_seconds: PositiveFloat = 10.0
    ldv_delivery_max_backoff_seconds: PositiveFloat = 300.0

    @property
    def migration_url(self) -> str | None:
        """The URL migrations run with."""
        return self.database_owner_url or self.database_url

    def resolved_environments(self) -> dict[str, EnvironmentConfig]:
        """Every RvIG environment with the configured overrides merged onto RvIG's defaults."""
        return {
            name: self.environments.get(name, EnvironmentConfig()).merged_onto(default)
            for name, default in DEFAULT_ENVIRONMENTS.items()
        }


def _env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


_FIELDS: tuple[str, ...] = tuple(f.name for f in msgspec.structs.fields(Settings))
# Lists of words given in one environment variable, comma-separated.
_LIST_FIELDS: frozenset[str] = frozenset({"operator_audiences", "operator_algorithms"})


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings; raise `SettingsError` on the first wrong value."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = _read_config_file(env.get(ENV_PREFIX + "CONFIG_FILE"))
    for name in _FIELDS:
        value = env.get(_env_name(name))
        if value is not None and value != "":
            raw[name] = _split(value) if name in _LIST_FIELDS else value
    for name in raw:
        if name not in _FIELDS:
            raise SettingsError(_env_name(name), "is not a known setting")
    settings = _convert(raw)
    _check(settings)
    return settings


def _read_config_file(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with Path(path).open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise SettingsError(ENV_PREFIX + "CONFIG_FILE", f"cannot read {path} ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(ENV_PREFIX + "CONFIG_FILE", f"{path} is not valid TOML ({exc})") from None


def _convert(raw: dict[str, Any]) -> Settings:
    try:
        return msgspec.convert(raw, Settings, strict=False, dec_hook=_decode_path)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = re.search(r" - at `\$\.([\w.\[\]]+)`", message)
        if match is None:
            raise SettingsError(ENV_PREFIX + "*", message) from None
        path = match.group(1)
        problem = _friendly(message[: match.start()])
        if path in raw and isinstance(raw[path], str):
            raise SettingsError(_env_name(path), f"{problem} (got {raw[path]!r})") from None
        # A structured setting from the config file: name its key path.
        raise SettingsError(path, problem) from None


def _decode_path(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(f"cannot decode {kind}")


def _friendly(problem: str) -> str:
    replacements = {
        "Expected `int`, got `str`": "must be a whole number",
        "Expected `int | null`, got `str`": "must be a whole number",
        "Expected `float`, got `str`": "must be a number",
    }
    for technical, friendly in replacements.items():
        if problem.startswith(technical):
            return friendly
    return problem[0].lower() + problem[1:]


def _check(settings: Settings) -> None:
    for field in ("database_url", "database_owner_url"):
        url = getattr(settings, field)
        if url is not None and not _DATABASE_URL.match(url):
            raise SettingsError(_env_name(field), "must start with postgresql:// (value hidden)")
    if settings.redis_url is not None and not _REDIS_URL.match(settings.redis_url):
        raise SettingsError(_env_name("redis_url"), "must start with redis:// or rediss:// (value hidden)")
    if settings.portal_url is not None and not settings.portal_url.startswith(("https://", "http://")):
        raise SettingsError(_env_name("portal_url"), "must be an http(s):// URL")
    if settings.database_pool_min > settings.database_pool_max:
        raise SettingsError(
            _env_name("database_pool_min"),
            f"must not exceed {_env_name('database_pool_max')} ({settings.database_pool_max})",
        )
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", settings.database_runtime_role):
        raise SettingsError(_env_name("database_runtime_role"), "must be a plain lower-case role name")
    _check_upstream(settings)
    _check_operator(settings)


def _check_upstream(settings: Settings) -> None:
    unknown = set(settings.environments) - set(DEFAULT_ENVIRONMENTS)
    if unknown:
        raise SettingsError(
            "environments", f"unknown environment {sorted(unknown)[0]!r} (sandbox, proef, productie)"
        )
    names = [identity.name for identity in settings.identities]
    if len(names) != len(set(names)):
        raise SettingsError("identities", "every identity needs its own name")
    if settings.idp_identity is not None and settings.idp_identity not in names:
        raise SettingsError(
            _env_name("idp_identity"), f"names no configured identity ({settings.idp_identity!r})"
        )


def _check_operator(settings: Settings) -> None:
    if settings.operator_issuer is None:
        return
    if not settings.operator_issuer.startswith("https://"):
        raise SettingsError(_env_name("operator_issuer"), "must be an https:// URL")
    if not settings.operator_audiences:
        raise SettingsError(_env_name("operator_audiences"), "must name at least one audience")
    if settings.operator_jwks_uri is None:
        raise SettingsError(_env_name("operator_jwks_uri"), "is required with BROKER_OPERATOR_ISSUER")
    discovery = settings.operator_login_discovery_uri
    if discovery is not None and not discovery.startswith("https://"):
        raise SettingsError(_env_name("operator_login_discovery_uri"), "must be an https:// URL")
