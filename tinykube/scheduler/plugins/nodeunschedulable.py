"""NodeUnschedulable: cordoned nodes (``spec.unschedulable``) take no new pods.

A pod that tolerates the ``node.kubernetes.io/unschedulable:NoSchedule`` taint
(DaemonSet pods do) is let through, as upstream does; the node controller adds
that taint to cordoned nodes, but this plugin does not wait for it.
"""

from __future__ import annotations

from tinykube.scheduler.framework import (
    SUCCESS,
    CycleState,
    NodeInfo,
    PodInfo,
    Status,
    pod_tolerations,
    tolerated,
    unresolvable,
)

NAME = "NodeUnschedulable"
NODE_LOCAL = True  # reads only the pod and the node (see runtime._attach_memo)
ERR_REASON_UNKNOWN_CONDITION = "node(s) had unknown conditions"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def filter(state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
    if node.node is None:
        return unresolvable(ERR_REASON_UNKNOWN_CONDITION)
    if not node.unschedulable:
        return SUCCESS
    if tolerated(pod_tolerations(pod), UNSCHEDULABLE_TAINT):
        return SUCCESS
    return unresolvable(ERR_REASON_UNSCHEDULABLE)
