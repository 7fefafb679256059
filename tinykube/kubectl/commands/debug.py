"""``kubectl debug (POD | TYPE/NAME) [--image=IMAGE] [-it] [-- COMMAND [args...]]``.

Three ways to debug, as kubectl has them:

- a pod, by default: an ephemeral container is added to it (a strategic
  merge patch of ``spec.ephemeralContainers`` through the
  ``pods/<name>/ephemeralcontainers`` subresource); ``--target`` puts it in
  that container's process namespace;
- a pod with ``--copy-to=NAME``: a copy of it is created, with a new
  debugging container, or an existing container's command or image changed
  (``--container``, ``--set-image``), ``--share-processes`` (on by default)
  and ``--same-node``; ``--replace`` deletes the original;
- ``node/NAME``: a pod ``node-debugger-<node>-<5 random>`` pinned to the node,
  tolerating every taint; the profile gives it the host's namespaces and the
  host's root at /host.

The objects are built in ``debugpods``; ``--profile`` (``debugprofiles``)
adjusts the container and pod. With ``-i``
(or ``--attach``) the command waits for the container to run and attaches to
it (``attach.attach_to``), or prints its log once it has already exited, or
when attaching fails, with kubectl's warning line. Messages, their streams
and the errors are kubectl's.
"""

from __future__ import annotations

import asyncio
import copy
import re
from typing import Any

from tinykube.kubectl import debugprofiles
from tinykube.kubectl.debugpods import (
    adjust,
    ephemeral_container,
    node_pod,
    pairs,
    pod_copy,
)
from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.flags import Flag

Obj = dict[str, Any]

USES_EVENT_LOOP = True  # a WebSocket session: see pacing

FLAGS = [
    Flag("arguments-only", kind="bool", default=False),
    Flag("attach", kind="bool", default=False),
    Flag("container", "c", default=""),
    Flag("copy-to", default=""),
    Flag("replace", kind="bool", default=False),
    Flag("env", kind="list"),
    Flag("image", default=""),
    Flag("image-pull-policy", default=""),
    Flag("keep-labels", kind="bool", default=False),
    Flag("keep-annotations", kind="bool", default=False),
    Flag("keep-liveness", kind="bool", default=False),
    Flag("keep-readiness", kind="bool", default=False),
    Flag("keep-startup", kind="bool", default=False),
    Flag("keep-init-containers", kind="bool", default=True),
    Flag("set-image", kind="list"),
    Flag("stdin", "i", kind="bool", default=False),
    Flag("quiet", "q", kind="bool", default=False),
    Flag("same-node", kind="bool", default=False),
    Flag("share-processes", kind="bool", default=True),
    Flag("target", default=""),
    Flag("tty", "t", kind="bool", default=False),
    Flag("profile", default="general"),
    Flag("custom", default=""),
    Flag("filename", "f", kind="list"),
]

PULL_POLICIES = ("Always", "IfNotPresent", "Never", "")
# The shape of an image reference (docker/distribution's, simplified): name[:tag][@digest].
IMAGE_REF = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[0-9]+)?"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
TARGETING = (
    'Targeting container "{}". If you don\'t see processes from this container it may be '
    "because the container runtime doesn't support this feature.\n"
)
LEGACY_DEPRECATED = (
    "--profile=legacy is deprecated and planned to be removed in v1.39. It is recommended "
    'to specify other profile, for example "--profile=general".\n'
)
POLL_SECONDS = 0.5


def validate(f: Any, o: Any) -> None:
    """kubectl's ``Validate``, in its order (the ``--target`` line is printed here too),
    after the flag values pflag itself checks."""
    pairs(o.env, "env")
    set_images = pairs(o.set_image, "set-image")
    attach_asked = "attach" in o.given
    if o.attach and attach_asked and not o.image and not o.container:
        raise CommandError(
            "you must specify --container or create a new container using --image in order "
            "to attach."
        )
    if o.copy_to:
        if not o.image and not set_images and not o.after_dashes:
            raise CommandError("you must specify --image, --set-image or command arguments.")
        if o.after_dashes and not o.container and not o.image:
            raise CommandError(
                "you must specify an existing container or a new image when specifying args."
            )
    elif o.replace:
        raise CommandError("--replace may only be used with --copy-to.")
    elif o.same_node:
        raise CommandError("--same-node may only be used with --copy-to.")
    elif set_images:
        raise CommandError("--set-image may only be used with --copy-to.")
    elif not o.image:
        raise CommandError("you must specify --image when not using --copy-to.")
    if o.image and not IMAGE_REF.match(o.image):
        raise CommandError(f'invalid image name "{o.image}": invalid reference format')
    if not o.args and not o.filename:
        raise CommandError("NAME or filename is required for debug")
    if o.image_pull_policy not in PULL_POLICIES:
        raise CommandError(f"invalid image pull policy: {o.image_pull_policy}")
    for name, image in set_images.items():
        if not IMAGE_REF.match(image):
            raise CommandError(
                f'invalid image name "{image}" for container "{name}": invalid reference format'
            )
    if o.target:
        if o.copy_to:
            raise CommandError(
                "--target is incompatible with --copy-to. Use --share-processes instead."
            )
        if not o.quiet:
            f.out.write(TARGETING.format(o.target))
    if o.tty and not o.stdin:
        raise CommandError("-i/--stdin is required for containers with -t/--tty=true")
    if o.profile not in debugprofiles.PROFILES:
        raise CommandError(f"unknown profile: {o.profile}")
    problem = debugprofiles.custom_problem(o.values.get("custom_container") or {})
    if problem:
        raise CommandError(problem)
    if o.profile == "legacy":
        f.err.write(LEGACY_DEPRECATED)


# ---- running it ---------------------------------------------------------------------


async def run(f: Any, o: Any) -> int:
    if o.custom:  # read in kubectl's Complete, before Validate
        try:
            o.values["custom_container"] = debugprofiles.load_custom(o.custom)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    validate(f, o)
    attach = o.attach if "attach" in o.given else o.stdin
    for mapping, namespace, name in await targets(f, o):
        pod, container = await visit(f, o, mapping, namespace, name)
        if attach and container:
            await attach_to(f, o, pod, container)
    return 0


async def targets(f: Any, o: Any) -> list[tuple[Any, str, str]]:
    """What to debug: each ``-f`` manifest's objects, then each NAME (a pod's name, or
    TYPE/NAME), as resource, namespace and name; the live objects are read later."""
    from tinykube.kubectl import resources

    found = []
    if o.filename:
        for item in await resources.from_files(f, o.filename):
            found.append((item.mapping, item.namespace, item.name))
    for target in o.args:
        kind, slash, name = target.partition("/")
        if not slash:
            kind, name = "pods", target
        found.append((await f.discovery.find(kind), f.namespace, name))
    return found


async def visit(f: Any, o: Any, mapping: Any, namespace: str, name: str) -> tuple[Obj, str]:
    """Debug one object: the pod to attach to and the container in it."""
    obj = await f.client.call("GET", mapping.path(namespace, name))
    if mapping.kind == "Node" and not mapping.group:
        pod, container = node_pod(f, o, name)
        return await _create(f, pod), container
    if mapping.kind != "Pod" or mapping.group:
        gvk = f"{mapping.group}/{mapping.version}, Kind={mapping.kind}"
        raise CommandError(f'"{gvk}" not supported by debug')
    if o.copy_to:
        copied, container = pod_copy(f, o, obj)
        created = await _create(f, copied)
        if o.replace:
            path = f"/api/v1/namespaces/{namespace}/pods/{name}"
            await f.client.call("DELETE", path, body={"gracePeriodSeconds": 0})
        return created, container
    return await add_ephemeral_container(f, o, obj)


async def _create(f: Any, pod: Obj) -> Obj:
    ns = pod["metadata"].get("namespace") or f.namespace
    return dict(await f.client.call("POST", f"/api/v1/namespaces/{ns}/pods", body=pod))


async def add_ephemeral_container(f: Any, o: Any, pod: Obj) -> tuple[Obj, str]:
    """The new entry, set up by the profile, sent as a strategic merge patch: the list
    merges by name, so the existing entries stay as they are, and the new one goes last."""
    container = ephemeral_container(f, o, pod)
    debugged = copy.deepcopy(pod)
    debugged.setdefault("spec", {}).setdefault("ephemeralContainers", []).append(container)
    style = debugprofiles.EPHEMERAL
    adjust(o, debugged, container["name"], style)
    meta = pod["metadata"]
    path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/ephemeralcontainers"
    # What kubectl's two-way merge patch holds: the new entry, and the order of all.
    every = debugged["spec"]["ephemeralContainers"]
    patch = {
        "spec": {
            "$setElementOrder/ephemeralContainers": [{"name": c["name"]} for c in every],
            "ephemeralContainers": [every[-1]],
        }
    }
    result = await f.client.call(
        "PATCH", path, body=patch, content_type="application/strategic-merge-patch+json"
    )
    return dict(result), container["name"]


# ---- attaching ----------------------------------------------------------------------


def container_status(pod: Obj, name: str) -> Obj | None:
    status = pod.get("status") or {}
    for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(key) or []:
            if cs.get("name") == name:
                return dict(cs)
    return None


async def wait_for_container(f: Any, o: Any, pod: Obj, name: str) -> tuple[Obj, Obj]:
    """Until the container runs or ran (kubectl waits as long as it takes); a waiting
    reason's message is shown once, as kubectl's warning printer shows it."""
    meta = pod["metadata"]
    path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
    shown = ""
    while True:
        pod = dict(await f.client.call("GET", path))
        status = container_status(pod, name)
        state = (status or {}).get("state") or {}
        if status is not None and ("running" in state or "terminated" in state):
            return pod, status
        message = (state.get("waiting") or {}).get("message", "")
        if message and message != shown and not o.quiet:
            f.err.write(f"Warning: container {name}: {message}\n")
            shown = message
        await asyncio.sleep(POLL_SECONDS)


async def attach_to(f: Any, o: Any, pod: Obj, name: str) -> None:
    """kubectl's ``handleAttachPod``: attach, or the log of a container that already exited
    (and when attaching fails, after kubectl's warning)."""
    from tinykube.kubectl import errors
    from tinykube.kubectl.commands import attach
    from tinykube.kubectl.commands import exec as remote

    pod, status = await wait_for_container(f, o, pod, name)
    if "terminated" in (status.get("state") or {}):
        await _print_log(f, pod, name)
        return
    container = remote.container_of(f, pod, name, o.quiet)
    try:
        await attach.attach_to(f, pod, container, o.stdin, o.tty, o.quiet, "kubectl attach")
    except Exception as exc:  # any failure to attach: kubectl falls back to the log
        text = str(exc) if isinstance(exc, CommandError) else errors.message_for(exc, f.server)
        text = text.removeprefix("error: ").rstrip("\n")
        pod_name = pod["metadata"]["name"]
        f.err.write(
            f"warning: couldn't attach to pod/{pod_name}, falling back to streaming logs: {text}\n"
        )
        await _print_log(f, pod, name)


async def _print_log(f: Any, pod: Obj, name: str) -> None:
    meta = pod["metadata"]
    path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/log"
    data = await f.client.send("GET", path, params={"container": name})
    f.out.flush()
    out = getattr(f.out, "buffer", None)
    if out is not None:
        out.write(data)
        out.flush()
    else:
        f.out.write(data.decode(errors="replace"))
