"""``kubectl events``: the namespace's Events, oldest first, as kubectl's events command prints them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tinykube.api import duration
from tinykube.kubectl import printers
from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.flags import Flag
from tinykube.kubectl.output import parse_output, print_objects

Obj = dict[str, Any]
FORMATS = (
    "go-template",
    "go-template-file",
    "json",
    "jsonpath",
    "jsonpath-as-json",
    "jsonpath-file",
    "kyaml",
    "name",
    "template",
    "templatefile",
    "yaml",
)

FLAGS = [
    Flag("all-namespaces", "A", kind="bool", default=False),
    Flag("for"),
    Flag("types", kind="list"),
    Flag("watch", "w", kind="bool", default=False),
    Flag("no-headers", kind="bool", default=False),
    Flag("output", "o"),
    Flag("chunk-size", kind="int", default=500),
]


def _last_seen(e: Obj, now: datetime) -> str:
    first = e.get("firstTimestamp") or e.get("eventTime")
    last = e.get("lastTimestamp") or (e.get("series") or {}).get("lastObservedTime") or first
    count = (e.get("series") or {}).get("count") or e.get("count") or 1
    if count > 1:
        return f"{duration.age(last, now)} (x{count} over {duration.age(first, now)})"
    return duration.age(last, now)


def _sort_key(e: Obj) -> str:
    return str(
        e.get("lastTimestamp")
        or (e.get("series") or {}).get("lastObservedTime")
        or e.get("eventTime")
        or ""
    )


async def _selector(f: Any, target: str) -> str:
    kind, _, name = target.partition("/")
    mapping = await f.discovery.find(kind)
    obj = await f.client.call("GET", mapping.path(f.namespace, name))
    meta = obj.get("metadata") or {}
    parts = [f"involvedObject.kind={mapping.kind}", f"involvedObject.name={name}"]
    if meta.get("uid"):
        parts.append(f"involvedObject.uid={meta['uid']}")
    return ",".join(parts)


async def run(f: Any, o: Any) -> int:
    fmt = parse_output(o.output, allowed=FORMATS) if o.output else None
    ns = "" if o.all_namespaces else f.namespace
    params = {"limit": str(o.chunk_size)}
    if o.values.get("for"):
        params["fieldSelector"] = await _selector(f, o.values["for"])
    path = f"/api/v1/namespaces/{ns}/events" if ns else "/api/v1/events"
    items = (await f.client.call("GET", path, params=params)).get("items") or []
    types = {t for value in o.types or [] for t in value.split(",") if t}
    for t in types:
        if t not in ("Normal", "Warning"):
            raise CommandError("valid --types are Normal or Warning")
    if types:
        items = [e for e in items if e.get("type") in types]
    items.sort(key=_sort_key)
    if fmt is not None:
        for e in items:
            e.setdefault("apiVersion", "v1")
            e.setdefault("kind", "Event")
        print_objects(f.out, fmt, items, single=False)
        return 0
    if not items:
        f.err.write(f"No events found in {ns} namespace.\n" if ns else "No events found.\n")
        return 0
    now = datetime.now(UTC)
    lines = (
        []
        if o.no_headers
        else [
            (["NAMESPACE"] if not ns else []) + ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        ]
    )
    for e in items:
        obj = e.get("involvedObject") or {}
        row = [
            _last_seen(e, now),
            e.get("type", ""),
            e.get("reason", ""),
            f"{obj.get('kind', '')}/{obj.get('name', '')}",
            str(e.get("message", "")).strip(),
        ]
        lines.append(([(e.get("metadata") or {}).get("namespace", "")] if not ns else []) + row)
    f.out.write(printers.render(lines))
    return 0
