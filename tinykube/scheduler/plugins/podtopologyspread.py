"""PodTopologySpread: keep matching pods evenly spread over zones, hosts, any topology.

For each constraint, the *skew* of a domain (a value of ``topologyKey``) is
its number of matching pods, plus one if the new pod matches too, minus the
smallest number in any eligible domain. ``DoNotSchedule`` constraints filter
out nodes where the skew would exceed ``maxSkew``; ``ScheduleAnyway`` ones
only score (fewer matching pods nearby, better score).

Which nodes count (upstream's semantics): only nodes that carry every
constraint's topology key; with ``nodeAffinityPolicy: Honor`` (the default)
only nodes the pod's nodeSelector/affinity allows; with ``nodeTaintsPolicy:
Honor`` only nodes whose taints it tolerates (default Ignore). ``minDomains``
makes the global minimum 0 while there are fewer eligible domains.
``matchLabelKeys`` adds the pod's own values of those labels to the selector.

A pod without constraints gets the cluster defaults (``defaultingType:
System``: hostname maxSkew 3 and zone maxSkew 5, both ScheduleAnyway) over the
selector of the Services/ReplicaSets/StatefulSets that own it, supplied by the
framework handle, so a Deployment's replicas spread without anyone asking.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tinykube.api import selectors
from tinykube.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    SUCCESS,
    CycleState,
    Handle,
    NodeInfo,
    PodInfo,
    RequiredNodeAffinity,
    Snapshot,
    Status,
    pod_tolerations,
    unresolvable,
    unschedulable,
    untolerated_hard_taint,
)

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
SYSTEM_DEFAULT_CONSTRAINTS = (
    {"maxSkew": 3, "topologyKey": HOSTNAME, "whenUnsatisfiable": "ScheduleAnyway"},
    {"maxSkew": 5, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway"},
)
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: selectors.Selector
    min_domains: int
    honor_affinity: bool
    honor_taints: bool


def _selector(pod: PodInfo, raw: Mapping[str, Any]) -> selectors.Selector:
    sel = selectors.label_selector_as_selector(raw.get("labelSelector"))
    extra = [
        selectors.Requirement(key, selectors.Operator.IN, (pod.labels[key],))
        for key in raw.get("matchLabelKeys") or []
        if key in pod.labels
    ]
    if not extra or sel.selects_nothing:
        return sel
    reqs = sorted((*sel.requirements, *extra), key=lambda r: r.key)
    return selectors.Selector(tuple(reqs))


def _constraint(
    pod: PodInfo, raw: Mapping[str, Any], selector: selectors.Selector | None = None
) -> Constraint:
    return Constraint(
        int(raw.get("maxSkew") or 1),
        raw.get("topologyKey", ""),
        selector if selector is not None else _selector(pod, raw),
        int(raw.get("minDomains") or 1),
        (raw.get("nodeAffinityPolicy") or "Honor") == "Honor",
        (raw.get("nodeTaintsPolicy") or "Ignore") == "Honor",
    )


class _FilterState:
    __slots__ = ("constraints", "counts", "domains")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.counts: dict[Pair, int] = {}
        self.domains: list[set[str]] = [set() for _ in constraints]

    def clone(self) -> _FilterState:
        copy = _FilterState(self.constraints)
        copy.counts = dict(self.counts)
        copy.domains = [set(d) for d in self.domains]
        return copy

    def min_match(self, i: int) -> int:
        c = self.constraints[i]
        if len(self.domains[i]) < c.min_domains:
            return 0
        return min((self.counts.get((c.topology_key, v), 0) for v in self.domains[i]), default=0)


def _counts(pod: PodInfo, selector: selectors.Selector, node: NodeInfo) -> int:
    n = 0
    for other in node.pods.values():
        if (
            other.namespace == pod.namespace
            and not (other.pod.get("metadata") or {}).get("deletionTimestamp")
            and selector.matches(other.labels)
        ):
            n += 1
    return n


class PodTopologySpread:
    name = NAME

    def __init__(self, args: Mapping[str, Any] | None, handle: Handle) -> None:
        args = args or {}
        self.handle = handle
        self.defaulting = args.get("defaultingType") or "System"
        if self.defaulting == "System":
            self.default_constraints: Sequence[Mapping[str, Any]] = SYSTEM_DEFAULT_CONSTRAINTS
        else:
            self.default_constraints = args.get("defaultConstraints") or []

    def constraints(self, pod: PodInfo, when: str) -> list[Constraint]:
        own = (pod.pod.get("spec") or {}).get("topologySpreadConstraints") or []
        if own:
            return [_constraint(pod, c) for c in own if c.get("whenUnsatisfiable") == when]
        if not self.default_constraints:
            return []
        selector = self.handle.default_spread_selector(pod.pod)
        if selector.selects_nothing or selector.empty:
            return []
        return [
            _constraint(pod, c, selector)
            for c in self.default_constraints
            if c.get("whenUnsatisfiable") == when
        ]

    def _eligible(
        self, pod: PodInfo, c: Constraint, node: NodeInfo, affinity: RequiredNodeAffinity
    ) -> bool:
        if c.honor_affinity and not affinity.matches(node):
            return False
        return not (c.honor_taints and untolerated_hard_taint(node, pod_tolerations(pod)))

    # ---- filter ----

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Snapshot) -> Status:
        constraints = self.constraints(pod, "DoNotSchedule")
        if not constraints:
            return SKIP
        s = _FilterState(constraints)
        affinity = RequiredNodeAffinity.of(pod.pod)
        for node in nodes:
            if not all(c.topology_key in node.labels for c in constraints):
                continue
            for i, c in enumerate(constraints):
                if not self._eligible(pod, c, node, affinity):
                    continue
                value = node.labels[c.topology_key]
                s.domains[i].add(value)
                pair = (c.topology_key, value)
                s.counts[pair] = s.counts.get(pair, 0) + _counts(pod, c.selector, node)
        state[_PRE_FILTER_KEY] = s
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        s: _FilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None:
            return SUCCESS
        for i, c in enumerate(s.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                return unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH)
            self_match = 1 if c.selector.matches(pod.labels) else 0
            skew = s.counts.get((c.topology_key, value), 0) + self_match - s.min_match(i)
            if skew > c.max_skew:
                return unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH)
        return SUCCESS

    def remove_pod(self, state: CycleState, pod: PodInfo, victim: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, victim, node, -1)

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, other, node, 1)

    def _update(
        self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, d: int
    ) -> None:
        s: _FilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None or other.namespace != pod.namespace:
            return
        for c in s.constraints:
            value = node.labels.get(c.topology_key)
            if value is not None and c.selector.matches(other.labels):
                pair = (c.topology_key, value)
                s.counts[pair] = s.counts.get(pair, 0) + d

    # ---- score ----

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        constraints = self.constraints(pod, "ScheduleAnyway")
        if not constraints:
            return SKIP
        own = bool((pod.pod.get("spec") or {}).get("topologySpreadConstraints"))
        require_all = own or self.defaulting != "System"
        ignored = {
            n.name
            for n in nodes
            if require_all and not all(c.topology_key in n.labels for c in constraints)
        }
        counts: dict[Pair, int] = {}
        for n in nodes:
            if n.name in ignored:
                continue
            for c in constraints:
                if c.topology_key != HOSTNAME and c.topology_key in n.labels:
                    counts[(c.topology_key, n.labels[c.topology_key])] = 0
        affinity = RequiredNodeAffinity.of(pod.pod)
        if len(counts):
            for node in self.handle.snapshot:
                for c in constraints:
                    value = node.labels.get(c.topology_key)
                    pair = (c.topology_key, value or "")
                    if pair in counts and self._eligible(pod, c, node, affinity):
                        counts[pair] += _counts(pod, c.selector, node)
        weights = [self._weight(c, counts, len(nodes) - len(ignored)) for c in constraints]
        state[_PRE_SCORE_KEY] = (constraints, counts, weights, ignored, [n.name for n in nodes])
        return SUCCESS

    @staticmethod
    def _weight(c: Constraint, counts: Mapping[Pair, int], num_nodes: int) -> float:
        size = (
            num_nodes
            if c.topology_key == HOSTNAME
            else sum(1 for k, _ in counts if k == c.topology_key)
        )
        return math.log(size + 2)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        constraints, counts, weights, ignored, _ = state[_PRE_SCORE_KEY]
        if node.name in ignored:
            return 0
        total = 0.0
        for c, weight in zip(constraints, weights, strict=True):
            value = node.labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == HOSTNAME:
                count = _counts(pod, c.selector, node)
            else:
                count = counts.get((c.topology_key, value), 0)
            total += count * weight + (c.max_skew - 1)
        return math.floor(total + 0.5)

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        _, _, _, ignored, names = state[_PRE_SCORE_KEY]
        kept = [s for s, name in zip(scores, names, strict=True) if name not in ignored]
        low, high = min(kept, default=0), max(kept, default=0)
        for i, name in enumerate(names):
            if name in ignored:
                scores[i] = 0
            elif high == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (high + low - scores[i]) // high


def new(args: Mapping[str, Any] | None, handle: Handle) -> PodTopologySpread:
    return PodTopologySpread(args, handle)
