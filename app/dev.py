"""The local development stack behind `brp-broker dev`: the broker configured to reach the sandbox
RvIG with the sandbox's dev certificate, the dev afnemers' secrets, and the demo tenants.

Also used by the tests, so they run the same wiring a developer runs. Nothing here is used by
`serve`: production configuration never comes from this module.

The demo tenant files name the sandbox at its default address (`https://127.0.0.1:8443`) and the
dev secrets under `.state/`; `demo_tenants` points them at the sandbox and state folder of *this*
run, so a `dev` on other ports (`BROKER_SANDBOX_PORT`, the tests) never fetches another sandbox's
keys or reads another checkout's secrets.

`make dev` signs the protocol's chain heads (`with_dev_signing_key`): a dev Ed25519 key in
`.state/secrets/protocol-signing.jwk`, its public JWKS in `.state/protocol-signing.jwks.json` (what
`protocol verify --public-keys` takes) and the anchors in `.state/protocol-anchors.jsonl`, unless
the developer names a key of their own.

A demo tenant with an `[ldv]` table but no `subject_key` gets a dev key pair for its Logboek
Dataverwerkingen subjects: the private half in `.state/secrets/ldv-<slug>.jwk` (kept across runs,
so `brp-broker ldv decrypt --key` opens what `protocol export --format ldv` wrote), the public half
in its configuration. A real tenant makes its own pair and hands over the public half only.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import msgspec

from app.db.migrations import OWNER_ROLE
from app.identity import IssuerConfig
from app.protocol.ldv_subjects import generate_private_key, public_jwk
from app.protocol.signing import PublicKeys, generate_signing_key
from app.sandbox.config import SandboxConfig
from app.sandbox.idp import DEV_IDP_ALGORITHM, DEV_IDP_AUDIENCE, DEV_IDP_OPERATOR_ISSUER, DEV_IDP_PATH
from app.sandbox.pki import DevPki
from app.settings import Settings
from app.tenancy import Plan, TenantSpec, apply, load_tenant_files, store
from app.upstream import EnvironmentConfig, IdentityConfig

__all__ = [
    "DEFAULT_SANDBOX_URL",
    "DEV_IDENTITY",
    "DEV_OIN",
    "DEV_PORTAL_CLIENT",
    "PORTAL_DEMO_TENANT",
    "apply_tenants",
    "demo_tenants",
    "sandbox_settings",
    "with_dev_signing_key",
    "write_dev_secrets",
]

# The identity the demo tenant files name, and the OIN of the sandbox's dev certificate.
DEV_IDENTITY = "dev"
DEV_OIN = "00000001234567890000"
# Where the demo tenant files expect the sandbox and the dev secrets.
DEFAULT_SANDBOX_URL = "https://127.0.0.1:8443"
_DEMO_SECRETS = "file:.state/secrets/"
# The demo tenant whose admins change it in the beheerportaal (see `apply_tenants`).
PORTAL_DEMO_TENANT = "amsterdam"
# The beheerportaal's client id at the dev IdP (the demo tenant files name it too).
DEV_PORTAL_CLIENT = "brp-beheerportaal"


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
        # The admin API's operator: the dev IdP's operator issuer (`brp-broker dev token --operator`).
        operator_issuer=DEV_IDP_OPERATOR_ISSUER,
        operator_audiences=(DEV_IDP_AUDIENCE,),
        operator_jwks_uri=f"{sandbox_url}{DEV_IDP_PATH}/jwks.json",
        operator_algorithms=(DEV_IDP_ALGORITHM,),
        # The beheerportaal's operator login at the same provider (its login form on the sandbox).
        operator_login_client_id=DEV_PORTAL_CLIENT,
        operator_login_discovery_uri=f"{sandbox_url}{DEV_IDP_PATH}/operator/.well-known/openid-configuration",
    )


def with_dev_signing_key(settings: Settings) -> Settings:
    """`settings` signing chain heads with the dev key (made on first use), anchors in `.state/`;
    unchanged when a signing key is configured already."""
    if settings.protocol_signing_key_file is not None:
        return settings
    state = settings.state_dir
    key_file = state / "secrets" / "protocol-signing.jwk"
    if not key_file.exists():
        key = generate_signing_key()
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_bytes(msgspec.json.encode(key.private_jwk()))
        jwks = PublicKeys.from_jwks(key.public_jwk()).jwks()
        (state / "protocol-signing.jwks.json").write_bytes(msgspec.json.format(msgspec.json.encode(jwks)))
    return msgspec.structs.replace(
        settings,
        protocol_signing_key_file=key_file.resolve(),
        protocol_anchor_file=settings.protocol_anchor_file or (state / "protocol-anchors.jsonl").resolve(),
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


def demo_tenants(directory: Path, *, sandbox_url: str, state_dir: Path) -> list[TenantSpec]:
    """The tenant files in `directory`, pointed at this dev stack: JWKS URIs of the sandbox's
    default address at `sandbox_url`, and `file:.state/secrets/...` at `state_dir`'s secrets."""
    secrets = f"file:{state_dir.resolve() / 'secrets'}/"
    return [
        _with_dev_ldv_key(_pointed(spec, sandbox_url, secrets), state_dir / "secrets")
        for spec in load_tenant_files(directory)
    ]


def _pointed(spec: TenantSpec, sandbox_url: str, secrets: str) -> TenantSpec:
    issuers = tuple(_issuer_at_sandbox(issuer, sandbox_url) for issuer in spec.issuers)
    afnemers = tuple(
        msgspec.structs.replace(afnemer, client_secret=_in_state(afnemer.client_secret, secrets))
        for afnemer in spec.afnemers
    )
    return msgspec.structs.replace(spec, issuers=issuers, afnemers=afnemers)


def _with_dev_ldv_key(spec: TenantSpec, secrets_dir: Path) -> TenantSpec:
    """`spec` with the public half of its dev LDV key, when it has an `[ldv]` without a key."""
    if spec.ldv.processing_activity is None or spec.ldv.subject_key is not None:
        return spec
    path = secrets_dir / f"ldv-{spec.slug}.jwk"
    if not path.exists():
        secrets_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(msgspec.json.encode(generate_private_key()).decode())
    public = public_jwk(msgspec.json.decode(path.read_bytes()))
    return msgspec.structs.replace(spec, ldv=msgspec.structs.replace(spec.ldv, subject_key=public))


def _issuer_at_sandbox(issuer: IssuerConfig, sandbox_url: str) -> IssuerConfig:
    login = issuer.login
    if login is not None:
        discovery = _at_sandbox(login.discovery(issuer.issuer), sandbox_url)
        login = msgspec.structs.replace(login, discovery_uri=discovery)
    jwks_uri = _at_sandbox(issuer.jwks_uri, sandbox_url)
    return msgspec.structs.replace(issuer, jwks_uri=jwks_uri, login=login)


def _at_sandbox(uri: str | None, sandbox_url: str) -> str | None:
    if uri is None or not uri.startswith(DEFAULT_SANDBOX_URL + "/"):
        return uri
    return sandbox_url + uri.removeprefix(DEFAULT_SANDBOX_URL)


def _in_state(reference: str, secrets: str) -> str:
    if not reference.startswith(_DEMO_SECRETS):
        return reference
    return secrets + reference.removeprefix(_DEMO_SECRETS)


async def apply_tenants(
    owner_url: str,
    directory: Path,
    *,
    sandbox_url: str = DEFAULT_SANDBOX_URL,
    state_dir: Path = Path(".state"),
    prune: bool = False,
    portal_managed: tuple[str, ...] = (PORTAL_DEMO_TENANT,),
) -> Plan:
    """Validate and apply the tenant files in `directory` (the demo tenants for `dev`), pointed at
    the running sandbox and state folder (see `demo_tenants`).

    The tenants named in `portal_managed` are handed to the admin API after their first apply, so
    their admins can change them in the beheerportaal and a later `dev` leaves those changes be
    (a file-managed tenant is read-only in the portal). The others stay managed by their files.
    """
    specs = demo_tenants(directory, sandbox_url=sandbox_url, state_dir=state_dir)
    connection = await asyncpg.connect(owner_url)
    try:
        # As the tables' owner, so row-level security scopes each read to its tenant (the URL's
        # user may be a superuser, which bypasses it), as `tenants apply` does.
        await connection.execute(f"SET ROLE {OWNER_ROLE}")
        handed = {s.slug for s in specs if await _management(connection, s.slug) == "api"}
        result = await apply(
            owner_url, [s for s in specs if s.slug not in handed], prune=prune, dry_run=False
        )
        for slug in (s.slug for s in specs if s.slug in portal_managed and s.slug not in handed):
            async with connection.transaction():
                await store.scope_to(connection, slug)
                management = await store.tenant_management(connection)
                if management is not None:
                    await store.set_managed_by(connection, management.id, "api")
    finally:
        await connection.close()
    return result


async def _management(connection: asyncpg.Connection, slug: str) -> str | None:
    """Who manages the tenant `slug` ('file' or 'api'), None when it does not exist yet."""
    async with connection.transaction():
        await store.scope_to(connection, slug)
        management = await store.tenant_management(connection, lock=False)
    return None if management is None else management.managed_by
