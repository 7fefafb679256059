"""``kubectl apply -f``: client-side apply exactly as kubectl does it (api-compat §8.1).

For each object: GET the live one. Absent: create it with the
``last-applied-configuration`` annotation holding the manifest's own compact
JSON. Present: three-way merge between that annotation (original), the
manifest (modified, annotation refreshed) and the live object (current):
a strategic merge patch when the schema knows the kind, a JSON merge patch
otherwise. An empty patch is "unchanged" and sends nothing. Conflicts
(someone wrote in between) are retried with a fresh GET, up to five times.

``--server-side`` sends the manifest as an apply patch instead.
"""

from __future__ import annotations

import copy
from typing import Any

from tinykube.api import errors as api
from tinykube.kubectl import mutate
from tinykube.kubectl.commands import applyset as applysets
from tinykube.kubectl.errors import Aggregate, with_prefix
from tinykube.kubectl.flags import Flag
from tinykube.kubectl.output import parse_output, print_objects
from tinykube.kubectl.pacing import pause
from tinykube.kubectl.printers import compact_json
from tinykube.kubectl.resources import Item, display_name, from_files

Obj = dict[str, Any]
ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
MANAGER = "kubectl-client-side-apply"
MAX_PATCH_RETRIES = 5
MISSING_ANNOTATION_WARNING = (
    "Warning: resource {res}/{name} is missing the kubectl.kubernetes.io/last-applied-configuration "
    "annotation which is required by kubectl apply. kubectl apply should only be used on resources "
    "created declaratively by either kubectl create --save-config or kubectl apply. The missing "
    "annotation will be patched automatically.\n"
)

FLAGS = [
    Flag("filename", "f", kind="list"),
    Flag("recursive", "R", kind="bool", default=False),
    Flag("output", "o"),
    Flag("server-side", kind="bool", default=False),
    Flag("force-conflicts", kind="bool", default=False),
    Flag("force", kind="bool", default=False),
    Flag("overwrite", kind="bool", default=True),
    Flag("prune", kind="bool", default=False),
    Flag("selector", "l"),
    Flag("all", kind="bool", default=False),
    Flag("wait", kind="bool", default=False),
    mutate.DRY_RUN_FLAG,
    mutate.VALIDATE_FLAG,
    mutate.FIELD_MANAGER,
    Flag("create-annotation", kind="bool", default=False),
    Flag("prune-allowlist", kind="list"),
]
if applysets.enabled():  # kubectl registers --applyset only when ApplySets are enabled
    FLAGS.append(Flag("applyset"))
PRUNE_WITHOUT_SELECTOR = (
    "all resources selected for prune without explicitly passing --all. To prune all resources, pass "
    "the --all flag. If you did not mean to prune all resources, specify a label selector"
)


def modified_configuration(obj: Obj, annotate: bool = True) -> tuple[Obj, str]:
    """The manifest with the annotation set to its own JSON (kubectl's GetModifiedConfiguration).

    With ``annotate=False`` (``kubectl diff``) the annotation is only removed,
    leaving an empty ``annotations`` map as kubectl does.
    """
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(ANNOTATION, None)
    meta["annotations"] = annotations
    text = compact_json(obj) + "\n"
    if annotate:
        meta["annotations"] = {**annotations, ANNOTATION: text}
    return obj, text


def original_configuration(live: Obj) -> Obj | None:
    import json

    text = ((live.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    return json.loads(text) if text else None


def compute_patch(item: Item, original: Obj | None, modified: Obj, current: Obj) -> tuple[Obj, str]:
    """(patch, type): strategic when the kind has a schema, JSON merge patch otherwise."""
    from tinykube.api import schema
    from tinykube.patch import create_three_way_merge_patch, create_three_way_patch

    node = schema.for_kind(item.mapping.group, item.mapping.version, item.mapping.kind)
    if node is not None:
        return create_three_way_patch(original, modified, current, node), "strategic"
    return create_three_way_merge_patch(original or {}, modified, current), "merge"


async def run(f: Any, o: Any) -> int:
    from tinykube.kubectl.errors import CommandError

    if o.args[:1] == ["view-last-applied"]:
        from tinykube.kubectl.commands.lastapplied import view

        return await view(f, o, o.args[1:])
    if o.args[:1] == ["set-last-applied"]:
        from tinykube.kubectl.commands.lastapplied import set_applied

        return await set_applied(f, o, o.create_annotation)
    if not o.filename:
        raise CommandError("must specify one of -f and -k")
    applyset = None
    if getattr(o, "applyset", None):
        applysets.validate_flags(o)
        applyset = await applysets.parse(f, o)
    elif o.prune and not o.selector and not o.all:
        raise CommandError(PRUNE_WITHOUT_SELECTOR)
    fmt = parse_output(o.output)
    prunable = []
    if o.prune and applyset is None:
        from tinykube.kubectl.commands.prune import allowlist

        prunable = await allowlist(f, o)
    items = await from_files(f, o.filename, o.recursive)
    if applyset is not None:
        await applyset.fetch(f)
        applyset.label(items)
        await applyset.before_apply(f, o, items)
    failures: list[Exception] = []
    for item in items:
        if item.mapping.namespaced:
            item.obj.setdefault("metadata", {})["namespace"] = item.namespace
        try:
            result, verb = await (
                _server_side(f, o, item) if o.server_side else _apply_one(f, o, item)
            )
        except api.APIError as exc:
            failures.append(_annotate(exc, item, o.server_side))
            continue
        if fmt.kind and result is not None:
            print_objects(f.out, fmt, [result], single=len(items) == 1)
        else:
            f.out.write(
                f"{display_name(item.mapping, item.name)} {verb}{mutate.suffix(mutate.dry_run(o))}\n"
            )
    if o.prune and not failures and applyset is not None:
        await applyset.prune(f, o, items)
        await applyset.after_prune(f, o, items)
    elif o.prune and not failures:
        from tinykube.kubectl.commands.prune import prune

        await prune(f, o, items, prunable)
    if failures:
        raise Aggregate(failures)
    return 0


def _annotate(exc: api.APIError, item: Item, server_side: bool) -> api.APIError:
    if isinstance(exc, api.Invalid) or server_side:
        return exc
    verb = "creating" if getattr(exc, "_creating", False) else "patching"
    return with_prefix(exc, verb, item.source)


async def _apply_one(f: Any, o: Any, item: Item) -> tuple[Obj | None, str]:
    path = item.mapping.path(item.namespace, item.name)
    modified, _ = modified_configuration(item.obj)
    for attempt in range(MAX_PATCH_RETRIES):
        try:
            live = await f.client.call("GET", path)
        except api.NotFound:
            return await _create(f, o, item, modified)
        try:
            return await _patch(f, o, item, modified, live)
        except api.Conflict:
            if attempt == MAX_PATCH_RETRIES - 1:
                raise
            await pause(1 if attempt else 0)
    raise AssertionError("unreachable")


async def _create(f: Any, o: Any, item: Item, modified: Obj) -> tuple[Obj | None, str]:
    if mutate.dry_run(o) == "client":
        return modified, "created"
    try:
        created = await f.client.call(
            "POST",
            item.mapping.path(item.namespace),
            params=mutate.params(o, MANAGER),
            body=modified,
        )
    except api.APIError as exc:
        exc._creating = True  # type: ignore[attr-defined]
        raise
    return created, "created"


async def _patch(f: Any, o: Any, item: Item, modified: Obj, live: Obj) -> tuple[Obj | None, str]:
    original = original_configuration(live)
    if original is None:
        f.err.write(MISSING_ANNOTATION_WARNING.format(res=item.mapping.qualified, name=item.name))
    patch, kind = compute_patch(item, original, modified, live)
    if not patch:
        return live, "unchanged"
    if mutate.dry_run(o) == "client":
        return live, "configured"
    from tinykube.kubectl.transport import PATCH_CONTENT_TYPES

    result = await f.client.call(
        "PATCH",
        item.mapping.path(item.namespace, item.name),
        params=mutate.params(o, MANAGER),
        body=patch,
        content_type=PATCH_CONTENT_TYPES[kind],
    )
    return result, "configured"


async def _server_side(f: Any, o: Any, item: Item) -> tuple[Obj | None, str]:
    params = mutate.params(o, "kubectl")
    if o.force_conflicts:
        params["force"] = "true"
    result = await f.client.call(
        "PATCH",
        item.mapping.path(item.namespace, item.name),
        params=params,
        body=compact_json(item.obj).encode(),
        content_type="application/apply-patch+yaml",
    )
    return result, "serverside-applied"
