"""``kubectl delete``: by name, by file, by selector or ``--all``; then wait until gone.

Names are deleted straight away; ``-l`` and ``--all`` list first. Each
deletion sends DeleteOptions (propagation from ``--cascade``, grace period
from ``--grace-period``/``--now``/``--force``) and reports ``<res> "<name>"
deleted from <ns> namespace`` (kubectl 1.34+ wording). With ``--wait``
(default) the command returns only once every object is gone.
"""

from __future__ import annotations

import time
from typing import Any

from tinykube.api import errors as api
from tinykube.kubectl import mutate
from tinykube.kubectl.errors import Aggregate, CommandError
from tinykube.kubectl.flags import Flag
from tinykube.kubectl.pacing import pause
from tinykube.kubectl.resources import Request, from_args, from_files

Obj = dict[str, Any]
FORCE_WARNING = (
    "Warning: Immediate deletion does not wait for confirmation that the running resource has been "
    "terminated. The resource may continue to run on the cluster indefinitely.\n"
)
NO_RESOURCES = """You must provide one or more resources by argument or filename.
Example resource specifications include:
   '-f rsrc.yaml'
   '--filename=rsrc.json'
   '<resource> <name>'
   '<resource>'"""

FLAGS = [
    Flag("filename", "f", kind="list"),
    Flag("recursive", "R", kind="bool", default=False),
    Flag("selector", "l"),
    Flag("field-selector"),
    Flag("all", kind="bool", default=False),
    Flag("all-namespaces", "A", kind="bool", default=False),
    Flag("grace-period", kind="int", default=-1),
    Flag("now", kind="bool", default=False),
    Flag("force", kind="bool", default=False),
    Flag("cascade", default="background", no_value="background"),
    Flag("wait", kind="bool", default=True),
    Flag("timeout", default="0s"),
    Flag("ignore-not-found", kind="bool", default=False),
    Flag("output", "o"),
    mutate.DRY_RUN_FLAG,
]


def delete_options(o: Any) -> Obj:
    cascade = {"true": "background", "false": "orphan"}.get(o.cascade, o.cascade)
    if cascade not in ("background", "foreground", "orphan"):
        raise CommandError(
            f'invalid cascade value ({o.cascade}). Must be "background", "foreground", or "orphan".'
        )
    body: Obj = {"propagationPolicy": cascade.capitalize()}
    grace = o.grace_period
    if o.now:
        grace = 1
    if o.force and grace < 0:
        grace = 0
    if grace >= 0:
        body["gracePeriodSeconds"] = grace
    if mutate.dry_run(o) == "server":
        body["dryRun"] = ["All"]
    return body


async def _targets(f: Any, o: Any) -> list[tuple[Any, str, str]]:
    """(mapping, namespace, name) for every object to delete."""
    ns = "" if o.all_namespaces else f.namespace
    if o.filename:
        items = await from_files(f, o.filename, o.recursive)
        return [(i.mapping, i.namespace, i.name) for i in items]
    if not o.args:
        raise CommandError(NO_RESOURCES)
    requests = await from_args(f, o.args)
    out: list[tuple[Any, str, str]] = []
    for req in requests:
        if req.names:
            out.extend((req.mapping, f.namespace, n) for n in req.names)
        elif o.all or o.selector or o.field_selector:
            out.extend(await _listed(f, o, req, ns))
        else:
            raise CommandError("resource(s) were provided, but no name was specified")
    return out


async def _listed(f: Any, o: Any, req: Request, ns: str) -> list[tuple[Any, str, str]]:
    params = {}
    if o.selector:
        params["labelSelector"] = o.selector
    if o.field_selector:
        params["fieldSelector"] = o.field_selector
    listing = await f.client.call("GET", req.mapping.path(ns), params=params)
    return [
        (
            req.mapping,
            (i.get("metadata") or {}).get("namespace", ""),
            (i.get("metadata") or {}).get("name", ""),
        )
        for i in listing.get("items") or []
    ]


def _line(mapping: Any, ns: str, name: str, o: Any) -> str:
    verb = "force deleted" if o.force and (o.grace_period in (-1, 0)) else "deleted"
    where = f" from {ns} namespace" if mapping.namespaced and ns else ""
    return f'{mapping.kind_prefix} "{name}" {verb}{where}{mutate.suffix(mutate.dry_run(o))}\n'


async def run(f: Any, o: Any) -> int:
    if o.all and o.args[1:]:
        raise CommandError("cannot set --all and --selector at the same time")
    body = delete_options(o)
    targets = await _targets(f, o)
    if o.force and body.get("gracePeriodSeconds") == 0:
        f.err.write(FORCE_WARNING)
    if not targets:
        f.out.write("No resources found\n")
        return 0
    failures: list[Exception] = []
    deleted: list[tuple[Any, str, str, str]] = []
    for mapping, ns, name in targets:
        try:
            if mutate.dry_run(o) != "client":
                answer = await f.client.call("DELETE", mapping.path(ns, name), body=body)
            else:
                answer = {}
        except api.NotFound as exc:
            if not o.ignore_not_found:
                failures.append(exc)
            continue
        if o.output == "name":
            f.out.write(f"{mapping.kind_prefix}/{name}\n")
        else:
            f.out.write(_line(mapping, ns, name, o))
        uid = (
            answer.get("details") if answer.get("kind") == "Status" else answer.get("metadata")
        ) or {}
        deleted.append((mapping, ns, name, str(uid.get("uid", ""))))
    f.out.flush()
    if o.wait and mutate.dry_run(o) == "none" and body.get("gracePeriodSeconds") != 0:
        await _wait_gone(f, deleted, _seconds(o.timeout))
    if failures:
        raise Aggregate(failures)
    return 0


def _seconds(text: str) -> float:
    from tinykube.kubectl.durations import parse_duration

    return parse_duration(text) or 7 * 24 * 3600.0


async def _wait_gone(f: Any, deleted: list[tuple[Any, str, str, str]], limit: float) -> None:
    """Poll each object until it is gone (or was replaced by a new one with another uid)."""
    deadline = time.monotonic() + limit
    for mapping, ns, name, uid in deleted:
        while time.monotonic() < deadline:
            try:
                live = await f.client.call("GET", mapping.path(ns, name))
            except api.NotFound:
                break
            if uid and (live.get("metadata") or {}).get("uid") != uid:
                break
            await pause(0.1)
        else:
            raise CommandError(f"timed out waiting for the condition on {mapping.resource}/{name}")
