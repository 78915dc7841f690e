"""Interim fillings of the seams: one afnemer from settings, for the sandbox only.

Until tenants, identity providers and doelbinding are configured (`app.tenancy`, `app.identity`,
`app.policy`), the broker can run against the sandbox with one afnemer for every caller. These
fillings refuse to serve a real RvIG environment: `create_app` only uses them when the configured
afnemer's environment is `sandbox`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from app.brp import Query
from app.identity import Principal
from app.protocol import ProtocolRecord
from app.upstream import AfnemerAccount

__all__ = [
    "AllowEverything",
    "NoLimits",
    "OpenSandboxAuthenticator",
    "SingleAfnemerResolver",
    "UnrecordedProtocol",
]


class OpenSandboxAuthenticator:
    """Accepts every caller as the `sandbox` tenant, named by `x-gebruiker` when given."""

    async def authenticate(self, request: Request[Any, Any, Any]) -> Principal:
        """A principal for the single sandbox tenant."""
        employee = request.headers.get("x-gebruiker")
        return Principal(tenant="sandbox", subject=employee or "anonymous", employee=employee)


class SingleAfnemerResolver:
    """Every caller acts for the one configured afnemer."""

    def __init__(self, account: AfnemerAccount) -> None:
        self._account = account

    def resolve(self, principal: Principal, requested: str | None) -> AfnemerAccount:
        """The configured afnemer, whatever was asked."""
        return self._account


class AllowEverything:
    """No doelbinding beyond what the sandbox's own autorisatie checks."""

    def authorise(self, principal: Principal, account: AfnemerAccount, query: Query) -> Query:
        """The query unchanged."""
        return query


class NoLimits:
    """No rate limits."""

    async def check(self, principal: Principal, account: AfnemerAccount) -> dict[str, str]:
        """No limit headers."""
        return {}


class UnrecordedProtocol:
    """Records nothing: acceptable for the sandbox's fictitious test persons only."""

    async def record(self, record: ProtocolRecord) -> None:
        """Nothing is stored."""
