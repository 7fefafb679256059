"""Helpers for commands that act on named objects: find them, then patch them.

``label``, ``annotate``, ``scale``, ``patch``, ``set``, ``rollout``,
``taint`` and ``cordon`` all take ``TYPE NAME...``, ``TYPE/NAME...``, ``-f``
or ``TYPE -l sel``/``--all``, read each object, compute a change and PATCH
it. ``targets`` yields the live objects with their mapping; missing names
become NotFound errors the caller collects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinykube.api import errors as api
from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.resources import from_args, from_files

Obj = dict[str, Any]


@dataclass
class Target:
    mapping: Any
    namespace: str
    obj: Obj

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))

    @property
    def display(self) -> str:
        return f"{self.mapping.kind_prefix}/{self.name}"

    def path(self, sub: str = "") -> str:
        return self.mapping.path(self.namespace, self.name, sub)


async def targets(
    f: Any, o: Any, args: list[str], failures: list[Exception], *, need_names: bool = True
) -> list[Target]:
    """Live objects named by ``args`` / ``-f`` / ``-l`` / ``--all`` (missing ones -> failures)."""
    all_ns = bool(getattr(o, "all_namespaces", False))
    ns = "" if all_ns else f.namespace
    out: list[Target] = []
    if getattr(o, "filename", None):
        for item in await from_files(f, o.filename, getattr(o, "recursive", False)):
            await _get(f, item.mapping, item.namespace, item.name, out, failures)
        return out
    if not args:
        raise CommandError("You must provide one or more resources by argument or filename.")
    for req in await from_args(f, args):
        if req.names:
            for name in req.names:
                await _get(f, req.mapping, f.namespace, name, out, failures)
        elif getattr(o, "selector", None) or getattr(o, "all", False):
            params = {"labelSelector": o.selector} if getattr(o, "selector", None) else None
            listing = await f.client.call("GET", req.mapping.path(ns), params=params)
            for item in listing.get("items") or []:
                item.setdefault("apiVersion", req.mapping.api_version)
                item.setdefault("kind", req.mapping.kind)
                out.append(
                    Target(req.mapping, (item.get("metadata") or {}).get("namespace", ""), item)
                )
        elif need_names:
            raise CommandError("resource(s) were provided, but no name was specified")
    return out


async def _get(
    f: Any, mapping: Any, ns: str, name: str, out: list[Target], failures: list[Exception]
) -> None:
    ns = ns if mapping.namespaced else ""
    try:
        obj = await f.client.call("GET", mapping.path(ns, name))
    except api.NotFound as exc:
        failures.append(exc)
        return
    out.append(Target(mapping, ns, obj))


async def patch(
    f: Any, target: Target, body: Any, kind: str, params: dict[str, str], sub: str = ""
) -> Obj:
    """PATCH ``target`` (kind: merge, strategic, json)."""
    from tinykube.kubectl.transport import PATCH_CONTENT_TYPES

    return await f.client.call(
        "PATCH", target.path(sub), params=params, body=body, content_type=PATCH_CONTENT_TYPES[kind]
    )
