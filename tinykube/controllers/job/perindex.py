"""``spec.backoffLimitPerIndex``: an Indexed Job that retries each index on its own.

Each index gets ``backoffLimitPerIndex`` retries. Pods carry how often their
index failed before them in the annotation
``batch.kubernetes.io/job-index-failure-count`` (and failures an ``Ignore``
rule forgave in ``...-ignored-failure-count``): a replacement Pod takes the
counts of the failed Pod it replaces, plus that failure. A failed Pod whose
count already reached the limit (or that matched a ``FailIndex`` rule of the
``podFailurePolicy``) fails its index for good: the index joins
``status.failedIndexes``, is not retried, and its running Pods are removed.

The Job fails once more than ``maxFailedIndexes`` indexes failed
(``MaxFailedIndexesExceeded``), or when every index either succeeded or
failed and some failed (``FailedIndexes``); the other indexes keep running
until then, which is the point of the feature (upstream
``calculateFailedIndexes`` and ``getNewIndexFailureCounts``).
"""

from __future__ import annotations

from typing import Any

from tinykube.controllers.job import failurepolicy, indexed
from tinykube.controllers.podutil import meta

Obj = dict[str, Any]

FAILURE_COUNT_KEY = "batch.kubernetes.io/job-index-failure-count"
IGNORED_COUNT_KEY = "batch.kubernetes.io/job-index-ignored-failure-count"
FAIL_INDEX = "FailIndex"
MAX_FAILED_INDEXES_EXCEEDED = (
    "MaxFailedIndexesExceeded",
    "Job has exceeded the specified maximal number of failed indexes",
)
FAILED_INDEXES = ("FailedIndexes", "Job has failed indexes")


def limit_of(job: Obj) -> int | None:
    """The per-index limit, for an Indexed Job that has one."""
    value = (job.get("spec") or {}).get("backoffLimitPerIndex")
    return int(value) if value is not None and indexed.is_indexed(job) else None


def failed_indexes(job: Obj) -> set[int]:
    return indexed.parse_indexes((job.get("status") or {}).get("failedIndexes"))


def _count(pod: Obj, key: str) -> int:
    """An annotation's count; anything unreadable or negative counts as 0, as upstream."""
    try:
        value = int((meta(pod).get("annotations") or {}).get(key, "0"))
    except ValueError:
        return 0
    return value if 0 <= value <= 2**31 - 1 else 0


def index_failed(job: Obj, pod: Obj) -> bool:
    """Does this failed Pod fail its index for good?"""
    limit = limit_of(job)
    if limit is None:
        return False
    verdict = failurepolicy.match(failurepolicy.policy_of(job), pod)
    if verdict.action == FAIL_INDEX:
        return True
    return verdict.counts and _count(pod, FAILURE_COUNT_KEY) >= limit


def newly_failed(job: Obj, failed_pods: list[Obj]) -> set[int]:
    """Indexes (within ``completions``) that these newly failed Pods fail for good."""
    completions = int((job.get("spec") or {}).get("completions") or 0)
    out: set[int] = set()
    for pod in failed_pods:
        index = indexed.index_of(pod)
        if index is not None and 0 <= index < completions and index_failed(job, pod):
            out.add(index)
    return out


def replacement_counts(job: Obj, pods: list[Obj], index: int) -> dict[str, str]:
    """The annotations of a new Pod for ``index``: the counts of the last failed Pod of
    that index, plus its failure (counted, or forgiven by an Ignore rule)."""
    failed = [
        p
        for p in pods
        if indexed.index_of(p) == index and (p.get("status") or {}).get("phase") == "Failed"
    ]
    if not failed:
        return {FAILURE_COUNT_KEY: "0"}
    last = max(failed, key=_recency)
    failures, ignored = _count(last, FAILURE_COUNT_KEY), _count(last, IGNORED_COUNT_KEY)
    if failurepolicy.match(failurepolicy.policy_of(job), last).counts:
        failures += 1
    else:
        ignored += 1
    out = {FAILURE_COUNT_KEY: str(failures)}
    if ignored:
        out[IGNORED_COUNT_KEY] = str(ignored)
    return out


def _recency(pod: Obj) -> tuple[int, str]:
    """Most failures seen first, then the latest to finish (upstream's tie-break)."""
    absolute = _count(pod, FAILURE_COUNT_KEY) + _count(pod, IGNORED_COUNT_KEY)
    finished = ""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        terminated = (status.get("state") or {}).get("terminated") or {}
        finished = max(finished, str(terminated.get("finishedAt") or ""))
    return absolute, finished


def failure(job: Obj, completed: set[int], failed: set[int]) -> tuple[str, str] | None:
    """Why an Indexed Job with per-index limits fails now, if it does."""
    if limit_of(job) is None or not failed:
        return None
    spec = job.get("spec") or {}
    most = spec.get("maxFailedIndexes")
    if most is not None and len(failed) > int(most):
        return MAX_FAILED_INDEXES_EXCEEDED
    if len(failed | completed) >= int(spec.get("completions") or 0):
        return FAILED_INDEXES
    return None
