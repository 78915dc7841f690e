"""The Helm chart, rendered by the real helm: what an operator's cluster would receive."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import msgspec
import pytest

from app.settings import Settings, load_settings
from tests.helm.conftest import (
    CHART,
    MINIMAL,
    PRODUCTION,
    RELEASE,
    HelmError,
    Manifest,
    Rendered,
    broker_container,
    env_of,
    job,
)

FULLNAME = f"{RELEASE}-brp-broker"
# Settings the chart sets itself (from Secrets, mounts and its own values), or that only `dev` uses.
CHART_MANAGED_SETTINGS = {
    "host",
    "port",
    "database_url",
    "database_owner_url",
    "redis_url",
    "state_dir",
    "identities",
    "idp_ca_bundle",
    "sandbox_port",
    "sandbox_login_port",
    # From shutdown.drainSeconds; the pause before SIGTERM is the preStop hook; one worker per pod.
    "shutdown_drain_seconds",
    "shutdown_delay_seconds",
    "workers",
    # From `protocol:` (the key's mount, each pod's anchor file, the signer's rhythm).
    "protocol_signing_key_file",
    "protocol_signing_interval_seconds",
    "protocol_signing_heartbeat_seconds",
    "protocol_anchor_file",
}
# A signing key from a Secret, and anchor files on an emptyDir: `--set` pairs.
SIGNING = ["protocol.signing.existingSecret=brp-signing"]
EMPTY_DIR = ["protocol.anchors.storage=emptyDir"]
# Variables whose plain value the chart may render: none of them can hold a secret.
PLAIN_ENV = {
    "BROKER_CONFIG_FILE",
    "BROKER_HOST",
    "BROKER_PORT",
    "BROKER_LOG_LEVEL",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    # Paths and numbers: the signing key itself stays in its Secret's volume.
    "BROKER_PROTOCOL_SIGNING_KEY_FILE",
    "BROKER_PROTOCOL_SIGNING_INTERVAL_SECONDS",
    "BROKER_PROTOCOL_SIGNING_HEARTBEAT_SECONDS",
    "BROKER_PROTOCOL_ANCHOR_FILE",
}


def pod_spec(manifest: Manifest) -> Manifest:
    spec: Manifest = manifest["spec"]["template"]["spec"]
    return spec


def all_pods(rendered: Rendered) -> list[tuple[str, Manifest]]:
    pods = [(m["metadata"]["name"], pod_spec(m)) for m in rendered.all("Deployment") + rendered.all("Job")]
    assert pods
    return pods


def settings_file(rendered: Rendered) -> dict[str, Any]:
    text = rendered.one("ConfigMap", FULLNAME)["data"]["broker.toml"]
    return tomllib.loads(text)


def hook(manifest: Manifest) -> str:
    annotation: str = manifest["metadata"]["annotations"]["helm.sh/hook"]
    return annotation


# --- the pods meet the "restricted" Pod Security Standard -----------------------------------------


@pytest.mark.parametrize("values", [MINIMAL, PRODUCTION], ids=["minimal", "production"])
def test_every_pod_meets_the_restricted_pod_security_standard(
    render: Callable[..., Rendered], values: Path
) -> None:
    for name, pod in all_pods(render(values)):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] >= 1000, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        assert "hostNetwork" not in pod and "hostPID" not in pod, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["runAsNonRoot"] is True, name
            assert "privileged" not in context, name
        # The only writable path is a size-limited emptyDir on /tmp.
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["tmp"]["emptyDir"]["sizeLimit"]
        assert {"name": "tmp", "mountPath": "/tmp"} in pod["containers"][0]["volumeMounts"]
        for volume in volumes.values():
            assert "hostPath" not in volume, name


def test_the_service_account_carries_no_token(minimal: Rendered) -> None:
    account = minimal.one("ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert pod_spec(minimal.one("Deployment"))["serviceAccountName"] == account["metadata"]["name"]


# --- probes and shutdown ----------------------------------------------------------------------------


def test_probes_ask_the_health_endpoints_on_the_named_port(minimal: Rendered) -> None:
    broker = broker_container(minimal)
    # The port inside the pod, as the rendered manifest declares it; nothing here binds it.
    assert broker["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert env_of(broker)["BROKER_PORT"]["value"] == "8080"
    assert broker["startupProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert broker["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert broker["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    # The readiness answer waits up to ready_timeout per check: the probe must wait longer.
    assert broker["readinessProbe"]["timeoutSeconds"] > settings_file(minimal)["ready_timeout"]
    assert broker["resources"]["requests"] and broker["resources"]["limits"]["memory"]


def test_the_grace_period_outlasts_the_pre_stop_pause_and_the_drain(minimal: Rendered) -> None:
    pod = pod_spec(minimal.one("Deployment"))
    pause = broker_container(minimal)["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > pause + 25


def test_the_broker_drains_for_shutdown_drain_seconds_right_after_the_pre_stop_pause(
    render: Callable[..., Rendered],
) -> None:
    settings = settings_file(render(MINIMAL, set_values=["shutdown.drainSeconds=12"]))
    assert settings["shutdown_drain_seconds"] == 12
    assert "shutdown_delay_seconds" not in settings  # 0: the preStop pause already took the time
    assert "workers" not in settings  # 1 per pod


def test_a_grace_period_shorter_than_the_drain_fails_the_render(render: Callable[..., Rendered]) -> None:
    with pytest.raises(HelmError, match=r"terminationGracePeriodSeconds \(20\) must exceed"):
        render(MINIMAL, set_values=["terminationGracePeriodSeconds=20"])


def test_a_readiness_probe_shorter_than_the_ready_timeout_fails_the_render(
    render: Callable[..., Rendered],
) -> None:
    with pytest.raises(HelmError, match=r"readinessProbe.timeoutSeconds \(2\) must exceed"):
        render(MINIMAL, set_values=["readinessProbe.timeoutSeconds=2"])


def test_clusters_before_1_30_pause_with_an_exec_sleep(render: Callable[..., Rendered]) -> None:
    old = render(MINIMAL, kube_version="1.29.0")
    assert broker_container(old)["lifecycle"]["preStop"] == {"exec": {"command": ["sleep", "5"]}}


# --- the settings file ------------------------------------------------------------------------------


def test_the_settings_file_is_accepted_by_the_broker(production: Rendered, tmp_path: Path) -> None:
    config = tmp_path / "broker.toml"
    config.write_text(production.one("ConfigMap", FULLNAME)["data"]["broker.toml"])
    plain = {
        name: entry["value"]
        for name, entry in env_of(broker_container(production)).items()
        if "value" in entry
    }
    environ = {
        **plain,
        "BROKER_CONFIG_FILE": str(config),
        "BROKER_DATABASE_URL": "postgresql://brp_app@db/brp",
    }
    settings = load_settings(environ)
    assert settings.host == "0.0.0.0"
    assert settings.database_pool_max == 30
    assert settings.ratelimit_tenant_rate == 50.0
    assert settings.ratelimit_replicas == 10  # autoscaling.maxReplicas: the strictest fallback share
    assert settings.idp_identity == "supplier"
    assert settings.environments["proef"].read_timeout == 20.0
    assert [(i.name, i.oin, i.expiry_warning_days) for i in settings.identities] == [
        ("supplier", "00000001234567890000", 30),
        ("samenwerkingsverband", "00000009876543210000", 45),
    ]
    assert settings.protocol_signing_key_file == Path("/var/run/secrets/brp/protocol-signing/signing.jwk")
    assert (settings.protocol_signing_interval_seconds, settings.protocol_signing_heartbeat_seconds) == (
        60.0,
        1800.0,
    )
    # Kubernetes puts the pod's name in place of $(POD_NAME): one file per replica.
    assert settings.protocol_anchor_file == Path("/var/lib/brp-broker/anchors/$(POD_NAME).jsonl")
    assert (settings.ldv_delivery_batch, settings.ldv_delivery_max_backoff_seconds) == (500, 600.0)


def test_whole_numbers_are_written_as_integers(production: Rendered) -> None:
    text = production.one("ConfigMap", FULLNAME)["data"]["broker.toml"]
    assert "database_pool_max = 30\n" in text
    assert "ratelimit_replicas = 10\n" in text
    assert "refresh_at_fraction = 0.75\n" in text


def test_each_identity_file_lies_in_a_mount_of_that_identitys_secret(production: Rendered) -> None:
    pod = pod_spec(production.one("Deployment"))
    mounts = {m["name"]: m for m in broker_container(production)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    secrets = {"supplier": "brp-oin-supplier", "samenwerkingsverband": "brp-oin-samenwerkingsverband"}
    for identity in settings_file(production)["identities"]:
        name = identity["name"]
        for setting in ("certificate", "private_key"):
            path = PurePosixPath(identity[setting])
            mount = mounts[f"identity-{name}"]
            assert mount["readOnly"] is True
            assert path.parent == PurePosixPath(mount["mountPath"])
            volume = volumes[f"identity-{name}"]["secret"]
            assert volume["secretName"] == secrets[name]
            assert {"key": path.name, "path": path.name} in volume["items"]
            # Readable by the broker's group only.
            assert volume["defaultMode"] == 0o440
        ca = PurePosixPath(identity["ca_bundle"])
        assert PurePosixPath(mounts[f"identity-{name}-ca"]["mountPath"]) == ca.parent
        assert volumes[f"identity-{name}-ca"]["configMap"]["name"] == "pkioverheid-private-root"
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]


def test_client_secrets_are_mounted_where_tenant_files_point(production: Rendered) -> None:
    tenant = tomllib.loads(production.one("ConfigMap", f"{FULLNAME}-tenants")["data"]["amsterdam.toml"])
    reference = tenant["afnemers"]["000101"]["client_secret"]
    path = PurePosixPath(reference.removeprefix("file:"))
    mounts = {m["mountPath"]: m for m in broker_container(production)["volumeMounts"]}
    assert str(path.parent) in mounts


def test_a_changed_setting_rolls_the_pods_and_nothing_else_does(render: Callable[..., Rendered]) -> None:
    def checksum(rendered: Rendered) -> str:
        value: str = rendered.one("Deployment")["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"
        ]
        return value

    base = checksum(render(MINIMAL))
    assert checksum(render(MINIMAL, set_values=["settings.log_level=debug"])) != base
    # The replicas set the rate-limit fallback share, which is a setting.
    assert checksum(render(MINIMAL, set_values=["replicaCount=3"])) != base
    assert checksum(render(MINIMAL, set_values=["service.port=8081"])) == base


# --- secrets only by reference ----------------------------------------------------------------------


@pytest.mark.parametrize("values", [MINIMAL, PRODUCTION], ids=["minimal", "production"])
def test_no_secret_value_is_ever_rendered(render: Callable[..., Rendered], values: Path) -> None:
    rendered = render(values)
    assert not rendered.all("Secret")
    for marker in ("postgresql://", "postgres://", "redis://", "rediss://", "PRIVATE KEY", "enc:v1:"):
        assert marker not in rendered.text
    for name, pod in all_pods(rendered):
        for container in pod["containers"]:
            for variable, entry in env_of(container).items():
                if variable in PLAIN_ENV or variable == "POD_NAME":
                    continue
                assert set(entry) == {"name", "valueFrom"}, f"{name}: {variable} has a plain value"
                assert "secretKeyRef" in entry["valueFrom"], f"{name}: {variable}"


def test_only_the_hook_jobs_get_the_owner_url(production: Rendered) -> None:
    broker = env_of(broker_container(production))
    assert broker["BROKER_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "brp-broker-database",
        "key": "database-url",
    }
    assert broker["BROKER_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "brp-broker-redis",
        "key": "redis-url",
    }
    assert broker["BROKER_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "brp-broker-secret-key"
    assert "BROKER_DATABASE_OWNER_URL" not in broker
    for component in ("migrate", "tenants"):
        variables = env_of(pod_spec(job(production, component))["containers"][0])
        assert variables["BROKER_DATABASE_OWNER_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "brp-broker-database",
            "key": "database-owner-url",
        }
        assert "BROKER_DATABASE_URL" not in variables
        assert "BROKER_REDIS_URL" not in variables


def test_minimal_release_has_no_redis_and_no_secret_key(minimal: Rendered) -> None:
    broker = env_of(broker_container(minimal))
    assert set(broker) == {"BROKER_CONFIG_FILE", "BROKER_HOST", "BROKER_PORT", "BROKER_DATABASE_URL"}


# --- hooks: migrations before, tenants after --------------------------------------------------------


def test_migrations_run_before_install_and_upgrade_with_nothing_the_release_creates(
    minimal: Rendered,
) -> None:
    migrate = job(minimal, "migrate")
    assert hook(migrate) == "pre-install,pre-upgrade"
    assert "hook-succeeded" in migrate["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    pod = pod_spec(migrate)
    assert pod["containers"][0]["args"] == ["migrate"]
    assert pod["restartPolicy"] == "Never"
    # At pre-install the release's ConfigMap and ServiceAccount do not exist yet.
    assert "serviceAccountName" not in pod
    assert {v["name"] for v in pod["volumes"]} == {"tmp"}
    assert migrate["spec"]["backoffLimit"] >= 1
    assert migrate["spec"]["activeDeadlineSeconds"] > 0


def test_without_tenant_files_no_tenants_job_runs(minimal: Rendered) -> None:
    assert not minimal.has("Job", f"{FULLNAME}-tenants")
    assert not minimal.has("ConfigMap", f"{FULLNAME}-tenants")


def test_tenant_files_are_applied_after_install_and_upgrade(production: Rendered) -> None:
    tenants = job(production, "tenants")
    assert hook(tenants) == "post-install,post-upgrade"
    pod = pod_spec(tenants)
    assert pod["containers"][0]["args"] == ["tenants", "apply", "/tenants", "--prune"]
    assert {"name": "tenants", "mountPath": "/tenants", "readOnly": True} in pod["containers"][0][
        "volumeMounts"
    ]
    volume = next(v for v in pod["volumes"] if v["name"] == "tenants")
    assert volume["configMap"]["name"] == f"{FULLNAME}-tenants"
    assert "amsterdam.toml" in production.one("ConfigMap", f"{FULLNAME}-tenants")["data"]


def test_an_existing_tenants_config_map_is_applied_as_it_is(render: Callable[..., Rendered]) -> None:
    rendered = render(MINIMAL, set_values=["tenants.existingConfigMap=our-tenants"])
    volume = next(v for v in pod_spec(job(rendered, "tenants"))["volumes"] if v["name"] == "tenants")
    assert volume["configMap"]["name"] == "our-tenants"
    assert not rendered.has("ConfigMap", f"{FULLNAME}-tenants")
    assert pod_spec(job(rendered, "tenants"))["containers"][0]["args"] == ["tenants", "apply", "/tenants"]


def test_hook_jobs_are_not_behind_the_service(production: Rendered) -> None:
    selector = production.one("Service")["spec"]["selector"]
    broker_labels = production.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= broker_labels.items()
    for component in ("migrate", "tenants"):
        labels = job(production, component)["spec"]["template"]["metadata"]["labels"]
        assert not selector.items() <= labels.items()


# --- scaling, disruption, exposure -------------------------------------------------------------------


def test_minimal_release_has_fixed_replicas_and_no_optional_objects(minimal: Rendered) -> None:
    assert minimal.one("Deployment")["spec"]["replicas"] == 2
    for kind in ("HorizontalPodAutoscaler", "Ingress", "NetworkPolicy", "ServiceMonitor"):
        assert not minimal.has(kind), kind
    assert minimal.one("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert minimal.one("Service")["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]


def test_production_scales_with_the_autoscaler(production: Rendered) -> None:
    assert "replicas" not in production.one("Deployment")["spec"]
    hpa = production.one("HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": FULLNAME}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    assert hpa["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 65}
    pdb = production.one("PodDisruptionBudget")["spec"]
    assert pdb["minAvailable"] == 2
    assert pdb["selector"]["matchLabels"] == production.one("Deployment")["spec"]["selector"]["matchLabels"]


def test_production_ingress_routes_the_gateway_with_tls(production: Rendered) -> None:
    ingress = production.one("Ingress")["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [{"secretName": "brp-example-nl-tls", "hosts": ["brp.example.nl"]}]
    (rule,) = ingress["rules"]
    assert rule["host"] == "brp.example.nl"
    assert rule["http"]["paths"] == [
        {
            "path": "/haalcentraal",
            "pathType": "Prefix",
            "backend": {"service": {"name": FULLNAME, "port": {"name": "http"}}},
        }
    ]


def test_service_monitor_scrapes_metrics_of_the_broker_service(production: Rendered) -> None:
    monitor = production.one("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items()
        <= production.one("Service")["metadata"]["labels"].items()
    )


def test_otlp_export_is_configured_by_the_standard_variables(production: Rendered) -> None:
    variables = env_of(broker_container(production))
    assert variables["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector.observability.svc:4318"
    assert variables["OTEL_SERVICE_NAME"]["value"] == FULLNAME
    assert "k8s.pod.name=$(POD_NAME)" in variables["OTEL_RESOURCE_ATTRIBUTES"]["value"]
    assert variables["OTEL_EXPORTER_OTLP_HEADERS"]["valueFrom"]["secretKeyRef"]["name"] == "brp-broker-otlp"


# --- network policy ---------------------------------------------------------------------------------


def egress_destinations(policy: Manifest) -> list[tuple[str, list[tuple[int, str]]]]:
    """Each egress rule as (its peers as JSON, its ports)."""
    return [
        (
            json.dumps(rule["to"], sort_keys=True),
            [(port["port"], port["protocol"]) for port in rule["ports"]],
        )
        for rule in policy["spec"]["egress"]
    ]


def test_broker_egress_goes_only_to_the_named_destinations(production: Rendered) -> None:
    policy = production.one("NetworkPolicy", FULLNAME)
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    for rule in policy["spec"]["egress"]:
        assert rule.get("to"), "an egress rule without peers would allow every destination"
        assert rule.get("ports"), "an egress rule without ports would allow every port"
    rules = egress_destinations(policy)
    cidrs = {
        peer["ipBlock"]["cidr"]: [p for p, _ in ports]
        for peers, ports in rules
        for peer in json.loads(peers)
        if "ipBlock" in peer
    }
    assert cidrs == {
        "198.51.100.0/28": [443],
        "198.51.100.64/28": [443],
        "192.0.2.10/32": [5432],
        "203.0.113.0/24": [443],
        "203.0.113.128/27": [443],  # the tenants' Logboeks (LDV delivery)
    }
    ports = [ports for _, ports in rules]
    assert [(53, "UDP"), (53, "TCP")] in ports
    assert [(6379, "TCP")] in ports
    assert [(4318, "TCP")] in ports
    assert len(rules) == 7  # DNS, RvIG, PostgreSQL, Redis, identity providers, OTLP, Logboeks


def test_broker_ingress_is_the_port_from_the_named_peers(production: Rendered) -> None:
    (rule,) = production.one("NetworkPolicy", FULLNAME)["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert [p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for p in rule["from"]] == [
        "ingress-nginx",
        "monitoring",
    ]


def test_a_destination_without_peers_gets_no_rule(render: Callable[..., Rendered]) -> None:
    rendered = render(MINIMAL, set_values=["networkPolicy.enabled=true"])
    rules = egress_destinations(rendered.one("NetworkPolicy", FULLNAME))
    assert rules == [
        (
            json.dumps(
                [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                sort_keys=True,
            ),
            [(53, "UDP"), (53, "TCP")],
        )
    ]


def test_hook_jobs_reach_only_dns_and_postgresql(production: Rendered) -> None:
    policy = production.one("NetworkPolicy", f"{FULLNAME}-jobs")
    # Created before the migration Job, which runs before the release's own objects exist.
    assert hook(policy) == "pre-install,pre-upgrade"
    assert int(policy["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job(production, "migrate")["metadata"]["annotations"]["helm.sh/hook-weight"]
    )
    assert "ingress" not in policy["spec"]
    ports = [ports for _, ports in egress_destinations(policy)]
    assert ports == [[(53, "UDP"), (53, "TCP")], [(5432, "TCP")]]
    expressions = {e["key"]: e["values"] for e in policy["spec"]["podSelector"]["matchExpressions"]}
    assert expressions["app.kubernetes.io/component"] == ["migrate", "tenants"]


# --- signed chain heads and anchors ------------------------------------------------------------------


def volumes_of(rendered: Rendered) -> dict[str, Manifest]:
    return {v["name"]: v for v in pod_spec(rendered.one("Deployment"))["volumes"]}


def mounts_of(rendered: Rendered) -> dict[str, Manifest]:
    return {m["name"]: m for m in broker_container(rendered)["volumeMounts"]}


def test_by_default_nothing_is_signed_and_nothing_is_mounted_for_it(minimal: Rendered) -> None:
    assert not [name for name in env_of(broker_container(minimal)) if name.startswith("BROKER_PROTOCOL_")]
    assert not [name for name in volumes_of(minimal) if name.startswith("protocol-")]
    assert not [name for name in mounts_of(minimal) if name.startswith("protocol-")]
    assert "NOTE: chain heads are signed" not in minimal.text


def test_the_signing_key_is_mounted_read_only_from_its_secret_and_named_by_the_setting(
    render: Callable[..., Rendered],
) -> None:
    rendered = render(
        MINIMAL,
        set_values=[*SIGNING, "protocol.signing.key=ed25519.jwk", "protocol.signing.intervalSeconds=30"],
    )
    variables = env_of(broker_container(rendered))
    path = PurePosixPath(variables["BROKER_PROTOCOL_SIGNING_KEY_FILE"]["value"])
    mount = mounts_of(rendered)["protocol-signing-key"]
    assert mount["readOnly"] is True
    assert path.parent == PurePosixPath(mount["mountPath"])
    secret = volumes_of(rendered)["protocol-signing-key"]["secret"]
    assert secret["secretName"] == "brp-signing"
    assert secret["defaultMode"] == 0o400
    assert secret["items"] == [{"key": "ed25519.jwk", "path": path.name}]
    assert variables["BROKER_PROTOCOL_SIGNING_INTERVAL_SECONDS"]["value"] == "30"
    assert variables["BROKER_PROTOCOL_SIGNING_HEARTBEAT_SECONDS"]["value"] == "1800"
    # Owned by root with mode 0400: the kubelet lets the pod's fsGroup read it, the broker's group.
    security = pod_spec(rendered.one("Deployment"))["securityContext"]
    assert security["fsGroup"] == security["runAsGroup"]
    # Only the broker signs: the hook Jobs never see the key.
    assert "protocol-signing-key" not in {v["name"] for v in pod_spec(job(rendered, "migrate"))["volumes"]}
    assert "BROKER_PROTOCOL_ANCHOR_FILE" not in variables  # anchors are a choice of their own


def test_each_replica_appends_to_its_own_anchor_file_on_the_claim(production: Rendered) -> None:
    variables = list(broker_container(production)["env"])
    names = [entry["name"] for entry in variables]
    assert len(names) == len(set(names))  # POD_NAME once, for OTLP and the anchor file alike
    anchor_file = env_of(broker_container(production))["BROKER_PROTOCOL_ANCHOR_FILE"]["value"]
    # Kubernetes expands $(POD_NAME) only when POD_NAME is defined before the variable using it.
    assert anchor_file.endswith("/$(POD_NAME).jsonl")
    assert names.index("POD_NAME") < names.index("BROKER_PROTOCOL_ANCHOR_FILE")
    mount = mounts_of(production)["protocol-anchors"]
    assert PurePosixPath(anchor_file).parent == PurePosixPath(mount["mountPath"])
    assert mount.get("readOnly") is not True
    assert volumes_of(production)["protocol-anchors"] == {
        "name": "protocol-anchors",
        "persistentVolumeClaim": {"claimName": "brp-broker-anchors"},
    }


def test_anchor_files_on_an_empty_dir_are_size_limited_and_the_notes_warn(
    render: Callable[..., Rendered], helm: Callable[..., str]
) -> None:
    values = [*SIGNING, *EMPTY_DIR, "protocol.anchors.sizeLimit=2Gi"]
    rendered = render(MINIMAL, set_values=values)
    assert volumes_of(rendered)["protocol-anchors"]["emptyDir"] == {"sizeLimit": "2Gi"}
    assert "POD_NAME" in env_of(broker_container(rendered))  # no OTLP here: defined for the anchors
    args = [
        "install",
        RELEASE,
        str(CHART),
        "--dry-run=client",
        "--namespace",
        "brp",
        "--values",
        str(MINIMAL),
    ]
    notes = helm(*args, *(arg for pair in values for arg in ("--set", pair)))
    assert "anchor files are on an emptyDir and vanish with their pod" in notes
    assert "NOTE: chain heads are signed with the key in Secret brp-signing" in notes


def test_logboek_egress_is_closed_until_its_addresses_are_listed(render: Callable[..., Rendered]) -> None:
    closed = render(MINIMAL, set_values=["networkPolicy.enabled=true"])
    assert [ports for _, ports in egress_destinations(closed.one("NetworkPolicy", FULLNAME))] == [
        [(53, "UDP"), (53, "TCP")]
    ]
    opened = render(
        MINIMAL,
        set_values=["networkPolicy.enabled=true", "networkPolicy.egress.ldv.cidrs={203.0.113.128/27}"],
    )
    rules = egress_destinations(opened.one("NetworkPolicy", FULLNAME))
    assert rules[-1] == (json.dumps([{"ipBlock": {"cidr": "203.0.113.128/27"}}]), [(443, "TCP")])
    # The hook Jobs never deliver anything: their policy stays DNS and PostgreSQL only.
    jobs = egress_destinations(opened.one("NetworkPolicy", f"{FULLNAME}-jobs"))
    assert all("203.0.113.128/27" not in peers for peers, _ in jobs)


# --- values are checked at install, not at runtime ---------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([], "database/existingSecret"),
        (["settings.database_url=postgresql://u:p@db/x"], "additional properties 'database_url'"),
        (["settings.redis_url=redis://x"], "additional properties 'redis_url'"),
        (["settings.log_level=verbose"], "log_level"),
        (["settings.ratelimit_replicas=0"], "ratelimit_replicas"),
        (["identities[0].name=a", "identities[0].oin=123", "identities[0].existingSecret=s"], "oin"),
        (["settings.idp_identity=nobody"], "names no identity"),
        (["settings.no_such_setting=1"], "no_such_setting"),
        (["telemetry.otlp.protocol=grpc"], "telemetry.otlp.protocol"),
        (["tenants.files.Bad_Name\\.toml=x"], "Bad_Name"),
        (
            ["autoscaling.enabled=true", "autoscaling.minReplicas=5", "autoscaling.maxReplicas=3"],
            "minReplicas",
        ),
        (["protocol.signing.existingSecret=Signing_Key"], "signing/existingSecret"),
        ([*SIGNING, "protocol.signing.key=keys/signing.jwk"], "signing/key"),
        ([*SIGNING, "protocol.signing.intervalSeconds=0"], "signing/intervalSeconds"),
        ([*SIGNING, "protocol.signing.heartbeatSeconds=-5"], "signing/heartbeatSeconds"),
        (
            [*SIGNING, "protocol.signing.heartbeatSeconds=3570"],
            r"heartbeatSeconds \(3630\) must stay under 3600",
        ),
        ([*SIGNING, "podSecurityContext.fsGroup=null"], "podSecurityContext.fsGroup must be set"),
        ([*SIGNING, "protocol.anchors.storage=hostPath"], "anchors/storage"),
        (["protocol.anchors.storage=emptyDir"], "needs protocol.signing.existingSecret"),
        (
            [*SIGNING, "protocol.anchors.storage=persistentVolumeClaim"],
            "needs protocol.anchors.existingClaim",
        ),
        ([*SIGNING, *EMPTY_DIR, "protocol.anchors.existingClaim=anchors"], "choose one"),
        ([*SIGNING, *EMPTY_DIR, "protocol.anchors.sizeLimit=lots"], "anchors/sizeLimit"),
        (["settings.ldv_delivery_batch=5000"], "ldv_delivery_batch"),
        (
            ["settings.protocol_signing_key_file=/key.jwk"],
            "additional properties 'protocol_signing_key_file'",
        ),
        (["networkPolicy.egress.ldv.cidrs[0]=logboek.example.nl"], "ldv/cidrs"),
        (["networkPolicy.egress.ldv.ports[0]=0"], "ldv/ports"),
    ],
    ids=[
        "no-database-secret",
        "database-url-as-value",
        "redis-url-as-value",
        "unknown-log-level",
        "zero-replicas",
        "short-oin",
        "unknown-idp-identity",
        "unknown-setting",
        "otlp-protocol-the-broker-does-not-ship",
        "bad-tenant-file-name",
        "autoscaler-min-above-max",
        "signing-secret-bad-name",
        "signing-key-in-a-folder",
        "signing-interval-zero",
        "signing-heartbeat-negative",
        "signing-rhythm-beyond-verify-limit",
        "signing-key-without-fs-group",
        "anchors-on-host-path",
        "anchors-without-signing-key",
        "anchors-claim-missing",
        "anchors-claim-and-empty-dir",
        "anchors-size-not-a-quantity",
        "ldv-batch-above-1000",
        "signing-key-file-as-setting",
        "ldv-egress-host-name",
        "ldv-egress-port-zero",
    ],
)
def test_a_wrong_value_fails_the_install(
    render: Callable[..., Rendered], values: list[str], message: str
) -> None:
    base = [] if values == [] else [MINIMAL]
    with pytest.raises(HelmError, match=message):
        render(*base, set_values=values)


def test_the_values_schema_knows_every_setting_of_the_broker() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    in_schema = set(schema["properties"]["settings"]["properties"])
    broker = {field.name for field in msgspec.structs.fields(Settings)}
    assert not in_schema & CHART_MANAGED_SETTINGS
    assert in_schema | CHART_MANAGED_SETTINGS == broker, (
        "a setting was added to or removed from app/settings.py: "
        "add it to helm/brp-broker/values.schema.json (settings) or to CHART_MANAGED_SETTINGS"
    )


@pytest.mark.parametrize("values", [MINIMAL, PRODUCTION], ids=["minimal", "production"])
def test_helm_lint_strict_passes(helm: Callable[..., str], values: Path) -> None:
    output = helm("lint", "--strict", str(CHART), "--values", str(values))
    assert "0 chart(s) failed" in output


def test_notes_tell_how_to_check_readiness(helm: Callable[..., str]) -> None:
    notes = helm(
        "install", RELEASE, str(CHART), "--dry-run=client", "--namespace", "brp", "--values", str(MINIMAL)
    )
    assert f"rollout status deployment/{FULLNAME}" in notes
    assert "/health/ready" in notes
    assert f"port-forward service/{FULLNAME} 8080:80" in notes
