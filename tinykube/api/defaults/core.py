"""Defaults for the core (``v1``) group.

Each function mirrors the matching upstream ``SetDefaults_<Kind>`` (plus the
few fields Kubernetes fills in its registry strategies, such as a
Namespace's ``kubernetes`` finalizer, and Secret's ``stringData`` folding,
which upstream does while converting to the internal version). They only
fill what is missing; a value the client sent is never overwritten.
"""

from __future__ import annotations

import base64
from typing import Any

from tinykube.api.defaults.pod import default_pod, default_template

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
CLIENT_IP_TIMEOUT = 10800


def default_service(svc: dict[str, Any]) -> None:
    spec = svc.setdefault("spec", {})
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig") or {}
        client_ip = config.get("clientIP") or {}
        client_ip.setdefault("timeoutSeconds", CLIENT_IP_TIMEOUT)
        config["clientIP"] = client_ip
        spec["sessionAffinityConfig"] = config
    spec.setdefault("type", "ClusterIP")
    kind = spec["type"]
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if kind in ("NodePort", "LoadBalancer") or (kind == "ClusterIP" and spec.get("externalIPs")):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if kind != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    _sync_cluster_ips(spec)
    _default_ip_families(spec)


def _sync_cluster_ips(spec: dict[str, Any]) -> None:
    """``clusterIP`` and ``clusterIPs[0]`` always agree (upstream's strategy keeps them so)."""
    if spec.get("type") == "ExternalName":
        return
    ips = spec.get("clusterIPs") or []
    if spec.get("clusterIP") and not ips:
        spec["clusterIPs"] = [spec["clusterIP"]]
    elif ips and not spec.get("clusterIP"):
        spec["clusterIP"] = ips[0]


def _default_ip_families(spec: dict[str, Any]) -> None:
    """A single-stack IPv4 cluster: the families upstream's REST layer fills in."""
    if spec.get("type") == "ExternalName":
        return
    headless = spec.get("clusterIP") == "None" or (spec.get("clusterIPs") or [None])[0] == "None"
    if headless and not spec.get("selector"):
        spec.setdefault("ipFamilyPolicy", "RequireDualStack")
    else:
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    if not spec.get("ipFamilies"):
        spec["ipFamilies"] = ["IPv4"]


def default_namespace(ns: dict[str, Any]) -> None:
    meta = ns.setdefault("metadata", {})
    if meta.get("name"):
        labels = meta.get("labels") or {}
        labels[NAMESPACE_NAME_LABEL] = meta["name"]
        meta["labels"] = labels
    # spec.finalizers gets "kubernetes" on create only (the namespace strategy does
    # it), or finalizing a namespace could never empty the list.
    ns["spec"] = ns.get("spec") or {}


def default_secret(secret: dict[str, Any]) -> None:
    """``type: Opaque``; ``stringData`` is folded into base64 ``data`` and dropped."""
    if not secret.get("type"):
        secret["type"] = "Opaque"
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = secret.get("data") or {}
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        secret["data"] = data


def default_persistent_volume(pv: dict[str, Any]) -> None:
    spec = pv.setdefault("spec", {})
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    host_path = spec.get("hostPath")
    if isinstance(host_path, dict):
        host_path.setdefault("type", "")


def default_persistent_volume_claim(pvc: dict[str, Any]) -> None:
    spec = pvc.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")


def default_replication_controller(rc: dict[str, Any]) -> None:
    """Selector and labels come from the template's labels when unset; one replica."""
    spec = rc.setdefault("spec", {})
    template = spec.get("template")
    template_labels = ((template or {}).get("metadata") or {}).get("labels") or {}
    if template_labels:
        if not spec.get("selector"):
            spec["selector"] = dict(template_labels)
        meta = rc.setdefault("metadata", {})
        if not meta.get("labels"):
            meta["labels"] = dict(template_labels)
    spec.setdefault("replicas", 1)
    spec.setdefault("minReadySeconds", 0)
    default_template(template)


def default_pod_template(pt: dict[str, Any]) -> None:
    default_template(pt.get("template"))


def default_node(node: dict[str, Any]) -> None:
    status = node.get("status")
    if isinstance(status, dict) and status.get("capacity") and not status.get("allocatable"):
        status["allocatable"] = dict(status["capacity"])


def default_endpoints(ep: dict[str, Any]) -> None:
    for subset in ep.get("subsets") or []:
        for port in subset.get("ports") or []:
            port.setdefault("protocol", "TCP")


def default_limit_range(lr: dict[str, Any]) -> None:
    """Container items: ``default`` falls back to ``max``, ``defaultRequest`` to ``default``
    and then to ``min``, name by name (an empty map is not kept, as JSON omits it)."""
    for item in (lr.get("spec") or {}).get("limits") or []:
        if item.get("type") != "Container":
            continue
        default = {**(item.get("max") or {}), **(item.get("default") or {})}
        request = {
            **(item.get("min") or {}),
            **default,
            **(item.get("defaultRequest") or {}),
        }
        for field, value in (("default", default), ("defaultRequest", request)):
            if value:
                item[field] = value


DEFAULTERS = {
    "Pod": default_pod,
    "Service": default_service,
    "Namespace": default_namespace,
    "Secret": default_secret,
    "PersistentVolume": default_persistent_volume,
    "PersistentVolumeClaim": default_persistent_volume_claim,
    "ReplicationController": default_replication_controller,
    "PodTemplate": default_pod_template,
    "Node": default_node,
    "Endpoints": default_endpoints,
    "LimitRange": default_limit_range,
}
