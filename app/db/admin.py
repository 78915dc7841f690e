"""Server-level chores that need an admin connection: creating a database, naming its URL.

Used by `dev` (the embedded server) and by the tests (a fresh database per test session).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import asyncpg

__all__ = ["ensure_database", "with_database", "with_user"]

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def with_database(url: str, database: str) -> str:
    """`url` pointing at another database on the same server (socket URLs included)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def with_user(url: str, user: str) -> str:
    """`url` logging in as `user` instead, without a password (socket/trust or a client certificate)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


async def ensure_database(admin_url: str, name: str, *, drop_existing: bool = False) -> str:
    """Create database `name` if it is missing (or recreate it); return its URL."""
    if not _NAME.match(name):
        raise ValueError("database names are plain lower-case identifiers")
    connection = await asyncpg.connect(admin_url)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and drop_existing:
            await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return with_database(admin_url, name)
