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
    allocation,
)

NAME = "NodeResourcesBalancedAllocation"


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

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        resources = (args or {}).get("resources") or [{"name": CPU}, {"name": MEMORY}]
        self.resources = [r["name"] for r in resources]

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        if not any(pod.requests.get(r, 0) for r in self.resources):
            return SKIP
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        fractions = []
        for name in self.resources:
            allocatable, requested = allocation(pod, node, name, use_requested=True)
            if allocatable == 0:
                continue
            fractions.append(min(1.0, requested / allocatable))
        return balance(fractions)


def new(args: Mapping[str, Any] | None, handle: Handle) -> BalancedAllocation:
    return BalancedAllocation(args)
