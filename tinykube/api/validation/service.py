"""Service validation: ports, types, cluster IPs and the update rules.

Node port ranges and "already allocated" are the allocator's job
(``apiserver/allocators.py``), as upstream leaves them to the REST layer. On
update an empty ``clusterIP`` means "keep what was allocated" (upstream
copies allocated values into the new object before validating), so only an
explicit different address is an error.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from tinykube.api.errors import (
    FieldError,
    duplicate,
    field_forbidden,
    invalid,
    not_supported,
    required,
)
from tinykube.api.validation import names
from tinykube.api.validation.common import as_dict, as_list, child, index, invalid_json, is_int
from tinykube.api.validation.objectmeta import validate_labels
from tinykube.api.validation.pod import validate_protocol

SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
SESSION_AFFINITIES = ["ClientIP", "None"]
TRAFFIC_POLICIES = ["Cluster", "Local"]
IP_FAMILIES = ["IPv4", "IPv6"]
IP_FAMILY_POLICIES = ["SingleStack", "PreferDualStack", "RequireDualStack"]
VALID_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
KUBELET_PORT = 10250
MAX_CLIENT_IP_TIMEOUT = 86400


def validate_service_spec(spec: dict[str, Any]) -> list[FieldError]:
    kind = spec.get("type")
    errs: list[FieldError] = []
    if not kind:
        errs.append(required("spec.type"))
    elif kind not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", kind, SERVICE_TYPES))
    headless = spec.get("clusterIP") == "None"
    ports = as_list(spec.get("ports"))
    if not ports and not headless and kind != "ExternalName":
        errs.append(required("spec.ports"))
    errs += _ports(ports, kind)
    errs += _by_type(spec, kind, headless)
    errs += _cluster_ips(spec)
    if spec.get("selector") is not None:
        errs += validate_labels(as_dict(spec.get("selector")), "spec.selector")
    errs += _session_affinity(spec)
    errs += _traffic_policies(spec, kind)
    for i, ip in enumerate(as_list(spec.get("externalIPs"))):
        if not _is_ip(ip):
            errs.append(invalid(index("spec.externalIPs", i), ip, VALID_IP))
    return errs


def _ports(ports: list[Any], kind: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    port_names: set[str] = set()
    seen_ports: set[tuple[Any, Any]] = set()
    seen_node_ports: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        port = as_dict(port)
        path = index("spec.ports", i)
        errs += _port(port, path, len(ports) > 1, port_names)
        if (port.get("protocol"), port.get("port")) in seen_ports:
            errs.append(duplicate(path, _internal_port(port)))
        seen_ports.add((port.get("protocol"), port.get("port")))
        node_port = port.get("nodePort")
        if node_port:
            if kind == "ClusterIP":
                errs.append(
                    field_forbidden(
                        child(path, "nodePort"), "may not be used when `type` is 'ClusterIP'"
                    )
                )
            elif (port.get("protocol"), node_port) in seen_node_ports:
                errs.append(duplicate(child(path, "nodePort"), node_port))
            seen_node_ports.add((port.get("protocol"), node_port))
        if kind == "LoadBalancer" and port.get("port") == KUBELET_PORT:
            detail = f"may not expose port {KUBELET_PORT} externally since it is used by kubelet"
            errs.append(invalid(path, KUBELET_PORT, detail))
    return errs


def _internal_port(port: dict[str, Any]) -> dict[str, Any]:
    """The duplicate-port key upstream prints: an internal ServicePort with Go field names."""
    return {
        "Name": "",
        "Protocol": port.get("protocol", ""),
        "AppProtocol": None,
        "Port": port.get("port", 0),
        "TargetPort": 0,
        "NodePort": 0,
    }


def _port(port: dict[str, Any], path: str, require_name: bool, seen: set[str]) -> list[FieldError]:
    errs: list[FieldError] = []
    name = port.get("name") or ""
    if require_name and not name:
        errs.append(required(child(path, "name")))
    elif name:
        errs += [invalid(child(path, "name"), name, m) for m in names.is_dns1123_label(name)]
        if name in seen:
            errs.append(duplicate(child(path, "name"), name))
        seen.add(name)
    number = port.get("port")
    errs += [invalid(child(path, "port"), number, m) for m in names.is_valid_port_num(number)]
    errs += validate_protocol(port.get("protocol"), child(path, "protocol"))
    target = port.get("targetPort")
    if isinstance(target, str):
        errs += [
            invalid(child(path, "targetPort"), target, m) for m in names.is_valid_port_name(target)
        ]
    elif target is not None:
        errs += [
            invalid(child(path, "targetPort"), target, m) for m in names.is_valid_port_num(target)
        ]
    node_port = port.get("nodePort")
    if node_port is not None and not (is_int(node_port) and 0 <= node_port <= 65535):
        errs.append(
            invalid(child(path, "nodePort"), node_port, names.inclusive_range_error(1, 65535))
        )
    return errs


def _by_type(spec: dict[str, Any], kind: Any, headless: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    if kind in ("LoadBalancer", "NodePort") and headless:
        detail = f"may not be set to 'None' for {kind} services"
        errs.append(invalid("spec.clusterIPs[0]", "None", detail))
    if kind == "ExternalName":
        for name in ("clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if spec.get(name):
                errs.append(
                    field_forbidden(f"spec.{name}", "may not be set for ExternalName services")
                )
        cname = (spec.get("externalName") or "").removesuffix(".")
        if not cname:
            errs.append(required("spec.externalName"))
        else:
            errs += [
                invalid("spec.externalName", cname, m) for m in names.is_dns1123_subdomain(cname)
            ]
    if kind != "LoadBalancer":
        for name in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if spec.get(name) is not None:
                detail = "may only be used when `type` is 'LoadBalancer'"
                errs.append(field_forbidden(f"spec.{name}", detail))
        if spec.get("loadBalancerSourceRanges"):
            # Upstream's path really is capitalised here.
            detail = "may only be used when `type` is 'LoadBalancer'"
            errs.append(field_forbidden("spec.LoadBalancerSourceRanges", detail))
    return errs


def _cluster_ips(spec: dict[str, Any]) -> list[FieldError]:
    """``ValidateServiceClusterIPsRelatedFields`` for a single-stack cluster."""
    if spec.get("type") == "ExternalName":
        return []
    errs: list[FieldError] = []
    cluster_ip = spec.get("clusterIP") or ""
    ips = as_list(spec.get("clusterIPs"))
    if cluster_ip and not ips:
        errs.append(required("spec.clusterIPs"))
    elif cluster_ip and ips[0] != cluster_ip:
        errs.append(invalid_json("spec.clusterIPs", ips, "first value must match `clusterIP`"))
    elif not cluster_ip and ips:
        detail = "must be empty when `clusterIP` is not specified"
        errs.append(invalid_json("spec.clusterIPs", ips, detail))
    seen: set[Any] = set()
    for i, family in enumerate(as_list(spec.get("ipFamilies"))):
        if family not in IP_FAMILIES:
            errs.append(not_supported(index("spec.ipFamilies", i), family, IP_FAMILIES))
        if family in seen:
            errs.append(duplicate(index("spec.ipFamilies", i), family))
        seen.add(family)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        errs.append(not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                detail = "'None' must be the first and only value"
                errs.append(invalid_json("spec.clusterIPs", ips, detail))
        elif not _is_ip(ip):
            errs.append(invalid(index("spec.clusterIPs", i), ip, VALID_IP))
    if len(ips) > 2:
        errs.append(invalid_json("spec.clusterIPs", ips, "may only hold up to 2 values"))
    return errs


def _session_affinity(spec: dict[str, Any]) -> list[FieldError]:
    affinity = spec.get("sessionAffinity")
    if not affinity:
        return [required("spec.sessionAffinity")]
    if affinity not in SESSION_AFFINITIES:
        return [not_supported("spec.sessionAffinity", affinity, SESSION_AFFINITIES)]
    config = spec.get("sessionAffinityConfig")
    if affinity == "None" and config is not None:
        return [
            field_forbidden(
                "spec.sessionAffinityConfig", "must not be set when session affinity is None"
            )
        ]
    if affinity == "ClientIP":
        timeout = as_dict(as_dict(config).get("clientIP")).get("timeoutSeconds")
        if is_int(timeout) and not 0 < timeout <= MAX_CLIENT_IP_TIMEOUT:
            path = "spec.sessionAffinityConfig.clientIP.timeoutSeconds"
            return [
                invalid(
                    path, timeout, f"must be greater than 0 and less than {MAX_CLIENT_IP_TIMEOUT}"
                )
            ]
    return []


def _traffic_policies(spec: dict[str, Any], kind: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    external = spec.get("externalTrafficPolicy")
    if not externally_accessible(spec):
        if external:
            detail = "may only be set for externally-accessible services"
            errs.append(invalid("spec.externalTrafficPolicy", external, detail))
    elif not external:
        errs.append(required("spec.externalTrafficPolicy"))
    elif external not in TRAFFIC_POLICIES:
        errs.append(not_supported("spec.externalTrafficPolicy", external, TRAFFIC_POLICIES))
    internal = spec.get("internalTrafficPolicy")
    if internal is None and kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        errs.append(required("spec.internalTrafficPolicy"))
    elif internal is not None and internal not in TRAFFIC_POLICIES:
        errs.append(not_supported("spec.internalTrafficPolicy", internal, TRAFFIC_POLICIES))
    health = spec.get("healthCheckNodePort")
    # A missing port is allocated after validation, so only a wrong one is reported.
    if health and not needs_health_check(spec):
        detail = (
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"
        )
        errs.append(invalid("spec.healthCheckNodePort", health, detail))
    elif health:
        errs += [
            invalid("spec.healthCheckNodePort", health, m) for m in names.is_valid_port_num(health)
        ]
    return errs


def externally_accessible(spec: dict[str, Any]) -> bool:
    kind = spec.get("type")
    return kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(spec.get("externalIPs"))
    )


def needs_health_check(spec: dict[str, Any]) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def validate_service_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Cluster IPs, the health-check port and the load balancer class stay as allocated."""
    errs = _cluster_ips_update(new, old)
    both_check = needs_health_check(new) and needs_health_check(old)
    if both_check and new.get("healthCheckNodePort") != old.get("healthCheckNodePort"):
        errs.append(field_forbidden("spec.healthCheckNodePort", "field is immutable"))
    both_lb = new.get("type") == "LoadBalancer" and old.get("type") == "LoadBalancer"
    if both_lb and new.get("loadBalancerClass") != old.get("loadBalancerClass"):
        detail = "may not change once set"
        errs.append(invalid("spec.loadBalancerClass", new.get("loadBalancerClass"), detail))
    return errs


def _cluster_ips_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    if "ExternalName" in (new.get("type"), old.get("type")):
        return []
    new_ips, old_ips = _ips(new), _ips(old)
    if new_ips == ["None"] and old_ips == ["None"]:
        return []
    changed = "may not change once set"
    if len(new_ips) == len(old_ips):
        return [
            invalid_json(index("spec.clusterIPs", i), new_ips, changed)
            for i, ip in enumerate(old_ips)
            if ip != new_ips[i]
        ]
    if not new_ips:
        return [invalid_json("spec.clusterIPs[0]", None, "primary clusterIP can not be unset")]
    if old_ips and new_ips[0] != old_ips[0]:
        return [invalid_json("spec.clusterIPs[0]", new_ips, changed)]
    return []


def _ips(spec: dict[str, Any]) -> list[Any]:
    ips = as_list(spec.get("clusterIPs"))
    if not ips and spec.get("clusterIP"):
        return [spec["clusterIP"]]
    return ips


def _is_ip(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
