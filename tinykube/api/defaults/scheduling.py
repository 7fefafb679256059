"""Defaults for ``scheduling.k8s.io/v1``: a PriorityClass preempts unless told not to."""

from __future__ import annotations

from typing import Any


def default_priority_class(pc: dict[str, Any]) -> None:
    pc.setdefault("preemptionPolicy", "PreemptLowerPriority")


DEFAULTERS = {"PriorityClass": default_priority_class}
