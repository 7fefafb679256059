"""``kubectl patch``: send the user's patch (strategic by default) and say if it changed anything."""

from __future__ import annotations

from typing import Any

import yaml

from tinykube.api import errors as api
from tinykube.kubectl import mutate
from tinykube.kubectl.commands.objects import patch, targets
from tinykube.kubectl.errors import Aggregate, CommandError
from tinykube.kubectl.flags import Flag
from tinykube.kubectl.output import parse_output, print_objects

FLAGS = [
    Flag("patch", "p"),
    Flag("patch-file"),
    Flag("type", default="strategic"),
    Flag("filename", "f", kind="list"),
    Flag("recursive", "R", kind="bool", default=False),
    Flag("local", kind="bool", default=False),
    Flag("subresource"),
    Flag("output", "o"),
    mutate.DRY_RUN_FLAG,
    mutate.FIELD_MANAGER,
]


def _body(o: Any) -> Any:
    text = o.patch
    if o.patch_file:
        with open(o.patch_file) as fh:
            text = fh.read()
    if not text:
        raise CommandError(
            "must specify --patch or --patch-file containing the contents of the patch"
        )
    if text.lstrip()[:1] in ("{", "["):
        return (
            text.encode()
        )  # JSON-looking patches go to the server untouched, as kubectl sends them
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CommandError(f'unable to parse "{text}": {exc}') from None


async def run(f: Any, o: Any) -> int:
    if o.type not in ("json", "merge", "strategic"):
        raise CommandError(f'--type must be one of [json merge strategic], not "{o.type}"')
    body = _body(o)
    fmt = parse_output(o.output)
    failures: list[Exception] = []
    for t in await targets(f, o, o.args, failures):
        params = mutate.params(o, "kubectl-patch", validate=False)
        try:
            result = await patch(f, t, body, o.type, params, o.subresource or "")
        except api.APIError as exc:
            failures.append(exc)
            continue
        if fmt.kind:
            print_objects(f.out, fmt, [result], single=True)
            continue
        changed = result != t.obj
        note = "" if changed else " (no change)"
        f.out.write(f"{t.display} patched{note}{mutate.suffix(mutate.dry_run(o))}\n")
    if failures:
        raise Aggregate(failures)
    return 0
