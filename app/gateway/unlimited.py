"""The limiter seam's filling until rate limits are configured: no limits, no headers."""

from __future__ import annotations

from app.identity import Principal
from app.tenancy import Access

__all__ = ["Unlimited"]


class Unlimited:
    """Lets every request through."""

    async def check(self, principal: Principal, access: Access) -> dict[str, str]:
        """No limit, no headers."""
        return {}
