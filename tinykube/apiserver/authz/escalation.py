"""RBAC's escalation check: nobody grants permissions they do not hold themselves.

Writing a Role or ClusterRole needs every rule in it to be held by the writer
already (in the role's namespace, or cluster-wide), or the ``escalate`` verb on
that role. Writing a binding needs the referenced role's rules to be held, or
the ``bind`` verb on that role (for a RoleBinding to a ClusterRole, ``bind``
granted in the binding's namespace counts). A binding to a role that does not
exist yet is checked against no rules, so it needs nothing more. Writes made
by the API server itself (bootstrap policy) carry no user and are not checked.
"""

from __future__ import annotations

import json
from typing import Any

from tinykube.api import errors
from tinykube.api.resources import Resource
from tinykube.apiserver.authz.attributes import Attributes
from tinykube.apiserver.authz.rules import Rule, uncovered

RBAC_GROUP = "rbac.authorization.k8s.io"
FIELDS = (
    ("apiGroups", "APIGroups"),
    ("resources", "Resources"),
    ("resourceNames", "ResourceNames"),
    ("nonResourceURLs", "NonResourceURLs"),
    ("verbs", "Verbs"),
)


def compact(rule: Rule) -> str:
    """A rule as upstream prints it: ``{APIGroups:[""], Resources:["pods"], Verbs:["get"]}``."""
    parts = []
    for key, label in FIELDS:
        if rule.get(key):
            parts.append(f"{label}:[{' '.join(json.dumps(v) for v in rule[key])}]")
    return "{" + ", ".join(parts) + "}"


def _refused(res: Resource, name: str, user: Any, missing: list[Rule]) -> errors.APIError:
    groups = "[" + ",".join(json.dumps(g) for g in user.groups) + "]"
    lines = "\n".join(compact(r) for r in missing)
    return errors.Forbidden(
        f'{res.plural}.{RBAC_GROUP} "{name}" is forbidden: user "{user.username}" '
        f"(groups={groups}) is attempting to grant RBAC permissions not currently held:\n{lines}",
        name=name,
        group=RBAC_GROUP,
        kind=res.plural,
    )


def check(authorizer: Any, res: Resource, obj: dict[str, Any], user: Any) -> None:
    """Raise 403 when ``user`` writing ``obj`` would grant more than they hold."""
    if res.group != RBAC_GROUP or user is None:
        return
    meta = obj.get("metadata") or {}
    name, namespace = meta.get("name", ""), meta.get("namespace", "")
    if res.plural in ("roles", "clusterroles"):
        wanted = list(obj.get("rules") or [])
        verb = Attributes(
            "escalate", group=RBAC_GROUP, resource=res.plural, namespace=namespace, name=name
        )
    elif res.plural in ("rolebindings", "clusterrolebindings"):
        ref = obj.get("roleRef") or {}
        plural = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
        key = (
            f"/registry/clusterroles/{ref.get('name', '')}"
            if plural == "clusterroles"
            else f"/registry/roles/{namespace}/{ref.get('name', '')}"
        )
        role = authorizer.cache.get(key)
        wanted = list((role or {}).get("rules") or [])
        verb = Attributes(
            "bind", group=RBAC_GROUP, resource=plural, namespace=namespace, name=ref.get("name", "")
        )
    else:
        return
    if not wanted or authorizer.allows(user, verb):
        return
    missing = uncovered(authorizer.rules(user.username, tuple(user.groups), namespace), wanted)
    if missing:
        raise _refused(res, name, user, missing)
