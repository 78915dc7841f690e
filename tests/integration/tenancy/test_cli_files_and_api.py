"""Files and API together, as an operator runs it: `tenants apply [--take-over]` and `tenants export`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from app.db.migrations import OWNER_ROLE
from app.tenancy import store

TENANTS = Path(__file__).resolve().parents[3] / "tenants"


def _run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=base | {"BROKER_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _hand_to_api(url: str, slug: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            await connection.execute(f'SET LOCAL ROLE "{OWNER_ROLE}"')
            await store.scope_to(connection, slug)
            await connection.execute("UPDATE broker.tenants SET managed_by = 'api'")
    finally:
        await connection.close()


async def test_apply_refuses_an_api_managed_tenant_in_one_line_then_export_and_take_over(
    owner_url: str, tmp_path: Path
) -> None:
    assert _run("tenants", "apply", str(TENANTS), url=owner_url).returncode == 0
    await _hand_to_api(owner_url, "amsterdam")

    refused = _run("tenants", "apply", str(TENANTS), url=owner_url)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "brp-broker: tenant 'amsterdam' is managed through the admin API; `tenants apply` does not "
        "overwrite it (nothing was changed; --take-over hands it to the files)"
    )

    exported = _run("tenants", "export", str(tmp_path / "out"), "--tenant", "amsterdam", url=owner_url)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.splitlines() == [
        f"{tmp_path / 'out' / 'amsterdam.toml'} (managed by api)",
        "Exported 1 tenant(s).",
    ]

    taken = _run("tenants", "apply", str(tmp_path / "out"), "--take-over", url=owner_url)
    assert taken.returncode == 0, taken.stderr
    assert taken.stdout.splitlines()[:2] == ["tenant amsterdam:", "  ~ tenant (managed_by)"]
    again = _run("tenants", "apply", str(TENANTS), url=owner_url)
    assert again.stdout.strip() == "No changes: the database matches the tenant files."


def test_export_of_an_unknown_tenant_is_one_line(owner_url: str, tmp_path: Path) -> None:
    done = _run("tenants", "export", str(tmp_path), "--tenant", "nowhere", url=owner_url)
    assert done.returncode == 2
    assert done.stderr.strip() == "brp-broker: --tenant nowhere: no such tenant"
