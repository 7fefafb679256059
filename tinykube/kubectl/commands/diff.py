"""``kubectl diff -f``: what ``apply`` would change, as a unified diff (api-compat §8.3).

For each object the server computes the result without storing it: a
dry-run PATCH with the same three-way patch ``apply`` would send (pinned
to the live resourceVersion), or a dry-run POST for a new object. Live and
merged objects are written as YAML (managedFields dropped, Secret data
masked) into two temporary directories and compared by
``$KUBECTL_EXTERNAL_DIFF`` or ``diff -u -N``. Exit 0: no differences,
1: differences, >1: an error.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tinykube.api import errors as api
from tinykube.kubectl import printers
from tinykube.kubectl.commands.apply import (
    compute_patch,
    modified_configuration,
    original_configuration,
)
from tinykube.kubectl.errors import CommandError, ExitCode
from tinykube.kubectl.flags import Flag
from tinykube.kubectl.resources import Item, from_files

Obj = dict[str, Any]

USES_EVENT_LOOP = True  # timeouts, concurrency or subprocesses: see pacing

FLAGS = [
    Flag("filename", "f", kind="list"),
    Flag("recursive", "R", kind="bool", default=False),
    Flag("server-side", kind="bool", default=False),
    Flag("force-conflicts", kind="bool", default=False),
    Flag("field-manager", default="kubectl-client-side-apply"),
    Flag("prune", kind="bool", default=False),
    Flag("selector", "l"),
    Flag("show-managed-fields", kind="bool", default=False),
    Flag("concurrency", kind="int", default=1),
]


async def merged_object(f: Any, o: Any, item: Item) -> tuple[Obj | None, Obj]:
    """(live or None, what the server would store)."""
    path = item.mapping.path(item.namespace, item.name)
    params = {"dryRun": "All", "fieldManager": o.field_manager}
    try:
        live = await f.client.call("GET", path)
    except api.NotFound:
        live = None
    if o.server_side:
        params.update(
            {"fieldManager": "kubectl", "force": "true" if o.force_conflicts else "false"}
        )
        body = printers.compact_json(item.obj).encode()
        merged = await f.client.call(
            "PATCH", path, params=params, body=body, content_type="application/apply-patch+yaml"
        )
        return live, merged
    # kubectl diff does not refresh the last-applied annotation, it only leaves it out.
    modified, _ = modified_configuration(item.obj, annotate=False)
    if live is None:
        return None, await f.client.call(
            "POST", item.mapping.path(item.namespace), params=params, body=modified
        )
    patch_body, kind = compute_patch(item, original_configuration(live), modified, live)
    patch_body.setdefault("metadata", {})["resourceVersion"] = (live.get("metadata") or {}).get(
        "resourceVersion"
    )
    from tinykube.kubectl.transport import PATCH_CONTENT_TYPES

    merged = await f.client.call(
        "PATCH", path, params=params, body=patch_body, content_type=PATCH_CONTENT_TYPES[kind]
    )
    return live, merged


def _clean(obj: Obj | None, keep_managed: bool) -> str:
    if obj is None:
        return ""
    obj = dict(obj)
    meta = dict(obj.get("metadata") or {})
    if not keep_managed:
        meta.pop("managedFields", None)
    obj["metadata"] = meta
    if obj.get("kind") == "Secret":
        obj["data"] = {k: "***" for k in obj.get("data") or {}}
    return printers.to_yaml(obj)


def _file_name(item: Item) -> str:
    group = item.mapping.group or ""
    parts = [
        p for p in (group, item.mapping.version, item.mapping.kind, item.namespace, item.name) if p
    ]
    return ".".join(parts)


async def run(f: Any, o: Any) -> int:
    if not o.filename:
        raise CommandError("must specify one of -f and -k")
    live_dir = Path(tempfile.mkdtemp(prefix="LIVE-"))
    merged_dir = Path(tempfile.mkdtemp(prefix="MERGED-"))
    try:
        for item in await from_files(f, o.filename, o.recursive):
            if item.mapping.namespaced:
                item.obj.setdefault("metadata", {})["namespace"] = item.namespace
            live, merged = await merged_object(f, o, item)
            name = _file_name(item)
            (live_dir / name).write_text(_clean(live, o.show_managed_fields))
            (merged_dir / name).write_text(_clean(merged, o.show_managed_fields))
        code = await _external_diff(f, live_dir, merged_dir)
    finally:
        shutil.rmtree(live_dir, ignore_errors=True)
        shutil.rmtree(merged_dir, ignore_errors=True)
    if code > 1:
        raise ExitCode(code)
    return code


async def _external_diff(f: Any, live: Path, merged: Path) -> int:
    command = shlex.split(os.environ.get("KUBECTL_EXTERNAL_DIFF", "")) or ["diff", "-u", "-N"]
    proc = await asyncio.create_subprocess_exec(
        *command, str(live), str(merged), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    f.out.write(out.decode(errors="replace"))
    return proc.returncode or 0
