"""A SaaS tenant file for tests and benchmarks: a gemeente with afnemer 000001, allowed everything."""

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

[afnemers.000001]
name = "Gemeente Rotterdam (sandbox)"
environment = "sandbox"
identity = "dev"
client_id = "broker-dev-000001"
client_secret = "file:{secret}"
gemeente_code = "0599"

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


def write_saas_tenant(folder: Path, slug: str, jwks: dict[str, Any], secret_file: Path) -> Path:
    """Write `<folder>/<slug>.toml`, trusting the dev IdP (inline `jwks`) and using the sandbox's 000001."""
    path = folder / f"{slug}.toml"
    path.write_text(_TEMPLATE.format(slug=slug, issuer=DEV_IDP_ISSUER, jwks=inline(jwks), secret=secret_file))
    return path
