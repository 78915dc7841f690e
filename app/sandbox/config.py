"""The sandbox's configuration: where it listens, where it keeps its state, and its afnemers.

This module owns the typed model of `sandbox.toml` (one file, validated at load) and nothing else.
The afnemers' `client_secret`s are development values, wrapped in `DevSecret` so that printing or
logging a config object never shows one; it must never write a secret anywhere.

Relative paths (`state_dir`, `data_dir`) are resolved against the working directory at load time,
so `make sandbox` from the repository root keeps its PKI in `<repo>/.state/`.
"""

from __future__ import annotations

import hmac
import re
from pathlib import Path
from typing import Any

import msgspec

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "AfnemerConfig",
    "DevSecret",
    "SandboxConfig",
    "load_config",
]

DEFAULT_CONFIG_PATH = Path(__file__).with_name("sandbox.toml")

_AFNEMER_ID = re.compile(r"^[0-9]{6}$")
_OIN = re.compile(r"^[0-9]{20}$")
_GEMEENTE_CODE = re.compile(r"^[0-9]{4}$")


class DevSecret:
    """A client secret from the sandbox config; its repr never shows the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("a client_secret may not be empty")
        self._value = value

    def matches(self, candidate: str) -> bool:
        """Whether `candidate` is this secret, compared in constant time."""
        return hmac.compare_digest(self._value.encode(), candidate.encode())

    def reveal(self) -> str:
        """The secret itself, for a test or dev client that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "DevSecret('***')"

    __str__ = __repr__


class AfnemerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One afnemer (autorisatiebesluit) the sandbox issues tokens for, with its RvIG autorisatie.

    `oin` is the OIN of the certificate RvIG registered these credentials for (a supplier's OIN in
    the SaaS pattern). `fields` and `parameters` are the allow-list of tabel 35 as field paths and
    parameter names; a group path allows all its sub-fields. A `gemeente_code` makes the afnemer a
    gemeente: its tokens carry `gemeenteCode` and RvIG then checks no fields or parameters at all.
    """

    afnemer_id: str
    client_id: str
    client_secret: DevSecret
    oin: str
    naam: str = ""
    gemeente_code: str | None = None
    ad_hoc: bool = True
    verblijfplaatshistorie: bool = False
    bewoning: bool = False
    fields: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _AFNEMER_ID.match(self.afnemer_id):
            raise ValueError(f"afnemer_id {self.afnemer_id!r} must be 6 digits")
        if not _OIN.match(self.oin):
            raise ValueError(f"oin of afnemer {self.afnemer_id} must be 20 digits")
        if self.gemeente_code is not None and not _GEMEENTE_CODE.match(self.gemeente_code):
            raise ValueError(f"gemeente_code of afnemer {self.afnemer_id} must be 4 digits")
        if not self.client_id:
            raise ValueError(f"client_id of afnemer {self.afnemer_id} may not be empty")

    @property
    def is_gemeente(self) -> bool:
        """Whether tokens of this afnemer carry a `gemeenteCode` claim."""
        return self.gemeente_code is not None


class SandboxConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The whole sandbox configuration (`sandbox.toml`)."""

    host: str = "127.0.0.1"
    port: int = 8443
    # The dev IdP's login pages (plain HTTP: a browser has no client certificate for `port`).
    # `load_config` makes it 0 too when `port` is 0 and the file or caller sets no login_port, so a
    # sandbox on a free port never collides with the login server of a running `make dev`.
    login_port: int = 8444
    state_dir: str = ".state"
    token_lifetime_seconds: int = 3600
    issuer: str = "https://127.0.0.1:8443/nidp/oauth/nam"
    data_dir: str | None = None
    extra_oins: tuple[str, ...] = ()
    afnemers: tuple[AfnemerConfig, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be 0..65535 (0 picks a free port)")
        if not 0 <= self.login_port <= 65535:
            raise ValueError("login_port must be 0..65535 (0 picks a free port)")
        if self.token_lifetime_seconds < 1:
            raise ValueError("token_lifetime_seconds must be at least 1")
        for oin in self.extra_oins:
            if not _OIN.match(oin):
                raise ValueError("every extra_oins entry must be 20 digits")
        _require_unique("afnemer_id", [a.afnemer_id for a in self.afnemers])
        _require_unique("client_id", [a.client_id for a in self.afnemers])

    @property
    def state_path(self) -> Path:
        """The state folder (dev PKI, token signing key)."""
        return Path(self.state_dir)

    @property
    def oins(self) -> tuple[str, ...]:
        """Every OIN the dev PKI issues a client certificate for, in a stable order."""
        seen = dict.fromkeys([*(a.oin for a in self.afnemers), *self.extra_oins])
        return tuple(seen)

    def afnemer_by_client_id(self, client_id: str) -> AfnemerConfig | None:
        """The afnemer whose credentials carry this client_id, if any."""
        return next((a for a in self.afnemers if a.client_id == client_id), None)

    def afnemer_by_id(self, afnemer_id: str) -> AfnemerConfig | None:
        """The afnemer with this AfnemerID, if any."""
        return next((a for a in self.afnemers if a.afnemer_id == afnemer_id), None)


def _require_unique(name: str, values: list[str]) -> None:
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"duplicate {name}: {', '.join(duplicates)}")


def _decode_hook(type_: type[Any], obj: Any) -> Any:
    if type_ is DevSecret and isinstance(obj, str):
        return DevSecret(obj)
    raise NotImplementedError(f"cannot decode {type_!r}")


def load_config(path: Path | None = None, **overrides: Any) -> SandboxConfig:
    """Load and validate `sandbox.toml` (the packaged default unless `path` is given).

    `overrides` replace top-level keys (e.g. `port=0, state_dir=...` in tests). A `port` of 0
    without a `login_port` (in the file or the overrides) gives `login_port` 0 as well. Relative
    `state_dir`/`data_dir` become absolute against the current working directory.
    Raises `msgspec.ValidationError` naming the offending key.
    """
    raw = msgspec.toml.decode((path or DEFAULT_CONFIG_PATH).read_bytes())
    if not isinstance(raw, dict):
        raise msgspec.ValidationError("the sandbox config must be a TOML table")
    raw.update(overrides)
    if raw.get("port") == 0:
        raw.setdefault("login_port", 0)
    config = msgspec.convert(raw, SandboxConfig, dec_hook=_decode_hook)
    return _absolute_paths(config)


def _absolute_paths(config: SandboxConfig) -> SandboxConfig:
    data_dir = str(Path(config.data_dir).resolve()) if config.data_dir else None
    return msgspec.structs.replace(config, state_dir=str(Path(config.state_dir).resolve()), data_dir=data_dir)
