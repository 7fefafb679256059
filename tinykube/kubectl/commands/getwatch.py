"""``kubectl get -w``: the first listing, then one line (or object) per event.

Human output watches with the Table Accept header: every event carries a
one-row Table, and only the first one has column definitions, so the last
known columns are reused. Widths are remembered across events, as kubectl's
tabwriter fork does, so columns never move left. ``--watch-only`` skips the
first listing. A single name watches with a ``metadata.name`` field selector.
"""

from __future__ import annotations

from typing import Any

from tinykube.kubectl import printers
from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.output import Output, print_objects
from tinykube.kubectl.resources import Request
from tinykube.kubectl.transport import TABLE_ACCEPT

Obj = dict[str, Any]


async def watch(f: Any, o: Any, fmt: Output, requests: list[Request], ns: str) -> int:
    from tinykube.kubectl.commands.get import Getter, label_columns, list_params

    if len(requests) != 1:
        raise CommandError("you may only specify a single resource type")
    req = requests[0]
    params = list_params(o, None)
    if len(req.names) == 1:
        params["fieldSelector"] = f"metadata.name={req.names[0]}"
    getter = Getter(f, o, ns, [])
    accept = TABLE_ACCEPT if fmt.human else "application/json"
    remember: list[int] = []
    columns: list[Obj] = []
    options = {
        "wide": fmt.kind == "wide",
        "namespace_column": not ns and req.mapping.namespaced,
        "label_columns": label_columns(o),
        "show_labels": o.show_labels,
    }
    rv = ""
    if fmt.human:
        table = await getter.tables(Request(req.mapping, []) if req.names else req)
        table = table or {}
        columns = table.get("columnDefinitions") or []
        rv = (table.get("metadata") or {}).get("resourceVersion", "")
        if not o.watch_only:
            table["rows"] = [r for r in table.get("rows") or [] if _named(r, req.names)]
            lines = printers.table_lines(table, headers=not o.no_headers, **options)
            _emit(f, printers.render(lines, remember))
    else:
        listing = await f.client.call("GET", req.mapping.path(ns), params=params, accept=accept)
        rv = (listing.get("metadata") or {}).get("resourceVersion", "")
        if not o.watch_only:
            for item in listing.get("items") or []:
                _print_obj(f, fmt, req, item)
    params.update({"watch": "true", "resourceVersion": rv})
    first = not columns
    async for event in f.client.watch_lines(req.mapping.path(ns), params=params, accept=accept):
        obj = event.get("object") or {}
        if event.get("type") in ("BOOKMARK", "ERROR"):
            continue
        if not fmt.human:
            _print_obj(f, fmt, req, obj)
            continue
        columns = obj.get("columnDefinitions") or columns
        table = {"columnDefinitions": columns, "rows": obj.get("rows") or []}
        lines = printers.table_lines(table, headers=first and not o.no_headers, **options)
        first = False
        _emit(f, printers.render(lines, remember))
    return 0


def _named(row: Obj, names: list[str]) -> bool:
    if not names:
        return True
    return ((row.get("object") or {}).get("metadata") or {}).get("name") in names


def _print_obj(f: Any, fmt: Output, req: Request, obj: Obj) -> None:
    obj.setdefault("apiVersion", req.mapping.api_version)
    obj.setdefault("kind", req.mapping.kind)
    print_objects(f.out, fmt, [obj], single=True)
    _emit(f, "")


def _emit(f: Any, text: str) -> None:
    f.out.write(text)
    f.out.flush()
