"""Service writes: keep allocated values and drop fields the new type cannot have.

This is the part of upstream's Service strategy that runs before validation
(``PrepareForUpdate``'s ``patchAllocatedValues`` and ``dropTypeDependentFields``).
Without it a plain ``kubectl apply`` of a Service that never mentioned its
``clusterIP`` or ``nodePort`` would look like an attempt to clear them, and
switching ``type: NodePort`` back to ``ClusterIP`` would fail on the node
ports the server itself allocated. Only values the client left as they were
are touched; a value the client changed is left for validation to judge.
"""

from __future__ import annotations

from typing import Any

NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def admit_service(svc: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = svc.setdefault("spec", {})
    _normalize_cluster_ips(spec)
    if old is None:
        return
    old_spec = old.get("spec") or {}
    _patch_allocated(spec, old_spec)
    _drop_type_dependent(spec, old_spec)


def _normalize_cluster_ips(spec: dict[str, Any]) -> None:
    """``clusterIP`` and ``clusterIPs[0]`` always agree; fill whichever is missing."""
    ips = spec.get("clusterIPs") or []
    if spec.get("clusterIP") and not ips:
        spec["clusterIPs"] = [spec["clusterIP"]]
    elif ips and not spec.get("clusterIP"):
        spec["clusterIP"] = ips[0]


def _patch_allocated(spec: dict[str, Any], old: dict[str, Any]) -> None:
    kind, old_kind = spec.get("type"), old.get("type")
    keeps_ip = kind != "ExternalName" and old_kind != "ExternalName"
    if keeps_ip and not spec.get("clusterIP") and old.get("clusterIP"):
        spec["clusterIP"] = old["clusterIP"]
        spec["clusterIPs"] = list(old.get("clusterIPs") or [old["clusterIP"]])
    if kind in NODE_PORT_TYPES and old_kind in NODE_PORT_TYPES:
        used = _node_ports(old) & _node_ports(spec)
        by_name = {p.get("name", ""): p.get("nodePort") for p in old.get("ports") or []}
        for port in spec.get("ports") or []:
            previous = by_name.get(port.get("name", ""))
            if not port.get("nodePort") and previous and previous not in used:
                port["nodePort"] = previous
    kept_health_check = _needs_health_check(spec) and _needs_health_check(old)
    if kept_health_check and old.get("healthCheckNodePort"):
        spec.setdefault("healthCheckNodePort", old["healthCheckNodePort"])


def _drop_type_dependent(spec: dict[str, Any], old: dict[str, Any]) -> None:
    kind, old_kind = spec.get("type"), old.get("type")
    if kind == "ExternalName" and old_kind != "ExternalName":
        for name in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if spec.get(name) == old.get(name):
                spec.pop(name, None)
        if spec.get("internalTrafficPolicy") == old.get("internalTrafficPolicy"):
            spec.pop("internalTrafficPolicy", None)
    if kind not in NODE_PORT_TYPES and old_kind in NODE_PORT_TYPES:
        if _node_ports(spec) <= _node_ports(old):
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)
        if spec.get("externalTrafficPolicy") == old.get("externalTrafficPolicy"):
            spec.pop("externalTrafficPolicy", None)
    if kind != "LoadBalancer" and old_kind == "LoadBalancer":
        for name in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if spec.get(name) == old.get(name):
                spec.pop(name, None)
    dropped_health_check = not _needs_health_check(spec) and _needs_health_check(old)
    if dropped_health_check and spec.get("healthCheckNodePort") == old.get("healthCheckNodePort"):
        spec.pop("healthCheckNodePort", None)


def _node_ports(spec: dict[str, Any]) -> set[int]:
    return {
        p["nodePort"] for p in spec.get("ports") or [] if isinstance(p, dict) and p.get("nodePort")
    }


def _needs_health_check(spec: dict[str, Any]) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"
