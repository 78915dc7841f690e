"""The steps of the data path as interfaces, so each can be filled and tested on its own.

authenticate → resolve afnemer → authorise → limit → forward → protocol → respond
(DESIGN.md, "Request flow"). The gateway only calls these; it decides nothing itself. The
doelbinding of step 4 travels with the resolved `Access` (`access.policy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from litestar import Request

from app.brp import Query
from app.identity import Principal
from app.identity.authenticator import AuthenticatedCaller
from app.protocol.record import ProtocolRecord
from app.tenancy import Access, LdvSettings
from app.upstream import AfnemerAccount, UpstreamAnswer
from app.upstream.forwarder import Shape

__all__ = ["AccessResolver", "Authenticator", "Limiter", "Protocoller", "UpstreamForwarder"]


class Authenticator(Protocol):
    """Step 1: the caller and its checked `x-*` headers, or `ProblemError` 401 / 400."""

    async def identify(self, request: Request[Any, Any, Any]) -> AuthenticatedCaller: ...


class AccessResolver(Protocol):
    """Step 2: the AfnemerID the caller acts for and its doelbinding, or 400 / 403.

    Also the tenant's Logboek Dataverwerkingen settings, which the protocol record of every
    request of a known tenant needs (also of one refused before step 2 decides).
    """

    def resolve(self, principal: Principal, requested: str | None, headers: Mapping[str, str]) -> Access: ...

    def ldv_settings(self, tenant: str) -> LdvSettings: ...


class Limiter(Protocol):
    """Step 5: rate limits; returns the response headers to add, or raises 429."""

    async def check(self, principal: Principal, access: Access) -> dict[str, str]: ...


class UpstreamForwarder(Protocol):
    """Step 6: RvIG's answer as it will be delivered (reduced by `shape`), or 429 / 502 / 503 / 504."""

    async def forward(
        self, account: AfnemerAccount, query: Query, broker_path: str, shape: Shape | None = None
    ) -> UpstreamAnswer: ...


class Protocoller(Protocol):
    """Step 7: the protocol record is durably committed before anything is delivered, or 503."""

    async def record(self, record: ProtocolRecord) -> None: ...
