"""Pod templates inside workloads: metadata, the PodSpec, and the selector link.

ReplicaSets, Deployments, StatefulSets, DaemonSets and ReplicationControllers
all need the same three things from their template: it exists, its labels are
selected by the workload's selector (otherwise the controller would create
Pods it cannot see and loop forever), and its pods restart ``Always``.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, invalid, not_supported, required
from tinykube.api.validation.common import as_dict, child, invalid_go, nonnegative
from tinykube.api.validation.objectmeta import validate_annotations, validate_labels
from tinykube.api.validation.pod import validate_pod_spec
from tinykube.api.validation.selectors import (
    SELECTOR_MISMATCH,
    go_label_selector,
    is_empty,
    matches,
    validate_label_selector,
)


def validate_pod_template(template: dict[str, Any], path: str) -> list[FieldError]:
    meta = as_dict(template.get("metadata"))
    errs = validate_labels(as_dict(meta.get("labels")), child(path, "metadata.labels"))
    errs += validate_annotations(
        as_dict(meta.get("annotations")), child(path, "metadata.annotations")
    )
    errs += validate_pod_spec(as_dict(template.get("spec")), child(path, "spec"))
    return errs


def validate_replicated_template(
    template: Any, selector: dict[str, Any] | None, path: str
) -> list[FieldError]:
    """``ValidatePodTemplateSpecForReplicaSet``: selected by ``selector``, restarts Always."""
    if not isinstance(template, dict):
        return [required(path)]
    errs: list[FieldError] = []
    labels = as_dict(as_dict(template.get("metadata")).get("labels"))
    if selector and not is_empty(selector) and not matches(selector, labels):
        errs.append(invalid_go(child(path, "metadata.labels"), labels, SELECTOR_MISMATCH))
    errs += validate_pod_template(template, path)
    spec = as_dict(template.get("spec"))
    restart = spec.get("restartPolicy")
    if restart and restart != "Always":
        errs.append(not_supported(child(path, "spec.restartPolicy"), restart, ["Always"]))
    if spec.get("activeDeadlineSeconds") is not None:
        detail = "activeDeadlineSeconds in ReplicaSet is not Supported"
        errs.append(
            invalid(
                child(path, "spec.activeDeadlineSeconds"), spec["activeDeadlineSeconds"], detail
            )
        )
    return errs


def validate_workload_selector(spec: dict[str, Any], kind: str) -> tuple[list[FieldError], bool]:
    """The selector exists, parses and is not empty; returns (errors, usable)."""
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        return [required("spec.selector")], False
    errs = validate_label_selector(selector, "spec.selector")
    if is_empty(selector):
        detail = f"empty selector is invalid for {kind}"
        errs.append(
            FieldError("spec.selector", "Invalid value", f"{go_label_selector(selector)}: {detail}")
        )
    return errs, not errs


def validate_replicas(spec: dict[str, Any]) -> list[FieldError]:
    errs = nonnegative("spec.replicas", spec.get("replicas"))
    errs += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    errs += nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    return errs
