"""The demo tenants against the sandbox RvIG: for each pattern, the account resolved from the
directory obtains a token whose scope carries the AfnemerID the pattern prescribes, and the query
authorised by its doelbinding is answered (everything of the data path but the HTTP gateway)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import msgspec
import pytest

from app.brp import Api, parse_query
from app.identity import Principal
from app.sandbox.config import SandboxConfig
from app.settings import Settings
from app.tenancy import TenantDirectory, TenantSpec, apply, load_tenant_files, resolve_access
from app.upstream import Upstream
from tests.integration.conftest import SandboxControl
from tests.unit.tenancy.demo import TENANTS_DIR

PERSONEN = "/haalcentraal/api/brp/personen"
DOELBINDING = {"x-doelbinding": "demo"}


def _with_sandbox_secrets(spec: TenantSpec, sandbox: SandboxConfig, folder: Path) -> TenantSpec:
    """The demo spec with each secret in its own file, as `brp-broker dev` writes them."""
    afnemers = []
    for afnemer in spec.afnemers:
        registered = sandbox.afnemer_by_id(afnemer.afnemer_id)
        assert registered is not None
        path = folder / f"afnemer-{afnemer.afnemer_id}"
        path.write_text(registered.client_secret.reveal())
        afnemers.append(msgspec.structs.replace(afnemer, client_secret=f"file:{path}"))
    return msgspec.structs.replace(spec, afnemers=tuple(afnemers))


@pytest.fixture
async def upstream(broker_settings: Settings) -> AsyncIterator[Upstream]:
    opened = Upstream.open(
        broker_settings.identities, broker_settings.resolved_environments(), broker_settings.token
    )
    yield opened
    await opened.aclose()


@pytest.fixture
async def directory(
    owner_url: str,
    runtime_pool: asyncpg.Pool,
    upstream: Upstream,
    sandbox_config: SandboxConfig,
    tmp_path: Path,
) -> AsyncIterator[TenantDirectory]:
    specs = [_with_sandbox_secrets(s, sandbox_config, tmp_path) for s in load_tenant_files(TENANTS_DIR)]
    await apply(owner_url, specs, prune=False, dry_run=False)
    directory = TenantDirectory(runtime_pool, {name: i.oin for name, i in upstream.identities.items()})
    await directory.start()
    yield directory
    await directory.stop()


@pytest.mark.parametrize(
    ("principal", "requested", "afnemer_id", "gemeente"),
    [
        # SaaS: the gemeente's own AfnemerID.
        (
            Principal(tenant="amsterdam", subject="a", employee="A1", roles=("sociaal-domein",)),
            None,
            "000101",
            "0363",
        ),
        # Delegatie: the samenwerkingsverband's AfnemerID, whichever member the caller works for.
        (
            Principal(tenant="belastingen-rijnmond", subject="b", employee="B1", organisation="rotterdam"),
            None,
            "000201",
            "0599",
        ),
        (
            Principal(
                tenant="belastingen-rijnmond", subject="c", employee="B2", organisation="hellevoetsluis"
            ),
            None,
            "000201",
            "0530",
        ),
        # Gezamenlijk personeel: the AfnemerID of the gemeente the employee works for (or picks).
        (Principal(tenant="vallei-liemers", subject="d", employee="E2002"), None, "000301", "0228"),
        (Principal(tenant="vallei-liemers", subject="e", employee="E2001"), "000302", "000302", "0226"),
    ],
)
async def test_each_pattern_reaches_the_sandbox_with_its_afnemer_id(
    directory: TenantDirectory,
    upstream: Upstream,
    sandbox_control: SandboxControl,
    principal: Principal,
    requested: str | None,
    afnemer_id: str,
    gemeente: str,
) -> None:
    sandbox_control.reset()
    access = resolve_access(directory.snapshot, principal, requested, {**DOELBINDING, "x-verwerking": "demo"})
    assert access.account.afnemer_id == afnemer_id
    body = (
        b'{"type": "ZoekMetPostcodeEnHuisnummer", "postcode": "3077AW", "huisnummer": 31, "fields": ["naam"]}'
    )
    query = access.policy.authorise(parse_query(Api.PERSONEN, body))
    assert query.gemeente_van_inschrijving == gemeente  # type: ignore[union-attr]  # own residents only
    answer = await upstream.forwarder.forward(access.account, query, PERSONEN)
    assert answer.status == 200
    scopes = sandbox_control.counters()["tokenRequests"][afnemer_id]["scopes"]
    assert list(scopes) == [f"{afnemer_id}-{access.account.oin}"]
    assert sandbox_control.api_calls(afnemer_id) == 1
