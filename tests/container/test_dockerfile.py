"""The Dockerfile's promises that hold without building it (build_image.sh builds and runs it)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    """The arguments of every `NAME ...` instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.*)$", joined, re.MULTILINE)]


def test_the_image_version_is_the_projects_and_the_charts() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((ROOT / "helm" / "brp-broker" / "Chart.yaml").read_text())["appVersion"]
    assert f"VERSION={project}" in instructions("ARG")
    assert chart == project


def test_the_runtime_stage_runs_brp_broker_serve_as_a_numeric_non_root_user() -> None:
    (user,) = instructions("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 1000 and gid.isdigit()
    assert instructions("ENTRYPOINT") == ['["brp-broker"]']
    assert instructions("CMD") == ['["serve"]']
    # The port the image declares (read from the Dockerfile; nothing here binds it).
    assert instructions("EXPOSE") == ["8080"]
    env = " ".join(instructions("ENV"))
    # `serve` listens on 127.0.0.1 unless told otherwise: unreachable from outside the pod.
    assert "BROKER_HOST=0.0.0.0" in env


def test_production_builds_take_the_official_base_and_local_builds_can_replace_it() -> None:
    assert instructions("ARG")[0] == "BASE_IMAGE=python:3.11-slim-bookworm"
    assert instructions("FROM") == ["${BASE_IMAGE} AS build", "${BASE_IMAGE}"]


def test_the_labels_name_source_version_and_licence() -> None:
    labels = " ".join(instructions("LABEL"))
    for key in ("source", "version", "revision", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert 'org.opencontainers.image.licenses="EUPL-1.2"' in labels


def test_the_build_context_is_an_allow_list() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"
    allowed = {p.removeprefix("!") for p in patterns if p.startswith("!")}
    # Never .state (dev keys), .venv, .git or tests.
    assert allowed == {"pyproject.toml", "README.md", "MANIFEST.in", "LICENSE*", "app/", "migrations/"}


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
