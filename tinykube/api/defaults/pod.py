"""Defaults for a PodSpec, shared by Pods and every workload's pod template.

Upstream applies ``SetDefaults_PodSpec`` and friends wherever a PodSpec
appears, so a Deployment's template reads back with the same
``restartPolicy``, ``dnsPolicy``, probe timings and ``imagePullPolicy`` a bare
Pod gets. ``default_pod_spec`` is that one entry point; ``default_pod`` adds
the Pod-only rules (requests copied from limits, host ports under
hostNetwork).
"""

from __future__ import annotations

from typing import Any

DEFAULT_MODE = 420  # 0644
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
SOURCED_VOLUMES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret",
    "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder",
    "cephfs", "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume",
    "quobyte", "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
    "storageos", "csi", "ephemeral", "image",
)  # fmt: skip


def default_pod(pod: dict[str, Any]) -> None:
    """``SetDefaults_Pod`` plus the PodSpec defaults."""
    spec = pod.setdefault("spec", {})
    for container in _all_containers(spec):
        _requests_from_limits(container)
    if spec.get("hostNetwork"):
        for container in _all_containers(spec):
            for port in container.get("ports") or []:
                if not port.get("hostPort"):
                    port["hostPort"] = port.get("containerPort")
    default_pod_spec(spec)


def default_template(template: dict[str, Any] | None) -> None:
    """Defaults for a workload's ``spec.template`` (requests are copied there too)."""
    if not isinstance(template, dict):
        return
    spec = template.setdefault("spec", {})
    for container in _all_containers(spec):
        _requests_from_limits(container)
    default_pod_spec(spec)


def default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    for container in _all_containers(spec):
        default_container(container)
    for volume in spec.get("volumes") or []:
        default_volume(volume)


def _all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        c
        for field in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(field) or []
        if isinstance(c, dict)
    ]


def _requests_from_limits(container: dict[str, Any]) -> None:
    resources = container.get("resources")
    if not isinstance(resources, dict) or not resources.get("limits"):
        return
    requests = resources.setdefault("requests", {})
    for name, value in resources["limits"].items():
        requests.setdefault(name, value)


def default_container(container: dict[str, Any]) -> None:
    if container.get("image") and not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = image_pull_policy(container["image"])
    container.setdefault("terminationMessagePath", TERMINATION_MESSAGE_PATH)
    container.setdefault("terminationMessagePolicy", "File")
    if container.get("resources") is None:
        container["resources"] = {}
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for env in container.get("env") or []:
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(probe), dict):
            default_probe(container[probe])
    for hook in ("postStart", "preStop"):
        handler = (container.get("lifecycle") or {}).get(hook)
        if isinstance(handler, dict):
            _default_http_get(handler)


def image_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or an untagged image without a digest, else ``IfNotPresent``."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def default_probe(probe: dict[str, Any]) -> None:
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    _default_http_get(probe)
    grpc = probe.get("grpc")
    if isinstance(grpc, dict):
        grpc.setdefault("service", "")


def _default_http_get(handler: dict[str, Any]) -> None:
    http = handler.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def default_volume(volume: dict[str, Any]) -> None:
    if not any(volume.get(source) is not None for source in SOURCED_VOLUMES):
        volume["emptyDir"] = {}
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(volume.get(source), dict):
            volume[source].setdefault("defaultMode", DEFAULT_MODE)
    if isinstance(volume.get("hostPath"), dict):
        volume["hostPath"].setdefault("type", "")
    for item in (volume.get("downwardAPI") or {}).get("items") or []:
        _default_field_ref(item)
    for source in (volume.get("projected") or {}).get("sources") or []:
        for item in (source.get("downwardAPI") or {}).get("items") or []:
            _default_field_ref(item)
        token = source.get("serviceAccountToken")
        if isinstance(token, dict):
            token.setdefault("expirationSeconds", 3600)
    if isinstance(volume.get("iscsi"), dict):
        volume["iscsi"].setdefault("iscsiInterface", "default")


def _default_field_ref(item: dict[str, Any]) -> None:
    field_ref = item.get("fieldRef")
    if isinstance(field_ref, dict):
        field_ref.setdefault("apiVersion", "v1")
