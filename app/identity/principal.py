"""`Principal`: who is calling, resolved once at the edge and passed down explicitly."""

from __future__ import annotations

import msgspec

__all__ = ["Principal"]


class Principal(msgspec.Struct, frozen=True):
    """An authenticated caller: the tenant it belongs to and who acts within it."""

    tenant: str  # the tenant's slug
    subject: str
    employee: str | None = None
    client: str | None = None
    roles: tuple[str, ...] = ()
    # The member organisation the employee works for (samenwerkingsverband), when the token says so.
    organisation: str | None = None
    # "user" (an employee's own token) or "application" (a task application; employee in x-gebruiker).
    kind: str = "user"
