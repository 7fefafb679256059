"""Counting a Job's finished Pods exactly once, with the ``job-tracking`` finalizer.

Pods are created with the ``batch.kubernetes.io/job-tracking`` finalizer, so a
finished Pod cannot vanish (deleted by a user, by pod GC) before the Job
counted it. Counting is a three-step, crash-safe protocol (upstream
``trackJobStatusAndRemoveFinalizers``):

1. a finished Pod that still has the finalizer has its UID written to
   ``status.uncountedTerminatedPods`` (and, for an Indexed Job, its index to
   ``completedIndexes``);
2. its finalizer is removed;
3. UIDs whose Pod no longer has the finalizer (or is gone) move from
   ``uncountedTerminatedPods`` into ``succeeded``/``failed``.

A restart between any two steps repeats at most the step it was in; nothing
is counted twice or lost. A Pod being deleted before it succeeded counts as
failed, as upstream counts it: orphans never reach the Failed phase. A failed
Pod that matches an ``Ignore`` rule of the Job's ``podFailurePolicy`` is not
counted at all (``failurepolicy``). Under ``podReplacementPolicy: Failed`` (the
default with a ``podFailurePolicy``) a Pod being deleted is neither: it is
held, uncounted and unreplaced, until the kubelet reports it Failed, so the
policy can judge its exit code and two Pods of one slot never run at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tinykube.controllers.job import failurepolicy
from tinykube.controllers.podutil import is_pod_ready, meta

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"


def is_pod_failed(pod: Obj) -> bool:
    """Failed, or deleted before it succeeded."""
    phase = (pod.get("status") or {}).get("phase")
    return phase == "Failed" or (bool(meta(pod).get("deletionTimestamp")) and phase != "Succeeded")


def is_pod_finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Succeeded" or is_pod_failed(pod)


@dataclass
class Census:
    """What the Pods say: who is running, and which finished Pods are not yet counted."""

    pods: list[Obj] = field(default_factory=list)  # all of the Job's Pods, finished too
    active: list[Obj] = field(default_factory=list)
    ready: int = 0
    terminating: int = 0
    # Being deleted, not yet Failed, under ``podReplacementPolicy: Failed``: neither
    # running nor finished, and not to be replaced yet.
    held: list[Obj] = field(default_factory=list)
    new_succeeded: list[Obj] = field(default_factory=list)
    new_failed: list[Obj] = field(default_factory=list)
    to_unfinalize: list[Obj] = field(default_factory=list)


def take_census(job: Obj, pods: list[Obj]) -> Census:
    uncounted = (job.get("status") or {}).get("uncountedTerminatedPods") or {}
    already = set(uncounted.get("succeeded") or []) | set(uncounted.get("failed") or [])
    policy = failurepolicy.policy_of(job)
    only_failed = (job.get("spec") or {}).get("podReplacementPolicy") == "Failed"
    census = Census(pods=pods)
    for pod in pods:
        if only_failed and _terminating(pod):
            census.terminating += 1
            census.held.append(pod)
            continue
        if not is_pod_finished(pod):
            census.active.append(pod)
            census.ready += is_pod_ready(pod)
            continue
        phase = (pod.get("status") or {}).get("phase")
        census.terminating += _terminating(pod)
        if TRACKING_FINALIZER not in (meta(pod).get("finalizers") or []):
            continue  # counted before: its finalizer is gone
        census.to_unfinalize.append(pod)
        if meta(pod).get("uid", "") in already:
            continue
        if phase == "Succeeded":
            census.new_succeeded.append(pod)
        elif phase != "Failed" or failurepolicy.match(policy, pod).counts:
            census.new_failed.append(pod)
        # else: an Ignore rule matched; only its finalizer goes, and it is replaced
    return census


def failures_since_success(census: Census) -> list[Obj]:
    """The newly failed Pods that finished after the newest newly succeeded one."""
    if not census.new_succeeded:
        return list(census.new_failed)
    last_success = max(_finished_at(p) for p in census.new_succeeded)
    return [p for p in census.new_failed if _finished_at(p) > last_success]


def _finished_at(pod: Obj) -> str:
    """When the Pod's last container stopped (RFC 3339 strings sort as times)."""
    status = pod.get("status") or {}
    stamps = [
        str(((c.get("state") or {}).get("terminated") or {}).get("finishedAt") or "")
        for c in status.get("containerStatuses") or []
    ]
    return max(stamps, default="")


def _terminating(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return bool(meta(pod).get("deletionTimestamp")) and phase not in ("Failed", "Succeeded")


def record_uncounted(status: Obj, census: Census) -> bool:
    """Step 1: add the newly finished Pods' UIDs; True when anything was added."""
    if not census.new_succeeded and not census.new_failed:
        return False
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    for field_name, pods in (("succeeded", census.new_succeeded), ("failed", census.new_failed)):
        if pods:
            uids = [meta(p).get("uid", "") for p in pods]
            uncounted[field_name] = [*(uncounted.get(field_name) or []), *uids]
    return True


def move_counted(status: Obj, completed_indexes: int | None) -> None:
    """Step 3: uncounted UIDs become counts (an Indexed Job counts completed indexes)."""
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    succeeded = uncounted.pop("succeeded", None) or []
    failed = uncounted.pop("failed", None) or []
    if completed_indexes is not None:
        status["succeeded"] = completed_indexes
    elif succeeded:
        status["succeeded"] = int(status.get("succeeded") or 0) + len(succeeded)
    if failed:
        status["failed"] = int(status.get("failed") or 0) + len(failed)
