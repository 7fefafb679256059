"""The kinds the API server serves beyond the built-in table: custom resources.

Controllers that act on "every kind" (the namespace controller empties a
namespace of everything in it, the garbage collector follows owner references
between any kinds) learn about CustomResourceDefinitions the way upstream's
do: from discovery. The built-in kinds come from the resource table as
before; this adds each served resource the table does not know, at every
version the server lists for its group (the preferred one first), without
subresources.
"""

from __future__ import annotations

from typing import Any

from tinykube.api import errors
from tinykube.api import resources as table


async def custom_resources(client: Any) -> list[table.Resource]:
    """Resources the server serves that are not in the built-in table (one per group)."""
    try:
        groups = await client.request("GET", "/apis")
    except errors.APIError:
        return []
    out: list[table.Resource] = []
    for group in groups.get("groups") or []:
        name = group.get("name", "")
        preferred = (group.get("preferredVersion") or {}).get("version", "")
        versions = [v.get("version", "") for v in group.get("versions") or []]
        if preferred in versions:
            versions.remove(preferred)
            versions.insert(0, preferred)
        seen: set[str] = set()
        for version in versions:
            if table.resources_in(name, version):
                continue  # a built-in group version
            try:
                listed = await client.request("GET", f"/apis/{name}/{version}")
            except errors.APIError:
                continue
            for entry in listed.get("resources") or []:
                plural = entry.get("name", "")
                if "/" in plural or plural in seen:
                    continue
                seen.add(plural)
                out.append(
                    table.Resource(
                        group=name,
                        version=version,
                        kind=entry.get("kind", ""),
                        plural=plural,
                        singular=entry.get("singularName", ""),
                        namespaced=bool(entry.get("namespaced")),
                        verbs=tuple(entry.get("verbs") or ()),
                    )
                )
    return out
