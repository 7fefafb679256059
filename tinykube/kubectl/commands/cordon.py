"""``kubectl cordon``, ``uncordon`` and ``drain``.

Cordoning sets ``spec.unschedulable``. Draining cordons, then evicts every
pod on the node through ``pods/eviction`` (so PodDisruptionBudgets are
honoured: a 429 answer is retried until the budget allows it or the timeout
passes), refusing DaemonSet pods unless ``--ignore-daemonsets``, pods with
local ``emptyDir`` data unless ``--delete-emptydir-data`` and unmanaged pods
unless ``--force``, with kubectl's messages.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tinykube.api import errors as api
from tinykube.kubectl import mutate
from tinykube.kubectl.commands.objects import Target, patch, targets
from tinykube.kubectl.durations import parse_duration
from tinykube.kubectl.errors import Aggregate, CommandError
from tinykube.kubectl.flags import Flag

Obj = dict[str, Any]

USES_EVENT_LOOP = True  # timeouts, concurrency or subprocesses: see pacing

FLAGS = [
    Flag("selector", "l"),
    Flag("pod-selector"),
    Flag("ignore-daemonsets", kind="bool", default=False),
    Flag("delete-emptydir-data", kind="bool", default=False),
    Flag("force", kind="bool", default=False),
    Flag("grace-period", kind="int", default=-1),
    Flag("timeout", default="0s"),
    Flag("disable-eviction", kind="bool", default=False),
    Flag("skip-wait-for-delete-timeout", kind="int", default=0),
    mutate.DRY_RUN_FLAG,
]


async def set_unschedulable(f: Any, o: Any, t: Target, value: bool) -> None:
    word = "cordoned" if value else "uncordoned"
    if bool((t.obj.get("spec") or {}).get("unschedulable")) == value:
        f.out.write(f"{t.display} already {word}\n")
        return
    if mutate.dry_run(o) != "client":
        body = {"spec": {"unschedulable": True if value else None}}
        await patch(
            f, t, body, "strategic", {"dryRun": "All"} if mutate.dry_run(o) == "server" else {}
        )
    f.out.write(f"{t.display} {word}{mutate.suffix(mutate.dry_run(o))}\n")


def _controller(pod: Obj) -> Obj | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def classify(o: Any, pods: list[Obj]) -> tuple[list[Obj], list[str], dict[str, list[str]]]:
    """(pods to evict, warnings, errors by reason) with kubectl's filters."""
    evict: list[Obj] = []
    warnings: list[str] = []
    problems: dict[str, list[str]] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        phase = (pod.get("status") or {}).get("phase")
        if "kubernetes.io/config.mirror" in (meta.get("annotations") or {}):
            continue
        if phase in ("Succeeded", "Failed"):
            evict.append(pod)
            continue
        owner = _controller(pod)
        if owner and owner.get("kind") == "DaemonSet":
            if o.ignore_daemonsets:
                warnings.append(key)
            else:
                problems.setdefault(
                    "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)", []
                ).append(key)
            continue
        if owner is None and not o.force:
            problems.setdefault(
                "cannot delete Pods that declare no controller (use --force to override)", []
            ).append(key)
            continue
        volumes = (pod.get("spec") or {}).get("volumes") or []
        if any("emptyDir" in v for v in volumes) and not o.delete_emptydir_data:
            problems.setdefault(
                "cannot delete Pods with local storage (use --delete-emptydir-data to override)", []
            ).append(key)
            continue
        evict.append(pod)
    return evict, warnings, problems


async def evict(f: Any, o: Any, pod: Obj, deadline: float) -> None:
    meta = pod.get("metadata") or {}
    ns, name = meta.get("namespace"), meta.get("name")
    body: Obj = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": ns},
    }
    if o.grace_period >= 0:
        body["deleteOptions"] = {"gracePeriodSeconds": o.grace_period}
    loop = asyncio.get_running_loop()
    f.out.write(f"evicting pod {ns}/{name}\n")
    f.out.flush()
    while True:
        try:
            if o.disable_eviction:
                await f.client.call("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}", body={})
            else:
                await f.client.call(
                    "POST", f"/api/v1/namespaces/{ns}/pods/{name}/eviction", body=body
                )
            return
        except api.NotFound:
            return
        except api.TooManyRequests as exc:
            if loop.time() > deadline:
                raise
            f.err.write(
                f'error when evicting pods/"{name}" -n "{ns}" (will retry after 5s): {exc.message}\n'
            )
            await asyncio.sleep(5)


async def wait_deleted(f: Any, pods: list[Obj], deadline: float) -> None:
    loop = asyncio.get_running_loop()
    for pod in pods:
        meta = pod.get("metadata") or {}
        path = f"/api/v1/namespaces/{meta.get('namespace')}/pods/{meta.get('name')}"
        while loop.time() < deadline:
            try:
                live = await f.client.call("GET", path)
            except api.NotFound:
                break
            if (live.get("metadata") or {}).get("uid") != meta.get("uid"):
                break
            await asyncio.sleep(0.2)
        f.out.write(f"pod/{meta.get('name')} evicted\n")
        f.out.flush()


async def drain(f: Any, o: Any, t: Target) -> None:
    await set_unschedulable(f, o, t, True)
    params = {"fieldSelector": f"spec.nodeName={t.name}"}
    if o.pod_selector:
        params["labelSelector"] = o.pod_selector
    pods = (await f.client.call("GET", "/api/v1/pods", params=params)).get("items") or []
    chosen, warnings, problems = classify(o, pods)
    if problems:
        lines = [f"{reason}: {', '.join(keys)}" for reason, keys in problems.items()]
        f.err.write(
            f'error: unable to drain node "{t.name}" due to error: [{", ".join(lines)}], continuing command...\n'
        )
        f.err.write("There are pending nodes to be drained:\n " + t.name + "\n")
        raise CommandError(", ".join(lines))
    if warnings:
        f.err.write(f"Warning: ignoring DaemonSet-managed Pods: {', '.join(warnings)}\n")
    if mutate.dry_run(o) != "none":
        for pod in chosen:
            meta = pod.get("metadata") or {}
            f.out.write(
                f"evicting pod {meta.get('namespace')}/{meta.get('name')}{mutate.suffix(mutate.dry_run(o))}\n"
            )
        f.out.write(f"{t.display} drained{mutate.suffix(mutate.dry_run(o))}\n")
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (parse_duration(o.timeout) or 7 * 24 * 3600)
    await asyncio.gather(*(evict(f, o, p, deadline) for p in chosen))
    await wait_deleted(f, chosen, deadline)
    f.out.write(f"{t.display} drained\n")


async def run(f: Any, o: Any) -> int:
    if not o.args and not o.selector:
        raise CommandError("USAGE: kubectl " + o.cmd_name + " NODE [flags]")
    args = (
        o.args
        if not o.args or "/" in o.args[0] or o.args[0] in ("node", "nodes", "no")
        else ["nodes", *o.args]
    )
    if o.selector and not o.args:
        args = ["nodes"]
        o.values["all"] = False
    failures: list[Exception] = []
    for t in await targets(f, o, args, failures):
        if o.cmd_name == "drain":
            await drain(f, o, t)
        else:
            await set_unschedulable(f, o, t, o.cmd_name == "cordon")
    if failures:
        raise Aggregate(failures)
    return 0
