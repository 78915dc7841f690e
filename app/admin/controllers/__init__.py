"""The admin API's controllers, one per resource; each only parses, calls the service and answers."""

from __future__ import annotations

from app.admin.controllers.afnemers import AfnemersController
from app.admin.controllers.audit import AUDIT_ROUTES
from app.admin.controllers.export import EXPORT_ROUTES
from app.admin.controllers.gegevenssets import GegevenssetsController
from app.admin.controllers.issuers import IssuersController
from app.admin.controllers.ldv import LdvController
from app.admin.controllers.limits import LimitsController
from app.admin.controllers.members import MembersController
from app.admin.controllers.privacy import PRIVACY_ROUTES
from app.admin.controllers.rules import RulesController
from app.admin.controllers.tenants import TenantsController
from app.admin.controllers.usage import USAGE_ROUTES

__all__ = [
    "CONTROLLERS",
    "AfnemersController",
    "GegevenssetsController",
    "IssuersController",
    "LdvController",
    "LimitsController",
    "MembersController",
    "RulesController",
    "TenantsController",
]

CONTROLLERS = (
    TenantsController,
    MembersController,
    IssuersController,
    AfnemersController,
    RulesController,
    GegevenssetsController,
    LimitsController,
    LdvController,
    *AUDIT_ROUTES,
    *PRIVACY_ROUTES,
    *EXPORT_ROUTES,
    *USAGE_ROUTES,
)
