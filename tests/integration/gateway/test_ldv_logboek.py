"""Gateway requests reach the tenant's own Logboek as LDV 1.0.0 lines, end to end.

The real app (its lifespan runs the delivery worker) in front of the sandbox, with the demo
tenants in a database of this test alone; `amsterdam`'s `[ldv]` gets a subject key and the
endpoint of a real OTLP/HTTP receiver. A request with a caller's `traceparent` is delivered with
the caller's trace, the caller's span as parent, the calling application, the mapped processing
activity and the subject encrypted to amsterdam's key; the export gives the same line.

Run with `-s` to see the LDV line (the README's example is one of these).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from app.db import apply_migrations, with_user
from app.dev import sandbox_settings, write_dev_secrets
from app.main import create_app
from app.protocol import export
from app.protocol.ldv import LdvRecord
from app.protocol.ldv_subjects import PrivateSubjectKeys, generate_private_key, public_jwk
from app.sandbox.idp import dev_idp_jwks
from app.sandbox.server import SandboxThread
from app.settings import Settings
from app.tenancy import apply, load_tenant_files
from tests.integration.conftest import REPO, SandboxControl, dev_token
from tests.integration.otlp_receiver import OtlpReceiver
from tests.support.servers import ServerTask
from tests.support.toml import inline

PERSONEN = "/haalcentraal/api/brp/personen"
BSN, OTHER_BSN = "999993653", "000009830"
BURGERZAKEN = "https://register.amsterdam.example/verwerkingsactiviteiten/burgerzaken"
AMSTERDAM_APP = "https://app.amsterdam.example"


class Dev:
    """The demo tenants in a fresh database, amsterdam delivering to `logboek`, and its key."""

    def __init__(self, url: str, logboek: OtlpReceiver, private: dict[str, Any]) -> None:
        self.url = url
        self.logboek = logboek
        self.keys = PrivateSubjectKeys.from_json(msgspec.json.encode(private))


@pytest.fixture
async def dev(new_database: Any, sandbox: SandboxThread, tmp_path: Path) -> AsyncIterator[Dev]:
    url: str = await new_database("brp_ldv")
    await apply_migrations(url)
    private = generate_private_key()
    folder = tmp_path / "tenants"
    folder.mkdir()
    secrets_dir = folder / "secrets"
    write_dev_secrets(secrets_dir, sandbox.config)
    jwks = "jwks = " + inline(dev_idp_jwks(sandbox.config.state_path))
    async with OtlpReceiver() as logboek:
        ldv = f'[ldv]\nendpoint = "{logboek.traces_url}"\nsubject_key = {inline(public_jwk(private))}\n'
        for source in sorted((REPO / "tenants").glob("*.toml")):
            text = re.sub(r"^jwks_uri = .*$", jwks, source.read_text(), flags=re.MULTILINE)
            text = text.replace("file:.state/secrets/", f"file:{secrets_dir}/")
            if source.stem == "amsterdam":
                text = text.replace("[ldv]\n", ldv, 1)
            (folder / source.name).write_text(text)
        await apply(url, load_tenant_files(folder), prune=False, dry_run=False)
        yield Dev(url, logboek, private)


@pytest.fixture
async def gateway(
    dev: Dev, settings: Settings, sandbox: SandboxThread, sandbox_control: SandboxControl
) -> AsyncIterator[httpx.AsyncClient]:
    sandbox_control.reset()
    own = msgspec.structs.replace(
        settings,
        database_url=with_user(dev.url, "brp_app"),
        database_owner_url=dev.url,
        ldv_delivery_interval_seconds=0.05,
    )
    app = create_app(sandbox_settings(own, sandbox.pki, sandbox.base_url))
    async with ServerTask(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        # The worker has seen amsterdam's endpoint (its cursor exists) before any request.
        await app.state.ldv_delivery.deliver_once()
        client.app = app  # type: ignore[attr-defined]
        yield client


def _amsterdam(sandbox: SandboxThread, traceparent: str) -> dict[str, str]:
    token = dev_token(sandbox, "amsterdam", employee="E1001", roles=("burgerzaken",))
    return {"Authorization": f"Bearer {token}", "x-doelbinding": "burgerzaken", "traceparent": traceparent}


async def test_a_request_with_a_callers_traceparent_reaches_the_tenants_logboek(
    gateway: httpx.AsyncClient, dev: Dev, sandbox: SandboxThread, tmp_path: Path
) -> None:
    caller_trace, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    body = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [BSN], "fields": ["naam"]}
    response = await gateway.post(
        PERSONEN, json=body, headers=_amsterdam(sandbox, f"00-{caller_trace}-{caller_span}-01")
    )
    assert response.status_code == 200, response.text
    gateway.app.state.ldv_delivery.wake()  # type: ignore[attr-defined]

    (span,) = await dev.logboek.wait_for_spans(1)
    assert span.trace_id == caller_trace
    assert span.parent_span_id == caller_span
    assert span.span_id != caller_span
    assert span.name == "BRP bevraagd: RaadpleegMetBurgerservicenummer (Personen)"
    assert span.status_code == 1  # Ok
    assert span.attributes["dpl.core.foreign_operation.processor"] == AMSTERDAM_APP
    assert span.attributes["dpl.core.processing_activity_id"] == BURGERZAKEN
    assert span.attributes["dpl.core.data_subject_id_type"] == "BSN"
    assert dev.keys.decrypt(span.attributes["dpl.core.data_subject_id"]) == BSN
    assert span.resource["service.name"] == "brp-broker"

    # The protocol store gives the same line (same ids) to whoever exports it.
    out, now = tmp_path / "amsterdam.ldv.jsonl", dt.datetime.now(dt.UTC)
    day = dt.timedelta(days=1)
    await export(dev.url, "amsterdam", from_=now - day, to=now + day, fmt="ldv", out=out)
    (line,) = [msgspec.json.decode(text, type=LdvRecord) for text in out.read_bytes().splitlines()]
    assert (line.trace_id, line.span_id, line.parent_span_id) == (caller_trace, span.span_id, caller_span)
    assert line.start_time * 1_000_000 == span.start_time_unix_nano
    assert line.end_time * 1_000_000 == span.end_time_unix_nano
    assert dev.keys.decrypt(line.attributes["dpl.core.data_subject_id"]) == BSN
    print(msgspec.json.format(msgspec.json.encode(line), indent=2).decode())  # the README's example


async def test_several_persons_are_a_line_each_under_the_request(
    gateway: httpx.AsyncClient, dev: Dev, sandbox: SandboxThread
) -> None:
    caller_trace, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    body = {
        "type": "RaadpleegMetBurgerservicenummer",
        "burgerservicenummer": [BSN, OTHER_BSN],
        "fields": ["naam"],
    }
    response = await gateway.post(
        PERSONEN, json=body, headers=_amsterdam(sandbox, f"00-{caller_trace}-{caller_span}-01")
    )
    assert response.status_code == 200, response.text
    gateway.app.state.ldv_delivery.wake()  # type: ignore[attr-defined]
    request, *children = await dev.logboek.wait_for_spans(3)
    assert request.parent_span_id == caller_span
    assert "dpl.core.data_subject_id" not in request.attributes
    assert [child.parent_span_id for child in children] == [request.span_id] * 2
    subjects = {dev.keys.decrypt(child.attributes["dpl.core.data_subject_id"]) for child in children}
    assert subjects == {BSN, OTHER_BSN}
    assert all(child.trace_id == caller_trace for child in children)
