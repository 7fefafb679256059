"""Worker nodes for ``tinykube up --nodes N``: node01, node02, … on this host, as in CKA clusters.

Each worker is what ``kubeadm join`` makes of a machine, minus the machine:
a kubelet process of its own, with its own root directory under the data
directory (``nodes/<name>``), its own client certificate and kubeconfig
(``system:node:<name>`` in ``system:nodes``, like the control-plane
kubelet's), its own kubelet port (the control plane's plus the worker's
number) and its own pod CIDR. The controller manager has no node IPAM here,
so ``up`` hands the ranges out itself, as ``--pod-cidr`` does for the
control plane: worker *i* gets the *i*-th block of the same size after the
control plane's (10.244.0.0/24, then 10.244.1.0/24, 10.244.2.0/24, …).

Pod network. Every node's kubelet puts its gateway (the first address of its
pod CIDR) on the one bridge ``tk0``, and a pod's default route points at its
own node's gateway. A packet from a pod of node01 to a pod of node02 thus
reaches the host, which must route it back onto the bridge towards the
other subnet: that needs ``net.ipv4.ip_forward``, the sysctl kubeadm's
preflight checks and CNI bridge plugins switch on. ``up`` switches it on
when the cluster has workers (and leaves it on afterwards, as those do).
Services need nothing more: a Service address is local to the host, and the
proxy connects from the host to a pod of any node over the bridge.

Taints. As ``kubeadm init`` marks the control plane, the node
``controlplane`` carries ``node-role.kubernetes.io/control-plane:NoSchedule``
when the cluster has workers, so workloads go to the workers; a single-node
cluster leaves it off, or nothing could run. ``mark_control_plane`` keeps
that true when ``up`` runs again with another ``--nodes``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from pathlib import Path
from typing import Any

import aiohttp

from tinykube.api import errors
from tinykube.client.rest import Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]

CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
NODE_WAIT_SECONDS = 60.0


def worker_names(count: int) -> list[str]:
    return [f"node{i:02d}" for i in range(1, count + 1)]


def worker_pod_cidr(control_plane_cidr: str, index: int) -> str:
    """The ``index``-th block (1-based) after the control plane's, of the same size."""
    network = ipaddress.ip_network(control_plane_cidr, strict=False)
    first = network.network_address + index * network.num_addresses
    return str(ipaddress.ip_network(f"{first}/{network.prefixlen}"))


def taint_text(taint: Obj) -> str:
    """The ``--register-with-taints`` form: ``key[=value]:Effect``."""
    value = f"={taint['value']}" if taint.get("value") else ""
    return f"{taint['key']}{value}:{taint['effect']}"


def enable_ip_forward() -> bool:
    """Let the host route between the nodes' pod subnets on ``tk0``; True if it changed."""
    try:
        if IP_FORWARD.read_text().strip() == "1":
            return False
        IP_FORWARD.write_text("1\n")
    except OSError as exc:
        log.warning(
            "component=up cannot enable %s: %s (pods of different nodes cannot talk)",
            IP_FORWARD,
            exc,
        )
        return False
    log.info("component=up net.ipv4.ip_forward=1 (pods of different nodes route via the host)")
    return True


def with_control_plane_taint(taints: list[Obj], wanted: bool) -> list[Obj] | None:
    """The node's taints with the control-plane taint present or absent; None if unchanged."""
    key, effect = CONTROL_PLANE_TAINT["key"], CONTROL_PLANE_TAINT["effect"]
    has = any(t.get("key") == key and t.get("effect") == effect for t in taints)
    if has == wanted:
        return None
    if wanted:
        return [*taints, dict(CONTROL_PLANE_TAINT)]
    return [t for t in taints if not (t.get("key") == key and t.get("effect") == effect)]


async def mark_control_plane(client: Client, node_name: str, has_workers: bool) -> None:
    """kubeadm's mark-control-plane phase: taint the node iff the cluster has workers.

    Waits (bounded) for the kubelet to register the Node; the write carries the
    resourceVersion it read, so a concurrent change of the taints is retried, as
    is an API server that does not answer yet. Never raises: a cluster whose
    taint could not be set still comes up, with a warning."""
    deadline = asyncio.get_running_loop().time() + NODE_WAIT_SECONDS
    last: Exception | None = None
    while True:
        try:
            node = await client.get("v1", "nodes", node_name)
            taints = with_control_plane_taint(
                (node.get("spec") or {}).get("taints") or [], has_workers
            )
            if taints is None:
                return
            patch = {
                "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
                "spec": {"taints": taints},
            }
            await client.patch("v1", "nodes", node_name, patch)
            log.info("component=up node=%s control-plane taint %s", node_name,
                     "added" if has_workers else "removed")  # fmt: skip
            return
        except (errors.APIError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            last = exc
        if asyncio.get_running_loop().time() > deadline:
            log.warning("component=up node=%s taints unchanged: %s", node_name, last)
            return
        await asyncio.sleep(0.2)
