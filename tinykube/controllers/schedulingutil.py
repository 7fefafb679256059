"""Node selection rules a controller must evaluate itself: node selectors, required node
affinity, taints and tolerations (upstream ``component-helpers/scheduling/corev1``).

The DaemonSet controller decides which nodes should run a daemon Pod before
any scheduler sees it, with the same rules the scheduler applies, so these
functions follow the scheduler's semantics exactly: a Pod's ``nodeSelector``
must match every label; its required node affinity matches when any term
matches, a term when all its requirements do, and an empty term matches
nothing; a taint is tolerated by a toleration of the same effect (or none),
the same key (or none with Exists) and the same value (with Equal).

Controllers may not import the scheduler (each component sees only the API),
so this is a separate copy of those rules over plain dicts; they are small
and stable, and the unit tables pin both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

Obj = dict[str, Any]


def _requirement_matches(req: Mapping[str, Any], value: str | None) -> bool:
    op = req.get("operator")
    values = req.get("values") or []
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            have, bound = int(value), int(values[0])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def term_matches(term: Mapping[str, Any], node: Obj) -> bool:
    """A NodeSelectorTerm: every expression on labels and every field requirement holds."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    if not all(_requirement_matches(r, labels.get(r.get("key", ""))) for r in expressions):
        return False
    for req in fields:
        if req.get("key") != "metadata.name":
            return False
        if not _requirement_matches(req, meta.get("name")):
            return False
    return True


def node_selector_matches(selector: Mapping[str, Any] | None, node: Obj) -> bool:
    """A NodeSelector (ORed terms); a missing selector matches every node."""
    if selector is None:
        return True
    return any(term_matches(t, node) for t in selector.get("nodeSelectorTerms") or [])


def required_affinity_matches(pod_spec: Mapping[str, Any], node: Obj) -> bool:
    """``nodeSelector`` and required node affinity together (GetRequiredNodeAffinity.Match)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    affinity = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    return node_selector_matches(affinity, node)


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated_taint(
    taints: Sequence[Mapping[str, Any]],
    tolerations: Sequence[Mapping[str, Any]],
    considered: Callable[[Mapping[str, Any]], bool],
) -> Mapping[str, Any] | None:
    """The first ``considered`` taint no toleration tolerates (FindMatchingUntoleratedTaint)."""
    for taint in taints:
        if considered(taint) and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None
