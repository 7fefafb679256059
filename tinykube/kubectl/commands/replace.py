"""``kubectl replace -f``: PUT each object whole (``--force``: delete, then create)."""

from __future__ import annotations

from typing import Any

from tinykube.api import errors as api
from tinykube.kubectl import mutate
from tinykube.kubectl.errors import Aggregate, CommandError, with_prefix
from tinykube.kubectl.flags import Flag
from tinykube.kubectl.output import parse_output
from tinykube.kubectl.pacing import pause
from tinykube.kubectl.resources import from_files

FLAGS = [
    Flag("filename", "f", kind="list"),
    Flag("recursive", "R", kind="bool", default=False),
    Flag("force", kind="bool", default=False),
    Flag("grace-period", kind="int", default=-1),
    Flag("cascade", default="background"),
    Flag("save-config", kind="bool", default=False),
    Flag("output", "o"),
    Flag("wait", kind="bool", default=False),
    Flag("timeout", default="0s"),
    mutate.DRY_RUN_FLAG,
    mutate.VALIDATE_FLAG,
    mutate.FIELD_MANAGER,
]


async def _force(f: Any, o: Any, item: Any) -> Any:
    path = item.mapping.path(item.namespace, item.name)
    body: dict[str, Any] = {"propagationPolicy": o.cascade.capitalize()}
    if o.grace_period >= 0:
        body["gracePeriodSeconds"] = o.grace_period
    try:
        await f.client.call("DELETE", path, body=body)
        where = f" from {item.namespace} namespace" if item.mapping.namespaced else ""
        f.out.write(f'{item.mapping.kind_prefix} "{item.name}" deleted{where}\n')
    except api.NotFound:
        pass
    while True:
        try:
            await f.client.call("GET", path)
        except api.NotFound:
            break
        await pause(0.1)
    item.obj.get("metadata", {}).pop("resourceVersion", None)
    return await f.client.call(
        "POST",
        item.mapping.path(item.namespace),
        params=mutate.params(o, "kubectl-replace"),
        body=item.obj,
    )


async def run(f: Any, o: Any) -> int:
    from tinykube.kubectl.commands.create import report

    if not o.filename:
        raise CommandError("must specify --filename to replace")
    fmt = parse_output(o.output)
    failures: list[Exception] = []
    for item in await from_files(f, o.filename, o.recursive):
        if item.mapping.namespaced:
            item.obj.setdefault("metadata", {})["namespace"] = item.namespace
        try:
            if o.force:
                result = await _force(f, o, item)
            elif mutate.dry_run(o) == "client":
                result = item.obj
            else:
                path = item.mapping.path(item.namespace, item.name)
                result = await f.client.call(
                    "PUT", path, params=mutate.params(o, "kubectl-replace"), body=item.obj
                )
        except api.APIError as exc:
            failures.append(
                exc if isinstance(exc, api.Invalid) else with_prefix(exc, "replacing", item.source)
            )
            continue
        report(f, o, fmt, item.mapping, result, "replaced")
    if failures:
        raise Aggregate(failures)
    return 0
