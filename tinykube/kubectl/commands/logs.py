"""``kubectl logs``: a container's log through the API server (``pods/log``).

The pod is named directly or found through a workload's selector
(``deploy/web``: its first pod, as kubectl picks). Without ``-c`` a pod with
several containers uses the ``kubectl.kubernetes.io/default-container``
annotation or its first container and says so on stderr. ``-f`` streams
until the server closes the log.
"""

from __future__ import annotations

from typing import Any

from tinykube.kubectl import podpick
from tinykube.kubectl.durations import parse_duration
from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.flags import Flag

Obj = dict[str, Any]
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"

FLAGS = [
    Flag("container", "c"),
    Flag("follow", "f", kind="bool", default=False),
    Flag("tail", kind="int", default=-1),
    Flag("previous", "p", kind="bool", default=False),
    Flag("timestamps", kind="bool", default=False),
    Flag("since"),
    Flag("since-time"),
    Flag("limit-bytes", kind="int", default=0),
    Flag("selector", "l"),
    Flag("all-containers", kind="bool", default=False),
    Flag("prefix", kind="bool", default=False),
]


async def _pods(f: Any, o: Any) -> list[Obj]:
    ns = f.namespace
    if o.selector:
        listing = await f.client.call(
            "GET", f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": o.selector}
        )
        return listing.get("items") or []
    if not o.args:
        raise CommandError(
            "expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a required argument for the logs command"
        )
    target = o.args[0]
    if "/" not in target:
        from tinykube.api.errors import NotFound

        try:
            return [await f.client.call("GET", f"/api/v1/namespaces/{ns}/pods/{target}")]
        except NotFound:
            raise CommandError(
                f'error from server (NotFound): pods "{target}" not found in namespace "{ns}"'
            ) from None
    kind, _, name = target.partition("/")
    pods = await podpick.pods_for(f, kind, name)
    if len(pods) > 1:
        f.err.write(f"Found {len(pods)} pods, using pod/{pods[0]['metadata']['name']}\n")
    return pods[:1]


def _containers(f: Any, o: Any, pod: Obj) -> list[str]:
    names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    if o.all_containers:
        init = [c.get("name", "") for c in (pod.get("spec") or {}).get("initContainers") or []]
        return init + names
    if o.container:
        spec = pod.get("spec") or {}
        every = [
            c.get("name", "")
            for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or []
        ]
        if o.container not in every:
            name = (pod.get("metadata") or {}).get("name")
            raise CommandError(
                f"container {o.container} is not valid for pod {name} out of: {', '.join(every)}"
            )
        return [o.container]
    meta = pod.get("metadata") or {}
    default = (meta.get("annotations") or {}).get(DEFAULT_CONTAINER)
    if default in names:
        return [default]
    if len(names) > 1:
        f.err.write(f'Defaulted container "{names[0]}" out of: {", ".join(names)}\n')
    return names[:1]


def _params(o: Any, container: str) -> dict[str, str]:
    params = {"container": container}
    if o.follow:
        params["follow"] = "true"
    if o.tail >= 0:
        params["tailLines"] = str(o.tail)
    if o.previous:
        params["previous"] = "true"
    if o.timestamps:
        params["timestamps"] = "true"
    if o.since:
        params["sinceSeconds"] = str(int(parse_duration(o.since)))
    if o.since_time:
        params["sinceTime"] = o.since_time
    if o.limit_bytes:
        params["limitBytes"] = str(o.limit_bytes)
    return params


async def run(f: Any, o: Any) -> int:
    if len(o.args) > 1 and not o.container:
        o.values["container"] = o.args[1]
    for pod in await _pods(f, o):
        meta = pod.get("metadata") or {}
        for container in _containers(f, o, pod):
            path = f"/api/v1/namespaces/{meta.get('namespace')}/pods/{meta.get('name')}/log"
            prefix = f"[pod/{meta.get('name')}/{container}] " if o.prefix else ""
            await _copy(f, path, _params(o, container), prefix)
    return 0


async def _copy(f: Any, path: str, params: dict[str, str], prefix: str) -> None:
    pending = b""
    async for chunk in f.client.stream(path, params=params, accept="*/*"):
        if not prefix:
            f.out.buffer.write(chunk) if hasattr(f.out, "buffer") else f.out.write(
                chunk.decode(errors="replace")
            )
            f.out.flush()
            continue
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            f.out.write(prefix + line.decode(errors="replace") + "\n")
        f.out.flush()
    if pending and prefix:
        f.out.write(prefix + pending.decode(errors="replace"))
