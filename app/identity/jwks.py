"""`JwksCache`: the verification keys of every trusted issuer, fetched once and shared by all requests.

This module owns fetching, parsing and caching JSON Web Key Sets (RFC 7517) and picking the
candidate keys for one token. Keys are always looked up through the token's own `IssuerConfig`
(its inline `jwks`, else its `jwks_uri`), so a key of one issuer is never tried for another.

- Cache per URI, shared by every issuer that names that URI; one `httpx.AsyncClient` for all
  fetches, owned by the app's lifespan (never one per request).
- Single flight: however many requests need a fetch of one URI at once, one fetch is made; the
  others await the same task (shielded, so one caller's cancellation does not cancel it).
- An unknown `kid` (key rotation) refetches the set once, but at most one fetch starts per URI per
  `refetch_interval` (30 s), so a stream of tokens with made-up `kid`s cannot hammer an issuer.
  A set older than `max_age` is refreshed on its next use under the same limit, so a key the
  issuer withdrew stops being trusted.
- A failed fetch (network, status, size, JSON, no usable key) keeps the last good set.
- Only asymmetric signing keys are kept: `oct` keys, keys with `use` other than `sig`, private keys
  (a published private key would let anyone sign) and RSA keys under 2048 bits are skipped.
- Plain `http://` is refused except for loopback hosts (tests, a local IdP): a JWKS fetched over an
  unauthenticated channel would let anyone on the path choose the keys.

It must never log key material or a token; log lines name the URI and a reason only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import msgspec
import structlog
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key, RSAKey
from joserfc.jws import JWSRegistry

from app.identity.config import IssuerConfig

__all__ = ["JwksCache", "KeyLookupError"]

_log = structlog.get_logger("app.identity.jwks")

_ASYMMETRIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MIN_RSA_BITS = 2048
_LOOPBACK_NAMES = frozenset({"localhost"})
# Inline key sets are configuration: few, and parsed once each. The bound only protects against a
# configuration source that produces a new set per request.
_MAX_INLINE_SETS = 1024


class KeyLookupError(Exception):
    """No key to verify the token with; `reason` is a fixed word, safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _FetchFailed(Exception):
    """A fetch gave no usable key set; the message is safe to log."""


class _KeyIndex:
    """One parsed key set: its usable keys, by `kid` and in document order."""

    __slots__ = ("by_kid", "keys")

    def __init__(self, keys: tuple[Key, ...]) -> None:
        self.keys = keys
        self.by_kid: dict[str, list[Key]] = {}
        for key in keys:
            if key.kid is not None:
                self.by_kid.setdefault(key.kid, []).append(key)

    def candidates(self, kid: str | None, algorithm: str) -> tuple[Key, ...]:
        """The keys that may have signed a token with this `kid` (any key when absent) and `alg`."""
        pool = self.by_kid.get(kid, ()) if kid is not None else self.keys
        return tuple(key for key in pool if _fits(key, algorithm))


class _Entry(msgspec.Struct):
    """What is known about one URI: its last good set and when a fetch last started."""

    attempted_at: float
    index: _KeyIndex | None = None
    fetched_at: float | None = None


class JwksCache:
    """Key sets per JWKS URI (fetched) and per inline JWKS (parsed once); one per app.

    `client` is the app's shared client for identity providers (created and closed by the
    lifespan). `clock` is monotonic; tests pass one they move by hand.
    """

    __slots__ = (
        "_client",
        "_clock",
        "_entries",
        "_fetch_timeout",
        "_inflight",
        "_inline",
        "_max_age",
        "_max_bytes",
        "_refetch_interval",
    )

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        refetch_interval: float = 30.0,
        max_age: float = 600.0,
        fetch_timeout: float = 5.0,
        max_bytes: int = 256 * 1024,
    ) -> None:
        self._client = client
        self._clock = clock
        self._refetch_interval = refetch_interval
        self._max_age = max_age
        self._fetch_timeout = fetch_timeout
        self._max_bytes = max_bytes
        self._entries: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Future[_Entry]] = {}
        self._inline: dict[bytes, _KeyIndex] = {}

    async def keys_for(self, issuer: IssuerConfig, kid: str | None, algorithm: str) -> tuple[Key, ...]:
        """The keys of `issuer` that may verify a token with this `kid` and `alg`, or `KeyLookupError`.

        Several keys come back only when the token names no `kid` (or the issuer reuses one);
        the caller tries each.
        """
        if issuer.jwks is not None:
            found = self._inline_index(issuer.jwks).candidates(kid, algorithm)
            if not found:
                raise KeyLookupError("unknown_kid")
            return found
        if issuer.jwks_uri is None:
            raise KeyLookupError("no_jwks_configured")
        return await self._remote_keys(issuer.jwks_uri, kid, algorithm)

    async def _remote_keys(self, uri: str, kid: str | None, algorithm: str) -> tuple[Key, ...]:
        entry = self._entries.get(uri)
        if entry is None or entry.index is None or self._is_stale(entry):
            entry = await self._refresh(uri)
        found = entry.index.candidates(kid, algorithm) if entry.index is not None else ()
        if not found and entry.index is not None:
            # Perhaps the issuer rotated its keys: look once more (rate-limited per URI).
            entry = await self._refresh(uri)
            found = entry.index.candidates(kid, algorithm) if entry.index is not None else ()
        if entry.index is None:
            raise KeyLookupError("jwks_unavailable")
        if not found:
            raise KeyLookupError("unknown_kid")
        return found

    def _is_stale(self, entry: _Entry) -> bool:
        return entry.fetched_at is None or self._clock() - entry.fetched_at >= self._max_age

    async def _refresh(self, uri: str) -> _Entry:
        inflight = self._inflight.get(uri)
        if inflight is None:
            entry = self._entries.get(uri)
            if entry is not None and self._clock() - entry.attempted_at < self._refetch_interval:
                return entry
            inflight = asyncio.ensure_future(self._fetch_and_store(uri))
            self._inflight[uri] = inflight
            inflight.add_done_callback(lambda done: self._forget(uri, done))
        return await asyncio.shield(inflight)

    def _forget(self, uri: str, done: asyncio.Future[_Entry]) -> None:
        if self._inflight.get(uri) is done:
            del self._inflight[uri]

    async def _fetch_and_store(self, uri: str) -> _Entry:
        previous = self._entries.get(uri)
        entry = _Entry(attempted_at=self._clock())
        if previous is not None:
            entry.index, entry.fetched_at = previous.index, previous.fetched_at
        # Recorded before the fetch, so requests arriving meanwhile see the attempt.
        self._entries[uri] = entry
        try:
            index = await self._fetch(uri)
        except Exception as error:  # a shared fetch must never fail its waiters
            _log.warning(
                "jwks_fetch_failed",
                jwks_uri=uri,
                reason=str(error) if isinstance(error, _FetchFailed) else type(error).__name__,
                kept_previous=entry.index is not None,
            )
            return entry
        entry.index, entry.fetched_at = index, self._clock()
        _log.info("jwks_fetched", jwks_uri=uri, keys=len(index.keys))
        return entry

    async def _fetch(self, uri: str) -> _KeyIndex:
        if not _is_trusted_transport(uri):
            raise _FetchFailed("jwks_uri must use https (plain http only on loopback)")
        headers = {"Accept": "application/jwk-set+json, application/json"}
        async with self._client.stream("GET", uri, headers=headers, timeout=self._fetch_timeout) as response:
            if response.status_code != 200:
                raise _FetchFailed(f"status {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self._max_bytes:
                    raise _FetchFailed(f"larger than {self._max_bytes} bytes")
        index = _parse_key_set(msgspec.json.decode(bytes(body)), source=uri)
        if not index.keys:
            raise _FetchFailed("no usable signing key")
        return index

    def _inline_index(self, jwks: Mapping[str, Any]) -> _KeyIndex:
        # Keyed by content, not by object: configurations are rebuilt on change, and a changed set
        # must never be answered from the old one.
        fingerprint = msgspec.json.encode(jwks, order="sorted")
        index = self._inline.get(fingerprint)
        if index is None:
            if len(self._inline) >= _MAX_INLINE_SETS:
                self._inline.clear()
            index = self._inline[fingerprint] = _parse_key_set(jwks, source="inline")
        return index


def _parse_key_set(document: object, *, source: str) -> _KeyIndex:
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise _FetchFailed("not a JWK Set")
    keys: list[Key] = []
    for member in document["keys"]:
        key = _usable_key(member, source)
        if key is not None:
            keys.append(key)
    return _KeyIndex(tuple(keys))


def _usable_key(member: object, source: str) -> Key | None:
    if not isinstance(member, dict) or member.get("kty") not in _ASYMMETRIC_KEY_TYPES:
        return None
    if member.get("use", "sig") != "sig":
        return None
    if member.keys() & _PRIVATE_MEMBERS:
        _log.warning("jwks_private_key_ignored", source=source, kid=_safe(member.get("kid")))
        return None
    try:
        key = JWKRegistry.import_key(member)
    except (JoseError, ValueError, TypeError):
        _log.warning("jwks_key_unreadable", source=source, kid=_safe(member.get("kid")))
        return None
    if isinstance(key, RSAKey) and key.raw_value.key_size < _MIN_RSA_BITS:
        _log.warning("jwks_weak_key_ignored", source=source, kid=_safe(member.get("kid")))
        return None
    return key


def _fits(key: Key, algorithm: str) -> bool:
    # joserfc's own check: key type, curve, `use` and the key's `alg` parameter if it has one.
    model = JWSRegistry.algorithms.get(algorithm)
    if model is None:
        return False
    try:
        model.check_key(key)
    except JoseError:
        return False
    return True


def _is_trusted_transport(uri: str) -> bool:
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme == "https":
        return True
    if parts.scheme != "http" or parts.hostname is None:
        return False
    if parts.hostname in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _safe(value: object) -> str | None:
    # A `kid` comes from outside; keep log lines short whatever it holds.
    return value[:100] if isinstance(value, str) else None
