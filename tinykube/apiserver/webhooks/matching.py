"""Which webhooks a request must call: rules, selectors and matchPolicy.

Pure functions over dicts, as upstream's ``webhook/predicates`` packages
(``rules``, ``namespace``, ``object``) and ``generic.Webhook.ShouldCallHook``
split the decision. Configurations are compiled once into ``Webhook`` values
(selectors parsed, defaults filled) in upstream's order: configurations by
name, webhooks in the order their configuration lists them; the dispatcher
keeps the compiled list until a configuration changes.

A request is an ``Attributes``; ``should_call`` answers with an
``Invocation`` (the resource and kind the webhook is told about, which
differ from the request's when matchPolicy Equivalent matched another
version), None to skip, or raises for a selector that cannot be parsed, as
upstream answers 500 then.

matchConditions are compiled here with the rest (``conditions``) but
evaluated by the dispatcher, which builds the AdmissionRequest they read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tinykube.api import errors
from tinykube.api.resources import Resource, group_versions, lookup
from tinykube.api.selectors import Selector, SelectorError, label_selector_as_selector
from tinykube.apiserver.webhooks.conditions import Condition, compile_conditions

GROUP = "admissionregistration.k8s.io"
MUTATING = "mutatingwebhookconfigurations"
VALIDATING = "validatingwebhookconfigurations"
# Upstream never sends these to webhooks, so a broken webhook cannot lock itself in.
EXEMPT = frozenset(
    {MUTATING, VALIDATING, "validatingadmissionpolicies", "validatingadmissionpolicybindings"}
)

# (namespace name) -> its labels, or None when there is no such namespace.
NamespaceLabels = Callable[[str], dict[str, str] | None]


@dataclass(frozen=True)
class Attributes:
    """One admission request, as upstream's ``admission.Attributes`` carries it.

    ``namespace`` is the namespace's own name when the object is a Namespace,
    as upstream sets it; ``options`` is the Create/Update/DeleteOptions body.
    """

    resource: Resource
    subresource: str
    operation: str
    name: str
    namespace: str
    obj: dict[str, Any] | None
    old: dict[str, Any] | None
    dry_run: bool = False
    user: Any = None
    options: dict[str, Any] | None = None
    # (group, version, kind) of the object when it is not the resource's own:
    # a subresource's Scale, or a CONNECT's options.
    object_kind: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class Webhook:
    """One webhook of a configuration, ready to match requests."""

    uid: str  # "<configuration>/<index>": stable while the configuration is
    configuration: str
    name: str
    spec: dict[str, Any]
    rules: tuple[dict[str, Any], ...]
    namespace_selector: Selector | None
    object_selector: Selector | None
    selector_error: str = ""
    mutating: bool = False
    conditions: tuple[Condition, ...] = ()

    @property
    def failure_policy(self) -> str:
        return str(self.spec.get("failurePolicy") or "Fail")

    @property
    def timeout(self) -> int:
        return int(self.spec.get("timeoutSeconds") or 10)

    @property
    def side_effects(self) -> str:
        return str(self.spec.get("sideEffects") or "")

    @property
    def reinvoke_if_needed(self) -> bool:
        return self.spec.get("reinvocationPolicy") == "IfNeeded"

    @property
    def equivalent(self) -> bool:
        return (self.spec.get("matchPolicy") or "Equivalent") == "Equivalent"


@dataclass(frozen=True)
class Invocation:
    webhook: Webhook
    resource: Resource  # what the webhook registered for (an equivalent version may differ)


def compile_configurations(configs: Iterable[dict[str, Any]], mutating: bool) -> list[Webhook]:
    """Every webhook of ``configs``, configurations by name, then in listed order."""
    ordered = sorted(configs, key=lambda c: (c.get("metadata") or {}).get("name", ""))
    out: list[Webhook] = []
    for config in ordered:
        cname = (config.get("metadata") or {}).get("name", "")
        for index, spec in enumerate(config.get("webhooks") or []):
            if isinstance(spec, dict):
                out.append(_compile(cname, index, spec, mutating))
    return out


def _compile(cname: str, index: int, spec: dict[str, Any], mutating: bool) -> Webhook:
    problem = ""
    selectors: list[Selector | None] = []
    for key in ("namespaceSelector", "objectSelector"):
        try:
            selectors.append(label_selector_as_selector(spec.get(key) or {}))
        except SelectorError as exc:
            problem = f"{key}: {exc}"
            selectors.append(None)
    return Webhook(
        uid=f"{cname}/{index}",
        configuration=cname,
        name=str(spec.get("name", "")),
        spec=spec,
        rules=tuple(r for r in spec.get("rules") or [] if isinstance(r, dict)),
        namespace_selector=selectors[0],
        object_selector=selectors[1],
        selector_error=problem,
        mutating=mutating,
        conditions=compile_conditions(spec.get("matchConditions")),
    )


# ---- rules ----------------------------------------------------------------


def _listed(values: Any, wanted: str) -> bool:
    return any(v in ("*", wanted) for v in values or [])


def _resource_listed(patterns: Any, plural: str, subresource: str) -> bool:
    """``pods`` is the main resource only, ``pods/status`` one subresource, ``*/*`` all."""
    for pattern in patterns or []:
        res, _, sub = str(pattern).partition("/")
        if res in ("*", plural) and sub in ("*", subresource):
            return True
    return False


def _scope_matches(scope: str, res: Resource, namespace: str) -> bool:
    if scope in ("", "*"):
        return True
    is_namespace = res.group == "" and res.plural == "namespaces"
    if scope == "Namespaced":
        return not is_namespace and namespace != ""
    if scope == "Cluster":
        return is_namespace or namespace == ""
    return False


def rule_matches(rule: dict[str, Any], attrs: Attributes, res: Resource | None = None) -> bool:
    """One RuleWithOperations against the request (or against ``res``, an equivalent)."""
    target = res or attrs.resource
    return (
        _listed(rule.get("operations"), attrs.operation)
        and _listed(rule.get("apiGroups"), target.group)
        and _listed(rule.get("apiVersions"), target.version)
        and _resource_listed(rule.get("resources"), target.plural, attrs.subresource)
        and _scope_matches(str(rule.get("scope") or "*"), target, attrs.namespace)
    )


def equivalents(res: Resource) -> list[Resource]:
    """The same resource served in the group's other versions (matchPolicy Equivalent)."""
    out = []
    for group, version in group_versions():
        if group != res.group or version == res.version:
            continue
        other = lookup(group, version, res.plural)
        if other is not None:
            out.append(other)
    return out


def _matched_resource(hook: Webhook, attrs: Attributes) -> Resource | None:
    if any(rule_matches(rule, attrs) for rule in hook.rules):
        return attrs.resource
    if not hook.equivalent:
        return None
    others = equivalents(attrs.resource)
    for rule in hook.rules:  # earlier rules first, as upstream honours them
        for other in others:
            if rule_matches(rule, attrs, other):
                return other
    return None


# ---- selectors -------------------------------------------------------------


def _labels(obj: dict[str, Any] | None) -> dict[str, str] | None:
    if obj is None:
        return None
    return (obj.get("metadata") or {}).get("labels") or {}


def namespace_matches(hook: Webhook, attrs: Attributes, namespace_labels: NamespaceLabels) -> bool:
    """A cluster-scoped object other than a Namespace is never exempted by the selector."""
    selector = hook.namespace_selector
    is_namespace = attrs.resource.group == "" and attrs.resource.plural == "namespaces"
    if not attrs.namespace and not is_namespace:
        return True
    if selector is None or selector.empty:
        return True
    if is_namespace and not attrs.subresource and attrs.operation in ("CREATE", "UPDATE"):
        # The namespace being written is not stored yet: its own labels count.
        return selector.matches(_labels(attrs.obj))
    labels = namespace_labels(attrs.namespace)
    if labels is None:
        raise errors.not_found("namespaces", "", attrs.namespace)
    return selector.matches(labels)


def object_matches(hook: Webhook, attrs: Attributes) -> bool:
    """Either the new or the old object may carry the selected labels."""
    selector = hook.object_selector
    if selector is None or selector.empty:
        return True
    return any(obj is not None and selector.matches(_labels(obj)) for obj in (attrs.obj, attrs.old))


def should_call(
    hook: Webhook, attrs: Attributes, namespace_labels: NamespaceLabels
) -> Invocation | None:
    """Upstream's ShouldCallHook: selectors and rules must all agree."""
    if hook.selector_error:
        if _matched_resource(hook, attrs) is None:
            return None
        raise errors.InternalError(
            f"Internal error occurred: {hook.selector_error}",
            causes=[errors.Cause("", hook.selector_error)],
        )
    if not object_matches(hook, attrs):
        return None
    matched = _matched_resource(hook, attrs)
    if matched is None:
        return None
    if not namespace_matches(hook, attrs, namespace_labels):
        return None
    return Invocation(hook, matched)


def applicable(res: Resource) -> bool:
    """Requests for the admission configurations themselves never reach webhooks."""
    return not (res.group == GROUP and res.plural in EXEMPT)
