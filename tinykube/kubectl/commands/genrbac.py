"""Generators for RBAC: ``create role|clusterrole`` and ``create rolebinding|clusterrolebinding``.

Rules group resources by API group (groups sorted, resources in the order
given, resolved to plurals through discovery); subjects list users, then
groups, then service accounts, as kubectl writes them.
"""

from __future__ import annotations

from typing import Any

from tinykube.kubectl.commands.genbase import name_arg, object_meta
from tinykube.kubectl.errors import CommandError

Obj = dict[str, Any]


async def _rules(f: Any, o: Any) -> list[Obj]:
    if not o.verb:
        raise CommandError("at least one verb must be specified")
    verbs = [v for value in o.verb for v in value.split(",") if v]
    groups: dict[str, list[str]] = {}
    for value in o.resource or []:
        for word in value.split(","):
            base, _, sub = word.partition("/")
            mapping = await f.discovery.find(base)
            groups.setdefault(mapping.group, []).append(
                mapping.resource + (f"/{sub}" if sub else "")
            )
    names = [n for value in o.resource_name or [] for n in value.split(",") if n]
    rules = []
    for group in sorted(groups):
        rule: Obj = {"apiGroups": [group], "resources": groups[group]}
        if names:
            rule["resourceNames"] = names
        rule["verbs"] = verbs
        rules.append(rule)
    if o.non_resource_url:
        rules.append({"nonResourceURLs": list(o.non_resource_url), "verbs": verbs})
    return rules


async def role(f: Any, o: Any, args: list[str], command: list[str], cluster: bool = False) -> Obj:
    name = name_arg(args, "role")
    kind = "ClusterRole" if cluster else "Role"
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": object_meta(f, name, namespaced=not cluster),
        "rules": await _rules(f, o),
    }


def _subjects(o: Any) -> list[Obj]:
    rbac = "rbac.authorization.k8s.io"
    subjects = [{"apiGroup": rbac, "kind": "User", "name": u} for u in o.user or []]
    subjects += [{"apiGroup": rbac, "kind": "Group", "name": g} for g in o.group or []]
    for sa in o.serviceaccount or []:
        ns, sep, sa_name = sa.partition(":")
        if not sep:
            raise CommandError("serviceaccount must be <namespace>:<name>")
        subjects.append({"kind": "ServiceAccount", "name": sa_name, "namespace": ns})
    return subjects


def rolebinding(f: Any, o: Any, args: list[str], command: list[str], cluster: bool = False) -> Obj:
    name = name_arg(args, "rolebinding")
    if o.role and o.clusterrole:
        raise CommandError("exactly one of clusterrole or role must be specified")
    ref_kind, ref = ("Role", o.role) if o.role else ("ClusterRole", o.clusterrole)
    if not ref:
        raise CommandError("exactly one of clusterrole or role must be specified")
    obj: Obj = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding" if cluster else "RoleBinding",
        "metadata": object_meta(f, name, namespaced=not cluster),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": ref},
    }
    subjects = _subjects(o)
    if subjects:
        obj["subjects"] = subjects
    return obj
