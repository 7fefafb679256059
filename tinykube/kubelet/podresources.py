"""What a pod's own cgroup enforces: its QoS class and the limits of the whole pod.

The kubelet (``cgroupsPerQOS``) puts every pod in a cgroup of its own under
the node's ``kubepods`` cgroup, grouped by QoS class (cgroupfs layout:
``kubepods/pod<uid>`` for Guaranteed, ``kubepods/burstable/pod<uid>``,
``kubepods/besteffort/pod<uid>``), and the containers' cgroups inside it.
The pod cgroup caps the pod as a whole, as upstream's
``ResourceConfigForPod`` computes it:

- the pod's limit of a resource is counted as its requests are (``PodLimits``):
  regular containers add up, init containers run one at a time so only the
  largest counts (sidecars, ``restartPolicy: Always``, keep running and add to
  both), the larger of the two wins, then the RuntimeClass ``overhead``;
- a Guaranteed pod is capped in cpu and memory; a Burstable pod only in a
  resource every container declares a limit for (one container without a
  memory limit may use all the node's memory, so the pod may too); a
  BestEffort pod is not capped at all.

The runtime receives the result in ``PodSandboxConfig`` (the CRI's
``LinuxPodSandboxConfig`` carries a cgroup parent and pod resources the same
way) and lays the cgroups out. Pure functions over the pod dict.
"""

from __future__ import annotations

from typing import Any

from tinykube.api import podresources as shared
from tinykube.api import quantity
from tinykube.api.defaults.status import qos_class as spec_qos_class
from tinykube.kubelet.runtime.interface import Resources

Obj = dict[str, Any]

GUARANTEED, BURSTABLE, BEST_EFFORT = "Guaranteed", "Burstable", "BestEffort"
CPU, MEMORY = "cpu", "memory"


def qos_class(pod: Obj) -> str:
    """The pod's QoS class: the one the API server recorded, else computed from the spec."""
    recorded = (pod.get("status") or {}).get("qosClass")
    return str(recorded) if recorded else spec_qos_class(pod.get("spec") or {})


def pod_limits(pod: Obj) -> Resources:
    """The limits of the pod-level cgroup (``None``: that resource is not capped)."""
    qos = qos_class(pod)
    if qos == BEST_EFFORT:
        return Resources()
    spec = pod.get("spec") or {}
    declared = {CPU: True, MEMORY: True}

    def limits_of(container: Obj) -> dict[str, int]:
        found = _limits(container)
        for name in declared:
            if not found.get(name):
                declared[name] = False
        return found

    total = shared.pod_total(spec, limits_of)
    _add(total, _amounts(spec.get("overhead") or {}))
    capped = {name: qos == GUARANTEED or declared[name] for name in declared}
    return Resources(
        memory_bytes=total.get(MEMORY) if capped[MEMORY] and total.get(MEMORY) else None,
        cpu_millis=total.get(CPU) if capped[CPU] and total.get(CPU) else None,
    )


def _limits(container: Obj) -> dict[str, int]:
    return _amounts((container.get("resources") or {}).get("limits") or {})


def _amounts(resources: Obj) -> dict[str, int]:
    """cpu in millicores, memory in bytes; unparsable or zero amounts are left out."""
    out: dict[str, int] = {}
    for name in (CPU, MEMORY):
        if name not in resources:
            continue
        try:
            amount = quantity.parse(resources[name])
        except quantity.QuantityError:
            continue
        value = amount.milli_value() if name == CPU else amount.value()
        if value > 0:
            out[name] = value
    return out


def _add(into: dict[str, int], other: dict[str, int]) -> None:
    for name, value in other.items():
        into[name] = into.get(name, 0) + value
