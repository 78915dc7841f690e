"""`TokenManager`: one OAuth2 client-credentials token per AfnemerID, shared by every request.

A cached token is only ever used by the afnemer record and credentials that obtained it: the key
(`TokenKey`) is the tenant, the AfnemerID, environment, OIN identity and scope (`<AfnemerID>-<OIN>`
as RvIG requires) and a fingerprint of the client credentials (client_id and secret). So neither
another tenant's record of the same AfnemerID nor the same AfnemerID with a wrong secret is ever
handed a token it did not obtain; each asks RvIG itself, which decides. The fingerprint is an
HMAC-SHA256 under a random key of this `TokenManager` (never stored, never shared), so the key in
memory holds nothing that could be used to guess a secret. With a `TokenStore`
(app/upstream/shared_tokens.py) that key is derived from `BROKER_SECRET_KEY`, the same in every
replica, and the replicas share one token per key per token lifetime through the store.

- Single flight: however many requests need a new token at once, one token request is made; the
  others await the same task.
- Refresh ahead: once `refresh_at_fraction` of the lifetime has passed, the next request starts a
  background refresh and still uses the current token; a token is never used within its last
  `expiry_safety_seconds` (at most 10% of its life), so a 60 s token is fetched about once a
  minute and never used after it expired.
- Backoff: after a failed token request the key waits (1 s, doubling to 30 s) before the next
  attempt; requests meanwhile fail fast with `TokenUnavailable` carrying a Retry-After, so a
  failing identity provider is not hammered by every incoming request.
- `state_of(account)` says what this process holds for an afnemer (a usable token, a failing
  token request, or nothing yet) without asking RvIG and without revealing the token.

This module never logs, returns in an error, or puts in a metric a token or a client secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Literal, NamedTuple, TypeAlias

import msgspec
import structlog

from app.secrets import Secret
from app.telemetry import BrokerMetrics, BrokerTracer
from app.upstream.clients import Reply, UpstreamClients, UpstreamTimeout, UpstreamUnreachable
from app.upstream.config import EnvironmentConfig, TokenConfig
from app.upstream.shared_tokens import Lease, TokenStore

__all__ = ["AfnemerAccount", "TokenKey", "TokenManager", "TokenState", "TokenUnavailable"]

_log = structlog.get_logger("app.upstream.tokens")
_OAUTH_ERROR = re.compile(r"[a-z_]{1,40}")

# What this process holds for an account: a usable token; no usable token and the latest token
# request failed; or neither (no request yet, or the token ran out unused).
TokenState: TypeAlias = Literal["valid", "failing", "none"]


class AfnemerAccount(msgspec.Struct, frozen=True, kw_only=True):
    """What the upstream side needs of an afnemer: where it goes and how it authenticates."""

    # The slug of the tenant whose afnemer record this is: its tokens are its own.
    tenant: str
    afnemer_id: str
    environment: str
    identity: str
    oin: str
    client_id: str
    client_secret: Secret
    gemeente_code: str | None = None

    @property
    def scope(self) -> str:
        """RvIG's token scope: `<AfnemerID>-<OIN>`."""
        return f"{self.afnemer_id}-{self.oin}"


class TokenKey(NamedTuple):
    """What a cached token is valid for: one tenant's afnemer record with its credentials."""

    tenant: str
    afnemer_id: str
    environment: str
    identity: str
    scope: str
    # HMAC-SHA256 of client_id and secret under the TokenManager's own random key.
    credentials: bytes


class TokenUnavailable(Exception):
    """No token can be had now; `reason` is safe to log, `retry_after` in whole seconds."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _Token(msgspec.Struct, frozen=True):
    value: str
    refresh_at: float
    usable_until: float


class _Backoff(msgspec.Struct):
    failures: int = 0
    next_attempt_at: float = 0.0


class _TokenResponse(msgspec.Struct):
    access_token: str
    expires_in: float | None = None
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret


class TokenManager:
    """Obtains, caches and refreshes RvIG tokens; created once in the app's lifespan."""

    def __init__(
        self,
        clients: UpstreamClients,
        environments: Mapping[str, EnvironmentConfig],
        config: TokenConfig,
        clock: Callable[[], float] = time.monotonic,
        metrics: BrokerMetrics | None = None,
        *,
        tracer: BrokerTracer | None = None,
        store: TokenStore | None = None,
    ) -> None:
        self._metrics = metrics or BrokerMetrics(process_collectors=False)
        self._tracer = tracer or BrokerTracer()
        self._clients = clients
        self._environments = environments
        self._config = config
        self._clock = clock
        self._store = store
        self._credentials_key = store.credentials_key if store is not None else secrets.token_bytes(32)
        # Tokens RvIG refused, until the next fetch of their key: the store must not hand them back.
        self._refused: dict[TokenKey, str] = {}
        self._discarding: set[asyncio.Task[None]] = set()
        self._tokens: dict[TokenKey, _Token] = {}
        self._inflight: dict[TokenKey, asyncio.Task[_Token]] = {}
        self._backoff: dict[TokenKey, _Backoff] = {}

    def key_for(self, account: AfnemerAccount) -> TokenKey:
        """The cache key of an account's token."""
        return TokenKey(
            account.tenant,
            account.afnemer_id,
            account.environment,
            account.identity,
            account.scope,
            self._fingerprint(account),
        )

    def _fingerprint(self, account: AfnemerAccount) -> bytes:
        # Length-prefixed: a client_id and secret can never shift into one another.
        client_id = account.client_id.encode()
        message = len(client_id).to_bytes(4, "big") + client_id + account.client_secret.reveal().encode()
        return hmac.new(self._credentials_key, message, hashlib.sha256).digest()

    async def token_for(self, account: AfnemerAccount) -> str:
        """A valid access token for `account`; raises `TokenUnavailable` when none can be had."""
        key = self.key_for(account)
        now = self._clock()
        token = self._tokens.get(key)
        if token is not None and now < token.usable_until:
            if now >= token.refresh_at and not self._backing_off(key, now):
                self._fetch_once(key, account)
            return token.value
        if self._backing_off(key, now):
            self._metrics.token_request(account.environment, account.afnemer_id, "backoff")
            raise TokenUnavailable("token endpoint failed recently", self._retry_after(key, now))
        fetched = await asyncio.shield(self._fetch_once(key, account))
        return fetched.value

    def state_of(self, account: AfnemerAccount) -> TokenState:
        """Whether this process holds a usable token for `account`; never requests one."""
        key = self.key_for(account)
        token = self._tokens.get(key)
        if token is not None and self._clock() < token.usable_until:
            return "valid"
        return "failing" if key in self._backoff else "none"

    def invalidate(self, account: AfnemerAccount, token: str) -> None:
        """Forget `token` (RvIG refused it), unless a newer one has replaced it already."""
        key = self.key_for(account)
        current = self._tokens.get(key)
        if current is not None and current.value == token:
            del self._tokens[key]
        if self._store is not None:
            self._refused[key] = token
            task = asyncio.create_task(
                self._store.discard(key, token), name=f"token-discard:{key.afnemer_id}"
            )
            self._discarding.add(task)
            task.add_done_callback(self._discarding.discard)

    async def settled(self) -> None:
        """Wait until no token request is in flight (background refreshes and discards included)."""
        while self._inflight or self._discarding:
            await asyncio.gather(*self._inflight.values(), *self._discarding, return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel token requests still in flight (at shutdown)."""
        for task in [*self._inflight.values(), *self._discarding]:
            task.cancel()

    def _backing_off(self, key: TokenKey, now: float) -> bool:
        backoff = self._backoff.get(key)
        return backoff is not None and now < backoff.next_attempt_at

    def _retry_after(self, key: TokenKey, now: float) -> int:
        return max(1, math.ceil(self._backoff[key].next_attempt_at - now))

    def _fetch_once(self, key: TokenKey, account: AfnemerAccount) -> asyncio.Task[_Token]:
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key, account), name=f"token:{account.afnemer_id}")
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._fetch_done(key, done))
        return task

    def _fetch_done(self, key: TokenKey, task: asyncio.Task[_Token]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # a background refresh's failure is recorded in the backoff, not raised

    async def _fetch(self, key: TokenKey, account: AfnemerAccount) -> _Token:
        try:
            with self._tracer.token_request(
                tenant=account.tenant, afnemer_id=account.afnemer_id, environment=account.environment
            ):
                token = await self._shared_or_obtained(key, account)
        except TokenUnavailable as failure:
            self._metrics.token_request(account.environment, account.afnemer_id, "failed")
            self._record_failure(key, failure.reason)
            raise TokenUnavailable(failure.reason, self._retry_after(key, self._clock())) from None
        self._tokens[key] = token
        self._backoff.pop(key, None)
        return token

    async def _shared_or_obtained(self, key: TokenKey, account: AfnemerAccount) -> _Token:
        """The replicas' shared token when there is a store (obtained by one of them), else our own."""
        if self._store is None:
            return await self._obtain(account)

        async def obtain() -> Lease:
            token = await self._obtain(account)
            now = self._clock()
            return Lease(token.value, refresh_in=token.refresh_at - now, usable_for=token.usable_until - now)

        lease = await self._store.fetch_or_obtain(key, obtain, refused=self._refused.pop(key, None))
        now = self._clock()
        return _Token(lease.value, refresh_at=now + lease.refresh_in, usable_until=now + lease.usable_for)

    async def _obtain(self, account: AfnemerAccount) -> _Token:
        requested_at = self._clock()
        response = await self._request(account)
        token = self._token_from(response, requested_at)
        self._metrics.token_request(account.environment, account.afnemer_id, "obtained")
        _log.info("token_obtained", afnemer_id=account.afnemer_id, environment=account.environment)
        return token

    async def _request(self, account: AfnemerAccount) -> _TokenResponse:
        url = self._environments[account.environment].token_url
        if url is None:
            raise TokenUnavailable(f"no token URL for environment {account.environment}", 30)
        form = {"grant_type": "client_credentials", "scope": account.scope, **self._config.extra_parameters}
        auth: tuple[str, str] | None = None
        if self._config.auth_method == "client_secret_post":
            form |= {"client_id": account.client_id, "client_secret": account.client_secret.reveal()}
        else:
            auth = (account.client_id, account.client_secret.reveal())
        client = self._clients.client(account.identity, account.environment)
        try:
            reply = await client.post(url, form=form, auth=auth, headers={"Accept": "application/json"})
        except UpstreamTimeout:
            raise TokenUnavailable("token endpoint did not answer in time", 0) from None
        except UpstreamUnreachable as failure:
            raise TokenUnavailable(f"token endpoint unreachable ({failure.error_type})", 0) from None
        return self._parse(reply)

    @staticmethod
    def _parse(reply: Reply) -> _TokenResponse:
        if reply.status != 200:
            raise TokenUnavailable(f"token endpoint answered {reply.status} {_oauth_error_code(reply)}", 0)
        try:
            return msgspec.json.decode(reply.body, type=_TokenResponse)
        except msgspec.ValidationError:
            raise TokenUnavailable("token endpoint answered without a usable access_token", 0) from None

    def _token_from(self, response: _TokenResponse, requested_at: float) -> _Token:
        lifetime = response.expires_in or self._config.default_lifetime_seconds
        safety = min(self._config.expiry_safety_seconds, lifetime * 0.1)
        usable_until = requested_at + lifetime - safety
        refresh_at = min(requested_at + lifetime * self._config.refresh_at_fraction, usable_until)
        return _Token(value=response.access_token, refresh_at=refresh_at, usable_until=usable_until)

    def _record_failure(self, key: TokenKey, reason: str) -> None:
        backoff = self._backoff.setdefault(key, _Backoff())
        backoff.failures += 1
        delay = min(
            self._config.failure_backoff_seconds * 2 ** (backoff.failures - 1),
            self._config.failure_backoff_max_seconds,
        )
        backoff.next_attempt_at = self._clock() + delay
        _log.warning(
            "token_request_failed",
            tenant=key.tenant,
            environment=key.environment,
            scope_afnemer=key.afnemer_id,
            reason=reason,
            failures=backoff.failures,
            backoff_seconds=delay,
        )


def _oauth_error_code(reply: Reply) -> str:
    # Only the OAuth2 `error` code is kept: `error_description` is free text from the IdP.
    try:
        body = msgspec.json.decode(reply.body)
    except msgspec.DecodeError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) and _OAUTH_ERROR.fullmatch(error) else ""
