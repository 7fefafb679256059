"""``kubectl get``: server-side Tables for people, objects for machines.

Human output asks the server for a Table (api-compat §3.1) and only lays it
out; ``-o yaml|json|name|jsonpath|custom-columns`` ask for plain objects.
Lists are read in chunks of 500 following ``continue``. Names that are not
found are reported after everything that was found, one line each, and make
the exit code 1. ``-w`` prints the first listing, then one row per watch
event, keeping column widths from growing back narrower.
"""

from __future__ import annotations

from tinykube.kubectl import printers
from tinykube.kubectl.errors import Aggregate, CommandError, UsageError, is_api_error
from tinykube.kubectl.flags import Flag
from tinykube.kubectl.output import Output, parse_output, print_objects
from tinykube.kubectl.resources import Request, from_args, from_files
from tinykube.kubectl.transport import TABLE_ACCEPT

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    from typing import Any

Obj = dict[str, "Any"]

GET_USAGE = (
    'You must specify the type of resource to get. Use "kubectl api-resources" for a complete list of '
    "supported resources.\n\nerror: Required resource not specified.\n"
    'Use "kubectl explain <resource>" for a detailed description of that resource (e.g. kubectl explain pods).\n'
    "See 'kubectl get -h' for help and examples"
)

FLAGS = [
    Flag("output", "o"),
    Flag("selector", "l"),
    Flag("field-selector"),
    Flag("all-namespaces", "A", kind="bool", default=False),
    Flag("watch", "w", kind="bool", default=False),
    Flag("watch-only", kind="bool", default=False),
    Flag("show-labels", kind="bool", default=False),
    Flag("show-kind", kind="bool", default=False),
    Flag("label-columns", "L", kind="list"),
    Flag("sort-by"),
    Flag("no-headers", kind="bool", default=False),
    Flag("ignore-not-found", kind="bool", default=False),
    Flag("chunk-size", kind="int", default=500),
    Flag("filename", "f", kind="list"),
    Flag("recursive", "R", kind="bool", default=False),
    Flag("output-watch-events", kind="bool", default=False),
    Flag("show-managed-fields", kind="bool", default=False),
]


async def run(f: Any, o: Any) -> int:
    fmt = parse_output(o.output)
    if o.filename:
        items = await from_files(f, o.filename, o.recursive)
        requests = [Request(i.mapping, [i.name]) for i in items]
        namespaces = [i.namespace for i in items]
    else:
        if not o.args:
            raise UsageError(GET_USAGE)
        requests = await from_args(f, o.args)
        namespaces = []
    ns = "" if o.all_namespaces else f.namespace
    if o.watch or o.watch_only:
        from tinykube.kubectl.commands.getwatch import watch

        return await watch(f, o, fmt, requests, ns)
    getter = Getter(f, o, ns, namespaces)
    if fmt.human:
        await getter.human(requests, fmt)
    else:
        await getter.objects(requests, fmt)
    if getter.errors:
        raise Aggregate(getter.errors)
    return 0


def label_columns(o: Any) -> list[str]:
    out: list[str] = []
    for value in o.label_columns or []:
        out.extend(k.strip() for k in value.split(",") if k.strip())
    return out


def list_params(o: Any, limit: int | None = 500) -> dict[str, str]:
    params: dict[str, str] = {}
    if o.selector:
        params["labelSelector"] = o.selector
    if o.field_selector:
        params["fieldSelector"] = o.field_selector
    if limit:
        params["limit"] = str(limit)
    return params


class Getter:
    """One ``get`` invocation: fetches per request, collects NotFound errors."""

    def __init__(self, f: Any, o: Any, ns: str, namespaces: list[str]) -> None:
        self.f, self.o, self.ns = f, o, ns
        self.namespaces = namespaces
        self.errors: list[Exception] = []

    def _ns_for(self, index: int) -> str:
        return self.namespaces[index] if index < len(self.namespaces) else self.ns

    async def _fetch_named(
        self, req: Request, accept: str, params: dict[str, str], index: int
    ) -> list[Obj]:
        out = []
        for name in req.names:
            path = req.mapping.path(self._ns_for(index) or self.f.namespace, name)
            try:
                out.append(
                    await self.f.client.call("GET", path, params=params or None, accept=accept)
                )
            except Exception as exc:
                if not is_api_error(exc, "NotFound"):
                    raise
                if not self.o.ignore_not_found:
                    self.errors.append(exc)
        return out

    async def _fetch_list(self, req: Request, accept: str, params: dict[str, str]) -> list[Obj]:
        pages: list[Obj] = []
        token = ""
        while True:
            query = dict(params)
            if token:
                query["continue"] = token
            page = await self.f.client.call(
                "GET", req.mapping.path(self.ns), params=query, accept=accept
            )
            pages.append(page)
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return pages

    async def tables(self, req: Request, index: int = 0, row_metadata: bool = True) -> Obj | None:
        """The request's rows as one Table (None when no table came back).

        ``row_metadata=False``: the rows' object metadata is not printed, so
        the server is asked to leave it out (``includeObject=None``): for 100
        pods that is most of the answer's bytes, to encode and to decode.
        """
        params: dict[str, str] = {}
        if self.o.sort_by:
            params["includeObject"] = "Object"
        elif not row_metadata:
            params["includeObject"] = "None"
        if req.names:
            pages = await self._fetch_named(req, TABLE_ACCEPT, params, index)
        else:
            chunk = None if self.o.sort_by else self.o.chunk_size
            pages = await self._fetch_list(
                req, TABLE_ACCEPT, {**list_params(self.o, chunk), **params}
            )
        if not pages:
            return None
        table = dict(pages[0])
        table["rows"] = [row for p in pages for row in p.get("rows") or []]
        if self.o.sort_by:
            table["rows"] = sort_rows(table["rows"], self.o.sort_by)
        return table

    async def human(self, requests: list[Request], fmt: Output) -> None:
        kinds = {(r.mapping.group, r.mapping.resource) for r in requests}
        with_kind = len(kinds) > 1 or self.o.show_kind
        chunks: list[str] = []
        namespaced_only = True
        for i, req in enumerate(requests):
            namespaced_only = namespaced_only and req.mapping.namespaced
            namespace_column = not self.ns and req.mapping.namespaced
            row_metadata = namespace_column or self.o.show_labels or bool(label_columns(self.o))
            table = await self.tables(req, i, row_metadata)
            if table is None or not table.get("rows"):
                continue
            lines = printers.table_lines(
                table,
                wide=fmt.kind == "wide",
                namespace_column=namespace_column,
                kind_prefix=req.mapping.kind_prefix if with_kind else "",
                label_columns=label_columns(self.o),
                show_labels=self.o.show_labels,
                headers=not self.o.no_headers,
            )
            chunks.append(printers.render(lines))
        self.f.out.write("\n".join(chunks))
        if not chunks and not self.errors and not self.o.ignore_not_found:
            self.f.out.flush()
            if self.ns and namespaced_only:
                self.f.err.write(f"No resources found in {self.ns} namespace.\n")
            else:
                self.f.err.write("No resources found\n")

    async def objects(self, requests: list[Request], fmt: Output) -> None:
        objs: list[Obj] = []
        for i, req in enumerate(requests):
            objs.extend(await self.fetch_objects(req, i))
        if self.o.sort_by:
            objs = sort_objects(objs, self.o.sort_by)
        if not self.o.show_managed_fields and fmt.kind in ("yaml", "json"):
            for obj in objs:
                (obj.get("metadata") or {}).pop("managedFields", None)
        single = len(requests) == 1 and len(requests[0].names) == 1 and not self.o.filename
        if single and not objs:
            return
        print_objects(self.f.out, fmt, objs, single=single)

    async def fetch_objects(self, req: Request, index: int = 0) -> list[Obj]:
        if req.names:
            return await self._fetch_named(req, "application/json", {}, index)
        objs: list[Obj] = []
        for page in await self._fetch_list(
            req, "application/json", list_params(self.o, self.o.chunk_size)
        ):
            for item in page.get("items") or []:
                item.setdefault("apiVersion", req.mapping.api_version)
                item.setdefault("kind", req.mapping.kind)
                objs.append(
                    {"apiVersion": item.pop("apiVersion"), "kind": item.pop("kind"), **item}
                )
        return objs


def _sort_key(path: str):  # type: ignore[no-untyped-def]
    from tinykube.kubectl import jsonpath

    expr = path.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    if not expr.startswith("."):
        expr = "." + expr
    steps = jsonpath.parse_path(expr)

    def key(obj: Obj) -> tuple[int, Any]:
        values = jsonpath.evaluate(steps, obj)
        if not values:
            return (0, "")
        v = values[0]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (1, v)
        if isinstance(v, str):
            from tinykube.api import quantity

            try:
                return (1, float(quantity.parse(v).amount))
            except Exception:
                return (2, v)
        return (2, str(v))

    return key


def sort_objects(objs: list[Obj], path: str) -> list[Obj]:
    try:
        return sorted(objs, key=_sort_key(path))
    except TypeError:
        raise CommandError(f"couldn't sort by {path}") from None


def sort_rows(rows: list[Obj], path: str) -> list[Obj]:
    key = _sort_key(path)
    return sorted(rows, key=lambda r: key(r.get("object") or {}))
