"""``kubectl edit``: the object in $KUBE_EDITOR/$EDITOR, then a patch of what changed.

The object is written as YAML (managedFields hidden) under kubectl's header
comment. After the editor exits: no change (comments ignored) cancels;
an empty file cancels; otherwise the difference is sent as a strategic merge
patch (JSON merge patch for unknown kinds) by manager ``kubectl-edit``. When
the server rejects it, the file is reopened with the reasons as comments at
the top; saving it unchanged gives up and keeps a copy, as kubectl does.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tinykube.api import errors as api
from tinykube.kubectl import printers
from tinykube.kubectl.commands.objects import Target, patch, targets
from tinykube.kubectl.errors import Aggregate, CommandError, ExitCode
from tinykube.kubectl.flags import Flag

Obj = dict[str, Any]
HEADER = (
    "# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
    "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
    "# reopened with the relevant failures.\n"
    "#\n"
)

USES_EVENT_LOOP = True  # timeouts, concurrency or subprocesses: see pacing

FLAGS = [
    Flag("filename", "f", kind="list"),
    Flag("recursive", "R", kind="bool", default=False),
    Flag("output", "o", default="yaml"),
    Flag("output-patch", kind="bool", default=False),
    Flag("save-config", kind="bool", default=False),
    Flag("subresource"),
    Flag("windows-line-endings", kind="bool", default=False),
    Flag("validate", default="strict", no_value="strict"),
    Flag("field-manager"),
]


def strip_comments(text: str) -> str:
    return "".join(
        line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#")
    )


async def launch(text: str) -> tuple[str, Path]:
    """Write ``text`` to a temp file, run the editor on it, return what was saved."""
    editor = os.environ.get("KUBE_EDITOR") or os.environ.get("EDITOR") or "vi"
    fd, name = tempfile.mkstemp(prefix="kubectl-edit-", suffix=".yaml")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    proc = await asyncio.create_subprocess_exec(*shlex.split(editor), name)
    if await proc.wait() != 0:
        raise CommandError(f'there was a problem with the editor "{editor}"')
    saved = await asyncio.to_thread(Path(name).read_text)
    return saved, Path(name)


def _reasons_header(reasons: list[tuple[str, list[str]]]) -> str:
    out = HEADER
    for head, details in reasons:
        out += f"# {head}:\n" if details else f"# {head}\n"
        out += "".join(f"# * {d}\n" for d in details)
        out += "#\n"
    return out


def _compute(t: Target, original: Obj, edited: Obj) -> tuple[Obj, str]:
    from tinykube.api import schema
    from tinykube.patch import create_merge_patch, create_strategic_patch

    for key in ("apiVersion", "kind"):
        if original.get(key) != edited.get(key):
            raise CommandError("At least one of apiVersion, kind and name was changed")
    if (original.get("metadata") or {}).get("name") != (edited.get("metadata") or {}).get("name"):
        raise CommandError("At least one of apiVersion, kind and name was changed")
    node = schema.for_kind(t.mapping.group, t.mapping.version, t.mapping.kind)
    if node is not None:
        return create_strategic_patch(original, edited, node), "strategic"
    return create_merge_patch(original, edited), "merge"


async def edit_one(f: Any, o: Any, t: Target) -> None:
    original = dict(t.obj)
    (original.get("metadata") or {}).pop("managedFields", None)
    body = printers.to_yaml(original)
    text, reasons, previous = body, [], None
    while True:
        saved, path = await launch(_reasons_header(reasons) + text)
        if previous is not None and strip_comments(saved) == strip_comments(previous):
            f.err.write(f'A copy of your changes has been stored to "{path}"\n')
            raise CommandError("Edit cancelled, no valid changes were saved.")
        if strip_comments(saved) == strip_comments(body):
            path.unlink(missing_ok=True)
            f.err.write("Edit cancelled, no changes made.\n")
            return
        if not strip_comments(saved).strip():
            path.unlink(missing_ok=True)
            f.err.write("Edit cancelled, saved file was empty.\n")
            return
        try:
            edited = yaml.safe_load(strip_comments(saved))
        except yaml.YAMLError as exc:
            reasons, text, previous = (
                [(f"The edited file had a syntax error: {exc}", [])],
                strip_comments(saved),
                saved,
            )
            continue
        patch_body, kind = _compute(t, original, edited)
        try:
            if patch_body:
                await patch(
                    f, t, patch_body, kind, {"fieldManager": o.field_manager or "kubectl-edit"}
                )
        except api.Invalid as exc:
            qualified = t.mapping.qualified
            f.err.write(f'error: {qualified} "{t.name}" is invalid\n')
            details = [f"{c.field}: {c.message}" for c in exc.causes]
            reasons, text, previous = (
                [(f'{qualified} "{t.name}" was not valid', details)],
                strip_comments(saved),
                saved,
            )
            continue
        path.unlink(missing_ok=True)
        f.out.write(f"{t.display} edited\n")
        return


async def run(f: Any, o: Any) -> int:
    failures: list[Exception] = []
    found = await targets(f, o, o.args, failures)
    for t in found:
        await edit_one(f, o, t)
    if failures:
        raise Aggregate(failures)
    if not found:
        raise ExitCode(1)
    return 0
