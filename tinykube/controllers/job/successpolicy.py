"""``spec.successPolicy``: an Indexed Job that is done before every index succeeded.

Each rule names indexes that must succeed (``succeededIndexes``, in the
``0-2,5`` form), how many must (``succeededCount``), or both (that many of
those). The first rule that holds makes the Job ``SuccessCriteriaMet`` with
reason ``SuccessPolicy`` and the message ``Matched rules at index N``; its
remaining Pods are removed (and not counted as failures), then ``Complete``
follows with the same reason, as upstream ``matchSuccessPolicy`` does. A
leader/worker Job, for instance, is done when the leader's index is.
"""

from __future__ import annotations

from typing import Any

from tinykube.controllers.job import indexed

Obj = dict[str, Any]

REASON = "SuccessPolicy"


def match(job: Obj, succeeded: set[int]) -> tuple[str, str] | None:
    """(reason, message) when a rule of the Job's success policy holds for ``succeeded``."""
    spec = job.get("spec") or {}
    policy = spec.get("successPolicy")
    if not policy or not succeeded or not indexed.is_indexed(job):
        return None
    completions = int(spec.get("completions") or 0)
    for number, rule in enumerate(policy.get("rules") or []):
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            try:
                listed = indexed.parse_indexes(rule["succeededIndexes"])
            except ValueError:
                listed = set()
            required = {i for i in listed if i < completions}
            if not required:
                continue  # nothing readable to wait for
            done = len(required & succeeded)
            holds = done == len(required) if count is None else done >= int(count)
        else:
            holds = count is not None and len(succeeded) >= int(count)
        if holds:
            return REASON, f"Matched rules at index {number}"
    return None
