"""The gateway: the three BRP endpoints and the pipeline that runs the request flow."""

from __future__ import annotations

from app.gateway.controllers import bewoning, personen, verblijfplaatshistorie
from app.gateway.pipeline import GatewayPipeline

__all__ = ["GatewayPipeline", "bewoning", "personen", "verblijfplaatshistorie"]

ROUTES = (personen, bewoning, verblijfplaatshistorie)
