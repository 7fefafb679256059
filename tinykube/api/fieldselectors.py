"""Field selectors: ``?fieldSelector=`` parsing, per-kind field sets and matching.

A field selector is a comma-joined AND of ``field=value``, ``field==value``
and ``field!=value`` terms. In a value, ``\\``, ``,`` and ``=`` are escaped
with a backslash (apimachinery ``fields.EscapeValue``); field names are never
escaped, so a term splits at its first operator.

Each kind supports only a fixed set of fields, and Kubernetes enforces that in
two places that this module keeps separate, as upstream does:

* the *field label conversion* of the kind's group version decides which
  names a client may use (and renames a few: Pods' legacy ``spec.host``,
  events.k8s.io's ``regarding.*`` and ``reportingController``); an unknown name
  is a ``400 BadRequest`` whose text depends on whether the kind registers its
  own conversion (``field label not supported: x``) or falls back to the
  default one (``"x" is not a known field selector: only "metadata.name",
  "metadata.namespace"``);
* the kind's *selectable fields* (``GetAttrs``/``ToSelectableFields``) render
  an object as a flat ``{field: string}`` map; a field that is missing there
  reads as ``""``. Booleans print as ``true``/``false``, counts as decimals.

The watch cache asks :meth:`FieldSelector.requirements` for the terms so it can
serve ``spec.nodeName=<node>`` and ``metadata.name=<x>`` from an index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tinykube.api import errors
from tinykube.api.resources import Resource

Obj = Mapping[str, Any]

EQUALS = "="
NOT_EQUALS = "!="
# "==" is tried before "=" so that it never leaves a stray "=" on the value.
_OPERATORS = ("!=", "==", "=")


@dataclass(frozen=True)
class Term:
    """One ``field op value`` requirement; ``op`` is ``=`` (also for ``==``) or ``!=``."""

    field: str
    op: str
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        have = fields.get(self.field, "")
        return have == self.value if self.op == EQUALS else have != self.value

    def __str__(self) -> str:
        return f"{self.field}{self.op}{escape_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """An AND of terms over one resource's selectable fields."""

    resource: Resource
    terms: tuple[Term, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def requirements(self) -> list[tuple[str, str, str]]:
        """``(field, op, value)`` triples with canonical field names, ``op`` ``=`` or ``!=``."""
        return [(t.field, t.op, t.value) for t in self.terms]

    def requires_exact_match(self, field: str) -> str | None:
        """The value an ``=`` term demands for ``field``, if there is one (index lookups)."""
        for term in self.terms:
            if term.field == field and term.op == EQUALS:
                return term.value
        return None

    def matches(self, obj: Obj) -> bool:
        if not self.terms:
            return True
        fields = selectable_fields(self.resource, obj)
        return all(t.matches(fields) for t in self.terms)

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


# ---- grammar ------------------------------------------------------------------


def escape_value(value: str) -> str:
    """fields.EscapeValue: backslash-escape ``\\``, ``,`` and ``=``."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_value(value: str) -> str:
    """fields.UnescapeValue; raises BadRequest on a bad escape or a bare ``,``/``=``."""
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise errors.BadRequest(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            # Go prints the rune with %v, i.e. as its code point number.
            raise errors.BadRequest(
                f"invalid field selector: unescaped character in value: {ord(ch)}"
            )
        else:
            out.append(ch)
    if escaped:
        raise errors.BadRequest("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not backslash-escaped; escapes stay in the pieces."""
    if not text:
        return []
    terms: list[str] = []
    start, escaped = 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in _OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def parse_terms(text: str) -> list[Term]:
    """fields.ParseSelector without the per-kind conversion: raw names, unescaped values."""
    terms: list[Term] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise errors.BadRequest(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, raw = split
        terms.append(Term(field, NOT_EQUALS if op == "!=" else EQUALS, unescape_value(raw)))
    return terms


def parse(text: str, res: Resource) -> FieldSelector:
    """Parse ``?fieldSelector=`` for ``res``; unknown fields and bad syntax are BadRequest."""
    converted = [Term(convert_field_label(res, t.field), t.op, t.value) for t in parse_terms(text)]
    return FieldSelector(res, tuple(converted))


# ---- field label conversion (which names a client may use) ----------------------

_META = ("metadata.name", "metadata.namespace")
_REF_KEYS = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
_EVENT_FIELDS = (
    *(f"involvedObject.{k}" for k in _REF_KEYS),
    "reason",
    "reportingComponent",
    "source",
    "type",
    *_META,
)
_POD_FIELDS = (
    *_META,
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
)

# (group, kind) -> {name a client may send: canonical field}. Kinds not listed
# use the default conversion, which knows only the two metadata fields.
_CONVERSIONS: dict[tuple[str, str], dict[str, str]] = {
    ("", "Pod"): {**{f: f for f in _POD_FIELDS}, "spec.host": "spec.nodeName"},
    ("", "Node"): {f: f for f in ("metadata.name", "spec.unschedulable")},
    ("", "ReplicationController"): {f: f for f in (*_META, "status.replicas")},
    ("", "Event"): {f: f for f in _EVENT_FIELDS},
    ("", "Namespace"): {f: f for f in ("status.phase", "metadata.name")},
    ("", "Secret"): {f: f for f in ("type", *_META)},
    ("", "Service"): {f: f for f in (*_META, "spec.clusterIP", "spec.type")},
    ("batch", "Job"): {f: f for f in (*_META, "status.successful")},
    ("events.k8s.io", "Event"): {
        "reason": "reason",
        **{f"regarding.{k}": f"involvedObject.{k}" for k in _REF_KEYS},
        "reportingController": "reportingComponent",
        "source": "source",
        "type": "type",
        "metadata.namespace": "metadata.namespace",
        "metadata.name": "metadata.name",
    },
}


def convert_field_label(res: Resource, label: str) -> str:
    """The canonical field for ``label`` on ``res``, or BadRequest with upstream's text."""
    table = _CONVERSIONS.get((res.group, res.kind))
    if table is None:
        if label in _META:
            return label
        raise errors.BadRequest(
            f"{errors.render_value(label)} is not a known field selector: "
            'only "metadata.name", "metadata.namespace"'
        )
    if label not in table:
        raise errors.BadRequest(f"field label not supported: {label}")
    return table[label]


def supported_fields(res: Resource) -> list[str]:
    """The field names a client may put in a selector for ``res``."""
    table = _CONVERSIONS.get((res.group, res.kind))
    return list(table) if table is not None else list(_META)


# ---- selectable fields (how an object reads) ------------------------------------


def _get(obj: Obj, *path: str) -> Any:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def _text(value: Any) -> str:
    """A field value as Go formats it: bools as true/false, None as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pod_fields(pod: Obj) -> dict[str, str]:
    ips = _get(pod, "status", "podIPs") or []
    first_ip = ips[0].get("ip", "") if ips and isinstance(ips[0], Mapping) else ""
    return {
        "spec.nodeName": _text(_get(pod, "spec", "nodeName")),
        "spec.restartPolicy": _text(_get(pod, "spec", "restartPolicy")),
        "spec.schedulerName": _text(_get(pod, "spec", "schedulerName")),
        "spec.serviceAccountName": _text(_get(pod, "spec", "serviceAccountName")),
        "spec.hostNetwork": _text(bool(_get(pod, "spec", "hostNetwork"))),
        "status.phase": _text(_get(pod, "status", "phase")),
        # Upstream accepts status.podIPs in selectors but never fills it in,
        # so it always reads as "" there too.
        # A v1 object may carry only the legacy podIP; conversion fills podIPs from it.
        "status.podIP": first_ip or _text(_get(pod, "status", "podIP")),
        "status.nominatedNodeName": _text(_get(pod, "status", "nominatedNodeName")),
    }


def _event_fields(ev: Obj) -> dict[str, str]:
    """Core Events and events.k8s.io Events are one object in two shapes."""
    ref = ev.get("involvedObject") or ev.get("regarding") or {}
    source = ev.get("source") or ev.get("deprecatedSource") or {}
    controller = _text(ev.get("reportingController") or ev.get("reportingComponent"))
    fields = {f"involvedObject.{k}": _text(ref.get(k)) for k in _REF_KEYS}
    fields.update(
        reason=_text(ev.get("reason")),
        reportingComponent=controller,
        source=_text(source.get("component")) or controller,
        type=_text(ev.get("type")),
    )
    return fields


_KIND_FIELDS: dict[tuple[str, str], Callable[[Obj], dict[str, str]]] = {
    ("", "Pod"): _pod_fields,
    ("", "Node"): lambda o: {"spec.unschedulable": _text(bool(_get(o, "spec", "unschedulable")))},
    ("", "Namespace"): lambda o: {"status.phase": _text(_get(o, "status", "phase"))},
    ("", "Secret"): lambda o: {"type": _text(o.get("type"))},
    ("", "ReplicationController"): lambda o: {
        "status.replicas": _text(_get(o, "status", "replicas") or 0)
    },
    # apps/v1 registers no conversion, so clients cannot select on this field
    # even though the ReplicaSet's GetAttrs lists it; kept for parity.
    ("apps", "ReplicaSet"): lambda o: {
        "status.replicas": _text(_get(o, "status", "replicas") or 0)
    },
    ("batch", "Job"): lambda o: {"status.successful": _text(_get(o, "status", "succeeded") or 0)},
    ("", "Service"): lambda o: {
        "spec.clusterIP": _text(_get(o, "spec", "clusterIP")),
        "spec.type": _text(_get(o, "spec", "type")),
    },
    ("", "Event"): _event_fields,
    ("events.k8s.io", "Event"): _event_fields,
}


def selectable_fields(res: Resource, obj: Obj) -> dict[str, str]:
    """``obj`` as the flat ``{field: value}`` map its kind's GetAttrs returns."""
    meta = obj.get("metadata") or {}
    fields = {"metadata.name": _text(meta.get("name"))}
    if res.namespaced:
        fields["metadata.namespace"] = _text(meta.get("namespace"))
    extra = _KIND_FIELDS.get((res.group, res.kind))
    if extra is not None:
        fields.update(extra(obj))
    return fields
