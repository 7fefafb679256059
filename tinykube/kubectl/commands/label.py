"""``kubectl label`` and ``kubectl annotate``: change metadata maps with a merge patch.

Arguments after the object are ``key=value`` (set) and ``key-`` (remove).
An existing key with another value needs ``--overwrite``. The result line
says what happened: ``labeled``, ``unlabeled`` (something removed) or
``not labeled`` (nothing changed); the same for annotations.
"""

from __future__ import annotations

import copy
from typing import Any

from tinykube.api import errors as api
from tinykube.kubectl import mutate
from tinykube.kubectl.commands.objects import Target, patch, targets
from tinykube.kubectl.errors import Aggregate, CommandError
from tinykube.kubectl.flags import Flag
from tinykube.kubectl.output import parse_output, print_objects

FLAGS = [
    Flag("overwrite", kind="bool", default=False),
    Flag("list", kind="bool", default=False),
    Flag("local", kind="bool", default=False),
    Flag("selector", "l"),
    Flag("all", kind="bool", default=False),
    Flag("all-namespaces", "A", kind="bool", default=False),
    Flag("filename", "f", kind="list"),
    Flag("recursive", "R", kind="bool", default=False),
    Flag("resource-version"),
    Flag("output", "o"),
    mutate.DRY_RUN_FLAG,
    mutate.FIELD_MANAGER,
]


def split_args(args: list[str]) -> tuple[list[str], dict[str, str], list[str]]:
    """(resource args, keys to set, keys to remove)."""
    resources: list[str] = []
    sets: dict[str, str] = {}
    removes: list[str] = []
    for arg in args:
        if "=" in arg:
            key, _, value = arg.partition("=")
            sets[key] = value
        elif arg.endswith("-") and len(arg) > 1 and resources:
            removes.append(arg[:-1])
        else:
            resources.append(arg)
    return resources, sets, removes


def _change(
    target: Target, field: str, sets: dict[str, str], removes: list[str], overwrite: bool
) -> tuple[dict[str, str], dict[str, str]]:
    meta = target.obj.get("metadata") or {}
    old = dict(meta.get(field) or {})
    new = dict(old)
    for key, value in sets.items():
        if not overwrite and key in old and old[key] != value:
            raise CommandError(
                f"'{key}' already has a value ({old[key]}), and --overwrite is false"
            )
        new[key] = value
    for key in removes:
        new.pop(key, None)
    return old, new


async def run(f: Any, o: Any) -> int:
    field = "labels" if o.cmd_name == "label" else "annotations"
    word = "labeled" if field == "labels" else "annotated"
    resources, sets, removes = split_args(o.args)
    if not sets and not removes and not o.list:
        raise CommandError(f"at least one {field[:-1]} update is required")
    fmt = parse_output(o.output)
    failures: list[Exception] = []
    for t in await targets(f, o, resources, failures):
        if o.list:
            for key, value in sorted(((t.obj.get("metadata") or {}).get(field) or {}).items()):
                f.out.write(f"{key}={value}\n")
            continue
        old, new = _change(t, field, sets, removes, o.overwrite)
        body: dict[str, Any] = {
            "metadata": {
                field: {
                    **{k: None for k in old if k not in new},
                    **{k: v for k, v in new.items() if old.get(k) != v},
                }
            }
        }
        if o.resource_version:
            body["metadata"]["resourceVersion"] = o.resource_version
        result = t.obj
        if mutate.dry_run(o) != "client":
            try:
                result = await patch(
                    f, t, body, "merge", mutate.params(o, f"kubectl-{o.cmd_name}", validate=False)
                )
            except api.APIError as exc:
                failures.append(exc)
                continue
        else:
            result = copy.deepcopy(t.obj)
            result.setdefault("metadata", {})[field] = new
        if fmt.kind:
            print_objects(f.out, fmt, [result], single=True)
            continue
        msg = word if old != new else f"not {word}"
        if field == "labels" and len(new) < len(old):
            msg = "unlabeled"
        f.out.write(f"{t.display} {msg}{mutate.suffix(mutate.dry_run(o))}\n")
    if failures:
        raise Aggregate(failures)
    return 0
