"""The beheerportaal under `/beheer`: the web pages of tenant admins, privacy officers and operators.

A thin orchestrator over the same domain modules as the admin API (`app.tenancy.service`,
`app.protocol`, `app.audit`), with the admin API's authorisation (`app.admin.auth`): server-rendered
Dutch pages (Jinja) that work without JavaScript, OIDC login with PKCE (`login`), server-side
sessions in PostgreSQL (`sessions`), the request plumbing shared by every page (`web`), what every
form shares (`forms`: problems in Dutch, the error summary), the flow of a tenant's named objects
(`sections`: Toegang and Gegevenssets), Dutch numbers and dates (`dutch`), the pages
(`controllers`), inline SVG charts (`charts`) and the router (`routes`). Templates share their
building blocks through `templates/_macros.html`.
"""

from __future__ import annotations

from app.portal.routes import portal_router, portal_template_config
from app.portal.web import PORTAL_PATH, Portal

__all__ = ["PORTAL_PATH", "Portal", "portal_router", "portal_template_config"]
