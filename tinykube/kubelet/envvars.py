"""A container's environment, resolved exactly as the kubelet resolves it.

Order and precedence follow upstream ``makeEnvironmentVariables``: first the
service variables (``<SVC>_SERVICE_HOST``, docker-link style ``<SVC>_PORT``
...), then ``envFrom`` sources in order (later ones win, invalid names are
skipped), then ``env`` entries in order, each of which may refer to earlier
variables as ``$(NAME)`` (``$$`` escapes). A missing ConfigMap, Secret or key
that is not ``optional`` fails the container with
``CreateContainerConfigError`` and upstream's message.

Everything here is pure: the kubelet fetches the ConfigMaps, Secrets and
Services first and passes them in ``EnvSources``.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from tinykube.api import quantity

Obj = dict[str, Any]

CONFIG_ERROR = "CreateContainerConfigError"
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class EnvError(Exception):
    """A variable could not be resolved; the container waits with ``reason``."""

    reason = CONFIG_ERROR


@dataclass
class EnvSources:
    """What env resolution may read: objects by name in the pod's namespace."""

    configmaps: dict[str, Obj | None] = field(default_factory=dict)
    secrets: dict[str, Obj | None] = field(default_factory=dict)
    services: list[Obj] = field(default_factory=list)
    # The master service (default/kubernetes) is always visible.
    master_service: Obj | None = None
    node_allocatable: dict[str, str] = field(default_factory=dict)


def referenced_objects(container: Obj) -> tuple[set[str], set[str]]:
    """The ConfigMap and Secret names a container's env and envFrom refer to."""
    configmaps: set[str] = set()
    secrets: set[str] = set()
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            configmaps.add(source["configMapRef"].get("name", ""))
        if "secretRef" in source:
            secrets.add(source["secretRef"].get("name", ""))
    for var in container.get("env") or []:
        value_from = var.get("valueFrom") or {}
        if "configMapKeyRef" in value_from:
            configmaps.add(value_from["configMapKeyRef"].get("name", ""))
        if "secretKeyRef" in value_from:
            secrets.add(value_from["secretKeyRef"].get("name", ""))
    return configmaps, secrets


def resolve_env(pod: Obj, container: Obj, sources: EnvSources) -> list[tuple[str, str]]:
    """The container's environment as ordered (name, value) pairs."""
    env: dict[str, str] = {}
    if (pod.get("spec") or {}).get("enableServiceLinks", True):
        env.update(service_env(sources.services))
    if sources.master_service is not None:
        env.update(service_env([sources.master_service]))
    namespace = pod["metadata"].get("namespace", "default")
    for source in container.get("envFrom") or []:
        env.update(_env_from(source, namespace, sources))
    for var in container.get("env") or []:
        name = var["name"]
        if "valueFrom" in var:
            value = _value_from(pod, container, var["valueFrom"], namespace, sources)
            if value is None:
                continue
            env[name] = value
        else:
            env[name] = expand(var.get("value", ""), env)
    return list(env.items())


def expand(text: str, env: dict[str, str]) -> str:
    """``$(VAR)`` expansion as Kubernetes does it: unknown references stay as written."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("$(", i) and (end := text.find(")", i + 2)) >= 0:
            name = text[i + 2 : end]
            out.append(env[name] if name in env else text[i : end + 1])
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _env_from(source: Obj, namespace: str, sources: EnvSources) -> dict[str, str]:
    prefix = source.get("prefix", "")
    if "configMapRef" in source:
        ref, kind, table = source["configMapRef"], "configmap", sources.configmaps
    elif "secretRef" in source:
        ref, kind, table = source["secretRef"], "secret", sources.secrets
    else:
        return {}
    obj = table.get(ref.get("name", ""))
    if obj is None:
        if ref.get("optional"):
            return {}
        raise EnvError(f'{kind} "{ref.get("name", "")}" not found')
    data = _data(obj, kind)
    return {prefix + k: v for k, v in data.items() if _ENV_NAME.match(prefix + k)}


def _data(obj: Obj, kind: str) -> dict[str, str]:
    if kind == "secret":
        return {
            k: base64.b64decode(v).decode(errors="replace")
            for k, v in (obj.get("data") or {}).items()
        }
    data = dict(obj.get("data") or {})
    for k, v in (obj.get("binaryData") or {}).items():
        data.setdefault(k, base64.b64decode(v).decode(errors="replace"))
    return data


def _value_from(
    pod: Obj, container: Obj, value_from: Obj, namespace: str, sources: EnvSources
) -> str | None:
    if "fieldRef" in value_from:
        return field_value(pod, value_from["fieldRef"].get("fieldPath", ""))
    if "resourceFieldRef" in value_from:
        return resource_value(pod, container, value_from["resourceFieldRef"], sources)
    if "configMapKeyRef" in value_from:
        return _key_ref(value_from["configMapKeyRef"], "ConfigMap", namespace, sources)
    if "secretKeyRef" in value_from:
        return _key_ref(value_from["secretKeyRef"], "Secret", namespace, sources)
    return None


def _key_ref(ref: Obj, kind: str, namespace: str, sources: EnvSources) -> str | None:
    name, key = ref.get("name", ""), ref.get("key", "")
    table = sources.configmaps if kind == "ConfigMap" else sources.secrets
    obj = table.get(name)
    if obj is None:
        if ref.get("optional"):
            return None
        raise EnvError(f'{kind.lower()} "{name}" not found')
    data = _data(obj, kind.lower())
    if key not in data:
        if ref.get("optional"):
            return None
        raise EnvError(f"couldn't find key {key} in {kind} {namespace}/{name}")
    return data[key]


_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


def field_value(pod: Obj, path: str) -> str:
    """The downward API's fieldRef paths (env and downwardAPI volumes share it)."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    if match := _SUBSCRIPT.match(path):
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": status.get("hostIP", ""),
        "status.podIP": status.get("podIP", ""),
        "status.hostIPs": ",".join(i.get("ip", "") for i in status.get("hostIPs") or []),
        "status.podIPs": ",".join(i.get("ip", "") for i in status.get("podIPs") or []),
    }
    if path in simple:
        return str(simple[path])
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    raise EnvError(f"unsupported fieldPath: {path}")


def resource_value(pod: Obj, container: Obj | None, ref: Obj, sources: EnvSources) -> str:
    """A resourceFieldRef: the container's limit (node allocatable when unset) / divisor."""
    if container is None or ref.get("containerName"):
        wanted = ref.get("containerName", "")
        spec = pod.get("spec") or {}
        matches = [
            c
            for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
            if c["name"] == wanted
        ]
        container = matches[0] if matches else {}
    resource = ref.get("resource", "")
    kind, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    value = (resources.get(kind) or {}).get(name)
    if value is None and kind == "requests":
        value = (resources.get("limits") or {}).get(name)
    if value is None:
        value = sources.node_allocatable.get(name, "0") if kind == "limits" else "0"
    amount = quantity.parse(value).amount
    divisor = quantity.parse(ref.get("divisor") or "1").amount or Fraction(1)
    if name == "cpu":
        return str(max(1, math.ceil(amount / divisor)) if amount else 0)
    return str(math.ceil(amount / divisor))


def service_env(services: list[Obj]) -> dict[str, str]:
    """The docker-link style variables for each Service with a cluster IP."""
    env: dict[str, str] = {}
    for svc in sorted(services, key=lambda s: s["metadata"]["name"]):
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP", "")
        if not ip or ip == "None":
            continue
        prefix = svc["metadata"]["name"].upper().replace("-", "_")
        ports = spec.get("ports") or []
        env[f"{prefix}_SERVICE_HOST"] = ip
        if not ports:
            continue
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        for port in ports:
            if port.get("name"):
                port_name = port["name"].upper().replace("-", "_")
                env[f"{prefix}_SERVICE_PORT_{port_name}"] = str(port["port"])
        first = ports[0]
        proto = first.get("protocol", "TCP").lower()
        env[f"{prefix}_PORT"] = f"{proto}://{ip}:{first['port']}"
        for port in ports:
            proto = port.get("protocol", "TCP")
            base = f"{prefix}_PORT_{port['port']}_{proto.upper()}"
            env[base] = f"{proto.lower()}://{ip}:{port['port']}"
            env[f"{base}_PROTO"] = proto.lower()
            env[f"{base}_PORT"] = str(port["port"])
            env[f"{base}_ADDR"] = ip
    return env
