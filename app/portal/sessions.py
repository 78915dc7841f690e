"""The beheerportaal's server-side sessions and logins under way, in PostgreSQL (migration 0015).

Every replica reads the same rows, so a session works on whichever replica answers, and logout
or a tenant's suspension ends it everywhere at once. The browser holds a random value (the
cookie); the database holds only its SHA-256, so a database reader cannot take over a session.
Times are the database's own (`now()`), so replicas with skewed clocks agree on expiry.

A session remembers who logged in (`Person`: tenant, subject, the issuer that proved it and the
roles its token carried) and the form token each of its POSTs must carry (CSRF). No identity
provider's token is kept. What the person may do is judged anew on every request
(`app.portal.web.session_of`), from the tenant's configuration as it is then.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Final

import asyncpg
import msgspec

from app.admin.auth import AdminActor

__all__ = ["PendingLogin", "Person", "PortalSession", "SessionStore", "StoredSession", "new_cookie_value"]

# How long a login may take at the identity provider (the user may have to type a password).
LOGIN_MINUTES: Final = 10

_BEGIN_LOGIN: Final = """
INSERT INTO broker.portal_logins (id_hash, state, code_verifier, tenant, issuer, expires_at)
VALUES ($1, $2, $3, $4, $5, now() + make_interval(mins => $6))
"""
_OPEN_SESSION: Final = """
INSERT INTO broker.portal_sessions
    (id_hash, tenant, subject, issuer, idp_roles, csrf_token, created_at, seen_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, now(), now(), now() + make_interval(mins => $7))
RETURNING expires_at
"""
# One statement finds a live session and marks it used: idle and absolute expiry both apply.
_FIND_SESSION: Final = """
UPDATE broker.portal_sessions SET seen_at = now()
WHERE id_hash = $1 AND expires_at > now() AND seen_at > now() - make_interval(mins => $2)
RETURNING tenant, subject, issuer, idp_roles, csrf_token, expires_at
"""
_PURGE: Final = """
WITH sessions AS (
    DELETE FROM broker.portal_sessions
    WHERE expires_at <= now() OR seen_at <= now() - make_interval(mins => $1)
)
DELETE FROM broker.portal_logins WHERE expires_at <= now()
"""


class Person(msgspec.Struct, frozen=True, kw_only=True):
    """Who logged in, as their token proved it; kept so that each request can judge them anew."""

    tenant: str | None  # None: the operator
    subject: str
    issuer: str
    idp_roles: tuple[str, ...]


class StoredSession(msgspec.Struct, frozen=True, kw_only=True):
    """A live session as stored: the person, the token its forms carry, when it ends."""

    person: Person
    csrf_token: str
    expires_at: dt.datetime


class PortalSession(msgspec.Struct, frozen=True, kw_only=True):
    """A live session as a request sees it: what the person may do now, and the form token."""

    actor: AdminActor
    csrf_token: str
    expires_at: dt.datetime


class PendingLogin(msgspec.Struct, frozen=True, kw_only=True):
    """A login sent to an identity provider, waiting for its callback."""

    state: str
    code_verifier: str
    tenant: str | None  # None: the operator's identity provider
    issuer: str


def _digest(cookie: str) -> bytes:
    return hashlib.sha256(cookie.encode()).digest()


def new_cookie_value() -> str:
    """A fresh random cookie value (256 bits)."""
    return secrets.token_urlsafe(32)


class SessionStore:
    """Sessions and pending logins of the portal, over the app's pool (runtime role)."""

    __slots__ = ("_idle", "_maximum", "_pool")

    def __init__(self, pool: asyncpg.Pool, *, idle_minutes: int, max_minutes: int) -> None:
        self._pool = pool
        self._idle = idle_minutes
        self._maximum = max_minutes

    async def begin_login(self, login: PendingLogin) -> str:
        """Remember a login under way; the returned value goes into the browser's login cookie."""
        cookie = new_cookie_value()
        async with self._pool.acquire() as connection:
            await connection.execute(_PURGE, self._idle)
            await connection.execute(
                _BEGIN_LOGIN,
                _digest(cookie),
                login.state,
                login.code_verifier,
                login.tenant,
                login.issuer,
                LOGIN_MINUTES,
            )
        return cookie

    async def take_login(self, cookie: str) -> PendingLogin | None:
        """The login the cookie started, removed so a callback completes it at most once."""
        row = await self._pool.fetchrow(
            "DELETE FROM broker.portal_logins WHERE id_hash = $1 "
            "RETURNING state, code_verifier, tenant, issuer, expires_at > now() AS live",
            _digest(cookie),
        )
        if row is None or not row["live"]:
            return None
        return PendingLogin(
            state=row["state"], code_verifier=row["code_verifier"], tenant=row["tenant"], issuer=row["issuer"]
        )

    async def open(self, person: Person) -> tuple[str, StoredSession]:
        """A new session for `person`: the cookie value, and the session."""
        cookie = new_cookie_value()
        csrf = secrets.token_urlsafe(32)
        expires = await self._pool.fetchval(
            _OPEN_SESSION,
            _digest(cookie),
            person.tenant,
            person.subject,
            person.issuer,
            list(person.idp_roles),
            csrf,
            self._maximum,
        )
        return cookie, StoredSession(person=person, csrf_token=csrf, expires_at=expires)

    async def find(self, cookie: str) -> StoredSession | None:
        """The live session of a cookie value (and it is marked as used), or None."""
        row = await self._pool.fetchrow(_FIND_SESSION, _digest(cookie), self._idle)
        if row is None:
            return None
        person = Person(
            tenant=row["tenant"],
            subject=row["subject"],
            issuer=row["issuer"],
            idp_roles=tuple(row["idp_roles"]),
        )
        return StoredSession(person=person, csrf_token=row["csrf_token"], expires_at=row["expires_at"])

    async def close(self, cookie: str) -> None:
        """End the session of a cookie value (logout)."""
        await self._pool.execute("DELETE FROM broker.portal_sessions WHERE id_hash = $1", _digest(cookie))

    async def close_tenant(self, slug: str) -> int:
        """End every session of a tenant's people (its suspension or removal); how many ended."""
        result = await self._pool.execute("DELETE FROM broker.portal_sessions WHERE tenant = $1", slug)
        return int(result.rsplit(" ", 1)[-1])
