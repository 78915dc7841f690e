"""A SaaS tenant file for tests and benchmarks: a gemeente with one afnemer (000001 by default),
allowed everything. An AfnemerID belongs to one tenant: a second such tenant needs another one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.sandbox.idp import DEV_IDP_ISSUER
from tests.support.toml import inline

__all__ = ["write_saas_tenant"]

_TEMPLATE = """
slug = "{slug}"
name = "{slug} (test)"
kind = "organisation"
pattern = "saas"

[[issuers]]
issuer = "{issuer}"
audiences = ["brp-broker"]
jwks = {jwks}
algorithms = ["ES256"]
tenant_claim = "tenant"
tenant_claim_value = "{slug}"

[afnemers.{afnemer_id}]
name = "Gemeente {gemeente_code} (sandbox)"
environment = "sandbox"
identity = "dev"
client_id = "broker-dev-{afnemer_id}"
client_secret = "file:{secret}"
gemeente_code = "{gemeente_code}"

[gegevenssets.alles]
apis = ["personen", "bewoning", "verblijfplaatshistorie"]
query_types = ["*"]
fields = ["*"]
parameters = ["*"]
inclusief_overleden_personen = true

[rules.iedereen]
who = ["tenant"]
gegevenssets = ["alles"]
"""


def write_saas_tenant(
    folder: Path,
    slug: str,
    jwks: dict[str, Any],
    secret_file: Path,
    *,
    afnemer_id: str = "000001",
    gemeente_code: str = "0599",
) -> Path:
    """Write `<folder>/<slug>.toml`, trusting the dev IdP (inline `jwks`), with the sandbox's `afnemer_id`."""
    path = folder / f"{slug}.toml"
    text = _TEMPLATE.format(
        slug=slug,
        issuer=DEV_IDP_ISSUER,
        jwks=inline(jwks),
        secret=secret_file,
        afnemer_id=afnemer_id,
        gemeente_code=gemeente_code,
    )
    path.write_text(text)
    return path
