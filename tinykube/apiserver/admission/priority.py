"""The Priority admission plugin: a Pod's priority comes from its PriorityClass.

On create, ``spec.priority`` and ``spec.preemptionPolicy`` are computed from
``spec.priorityClassName`` (0 and PreemptLowerPriority without one). A name
that does not resolve, or a priority the client set that disagrees with the
class, is refused with 403 Forbidden, as upstream does. The two system
classes are known even before their objects exist.

A Pod without a class name gets the cluster's ``globalDefault`` class (its
name written into the spec, as upstream does), which the lookup answers for
the empty name; with no such class, priority 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinykube.api import errors

PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"
SYSTEM_CLASSES = {
    "system-cluster-critical": 2000000000,
    "system-node-critical": 2000001000,
}

# A PriorityClass by name; the empty name asks for the globalDefault class.
LookupPriorityClass = Callable[[str], dict[str, Any] | None]


def admit_pod(pod: dict[str, Any], lookup: LookupPriorityClass) -> None:
    spec = pod.setdefault("spec", {})
    name = spec.get("priorityClassName") or ""
    priority, policy = _resolve(pod, name, lookup)
    given = spec.get("priority")
    if given is not None and given != priority:
        raise _forbidden(
            pod,
            f"the integer value of priority ({given}) must not be provided in pod spec; "
            f"priority admission controller computed {priority} from the given PriorityClass name",
        )
    given_policy = spec.get("preemptionPolicy")
    if given_policy is not None and given_policy != policy:
        raise _forbidden(
            pod,
            f"the string value of PreemptionPolicy ({given_policy}) must not be provided in pod "
            f"spec; priority admission controller computed {policy} from the given "
            "PriorityClass name",
        )
    spec["priority"] = priority
    spec["preemptionPolicy"] = policy


def _resolve(pod: dict[str, Any], name: str, lookup: LookupPriorityClass) -> tuple[int, str]:
    if not name:
        default = lookup("")
        if default is None:
            return 0, PREEMPT_LOWER_PRIORITY
        pod["spec"]["priorityClassName"] = default["metadata"]["name"]
        return int(default.get("value") or 0), default.get(
            "preemptionPolicy"
        ) or PREEMPT_LOWER_PRIORITY
    pc = lookup(name)
    if pc is None:
        if name in SYSTEM_CLASSES:
            return SYSTEM_CLASSES[name], PREEMPT_LOWER_PRIORITY
        raise _forbidden(pod, f"no PriorityClass with name {name} was found")
    return int(pc.get("value") or 0), pc.get("preemptionPolicy") or PREEMPT_LOWER_PRIORITY


def _forbidden(pod: dict[str, Any], why: str) -> errors.Forbidden:
    return errors.forbidden("pods", "", (pod.get("metadata") or {}).get("name", ""), why)
