"""Label selectors: the ``?labelSelector=`` grammar, metav1.LabelSelector, and their text.

Three producers meet here. Clients send selector strings (``app=web,tier in
(a,b),!canary``) that the API server parses for list and watch; objects carry
``metav1.LabelSelector`` dicts (``matchLabels`` + ``matchExpressions``) that
controllers and the scheduler evaluate; and the Table printers render either
one back as text. All three end as the same :class:`Selector`, a sorted tuple
of :class:`Requirement` values ANDed together, so matching and printing never
disagree.

The parser follows apimachinery's ``labels.Parse`` token for token (a lexer,
then a recursive descent with one token of lookahead) because clients see its
error strings verbatim in ``400 BadRequest`` responses. Two semantics are easy
to mix up and are kept apart on purpose: a *missing* LabelSelector selects
nothing (``Selector.nothing()``), an *empty* one selects everything.

Inside the package: ``_syntax`` holds the label key/value rules and message
helpers, ``_model`` the requirement and selector types, ``_grammar`` the
lexer and parser; this module adds the LabelSelector conversions and printing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tinykube.api import errors
from tinykube.api.selectors._grammar import parse_requirements
from tinykube.api.selectors._model import Operator, Requirement, Selector, new_requirement
from tinykube.api.selectors._syntax import SelectorError, label_key_errors, label_value_errors

__all__ = [
    "Operator",
    "Requirement",
    "Selector",
    "SelectorError",
    "format_labels",
    "from_label_selector",
    "label_key_errors",
    "label_selector_as_selector",
    "label_value_errors",
    "new_requirement",
    "parse",
    "parse_requirements",
    "to_string",
]


def parse(text: str) -> Selector:
    """Parse ``?labelSelector=``; a bad selector is a ``400 BadRequest`` as upstream answers."""
    try:
        return parse_requirements(text)
    except SelectorError as err:
        raise errors.BadRequest(str(err)) from None


# ---- metav1.LabelSelector ---------------------------------------------------

_EXPRESSION_OPS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def label_selector_as_selector(sel: Mapping[str, Any] | None) -> Selector:
    """metav1.LabelSelectorAsSelector; raises :class:`SelectorError` on a bad selector.

    None selects nothing; ``{}`` (no matchLabels, no matchExpressions) selects everything.
    """
    if sel is None:
        return Selector.nothing()
    match_labels = sel.get("matchLabels") or {}
    expressions = sel.get("matchExpressions") or []
    reqs = [new_requirement(k, Operator.EQUALS, [v]) for k, v in sorted(match_labels.items())]
    for expr in expressions:
        op = _EXPRESSION_OPS.get(expr.get("operator", ""))
        if op is None:
            shown = errors.render_value(expr.get("operator", ""))
            raise SelectorError(f"{shown} is not a valid label selector operator")
        reqs.append(new_requirement(expr.get("key", ""), op, expr.get("values") or []))
    return Selector(tuple(sorted(reqs, key=lambda r: r.key)))


def from_label_selector(sel: Mapping[str, Any] | None) -> Selector:
    """Like :func:`label_selector_as_selector`, but a bad selector is a ``400 BadRequest``."""
    try:
        return label_selector_as_selector(sel)
    except SelectorError as err:
        raise errors.BadRequest(str(err)) from None


def to_string(sel: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: ``app=web,tier in (a,b)``; ``<none>`` if empty or nil."""
    try:
        text = str(label_selector_as_selector(sel))
    except SelectorError:
        return "<error>"
    return text or "<none>"


def format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels: sorted ``k=v`` pairs joined by commas; ``<none>`` if empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))
