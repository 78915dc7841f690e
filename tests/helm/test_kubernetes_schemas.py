"""Every rendered manifest is valid for the Kubernetes API (kubernetes-validate ships the schemas).

Strict: a property Kubernetes does not know (a typo, a wrong indentation) is an error too. Checked
on the oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and on the one helm targets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import kubernetes_validate
import pytest

from tests.helm.conftest import MINIMAL, PRODUCTION, Rendered

KUBERNETES_VERSIONS = ["1.27.0", "1.35.0"]
# Custom resources: their schemas come with their operators, not with Kubernetes.
CUSTOM_RESOURCES = {"monitoring.coreos.com/v1"}


@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("values", [MINIMAL, PRODUCTION], ids=["minimal", "production"])
def test_rendered_manifests_are_valid_kubernetes_objects(
    render: Callable[..., Rendered], values: Path, kube_version: str
) -> None:
    rendered = render(values, kube_version=kube_version)
    validated = []
    for manifest in rendered.manifests:
        if manifest["apiVersion"] in CUSTOM_RESOURCES:
            continue
        kubernetes_validate.validate(manifest, kube_version, strict=True)
        validated.append(manifest["kind"])
    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount", "Job", "PodDisruptionBudget"} <= set(
        validated
    )
    if values == PRODUCTION:
        assert {"HorizontalPodAutoscaler", "Ingress", "NetworkPolicy"} <= set(validated)


@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
def test_a_signing_key_with_anchor_files_on_an_empty_dir_renders_valid_objects(
    render: Callable[..., Rendered], kube_version: str
) -> None:
    """The production values cover the claim; this covers the other anchor volume."""
    rendered = render(
        MINIMAL,
        set_values=["protocol.signing.existingSecret=brp-signing", "protocol.anchors.storage=emptyDir"],
        kube_version=kube_version,
    )
    for manifest in rendered.manifests:
        kubernetes_validate.validate(manifest, kube_version, strict=True)
    volumes = rendered.one("Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"protocol-signing-key", "protocol-anchors"} <= {volume["name"] for volume in volumes}


def test_a_wrong_manifest_is_refused(render: Callable[..., Rendered]) -> None:
    """The validator is not a no-op: a misplaced field in the Deployment is caught."""
    deployment = render(MINIMAL).one("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["probe"] = {"httpGet": {"path": "/"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)
