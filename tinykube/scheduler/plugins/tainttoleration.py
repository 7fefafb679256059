"""TaintToleration: NoSchedule/NoExecute taints repel pods that do not tolerate them;
PreferNoSchedule taints only lower a node's score.

Filter reports the first untolerated hard taint as ``{key: value}``, which is
what users see in FailedScheduling. Score counts the PreferNoSchedule taints a
pod does not tolerate; normalization reverses it, so the node with the fewest
gets 100.
"""

from __future__ import annotations

from collections.abc import Sequence

from tinykube.scheduler.framework import (
    SUCCESS,
    CycleState,
    NodeInfo,
    PodInfo,
    Status,
    default_normalize,
    pod_tolerations,
    tolerated,
    unresolvable,
)

NAME = "TaintToleration"
NODE_LOCAL = True  # reads only the pod and the node (see runtime._attach_memo)
PRE_SCORE_KEY = "PreScore" + NAME
_HARD = ("NoSchedule", "NoExecute")


def untolerated_taint_reason(taint: dict[str, str]) -> str:
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"


def filter(state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
    if not node.taints:
        return SUCCESS
    tolerations = pod_tolerations(pod)
    for taint in node.taints:
        if taint.get("effect") in _HARD and not tolerated(tolerations, taint):
            return unresolvable(untolerated_taint_reason(taint))
    return SUCCESS


def pre_score(state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
    state[PRE_SCORE_KEY] = [
        t for t in pod_tolerations(pod) if t.get("effect", "") in ("", "PreferNoSchedule")
    ]
    return SUCCESS


def score(state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
    tolerations = state.get(PRE_SCORE_KEY)
    if tolerations is None:
        tolerations = pod_tolerations(pod)
    return sum(
        1
        for taint in node.taints
        if taint.get("effect") == "PreferNoSchedule" and not tolerated(tolerations, taint)
    )


def normalize(state: CycleState, pod: PodInfo, scores: list[int]) -> None:
    default_normalize(scores, reverse=True)
