"""Printers for the core (``v1``) kinds other than Pods, Events and volumes.

Services, Nodes and Endpoints carry the only non-trivial cell logic here:
EXTERNAL-IP depends on the Service type (``<pending>`` for a LoadBalancer
without ingress), PORT(S) shows node ports as ``80:30080/TCP``, a Node's STATUS
is its Ready condition plus ``SchedulingDisabled``, and ROLES come from the
``node-role.kubernetes.io/<role>`` and ``kubernetes.io/role`` labels.
"""

from __future__ import annotations

from datetime import datetime

from tinykube.api.tables._common import (
    AGE,
    NAME,
    NONE,
    Cells,
    Obj,
    Printer,
    age_of,
    col,
    container_cells,
    dig,
    labels_text,
    name_of,
)

_ROLE_PREFIX = "node-role.kubernetes.io/"
_ROLE_LABEL = "kubernetes.io/role"
_MAX_ENDPOINTS = 3


# ---- Service -------------------------------------------------------------------


def _ingress_points(status: Obj | None) -> list[str]:
    """Sorted, de-duplicated load-balancer ingress IPs (or hostnames when no IP)."""
    found = set()
    for point in dig(status, "loadBalancer", "ingress", default=[]):
        value = point.get("ip") or point.get("hostname")
        if value:
            found.add(str(value))
    return sorted(found)


def service_external_ip(svc: Obj) -> str:
    kind = dig(svc, "spec", "type", default="")
    external = [str(ip) for ip in dig(svc, "spec", "externalIPs", default=[])]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "LoadBalancer":
        points = _ingress_points(svc.get("status"))
        return ",".join(points + external) or "<pending>"
    if kind == "ExternalName":
        return str(dig(svc, "spec", "externalName", default=""))
    return "<unknown>"


def service_ports(svc: Obj) -> str:
    pieces = []
    for port in dig(svc, "spec", "ports", default=[]):
        protocol = port.get("protocol", "TCP")
        if port.get("nodePort"):
            pieces.append(f"{port.get('port', 0)}:{port['nodePort']}/{protocol}")
        else:
            pieces.append(f"{port.get('port', 0)}/{protocol}")
    return ",".join(pieces) or NONE


def _cluster_ip(svc: Obj) -> str:
    ip = dig(svc, "spec", "clusterIPs", 0) or dig(svc, "spec", "clusterIP")
    return str(ip) if ip else NONE


def service_cells(svc: Obj, now: datetime) -> Cells:
    return [
        name_of(svc),
        dig(svc, "spec", "type", default=""),
        _cluster_ip(svc),
        service_external_ip(svc),
        service_ports(svc),
        age_of(svc, now),
        labels_text(dig(svc, "spec", "selector")),
    ]


SERVICE = Printer(
    (
        NAME,
        col("Type", "How the service is exposed (ClusterIP, NodePort, ...)."),
        col("Cluster-IP", "The virtual IP inside the cluster."),
        col("External-IP", "Addresses reachable from outside the cluster."),
        col("Port(s)", "Service ports, with node ports where allocated."),
        AGE,
        col("Selector", "Labels of the pods that back the service.", priority=1),
    ),
    service_cells,
)


# ---- Node ------------------------------------------------------------------------


def node_status(node: Obj) -> str:
    ready = None
    for cond in dig(node, "status", "conditions", default=[]):
        if cond.get("type") == "Ready":
            ready = cond  # the last Ready condition wins, as in a map
    parts = (
        ["Unknown"] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    )
    if dig(node, "spec", "unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def node_roles(node: Obj) -> str:
    roles = set()
    for key, value in (dig(node, "metadata", "labels", default={})).items():
        if key.startswith(_ROLE_PREFIX) and key[len(_ROLE_PREFIX) :]:
            roles.add(key[len(_ROLE_PREFIX) :])
        elif key == _ROLE_LABEL and value:
            roles.add(value)
    return ",".join(sorted(roles)) or NONE


def _node_address(node: Obj, kind: str) -> str:
    for address in dig(node, "status", "addresses", default=[]):
        if address.get("type") == kind:
            return str(address.get("address", ""))
    return NONE


def node_cells(node: Obj, now: datetime) -> Cells:
    info = dig(node, "status", "nodeInfo", default={})
    return [
        name_of(node),
        node_status(node),
        node_roles(node),
        age_of(node, now),
        info.get("kubeletVersion", ""),
        _node_address(node, "InternalIP"),
        _node_address(node, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


NODE = Printer(
    (
        NAME,
        col("Status", "Readiness of the node, and whether it takes new pods."),
        col("Roles", "Roles from the node-role labels."),
        AGE,
        col("Version", "The kubelet version."),
        col("Internal-IP", "The first InternalIP address.", priority=1),
        col("External-IP", "The first ExternalIP address.", priority=1),
        col("OS-Image", "The operating system image.", priority=1),
        col("Kernel-Version", "The kernel version.", priority=1),
        col("Container-Runtime", "The container runtime and its version.", priority=1),
    ),
    node_cells,
)


# ---- Endpoints -----------------------------------------------------------------------


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def endpoints_text(ep: Obj) -> str:
    subsets = ep.get("subsets") or []
    if not subsets:
        return NONE
    shown: list[str] = []
    total = 0
    for subset in subsets:
        ips = [str(a.get("ip", "")) for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        if not ports:  # headless services may list bare addresses
            total += len(ips)
            shown += ips
            continue
        for port in ports:
            total += len(ips)
            shown += [_host_port(ip, int(port.get("port", 0))) for ip in ips]
    text = ",".join(shown[:_MAX_ENDPOINTS])
    if total > _MAX_ENDPOINTS:
        return f"{text} + {total - _MAX_ENDPOINTS} more..."
    return text


ENDPOINTS = Printer(
    (NAME, col("Endpoints", "Up to three ready addresses with their ports."), AGE),
    lambda ep, now: [name_of(ep), endpoints_text(ep), age_of(ep, now)],
)


# ---- small kinds -------------------------------------------------------------------------


NAMESPACE = Printer(
    (NAME, col("Status", "Whether the namespace is Active or Terminating."), AGE),
    lambda ns, now: [name_of(ns), dig(ns, "status", "phase", default=""), age_of(ns, now)],
)

CONFIG_MAP = Printer(
    (NAME, col("Data", "Number of keys in data and binaryData."), AGE),
    lambda cm, now: [
        name_of(cm),
        len(cm.get("data") or {}) + len(cm.get("binaryData") or {}),
        age_of(cm, now),
    ],
)

SECRET = Printer(
    (
        NAME,
        col("Type", "The secret type, such as Opaque or kubernetes.io/tls."),
        col("Data", "Number of keys in data."),
        AGE,
    ),
    lambda s, now: [name_of(s), s.get("type", ""), len(s.get("data") or {}), age_of(s, now)],
)

SERVICE_ACCOUNT = Printer(
    (NAME, col("Secrets", "Number of secrets listed on the account."), AGE),
    lambda sa, now: [name_of(sa), len(sa.get("secrets") or []), age_of(sa, now)],
)


def _pod_template_cells(obj: Obj, now: datetime) -> Cells:
    names, images = container_cells(dig(obj, "template", "spec", "containers"))
    return [name_of(obj), names, images, labels_text(dig(obj, "template", "metadata", "labels"))]


POD_TEMPLATE = Printer(
    (
        NAME,
        col("Containers", "Names of the containers in the template."),
        col("Images", "Images of the containers in the template."),
        col("Pod Labels", "Labels given to pods made from the template."),
    ),
    _pod_template_cells,
)


def _component_cells(obj: Obj, now: datetime) -> Cells:
    status, message, error = "Unknown", "", ""
    for cond in obj.get("conditions") or []:
        if cond.get("type") == "Healthy":
            status = "Healthy" if cond.get("status") == "True" else "Unhealthy"
            message, error = cond.get("message", ""), cond.get("error", "")
            break
    return [name_of(obj), status, message, error]


COMPONENT_STATUS = Printer(
    (
        NAME,
        col("Status", "Status of the component conditions"),
        col("Message", "Message of the component conditions"),
        col("Error", "Error of the component conditions"),
    ),
    _component_cells,
)


def quota_columns(quota: Obj) -> tuple[str, str]:
    """REQUEST and LIMIT: ``name: used/hard`` for each resource of spec.hard, sorted by name.

    The numbers come from the status, so a quota the controller has not
    counted yet shows ``0/0`` (upstream prints the zero Quantity).
    """
    hard = dig(quota, "status", "hard", default={})
    used = dig(quota, "status", "used", default={})
    requests, limits = [], []
    for resource in sorted(dig(quota, "spec", "hard", default={})):
        text = f"{resource}: {used.get(resource, '0')}/{hard.get(resource, '0')}"
        pieces = resource.split(".")
        (limits if len(pieces) > 1 and pieces[0] == "limits" else requests).append(text)
    return ", ".join(requests), ", ".join(limits)


def _quota_cells(quota: Obj, now: datetime) -> Cells:
    request, limit = quota_columns(quota)
    return [name_of(quota), age_of(quota, now), request, limit]


RESOURCE_QUOTA = Printer(
    (
        NAME,
        AGE,
        col(
            "Request",
            "Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        col(
            "Limit",
            "Limits control the maximum amount of cpu/memory that a container may use "
            "independent of contention on the node.",
        ),
    ),
    _quota_cells,
)

PRINTERS = {
    ("", "Service"): SERVICE,
    ("", "Node"): NODE,
    ("", "Endpoints"): ENDPOINTS,
    ("", "Namespace"): NAMESPACE,
    ("", "ConfigMap"): CONFIG_MAP,
    ("", "Secret"): SECRET,
    ("", "ServiceAccount"): SERVICE_ACCOUNT,
    ("", "PodTemplate"): POD_TEMPLATE,
    ("", "ComponentStatus"): COMPONENT_STATUS,
    ("", "ResourceQuota"): RESOURCE_QUOTA,
}
