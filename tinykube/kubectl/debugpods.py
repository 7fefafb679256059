"""The objects ``kubectl debug`` creates, built as kubectl builds them.

``ephemeral_container`` is the entry added to a pod's
``spec.ephemeralContainers``; ``node_pod`` the ``node-debugger-<node>-<xxxxx>``
pod; ``pod_copy`` the ``--copy-to`` copy of a pod, with a debugging container
added or an existing container's command, env or image changed. Each is then
adjusted by the ``--profile`` (``debugprofiles``). Fields kubectl leaves empty
are left out, as Go's ``omitempty`` leaves them out of what kubectl sends.
Messages about names kubectl chose go to stdout, as kubectl writes them.
"""

from __future__ import annotations

import copy
import csv
import secrets
from typing import Any

from tinykube.kubectl import debugprofiles
from tinykube.kubectl.errors import CommandError, UsageError

Obj = dict[str, Any]

NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery's rand.String alphabet


def suffix(n: int = 5) -> str:
    return "".join(secrets.choice(NAME_CHARS) for _ in range(n))


def pairs(values: list[str], flag: str) -> dict[str, str]:
    """pflag's StringToString, repeatable: a value with one ``=`` is one pair, commas
    and all (``A=1,B`` sets A to ``1,B``); with more, it is a CSV line of pairs."""
    out: dict[str, str] = {}
    for value in values:
        count = value.count("=")
        if count == 1:
            items = [value.strip('"')]
        else:
            items = next(csv.reader([value])) if count else [value]
        for item in items:
            key, eq, val = item.partition("=")
            if not eq:
                # A flag error: pflag's words, then the usage hint.
                raise UsageError(
                    f'error: invalid argument "{value}" for "--{flag}" flag: {item} must be '
                    "formatted as key=value\nSee 'kubectl debug --help' for usage."
                )
            out[key] = val
    return out


def keep_flags(o: Any) -> debugprofiles.KeepFlags:
    return debugprofiles.KeepFlags(
        labels=o.keep_labels,
        annotations=o.keep_annotations,
        liveness=o.keep_liveness,
        readiness=o.keep_readiness,
        startup=o.keep_startup,
        init_containers=o.keep_init_containers,
    )


def adjust(o: Any, pod: Obj, name: str, style: str) -> None:
    """The ``--profile``, then the ``--custom`` container spec (loaded by the command)."""
    debugprofiles.apply(o.profile, pod, name, style, keep_flags(o))
    custom = o.values.get("custom_container")
    if custom:
        debugprofiles.apply_custom(pod, name, custom)


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
        # kubectl marks the pods it makes for nodes, so they can be found and cleaned up.
        "metadata": {"name": pod_name, "labels": {"app.kubernetes.io/managed-by": "kubectl-debug"}},
        "spec": {
            "containers": [container],
            "nodeName": node,
            "restartPolicy": "Never",
            "tolerations": [{"operator": "Exists"}],
        },
    }
    adjust(o, pod, name, debugprofiles.NODE)
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
    adjust(o, copied, name, debugprofiles.POD_COPY)
    return copied, name
