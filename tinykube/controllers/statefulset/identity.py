"""A StatefulSet Pod's identity: ordinal, name, hostname, labels, revision and storage
(upstream ``stateful_set_utils.go``).

Pod ``<set>-<i>`` gets hostname ``<set>-<i>`` under the governing Service
(``subdomain``), the labels ``statefulset.kubernetes.io/pod-name`` and
``apps.kubernetes.io/pod-index``, the revision it was made from as
``controller-revision-hash``, and one PersistentVolumeClaim
``<claim>-<set>-<i>`` per volumeClaimTemplate, which outlives the Pod.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from tinykube.controllers import history
from tinykube.controllers.podutil import is_pod_ready, meta
from tinykube.controllers.refmanager import new_controller_ref

Obj = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = history.HASH_LABEL


def start_ordinal(sts: Obj) -> int:
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def replicas_of(sts: Obj) -> int:
    value = (sts.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def ordinal_of(sts: Obj, pod: Obj) -> int | None:
    """The ordinal in ``<set>-<i>``, or None for a Pod that is not named like ours."""
    match = re.fullmatch(rf"{re.escape(meta(sts)['name'])}-(\d+)", meta(pod).get("name", ""))
    return int(match.group(1)) if match else None


def pod_revision(pod: Obj) -> str:
    return (meta(pod).get("labels") or {}).get(REVISION_LABEL, "")


def is_running_and_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_pod_ready(pod)


def is_terminating(pod: Obj) -> bool:
    return bool(meta(pod).get("deletionTimestamp"))


def is_finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded")


def claim_name(template: Obj, sts: Obj, ordinal: int) -> str:
    return f"{meta(template)['name']}-{meta(sts)['name']}-{ordinal}"


def new_claims(sts: Obj, ordinal: int) -> list[Obj]:
    """The PersistentVolumeClaims of one ordinal, from the volumeClaimTemplates."""
    selector_labels = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    claims = []
    for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        labels = {**(meta(template).get("labels") or {}), **selector_labels}
        claims.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": claim_name(template, sts, ordinal),
                    "namespace": meta(sts).get("namespace"),
                    "labels": labels,
                },
                "spec": copy.deepcopy(template.get("spec") or {}),
            }
        )
    return claims


def new_pod(sts: Obj, revision_sts: Obj, revision_name: str, ordinal: int) -> Obj:
    """Pod ``<set>-<ordinal>`` from ``revision_sts``'s template, with identity and storage."""
    template = (revision_sts.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    name = f"{meta(sts)['name']}-{ordinal}"
    labels = {
        **(tmeta.get("labels") or {}),
        POD_NAME_LABEL: name,
        POD_INDEX_LABEL: str(ordinal),
        REVISION_LABEL: revision_name,
    }
    spec = copy.deepcopy(template.get("spec") or {})
    spec["hostname"] = name
    if (sts.get("spec") or {}).get("serviceName"):
        spec["subdomain"] = sts["spec"]["serviceName"]
    volumes = [v for v in spec.get("volumes") or [] if v.get("name") not in _claim_names(sts)]
    for tmpl in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        claim_ref = {"claimName": claim_name(tmpl, sts, ordinal)}
        volumes.append({"name": meta(tmpl)["name"], "persistentVolumeClaim": claim_ref})
    if volumes:
        spec["volumes"] = volumes
    pod_meta: Obj = {
        "name": name,
        "namespace": meta(sts).get("namespace"),
        "labels": labels,
        "ownerReferences": [new_controller_ref(sts, "apps/v1", "StatefulSet")],
    }
    if tmeta.get("annotations"):
        pod_meta["annotations"] = copy.deepcopy(tmeta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


def _claim_names(sts: Obj) -> set[str]:
    return {
        meta(t).get("name", "") for t in (sts.get("spec") or {}).get("volumeClaimTemplates") or []
    }


def retention_policy(sts: Obj) -> tuple[str, str]:
    """(whenDeleted, whenScaled) of persistentVolumeClaimRetentionPolicy; Retain by default."""
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or "Retain", policy.get("whenScaled") or "Retain"


def claim_owner_refs(claim: Obj, sts: Obj, pod: Obj | None, scaled_down: bool) -> list[Obj] | None:
    """The ownerReferences a claim should have under the retention policy; None if unchanged.

    ``whenDeleted: Delete`` makes the StatefulSet own the claims of its live
    ordinals; ``whenScaled: Delete`` makes each scaled-down Pod own its claims,
    so the garbage collector removes them with the Pod (upstream
    ``updateClaimOwnerRefForSetAndPod``). A claim controlled by anything else
    is left to its controller.
    """
    when_deleted, when_scaled = retention_policy(sts)
    ours = {meta(sts).get("uid"), meta(pod).get("uid") if pod else None} - {None}
    refs = meta(claim).get("ownerReferences") or []
    if any(r.get("controller") and r.get("uid") not in ours for r in refs):
        return None
    kept = [r for r in refs if r.get("uid") not in ours]
    if scaled_down and when_scaled == "Delete" and pod is not None:
        kept.append(new_controller_ref(pod, "v1", "Pod"))
    elif not scaled_down and when_deleted == "Delete":
        kept.append(new_controller_ref(sts, "apps/v1", "StatefulSet"))
    return None if kept == refs else kept
