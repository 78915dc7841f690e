"""A real sandbox for the tests: uvicorn over HTTPS with mTLS in a background thread.

The session's sandbox serves RvIG's converted test set (the shipped `personen.json`; converted
from the CSV on the fly if it has not been generated yet) plus the hand-made persons of
`testpersons.py`, from a temporary data folder; its dev PKI lives in a temporary state folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from app.sandbox.config import SandboxConfig, load_config
from app.sandbox.server import SandboxThread
from tests.integration.sandbox.client import SandboxClient
from tests.integration.sandbox.testpersons import synthetic_bewoning, synthetic_persons

TOKEN_LIFETIME_SECONDS = 60
_DATA = resources.files("app.sandbox") / "data"


def _rvig_persons() -> dict[str, Any]:
    shipped = _DATA / "personen.json"
    if shipped.is_file():
        document: dict[str, Any] = json.loads(shipped.read_text(encoding="utf-8"))
        return document
    # Not generated yet in this checkout: convert RvIG's CSV the way `sandbox convert` does.
    from app.sandbox.data.convert import convert_testset

    converted: dict[str, Any] = convert_testset(Path(str(_DATA / "testset-proefomgeving.csv")))
    return converted


@pytest.fixture(scope="session")
def rvig_persons() -> list[dict[str, Any]]:
    """RvIG's own test persons (records of `personen.json`), without the hand-made ones."""
    persons: list[dict[str, Any]] = _rvig_persons()["personen"]
    return persons


@pytest.fixture(scope="session")
def rvig_bewoning() -> list[dict[str, Any]]:
    """RvIG's Bewoning test data (`bewoning.json`)."""
    records: list[dict[str, Any]] = json.loads((_DATA / "bewoning.json").read_text(encoding="utf-8"))
    return records


@pytest.fixture(scope="session")
def sandbox_data_dir(
    tmp_path_factory: pytest.TempPathFactory,
    rvig_persons: list[dict[str, Any]],
    rvig_bewoning: list[dict[str, Any]],
) -> Path:
    """A data folder with RvIG's persons and Bewoning records plus the hand-made ones."""
    directory = tmp_path_factory.mktemp("sandbox-data")
    personen = {
        "bron": "RvIG testset + tests/integration/sandbox/testpersons.py",
        "personen": rvig_persons + synthetic_persons(),
    }
    (directory / "personen.json").write_text(json.dumps(personen, ensure_ascii=False), encoding="utf-8")
    bewoning = rvig_bewoning + synthetic_bewoning()
    (directory / "bewoning.json").write_text(json.dumps(bewoning, ensure_ascii=False), encoding="utf-8")
    return directory


def sandbox_config_for(state_dir: Path, data_dir: Path) -> SandboxConfig:
    """The packaged `sandbox.toml` on a free port, with a temporary state folder and short tokens."""
    return load_config(
        port=0,
        state_dir=str(state_dir),
        data_dir=str(data_dir),
        token_lifetime_seconds=TOKEN_LIFETIME_SECONDS,
    )


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory, sandbox_data_dir: Path) -> Iterator[SandboxThread]:
    """The session's sandbox, listening on 127.0.0.1 once this fixture returns."""
    config = sandbox_config_for(tmp_path_factory.mktemp("sandbox-state"), sandbox_data_dir)
    with SandboxThread(config) as running:
        yield running


@pytest.fixture(scope="session")
def brp(sandbox: SandboxThread) -> Iterator[SandboxClient]:
    """A client of the session's sandbox with the broker's dev certificate."""
    client = SandboxClient(sandbox)
    yield client
    client.close()
