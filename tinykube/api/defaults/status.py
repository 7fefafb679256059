"""The status a new object starts with, for kinds whose status is not empty.

The registry clears a client's ``status`` on create; these fill in what
Kubernetes shows before any controller has touched the object: a Pod is
``Pending`` with its QoS class, a Namespace ``Active``, a claim ``Pending``,
and counters Go always serialises are 0. Kinds not listed start with ``{}``
(upstream's empty status struct).
"""

from __future__ import annotations

from typing import Any

from tinykube.api.quantity import Quantity, QuantityError, parse

QOS_RESOURCES = ("cpu", "memory")


def pod_status(pod: dict[str, Any]) -> dict[str, Any]:
    """Pending with its QoS class; a gated pod also says why it is not scheduled (upstream's
    applySchedulingGatedCondition), which ``kubectl get`` shows as its STATUS."""
    spec = pod.get("spec") or {}
    status: dict[str, Any] = {"phase": "Pending", "qosClass": qos_class(spec)}
    if spec.get("schedulingGates"):
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": None,
                "reason": "SchedulingGated",
                "message": "Scheduling is blocked due to non-empty scheduling gates",
            }
        ]
    return status


def qos_class(spec: dict[str, Any]) -> str:
    """``BestEffort``, ``Burstable`` or ``Guaranteed``, as upstream's ``GetPodQOS``."""
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    guaranteed = True
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        resources = (container or {}).get("resources") or {}
        _add(requests, resources.get("requests") or {})
        found = _add(limits, resources.get("limits") or {})
        if set(QOS_RESOURCES) - found:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed:
        for name, amount in requests.items():
            if limits.get(name) != amount:
                guaranteed = False
    if guaranteed and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def _add(totals: dict[str, Quantity], resources: dict[str, Any]) -> set[str]:
    """Add the non-zero cpu and memory amounts; return which names were found."""
    found = set()
    for name in QOS_RESOURCES:
        if name not in resources:
            continue
        try:
            amount = parse(resources[name])
        except QuantityError:
            continue
        if amount.sign() > 0:
            found.add(name)
            totals[name] = totals[name] + amount if name in totals else amount
    return found


def _phase(phase: str) -> Any:
    return lambda obj: {"phase": phase}


STATUS_BUILDERS = {
    ("", "Pod"): pod_status,
    ("", "Namespace"): _phase("Active"),
    ("", "Service"): lambda obj: {"loadBalancer": {}},
    ("", "PersistentVolumeClaim"): _phase("Pending"),
    ("", "PersistentVolume"): _phase("Available"),
    ("", "ReplicationController"): lambda obj: {"replicas": 0},
    ("apps", "ReplicaSet"): lambda obj: {"replicas": 0},
    ("apps", "DaemonSet"): lambda obj: {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    },
    ("policy", "PodDisruptionBudget"): lambda obj: {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    },
    ("networking.k8s.io", "Ingress"): lambda obj: {"loadBalancer": {}},
    # Go marshals these counters without omitempty, so they show even when zero.
    ("apps", "StatefulSet"): lambda obj: {"replicas": 0, "availableReplicas": 0},
    ("autoscaling", "HorizontalPodAutoscaler"): lambda obj: {
        "currentReplicas": 0,
        "desiredReplicas": 0,
    },
}
