"""Who is calling: bearer-token validation and the `Principal` it yields."""

from __future__ import annotations

from app.identity.config import ALLOWED_ALGORITHMS, ClaimMapping, IssuerConfig
from app.identity.principal import Principal

__all__ = ["ALLOWED_ALGORITHMS", "ClaimMapping", "IssuerConfig", "Principal"]
