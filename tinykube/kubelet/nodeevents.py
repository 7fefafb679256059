"""The Events a kubelet records about its own Node, which ``kubectl describe node`` lists.

Upstream's kubelet tells a node's story through Events on the Node, with
source component ``kubelet`` and the node as host:

- ``Starting`` ("Starting kubelet.") when it starts, and
  ``NodeAllocatableEnforced`` once the node's allocatable is enforced on the
  pods' cgroups;
- one event each time a condition it owns changes, the reason naming the new
  state (``NodeHasSufficientMemory``, ``NodeHasNoDiskPressure``,
  ``NodeHasSufficientPID``, ``NodeReady``/``NodeNotReady`` and their opposites),
  with the message ``Node <name> status is now: <reason>``. The comparison is
  with the Node as last seen: at registration that is an empty Node, so a
  (re)started kubelet records all four, and after the node lifecycle
  controller set Ready to Unknown the kubelet's next status records NodeReady;
- ``NodeNotSchedulable``/``NodeSchedulable`` when it sees ``spec.unschedulable``
  change (a cordon or uncordon), compared with what it last saw, starting
  from schedulable.

The involved object is the Node with the node's *name* as its uid, as
upstream's kubelet writes it (``kubectl describe node`` searches both uids).
Pure functions; the kubelet records what they return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Obj = dict[str, Any]

STARTING = "Starting"
STARTING_MESSAGE = "Starting kubelet."
ALLOCATABLE_ENFORCED = "NodeAllocatableEnforced"
ALLOCATABLE_ENFORCED_MESSAGE = "Updated Node Allocatable limit across pods"
NODE_SCHEDULABLE = "NodeSchedulable"
NODE_NOT_SCHEDULABLE = "NodeNotSchedulable"

# condition type -> (reason when the condition is "True", reason otherwise), in the
# order upstream's status setters run.
CONDITION_EVENTS: dict[str, tuple[str, str]] = {
    "MemoryPressure": ("NodeHasInsufficientMemory", "NodeHasSufficientMemory"),
    "DiskPressure": ("NodeHasDiskPressure", "NodeHasNoDiskPressure"),
    "PIDPressure": ("NodeHasInsufficientPID", "NodeHasSufficientPID"),
    "Ready": ("NodeReady", "NodeNotReady"),
}


def node_ref(name: str) -> Obj:
    """The Node as the kubelet's events name it (uid = name)."""
    return {"kind": "Node", "metadata": {"name": name, "uid": name}}


def status_message(node_name: str, reason: str) -> str:
    return f"Node {node_name} status is now: {reason}"


def condition_events(
    old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> list[str]:
    """The reasons to record for conditions whose status differs from ``old``'s."""
    before = {c.get("type"): c.get("status") for c in old}
    after = {c.get("type"): c.get("status") for c in new}
    out = []
    for kind, (when_true, otherwise) in CONDITION_EVENTS.items():
        status = after.get(kind)
        if status is None or before.get(kind) == status:
            continue
        out.append(when_true if status == "True" else otherwise)
    return out


class SchedulableWatch:
    """Remembers ``spec.unschedulable`` between status passes (upstream's
    ``lastNodeUnschedulable``: it starts schedulable, so a kubelet that starts on a
    cordoned node records NodeNotSchedulable once)."""

    def __init__(self) -> None:
        self.unschedulable = False

    def observe(self, node: Mapping[str, Any]) -> str | None:
        """The reason to record when the node's schedulability changed, else None."""
        now = bool((node.get("spec") or {}).get("unschedulable"))
        if now == self.unschedulable:
            return None
        self.unschedulable = now
        return NODE_NOT_SCHEDULABLE if now else NODE_SCHEDULABLE
