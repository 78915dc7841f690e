"""The local development stack behind `brp-broker dev`: the broker configured to reach the sandbox
RvIG with the sandbox's dev certificate, the dev afnemers' secrets, and the demo tenants.

Also used by the tests, so they run the same wiring a developer runs. Nothing here is used by
`serve`: production configuration never comes from this module.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from app.sandbox.config import SandboxConfig
from app.sandbox.pki import DevPki
from app.settings import Settings
from app.tenancy import Plan, apply, load_tenant_files
from app.upstream import EnvironmentConfig, IdentityConfig

__all__ = ["DEV_IDENTITY", "DEV_OIN", "apply_tenants", "sandbox_settings", "write_dev_secrets"]

# The identity the demo tenant files name, and the OIN of the sandbox's dev certificate.
DEV_IDENTITY = "dev"
DEV_OIN = "00000001234567890000"


def sandbox_settings(settings: Settings, pki: DevPki, sandbox_url: str) -> Settings:
    """`settings` with the dev OIN identity, the sandbox's URLs and trust in its dev IdP."""
    client = pki.client(DEV_OIN)
    identity = IdentityConfig(
        name=DEV_IDENTITY, oin=DEV_OIN, certificate=client.cert, private_key=client.key, ca_bundle=pki.ca_cert
    )
    environments = dict(settings.environments)
    environments["sandbox"] = EnvironmentConfig(
        token_url=f"{sandbox_url}/nidp/oauth/nam/token",
        personen_url=f"{sandbox_url}/haalcentraal/api/brp/personen",
        bewoning_url=f"{sandbox_url}/haalcentraal/api/bewoning/bewoningen",
        verblijfplaatshistorie_url=f"{sandbox_url}/haalcentraal/api/brphistorie/verblijfplaatshistorie",
        read_timeout=10.0,
    )
    return msgspec.structs.replace(
        settings,
        identities=(*[i for i in settings.identities if i.name != DEV_IDENTITY], identity),
        environments=environments,
        idp_ca_bundle=pki.ca_cert,
        idp_identity=DEV_IDENTITY,
    )


def write_dev_secrets(folder: Path, sandbox: SandboxConfig) -> dict[str, Path]:
    """Write each sandbox afnemer's dev secret to `folder/afnemer-<id>` (0600); tenant files
    reference them as `file:`, the way a mounted Kubernetes Secret is referenced in production."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    written: dict[str, Path] = {}
    for afnemer in sandbox.afnemers:
        path = folder / f"afnemer-{afnemer.afnemer_id}"
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(afnemer.client_secret.reveal())
        written[afnemer.afnemer_id] = path.resolve()
    return written


async def apply_tenants(owner_url: str, directory: Path, *, prune: bool = False) -> Plan:
    """Validate and apply the tenant files in `directory` (the demo tenants for `dev`)."""
    return await apply(owner_url, load_tenant_files(directory), prune=prune, dry_run=False)
