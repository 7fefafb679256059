"""NodePorts: two pods cannot hold the same hostPort (and protocol) on one node.

A port bound on 0.0.0.0 conflicts with the same port on any address, and
the other way round; distinct specific addresses can share a port number.
Pods without host ports (almost all) skip the plugin.
"""

from __future__ import annotations

from tinykube.scheduler.framework import (
    SKIP,
    SUCCESS,
    CycleState,
    NodeInfo,
    PodInfo,
    Snapshot,
    Status,
    unschedulable,
)

NAME = "NodePorts"
NODE_LOCAL = True  # reads only the pod and the node (see runtime._attach_memo)
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"


def pre_filter(state: CycleState, pod: PodInfo, nodes: Snapshot) -> Status:
    return SUCCESS if pod.ports else SKIP


def filter(state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
    if pod.ports and node.port_conflicts(pod.ports):
        return unschedulable(ERR_REASON)
    return SUCCESS
