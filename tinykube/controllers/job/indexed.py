"""Indexed Jobs: completion indexes 0..completions-1, one successful Pod each.

Each Pod carries its index as the annotation and label
``batch.kubernetes.io/job-completion-index``, gets the hostname
``<job>-<index>`` and the environment variable ``JOB_COMPLETION_INDEX`` (read
from that label), and is named ``<job>-<index>-<5 random>``. The Job is
complete when every index has succeeded; ``status.completedIndexes`` lists
them in compressed form (``0-2,5,7,8``), as upstream ``indexed_job_utils.go``.
"""

from __future__ import annotations

import copy
from typing import Any

from tinykube.controllers.podutil import meta

Obj = dict[str, Any]

INDEX_KEY = "batch.kubernetes.io/job-completion-index"
INDEX_ENV = "JOB_COMPLETION_INDEX"


def is_indexed(job: Obj) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def index_of(pod: Obj) -> int | None:
    raw = (meta(pod).get("annotations") or {}).get(INDEX_KEY) or (
        meta(pod).get("labels") or {}
    ).get(INDEX_KEY)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def parse_indexes(text: str | None) -> set[int]:
    """``"0-2,5"`` -> {0, 1, 2, 5}."""
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


def format_indexes(indexes: set[int]) -> str:
    """{0, 1, 2, 5} -> ``"0-2,5"``."""
    parts: list[str] = []
    ordered = sorted(indexes)
    start = prev = None
    for i in ordered:
        if start is None:
            start = prev = i
        elif prev is not None and i == prev + 1:
            prev = i
        else:
            parts.append(_span(start, prev))
            start = prev = i
    if start is not None:
        parts.append(_span(start, prev))
    return ",".join(parts)


def _span(start: int, end: int | None) -> str:
    if end in (None, start):
        return str(start)
    # Two neighbours are listed, not ranged: "3,4" but "3-5" (upstream's String()).
    return f"{start},{end}" if end == start + 1 else f"{start}-{end}"


def pending_indexes(
    completions: int, completed: set[int], active: list[Obj], count: int
) -> list[int]:
    """The lowest ``count`` indexes that have neither succeeded nor a running Pod."""
    running = {index_of(p) for p in active}
    free = (i for i in range(completions) if i not in completed and i not in running)
    return [i for _, i in zip(range(count), free, strict=False)]


def surplus_pods(completions: int, completed: set[int], active: list[Obj]) -> list[Obj]:
    """Running Pods to delete: a second Pod for an index, a bad index, or a completed one."""
    seen: set[int] = set()
    surplus = []
    for pod in sorted(active, key=lambda p: meta(p).get("creationTimestamp") or ""):
        index = index_of(pod)
        if index is None or not 0 <= index < completions or index in completed or index in seen:
            surplus.append(pod)
        else:
            seen.add(index)
    return surplus


def pod_for_index(job: Obj, body: Obj, index: int) -> Obj:
    """A copy of the Job's Pod ``body`` given identity ``index``."""
    pod = copy.deepcopy(body)
    pod_meta = pod["metadata"]
    pod_meta["generateName"] = f"{meta(job)['name']}-{index}-"
    pod_meta.setdefault("annotations", {})[INDEX_KEY] = str(index)
    pod_meta.setdefault("labels", {})[INDEX_KEY] = str(index)
    spec = pod["spec"]
    spec.setdefault("hostname", f"{meta(job)['name']}-{index}")
    # From the label since PodIndexLabel went GA (1.32); a variable the template
    # already sets is left alone, as upstream leaves it.
    env_var = {
        "name": INDEX_ENV,
        "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{INDEX_KEY}']"}},
    }
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        env = container.get("env") or []
        if not any(e.get("name") == INDEX_ENV for e in env):
            container["env"] = [*env, env_var]
    return pod
