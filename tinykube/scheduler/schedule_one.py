"""One pod's scheduling decision: filter, score, select. Synchronous and pure.

Upstream's ``schedulePod`` (``schedule_one.go``), step by step:

1. **PreFilter** every plugin once; a rejection fails the pod on every node.
2. If the pod was nominated by an earlier preemption, try that node first;
   if it passes, it is the answer (the room was made for this pod).
3. **Filter** nodes starting where the previous cycle stopped (round robin,
   so every node gets its turn) until ``num_nodes_to_find`` feasible nodes
   are found. The nodes are visited in chunks: between chunks nothing
   awaits, so the cycle stays one consistent view of the cache, and a chunk
   is the unit a worker pool would take if filtering ever moves to threads.
4. With one feasible node, done; otherwise **score** (pre_score, score,
   normalize, weight, sum) and **select** the highest total, ties broken
   uniformly at random (one draw among the tied nodes) so equal nodes share the load.

A failure raises ``FitError`` with every node's status; the caller runs
PostFilter (preemption) and reports it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from tinykube.scheduler.config import num_nodes_to_find
from tinykube.scheduler.framework import (
    SUCCESS,
    Code,
    CycleState,
    FitError,
    NodeInfo,
    PodInfo,
    Snapshot,
    Status,
)
from tinykube.scheduler.runtime import Framework

CHUNK = 64


@dataclass
class ScheduleResult:
    node: str
    evaluated: int
    feasible: int


class Algorithm:
    """Holds the round-robin start index and the tie-breaking random source."""

    def __init__(
        self, percentage_of_nodes_to_score: int = 0, rng: random.Random | None = None
    ) -> None:
        self.percentage = percentage_of_nodes_to_score
        self.rng = rng or random.Random()
        self.next_start = 0

    def schedule(self, fwk: Framework, state: CycleState, pod: PodInfo) -> ScheduleResult:
        snapshot = fwk.snapshot
        if not len(snapshot):
            raise FitError(0)
        feasible, statuses = self.find_feasible(fwk, state, pod, snapshot)
        if not feasible:
            raise FitError(len(snapshot), statuses)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, len(statuses) + 1, 1)
        scores = fwk.run_score(state, pod, feasible)
        return ScheduleResult(
            self.select_host(feasible, scores), len(statuses) + len(feasible), len(feasible)
        )

    def find_feasible(
        self, fwk: Framework, state: CycleState, pod: PodInfo, snapshot: Snapshot
    ) -> tuple[list[NodeInfo], dict[str, Status]]:
        status = fwk.run_pre_filter(state, pod)
        if not status.success:
            message = status.message
            if status.rejected:
                err = FitError(
                    len(snapshot), {n.name: status for n in snapshot}, pre_filter_msg=message
                )
                raise err
            raise RuntimeError(f"running PreFilter plugin {status.plugin!r}: {message}")
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            node = snapshot.get(nominated)
            if node is not None and fwk.run_filters(state, pod, node).success:
                return [node], {}
        return self._filter_round_robin(fwk, state, pod, snapshot.node_infos)

    def _filter_round_robin(
        self, fwk: Framework, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[list[NodeInfo], dict[str, Status]]:
        total = len(nodes)
        own = fwk.profile.percentage_of_nodes_to_score  # a profile's value wins over the global one
        wanted = num_nodes_to_find(total, self.percentage if own is None else int(own))
        start = self.next_start % total
        order = [*nodes[start:], *nodes[:start]]
        feasible: list[NodeInfo] = []
        statuses: dict[str, Status] = {}
        processed = 0
        while processed < total and len(feasible) < wanted:
            chunk = order[processed : processed + CHUNK]
            taken = self._filter_chunk(fwk, state, pod, chunk, feasible, statuses, wanted)
            processed += taken
        self.next_start = (start + processed) % total
        return feasible, statuses

    @staticmethod
    def _filter_chunk(
        fwk: Framework,
        state: CycleState,
        pod: PodInfo,
        chunk: Sequence[NodeInfo],
        feasible: list[NodeInfo],
        statuses: dict[str, Status],
        wanted: int,
    ) -> int:
        """Filter one chunk into ``feasible``/``statuses``; returns how many nodes were looked at.

        The hot loop of the scheduler: a remembered verdict (Framework._attach_memo)
        costs one dict lookup; only the rest run the filter plugins.
        """
        run = fwk.run_filters
        remembered = fwk.remembered_verdicts(state)
        get = remembered.get if remembered is not None else None
        for i, node in enumerate(chunk):
            hit = get(node.name) if get is not None else None
            if hit is not None and hit[0] == node.generation:
                status = hit[1]
            else:
                status = run(state, pod, node)
            if status is SUCCESS or status.code is Code.SUCCESS:
                feasible.append(node)
                if len(feasible) >= wanted:
                    return i + 1
            elif status.rejected:
                statuses[node.name] = status
            else:
                raise RuntimeError(f"running {status.plugin!r} filter: {status.message}")
        return len(chunk)

    def select_host(self, nodes: Sequence[NodeInfo], scores: Sequence[int]) -> str:
        """The best-scoring node; among equals, each is equally likely."""
        best_score = max(scores)
        best = [i for i, score in enumerate(scores) if score == best_score]
        index = best[0] if len(best) == 1 else best[self.rng.randrange(len(best))]
        return nodes[index].name
