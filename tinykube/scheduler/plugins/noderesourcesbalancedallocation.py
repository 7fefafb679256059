"""NodeResourcesBalancedAllocation: prefer nodes whose resources stay evenly used.

A node at 80% cpu and 20% memory strands memory that no cpu-hungry pod can
use. The score is ``(1 - std) * 100`` of the per-resource utilizations after
placing the pod (each capped at 1). It counts actual requests, not the
100m/200Mi scoring defaults, and skips best-effort pods entirely: a pod that
requests nothing cannot unbalance anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tinykube.scheduler.framework import (
    CPU,
    MAX_NODE_SCORE,
    MEMORY,
    SKIP,
    SUCCESS,
    CycleState,
    Handle,
    NodeInfo,
    PodInfo,
    Status,
    is_scalar_resource,
)

NAME = "NodeResourcesBalancedAllocation"
_PRE_SCORE_KEY = "PreScore" + NAME


def balance(fractions: Sequence[float]) -> int:
    if len(fractions) == 2:
        std = abs(fractions[0] - fractions[1]) / 2
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    else:
        std = 0.0
    return int((1 - std) * MAX_NODE_SCORE)


class BalancedAllocation:
    name = NAME
    NODE_LOCAL = True  # reads only the pod and the node (see runtime._attach_memo)

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        resources = (args or {}).get("resources") or [{"name": CPU}, {"name": MEMORY}]
        self.resources = [r["name"] for r in resources]

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        amounts = [(name, pod.requests.get(name, 0)) for name in self.resources]
        if not any(amount for _, amount in amounts):
            return SKIP
        # An extended resource the pod does not ask for is left out of the balance.
        state[_PRE_SCORE_KEY] = [
            (name, amount) for name, amount in amounts if amount or not is_scalar_resource(name)
        ]
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        amounts = state.get(_PRE_SCORE_KEY)
        if amounts is None:
            if self.pre_score(state, pod, ()) is SKIP:
                return 0
            amounts = state[_PRE_SCORE_KEY]
        fractions = []
        allocatable, requested = node.allocatable, node.requested
        for name, amount in amounts:
            capacity = allocatable.get(name, 0)
            if capacity == 0:
                continue
            fraction = (requested.get(name, 0) + amount) / capacity
            fractions.append(fraction if fraction < 1.0 else 1.0)
        if len(fractions) == 2:
            # The common case (cpu and memory), without the general standard deviation.
            return int((1 - abs(fractions[0] - fractions[1]) / 2) * MAX_NODE_SCORE)
        return balance(fractions)


def new(args: Mapping[str, Any] | None, handle: Handle) -> BalancedAllocation:
    return BalancedAllocation(args)
