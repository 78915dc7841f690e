"""The portal's pages, one module per page; each only reads the form, calls the domain and renders.
A page's own data lives beside it (`staff` for Toegang's employees, `wizard` for onboarding); what
pages share is one level up (`app.portal.web`, `forms`, `sections`, `dutch`).

Authorisation is the admin API's (`app.admin.auth.require_tenant_role`): a person sees what the
same token would be allowed at `/admin/v1`, and another tenant's pages are 404.
"""

from __future__ import annotations

from typing import Any, Final

from app.portal.controllers.access import ACCESS_ROUTES
from app.portal.controllers.audit import AUDIT_ROUTES
from app.portal.controllers.auth import AUTH_ROUTES
from app.portal.controllers.gegevenssets import GEGEVENSSETS_ROUTES
from app.portal.controllers.inzage import INZAGE_ROUTES
from app.portal.controllers.limits import LIMITS_ROUTES
from app.portal.controllers.onboarding import ONBOARDING_ROUTES
from app.portal.controllers.operator import OPERATOR_ROUTES
from app.portal.controllers.overview import OVERVIEW_ROUTES

__all__ = ["PAGES"]

PAGES: Final[tuple[Any, ...]] = (
    *AUTH_ROUTES,
    *ACCESS_ROUTES,
    *GEGEVENSSETS_ROUTES,
    *OPERATOR_ROUTES,
    *ONBOARDING_ROUTES,
    *LIMITS_ROUTES,
    *AUDIT_ROUTES,
    *INZAGE_ROUTES,
    *OVERVIEW_ROUTES,
)
