"""Can this process reach its database? Asked before a command's real work, answered in one line.

`require_database(url)` logs in once and raises `DatabaseUnavailable` when that fails, naming the
server, database and user of the URL and the error — so `serve` with a database that is down says
which one and why instead of "Application startup failed". It never shows a password: the URL's
password is not part of the description and is masked should the driver's message quote it.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg

__all__ = ["DatabaseUnavailable", "describe_database", "require_database"]

# What asyncpg raises when it cannot log in: the network (OSError), no answer in time, the server
# refusing the login (PostgresError: wrong password, no such database or role), or a bad URL.
_CONNECT_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError)


class DatabaseUnavailable(Exception):
    """The database cannot be reached or refuses the login; `str()` is one line without a secret."""


def describe_database(url: str) -> str:
    """`host:port, database D, user U` of a PostgreSQL URL (a socket URL names its folder)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = parts.hostname or next(iter(query.get("host", [])), "localhost")
    try:
        port = parts.port or next(iter(query.get("port", [])), "5432")
    except ValueError:  # not a number: asyncpg will say so too
        port = "?"
    user = unquote(parts.username or "") or "(default)"
    database = unquote(parts.path.lstrip("/")) or user
    return f"{host}:{port}, database {database}, user {user}"


async def require_database(url: str, *, within: float) -> None:
    """Log in to `url` once, in at most `within` seconds; raise `DatabaseUnavailable` if that fails."""
    try:
        connection = await asyncpg.connect(url, timeout=within)
    except _CONNECT_ERRORS as exc:
        reason = str(exc) or f"no answer within {within:g} s"
        password = urlsplit(url).password
        if password:
            reason = reason.replace(password, "***")
        detail = " ".join(f"{type(exc).__name__}: {reason}".split())  # one line
        raise DatabaseUnavailable(
            f"cannot connect to the database ({describe_database(url)}): {detail}"
        ) from None
    await connection.close()
