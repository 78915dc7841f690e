"""The built wheel is the whole broker: installed on its own, `brp-broker migrate` works.

The wheel is built offline from a copy of the sources (the venv's pinned setuptools, no build
isolation) and installed with `--no-deps` into a fresh venv whose only view of the dependencies is
this venv's site-packages (a `.pth` line); nothing of the checkout is importable there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import asyncpg
import pytest

REPO = Path(__file__).resolve().parents[2]
# What `pip wheel .` reads (the Dockerfile's .dockerignore allows the same).
SOURCES = ("pyproject.toml", "README.md", "app", "migrations")
PIP_OFFLINE = ("--no-deps", "--no-index", "--disable-pip-version-check", "-q")


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the current sources, built offline."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", *PIP_OFFLINE, "--no-build-isolation", "-w", str(out)]
    _run([*pip_wheel, str(source)], cwd=source)
    (built,) = out.glob("brp_broker-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the wheel installed; dependencies come from this venv's site-packages."""
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv)
    python = venv / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=venv)
    (Path(site.stdout.strip()) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([str(python), "-m", "pip", "install", *PIP_OFFLINE, str(wheel)], cwd=venv)
    return venv


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("BROKER_", "PYTHON"))}


def test_wheel_carries_every_module_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {
        p.relative_to(REPO).as_posix() for p in (REPO / "app").rglob("*.py") if "__pycache__" not in p.parts
    }
    assert modules - names == set()
    migrations = {f"app/db/sql/{p.name}" for p in (REPO / "migrations").glob("*.sql")}
    assert migrations and migrations <= names
    specs = {
        "personen-openapi.yaml",
        "bewoning-openapi.yaml",
        "verblijfplaatshistorie-openapi.yaml",
        "ATTRIBUTION.md",
    }
    assert {f"app/brp/specs/{n}" for n in specs} <= names
    catalogue = {f"app/brp/catalogue/{p.name}" for p in (REPO / "app/brp/catalogue").glob("*.csv")}
    assert catalogue and catalogue <= names
    sandbox = {
        "app/sandbox/sandbox.toml",
        "app/sandbox/data/personen.json",
        "app/sandbox/data/bewoning.json",
        "app/sandbox/data/testset-proefomgeving.csv",
    }
    assert sandbox <= names


def test_installed_wheel_runs_from_its_own_files(installed: Path) -> None:
    done = _run(
        [
            str(installed / "bin" / "python"),
            "-c",
            "import app.db.migrations as m; print(m.__file__); print(m.default_migrations_dir())",
        ],
        cwd=installed,
        env=_clean_env(),
    )
    module, migrations = done.stdout.split()
    assert Path(module).is_relative_to(installed)
    assert Path(migrations).is_relative_to(installed)
    assert (Path(migrations) / "0001_roles_and_schema.sql").is_file()


async def test_installed_wheel_migrates_a_fresh_database(installed: Path, new_database) -> None:  # type: ignore[no-untyped-def]
    url = await new_database()
    done = _run(
        [str(installed / "bin" / "brp-broker"), "migrate"],
        cwd=installed,
        env=_clean_env() | {"BROKER_DATABASE_URL": url},
    )
    count = len(list((REPO / "migrations").glob("*.sql")))
    assert f"applied {count} migration(s)" in done.stdout
    connection = await asyncpg.connect(url)
    try:
        applied = await connection.fetchval("SELECT count(*) FROM public.brp_broker_migrations")
        tables = {
            row["tablename"]
            for row in await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'broker'")
        }
    finally:
        await connection.close()
    assert applied == count
    assert {"tenants", "afnemers", "protocol_records", "protocol_persons"} <= tables
