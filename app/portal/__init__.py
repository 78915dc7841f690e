"""The beheerportaal under `/beheer`: the web pages of tenant admins, privacy officers and operators.

A thin orchestrator over the same domain modules as the admin API (`app.tenancy.service`,
`app.protocol`, `app.audit`), with the admin API's authorisation (`app.admin.auth`): server-rendered
Dutch pages (Jinja) that work without JavaScript, OIDC login with PKCE (`login`), server-side
sessions in PostgreSQL (`sessions`), the request plumbing shared by every page (`web`), the pages
(`controllers`), inline SVG charts (`charts`) and the router (`routes`).
"""

from __future__ import annotations

from app.portal.routes import portal_router, portal_template_config
from app.portal.web import PORTAL_PATH, Portal

__all__ = ["PORTAL_PATH", "Portal", "portal_router", "portal_template_config"]
