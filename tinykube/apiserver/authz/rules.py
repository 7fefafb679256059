"""RBAC's PolicyRule matching, as pure functions over rule dicts.

A rule allows a request when its verbs, API groups, resources (with
``resource/subresource`` and ``*/subresource`` forms) and resource names all
match; for non-resource requests the verbs and ``nonResourceURLs`` (exact, or
a prefix ending in ``*``) must match. ``covers`` is the subset test the
escalation check needs: does one set of rules allow everything another does?
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tinykube.apiserver.authz.attributes import Attributes

Rule = dict[str, Any]


def _has(values: Iterable[str] | None, wanted: str) -> bool:
    values = values or ()
    return "*" in values or wanted in values


def resource_matches(rule: Rule, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for r in rule.get("resources") or ():
        if r == "*" or r == combined:
            return True
        if subresource and r == f"*/{subresource}":
            return True
    return False


def url_matches(rule: Rule, path: str) -> bool:
    for url in rule.get("nonResourceURLs") or ():
        if url == "*" or url == path:
            return True
        if url.endswith("*") and path.startswith(url[:-1]):
            return True
    return False


def allows(rule: Rule, attrs: Attributes) -> bool:
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        return url_matches(rule, attrs.path)
    if not _has(rule.get("apiGroups"), attrs.group):
        return False
    if not resource_matches(rule, attrs.resource, attrs.subresource):
        return False
    names = rule.get("resourceNames") or ()
    return not names or attrs.name in names


def expand(rule: Rule) -> list[Attributes]:
    """One Attributes per (verb, group, resource, name) a rule names, for ``covers``.

    Wildcards stay wildcards, so a rule with ``*`` is covered only by rules with ``*``.
    """
    out = []
    verbs = rule.get("verbs") or []
    if rule.get("nonResourceURLs"):
        for verb in verbs:
            for url in rule["nonResourceURLs"]:
                out.append(Attributes(verb=verb, path=url, resource_request=False))
        return out
    for verb in verbs:
        for group in rule.get("apiGroups") or [""]:
            for res in rule.get("resources") or []:
                resource, _, sub = res.partition("/")
                for name in rule.get("resourceNames") or [""]:
                    out.append(
                        Attributes(
                            verb=verb, group=group, resource=resource, subresource=sub, name=name
                        )
                    )
    return out


def _covers_one(owner: Rule, want: Attributes) -> bool:
    """Like ``allows``, but a wildcard asked for needs a wildcard held."""
    if want.verb not in (owner.get("verbs") or ()) and "*" not in (owner.get("verbs") or ()):
        return False
    if not want.resource_request:
        held = owner.get("nonResourceURLs") or ()
        if "*" in held or want.path in held:
            return True
        return any(
            u.endswith("*") and want.path.startswith(u[:-1]) and len(want.path) >= len(u)
            for u in held
        )
    if not _has(owner.get("apiGroups"), want.group):
        return False
    if not resource_matches(owner, want.resource, want.subresource):
        return False
    names = owner.get("resourceNames") or ()
    return not names or (want.name != "" and want.name in names)


def uncovered(owner_rules: list[Rule], wanted: Iterable[Rule]) -> list[Rule]:
    """The rules of ``wanted`` that ``owner_rules`` do not allow in full."""
    missing = []
    for rule in wanted:
        for attrs in expand(rule):
            if not any(_covers_one(o, attrs) for o in owner_rules):
                missing.append(rule)
                break
    return missing
