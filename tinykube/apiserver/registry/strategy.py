"""Per-resource API rules, in the manner of upstream's ``strategy.go`` files.

The generic registry calls these at fixed points; a resource with no special
rules uses the defaults. What they encode:

- create: server-owned metadata is set, ``status`` is cleared for kinds with a
  status subresource (it is written through ``/status`` only), except Nodes,
  whose kubelet registers them with a status;
- update of the main resource keeps the stored ``status``; update through
  ``/status`` keeps the stored ``spec`` (and the metadata the main resource owns);
- update through ``pods/ephemeralcontainers`` changes only
  ``spec.ephemeralContainers``;
- ``metadata.generation`` starts at 1 and is bumped when the spec changes.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from typing import Any

from tinykube.api import errors
from tinykube.api.resources import Resource
from tinykube.api.validation.podupdate import POD_UPDATE_FORBIDDEN

# Kinds whose status may be set on create (the kubelet posts a Node with status).
KEEP_STATUS_ON_CREATE = frozenset({"nodes", "events", "leases"})
# Kinds carrying metadata.generation although they are not "workloads".
GENERATION_KINDS = frozenset({"pods"})

NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
MAX_GENERATE_PREFIX = 58
SERVER_META = (
    "uid",
    "creationTimestamp",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
)


TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def _set_template_generation(obj: dict[str, Any], generation: int) -> None:
    annotations = obj["metadata"].get("annotations") or {}
    annotations[TEMPLATE_GENERATION] = str(generation)
    obj["metadata"]["annotations"] = annotations


def generate_name(prefix: str) -> str:
    """``generateName`` + 5 random characters, as the storage names generator does."""
    return prefix[:MAX_GENERATE_PREFIX] + "".join(secrets.choice(NAME_CHARS) for _ in range(5))


def tracks_generation(res: Resource) -> bool:
    return res.tracks_generation or res.plural in GENERATION_KINDS


def spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything that is desired state: all top-level fields but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


def _generation_fields(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    """What a generation counts: a custom object without a status subresource counts
    its status too, as upstream's custom resource strategy does."""
    if res.crd and not res.has_status:
        return {k: v for k, v in obj.items() if k not in ("metadata", "kind", "apiVersion")}
    return spec_of(obj)


def prepare_for_create(res: Resource, obj: dict[str, Any], now: str) -> None:
    meta = obj["metadata"]
    if meta.get("resourceVersion"):
        raise errors.BadRequest("resourceVersion should not be set on objects to be created")
    for field in SERVER_META:
        meta.pop(field, None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now
    if tracks_generation(res):
        meta["generation"] = 1
    if res.has_status and res.plural not in KEEP_STATUS_ON_CREATE:
        obj.pop("status", None)
    if res.plural == "daemonsets":
        _set_template_generation(obj, 1)
    if res.plural == "namespaces" and not res.group:
        spec = obj.get("spec") or {}
        if not spec.get("finalizers"):
            spec["finalizers"] = ["kubernetes"]
        obj["spec"] = spec


def prepare_for_update(res: Resource, new: dict[str, Any], old: dict[str, Any]) -> None:
    """Main-resource update: server-owned metadata and status come from the stored object."""
    _keep_server_meta(new, old)
    if res.plural == "pods" and not res.group:
        _refuse_ephemeral_change(new, old)
    if res.has_status:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    if tracks_generation(res):
        gen = old["metadata"].get("generation", 1)
        if _generation_fields(res, new) != _generation_fields(res, old):
            gen += 1
        new["metadata"]["generation"] = gen
        if res.plural == "daemonsets":
            # The template's own generation, which daemon pods carry as a label.
            old_gen = (old["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION)
            changed = (new.get("spec") or {}).get("template") != (old.get("spec") or {}).get(
                "template"
            )
            _set_template_generation(new, gen if changed or old_gen is None else int(old_gen))


def prepare_for_status_update(res: Resource, new: dict[str, Any], old: dict[str, Any]) -> None:
    """``/status`` update: only status (and labels/annotations) may change."""
    kept = copy.deepcopy(old)
    kept["status"] = new.get("status", {})
    meta = kept["metadata"]
    new_meta = new.get("metadata") or {}
    for field in ("labels", "annotations"):
        if field in new_meta:
            meta[field] = new_meta[field]
        else:
            meta.pop(field, None)
    if "managedFields" in new_meta:
        meta["managedFields"] = new_meta["managedFields"]
    new.clear()
    new.update(kept)


def _refuse_ephemeral_change(new: dict[str, Any], old: dict[str, Any]) -> None:
    """Ephemeral containers change only through their subresource. The Pod update
    rules (``podupdate.py``) let the list grow, because the registry validates both
    endpoints with them; here the main endpoint refuses any change, with the words
    upstream's update validation uses for it."""
    wanted = (new.get("spec") or {}).get("ephemeralContainers") or []
    stored = (old.get("spec") or {}).get("ephemeralContainers") or []
    if wanted != stored:
        name = old["metadata"].get("name", "")
        problem = errors.field_forbidden("spec", POD_UPDATE_FORBIDDEN)
        raise errors.invalid_object("Pod", "", name, [problem])


def prepare_for_ephemeral_containers_update(new: dict[str, Any], old: dict[str, Any]) -> None:
    """``pods/ephemeralcontainers``: the stored Pod with the request's
    ``spec.ephemeralContainers`` (and managedFields); anything else it carries is
    dropped, as upstream's strategy does. Adding one changes the spec, so the
    generation moves."""
    kept = copy.deepcopy(old)
    wanted = (new.get("spec") or {}).get("ephemeralContainers")
    spec = kept.setdefault("spec", {})
    if wanted:
        spec["ephemeralContainers"] = wanted
    else:
        spec.pop("ephemeralContainers", None)
    new_meta = new.get("metadata") or {}
    if "managedFields" in new_meta:
        kept["metadata"]["managedFields"] = new_meta["managedFields"]
    if spec.get("ephemeralContainers") != (old.get("spec") or {}).get("ephemeralContainers"):
        kept["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
    new.clear()
    new.update(kept)


def _keep_server_meta(new: dict[str, Any], old: dict[str, Any]) -> None:
    meta = new.setdefault("metadata", {})
    old_meta = old["metadata"]
    for field in (
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ):
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    meta.pop("selfLink", None)


# ---- CertificateSigningRequests ----------------------------------------------
#
# The spec is written once, on create. Approval (Approved/Denied conditions)
# goes through /approval only, the certificate through /status only and only
# once; the main resource changes neither. Condition timestamps are filled in.

CSRS = "certificatesigningrequests"
APPROVAL_TYPES = ("Approved", "Denied")


def _stamp_conditions(status: dict[str, Any], now: str) -> None:
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict):
            for field in ("lastUpdateTime", "lastTransitionTime"):
                if not cond.get(field):
                    cond[field] = now
            cond.setdefault("status", "True")


def prepare_csr_update(
    new: dict[str, Any], old: dict[str, Any], subresource: str, now: str
) -> None:
    """Keep what ``subresource`` may not change; ``new`` already went through the generic rules."""
    new["spec"] = copy.deepcopy(old.get("spec") or {})
    old_status = old.get("status") or {}
    status = new.setdefault("status", {})
    if subresource == "approval":
        kept = {k: copy.deepcopy(v) for k, v in old_status.items() if k != "conditions"}
        kept["conditions"] = status.get("conditions") or []
        new["status"] = kept
    elif subresource == "status":
        others = [c for c in status.get("conditions") or [] if c.get("type") not in APPROVAL_TYPES]
        approvals = [
            c for c in old_status.get("conditions") or [] if c.get("type") in APPROVAL_TYPES
        ]
        status["conditions"] = approvals + others
        old_cert = old_status.get("certificate")
        if old_cert and status.get("certificate") != old_cert:
            raise errors.invalid_object(
                "CertificateSigningRequest",
                "certificates.k8s.io",
                old["metadata"]["name"],
                [
                    errors.field_forbidden(
                        "status.certificate", "updates may not modify existing certificate content"
                    )
                ],
            )
    if not new["status"].get("conditions"):
        new["status"].pop("conditions", None)
    _stamp_conditions(new["status"], now)
    if not new["status"]:
        new.pop("status")
