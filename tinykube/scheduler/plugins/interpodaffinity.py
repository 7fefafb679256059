"""InterPodAffinity: place pods near (affinity) or away from (anti-affinity) other pods.

A term names pods (label selector + namespaces) and a topology key; "near"
means on a node whose value for that key (a hostname, a zone) equals the value
of a node running such a pod. Upstream's algorithm, kept because it turns the
per-node check into a dictionary lookup:

- pre_filter walks the pods once and counts, per (topologyKey, value):
  pods matching the new pod's required affinity terms, pods matching its
  required anti-affinity terms, and existing pods whose own required
  anti-affinity terms match the new pod;
- filter reads those counts for the node's labels.

The first pod of a group with affinity to itself would never schedule (no
pod matches yet); as upstream, it may go anywhere with the topology label
when no pod in the cluster matches and it matches its own terms.

Score sums, per topology pair, the weights of preferred terms both ways (the
new pod's preferences about existing pods, existing pods' preferences and
required affinity, at ``hardPodAffinityWeight``, about the new pod), then
min-max scales them to 0..100.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tinykube.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    SUCCESS,
    AffinityTerm,
    CycleState,
    Handle,
    NodeInfo,
    PodInfo,
    Snapshot,
    Status,
    unresolvable,
    unschedulable,
)

NAME = "InterPodAffinity"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
DEFAULT_HARD_POD_AFFINITY_WEIGHT = 1
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME

Pair = tuple[str, str]


class _FilterState:
    __slots__ = ("affinity", "anti_affinity", "existing_anti_affinity")

    def __init__(self) -> None:
        self.affinity: dict[Pair, int] = {}
        self.anti_affinity: dict[Pair, int] = {}
        self.existing_anti_affinity: dict[Pair, int] = {}

    def clone(self) -> _FilterState:
        copy = _FilterState()
        copy.affinity = dict(self.affinity)
        copy.anti_affinity = dict(self.anti_affinity)
        copy.existing_anti_affinity = dict(self.existing_anti_affinity)
        return copy


def _count(counts: dict[Pair, int], node: NodeInfo, key: str, delta: int) -> None:
    value = node.labels.get(key)
    if value is not None:
        counts[(key, value)] = counts.get((key, value), 0) + delta


class InterPodAffinity:
    name = NAME

    def __init__(self, args: Mapping[str, Any] | None, handle: Handle) -> None:
        self.handle = handle
        self.hard_weight = int(
            (args or {}).get("hardPodAffinityWeight", DEFAULT_HARD_POD_AFFINITY_WEIGHT)
        )

    def _matches(self, term: AffinityTerm, pod: PodInfo) -> bool:
        ns_labels = None
        if not term.namespace_selector.selects_nothing:
            ns_labels = self.handle.namespace_labels(pod.namespace)
        return term.matches(pod, ns_labels)

    # ---- filter ----

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Snapshot) -> Status:
        with_anti = nodes.have_pods_with_required_anti_affinity()
        if not pod.required_affinity and not pod.required_anti_affinity and not with_anti:
            return SKIP
        s = _FilterState()
        for node in with_anti:
            for existing in node.pods_with_required_anti_affinity.values():
                for term in existing.required_anti_affinity:
                    if self._matches(term, pod):
                        _count(s.existing_anti_affinity, node, term.topology_key, 1)
        if pod.required_affinity or pod.required_anti_affinity:
            for node in nodes:
                self._count_incoming_terms(s, pod, node)
        state[_PRE_FILTER_KEY] = s
        return SUCCESS

    def _count_incoming_terms(self, s: _FilterState, pod: PodInfo, node: NodeInfo) -> None:
        for existing in node.pods.values():
            if pod.required_affinity and all(
                self._matches(t, existing) for t in pod.required_affinity
            ):
                for term in pod.required_affinity:
                    _count(s.affinity, node, term.topology_key, 1)
            for term in pod.required_anti_affinity:
                if self._matches(term, existing):
                    _count(s.anti_affinity, node, term.topology_key, 1)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        s: _FilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None:
            return SUCCESS
        if not self._satisfies_affinity(s, pod, node):
            return unresolvable(ERR_REASON_AFFINITY)
        for term in pod.required_anti_affinity:
            value = node.labels.get(term.topology_key)
            if value is not None and s.anti_affinity.get((term.topology_key, value), 0) > 0:
                return unschedulable(ERR_REASON_ANTI_AFFINITY)
        if s.existing_anti_affinity:
            for pair in node.labels.items():
                if s.existing_anti_affinity.get(pair, 0) > 0:
                    return unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY)
        return SUCCESS

    def _satisfies_affinity(self, s: _FilterState, pod: PodInfo, node: NodeInfo) -> bool:
        pods_exist = True
        for term in pod.required_affinity:
            value = node.labels.get(term.topology_key)
            if value is None:
                return False  # every topology label must exist on the node
            if s.affinity.get((term.topology_key, value), 0) <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # The first pod of a series with affinity to itself.
        return not s.affinity and all(self._matches(t, pod) for t in pod.required_affinity)

    # ---- preemption keeps the counts current while it removes victims ----

    def remove_pod(self, state: CycleState, pod: PodInfo, victim: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, victim, node, -1)

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, other, node, 1)

    def _update(
        self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, d: int
    ) -> None:
        s: _FilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None:
            return
        for term in other.required_anti_affinity:
            if self._matches(term, pod):
                _count(s.existing_anti_affinity, node, term.topology_key, d)
        if pod.required_affinity and all(self._matches(t, other) for t in pod.required_affinity):
            for term in pod.required_affinity:
                _count(s.affinity, node, term.topology_key, d)
        for term in pod.required_anti_affinity:
            if self._matches(term, other):
                _count(s.anti_affinity, node, term.topology_key, d)

    # ---- score ----

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        has_preferred = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
        snapshot = self.handle.snapshot
        candidates: Iterable[NodeInfo] = (
            snapshot.node_infos if has_preferred else snapshot.have_pods_with_affinity()
        )
        scores: dict[Pair, int] = {}
        for node in candidates:
            existing_pods = (
                node.pods.values() if has_preferred else node.pods_with_affinity.values()
            )
            for existing in existing_pods:
                self._score_existing(scores, pod, existing, node)
        if not scores:
            return SKIP
        state[_PRE_SCORE_KEY] = scores
        return SUCCESS

    def _score_existing(
        self, scores: dict[Pair, int], pod: PodInfo, existing: PodInfo, node: NodeInfo
    ) -> None:
        for term in pod.preferred_affinity:
            if self._matches(term, existing):
                _count(scores, node, term.topology_key, term.weight)
        for term in pod.preferred_anti_affinity:
            if self._matches(term, existing):
                _count(scores, node, term.topology_key, -term.weight)
        if self.hard_weight > 0:
            for term in existing.required_affinity:
                if self._matches(term, pod):
                    _count(scores, node, term.topology_key, self.hard_weight)
        for term in existing.preferred_affinity:
            if self._matches(term, pod):
                _count(scores, node, term.topology_key, term.weight)
        for term in existing.preferred_anti_affinity:
            if self._matches(term, pod):
                _count(scores, node, term.topology_key, -term.weight)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scores: dict[Pair, int] = state.get(_PRE_SCORE_KEY) or {}
        total = 0
        for pair in node.labels.items():
            total += scores.get(pair, 0)
        return total

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        if not state.get(_PRE_SCORE_KEY) or not scores:
            return
        low, high = min(scores), max(scores)
        spread = high - low
        for i, s in enumerate(scores):
            scores[i] = int(MAX_NODE_SCORE * (s - low) / spread) if spread > 0 else 0


def new(args: Mapping[str, Any] | None, handle: Handle) -> InterPodAffinity:
    return InterPodAffinity(args, handle)
