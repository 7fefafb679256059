"""``kubectl wait --for=condition=X|delete|jsonpath=...``: poll until true or the timeout.

Each object is read until its condition holds, then reported as
``<kind>/<name> condition met``; ``--for=delete`` waits until it is gone.
The default timeout is 30 seconds, as kubectl's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tinykube.api import errors as api
from tinykube.kubectl.commands.objects import Target, targets
from tinykube.kubectl.durations import parse_duration
from tinykube.kubectl.errors import Aggregate, CommandError
from tinykube.kubectl.flags import Flag

Obj = dict[str, Any]

USES_EVENT_LOOP = True  # timeouts, concurrency or subprocesses: see pacing

FLAGS = [
    Flag("for"),
    Flag("timeout", default="30s"),
    Flag("selector", "l"),
    Flag("all", kind="bool", default=False),
    Flag("all-namespaces", "A", kind="bool", default=False),
    Flag("filename", "f", kind="list"),
    Flag("recursive", "R", kind="bool", default=False),
    Flag("output", "o"),
]


def condition_check(spec: str) -> Any:
    """A predicate over the live object for ``--for``."""
    kind, _, rest = spec.partition("=")
    if kind == "condition":
        name, _, want = rest.partition("=")
        want = want or "True"

        def has_condition(obj: Obj) -> bool:
            for c in (obj.get("status") or {}).get("conditions") or []:
                if str(c.get("type", "")).lower() == name.lower():
                    return str(c.get("status")).lower() == want.lower()
            return False

        return has_condition
    if kind == "jsonpath":
        from tinykube.kubectl import jsonpath

        path, _, want = (
            rest.rpartition("=") if "}=" in rest or "=" in rest.lstrip("{") else (rest, "", "")
        )
        path = path.strip("'\"")
        expr = path[1:-1] if path.startswith("{") else path
        steps = jsonpath.parse_path(expr if expr.startswith(".") else "." + expr)

        def matches(obj: Obj) -> bool:
            values = jsonpath.evaluate(steps, obj)
            if not want:
                return bool(values)
            return any(jsonpath.text_of(v) == want for v in values)

        return matches
    raise CommandError(f'unrecognized condition: "{spec}"')


async def _until(f: Any, t: Target, check: Any, deleting: bool) -> None:
    while True:
        try:
            obj = await f.client.call("GET", t.path())
        except api.NotFound:
            if deleting:
                return
            raise
        if deleting and (obj.get("metadata") or {}).get("uid") != (t.obj.get("metadata") or {}).get(
            "uid"
        ):
            return
        if not deleting and check(obj):
            return
        await asyncio.sleep(0.2)


async def run(f: Any, o: Any) -> int:
    if not o.values.get("for"):
        raise CommandError("--for must be specified")
    spec = o.values["for"]
    deleting = spec == "delete"
    check = None if deleting else condition_check(spec)
    failures: list[Exception] = []
    found = await targets(f, o, o.args, failures)
    if deleting:
        failures = [e for e in failures if not isinstance(e, api.NotFound)]
    limit = parse_duration(o.timeout)
    for t in found:
        try:
            async with asyncio.timeout(limit if limit > 0 else 0.001):
                await _until(f, t, check, deleting)
        except TimeoutError:
            failures.append(
                CommandError(
                    f"timed out waiting for the condition on {t.mapping.resource}/{t.name}"
                )
            )
            continue
        f.out.write(f"{t.display} condition met\n")
    if not found and not failures and not deleting:
        raise CommandError("no matching resources found")
    if failures:
        raise Aggregate(failures)
    return 0
