"""``kubectl create``: from files (``-f``) or from a generator subcommand.

``create -f`` POSTs each object as it is (no last-applied annotation unless
``--save-config``) and reports ``<kind>/<name> created``; failures name the
file (``error when creating "x.yaml": ...``). ``create <generator>`` builds
the object locally (see ``generators``) and then follows the same path,
so ``--dry-run=client -o yaml`` prints exactly what would be sent.
"""

from __future__ import annotations

from typing import Any

from tinykube.api import errors as api
from tinykube.kubectl import mutate
from tinykube.kubectl.commands.generate import GENERATOR_FLAGS
from tinykube.kubectl.errors import Aggregate, CommandError, with_prefix
from tinykube.kubectl.flags import Flag
from tinykube.kubectl.output import parse_output, print_objects
from tinykube.kubectl.resources import display_name, from_files

Obj = dict[str, Any]
MANAGER = "kubectl-create"

FLAGS = [
    Flag("filename", "f", kind="list"),
    Flag("recursive", "R", kind="bool", default=False),
    Flag("output", "o"),
    Flag("save-config", kind="bool", default=False),
    Flag("edit", kind="bool", default=False),
    Flag("raw"),
    mutate.DRY_RUN_FLAG,
    mutate.VALIDATE_FLAG,
    mutate.FIELD_MANAGER,
    *GENERATOR_FLAGS,
]


async def run(f: Any, o: Any) -> int:
    if o.args:
        from tinykube.kubectl.commands import generate

        return await generate.run(f, o, o.args[0], o.args[1:], o.after_dashes)
    if not o.filename:
        raise CommandError("must specify one of -f and -k")
    fmt = parse_output(o.output)
    items = await from_files(f, o.filename, o.recursive)
    failures: list[Exception] = []
    for item in items:
        obj = item.obj
        if item.mapping.namespaced:
            obj.setdefault("metadata", {})["namespace"] = item.namespace
        if o.save_config:
            from tinykube.kubectl.commands.apply import modified_configuration

            obj, _ = modified_configuration(obj)
        try:
            result = await create_object(f, o, item.mapping, item.namespace, obj)
        except api.APIError as exc:
            failures.append(
                exc if isinstance(exc, api.Invalid) else with_prefix(exc, "creating", item.source)
            )
            continue
        report(f, o, fmt, item.mapping, result, "created", single=len(items) == 1)
    if failures:
        raise Aggregate(failures)
    return 0


async def create_object(
    f: Any, o: Any, mapping: Any, namespace: str, obj: Obj, manager: str = MANAGER
) -> Obj:
    """POST ``obj`` (or return it untouched for ``--dry-run=client``)."""
    if mutate.dry_run(o) == "client":
        return obj
    return await f.client.call(
        "POST", mapping.path(namespace), params=mutate.params(o, manager), body=obj
    )


def report(
    f: Any,
    o: Any,
    fmt: Any,
    mapping: Any,
    obj: Obj,
    verb: str,
    single: bool = True,
    typed: bool = False,
) -> None:
    """``-o`` output of the result, or the ``<kind>/<name> <verb>`` line.

    ``typed``: the object was built here, so JSON keeps Go's struct order.
    """
    if fmt.kind == "json" and mutate.dry_run(o) == "client" and typed:
        from tinykube.kubectl.printers import to_json
        from tinykube.kubectl.structorder import go_order

        f.out.write(to_json(go_order(obj), sort=False))
        return
    if fmt.kind == "go-template" and mutate.dry_run(o) == "client" and typed:
        from tinykube.kubectl.output import go_template
        from tinykube.kubectl.printers import compact_json
        from tinykube.kubectl.structorder import go_order

        go_template(f.out, fmt.arg, obj, raw=compact_json(go_order(obj), sort=False))
        return
    if fmt.kind and fmt.kind != "wide":
        print_objects(f.out, fmt, [obj], single=single)
        return
    name = (obj.get("metadata") or {}).get("name", "")
    f.out.write(f"{display_name(mapping, name)} {verb}{mutate.suffix(mutate.dry_run(o))}\n")
