"""The RBAC and Node authorizers, answering from the watch cache.

RBAC: a user holds the rules of every ClusterRole bound to them by a
ClusterRoleBinding (everywhere), and of every Role or ClusterRole bound by a
RoleBinding in the namespace of the request. A subject applies to a user by
name (``User``), by group (``Group``), or as
``system:serviceaccount:<namespace>:<name>`` (``ServiceAccount``). Nothing
denies: a request is allowed when any held rule allows it.

Node: a kubelet (``system:node:<name>`` in ``system:nodes``) holds the fixed
rules of ``policy.NODE_RULES`` without any binding, as Kubernetes' Node
authorizer grants them (upstream narrows them further to the node's own pods,
secrets and config maps through a graph of the pods bound to it; tinykube
grants the role's rules as a whole).

Every answer is memoised until a Role, ClusterRole or binding changes: the
cache calls ``_on_event`` for each change, which forgets every memoised answer.
"""

from __future__ import annotations

from typing import Any

from tinykube.apiserver.authz import policy
from tinykube.apiserver.authz.attributes import Attributes, forbidden, of_request
from tinykube.apiserver.authz.rules import Rule, allows
from tinykube.apiserver.requestinfo import RequestInfo
from tinykube.apiserver.watchcache import CachedEvent, WatchCache

RBAC_RESOURCES = frozenset({"roles", "rolebindings", "clusterroles", "clusterrolebindings"})
NODES_GROUP = "system:nodes"
NODE_PREFIX = "system:node:"
MEMO_LIMIT = 20_000

Grant = tuple[list[Rule], str]  # the rules of one binding, and the reason it applies


def subject_applies(
    subject: dict[str, Any], username: str, groups: tuple[str, ...], ns: str
) -> bool:
    kind = subject.get("kind")
    name = subject.get("name", "")
    if kind == "User":
        return name == username
    if kind == "Group":
        return name in groups
    if kind == "ServiceAccount":
        sa_ns = subject.get("namespace") or ns
        return username == f"system:serviceaccount:{sa_ns}:{name}"
    return False


def describe_subject(subject: dict[str, Any], ns: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        return f'ServiceAccount "{subject.get("namespace") or ns}/{subject.get("name", "")}"'
    return f'{subject.get("kind")} "{subject.get("name", "")}"'


class Authorizer:
    def __init__(self, cache: WatchCache) -> None:
        self.cache = cache
        self._grants: dict[tuple[Any, ...], list[Grant]] = {}
        self._decisions: dict[tuple[Any, ...], tuple[bool, str]] = {}
        cache.add_listener(self._on_event)

    def _on_event(self, ev: CachedEvent) -> None:
        if ev.resource in RBAC_RESOURCES:
            self._grants.clear()
            self._decisions.clear()

    # ---- what a user holds ----------------------------------------------------------
    def _role_rules(self, kind: str, name: str, namespace: str) -> list[Rule] | None:
        if kind == "ClusterRole":
            role = self.cache.get(f"/registry/clusterroles/{name}")
        elif kind == "Role":
            role = self.cache.get(f"/registry/roles/{namespace}/{name}")
        else:
            return None
        return None if role is None else list(role.get("rules") or [])

    def _bound(
        self, bindings: list[dict[str, Any]], username: str, groups: tuple[str, ...], ns: str
    ) -> list[Grant]:
        out: list[Grant] = []
        for binding in bindings:
            for subject in binding.get("subjects") or []:
                if not subject_applies(subject, username, groups, ns):
                    continue
                ref = binding.get("roleRef") or {}
                rules = self._role_rules(ref.get("kind", ""), ref.get("name", ""), ns)
                if rules:
                    meta = binding.get("metadata") or {}
                    bname = f"{meta.get('name')}/{ns}" if ns else meta.get("name")
                    kind = "RoleBinding" if ns else "ClusterRoleBinding"
                    reason = (
                        f'RBAC: allowed by {kind} "{bname}" of {ref.get("kind")} '
                        f'"{ref.get("name")}" to {describe_subject(subject, ns)}'
                    )
                    out.append((rules, reason))
                break
        return out

    def grants(self, username: str, groups: tuple[str, ...], namespace: str) -> list[Grant]:
        """Every (rules, reason) the user holds in ``namespace`` ("" = cluster-wide only)."""
        key = (username, groups, namespace)
        found = self._grants.get(key)
        if found is not None:
            return found
        found = []
        if NODES_GROUP in groups and username.startswith(NODE_PREFIX):
            found.append((policy.NODE_RULES, "Node: allowed by the Node authorizer"))
        found += self._bound(
            self.cache.items("/registry/clusterrolebindings/"), username, groups, ""
        )
        if namespace:
            found += self._bound(
                self.cache.items(f"/registry/rolebindings/{namespace}/"),
                username,
                groups,
                namespace,
            )
        if len(self._grants) > MEMO_LIMIT:
            self._grants.clear()
        self._grants[key] = found
        return found

    def rules(self, username: str, groups: tuple[str, ...], namespace: str) -> list[Rule]:
        return [rule for rules, _ in self.grants(username, groups, namespace) for rule in rules]

    # ---- the question ---------------------------------------------------------------
    def authorize(
        self, username: str, groups: tuple[str, ...], attrs: Attributes
    ) -> tuple[bool, str]:
        """(allowed, reason); the reason names the binding that allowed it."""
        key = (username, groups, attrs)
        decided = self._decisions.get(key)
        if decided is not None:
            return decided
        decided = (False, "")
        for rules, reason in self.grants(username, groups, attrs.namespace):
            if any(allows(rule, attrs) for rule in rules):
                decided = (True, reason)
                break
        if len(self._decisions) > MEMO_LIMIT:
            self._decisions.clear()
        self._decisions[key] = decided
        return decided

    # ---- the HTTP side ----------------------------------------------------------------
    def allows(self, user: Any, attrs: Attributes) -> bool:
        return self.authorize(user.username, tuple(user.groups), attrs)[0]

    def check(
        self, user: Any, method: str, path: str, info: RequestInfo | None, query: Any
    ) -> None:
        """Raise Kubernetes' 403 unless ``user`` may make this request (``info``: the parsed path)."""
        attrs = of_request(method, path, info, query)
        if not self.allows(user, attrs):
            raise forbidden(user.username, attrs)
