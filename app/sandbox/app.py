"""The sandbox's composition root: one Litestar app per (config, data set, dev PKI).

This module only wires: the token signing key from the dev PKI, the token service, a fresh
`Knobs` (so two apps never share knob state), the RvIG-facing endpoints (`api`), the control API
(`knobs`), the dev IdP's keys, discovery and token endpoints (`idp`, `login`) and the problem+json
exception handlers (`app.errors`). It must never hold state of its own at module level: the dev
IdP's authorization codes come in from whoever also runs the login server (`app.sandbox.server`).
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from app.errors import exception_handlers
from app.sandbox.api import SandboxServices, brp_api, token_endpoint
from app.sandbox.config import SandboxConfig
from app.sandbox.dataset import Dataset
from app.sandbox.idp import dev_idp_router
from app.sandbox.knobs import Knobs, KnobsController
from app.sandbox.login import AuthorizationCodes, dev_idp_token_endpoints
from app.sandbox.pki import DevPki
from app.sandbox.tokens import TokenService, load_signing_key

__all__ = ["create_sandbox_app"]


_STATE_KEY = "sandbox"


def _provide_services(state: State) -> SandboxServices:
    services: SandboxServices = state[_STATE_KEY]
    return services


def _provide_knobs(state: State) -> Knobs:
    return _provide_services(state).knobs


def _provide_last_token_serial(state: State) -> int:
    return _provide_services(state).tokens.last_serial


def create_sandbox_app(
    config: SandboxConfig,
    dataset: Dataset,
    pki: DevPki,
    *,
    login_url: str | None = None,
    codes: AuthorizationCodes | None = None,
) -> Litestar:
    """The sandbox as an ASGI app; serve it with `app.sandbox.server` (which adds mTLS).

    Its services (token service, data set, a fresh `Knobs`) live in the app's state under
    `"sandbox"`; handlers get them by dependency injection. `login_url` and `codes` are the login
    server's address and authorization codes (`app.sandbox.login`); without a login server the
    discovery documents name no authorization endpoint and no code is ever redeemed.
    """
    tokens = TokenService(config, load_signing_key(pki.token_signing_key))
    services = SandboxServices(config=config, dataset=dataset, tokens=tokens, knobs=Knobs())
    dependencies: dict[str, Any] = {
        "services": Provide(_provide_services, sync_to_thread=False),
        "knobs": Provide(_provide_knobs, sync_to_thread=False),
        "last_token_serial": Provide(_provide_last_token_serial, sync_to_thread=False),
    }
    return Litestar(
        route_handlers=[
            token_endpoint,
            KnobsController,
            dev_idp_router(config.state_path, login_url=login_url),
            *dev_idp_token_endpoints(config.state_path, codes or AuthorizationCodes()),
            brp_api,
        ],
        dependencies=dependencies,
        exception_handlers=exception_handlers,
        state=State({_STATE_KEY: services}),
        openapi_config=None,
        # Logging belongs to whoever runs the sandbox (the CLI configures structlog with redaction).
        logging_config=None,
    )
