"""Validation for ``rbac.authorization.k8s.io/v1``: rules, subjects and role references.

A rule needs verbs and either resources (with API groups) or, for cluster
roles only, non-resource URLs. A binding's ``roleRef`` can never change
(``cannot change roleRef``): granting a different role means a new binding,
which keeps escalation checks simple.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, invalid, not_supported, required
from tinykube.api.validation import names
from tinykube.api.validation.common import as_dict, as_list, child, index, invalid_json

RBAC_GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ["ServiceAccount", "User", "Group"]


def _rules(obj: dict[str, Any], namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(as_list(obj.get("rules"))):
        rule = as_dict(rule)
        path = index("rules", i)
        if not rule.get("verbs"):
            errs.append(required(child(path, "verbs"), "verbs must contain at least one value"))
        urls = as_list(rule.get("nonResourceURLs"))
        if urls:
            if namespaced:
                detail = "namespaced rules cannot apply to non-resource URLs"
                errs.append(invalid_json(child(path, "nonResourceURLs"), urls, detail))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                detail = "rules cannot apply to both regular resources and non-resource URLs"
                errs.append(invalid_json(child(path, "nonResourceURLs"), urls, detail))
            continue
        if not rule.get("apiGroups"):
            detail = "resource rules must supply at least one api group"
            errs.append(required(child(path, "apiGroups"), detail))
        if not rule.get("resources"):
            detail = "resource rules must supply at least one resource"
            errs.append(required(child(path, "resources"), detail))
    return errs


def validate_role(obj: dict[str, Any]) -> list[FieldError]:
    return _rules(obj, namespaced=True)


def validate_cluster_role(obj: dict[str, Any]) -> list[FieldError]:
    # An aggregated ClusterRole's rules are filled in by the controller.
    return _rules(obj, namespaced=False)


def _binding(obj: dict[str, Any], role_kinds: list[str], cluster: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    ref = as_dict(obj.get("roleRef"))
    if ref.get("apiGroup") != RBAC_GROUP:
        errs.append(not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [RBAC_GROUP]))
    kind = ref.get("kind") or ""
    if kind not in role_kinds:
        errs.append(not_supported("roleRef.kind", kind, role_kinds))
    role_name = ref.get("name") or ""
    if not role_name:
        errs.append(required("roleRef.name"))
    else:
        errs += [invalid("roleRef.name", role_name, m) for m in names.path_segment_name(role_name)]
    for i, subject in enumerate(as_list(obj.get("subjects"))):
        errs += _subject(as_dict(subject), index("subjects", i), cluster)
    return errs


def _subject(subject: dict[str, Any], path: str, cluster: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    name = subject.get("name") or ""
    if not name:
        errs.append(required(child(path, "name")))
    kind = subject.get("kind") or ""
    group = subject.get("apiGroup") or ""
    if kind == "ServiceAccount":
        if name:
            errs += [invalid(child(path, "name"), name, m) for m in names.subdomain_name(name)]
        if group:
            errs.append(not_supported(child(path, "apiGroup"), group, [""]))
        if cluster and not subject.get("namespace"):
            errs.append(required(child(path, "namespace")))
    elif kind in ("User", "Group"):
        if group != RBAC_GROUP:
            errs.append(not_supported(child(path, "apiGroup"), group, [RBAC_GROUP]))
    else:
        errs.append(not_supported(child(path, "kind"), kind, SUBJECT_KINDS))
    return errs


def validate_role_binding(obj: dict[str, Any]) -> list[FieldError]:
    return _binding(obj, ["Role", "ClusterRole"], cluster=False)


def validate_cluster_role_binding(obj: dict[str, Any]) -> list[FieldError]:
    return _binding(obj, ["ClusterRole"], cluster=True)


def validate_binding_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    ref = as_dict(new.get("roleRef"))
    if ref == as_dict(old.get("roleRef")):
        return []
    shown = {
        "APIGroup": ref.get("apiGroup", ""),
        "Kind": ref.get("kind", ""),
        "Name": ref.get("name", ""),
    }
    return [invalid_json("roleRef", shown, "cannot change roleRef")]


VALIDATORS = {
    "Role": (validate_role, None),
    "ClusterRole": (validate_cluster_role, None),
    "RoleBinding": (validate_role_binding, validate_binding_update),
    "ClusterRoleBinding": (validate_cluster_role_binding, validate_binding_update),
}
