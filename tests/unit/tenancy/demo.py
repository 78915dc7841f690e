"""The demo tenants of `tenants/`, ready for tests: secrets pointed at a test variable."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path

import msgspec

from app.secrets import SecretKey
from app.tenancy import DirectorySnapshot, PolicyCache, TenantSpec, build_tenant, load_tenant_files

REPO = Path(__file__).resolve().parents[3]
TENANTS_DIR = REPO / "tenants"
DEV_OIN = "00000001234567890000"
IDENTITIES = {"dev": DEV_OIN}
SECRET_VARIABLE = "TENANCY_TEST_CLIENT_SECRET"
SECRET_VALUE = "test-only-client-secret"


def with_secret(spec: TenantSpec, reference: str) -> TenantSpec:
    """`spec` with every afnemer's client secret replaced by `reference`."""
    afnemers = tuple(msgspec.structs.replace(a, client_secret=reference) for a in spec.afnemers)
    return msgspec.structs.replace(spec, afnemers=afnemers)


def demo_specs() -> dict[str, TenantSpec]:
    """The demo tenants by slug, their secrets read from `SECRET_VARIABLE` (set it in the test)."""
    return {s.slug: with_secret(s, f"env:{SECRET_VARIABLE}") for s in load_tenant_files(TENANTS_DIR)}


def snapshot_of(specs: Iterable[TenantSpec], secret_key: SecretKey | None = None) -> DirectorySnapshot:
    """A directory snapshot of these tenants, as the directory would build it."""
    tenants = [build_tenant(uuid.uuid4(), spec, IDENTITIES, secret_key) for spec in specs]
    return DirectorySnapshot.of(tenants, PolicyCache(), generation=1)
