"""Pod templates inside workloads: metadata, the PodSpec, and the selector link.

ReplicaSets, Deployments, StatefulSets, DaemonSets and ReplicationControllers
all need the same three things from their template: it exists, its labels are
selected by the workload's selector (otherwise the controller would create
Pods it cannot see and loop forever), and its pods restart ``Always``.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, field_forbidden, not_supported, required
from tinykube.api.validation.common import (
    as_dict,
    child,
    go_json,
    invalid_json,
    nonnegative,
    sorted_map,
)
from tinykube.api.validation.objectmeta import validate_annotations, validate_labels
from tinykube.api.validation.pod import validate_pod_spec
from tinykube.api.validation.selectors import (
    SELECTOR_MISMATCH,
    is_empty,
    matches,
    selector_json,
    validate_label_selector,
)


def validate_pod_template(template: dict[str, Any], path: str) -> list[FieldError]:
    meta = as_dict(template.get("metadata"))
    errs = validate_labels(as_dict(meta.get("labels")), child(path, "metadata.labels"))
    errs += validate_annotations(
        as_dict(meta.get("annotations")), child(path, "metadata.annotations")
    )
    spec = as_dict(template.get("spec"))
    errs += validate_pod_spec(spec, child(path, "spec"))
    if spec.get("ephemeralContainers"):
        # They are added to running pods for debugging, never stamped out from templates.
        detail = "ephemeral containers not allowed in pod template"
        errs.append(field_forbidden(child(path, "spec.ephemeralContainers"), detail))
    return errs


def validate_replicated_template(
    template: Any,
    selector: dict[str, Any] | None,
    path: str,
    owner: str = "ReplicaSet",
    spec_checked: bool = True,
) -> list[FieldError]:
    """``ValidatePodTemplateSpecForReplicaSet`` and friends: selected, restarts Always.

    ``owner`` names the kind in the activeDeadlineSeconds message; StatefulSets
    pass ``spec_checked=False`` because upstream skips their PodSpec (volume
    mounts may name volumeClaimTemplates) and checks only the template's metadata.
    """
    if not isinstance(template, dict):
        return [required(path)]
    errs: list[FieldError] = []
    meta = as_dict(template.get("metadata"))
    labels = as_dict(meta.get("labels"))
    if selector and not is_empty(selector) and not matches(selector, labels):
        errs.append(
            invalid_json(child(path, "metadata.labels"), sorted_map(labels), SELECTOR_MISMATCH)
        )
    if spec_checked:
        errs += validate_pod_template(template, path)
    else:
        errs += validate_labels(labels, child(path, "labels"))
        errs += validate_annotations(as_dict(meta.get("annotations")), child(path, "annotations"))
    spec = as_dict(template.get("spec"))
    restart = spec.get("restartPolicy")
    if restart != "Always":
        errs.append(not_supported(child(path, "spec.restartPolicy"), restart or "", ["Always"]))
    if spec.get("activeDeadlineSeconds") is not None:
        detail = f"activeDeadlineSeconds in {owner} is not Supported"
        errs.append(field_forbidden(child(path, "spec.activeDeadlineSeconds"), detail))
    return errs


def validate_workload_selector(spec: dict[str, Any], kind: str) -> tuple[list[FieldError], bool]:
    """The selector exists, parses and is not empty; returns (errors, usable).

    ``kind`` is the word upstream uses in "empty selector is invalid for <kind>"
    (ReplicaSets say "deployment" too).
    """
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        return [required("spec.selector")], False
    errs = validate_label_selector(selector, "spec.selector")
    if is_empty(selector):
        detail = f"empty selector is invalid for {kind}"
        errs.append(
            FieldError(
                "spec.selector", "Invalid value", f"{go_json(selector_json(selector))}: {detail}"
            )
        )
    return errs, not errs


def validate_replicas(spec: dict[str, Any]) -> list[FieldError]:
    errs = nonnegative("spec.replicas", spec.get("replicas"))
    errs += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    errs += nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    return errs
