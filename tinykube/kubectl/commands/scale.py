"""``kubectl scale``: PATCH the ``/scale`` subresource, ``<kind>/<name> scaled``."""

from __future__ import annotations

from typing import Any

from tinykube.api import errors as api
from tinykube.kubectl import mutate
from tinykube.kubectl.commands.objects import patch, targets
from tinykube.kubectl.errors import Aggregate, CommandError
from tinykube.kubectl.flags import Flag

FLAGS = [
    Flag("replicas", kind="int", default=-1),
    Flag("current-replicas", kind="int", default=-1),
    Flag("resource-version"),
    Flag("selector", "l"),
    Flag("all", kind="bool", default=False),
    Flag("filename", "f", kind="list"),
    Flag("recursive", "R", kind="bool", default=False),
    Flag("output", "o"),
    Flag("timeout", default="0s"),
    mutate.DRY_RUN_FLAG,
]


async def run(f: Any, o: Any) -> int:
    if o.replicas < 0:
        raise CommandError('required flag(s) "replicas" not set')
    failures: list[Exception] = []
    found = await targets(f, o, o.args, failures)
    for t in found:
        if "scale" not in t.mapping.subresources:
            failures.append(CommandError(f"cannot scale {t.mapping.kind}"))
            continue
        current = (t.obj.get("spec") or {}).get("replicas")
        if o.current_replicas >= 0 and current != o.current_replicas:
            failures.append(
                CommandError(f"Expected replicas to be {o.current_replicas}, was {current}")
            )
            continue
        if mutate.dry_run(o) != "client":
            params = {"dryRun": "All"} if mutate.dry_run(o) == "server" else {}
            try:
                await patch(f, t, {"spec": {"replicas": o.replicas}}, "merge", params, "scale")
            except api.APIError as exc:
                failures.append(exc)
                continue
        f.out.write(f"{t.display} scaled{mutate.suffix(mutate.dry_run(o))}\n")
    if failures:
        raise Aggregate(failures)
    return 0
