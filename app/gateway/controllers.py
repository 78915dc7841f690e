"""The three BRP endpoints on RvIG's own paths; they hand the request to the pipeline, nothing else.

Every HTTP method is routed here so that the pipeline decides 401 before 405, as RvIG does. The
routes are left out of the broker's generated OpenAPI document (it would list seven methods with no
bodies): RvIG's own documents describe them, served by `app.openapi`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, route
from litestar.enums import HttpMethod

from app.brp import API_PATHS, Api
from app.gateway.pipeline import GatewayPipeline

__all__ = ["bewoning", "personen", "verblijfplaatshistorie"]

_METHODS = [m for m in HttpMethod if m not in (HttpMethod.HEAD,)]


def _pipeline(request: Request[Any, Any, Any]) -> GatewayPipeline:
    pipeline: GatewayPipeline = request.app.state.pipeline
    return pipeline


@route(
    API_PATHS[Api.PERSONEN],
    http_method=_METHODS,
    include_in_schema=False,
    summary="BRP API Personen (RvIG body and answer)",
)
async def personen(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Forward a Personen query (all seven types) for the caller's afnemer."""
    return await _pipeline(request).handle(Api.PERSONEN, request)


@route(
    API_PATHS[Api.BEWONING],
    http_method=_METHODS,
    include_in_schema=False,
    summary="BRP API Bewoning (RvIG body and answer)",
)
async def bewoning(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Forward a Bewoning query for the caller's afnemer."""
    return await _pipeline(request).handle(Api.BEWONING, request)


@route(
    API_PATHS[Api.VERBLIJFPLAATSHISTORIE],
    http_method=_METHODS,
    include_in_schema=False,
    summary="BRP API Verblijfplaatshistorie (RvIG body and answer)",
)
async def verblijfplaatshistorie(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Forward a Verblijfplaatshistorie query for the caller's afnemer."""
    return await _pipeline(request).handle(Api.VERBLIJFPLAATSHISTORIE, request)
