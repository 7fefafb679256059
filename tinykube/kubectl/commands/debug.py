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

``--profile`` (``debugprofiles``) adjusts the container and pod. With ``-i``
(or ``--attach``) the command waits for the container to run and attaches to
it (``attach.attach_to``), or prints its log once it has already exited, or
when attaching fails, with kubectl's warning line. Messages, their streams
and the errors are kubectl's.
"""

from __future__ import annotations

import asyncio
import copy
import re
import secrets
from typing import Any

from tinykube.kubectl import debugprofiles
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
    Flag("filename", "f", kind="list"),
]

NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery's rand.String alphabet
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
POLL_SECONDS = 0.5


def suffix(n: int = 5) -> str:
    return "".join(secrets.choice(NAME_CHARS) for _ in range(n))


def pairs(values: list[str], flag: str) -> dict[str, str]:
    """pflag's StringToString: ``a=1,b=2``, possibly repeated."""
    out: dict[str, str] = {}
    for value in values:
        for item in value.split(","):
            key, eq, val = item.partition("=")
            if not eq:
                raise CommandError(
                    f'invalid argument "{value}" for "--{flag}" flag: {item} must be formatted '
                    "as key=value"
                )
            out[key] = val
    return out


def validate(f: Any, o: Any) -> None:
    """kubectl's ``Validate``, in its order (the ``--target`` line is printed here too)."""
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


def keep_flags(o: Any) -> debugprofiles.KeepFlags:
    return debugprofiles.KeepFlags(
        labels=o.keep_labels,
        annotations=o.keep_annotations,
        liveness=o.keep_liveness,
        readiness=o.keep_readiness,
        startup=o.keep_startup,
        init_containers=o.keep_init_containers,
    )


def env_list(o: Any) -> list[Obj]:
    return [{"name": k, "value": v} for k, v in sorted(pairs(o.env, "env").items())]


def _set(obj: Obj, field: str, value: Any) -> None:
    """Go's ``omitempty``: an empty value leaves the field out."""
    if value:
        obj[field] = value
    else:
        obj.pop(field, None)


def _command(container: Obj, o: Any) -> None:
    if o.arguments_only:
        _set(container, "args", list(o.after_dashes))
    else:
        _set(container, "command", list(o.after_dashes))


def all_names(pod: Obj) -> set[str]:
    spec = pod.get("spec") or {}
    return {
        c.get("name", "")
        for key in ("containers", "initContainers", "ephemeralContainers")
        for c in spec.get(key) or []
    }


def debug_container_name(f: Any, o: Any, pod: Obj) -> str:
    """``--container``, else a ``debugger-xxxxx`` no container of the pod has."""
    if o.container:
        return str(o.container)
    taken, name = all_names(pod), ""
    while not name or name in taken:
        name = f"debugger-{suffix()}"
    if not o.quiet:
        f.out.write(f"Defaulting debug container name to {name}.\n")
    return name


def ephemeral_container(f: Any, o: Any, pod: Obj) -> Obj:
    container: Obj = {"name": debug_container_name(f, o, pod)}
    _set(container, "env", env_list(o))
    _set(container, "image", o.image)
    _set(container, "imagePullPolicy", o.image_pull_policy)
    _set(container, "stdin", o.stdin)
    container["terminationMessagePolicy"] = "File"
    _set(container, "tty", o.tty)
    _set(container, "targetContainerName", o.target)
    _command(container, o)
    return container


def node_pod(f: Any, o: Any, node: str) -> tuple[Obj, str]:
    name = o.container or "debugger"
    pod_name = f"node-debugger-{node}-{suffix()}"
    if not o.quiet:
        f.out.write(f"Creating debugging pod {pod_name} with container {name} on node {node}.\n")
    container: Obj = {"name": name}
    _set(container, "env", env_list(o))
    _set(container, "image", o.image)
    _set(container, "imagePullPolicy", o.image_pull_policy)
    _set(container, "stdin", o.stdin)
    container["terminationMessagePolicy"] = "File"
    _set(container, "tty", o.tty)
    _command(container, o)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod_name},
        "spec": {
            "containers": [container],
            "nodeName": node,
            "restartPolicy": "Never",
            "tolerations": [{"operator": "Exists"}],
        },
    }
    debugprofiles.apply(o.profile, pod, name, debugprofiles.NODE, keep_flags(o))
    return pod, name


def pod_copy(f: Any, o: Any, pod: Obj) -> tuple[Obj, str]:
    """kubectl's ``generatePodCopyWithDebugContainer``: the copy and the container to attach
    to ("" when only images changed)."""
    meta = pod["metadata"]
    copied: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": o.copy_to, "namespace": meta.get("namespace", f.namespace)},
        "spec": copy.deepcopy(pod.get("spec") or {}),
    }
    _set(copied["metadata"], "annotations", meta.get("annotations"))
    _set(copied["metadata"], "labels", meta.get("labels"))
    spec = copied["spec"]
    spec.pop("ephemeralContainers", None)
    if "share_processes" in o.given:
        spec["shareProcessNamespace"] = o.share_processes
    if not o.same_node:
        spec.pop("nodeName", None)
    images = pairs(o.set_image, "set-image")
    for c in spec.get("containers") or []:
        override = images.get(c.get("name", ""), images.get("*", ""))
        if override:
            c["image"] = override
    by_name = {
        c.get("name"): c for key in ("containers", "initContainers") for c in spec.get(key) or []
    }
    name = o.container
    container = by_name.get(name) if name else None
    if container is None:
        if not o.image:
            if images:
                return copied, ""
            raise CommandError("you must specify image when creating new container")
        name = debug_container_name(f, o, copied)
        container = {"name": name, "terminationMessagePolicy": "File"}
        spec.setdefault("containers", []).append(container)
    if o.after_dashes:
        if o.arguments_only:
            container["args"] = list(o.after_dashes)
        else:
            container["command"] = list(o.after_dashes)
            container.pop("args", None)
    if o.env:
        container["env"] = env_list(o)
    _set(container, "image", o.image or container.get("image"))
    _set(container, "imagePullPolicy", o.image_pull_policy or container.get("imagePullPolicy"))
    _set(container, "stdin", o.stdin)
    _set(container, "tty", o.tty)
    debugprofiles.apply(o.profile, copied, name, debugprofiles.POD_COPY, keep_flags(o))
    return copied, name


# ---- running it ---------------------------------------------------------------------


async def run(f: Any, o: Any) -> int:
    validate(f, o)
    attach = o.attach if "attach" in o.given else o.stdin
    for target in o.args:
        pod, container = await visit(f, o, target)
        if attach and container:
            await attach_to(f, o, pod, container)
    return 0


async def visit(f: Any, o: Any, target: str) -> tuple[Obj, str]:
    """Debug one NAME: the pod to attach to and the container in it."""
    kind, slash, name = target.partition("/")
    if not slash:
        kind, name = "pods", target
    mapping = await f.discovery.find(kind)
    obj = await f.client.call("GET", mapping.path(f.namespace, name))
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
            path = f"/api/v1/namespaces/{obj['metadata']['namespace']}/pods/{name}"
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
    debugprofiles.apply(o.profile, debugged, container["name"], style, keep_flags(o))
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
