"""DefaultPreemption: when a pod fits nowhere, evict lower-priority pods to make room.

Runs at PostFilter, only after every node failed. Upstream's steps:

1. The pod must be allowed to preempt (``preemptionPolicy`` is not Never).
2. Nodes that failed with UNSCHEDULABLE_AND_UNRESOLVABLE are skipped: no
   eviction fixes a taint or a selector ("Preemption is not helpful").
3. Dry run per remaining node (from a random offset, until enough candidates:
   10% of the nodes, at least 100), on a copy: remove every pod of lower priority;
   if the pod still does not fit, the node is no candidate. Otherwise put the
   victims back one by one, most important first, keeping each one whose
   return still lets the pod fit (the "reprieve"). What is left are victims.
4. Pick one candidate: fewest PodDisruptionBudget violations (victims a
   budget protects are tried first for reprieve), then the lowest highest-victim priority, the lowest sum
   of priorities, the fewest victims, the latest start among the most
   important victims, then the first.

The result names the node and the victims; the scheduler evicts them and
records the node as the pod's ``status.nominatedNodeName``, and the pod is
retried when the victims are gone. When there is no candidate, the message
lists why per node, as upstream does:
``0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No
preemption victims found for incoming pod.``
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from tinykube.api import selectors
from tinykube.scheduler.framework import (
    SUCCESS,
    Code,
    CycleState,
    FitError,
    Handle,
    NodeInfo,
    PodInfo,
    PostFilterResult,
    Status,
    unresolvable,
    unschedulable,
)

NAME = "DefaultPreemption"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_ELIGIBLE_NEVER = "not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."
MESSAGE_PREFIX = "preemption: "


def start_time(pod: PodInfo) -> str:
    status = pod.pod.get("status") or {}
    # A pod that has not started sorts as the newest ("~" is after every digit).
    return status.get("startTime") or "~"


def importance(pod: PodInfo) -> tuple[int, str]:
    """Sort key: most important first (higher priority, then started earlier)."""
    return (-pod.priority, start_time(pod))


class DefaultPreemption:
    name = NAME

    def __init__(self, args: Mapping[str, Any] | None, handle: Handle) -> None:
        args = args or {}
        self.handle = handle
        self.min_candidates_percentage = int(args.get("minCandidateNodesPercentage", 10))
        self.min_candidates_absolute = int(args.get("minCandidateNodesAbsolute", 100))
        self.rng = random.Random()

    def num_candidates(self, num_nodes: int) -> int:
        """How many candidate nodes are enough to choose from (upstream's calculateNumCandidates)."""
        n = num_nodes * self.min_candidates_percentage // 100
        n = max(n, self.min_candidates_absolute)
        return min(n, num_nodes)

    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: Mapping[str, Status]
    ) -> tuple[Status, PostFilterResult | None]:
        eligible, why = self.eligible(pod)
        if not eligible:
            return unschedulable(MESSAGE_PREFIX + why), None
        node_statuses: dict[str, Status] = {}
        candidates = []
        nodes = self.handle.snapshot.node_infos
        wanted = self.num_candidates(len(nodes))
        # Start at a random node so that preemption does not always hit the same ones.
        offset = self.rng.randrange(len(nodes)) if nodes else 0
        for i in range(len(nodes)):
            if len(candidates) >= wanted:
                break
            node = nodes[(offset + i) % len(nodes)]
            status = statuses.get(node.name)
            if status is not None and status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                node_statuses[node.name] = unresolvable(NOT_HELPFUL)
                continue
            victims, status, violations = self.select_victims(state, pod, node)
            if status.success:
                candidates.append((node, victims, violations))
            else:
                node_statuses[node.name] = status
        if not candidates:
            message = str(FitError(len(self.handle.snapshot), node_statuses))
            return unschedulable(MESSAGE_PREFIX + message), PostFilterResult()
        node, victims, _ = min(candidates, key=_candidate_rank)
        return SUCCESS, PostFilterResult(node.name, victims)

    def eligible(self, pod: PodInfo) -> tuple[bool, str]:
        spec = pod.pod.get("spec") or {}
        if spec.get("preemptionPolicy") == "Never":
            return False, NOT_ELIGIBLE_NEVER
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName")
        node = self.handle.snapshot.get(nominated) if nominated else None
        if node is not None:
            for other in node.pods.values():
                meta = other.pod.get("metadata") or {}
                if meta.get("deletionTimestamp") and other.priority < pod.priority:
                    return False, NOT_ELIGIBLE_TERMINATING
        return True, ""

    def select_victims(
        self, state: CycleState, pod: PodInfo, node: NodeInfo
    ) -> tuple[list[PodInfo], Status, int]:
        """Upstream's SelectVictimsOnNode, on copies of the node and the cycle state.

        Returns the victims, the verdict, and how many victims a
        PodDisruptionBudget protects (those are tried first for reprieve).
        """
        node = node.clone()
        state = state.clone()
        potential = [p for p in node.pods.values() if p.priority < pod.priority]
        if not potential:
            return [], unresolvable(NO_VICTIMS), 0
        for victim in potential:
            node.remove_pod(victim.key)
            self.handle.run_remove_pod(state, pod, victim, node)
        status = self.handle.run_filters(state, pod, node)
        if not status.success:
            return [], status, 0
        violating, non_violating = split_by_budget(
            sorted(potential, key=importance), self.handle.pod_disruption_budgets()
        )
        victims: list[PodInfo] = []
        violations = 0
        for group, counts in ((violating, True), (non_violating, False)):
            for victim in group:
                if not self._reprieve(state, pod, node, victim):
                    victims.append(victim)
                    violations += counts
        return victims, SUCCESS, violations

    def _reprieve(self, state: CycleState, pod: PodInfo, node: NodeInfo, victim: PodInfo) -> bool:
        """Put ``victim`` back; keep it there if the pod still fits."""
        node.add_pod(victim)
        self.handle.run_add_pod(state, pod, victim, node)
        if self.handle.run_filters(state, pod, node).success:
            return True
        node.remove_pod(victim.key)
        self.handle.run_remove_pod(state, pod, victim, node)
        return False


def split_by_budget(
    pods: Sequence[PodInfo], budgets: Sequence[Mapping[str, Any]]
) -> tuple[list[PodInfo], list[PodInfo]]:
    """(pods whose eviction would break a PodDisruptionBudget, the others), order kept.

    As upstream's filterPodsWithPDBViolation: each matching budget's
    ``disruptionsAllowed`` is spent pod by pod; pods already listed in its
    ``disruptedPods`` do not spend it again; an empty selector matches nothing.
    """
    allowed = [int((b.get("status") or {}).get("disruptionsAllowed") or 0) for b in budgets]
    violating: list[PodInfo] = []
    others: list[PodInfo] = []
    for pod in pods:
        broken = False
        for i, budget in enumerate(budgets if pod.labels else ()):
            if _budget_covers(budget, pod):
                allowed[i] -= 1
                broken = broken or allowed[i] < 0
        (violating if broken else others).append(pod)
    return violating, others


def _budget_covers(budget: Mapping[str, Any], pod: PodInfo) -> bool:
    meta = budget.get("metadata") or {}
    if meta.get("namespace") != pod.namespace:
        return False
    try:
        selector = selectors.label_selector_as_selector((budget.get("spec") or {}).get("selector"))
    except selectors.SelectorError:
        return False
    if selector.empty or not selector.matches(pod.labels):
        return False
    return pod.name not in ((budget.get("status") or {}).get("disruptedPods") or {})


def _candidate_rank(
    candidate: tuple[NodeInfo, list[PodInfo], int],
) -> tuple[int, int, int, int, str]:
    """Smaller is better: pickOneNodeForPreemption's criteria in order."""
    _, victims, violations = candidate
    if not victims:
        return (violations, -(2**63), -(2**63), 0, "")
    highest = max(v.priority for v in victims)
    total = sum(v.priority for v in victims)
    # Latest start among the highest-priority victims wins: negate by sorting on "~" - t.
    earliest = min(start_time(v) for v in victims if v.priority == highest)
    return (violations, highest, total, len(victims), _descending(earliest))


def _descending(text: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in text)


def new(args: Mapping[str, Any] | None, handle: Handle) -> DefaultPreemption:
    return DefaultPreemption(args, handle)
