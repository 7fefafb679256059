"""Shared node-selection rules: tolerations, node selector terms, required node affinity.

TaintToleration, NodeUnschedulable, NodeAffinity, PodTopologySpread and
preemption all need them, and plugins may not import each other, so they
live in the framework (upstream keeps them in component-helpers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tinykube.api import selectors
from tinykube.scheduler.framework.types import NodeInfo, PodInfo

Obj = dict[str, Any]

# ---- tolerations (shared by TaintToleration, NodeUnschedulable and preemption) ----


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """``Toleration.ToleratesTaint``: effect (empty = all), key (empty + Exists = all), value."""
    effect = toleration.get("effect", "")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key", "")
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerated(tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def pod_tolerations(pod: PodInfo) -> list[Obj]:
    return (pod.pod.get("spec") or {}).get("tolerations") or []


# ---- node selectors (NodeAffinity, PodTopologySpread and preemption all need them) ----

_NODE_OPS = {
    "In": selectors.Operator.IN,
    "NotIn": selectors.Operator.NOT_IN,
    "Exists": selectors.Operator.EXISTS,
    "DoesNotExist": selectors.Operator.DOES_NOT_EXIST,
    "Gt": selectors.Operator.GREATER_THAN,
    "Lt": selectors.Operator.LESS_THAN,
}


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    """One nodeSelectorTerm: matchExpressions on labels AND matchFields on metadata.name.

    A term with no requirements, or with an unknown operator, matches nothing
    (upstream turns a parse error into "no match" for that term).
    """

    labels: tuple[selectors.Requirement, ...]
    fields: tuple[selectors.Requirement, ...]
    valid: bool

    @classmethod
    def parse(cls, term: Mapping[str, Any]) -> NodeSelectorTerm:
        valid = True

        def reqs(items: Sequence[Mapping[str, Any]]) -> tuple[selectors.Requirement, ...]:
            nonlocal valid
            out = []
            for item in items:
                op = _NODE_OPS.get(item.get("operator", ""))
                if op is None:
                    valid = False
                    continue
                out.append(
                    selectors.Requirement(item.get("key", ""), op, tuple(item.get("values") or ()))
                )
            return tuple(out)

        labels = reqs(term.get("matchExpressions") or [])
        fields = reqs(term.get("matchFields") or [])
        return cls(labels, fields, valid and bool(labels or fields))

    def matches(self, node: NodeInfo) -> bool:
        if not self.valid:
            return False
        if not all(r.matches(node.labels) for r in self.labels):
            return False
        if self.fields:
            node_fields = {"metadata.name": node.name}
            return all(r.matches(node_fields) for r in self.fields)
        return True


@dataclass(frozen=True, slots=True)
class RequiredNodeAffinity:
    """``spec.nodeSelector`` AND ``requiredDuringScheduling...nodeSelectorTerms`` (terms ORed).

    ``GetRequiredNodeAffinity(pod).Match(node)`` upstream: what NodeAffinity
    filters on, and which nodes PodTopologySpread counts (nodeAffinityPolicy Honor).
    """

    node_selector: tuple[tuple[str, str], ...]
    terms: tuple[NodeSelectorTerm, ...] | None

    @classmethod
    def of(cls, pod: Mapping[str, Any]) -> RequiredNodeAffinity:
        spec = pod.get("spec") or {}
        node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
        required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        terms = None
        if required is not None:
            terms = tuple(
                NodeSelectorTerm.parse(t) for t in required.get("nodeSelectorTerms") or []
            )
        return cls(tuple(sorted((spec.get("nodeSelector") or {}).items())), terms)

    @property
    def empty(self) -> bool:
        return not self.node_selector and self.terms is None

    def matches(self, node: NodeInfo) -> bool:
        labels = node.labels
        for key, value in self.node_selector:
            if labels.get(key) != value:
                return False
        if self.terms is None:
            return True
        return any(term.matches(node) for term in self.terms)


def untolerated_hard_taint(node: NodeInfo, tolerations: Sequence[Mapping[str, Any]]) -> Obj | None:
    """The first NoSchedule/NoExecute taint of ``node`` that ``tolerations`` do not tolerate."""
    for taint in node.taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(tolerations, taint):
            return taint
    return None
