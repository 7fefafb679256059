"""Ephemeral containers: what one may hold, and how the list may change.

An ephemeral container is added to a running Pod through the
``pods/<name>/ephemeralcontainers`` subresource, usually by ``kubectl debug``.
It is run once and never restarted, so it has no ports, probes, lifecycle
hooks or resources (nothing would act on them), and it can only be added:
an entry, once written, is a record of what the kubelet ran, so changing or
removing it is Forbidden. ``targetContainerName`` must name one of the Pod's
containers, whose process namespace the debugger joins. Names are unique
across all three container lists; ``pod.py`` checks that for every PodSpec.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, field_forbidden
from tinykube.api.validation.common import as_dict, as_list, child, index

FORBIDDEN_DETAIL = "cannot be set for an Ephemeral Container"
# Container fields an ephemeral container may not carry, in upstream's struct order.
FORBIDDEN_FIELDS = (
    "ports",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
)
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
PATH = "spec.ephemeralContainers"


def validate_ephemeral_containers(spec: dict[str, Any], path: str) -> list[FieldError]:
    """The per-entry rules: no forbidden fields, no subPath, a target that exists."""
    targets = {
        as_dict(c).get("name")
        for field in ("containers", "initContainers")
        for c in as_list(spec.get(field))
    }
    errs: list[FieldError] = []
    for i, container in enumerate(as_list(spec.get("ephemeralContainers"))):
        c = as_dict(container)
        cpath = index(child(path, "ephemeralContainers"), i)
        for field in FORBIDDEN_FIELDS:
            if c.get(field) not in (None, {}, []):
                errs.append(field_forbidden(child(cpath, field), FORBIDDEN_DETAIL))
        for j, mount in enumerate(as_list(c.get("volumeMounts"))):
            if as_dict(mount).get("subPath"):
                mpath = child(index(child(cpath, "volumeMounts"), j), "subPath")
                errs.append(field_forbidden(mpath, FORBIDDEN_DETAIL))
        target = c.get("targetContainerName")
        if target and target not in targets:
            errs.append(
                FieldError(child(cpath, "targetContainerName"), "Not found", "", target, True)
            )
    return errs


def validate_ephemeral_containers_update(
    new_spec: dict[str, Any], old_spec: dict[str, Any]
) -> list[FieldError]:
    """Entries may be added; existing ones are kept exactly (matched by name,
    since a patch does not keep the order)."""
    new_list = as_list(new_spec.get("ephemeralContainers"))
    old_list = as_list(old_spec.get("ephemeralContainers"))
    if new_list == old_list:
        return []
    by_name = {as_dict(c).get("name"): c for c in new_list}
    errs: list[FieldError] = []
    for container in old_list:
        name = as_dict(container).get("name")
        if name not in by_name:
            detail = f'existing ephemeral containers "{name}" may not be removed'
            errs.append(field_forbidden(PATH, detail))
        elif by_name[name] != container:
            detail = f'existing ephemeral containers "{name}" may not be changed'
            errs.append(field_forbidden(f"{PATH}[{name}]", detail))
    return errs


def validate_static_pod(old: dict[str, Any]) -> list[FieldError]:
    """A mirror pod stands for a static pod the kubelet runs from a file, which
    has no ephemeral containers to run, so the subresource refuses it."""
    annotations = as_dict(as_dict(old.get("metadata")).get("annotations"))
    if MIRROR_ANNOTATION in annotations:
        return [field_forbidden("", "static pods do not support ephemeral containers")]
    return []
