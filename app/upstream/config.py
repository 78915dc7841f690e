"""Typed configuration of the upstream side: OIN identities, RvIG environments, token requests.

Defaults for the environments are RvIG's documented URLs (DOMAIN.md §1); each URL can be
overridden on its own. The Bewoning URL differs between RvIG's own sources, so check it during
onboarding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

__all__ = [
    "DEFAULT_ENVIRONMENTS",
    "EnvironmentConfig",
    "EnvironmentName",
    "IdentityConfig",
    "TokenConfig",
]

EnvironmentName = Literal["sandbox", "proef", "productie"]
Oin = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{20}$")]
Seconds = Annotated[float, msgspec.Meta(gt=0)]


class IdentityConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A PKIoverheid certificate with its OIN, as mounted from a Kubernetes Secret."""

    name: str
    oin: Oin
    certificate: Path
    private_key: Path
    # Trust for RvIG's servers (PKIoverheid Private Root; the sandbox CA in dev). None: system store.
    ca_bundle: Path | None = None
    # Warn (and show on /health/ready) when the certificate expires within this many days.
    expiry_warning_days: int = 30


class EnvironmentConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """The four URLs of one RvIG environment and how the broker's HTTP client treats them."""

    token_url: str | None = None
    personen_url: str | None = None
    bewoning_url: str | None = None
    verblijfplaatshistorie_url: str | None = None
    connect_timeout: Seconds = 5.0
    read_timeout: Seconds = 30.0
    pool_timeout: Seconds = 5.0
    max_connections: int = 200
    max_keepalive_connections: int = 50

    def merged_onto(self, base: EnvironmentConfig) -> EnvironmentConfig:
        """This environment with every unset URL taken from `base`."""
        return msgspec.structs.replace(
            self,
            token_url=self.token_url or base.token_url,
            personen_url=self.personen_url or base.personen_url,
            bewoning_url=self.bewoning_url or base.bewoning_url,
            verblijfplaatshistorie_url=self.verblijfplaatshistorie_url or base.verblijfplaatshistorie_url,
        )


_NPR_API = "https://apigw.npr.idm.diginetwerk.net/lap/api"
_PROD_API = "https://apigw.idm.diginetwerk.net/api"
_SANDBOX = "https://127.0.0.1:8443"

DEFAULT_ENVIRONMENTS: dict[str, EnvironmentConfig] = {
    "proef": EnvironmentConfig(
        token_url="https://auth.npr.idm.diginetwerk.net/nidp/oauth/nam/token",  # noqa: S106 - a URL
        personen_url=f"{_NPR_API}/brp/personen",
        bewoning_url=f"{_NPR_API}/bewoning/bewoningen",
        verblijfplaatshistorie_url=f"{_NPR_API}/brp/verblijfplaatshistorie",
    ),
    "productie": EnvironmentConfig(
        token_url="https://auth.idm.diginetwerk.net/nidp/oauth/nam/token",  # noqa: S106 - a URL
        personen_url=f"{_PROD_API}/brp/personen",
        bewoning_url=f"{_PROD_API}/brp/bewoning/bewoningen",
        verblijfplaatshistorie_url=f"{_PROD_API}/brp/verblijfplaatshistorie",
    ),
    "sandbox": EnvironmentConfig(
        token_url=f"{_SANDBOX}/nidp/oauth/nam/token",
        personen_url=f"{_SANDBOX}/haalcentraal/api/brp/personen",
        bewoning_url=f"{_SANDBOX}/haalcentraal/api/bewoning/bewoningen",
        verblijfplaatshistorie_url=f"{_SANDBOX}/haalcentraal/api/brphistorie/verblijfplaatshistorie",
        read_timeout=10.0,
    ),
}


class TokenConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How tokens are requested and when they are refreshed."""

    # RvIG expects the client credentials in the form body (client_secret_post).
    auth_method: Literal["client_secret_post", "client_secret_basic"] = "client_secret_post"
    extra_parameters: dict[str, str] = msgspec.field(
        default_factory=lambda: {"resourceServer": "ResourceServer01"}
    )
    # Refresh in the background once this fraction of the lifetime has passed.
    refresh_at_fraction: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 0.75
    # Never use a token in its last seconds (clock skew, time in flight); capped at 10% of its life.
    expiry_safety_seconds: Seconds = 10.0
    # After a failed token request, wait this long before the next (doubling up to the maximum).
    failure_backoff_seconds: Seconds = 1.0
    failure_backoff_max_seconds: Seconds = 30.0
    # Used when the token endpoint omits expires_in.
    default_lifetime_seconds: Seconds = 300.0
