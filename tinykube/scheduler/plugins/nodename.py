"""NodeName: a pod that names a node (``spec.nodeName``) fits only that node.

Pods created with ``nodeName`` are bound already and never reach the queue,
but preemption and simulations still run the filter, as upstream does.
"""

from __future__ import annotations

from tinykube.scheduler.framework import (
    SUCCESS,
    CycleState,
    NodeInfo,
    PodInfo,
    Status,
    unresolvable,
)

NAME = "NodeName"
NODE_LOCAL = True  # reads only the pod and the node (see runtime._attach_memo)
ERR_REASON = "node(s) didn't match the requested node name"


def filter(state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
    if not pod.node_name or pod.node_name == node.name:
        return SUCCESS
    return unresolvable(ERR_REASON)
