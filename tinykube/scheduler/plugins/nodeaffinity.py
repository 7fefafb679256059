"""NodeAffinity: ``nodeSelector`` and node affinity, required (filter) and preferred (score).

Required: the pod's ``nodeSelector`` must match exactly, and at least one of
the ``nodeSelectorTerms`` (matchExpressions and matchFields, every operator:
In, NotIn, Exists, DoesNotExist, Gt, Lt) must match. The plugin's
``addedAffinity`` argument is a node affinity the scheduler profile enforces
on every pod, reported with its own reason. Preferred: the sum of the weights
of the matching preferred terms, scaled so the best node gets 100.

Pods without any of this skip the plugin (pre_filter / pre_score answer SKIP),
which is most pods, so the filter costs nothing for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tinykube.scheduler.framework import (
    SKIP,
    SUCCESS,
    CycleState,
    Handle,
    NodeInfo,
    NodeSelectorTerm,
    PodInfo,
    RequiredNodeAffinity,
    Snapshot,
    Status,
    default_normalize,
    unresolvable,
)

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME

WeightedTerms = list[tuple[int, NodeSelectorTerm]]


def preferred_terms(affinity: Mapping[str, Any] | None) -> WeightedTerms:
    terms = (affinity or {}).get("preferredDuringSchedulingIgnoredDuringExecution") or []
    out = []
    for term in terms:
        weight = int(term.get("weight") or 0)
        if weight:
            out.append((weight, NodeSelectorTerm.parse(term.get("preference") or {})))
    return out


class NodeAffinity:
    name = NAME
    NODE_LOCAL = True  # reads only the pod and the node (see runtime._attach_memo)

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        added = (args or {}).get("addedAffinity")
        self.added: RequiredNodeAffinity | None = None
        self.added_preferred: WeightedTerms = []
        if added:
            self.added = RequiredNodeAffinity.of({"spec": {"affinity": {"nodeAffinity": added}}})
            self.added_preferred = preferred_terms(added)

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Snapshot) -> Status:
        required = RequiredNodeAffinity.of(pod.pod)
        if required.empty and self.added is None:
            return SKIP
        state[_PRE_FILTER_KEY] = required
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if self.added is not None and not self.added.matches(node):
            return unresolvable(ERR_REASON_ENFORCED)
        required = state.get(_PRE_FILTER_KEY)
        if required is None:
            required = RequiredNodeAffinity.of(pod.pod)
        if not required.matches(node):
            return unresolvable(ERR_REASON_POD)
        return SUCCESS

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        spec = pod.pod.get("spec") or {}
        affinity = (spec.get("affinity") or {}).get("nodeAffinity")
        terms = preferred_terms(affinity) + self.added_preferred
        if not terms:
            return SKIP
        state[_PRE_SCORE_KEY] = terms
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        terms = state.get(_PRE_SCORE_KEY) or []
        return sum(weight for weight, term in terms if term.matches(node))

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize(scores)


def new(args: Mapping[str, Any] | None, handle: Handle) -> NodeAffinity:
    return NodeAffinity(args)
