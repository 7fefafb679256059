"""``kubectl taint nodes NAME key=value:Effect [key:Effect-]``."""

from __future__ import annotations

from typing import Any

from tinykube.kubectl import mutate
from tinykube.kubectl.commands.objects import patch, targets
from tinykube.kubectl.errors import Aggregate, CommandError
from tinykube.kubectl.flags import Flag

Obj = dict[str, Any]
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

FLAGS = [
    Flag("overwrite", kind="bool", default=False),
    Flag("selector", "l"),
    Flag("all", kind="bool", default=False),
    Flag("output", "o"),
    mutate.DRY_RUN_FLAG,
    mutate.FIELD_MANAGER,
]


def parse_taint(spec: str) -> tuple[Obj, bool]:
    """(taint, remove?) from ``key=value:Effect``, ``key:Effect-`` or ``key-``."""
    remove = spec.endswith("-")
    text = spec[:-1] if remove else spec
    key_value, _, effect = text.partition(":")
    key, _, value = key_value.partition("=")
    if effect and effect not in EFFECTS:
        raise CommandError(f"invalid taint effect: {effect}, unsupported taint effect")
    if not remove and not effect:
        raise CommandError(f"invalid taint spec: {spec}, unknown taint spec: {spec}")
    taint: Obj = {"key": key}
    if value:
        taint["value"] = value
    if effect:
        taint["effect"] = effect
    return taint, remove


def _apply(
    taints: list[Obj], changes: list[tuple[Obj, bool]], overwrite: bool, node: str
) -> tuple[list[Obj], str]:
    out = [dict(t) for t in taints]
    removed = added = False
    for taint, remove in changes:
        same = [
            t
            for t in out
            if t.get("key") == taint["key"]
            and ("effect" not in taint or t.get("effect") == taint["effect"])
        ]
        if remove:
            if not same:
                label = taint["key"] + (f":{taint['effect']}" if "effect" in taint else "")
                raise CommandError(f'taint "{label}" not found')
            out = [t for t in out if t not in same]
            removed = True
            continue
        exact = [t for t in same if t.get("effect") == taint.get("effect")]
        if exact and not overwrite:
            raise CommandError(
                f"node {node} already has {taint['key']} taint(s) with same effect(s) and --overwrite is false"
            )
        out = [t for t in out if t not in exact] + [taint]
        added = True
        removed = removed or bool(exact)
    verb = "modified" if (added and removed) else ("untainted" if removed else "tainted")
    return out, verb


async def run(f: Any, o: Any) -> int:
    resources = [a for a in o.args if "=" not in a and ":" not in a and not a.endswith("-")]
    specs = [a for a in o.args if a not in resources]
    if not specs:
        raise CommandError("at least one taint update is required")
    changes = [parse_taint(s) for s in specs]
    failures: list[Exception] = []
    for t in await targets(f, o, resources, failures):
        current = (t.obj.get("spec") or {}).get("taints") or []
        new, verb = _apply(current, changes, o.overwrite, t.name)
        if mutate.dry_run(o) != "client":
            await patch(
                f,
                t,
                {"spec": {"taints": new or None}},
                "merge",
                mutate.params(o, "kubectl-taint", validate=False),
            )
        f.out.write(f"{t.display} {verb}{mutate.suffix(mutate.dry_run(o))}\n")
    if failures:
        raise Aggregate(failures)
    return 0
