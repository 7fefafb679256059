"""``kubectl set image|env|resources``: change a workload's pod template in place.

Each subcommand edits a copy of the object's pod template (wherever the kind
keeps it: a Pod's spec, a Deployment's ``spec.template``, a CronJob's job
template) and sends the difference as a strategic merge patch, reporting
``<kind>/<name> image updated`` (``env updated``, ``resource requirements
updated``) only when something changed.
"""

from __future__ import annotations

import copy
from typing import Any

from tinykube.kubectl import mutate
from tinykube.kubectl.commands.objects import Target, patch, targets
from tinykube.kubectl.errors import Aggregate, CommandError
from tinykube.kubectl.flags import Flag

Obj = dict[str, Any]

FLAGS = [
    Flag("container", "c", default="*"),
    Flag("containers", default="*"),
    Flag("limits"),
    Flag("requests"),
    Flag("env", "e", kind="list"),
    Flag("list", kind="bool", default=False),
    Flag("selector", "l"),
    Flag("all", kind="bool", default=False),
    Flag("filename", "f", kind="list"),
    Flag("recursive", "R", kind="bool", default=False),
    Flag("output", "o"),
    Flag("local", kind="bool", default=False),
    mutate.DRY_RUN_FLAG,
    mutate.FIELD_MANAGER,
]


def pod_spec(obj: Obj) -> Obj | None:
    spec = obj.get("spec") or {}
    kind = obj.get("kind")
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get(
            "spec"
        )
    return (spec.get("template") or {}).get("spec")


def _containers(spec: Obj) -> list[Obj]:
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def _image(o: Any, spec: Obj, pairs: dict[str, str]) -> None:
    for name, image in pairs.items():
        found = False
        for c in _containers(spec):
            if name in ("*", c.get("name")):
                c["image"] = image
                found = True
        if not found:
            raise CommandError(f'unable to find container named "{name}"')


def _quantities(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if part:
            key, _, value = part.partition("=")
            out[key] = value
    return out


def _resources(o: Any, spec: Obj) -> None:
    wanted = o.containers if "containers" in o.given else o.container
    for c in spec.get("containers") or []:
        if wanted not in ("*", c.get("name")):
            continue
        res = c.setdefault("resources", {})
        if o.limits:
            res.setdefault("limits", {}).update(_quantities(o.limits))
        if o.requests:
            res.setdefault("requests", {}).update(_quantities(o.requests))


def _env(o: Any, spec: Obj, pairs: list[str]) -> None:
    for c in spec.get("containers") or []:
        if o.container not in ("*", c.get("name")):
            continue
        env = c.setdefault("env", [])
        for pair in pairs:
            if pair.endswith("-") and "=" not in pair:
                env[:] = [e for e in env if e.get("name") != pair[:-1]]
                continue
            name, _, value = pair.partition("=")
            for e in env:
                if e.get("name") == name:
                    e.clear()
                    e.update({"name": name, "value": value})
                    break
            else:
                env.append({"name": name, "value": value})
        if not env:
            c.pop("env")


async def run(f: Any, o: Any) -> int:
    if not o.args:
        raise CommandError("set requires a subcommand: image, env or resources")
    sub, args = o.args[0], o.args[1:]
    resources = [a for a in args if "=" not in a and not a.endswith("-")]
    changes = [a for a in args if a not in resources]
    changes += list(o.env or [])
    failures: list[Exception] = []
    for t in await targets(f, o, resources, failures):
        t.obj.setdefault("kind", t.mapping.kind)
        before = copy.deepcopy(t.obj)
        spec = pod_spec(t.obj)
        if spec is None:
            failures.append(CommandError(f"{t.display} does not have a pod template"))
            continue
        verb = _apply_change(o, sub, spec, changes)
        await _send(f, o, t, before, verb)
    if failures:
        raise Aggregate(failures)
    return 0


def _apply_change(o: Any, sub: str, spec: Obj, changes: list[str]) -> str:
    if sub == "image":
        _image(o, spec, dict(c.split("=", 1) for c in changes))
        return "image updated"
    if sub == "env":
        _env(o, spec, changes)
        return "env updated"
    if sub == "resources":
        _resources(o, spec)
        return "resource requirements updated"
    raise CommandError(f'unknown command "{sub}" for "kubectl set"')


async def _send(f: Any, o: Any, t: Target, before: Obj, verb: str) -> None:
    from tinykube.api import schema
    from tinykube.patch import create_strategic_patch

    node = schema.for_kind(t.mapping.group, t.mapping.version, t.mapping.kind)
    body = create_strategic_patch(before, t.obj, node)
    if body and mutate.dry_run(o) != "client":
        await patch(f, t, body, "strategic", mutate.params(o, "kubectl-set", validate=False))
    if body:
        f.out.write(f"{t.display} {verb}{mutate.suffix(mutate.dry_run(o))}\n")
