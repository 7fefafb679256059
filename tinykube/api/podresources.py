"""How a pod's containers add up to the pod's own requests or limits.

Upstream's ``PodRequests`` and ``PodLimits`` count the same way, and both the
scheduler (requests, to fit pods on nodes) and the kubelet (limits, for the
pod-level cgroup) need it: regular containers add up; init containers run one
at a time, so only the largest counts, except sidecars (init containers with
``restartPolicy: Always``), which keep running, so they add to the total and
to every init container started after them; the larger of the two sums wins.
The RuntimeClass overhead is the caller's to add (the two add it differently).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Amounts = dict[str, int]


def _add(into: Amounts, more: Mapping[str, int]) -> None:
    for name, value in more.items():
        into[name] = into.get(name, 0) + value


def _max(into: Amounts, other: Mapping[str, int]) -> None:
    for name, value in other.items():
        if value > into.get(name, 0):
            into[name] = value


def pod_total(
    spec: Mapping[str, Any], per_container: Callable[[Mapping[str, Any]], Mapping[str, int]]
) -> Amounts:
    """The pod's total of what ``per_container`` reads off each container."""
    total: Amounts = {}
    for container in spec.get("containers") or []:
        _add(total, per_container(container))
    sidecars: Amounts = {}
    init_max: Amounts = {}
    for container in spec.get("initContainers") or []:
        amounts = per_container(container)
        if container.get("restartPolicy") == "Always":
            _add(total, amounts)
            _add(sidecars, amounts)
            effective = dict(sidecars)
        else:
            effective = dict(amounts)
            _add(effective, sidecars)
        _max(init_max, effective)
    _max(total, init_max)
    return total
