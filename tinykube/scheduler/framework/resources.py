"""Resource arithmetic: requests and allocatable as integers the scheduler adds up.

Quantities are parsed once (cached by text) into millicores for cpu and whole
units for everything else; ``pod_requests`` counts a pod as upstream's
``PodRequests`` does (init containers, sidecars, overhead).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from tinykube.api import podresources, quantity

# Requests the scheduler assumes, for *scoring only*, for a container that asks
# for no cpu or memory, so that best-effort pods still spread
# (schedutil.DefaultMilliCPURequest / DefaultMemoryRequest).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"


# ---- resources -----------------------------------------------------------------

Resources = dict[str, int]
"""cpu in millicores, everything else (memory, pods, extended) in whole units."""


@functools.lru_cache(maxsize=4096)
def _amount(name: str, text: str | int | float) -> int:
    q = quantity.parse(text)
    return q.milli_value() if name == CPU else q.value()


def is_scalar_resource(name: str) -> bool:
    """Extended resources (``example.com/gpu``), hugepages and attachable volumes."""
    return (
        "/" in name and not name.startswith("kubernetes.io/") and not name.startswith("requests.")
    ) or name.startswith(("hugepages-", "attachable-volumes-"))


def resource_list(rl: Mapping[str, Any] | None) -> Resources:
    """A ResourceList dict (``{"cpu": "100m"}``) as integers the scheduler adds up."""
    out: Resources = {}
    for name, value in (rl or {}).items():
        if name in (CPU, MEMORY, EPHEMERAL_STORAGE, PODS) or is_scalar_resource(name):
            out[name] = _amount(name, value)
    return out


def _add(into: Resources, more: Mapping[str, int]) -> None:
    for name, value in more.items():
        into[name] = into.get(name, 0) + value


def _requests(container: Mapping[str, Any]) -> Resources:
    return resource_list((container.get("resources") or {}).get("requests"))


def _non_zero(reqs: Resources) -> Resources:
    return {
        CPU: reqs.get(CPU, 0) or DEFAULT_MILLI_CPU_REQUEST,
        MEMORY: reqs.get(MEMORY, 0) or DEFAULT_MEMORY_REQUEST,
    }


def pod_requests(pod: Mapping[str, Any], non_zero: bool = False) -> Resources:
    """What a pod takes from a node, counted as upstream's ``PodRequests`` counts it.

    Regular containers add up. Init containers run one at a time, so only the
    largest counts, except sidecars (init containers with ``restartPolicy:
    Always``), which keep running: they add to the total and to every later init
    container. The larger of the two sums wins, then the RuntimeClass overhead is
    added. With ``non_zero``, a container without a cpu or memory request counts
    as 100m / 200Mi (for scoring, so best-effort pods still spread).
    """
    spec = pod.get("spec") or {}
    per = (lambda c: _non_zero(_requests(c))) if non_zero else _requests
    total: Resources = podresources.pod_total(spec, per)
    overhead = resource_list(spec.get("overhead"))
    if non_zero:
        overhead = {k: v for k, v in overhead.items() if k in (CPU, MEMORY)}
    _add(total, overhead)
    return total
