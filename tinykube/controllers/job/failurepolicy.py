"""``spec.podFailurePolicy``: what a failed Pod means for its Job.

Rules are tried in order against each Pod that reached the Failed phase; the
first that matches decides (upstream ``matchPodFailurePolicy``):

- ``FailJob``: the whole Job fails at once, with reason ``PodFailurePolicy``
  and a message naming the Pod, the container and exit code (or the Pod
  condition) and the rule's index, so ``kubectl describe job`` says why;
- ``Ignore``: the failure is not counted against ``backoffLimit`` (a Pod
  evicted by a disruption, say) and the Pod is simply replaced;
- ``Count`` (and ``FailIndex``, which needs per-index backoff limits this
  controller does not implement): counted as usual;
- no rule matches: counted as usual.

An ``onExitCodes`` rule looks at containers, then init containers, that
terminated with a non-zero code (optionally only the named container); an
``onPodConditions`` rule at the Pod's conditions (``DisruptionTarget``
True, typically).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinykube.controllers.podutil import meta

Obj = dict[str, Any]

REASON = "PodFailurePolicy"
FAIL_JOB, IGNORE, COUNT = "FailJob", "Ignore", "Count"


@dataclass(frozen=True)
class Verdict:
    """How one failed Pod counts: ``message`` is set for a FailJob match."""

    action: str | None
    counts: bool = True
    message: str | None = None


NO_MATCH = Verdict(None)


def policy_of(job: Obj) -> Obj | None:
    return (job.get("spec") or {}).get("podFailurePolicy")


def match(policy: Obj | None, pod: Obj) -> Verdict:
    """The verdict of the first rule of ``policy`` that matches the failed ``pod``."""
    if not policy:
        return NO_MATCH
    status = pod.get("status") or {}
    for index, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action")
        if rule.get("onExitCodes") is not None:
            container = _exit_code_match(status, rule["onExitCodes"])
            if container is None:
                continue
            code = container["state"]["terminated"].get("exitCode")
            what = f"Container {container.get('name')} for pod {_pod_name(pod)} failed with exit code {code}"
        elif rule.get("onPodConditions") is not None:
            condition = _condition_match(status, rule["onPodConditions"])
            if condition is None:
                continue
            what = f"Pod {_pod_name(pod)} has condition {condition.get('type')}"
        else:
            continue
        if action == IGNORE:
            return Verdict(IGNORE, counts=False)
        if action == FAIL_JOB:
            return Verdict(FAIL_JOB, message=f"{what} matching {action} rule at index {index}")
        return Verdict(action)
    return NO_MATCH


def fail_job_message(job: Obj, pods: list[Obj]) -> str | None:
    """The message of the first Failed Pod that matches a FailJob rule, if any."""
    policy = policy_of(job)
    if not policy:
        return None
    for pod in pods:
        if (pod.get("status") or {}).get("phase") != "Failed":
            continue
        verdict = match(policy, pod)
        if verdict.action == FAIL_JOB:
            return verdict.message
    return None


def _pod_name(pod: Obj) -> str:
    return f"{meta(pod).get('namespace', '')}/{meta(pod).get('name', '')}"


def _exit_code_match(status: Obj, requirement: Obj) -> Obj | None:
    for key in ("containerStatuses", "initContainerStatuses"):
        for container in status.get(key) or []:
            terminated = (container.get("state") or {}).get("terminated")
            if terminated is None:
                continue  # still terminating: no exit code to look at yet
            wanted = requirement.get("containerName")
            if wanted is not None and wanted != container.get("name"):
                continue
            code = int(terminated.get("exitCode") or 0)
            if code != 0 and _operator_matches(code, requirement):
                return container
    return None


def _operator_matches(code: int, requirement: Obj) -> bool:
    values = {int(v) for v in requirement.get("values") or []}
    operator = requirement.get("operator")
    if operator == "In":
        return code in values
    if operator == "NotIn":
        return code not in values
    return False


def _condition_match(status: Obj, patterns: list[Obj]) -> Obj | None:
    for condition in status.get("conditions") or []:
        for pattern in patterns:
            if condition.get("type") == pattern.get("type") and condition.get(
                "status"
            ) == pattern.get("status", "True"):
                return condition
    return None
