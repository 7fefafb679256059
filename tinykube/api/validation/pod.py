"""PodSpec validation, shared by Pods and every pod template.

The checks users hit in practice, with upstream's paths and words: at least
one container; container, port and volume names well formed and unique; an
image; port numbers in range; supported restart and DNS policies; resource
quantities that parse, are not negative and keep requests within limits;
volume mounts that name a declared volume. What may change on update is in
``podupdate.py``.
"""

from __future__ import annotations

from typing import Any

from tinykube.api import quantity
from tinykube.api.errors import (
    FieldError,
    duplicate,
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
    index,
    invalid_json,
    is_int,
    key,
    nonnegative,
)
from tinykube.api.validation.podephemeral import validate_ephemeral_containers
from tinykube.api.validation.volumes import validate_env_value_from, validate_volume_source

RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
TERMINATION_MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"]
MAX_INT32 = 2**31 - 1
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
MATCH_ALL_NEEDS_EXISTS = (
    'operator must be Exists when `key` is empty, which means "match all values and all keys"'
)
STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret",
    "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder",
    "cephfs", "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume",
    "quobyte", "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
    "storageos", "csi", "ephemeral", "image",
)  # fmt: skip


def validate_pod_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    volumes, errs = _volumes(as_list(spec.get("volumes")), child(path, "volumes"))
    errs += _containers(spec, volumes, path)
    errs += validate_ephemeral_containers(spec, path)
    errs += _policies(spec, path)
    deadline = spec.get("activeDeadlineSeconds")
    if is_int(deadline) and not 1 <= deadline <= MAX_INT32:
        detail = names.inclusive_range_error(1, MAX_INT32)
        errs.append(invalid(child(path, "activeDeadlineSeconds"), deadline, detail))
    errs += _node_selector(as_dict(spec.get("nodeSelector")), child(path, "nodeSelector"))
    errs += _tolerations(as_list(spec.get("tolerations")), child(path, "tolerations"))
    for field in ("serviceAccountName", "nodeName", "priorityClassName"):
        value = spec.get(field)
        if value:
            rule = names.subdomain_name
            errs += [invalid(child(path, field), value, m) for m in rule(value)]
    hostname = spec.get("hostname")
    if hostname:
        errs += [
            invalid(child(path, "hostname"), hostname, m) for m in names.is_dns1123_label(hostname)
        ]
    return errs


def _policies(spec: dict[str, Any], path: str) -> list[FieldError]:
    errs = []
    restart = spec.get("restartPolicy")
    if not restart:
        errs.append(required(child(path, "restartPolicy")))
    elif restart not in RESTART_POLICIES:
        errs.append(not_supported(child(path, "restartPolicy"), restart, RESTART_POLICIES))
    dns = spec.get("dnsPolicy")
    if not dns:
        errs.append(required(child(path, "dnsPolicy")))
    elif dns not in DNS_POLICIES:
        errs.append(not_supported(child(path, "dnsPolicy"), dns, DNS_POLICIES))
    elif dns == "None" and not spec.get("dnsConfig"):
        errs.append(
            required(child(path, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None")
        )
    return errs


def _volumes(volumes: list[Any], path: str) -> tuple[set[str], list[FieldError]]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, volume in enumerate(volumes):
        volume = as_dict(volume)
        vpath = index(path, i)
        name = volume.get("name") or ""
        if not name:
            errs.append(required(child(vpath, "name")))
        else:
            errs += [invalid(child(vpath, "name"), name, m) for m in names.is_dns1123_label(name)]
            if name in seen:
                errs.append(duplicate(child(vpath, "name"), name))
        seen.add(name)
        sources = [s for s in VOLUME_SOURCES if volume.get(s) is not None]
        errs += validate_volume_source(volume, vpath, sources)
    return seen, errs


def _containers(spec: dict[str, Any], volumes: set[str], path: str) -> list[FieldError]:
    containers = as_list(spec.get("containers"))
    errs: list[FieldError] = []
    if not containers:
        errs.append(required(child(path, "containers")))
    seen: set[str] = set()
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(as_list(spec.get(field))):
            cpath = index(child(path, field), i)
            errs += _container(as_dict(container), cpath, volumes, seen, field)
    return errs


def _container(
    c: dict[str, Any], path: str, volumes: set[str], seen: set[str], field: str
) -> list[FieldError]:
    errs: list[FieldError] = []
    name = c.get("name") or ""
    if not name:
        errs.append(required(child(path, "name")))
    else:
        errs += [invalid(child(path, "name"), name, m) for m in names.is_dns1123_label(name)]
        if name in seen:
            errs.append(duplicate(child(path, "name"), name))
    seen.add(name)
    image = c.get("image") or ""
    if not image and field != "ephemeralContainers":
        errs.append(required(child(path, "image")))
    elif image != image.strip():
        errs.append(
            invalid(child(path, "image"), image, "must not have leading or trailing whitespace")
        )
    policy = c.get("imagePullPolicy")
    if policy and policy not in PULL_POLICIES:
        errs.append(not_supported(child(path, "imagePullPolicy"), policy, PULL_POLICIES))
    tmp = c.get("terminationMessagePolicy")
    if tmp and tmp not in TERMINATION_MESSAGE_POLICIES:
        errs.append(
            not_supported(
                child(path, "terminationMessagePolicy"), tmp, TERMINATION_MESSAGE_POLICIES
            )
        )
    errs += _container_ports(as_list(c.get("ports")), child(path, "ports"))
    errs += _env(as_list(c.get("env")), child(path, "env"))
    errs += _volume_mounts(as_list(c.get("volumeMounts")), volumes, child(path, "volumeMounts"))
    errs += validate_resources(as_dict(c.get("resources")), child(path, "resources"))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(c.get(probe), dict) and field != "ephemeralContainers":
            errs += _probe(c[probe], child(path, probe), single_success=probe != "readinessProbe")
    return errs


def _container_ports(ports: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        port = as_dict(port)
        ppath = index(path, i)
        name = port.get("name")
        if name:
            errs += [invalid(child(ppath, "name"), name, m) for m in names.is_valid_port_name(name)]
            if name in seen:
                errs.append(duplicate(child(ppath, "name"), name))
            seen.add(name)
        number = port.get("containerPort")
        if not number:
            errs.append(required(child(ppath, "containerPort")))
        else:
            errs += [
                invalid(child(ppath, "containerPort"), number, m)
                for m in names.is_valid_port_num(number)
            ]
        host = port.get("hostPort")
        if host:
            errs += [
                invalid(child(ppath, "hostPort"), host, m) for m in names.is_valid_port_num(host)
            ]
        errs += validate_protocol(port.get("protocol"), child(ppath, "protocol"))
    return errs


def validate_protocol(protocol: Any, path: str) -> list[FieldError]:
    if not protocol:
        return [required(path)]
    if protocol not in PROTOCOLS:
        return [not_supported(path, protocol, PROTOCOLS)]
    return []


def _env(env: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, var in enumerate(env):
        var = as_dict(var)
        name = var.get("name") or ""
        epath = index(path, i)
        if not name:
            errs.append(required(child(epath, "name")))
        else:
            errs += [invalid(child(epath, "name"), name, m) for m in names.is_env_var_name(name)]
        errs += validate_env_value_from(var, epath)
    return errs


def _volume_mounts(mounts: list[Any], volumes: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    paths: set[str] = set()
    for i, mount in enumerate(mounts):
        mount = as_dict(mount)
        mpath = index(path, i)
        name = mount.get("name") or ""
        if not name:
            errs.append(required(child(mpath, "name")))
        elif name not in volumes:
            errs.append(FieldError(child(mpath, "name"), "Not found", "", name, True))
        mount_path = mount.get("mountPath") or ""
        if not mount_path:
            errs.append(required(child(mpath, "mountPath")))
        elif mount_path in paths:
            errs.append(invalid(child(mpath, "mountPath"), mount_path, "must be unique"))
        paths.add(mount_path)
    return errs


def validate_resources(resources: dict[str, Any], path: str) -> list[FieldError]:
    """Quantities parse, are not negative, and each request is within its limit."""
    errs: list[FieldError] = []
    parsed: dict[str, dict[str, quantity.Quantity]] = {"limits": {}, "requests": {}}
    for kind in ("limits", "requests"):
        for name, value in as_dict(resources.get(kind)).items():
            qpath = key(child(path, kind), name)
            if (
                "/" not in name
                and name not in STANDARD_CONTAINER_RESOURCES
                and not name.startswith("hugepages-")
            ):
                errs.append(invalid(qpath, name, "must be a standard resource for containers"))
                continue
            try:
                amount = quantity.parse(value)
            except quantity.QuantityError as exc:
                errs.append(invalid(qpath, value, str(exc)))
                continue
            if amount.sign() < 0:
                errs.append(invalid(qpath, str(amount), "must be greater than or equal to 0"))
            parsed[kind][name] = amount
    for name, request in parsed["requests"].items():
        limit = parsed["limits"].get(name)
        if limit is not None and request > limit:
            detail = f"must be less than or equal to {name} limit of {limit}"
            errs.append(invalid(key(child(path, "requests"), name), str(request), detail))
    return errs


def _probe(probe: dict[str, Any], path: str, single_success: bool) -> list[FieldError]:
    """Timings are not negative; one handler; liveness/startup succeed after one success."""
    errs: list[FieldError] = []
    success = probe.get("successThreshold")
    if single_success and is_int(success) and success != 1:
        errs.append(invalid(child(path, "successThreshold"), success, "must be 1"))
    for name in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        errs += nonnegative(child(path, name), probe.get(name))
    handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc") if probe.get(h) is not None]
    if not handlers:
        errs.append(required(path, "must specify a handler type"))
    for extra in handlers[1:]:
        errs.append(field_forbidden(child(path, extra), "may not specify more than 1 handler type"))
    return errs


def _node_selector(selector: dict[str, Any], path: str) -> list[FieldError]:
    errs = []
    for k, v in selector.items():
        errs += [invalid(path, k, m) for m in names.is_qualified_name(k)]
        errs += [invalid(path, v, m) for m in names.is_label_value(str(v))]
    return errs


def _tolerations(tolerations: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, toleration in enumerate(tolerations):
        errs += _toleration(as_dict(toleration), index(path, i))
    return errs


def _toleration(tol: dict[str, Any], path: str) -> list[FieldError]:
    """Upstream's ``ValidateTolerations`` for one entry, quirky paths included."""
    errs: list[FieldError] = []
    key, op, value = tol.get("key") or "", tol.get("operator") or "", tol.get("value") or ""
    if key:
        errs += [invalid(child(path, "key"), key, m) for m in names.is_qualified_name(key)]
    elif op != "Exists":
        errs.append(invalid(child(path, "operator"), op, MATCH_ALL_NEEDS_EXISTS))
    effect = tol.get("effect") or ""
    if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
        detail = "effect must be 'NoExecute' when `tolerationSeconds` is set"
        errs.append(invalid(child(path, "effect"), effect, detail))
    if op in ("", "Equal"):
        problems = names.is_label_value(value)
        if problems:
            errs.append(invalid(child(path, "operator"), value, ";".join(problems)))
    elif op == "Exists":
        if value:
            detail = "value must be empty when `operator` is 'Exists'"
            shown = {
                "Key": key,
                "Operator": op,
                "Value": value,
                "Effect": tol.get("effect") or "",
                "TolerationSeconds": tol.get("tolerationSeconds"),
            }  # the internal Toleration type marshals with Go field names
            errs.append(invalid_json(child(path, "operator"), shown, detail))
    else:
        errs.append(not_supported(child(path, "operator"), op, ["Equal", "Exists"]))
    if effect and effect not in TAINT_EFFECTS:
        errs.append(not_supported(child(path, "effect"), effect, TAINT_EFFECTS))
    return errs
