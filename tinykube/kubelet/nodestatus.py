"""The Node object a kubelet registers and the status it keeps posting.

``build_node`` is what ``POST /api/v1/nodes`` carries at registration (labels,
annotations, taints, podCIDR, and a first status); ``node_status`` is the
status the kubelet writes through ``nodes/status``: capacity measured on the
host and allocatable (capacity less what upstream's default ``--eviction-hard``
keeps back: 100Mi of memory and 10% of the node filesystem, so `kubectl
describe node` shows the two differing as on a kubeadm node), the four conditions with upstream's reasons and
messages, addresses, the kubelet's port and ``nodeInfo``.

Heartbeats follow upstream since node leases exist: the Lease is renewed
every 10 s (``lease.py``); the status is computed every 10 s but written only
when something changed or 5 minutes passed (``nodeStatusReportFrequency``).
``status_changed`` says which.

Host facts are read from /proc and /sys (blocking reads: call ``host_facts``
in a thread).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinykube.api import quantity
from tinykube.kubelet.status import rfc3339

Obj = dict[str, Any]

KUBELET_VERSION = "v1.34.2"
MAX_PODS = 110
REPORT_FREQUENCY = 300.0
MEMORY_EVICTION_BYTES = 100 * 1024 * 1024
DISK_EVICTION_FRACTION = 0.10
PID_PRESSURE_FRACTION = 0.90
CONTROL_PLANE_ROLE = "node-role.kubernetes.io/control-plane"

CONDITIONS = {
    # type: (reason when fine, message when fine, reason under pressure, message under pressure)
    "MemoryPressure": (
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
        "KubeletHasInsufficientMemory",
        "kubelet has insufficient memory available",
    ),
    "DiskPressure": (
        "KubeletHasNoDiskPressure",
        "kubelet has no disk pressure",
        "KubeletHasDiskPressure",
        "kubelet has disk pressure",
    ),
    "PIDPressure": (
        "KubeletHasSufficientPID",
        "kubelet has sufficient PID available",
        "KubeletHasInsufficientPID",
        "kubelet has insufficient PID available",
    ),
}


@dataclass
class HostFacts:
    cpus: int
    memory_kib: int
    memory_available_bytes: int
    disk_kib: int
    disk_free_fraction: float
    pids_used: int
    pid_max: int
    machine_id: str
    system_uuid: str
    boot_id: str
    kernel: str
    os_image: str
    arch: str


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def _meminfo() -> dict[str, int]:
    out = {}
    for line in _read("/proc/meminfo").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            out[key] = int(parts[0])
    return out


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Linux"


def go_arch(machine: str) -> str:
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(
        machine, machine
    )


def host_facts(root_dir: Path) -> HostFacts:
    """Measure the host (blocking)."""
    mem = _meminfo()
    root_dir.mkdir(parents=True, exist_ok=True)
    disk = shutil.disk_usage(root_dir)
    machine_id = _read("/etc/machine-id") or hashlib.md5(platform.node().encode()).hexdigest()
    uuid = _read("/sys/class/dmi/id/product_uuid") or machine_id
    pid_max = int(_read("/proc/sys/kernel/pid_max", "32768") or 32768)
    pids = sum(1 for p in os.listdir("/proc") if p.isdigit())
    return HostFacts(
        cpus=os.cpu_count() or 1,
        memory_kib=mem.get("MemTotal", 0),
        memory_available_bytes=mem.get("MemAvailable", mem.get("MemFree", 0)) * 1024,
        disk_kib=disk.total // 1024,
        disk_free_fraction=disk.free / disk.total if disk.total else 1.0,
        pids_used=pids,
        pid_max=pid_max,
        machine_id=machine_id,
        system_uuid=uuid,
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        kernel=platform.release(),
        os_image=_os_image(),
        arch=go_arch(platform.machine()),
    )


@dataclass
class NodeConfig:
    name: str
    node_ip: str = "127.0.0.1"
    port: int = 10250
    pod_cidr: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)
    control_plane: bool = False
    runtime_version: str = "process://0.1.0"
    simulated: bool = False


def node_labels(config: NodeConfig, arch: str) -> dict[str, str]:
    labels = {
        "kubernetes.io/hostname": config.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": arch,
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": arch,
    }
    if config.control_plane:
        labels[CONTROL_PLANE_ROLE] = ""
    if config.simulated:
        labels["tinykube.io/simulated"] = "true"
    labels.update(config.labels)
    return labels


def capacity(facts: HostFacts) -> dict[str, str]:
    return {
        "cpu": str(facts.cpus),
        "memory": f"{facts.memory_kib}Ki",
        "ephemeral-storage": f"{facts.disk_kib}Ki",
        "pods": str(MAX_PODS),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
    }


def allocatable(facts: HostFacts) -> dict[str, str]:
    """Capacity less the hard eviction reservation (upstream's GetNodeAllocatableReservation).

    Only ``memory.available`` and ``nodefs.available`` reserve anything; the
    percentage is taken of the capacity in bytes and truncated, as the kubelet's
    float64 arithmetic does, and the result keeps the binary format (plain bytes
    when it is no whole number of Ki).
    """
    out = capacity(facts)
    memory = max(facts.memory_kib * 1024 - MEMORY_EVICTION_BYTES, 0)
    disk = facts.disk_kib * 1024
    disk = max(disk - int(disk * DISK_EVICTION_FRACTION), 0)
    out["memory"] = quantity.canonical(quantity.from_int(memory, quantity.Format.BINARY_SI))
    out["ephemeral-storage"] = quantity.canonical(
        quantity.from_int(disk, quantity.Format.BINARY_SI)
    )
    return out


def pressure(facts: HostFacts) -> dict[str, bool]:
    return {
        "MemoryPressure": facts.memory_available_bytes < MEMORY_EVICTION_BYTES,
        "DiskPressure": facts.disk_free_fraction < DISK_EVICTION_FRACTION,
        "PIDPressure": facts.pids_used > facts.pid_max * PID_PRESSURE_FRACTION,
    }


def conditions(facts: HostFacts, old: list[Obj], now: float, ready: bool = True) -> list[Obj]:
    """The four node conditions, transition times kept while a status holds."""
    previous = {c.get("type"): c for c in old}
    stamp = rfc3339(now)
    out = []
    for kind, under in pressure(facts).items():
        ok_reason, ok_message, bad_reason, bad_message = CONDITIONS[kind]
        out.append(
            _condition(
                kind,
                "True" if under else "False",
                bad_reason if under else ok_reason,
                bad_message if under else ok_message,
                previous,
                stamp,
            )
        )
    out.append(
        _condition(
            "Ready",
            "True" if ready else "False",
            "KubeletReady" if ready else "KubeletNotReady",
            "kubelet is posting ready status" if ready else "container runtime is not ready",
            previous,
            stamp,
        )
    )
    return out


def _condition(
    kind: str, status: str, reason: str, message: str, previous: dict[Any, Obj], stamp: str
) -> Obj:
    old = previous.get(kind)
    transition = stamp
    if old is not None and old.get("status") == status and old.get("lastTransitionTime"):
        transition = old["lastTransitionTime"]
    return {
        "type": kind,
        "status": status,
        "lastHeartbeatTime": stamp,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }


def node_status(config: NodeConfig, facts: HostFacts, old: Obj, now: float) -> Obj:
    cap = capacity(facts)
    return {
        "capacity": cap,
        "allocatable": allocatable(facts),
        "conditions": conditions(facts, old.get("conditions") or [], now),
        "addresses": [
            {"type": "InternalIP", "address": config.node_ip},
            {"type": "Hostname", "address": config.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": config.port}},
        "nodeInfo": {
            "machineID": facts.machine_id,
            "systemUUID": facts.system_uuid,
            "bootID": facts.boot_id,
            "kernelVersion": facts.kernel,
            "osImage": facts.os_image,
            "containerRuntimeVersion": config.runtime_version,
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": facts.arch,
        },
    }


def build_node(config: NodeConfig, facts: HostFacts, now: float) -> Obj:
    """The Node a kubelet POSTs when it registers."""
    spec: Obj = {}
    if config.pod_cidr:
        spec["podCIDR"] = config.pod_cidr
        spec["podCIDRs"] = [config.pod_cidr]
    if config.taints:
        spec["taints"] = config.taints
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": config.name,
            "labels": node_labels(config, facts.arch),
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": spec,
        "status": node_status(config, facts, {}, now),
    }


def status_changed(old: Obj, new: Obj) -> bool:
    """True when anything but heartbeat times differs."""
    return _strip_heartbeats(old) != _strip_heartbeats(new)


def _strip_heartbeats(status: Obj) -> Obj:
    out = {k: v for k, v in status.items() if k not in ("conditions", "images", "volumesInUse")}
    out["conditions"] = sorted(
        (
            {k: v for k, v in c.items() if k not in ("lastHeartbeatTime",)}
            for c in status.get("conditions") or []
        ),
        key=lambda c: str(c.get("type")),
    )
    # Memory and disk figures drift constantly; only the capacity shape matters here.
    return out


def parse_taint(text: str) -> Obj:
    """``key=value:Effect`` or ``key:Effect`` (``--register-with-taints``)."""
    spec, _, effect = text.rpartition(":")
    if not spec or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        raise ValueError(f"invalid taint {text!r}: want key[=value]:Effect")
    key, _, value = spec.partition("=")
    taint: Obj = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


def parse_labels(text: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` (``--node-labels``)."""
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = item.partition("=")
        out[key] = value
    return out
