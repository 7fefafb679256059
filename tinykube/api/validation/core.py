"""Validation for the core (``v1``) group, apart from PodSpec and Service details.

Each kind has a create-time validator over the whole object and, where
upstream has extra update rules, an update validator given (new, old). The
metadata checks common to all kinds run in ``validation.validate`` before
these.
"""

from __future__ import annotations

from typing import Any

from tinykube.api import quantity
from tinykube.api.errors import (
    FieldError,
    field_forbidden,
    invalid,
    not_supported,
    required,
)
from tinykube.api.validation import names
from tinykube.api.validation.common import (
    as_dict,
    as_list,
    child,
    immutable,
    index,
    key,
    too_long_bytes,
)
from tinykube.api.validation.events import validate_core_event
from tinykube.api.validation.objectmeta import validate_labels
from tinykube.api.validation.pod import VOLUME_SOURCES, validate_pod_spec, validate_protocol
from tinykube.api.validation.podupdate import validate_pod_spec_update
from tinykube.api.validation.service import validate_service_spec, validate_service_update
from tinykube.api.validation.templates import validate_pod_template, validate_replicated_template

MAX_DATA_SIZE = 1024 * 1024
IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
RECLAIM_POLICIES = ["Delete", "Recycle", "Retain"]
VOLUME_MODES = ["Block", "Filesystem"]
SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def validate_pod(obj: dict[str, Any]) -> list[FieldError]:
    return validate_pod_spec(as_dict(obj.get("spec")), "spec")


def validate_pod_create(obj: dict[str, Any]) -> list[FieldError]:
    """Ephemeral containers come only through their subresource; gated Pods have no node."""
    spec = as_dict(obj.get("spec"))
    errs: list[FieldError] = []
    if spec.get("ephemeralContainers"):
        errs.append(field_forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if spec.get("nodeName") and spec.get("schedulingGates"):
        detail = "cannot be set until all schedulingGates have been cleared"
        errs.append(field_forbidden("spec.nodeName", detail))
    return errs


def validate_pod_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    return validate_pod_spec_update(as_dict(new.get("spec")), as_dict(old.get("spec")))


def validate_service(obj: dict[str, Any]) -> list[FieldError]:
    return validate_service_spec(as_dict(obj.get("spec")))


def validate_service_update_obj(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    return validate_service_update(as_dict(new.get("spec")), as_dict(old.get("spec")))


# ---- ConfigMap and Secret -------------------------------------------------------


def _data_keys(data: dict[str, Any], path: str) -> list[FieldError]:
    return [invalid(key(path, k), k, m) for k in data for m in names.is_config_map_key(k)]


def validate_config_map(obj: dict[str, Any]) -> list[FieldError]:
    data, binary = as_dict(obj.get("data")), as_dict(obj.get("binaryData"))
    errs = _data_keys(data, "data") + _data_keys(binary, "binaryData")
    for k in binary:
        if k in data:
            errs.append(invalid(key("data", k), k, "duplicate of key present in binaryData"))
    size = sum(len(k) + len(str(v)) for k, v in data.items())
    size += sum(len(k) + len(str(v)) * 3 // 4 for k, v in binary.items())
    if size > MAX_DATA_SIZE:
        errs.append(too_long_bytes("", MAX_DATA_SIZE))
    return errs


def validate_immutable_data(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """ConfigMaps and Secrets with ``immutable: true`` never change their data again."""
    errs = []
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            errs.append(field_forbidden("immutable", IMMUTABLE_WHEN_SET))
        for field in ("data", "binaryData"):
            if (new.get(field) or None) != (old.get(field) or None):
                errs.append(field_forbidden(field, IMMUTABLE_WHEN_SET))
    return errs


def validate_secret(obj: dict[str, Any]) -> list[FieldError]:
    data = as_dict(obj.get("data"))
    errs = _data_keys(data, "data")
    kind = obj.get("type") or "Opaque"
    for name in SECRET_REQUIRED_KEYS.get(kind, ()):
        if name not in data:
            errs.append(required(key("data", name)))
    if kind == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        errs += [required(key("data", "username")), required(key("data", "password"))]
    if kind == "kubernetes.io/service-account-token":
        annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
        if not annotations.get("kubernetes.io/service-account.name"):
            errs.append(required(key("metadata.annotations", "kubernetes.io/service-account.name")))
    size = sum(len(k) + len(str(v)) * 3 // 4 for k, v in data.items())
    if size > MAX_DATA_SIZE:
        errs.append(too_long_bytes("data", MAX_DATA_SIZE))
    return errs


def validate_secret_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errs = immutable("type", new.get("type") or "Opaque", old.get("type") or "Opaque")
    return errs + validate_immutable_data(new, old)


# ---- Namespace, Node, ServiceAccount ------------------------------------------------


def validate_namespace(obj: dict[str, Any]) -> list[FieldError]:
    finalizers = as_list(as_dict(obj.get("spec")).get("finalizers"))
    return [
        invalid("spec.finalizers", f, m)
        for f in finalizers
        for m in names.is_qualified_name(str(f))
    ]


def validate_node(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs: list[FieldError] = []
    seen: set[tuple[Any, Any]] = set()
    for i, taint in enumerate(as_list(spec.get("taints"))):
        taint = as_dict(taint)
        path = index("spec.taints", i)
        k = taint.get("key") or ""
        errs += [invalid(child(path, "key"), k, m) for m in names.is_qualified_name(k)]
        value = taint.get("value")
        if value:
            errs += [invalid(child(path, "value"), value, m) for m in names.is_label_value(value)]
        effect = taint.get("effect")
        if not effect:
            errs.append(required(child(path, "effect")))
        elif effect not in TAINT_EFFECTS:
            errs.append(not_supported(child(path, "effect"), effect, TAINT_EFFECTS))
        if (k, effect) in seen:
            detail = "taints must be unique by key and effect pair"
            errs.append(FieldError(path, "Duplicate value", detail, taint, False))
        seen.add((k, effect))
    errs += _resource_list(as_dict(as_dict(obj.get("status")).get("capacity")), "status.capacity")
    errs += _resource_list(
        as_dict(as_dict(obj.get("status")).get("allocatable")), "status.allocatable"
    )
    return errs


def validate_node_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    old_cidrs = as_list(as_dict(old.get("spec")).get("podCIDRs"))
    new_cidrs = as_list(as_dict(new.get("spec")).get("podCIDRs"))
    if old_cidrs and new_cidrs != old_cidrs:
        detail = 'node updates may not change podCIDR except from "" to valid'
        return [field_forbidden("spec.podCIDRs", detail)]
    return []


def _resource_list(resources: dict[str, Any], path: str) -> list[FieldError]:
    errs = []
    for name, value in resources.items():
        try:
            amount = quantity.parse(value)
        except quantity.QuantityError as exc:
            errs.append(invalid(key(path, name), value, str(exc)))
            continue
        if amount.sign() < 0:
            errs.append(invalid(key(path, name), str(amount), "must be greater than or equal to 0"))
    return errs


# ---- Workload-ish kinds in core ---------------------------------------------------


def validate_replication_controller(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs: list[FieldError] = []
    for name in ("replicas", "minReadySeconds"):
        value = spec.get(name)
        if isinstance(value, int) and value < 0:
            errs.append(invalid(child("spec", name), value, "must be greater than or equal to 0"))
    selector = as_dict(spec.get("selector"))
    if not selector:
        errs.append(required("spec.selector"))
    else:
        errs += validate_labels(selector, "spec.selector")
    as_label_selector = {"matchLabels": selector} if selector else None
    errs += validate_replicated_template(spec.get("template"), as_label_selector, "spec.template")
    return errs


def validate_pod_template_kind(obj: dict[str, Any]) -> list[FieldError]:
    return validate_pod_template(as_dict(obj.get("template")), "template")


# ---- Storage -----------------------------------------------------------------------


def validate_persistent_volume(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = _access_modes(spec)
    capacity = as_dict(spec.get("capacity"))
    if "storage" not in capacity:
        errs.append(required("spec.capacity"))
    errs += _resource_list(capacity, "spec.capacity")
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in RECLAIM_POLICIES:
        errs.append(not_supported("spec.persistentVolumeReclaimPolicy", policy, RECLAIM_POLICIES))
    errs += _volume_mode(spec)
    if not any(spec.get(s) is not None for s in (*VOLUME_SOURCES, "local")):
        errs.append(required("spec", "must specify a volume type"))
    return errs


def validate_persistent_volume_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """What backs a volume, its mode and (once set) its node affinity never change."""
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    errs: list[FieldError] = []
    sources = (*VOLUME_SOURCES, "local", "csi")
    if any(new_spec.get(k) != old_spec.get(k) for k in sources):
        errs.append(
            field_forbidden(
                "spec.persistentvolumesource",
                "spec.persistentvolumesource is immutable after creation",
            )
        )
    if new_spec.get("volumeMode") != old_spec.get("volumeMode"):
        errs.append(invalid("volumeMode", new_spec.get("volumeMode"), "field is immutable"))
    if old_spec.get("nodeAffinity") and new_spec.get("nodeAffinity") != old_spec["nodeAffinity"]:
        errs.append(invalid("nodeAffinity", new_spec.get("nodeAffinity"), "field is immutable"))
    return errs


def validate_persistent_volume_claim(obj: dict[str, Any]) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    errs = _access_modes(spec)
    requests = as_dict(as_dict(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        errs.append(required(key("spec.resources", "storage")))
    errs += _resource_list(requests, "spec.resources.requests")
    return errs + _volume_mode(spec)


def validate_persistent_volume_claim_update(
    new: dict[str, Any], old: dict[str, Any]
) -> list[FieldError]:
    new_spec, old_spec = dict(as_dict(new.get("spec"))), dict(as_dict(old.get("spec")))
    if old_spec.get("storageClassName") is None:
        # A claim made before any default class existed may be given one later.
        new_spec.pop("storageClassName", None)
    for spec in (new_spec, old_spec):
        spec.pop("resources", None)
        spec.pop("volumeAttributesClassName", None)
        if not old_spec.get("volumeName"):
            spec.pop("volumeName", None)
    if new_spec != old_spec:
        detail = "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
        return [field_forbidden("spec", detail)]
    return []


def _access_modes(spec: dict[str, Any]) -> list[FieldError]:
    modes = as_list(spec.get("accessModes"))
    if not modes:
        return [required("spec.accessModes", "at least 1 access mode is required")]
    return [
        not_supported("spec.accessModes", m, ACCESS_MODES) for m in modes if m not in ACCESS_MODES
    ]


def _volume_mode(spec: dict[str, Any]) -> list[FieldError]:
    mode = spec.get("volumeMode")
    if mode and mode not in VOLUME_MODES:
        return [not_supported("spec.volumeMode", mode, VOLUME_MODES)]
    return []


# ---- Endpoints, quotas --------------------------------------------------------


def validate_endpoints(obj: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, subset in enumerate(as_list(obj.get("subsets"))):
        spath = index("subsets", i)
        for j, port in enumerate(as_list(as_dict(subset).get("ports"))):
            port = as_dict(port)
            ppath = index(child(spath, "ports"), j)
            errs += [
                invalid(child(ppath, "port"), port.get("port"), m)
                for m in names.is_valid_port_num(port.get("port"))
            ]
            errs += validate_protocol(port.get("protocol"), child(ppath, "protocol"))
    return errs


def validate_resource_quota(obj: dict[str, Any]) -> list[FieldError]:
    return _resource_list(as_dict(as_dict(obj.get("spec")).get("hard")), "spec.hard")


def validate_limit_range(obj: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, item in enumerate(as_list(as_dict(obj.get("spec")).get("limits"))):
        item = as_dict(item)
        path = index("spec.limits", i)
        for field in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            errs += _resource_list(as_dict(item.get(field)), child(path, field))
    return errs


VALIDATORS = {
    "Pod": (validate_pod, validate_pod_update),
    "Service": (validate_service, validate_service_update_obj),
    "ConfigMap": (validate_config_map, validate_immutable_data),
    "Secret": (validate_secret, validate_secret_update),
    "Namespace": (validate_namespace, None),
    "Node": (validate_node, validate_node_update),
    "ReplicationController": (validate_replication_controller, None),
    "PodTemplate": (validate_pod_template_kind, None),
    "PersistentVolume": (validate_persistent_volume, validate_persistent_volume_update),
    "PersistentVolumeClaim": (
        validate_persistent_volume_claim,
        validate_persistent_volume_claim_update,
    ),
    "Endpoints": (validate_endpoints, None),
    "Event": (validate_core_event, None),
    "ResourceQuota": (validate_resource_quota, None),
    "LimitRange": (validate_limit_range, None),
}
