"""Outcomes and per-cycle scratch space: ``Code``, ``Status``, ``CycleState``, ``FitError``.

Plugins answer with a ``Status``; the framework reads its ``Code`` to decide
what happens next (each code says what). ``FitError`` turns the statuses of a
failed cycle into the FailedScheduling message users compare with Kubernetes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class Code(enum.IntEnum):
    """What a plugin says about a pod (on a node); the framework acts on it."""

    SUCCESS = 0
    """The plugin is satisfied; the framework runs the next plugin."""

    ERROR = 1
    """Something unexpected broke (a bad object, a bug). The cycle stops, the pod
    goes to the backoff queue and is retried; no preemption is attempted."""

    UNSCHEDULABLE = 2
    """The pod does not fit this node now, but could if the node changed, for
    example after lower-priority pods are preempted. Filtering of this node stops;
    PostFilter (preemption) may later try to make room here."""

    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    """The pod can never fit this node as it is (wrong name, taint, selector);
    preempting pods would not help, so PostFilter skips the node."""

    SKIP = 4
    """From pre_filter or pre_score: the plugin has nothing to say about this pod,
    so the framework skips the plugin's filter or score for every node of the
    cycle (a pod without ports skips NodePorts). Elsewhere treated as SUCCESS."""


@dataclass(frozen=True, slots=True)
class Status:
    """An outcome: a code, the human reasons (they reach FailedScheduling), the plugin."""

    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def success(self) -> bool:
        return self.code is Code.SUCCESS

    @property
    def rejected(self) -> bool:
        """Unschedulable or unresolvable: a verdict about fit, not a failure."""
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        return self if self.plugin == plugin else Status(self.code, self.reasons, plugin)


SUCCESS = Status()
SKIP = Status(Code.SKIP)


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)


def error(message: str) -> Status:
    return Status(Code.ERROR, (message,))


class CycleState(dict[str, Any]):
    """Scratch space for one pod's cycle; each plugin writes under its own key.

    ``skip_filter`` and ``skip_score`` hold the plugins whose pre_filter or
    pre_score answered SKIP. Preemption copies the state (``clone``) before it
    simulates removing pods, so plugins must keep their entries copyable.
    """

    def __init__(self) -> None:
        super().__init__()
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()

    def clone(self) -> CycleState:
        copy = CycleState()
        for key, value in self.items():
            copy[key] = value.clone() if hasattr(value, "clone") else value
        copy.skip_filter = set(self.skip_filter)
        copy.skip_score = set(self.skip_score)
        return copy


def default_normalize(scores: list[int], reverse: bool = False) -> None:
    """Scale so the highest becomes 100 (``helper.DefaultNormalizeScore``); with
    ``reverse``, the highest becomes 0 and an all-zero list becomes all 100."""
    top = max(scores, default=0)
    if top == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    for i, s in enumerate(scores):
        s = MAX_NODE_SCORE * s // top
        scores[i] = MAX_NODE_SCORE - s if reverse else s


# ---- FailedScheduling ----------------------------------------------------------------


@dataclass
class FitError(Exception):
    """No node fits: why, per node. ``str()`` is upstream's message, word for word:

    ``0/3 nodes are available: 1 node(s) had untolerated taint {k: }, 2 Insufficient
    cpu. preemption: 0/3 nodes are available: ...`` - each distinct reason with the
    number of nodes that gave it, sorted as strings (so "1 ..." before "2 ..."),
    after any PreFilter message, followed by the PostFilter (preemption) message.
    """

    num_all_nodes: int
    statuses: dict[str, Status] = field(default_factory=dict)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def __str__(self) -> str:
        message = f"0/{self.num_all_nodes} nodes are available:"
        if self.pre_filter_msg:
            message += f" {self.pre_filter_msg}."
        else:
            histogram: dict[str, int] = {}
            for status in self.statuses.values():
                for reason in status.reasons:
                    histogram[reason] = histogram.get(reason, 0) + 1
            parts = sorted(f"{count} {reason}" for reason, count in histogram.items())
            if parts:
                message += f" {', '.join(parts)}."
        if self.post_filter_msg:
            message += f" {self.post_filter_msg}"
        return message
