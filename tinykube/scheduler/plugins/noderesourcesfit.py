"""NodeResourcesFit: a pod fits where its requests fit the node's free allocatable.

Filter compares the pod's requests (containers summed, the largest init
container, sidecars, overhead: ``framework.pod_requests``) with what the node's
allocatable leaves after the pods already there, for cpu, memory,
ephemeral-storage, extended resources, and the pod count. Every shortfall is a
reason (``Insufficient cpu``, ``Too many pods``); a request larger than the
whole node is unresolvable, so preemption does not try to make room.

Score follows the configured ``scoringStrategy``:

- ``LeastAllocated`` (default): prefer emptier nodes, ``(free * 100) / allocatable``;
- ``MostAllocated``: bin-packing, ``requested * 100 / allocatable``;
- ``RequestedToCapacityRatio``: a piecewise-linear ``shape`` from utilization
  (0..100) to score (0..10),

each averaged over the configured resources by weight (cpu and memory, weight 1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tinykube.scheduler.framework import (
    CPU,
    EPHEMERAL_STORAGE,
    MAX_NODE_SCORE,
    MEMORY,
    PODS,
    SUCCESS,
    Code,
    CycleState,
    Handle,
    NodeInfo,
    PodInfo,
    Snapshot,
    Status,
    is_scalar_resource,
)

NAME = "NodeResourcesFit"
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME
TOO_MANY_PODS = "Too many pods"
LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"
DEFAULT_RESOURCES = ({"name": CPU, "weight": 1}, {"name": MEMORY, "weight": 1})
DEFAULT_SHAPE = ({"utilization": 0, "score": 10}, {"utilization": 100, "score": 0})
MAX_CUSTOM_SCORE = 10
MAX_UTILIZATION = 100


def insufficient(resource: str) -> str:
    return f"Insufficient {resource}"


def least_allocated(requested: int, allocatable: int) -> int:
    if allocatable == 0 or requested > allocatable:
        return 0
    return (allocatable - requested) * MAX_NODE_SCORE // allocatable


def most_allocated(requested: int, allocatable: int) -> int:
    if allocatable == 0:
        return 0
    return min(requested, allocatable) * MAX_NODE_SCORE // allocatable


def broken_linear(shape: Sequence[tuple[int, int]]) -> Callable[[int], int]:
    """The piecewise-linear function through (utilization, score) points."""

    def at(p: int) -> int:
        for i, (util, score) in enumerate(shape):
            if p <= util:
                if i == 0:
                    return score
                u0, s0 = shape[i - 1]
                return s0 + (score - s0) * (p - u0) // (util - u0)
        return shape[-1][1]

    return at


def requested_to_capacity_ratio(
    shape_args: Sequence[Mapping[str, Any]],
) -> Callable[[int, int], int]:
    scale = MAX_NODE_SCORE // MAX_CUSTOM_SCORE
    shape = [(int(p["utilization"]), int(p["score"]) * scale) for p in shape_args]
    raw = broken_linear(shape)

    def scorer(requested: int, allocatable: int) -> int:
        if allocatable == 0 or requested > allocatable:
            return raw(MAX_UTILIZATION)
        return raw(requested * MAX_UTILIZATION // allocatable)

    return scorer


class NodeResourcesFit:
    """The plugin, configured by NodeResourcesFitArgs."""

    name = NAME
    NODE_LOCAL = True  # reads only the pod and the node (see runtime._attach_memo)

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        args = args or {}
        self.ignored = set(args.get("ignoredResources") or [])
        self.ignored_groups = set(args.get("ignoredResourceGroups") or [])
        strategy = args.get("scoringStrategy") or {}
        self.strategy = strategy.get("type") or LEAST_ALLOCATED
        self.resources = [
            (r["name"], int(r.get("weight") or 1))
            for r in strategy.get("resources") or DEFAULT_RESOURCES
        ]
        if self.strategy == MOST_ALLOCATED:
            self._scorer = most_allocated
            self._round = False
        elif self.strategy == REQUESTED_TO_CAPACITY_RATIO:
            ratio = strategy.get("requestedToCapacityRatio") or {}
            self._scorer = requested_to_capacity_ratio(ratio.get("shape") or DEFAULT_SHAPE)
            self._round = True
        elif self.strategy == LEAST_ALLOCATED:
            self._scorer = least_allocated
            self._round = False
        else:
            raise ValueError(f"scoring strategy {self.strategy} is not supported")

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Snapshot) -> Status:
        """Keep the requests to check (non-zero, not ignored) for the per-node filter."""
        state[_PRE_FILTER_KEY] = [
            (name, want)
            for name, want in pod.requests.items()
            if want > 0 and name != PODS and not (is_scalar_resource(name) and self._ignored(name))
        ]
        return SUCCESS

    def _ignored(self, name: str) -> bool:
        return name in self.ignored or name.split("/", 1)[0] in self.ignored_groups

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        checks = state.get(_PRE_FILTER_KEY)
        if checks is None:
            self.pre_filter(state, pod, Snapshot())
            checks = state[_PRE_FILTER_KEY]
        allocatable, requested = node.allocatable, node.requested
        fits = len(node.pods) < allocatable.get(PODS, 0)
        if fits:
            for name, want in checks:
                if want > allocatable.get(name, 0) - requested.get(name, 0):
                    fits = False
                    break
        return SUCCESS if fits else self._insufficient(checks, node)

    def _insufficient(self, checks: list[tuple[str, int]], node: NodeInfo) -> Status:
        reasons: list[str] = []
        unresolvable = False
        if len(node.pods) + 1 > node.allocatable.get(PODS, 0):
            reasons.append(TOO_MANY_PODS)
        for name, want in checks:
            allocatable = node.allocatable.get(name, 0)
            if want > allocatable - node.requested.get(name, 0):
                reasons.append(insufficient(name))
                unresolvable = unresolvable or want > allocatable
        reasons.sort(key=_reason_order)
        code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if unresolvable else Code.UNSCHEDULABLE
        return Status(code, tuple(reasons))

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        """Per scored resource: (name, weight, the pod's amount, counted as non-zero?)."""
        plan = []
        for name, weight in self.resources:
            non_zero = name in (CPU, MEMORY)
            amount = pod.non_zero_requests[name] if non_zero else pod.requests.get(name, 0)
            if amount == 0 and is_scalar_resource(name):
                continue  # an extended resource the pod does not ask for does not dilute
            plan.append((name, weight, amount, non_zero))
        state[_PRE_SCORE_KEY] = plan
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        plan = state.get(_PRE_SCORE_KEY)
        if plan is None:
            self.pre_score(state, pod, ())
            plan = state[_PRE_SCORE_KEY]
        total = weights = 0
        scorer = self._scorer
        for name, weight, amount, non_zero in plan:
            allocatable = node.allocatable.get(name, 0)
            if allocatable == 0:
                continue
            used = node.non_zero_requested[name] if non_zero else node.requested.get(name, 0)
            total += scorer(used + amount, allocatable) * weight
            weights += weight
        if weights == 0:
            return 0
        # Go rounds halves away from zero; Python rounds them to even.
        return int(total / weights + 0.5) if self._round else total // weights


_ORDER = {TOO_MANY_PODS: 0, insufficient(CPU): 1, insufficient(MEMORY): 2}


def _reason_order(reason: str) -> tuple[int, str]:
    # Upstream checks pods, cpu, memory, ephemeral-storage, then scalars by name.
    if reason == insufficient(EPHEMERAL_STORAGE):
        return (3, reason)
    return (_ORDER.get(reason, 4), reason)


def new(args: Mapping[str, Any] | None, handle: Handle) -> NodeResourcesFit:
    return NodeResourcesFit(args)
