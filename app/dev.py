"""The local development stack behind `brp-broker dev`: embedded PostgreSQL, the sandbox RvIG,
and the broker configured to reach the sandbox with the sandbox's dev afnemer.

Also used by the tests, so they run the same wiring a developer runs. Nothing here is used by
`serve`: production configuration never comes from this module.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from app.sandbox.config import SandboxConfig
from app.sandbox.pki import DevPki
from app.settings import Settings
from app.upstream import EnvironmentConfig, IdentityConfig, UpstreamAfnemerConfig

__all__ = ["DEV_AFNEMER_ID", "DEV_IDENTITY", "with_sandbox_upstream"]

DEV_IDENTITY = "dev"
DEV_AFNEMER_ID = "000001"


def with_sandbox_upstream(
    settings: Settings,
    sandbox: SandboxConfig,
    pki: DevPki,
    sandbox_url: str,
    afnemer_id: str = DEV_AFNEMER_ID,
) -> Settings:
    """`settings` extended with the dev identity, the sandbox URLs and one sandbox afnemer.

    The afnemer's dev secret is written to a 0600 file in the state folder and referenced
    (`file:`), the way a mounted Kubernetes Secret is in production.
    """
    afnemer = sandbox.afnemer_by_id(afnemer_id)
    if afnemer is None:
        raise ValueError(f"the sandbox has no afnemer {afnemer_id}")
    client = pki.client(afnemer.oin)
    secret_file = _write_secret(
        settings.state_dir / "secrets" / f"afnemer-{afnemer_id}", afnemer.client_secret.reveal()
    )
    identity = IdentityConfig(
        name=DEV_IDENTITY,
        oin=afnemer.oin,
        certificate=client.cert,
        private_key=client.key,
        ca_bundle=pki.ca_cert,
    )
    environments = dict(settings.environments)
    environments["sandbox"] = _sandbox_environment(sandbox_url)
    return msgspec.structs.replace(
        settings,
        identities=(*[i for i in settings.identities if i.name != DEV_IDENTITY], identity),
        environments=environments,
        afnemer=UpstreamAfnemerConfig(
            afnemer_id=afnemer_id,
            environment="sandbox",
            identity=DEV_IDENTITY,
            client_id=afnemer.client_id,
            client_secret=f"file:{secret_file}",
            gemeente_code=afnemer.gemeente_code,
        ),
    )


def _sandbox_environment(base_url: str) -> EnvironmentConfig:
    return EnvironmentConfig(
        token_url=f"{base_url}/nidp/oauth/nam/token",
        personen_url=f"{base_url}/haalcentraal/api/brp/personen",
        bewoning_url=f"{base_url}/haalcentraal/api/bewoning/bewoningen",
        verblijfplaatshistorie_url=f"{base_url}/haalcentraal/api/brphistorie/verblijfplaatshistorie",
        read_timeout=10.0,
    )


def _write_secret(path: Path, value: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(value)
    return path.resolve()
