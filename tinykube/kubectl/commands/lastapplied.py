"""``kubectl apply view-last-applied`` and ``apply set-last-applied``.

Both work on the ``kubectl.kubernetes.io/last-applied-configuration``
annotation only: ``view`` prints it (YAML by default, JSON indented by two
spaces with ``-o json``); ``set`` replaces it with a file's object, as
compact JSON, with a merge patch, without touching anything else.
"""

from __future__ import annotations

import json
from typing import Any

from tinykube.api import errors as api
from tinykube.kubectl import printers
from tinykube.kubectl.commands.objects import Target, patch, targets
from tinykube.kubectl.errors import Aggregate, CommandError
from tinykube.kubectl.resources import display_name, from_files

ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"


def _annotation(obj: dict[str, Any]) -> str | None:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)


async def view(f: Any, o: Any, args: list[str]) -> int:
    if o.output not in (None, "", "yaml", "json"):
        raise CommandError(
            f"Unexpected -o output mode: {o.output}, the flag 'output' must be one of yaml|json"
        )
    failures: list[Exception] = []
    for t in await targets(f, o, args, failures):
        text = _annotation(t.obj)
        if not text:
            continue
        doc = json.loads(text)
        if o.output == "json":
            f.out.write(json.dumps(doc, indent=2) + "\n")
        else:
            f.out.write(printers.to_yaml(doc))
    if failures:
        raise Aggregate(failures)
    return 0


async def set_applied(f: Any, o: Any, create: bool) -> int:
    if not o.filename:
        raise CommandError("error: Must specify --filename")
    failures: list[Exception] = []
    for item in await from_files(f, o.filename, o.recursive):
        if item.mapping.namespaced:
            item.obj.setdefault("metadata", {})["namespace"] = item.namespace
        path = item.mapping.path(item.namespace, item.name)
        try:
            live = await f.client.call("GET", path)
        except api.NotFound as exc:
            failures.append(exc)
            continue
        text = printers.compact_json(item.obj) + "\n"
        current = _annotation(live)
        if current is None and not create:
            failures.append(
                CommandError(
                    f"no last-applied-configuration annotation found on resource: {item.name}, to create the annotation, run the command with --create-annotation"
                )
            )
            continue
        if current == text:
            f.out.write(f"set-last-applied {item.name}: no changes required.\n")
            continue
        target = Target(item.mapping, item.namespace, live)
        await patch(f, target, {"metadata": {"annotations": {ANNOTATION: text}}}, "merge", {})
        f.out.write(f"{display_name(item.mapping, item.name)} configured\n")
    if failures:
        raise Aggregate(failures)
    return 0
