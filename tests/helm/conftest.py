"""Render the chart with the real `helm` (fetched once, see helm_binary.py) and parse the manifests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.helm_binary import HelmUnavailable, ensure_helm

CHART = Path(__file__).resolve().parents[2] / "helm" / "brp-broker"
MINIMAL = CHART / "ci" / "minimal-values.yaml"
PRODUCTION = CHART / "ci" / "production-values.yaml"
RELEASE = "brp"
NAMESPACE = "brp"

Manifest = dict[str, Any]


class Rendered:
    """The manifests of one `helm template` run, looked up by kind and name."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.manifests: list[Manifest] = [doc for doc in yaml.safe_load_all(text) if doc]

    def all(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> Manifest:
        found = [m for m in self.all(kind) if name is None or m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def has(self, kind: str, name: str | None = None) -> bool:
        return any(name is None or m["metadata"]["name"] == name for m in self.all(kind))


class HelmError(Exception):
    """`helm` refused the chart or the values; the message is helm's."""


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """Run helm with its own empty config/cache folders; raise HelmError on failure."""
    try:
        binary = ensure_helm()
    except HelmUnavailable as exc:
        pytest.skip(f"helm unavailable: {exc}")
    home = tmp_path_factory.mktemp("helm-home")
    env = {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }

    def run(*args: str) -> str:
        result = subprocess.run(
            [str(binary), *args], capture_output=True, text=True, env=env, check=False, timeout=120
        )
        if result.returncode != 0:
            raise HelmError(result.stderr + result.stdout)
        return result.stdout

    yield run


@pytest.fixture(scope="session")
def render(helm: Callable[..., str]) -> Callable[..., Rendered]:
    """`helm template` of the chart with values files and `--set` pairs."""

    def template(*values: Path, set_values: Sequence[str] = (), kube_version: str = "1.35.0") -> Rendered:
        args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", kube_version]
        for path in values:
            args += ["--values", str(path)]
        for pair in set_values:
            args += ["--set", pair]
        return Rendered(helm(*args))

    return template


@pytest.fixture(scope="session")
def minimal(render: Callable[..., Rendered]) -> Rendered:
    return render(MINIMAL)


@pytest.fixture(scope="session")
def production(render: Callable[..., Rendered]) -> Rendered:
    return render(PRODUCTION)


def broker_container(rendered: Rendered) -> Manifest:
    containers: list[Manifest] = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["broker"]
    return containers[0]


def job(rendered: Rendered, component: str) -> Manifest:
    return rendered.one("Job", f"{RELEASE}-brp-broker-{component}")


def env_of(container: Manifest) -> dict[str, Any]:
    """name → the env entry (value or valueFrom) of a container."""
    return {entry["name"]: entry for entry in container.get("env", [])}
