"""``kubectl api-resources`` and ``kubectl api-versions``: discovery, printed."""

from __future__ import annotations

from typing import Any

from tinykube.kubectl import printers
from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.flags import Flag

FLAGS = [
    Flag("output", "o"),
    Flag("namespaced", kind="bool", default=True),
    Flag("api-group"),
    Flag("verbs", kind="list"),
    Flag("categories", kind="list"),
    Flag("no-headers", kind="bool", default=False),
    Flag("sort-by"),
    Flag("cached", kind="bool", default=False),
]


async def run(f: Any, o: Any) -> int:
    if o.cmd_name == "api-versions":
        return await _versions(f)
    if o.output not in (None, "", "wide", "name"):
        raise CommandError(f"--output {o.output} is not available")
    if not o.cached:
        await f.discovery.refresh()
    rows = _filter(o, await f.discovery.mappings())
    # kubectl sorts stably by --sort-by, and by API group when none is given.
    if o.sort_by == "name":
        rows.sort(key=lambda m: m.resource)
    elif o.sort_by == "kind":
        rows.sort(key=lambda m: m.kind)
    else:
        rows.sort(key=lambda m: m.group)
    if o.output == "name":
        for m in rows:
            f.out.write(f"{m.resource}.{m.group}\n" if m.group else f"{m.resource}\n")
        return 0
    lines = [] if o.no_headers else [["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]]
    if lines and o.output == "wide":
        lines[0] += ["VERBS", "CATEGORIES"]
    for m in rows:
        line = [
            m.resource,
            ",".join(m.short_names),
            m.api_version,
            "true" if m.namespaced else "false",
            m.kind,
        ]
        if o.output == "wide":
            line += [",".join(m.verbs), ",".join(m.categories)]
        lines.append(line)
    f.out.write(printers.render(lines))
    return 0


def _filter(o: Any, mappings: list[Any]) -> list[Any]:
    seen: set[tuple[str, str]] = set()
    out = []
    verbs = [v for value in o.verbs or [] for v in value.split(",") if v]
    categories = [c for value in o.categories or [] for c in value.split(",") if c]
    for m in mappings:
        key = (m.group, m.resource)
        if key in seen:
            continue
        seen.add(key)
        if "namespaced" in o.given and m.namespaced != o.namespaced:
            continue
        if o.api_group is not None and m.group != o.api_group:
            continue
        if verbs and not all(v in m.verbs for v in verbs):
            continue
        if categories and not all(c in m.categories for c in categories):
            continue
        out.append(m)
    return out


async def _versions(f: Any) -> int:
    gvs = await f.discovery.group_versions()
    names = sorted({f"{g.group}/{g.version}" if g.group else g.version for g in gvs})
    f.out.write("".join(n + "\n" for n in names))
    return 0
