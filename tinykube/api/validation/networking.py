"""Validation for ``networking.k8s.io/v1``: Ingress paths, NetworkPolicy selectors.

The checks kubectl users meet most: every Ingress path has a ``pathType``
and ``Exact``/``Prefix`` paths are absolute; a backend names a service port by
number or name; NetworkPolicy selectors and ports are well formed.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, invalid, not_supported, required
from tinykube.api.validation import names
from tinykube.api.validation.common import as_dict, as_list, child, index
from tinykube.api.validation.pod import validate_protocol
from tinykube.api.validation.selectors import validate_label_selector

PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]
POLICY_TYPES = ["Ingress", "Egress"]


def validate_ingress(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs: list[FieldError] = []
    if spec.get("defaultBackend") is not None:
        errs += _backend(as_dict(spec["defaultBackend"]), "spec.defaultBackend")
    for i, rule in enumerate(as_list(spec.get("rules"))):
        rule = as_dict(rule)
        rpath = index("spec.rules", i)
        host = rule.get("host")
        if host:
            bare = host.removeprefix("*.")
            errs += [
                invalid(child(rpath, "host"), host, m) for m in names.is_dns1123_subdomain(bare)
            ]
        for j, item in enumerate(as_list(as_dict(rule.get("http")).get("paths"))):
            errs += _path(as_dict(item), index(child(rpath, "http.paths"), j))
    return errs


def _path(item: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    kind = item.get("pathType")
    if not kind:
        errs.append(required(child(path, "pathType"), "pathType must be specified"))
    elif kind not in PATH_TYPES:
        errs.append(not_supported(child(path, "pathType"), kind, PATH_TYPES))
    value = item.get("path") or ""
    if kind in ("Exact", "Prefix") and not value.startswith("/"):
        errs.append(invalid(child(path, "path"), value, "must be an absolute path"))
    return errs + _backend(as_dict(item.get("backend")), child(path, "backend"))


def _backend(backend: dict[str, Any], path: str) -> list[FieldError]:
    service = backend.get("service")
    if service is None:
        if backend.get("resource") is None:
            return [invalid(path, "", "must specify a backend")]
        return []
    service = as_dict(service)
    errs: list[FieldError] = []
    name = service.get("name") or ""
    if not name:
        errs.append(required(child(path, "service.name")))
    else:
        errs += [
            invalid(child(path, "service.name"), name, m) for m in names.is_dns1035_label(name)
        ]
    port = as_dict(service.get("port"))
    if port.get("name") and port.get("number"):
        errs.append(
            invalid(
                child(path, "service.port"), port["name"], "cannot set both port name & port number"
            )
        )
    elif port.get("name"):
        errs += [
            invalid(child(path, "service.port.name"), port["name"], m)
            for m in names.is_valid_port_name(port["name"])
        ]
    elif port.get("number") is not None:
        errs += [
            invalid(child(path, "service.port.number"), port["number"], m)
            for m in names.is_valid_port_num(port["number"])
        ]
    else:
        errs.append(required(child(path, "service.port"), "port name or number is required"))
    return errs


def validate_network_policy(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = validate_label_selector(as_dict(spec.get("podSelector")), "spec.podSelector")
    for direction in ("ingress", "egress"):
        for i, rule in enumerate(as_list(spec.get(direction))):
            for j, port in enumerate(as_list(as_dict(rule).get("ports"))):
                port = as_dict(port)
                ppath = index(child(index(f"spec.{direction}", i), "ports"), j)
                if port.get("protocol") is not None:
                    errs += validate_protocol(port["protocol"], child(ppath, "protocol"))
    for i, kind in enumerate(as_list(spec.get("policyTypes"))):
        if kind not in POLICY_TYPES:
            errs.append(not_supported(index("spec.policyTypes", i), kind, POLICY_TYPES))
    return errs


def validate_ingress_class(obj: dict[str, Any]) -> list[FieldError]:
    controller = as_dict(obj.get("spec")).get("controller") or ""
    if not controller:
        return [required("spec.controller")]
    return []


VALIDATORS = {
    "Ingress": (validate_ingress, None),
    "NetworkPolicy": (validate_network_policy, None),
    "IngressClass": (validate_ingress_class, None),
}
