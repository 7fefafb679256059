"""``kubectl rollout status|history|undo|pause|resume|restart`` for Deployments (and friends).

History comes from the ReplicaSets a Deployment controls: each carries its
revision in the ``deployment.kubernetes.io/revision`` annotation and the
pod template it ran. ``undo`` copies a revision's template back into the
Deployment; ``restart`` stamps ``kubectl.kubernetes.io/restartedAt`` on the
template so the controller rolls every pod; ``status`` watches until the
controller reports the new revision fully available.
"""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from typing import Any

from tinykube.kubectl import mutate
from tinykube.kubectl.commands.objects import Target, patch, targets
from tinykube.kubectl.durations import parse_duration
from tinykube.kubectl.errors import Aggregate, CommandError
from tinykube.kubectl.flags import Flag

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"

USES_EVENT_LOOP = True  # timeouts, concurrency or subprocesses: see pacing

FLAGS = [
    Flag("revision", kind="int", default=0),
    Flag("to-revision", kind="int", default=0),
    Flag("timeout", default="0s"),
    Flag("watch", "w", kind="bool", default=True),
    Flag("selector", "l"),
    Flag("filename", "f", kind="list"),
    Flag("recursive", "R", kind="bool", default=False),
    Flag("output", "o"),
    mutate.DRY_RUN_FLAG,
    mutate.FIELD_MANAGER,
]


async def _owned_rs(f: Any, t: Target) -> list[Obj]:
    uid = (t.obj.get("metadata") or {}).get("uid")
    listing = await f.client.call("GET", f"/apis/apps/v1/namespaces/{t.namespace}/replicasets")
    out = []
    for rs in listing.get("items") or []:
        refs = (rs.get("metadata") or {}).get("ownerReferences") or []
        if any(r.get("controller") and r.get("uid") == uid for r in refs):
            out.append(rs)
    return sorted(out, key=_revision)


def _revision(rs: Obj) -> int:
    try:
        return int(((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


async def history(f: Any, o: Any, t: Target) -> None:
    rss = await _owned_rs(f, t)
    if o.revision:
        match = [r for r in rss if _revision(r) == o.revision]
        if not match:
            raise CommandError("unable to find the specified revision")
        f.out.write(f"{t.display} with revision #{o.revision}\n")
        from tinykube.kubectl.describers import Writer, pod_template_section

        w = Writer()
        pod_template_section(w, (match[0].get("spec") or {}).get("template") or {})
        f.out.write(w.text())
        return
    if not rss:
        f.out.write(f"{t.display} \nNo rollout history found.\n")
        return
    lines = [["REVISION", "CHANGE-CAUSE"]]
    for rs in rss:
        cause = ((rs.get("metadata") or {}).get("annotations") or {}).get(CHANGE_CAUSE, "<none>")
        lines.append([str(_revision(rs)), cause])
    from tinykube.kubectl.tabwriter import align

    f.out.write(f"{t.display} \n" + align("".join("\t".join(r) + "\n" for r in lines), 0, 2) + "\n")


UNDO_APPLY_WARNING = (
    "Warning: resource {res}/{name} was previously managed with 'kubectl apply'. Rolling back will not "
    "update the kubectl.kubernetes.io/last-applied-configuration annotation, which may cause unexpected "
    "behavior on future 'kubectl apply' operations. Consider using 'kubectl apply' with your previous "
    "configuration file instead.\n"
)


async def undo(f: Any, o: Any, t: Target) -> str:
    annotations = (t.obj.get("metadata") or {}).get("annotations") or {}
    if "kubectl.kubernetes.io/last-applied-configuration" in annotations:
        f.err.write(UNDO_APPLY_WARNING.format(res=t.mapping.resource, name=t.name))
    rss = await _owned_rs(f, t)
    if not rss:
        raise CommandError(f'no rollout history found for deployment "{t.name}"')
    wanted = o.to_revision
    if wanted:
        match = [r for r in rss if _revision(r) == wanted]
        if not match:
            raise CommandError(f"unable to find specified revision {wanted} in history")
    else:
        if len(rss) < 2:
            raise CommandError("no revision found for deployment " + f'"{t.name}"')
        match = [rss[-2]]
    template = copy.deepcopy((match[0].get("spec") or {}).get("template") or {})
    ((template.get("metadata") or {}).get("labels") or {}).pop("pod-template-hash", None)
    if template == (t.obj.get("spec") or {}).get("template"):
        return (
            "skipped rollback (current template already matches revision "
            + str(_revision(match[0]))
            + ")"
        )
    body = [{"op": "replace", "path": "/spec/template", "value": template}]
    await patch(f, t, body, "json", mutate.params(o, "kubectl-rollout", validate=False))
    return "rolled back"


async def set_paused(f: Any, o: Any, t: Target, paused: bool) -> str:
    current = bool((t.obj.get("spec") or {}).get("paused"))
    if current == paused:
        raise CommandError(
            f'{t.mapping.qualified} "{t.name}" is {"already paused" if paused else "not paused"}'
        )
    await patch(
        f,
        t,
        {"spec": {"paused": paused}},
        "strategic",
        mutate.params(o, "kubectl-rollout", validate=False),
    )
    return "paused" if paused else "resumed"


async def restart(f: Any, o: Any, t: Target) -> str:
    if (t.obj.get("spec") or {}).get("paused"):
        raise CommandError("can't restart paused deployment (run rollout resume first)")
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}
        }
    }
    await patch(f, t, body, "strategic", mutate.params(o, "kubectl-rollout", validate=False))
    return "restarted"


def _status_line(d: Obj) -> tuple[str, bool]:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    name = (d.get("metadata") or {}).get("name")
    want = spec.get("replicas", 1)
    if (d.get("metadata") or {}).get("generation", 0) > status.get("observedGeneration", 0):
        return "Waiting for deployment spec update to be observed...\n", False
    updated, total, available = (
        status.get("updatedReplicas", 0),
        status.get("replicas", 0),
        status.get("availableReplicas", 0),
    )
    if updated < want:
        return (
            f'Waiting for deployment "{name}" rollout to finish: {updated} out of {want} new replicas have been updated...\n',
            False,
        )
    if total > updated:
        return (
            f'Waiting for deployment "{name}" rollout to finish: {total - updated} old replicas are pending termination...\n',
            False,
        )
    if available < updated:
        return (
            f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas are available...\n',
            False,
        )
    return f'deployment "{name}" successfully rolled out\n', True


async def status(f: Any, o: Any, t: Target) -> None:
    limit = parse_duration(o.timeout) or None
    last = ""

    async def loop() -> None:
        nonlocal last
        while True:
            obj = await f.client.call("GET", t.path())
            line, done = _status_line(obj)
            if line != last:
                f.out.write(line)
                f.out.flush()
                last = line
            if done or not o.watch:
                return
            await asyncio.sleep(0.5)

    try:
        async with asyncio.timeout(limit):
            await loop()
    except TimeoutError:
        raise CommandError("timed out waiting for the condition") from None


async def run(f: Any, o: Any) -> int:
    if not o.args:
        raise CommandError("Required resource not specified.")
    sub, o.args = o.args[0], o.args[1:]
    failures: list[Exception] = []
    for t in await targets(f, o, o.args, failures):
        if sub == "history":
            await history(f, o, t)
        elif sub == "status":
            await status(f, o, t)
        else:
            verb = await _change(f, o, sub, t)
            f.out.write(f"{t.display} {verb}\n")
    if failures:
        raise Aggregate(failures)
    return 0


async def _change(f: Any, o: Any, sub: str, t: Target) -> str:
    if sub == "undo":
        return await undo(f, o, t)
    if sub in ("pause", "resume"):
        return await set_paused(f, o, t, sub == "pause")
    if sub == "restart":
        return await restart(f, o, t)
    raise CommandError(f'unknown command "{sub}" for "kubectl rollout"')
