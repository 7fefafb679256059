"""``kubectl debug --profile``: how a debugging container and its pod are set up.

kubectl debug makes one of three things, and a profile adjusts each:

- ``ephemeral``: an ephemeral container added to the pod being debugged;
- ``podCopy``: a copy of the pod (``--copy-to``), with a debugging container
  or changed images;
- ``node``: a new pod on a node (``debug node/<name>``).

What each profile does, after kubectl's profiles: ``general`` (the default)
lets the debugger trace processes (``SYS_PTRACE``), gives a copy one shared
process namespace without probes, labels, annotations or init containers
(unless ``--keep-*`` says otherwise), and gives a node debugger the host's
namespaces and its root filesystem at ``/host``; ``legacy`` is the older
behaviour (no capabilities; a copy only loses its labels); ``baseline`` and ``restricted`` clear or tighten
the security context (Pod Security Standards); ``netadmin`` adds
``NET_ADMIN``/``NET_RAW``; ``sysadmin`` runs privileged.

``--custom`` (``load_custom``, ``apply_custom``) then merges a partial
container spec from a file into the debugging container, as a strategic merge
patch, after the profile.

All functions change the pod dict in place; ``name`` is the debugging
container's.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

EPHEMERAL, POD_COPY, NODE = "ephemeral", "podCopy", "node"
NOT_MODIFIABLE = ("name", "command", "image", "lifecycle", "volumeDevices")
PROFILES = ("legacy", "general", "baseline", "restricted", "netadmin", "sysadmin")
HOST_ROOT = "host-root"


class KeepFlags:
    """``--keep-labels`` and friends: what a copy keeps of the original pod."""

    def __init__(
        self,
        labels: bool = False,
        annotations: bool = False,
        liveness: bool = False,
        readiness: bool = False,
        startup: bool = False,
        init_containers: bool = True,
    ) -> None:
        self.labels, self.annotations = labels, annotations
        self.liveness, self.readiness, self.startup = liveness, readiness, startup
        self.init_containers = init_containers


def apply(profile: str, pod: Obj, name: str, style: str, keep: KeepFlags) -> None:
    """Apply ``profile`` to ``pod``; ValueError for a profile kubectl does not know."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile: {profile}")
    if profile == "legacy":
        if style == NODE:
            _mount_root(pod, name)
            _host_namespaces(pod)
        elif style == POD_COPY:
            pod["metadata"].pop("labels", None)
        return
    if style == POD_COPY:
        _strip_copy(pod, keep)
        pod["spec"].setdefault("shareProcessNamespace", True)
    if profile == "general":
        if style == NODE:
            _mount_root(pod, name)
            _security(pod, name).clear()
            _host_namespaces(pod)
        else:
            _add_capabilities(pod, name, "SYS_PTRACE")
    elif profile == "baseline":
        _security(pod, name).clear()
    elif profile == "restricted":
        context = _security(pod, name)
        context.clear()
        context.update(
            runAsNonRoot=True,
            allowPrivilegeEscalation=False,
            capabilities={"drop": ["ALL"]},
            seccompProfile={"type": "RuntimeDefault"},
        )
    elif profile == "netadmin":
        _add_capabilities(pod, name, "NET_ADMIN", "NET_RAW")
        if style == NODE:
            _host_namespaces(pod)
    else:  # sysadmin
        _security(pod, name)["privileged"] = True
        if style == NODE:
            _mount_root(pod, name)
            _host_namespaces(pod)
    _drop_empty_security(pod, name)


def _container(pod: Obj, name: str) -> Obj:
    spec = pod["spec"]
    for key in ("ephemeralContainers", "containers", "initContainers"):
        for c in spec.get(key) or []:
            if c.get("name") == name:
                return c  # type: ignore[no-any-return]
    raise KeyError(name)


def _security(pod: Obj, name: str) -> Obj:
    container = _container(pod, name)
    context = container.get("securityContext")
    if not isinstance(context, dict):
        context = container["securityContext"] = {}
    return context


def _drop_empty_security(pod: Obj, name: str) -> None:
    container = _container(pod, name)
    if not container.get("securityContext"):
        container.pop("securityContext", None)


def _add_capabilities(pod: Obj, name: str, *caps: str) -> None:
    capabilities = _security(pod, name).setdefault("capabilities", {})
    added = capabilities.setdefault("add", [])
    added.extend(c for c in caps if c not in added)


def _mount_root(pod: Obj, name: str) -> None:
    """The host's filesystem, read-write, at /host."""
    spec = pod["spec"]
    spec.setdefault("volumes", []).append({"name": HOST_ROOT, "hostPath": {"path": "/"}})
    mounts = _container(pod, name).setdefault("volumeMounts", [])
    mounts.append({"name": HOST_ROOT, "mountPath": "/host"})


def _host_namespaces(pod: Obj) -> None:
    pod["spec"].update(hostNetwork=True, hostPID=True, hostIPC=True)


def _strip_copy(pod: Obj, keep: KeepFlags) -> None:
    """What a copy leaves behind, unless a ``--keep-*`` flag keeps it."""
    meta, spec = pod["metadata"], pod["spec"]
    if not keep.labels:
        meta.pop("labels", None)
    if not keep.annotations:
        meta.pop("annotations", None)
    if not keep.init_containers:
        spec.pop("initContainers", None)
    probes = {
        "livenessProbe": keep.liveness,
        "readinessProbe": keep.readiness,
        "startupProbe": keep.startup,
    }
    for c in spec.get("containers") or []:
        for probe, kept in probes.items():
            if not kept:
                c.pop(probe, None)


def load_custom(path: str) -> Obj:
    """The partial container spec in ``path`` (JSON or YAML), with kubectl's errors."""
    import json

    import yaml

    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise ValueError(
            "must pass a container spec json file for custom profile: "
            f"open {path}: {(exc.strerror or str(exc)).lower()}"
        ) from None
    try:
        custom = json.loads(text)
    except ValueError:
        try:
            custom = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path} does not contain a valid container spec: {exc}") from None
    if not isinstance(custom, dict):
        raise ValueError(f"{path} does not contain a valid container spec")
    return custom


def custom_problem(custom: Obj) -> str:
    """What a custom container spec may not set, as kubectl's Validate words it."""
    if any(custom.get(field) for field in NOT_MODIFIABLE):
        return (
            "name, command, image, lifecycle and volume devices are not modifiable via custom "
            "profile"
        )
    return ""


def apply_custom(pod: Obj, name: str, custom: Obj) -> None:
    """Merge ``custom`` into container ``name`` as a strategic merge patch over a
    Container (kubectl uses that type for ephemeral containers too): lists such as
    ``env`` merge by name."""
    from tinykube.api import schema
    from tinykube.patch import strategic

    node = schema.SchemaNode(
        {"$ref": schema.REF_PREFIX + "io.k8s.api.core.v1.Container"}, schema.definitions()
    )
    for key in ("ephemeralContainers", "containers"):
        containers = pod["spec"].get(key) or []
        for i, c in enumerate(containers):
            if c.get("name") == name:
                containers[i] = strategic.apply(c, {**custom, "name": name}, node)
                return
