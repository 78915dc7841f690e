"""A test client for a running sandbox: real HTTPS with the dev client certificates, and tokens."""

from __future__ import annotations

import ssl
import time
from typing import Any

import httpx

from app.sandbox.server import SandboxThread

__all__ = ["BROKER_OIN", "OTHER_OIN", "SandboxClient"]

BROKER_OIN = "00000001234567890000"
OTHER_OIN = "00000009876543210000"
PERSONEN = "/haalcentraal/api/brp/personen"
BEWONING = "/haalcentraal/api/bewoning/bewoningen"
HISTORIE = "/haalcentraal/api/brphistorie/verblijfplaatshistorie"
TOKEN = "/nidp/oauth/nam/token"


class SandboxClient:
    """Talks to one running sandbox over HTTPS with mTLS, as the broker would."""

    def __init__(self, sandbox: SandboxThread) -> None:
        self.sandbox = sandbox
        self.http = self.client()
        self._tokens: dict[str, tuple[str, float]] = {}

    def close(self) -> None:
        """Close the shared connection pool."""
        self.http.close()

    def context(
        self, oin: str = BROKER_OIN, *, foreign: bool = False, with_cert: bool = True
    ) -> ssl.SSLContext:
        """A client TLS context: the dev certificate of `oin`, one of the foreign CA, or none."""
        pki = self.sandbox.pki
        if not with_cert:
            return ssl.create_default_context(cafile=str(pki.ca_cert))
        identity = pki.foreign_client(oin) if foreign else pki.client(oin)
        return identity.ssl_context(pki.ca_cert)

    def client(self, oin: str = BROKER_OIN, *, foreign: bool = False, with_cert: bool = True) -> httpx.Client:
        """A new httpx client to the sandbox (close it, or use it as a context manager)."""
        context = self.context(oin, foreign=foreign, with_cert=with_cert)
        return httpx.Client(base_url=self.sandbox.base_url, verify=context, timeout=30)

    def credentials(self, afnemer_id: str) -> dict[str, str]:
        """The token request form of a configured afnemer (scope with its registered OIN)."""
        afnemer = self.sandbox.config.afnemer_by_id(afnemer_id)
        assert afnemer is not None, afnemer_id
        return {
            "grant_type": "client_credentials",
            "client_id": afnemer.client_id,
            "client_secret": afnemer.client_secret.reveal(),
            "scope": f"{afnemer.afnemer_id}-{afnemer.oin}",
            "resourceServer": "ResourceServer01",
        }

    def request_token(
        self, form: dict[str, str], *, http: httpx.Client | None = None, **kwargs: Any
    ) -> httpx.Response:
        """POST a token request form as it is."""
        return (http or self.http).post(TOKEN, data=form, **kwargs)

    def token(self, afnemer_id: str = "000001") -> str:
        """An access token for a configured afnemer, reused while it has 5 seconds left."""
        cached = self._tokens.get(afnemer_id)
        if cached is not None and cached[1] - time.monotonic() > 5:
            return cached[0]
        return self.fresh_token(afnemer_id)

    def fresh_token(self, afnemer_id: str = "000001") -> str:
        """A newly issued access token for a configured afnemer."""
        response = self.request_token(self.credentials(afnemer_id))
        assert response.status_code == 200, response.text
        body = response.json()
        self._tokens[afnemer_id] = (body["access_token"], time.monotonic() + body["expires_in"])
        token: str = body["access_token"]
        return token

    def post(
        self,
        path: str,
        body: dict[str, Any] | bytes,
        *,
        afnemer_id: str = "000001",
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST a BRP request with a bearer token of the afnemer."""
        all_headers = {"Authorization": f"Bearer {token or self.token(afnemer_id)}", **(headers or {})}
        if isinstance(body, bytes):
            all_headers.setdefault("Content-Type", "application/json")
            return self.http.post(path, content=body, headers=all_headers)
        return self.http.post(path, json=body, headers=all_headers)

    def personen(self, body: dict[str, Any], *, afnemer_id: str = "000001") -> httpx.Response:
        """POST a Personen query."""
        return self.post(PERSONEN, body, afnemer_id=afnemer_id)

    def found(self, body: dict[str, Any], *, afnemer_id: str = "000001") -> list[str]:
        """The BSNs a Personen query finds (asserting a 200)."""
        response = self.personen({**body, "fields": ["burgerservicenummer"]}, afnemer_id=afnemer_id)
        assert response.status_code == 200, response.text
        return [p["burgerservicenummer"] for p in response.json()["personen"]]
