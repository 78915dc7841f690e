"""The steps of the data path as interfaces, so each can be filled and tested on its own.

authenticate → resolve afnemer → authorise → limit → forward → protocol → respond
(DESIGN.md, "Request flow"). The gateway only calls these; it decides nothing itself.
"""

from __future__ import annotations

from typing import Any, Protocol

from litestar import Request

from app.brp import Query
from app.identity import Principal
from app.protocol.record import ProtocolRecord
from app.upstream import AfnemerAccount

__all__ = ["AfnemerResolver", "Authenticator", "Authoriser", "Limiter", "Protocoller"]


class Authenticator(Protocol):
    """Step 1: the caller, or `ProblemError` 401."""

    async def authenticate(self, request: Request[Any, Any, Any]) -> Principal: ...


class AfnemerResolver(Protocol):
    """Step 2: the AfnemerID the caller acts for (`x-afnemer-id` when it may pick), or 400/403."""

    def resolve(self, principal: Principal, requested: str | None) -> AfnemerAccount: ...


class Authoriser(Protocol):
    """Step 4: doelbinding; returns the query to send (e.g. with gemeenteVanInschrijving injected) or 403."""

    def authorise(self, principal: Principal, account: AfnemerAccount, query: Query) -> Query: ...


class Limiter(Protocol):
    """Step 5: rate limits; returns the response headers to add, or raises 429."""

    async def check(self, principal: Principal, account: AfnemerAccount) -> dict[str, str]: ...


class Protocoller(Protocol):
    """Step 7: the protocol record is durably committed before anything is delivered, or 503."""

    async def record(self, record: ProtocolRecord) -> None: ...
