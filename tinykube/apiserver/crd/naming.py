"""Which names a CRD may have: upstream's naming controller, as a pure function.

Within one API group, two CRDs may not claim the same plural, singular,
short name, kind or list kind; a built-in resource of the group counts too.
The older CRD (creation time, then name) keeps its names, so every API
server of an HA cluster decides the same from the same objects.
"""

from __future__ import annotations

from typing import Any

from tinykube.api import resources

ACCEPTED = ("True", "NoConflicts", "no conflicts found")


def spec_names(crd: dict[str, Any]) -> dict[str, Any]:
    names = dict((crd.get("spec") or {}).get("names") or {})
    kind = names.get("kind") or ""
    names.setdefault("singular", kind.lower())
    names.setdefault("listKind", kind + "List")
    return {k: v for k, v in names.items() if v not in (None, "", [])}


def _age(crd: dict[str, Any]) -> tuple[str, str]:
    meta = crd.get("metadata") or {}
    return (str(meta.get("creationTimestamp") or ""), str(meta.get("name") or ""))


def _claims(names: dict[str, Any]) -> tuple[set[str], str, str]:
    """(resource names, kind, listKind) a set of names takes."""
    words = {names.get("plural", ""), names.get("singular", ""), *names.get("shortNames", [])}
    return words - {""}, names.get("kind", ""), names.get("listKind", "")


def conflict(crd: dict[str, Any], others: list[dict[str, Any]]) -> tuple[str, str] | None:
    """(reason, message) when a name of ``crd`` is taken, else None."""
    group = (crd.get("spec") or {}).get("group", "")
    names = spec_names(crd)
    for res in resources.RESOURCES:
        if res.group != group:
            continue
        if names.get("plural") == res.plural:
            return "PluralConflict", f'"{res.plural}" is already in use'
        if names.get("kind") == res.kind:
            return "KindConflict", f'"{res.kind}" is already in use'
    mine = _age(crd)
    for other in others:
        if (other.get("spec") or {}).get("group") != group or _age(other) >= mine:
            continue
        if other["metadata"].get("name") == crd["metadata"].get("name"):
            continue
        words, kind, list_kind = _claims(spec_names(other))
        found = _first_conflict(names, words, kind, list_kind)
        if found is not None:
            return found
    return None


def _first_conflict(
    names: dict[str, Any], words: set[str], kind: str, list_kind: str
) -> tuple[str, str] | None:
    plural, singular = names.get("plural", ""), names.get("singular", "")
    if plural in words:
        return "PluralConflict", f'"{plural}" is already in use'
    if singular in words:
        return "SingularConflict", f'"{singular}" is already in use'
    for short in names.get("shortNames", []):
        if short in words:
            return "ShortNamesConflict", f'"{short}" is already in use'
    if names.get("kind") in (kind, list_kind):
        return "KindConflict", f'"{names["kind"]}" is already in use'
    if names.get("listKind") in (kind, list_kind):
        return "ListKindConflict", f'"{names["listKind"]}" is already in use'
    return None
