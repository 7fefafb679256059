"""Server-side rollback through the ``deprecated.deployment.rollback.to`` annotation.

``kubectl rollout undo`` rolls back on the client: it copies the template of
the chosen old ReplicaSet into the Deployment, and the ordinary sync then
finds that ReplicaSet "new" again and gives it the next revision (see
``sync.get_new_replica_set``). The annotation is the older, server-side path
(the extensions/v1beta1 ``rollback`` subresource wrote it) that upstream's
controller still honours (``rollback.go``): revision N, or 0 for the previous
one. The controller copies that revision's template and annotations into the
Deployment, clears the annotation and writes the Deployment; the next sync
rolls out as usual.
"""

from __future__ import annotations

import copy

from tinykube.controllers.deployment import sync, util
from tinykube.controllers.deployment.util import Obj, meta, spec

ROLLBACK_DONE = "DeploymentRollback"
ROLLBACK_REVISION_NOT_FOUND = "DeploymentRollbackRevisionNotFound"
ROLLBACK_TEMPLATE_UNCHANGED = "DeploymentRollbackTemplateUnchanged"


def rollback_to(d: Obj) -> int | None:
    """The requested revision (0: the previous one), or None when no rollback is asked for."""
    value = util.annotations(d).get(util.ROLLBACK_TO)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def find_revision(sets: list[Obj], revision: int) -> Obj | None:
    return next((rs for rs in sets if util.revision(rs) == revision), None)


def apply_template(d: Obj, rs: Obj) -> None:
    """Make ``rs``'s template and annotations the Deployment's (mutates ``d``)."""
    d["spec"]["template"] = util.template_without_hash(spec(rs).get("template") or {})
    notes = {k: v for k, v in util.annotations(d).items() if k in util.SKIP_COPY}
    notes.update({k: v for k, v in util.annotations(rs).items() if k not in util.SKIP_COPY})
    d["metadata"]["annotations"] = notes


async def rollback(ctx: sync.Context, d: Obj, sets: list[Obj]) -> None:
    new_rs, old = await sync.get_all_replica_sets(ctx, d, sets, create=True)
    all_sets = [*old, *([new_rs] if new_rs is not None else [])]
    target = rollback_to(d) or util.last_revision(all_sets)
    if target == 0:
        ctx.recorder.event(
            d, "Warning", ROLLBACK_REVISION_NOT_FOUND, "Unable to find last revision."
        )
        await _clear(ctx, d)
        return
    rs = find_revision(all_sets, target)
    if rs is None:
        message = "Unable to find the revision to rollback to."
        ctx.recorder.event(d, "Warning", ROLLBACK_REVISION_NOT_FOUND, message)
    elif util.equal_ignore_hash(spec(d).get("template") or {}, spec(rs).get("template") or {}):
        message = f'The rollback revision contains the same template as current deployment "{meta(d)["name"]}"'
        ctx.recorder.event(d, "Warning", ROLLBACK_TEMPLATE_UNCHANGED, message)
    else:
        apply_template(d, rs)
        await _clear(ctx, d)
        message = f'Rolled back deployment "{meta(d)["name"]}" to revision {target}'
        ctx.recorder.event(d, "Normal", ROLLBACK_DONE, message)
        return
    await _clear(ctx, d)


async def _clear(ctx: sync.Context, d: Obj) -> None:
    body = copy.deepcopy(d)
    body["metadata"].setdefault("annotations", {}).pop(util.ROLLBACK_TO, None)
    await sync.write_deployment(ctx, body)
