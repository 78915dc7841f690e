"""Who is calling: bearer-token validation and the `Principal` it yields."""

from __future__ import annotations

from app.identity.principal import Principal

__all__ = ["Principal"]
