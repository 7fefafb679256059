"""Label selectors in validation: their syntax, matching, and the Go form of messages.

Workload validation checks that ``spec.selector`` is well formed and selects
the pod template's labels; selector immutability errors print the selector
the way Go prints a ``v1.LabelSelector`` (``v1.LabelSelector{MatchLabels:
map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}``),
which is what users see from a real cluster.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, field_forbidden, invalid, required
from tinykube.api.validation import names
from tinykube.api.validation.common import (
    IMMUTABLE,
    as_dict,
    as_list,
    child,
    index,
    invalid_json,
    sorted_map,
)
from tinykube.api.validation.objectmeta import validate_labels

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
SELECTOR_MISMATCH = "`selector` does not match template `labels`"


def validate_label_selector(selector: dict[str, Any], path: str) -> list[FieldError]:
    errs = validate_labels(as_dict(selector.get("matchLabels")), child(path, "matchLabels"))
    for i, req in enumerate(as_list(selector.get("matchExpressions"))):
        req = as_dict(req)
        rpath = index(child(path, "matchExpressions"), i)
        op = req.get("operator")
        values = as_list(req.get("values"))
        if op in ("In", "NotIn") and not values:
            detail = "must be specified when `operator` is 'In' or 'NotIn'"
            errs.append(required(child(rpath, "values"), detail))
        elif op in ("Exists", "DoesNotExist") and values:
            detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            errs.append(field_forbidden(child(rpath, "values"), detail))
        elif op not in OPERATORS:
            errs.append(invalid(child(rpath, "operator"), op, "not a valid selector operator"))
        k = req.get("key") or ""
        errs += [invalid(child(rpath, "key"), k, m) for m in names.is_qualified_name(k)]
    return errs


def is_empty(selector: dict[str, Any]) -> bool:
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    """Whether a ``LabelSelector`` selects ``labels`` (an empty selector selects all)."""
    for k, v in as_dict(selector.get("matchLabels")).items():
        if labels.get(k) != v:
            return False
    for req in as_list(selector.get("matchExpressions")):
        req = as_dict(req)
        k, op, values = req.get("key"), req.get("operator"), as_list(req.get("values"))
        present = k in labels
        if op == "In" and not (present and labels[k] in values):
            return False
        if op == "NotIn" and present and labels[k] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def selector_json(selector: Any) -> dict[str, Any]:
    """A ``metav1.LabelSelector`` as Go marshals it: field order, omitempty, sorted labels."""
    selector = as_dict(selector)
    out: dict[str, Any] = {}
    if selector.get("matchLabels"):
        out["matchLabels"] = sorted_map(selector["matchLabels"])
    requirements = []
    for req in as_list(selector.get("matchExpressions")):
        req = as_dict(req)
        item: dict[str, Any] = {"key": req.get("key", ""), "operator": req.get("operator", "")}
        if req.get("values"):
            item["values"] = req["values"]
        requirements.append(item)
    if requirements:
        out["matchExpressions"] = requirements
    return out


def selector_immutable(path: str, new: Any, old: Any) -> list[FieldError]:
    """``spec.selector: Invalid value: {"matchLabels":{...}}: field is immutable``."""
    if _normal(new) == _normal(old):
        return []
    return [invalid_json(path, selector_json(new), IMMUTABLE)]


def _normal(selector: Any) -> Any:
    selector = as_dict(selector)
    return (
        as_dict(selector.get("matchLabels")) or None,
        as_list(selector.get("matchExpressions")) or None,
    )
