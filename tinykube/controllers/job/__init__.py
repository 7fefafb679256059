"""The Job controller, split as upstream's ``pkg/controller/job``.

``controller`` (informers, handlers, syncJob), ``tracking`` (counting finished
Pods exactly once with the job-tracking finalizer), ``indexed`` (completion
indexes), ``perindex`` (backoffLimitPerIndex), ``failurepolicy``
(podFailurePolicy), ``successpolicy`` (successPolicy), ``util`` (the pure
decisions: how many Pods, when done, deadlines, suspension, conditions).
"""

from __future__ import annotations

from tinykube.controllers.job.controller import JobController
from tinykube.controllers.runtime import ControllerContext

NAME = "job-controller"  # upstream --controllers name; alias "job"

__all__ = ["NAME", "JobController", "new"]


def new(ctx: ControllerContext) -> JobController:
    """The factory the controller manager calls for ``--controllers=job-controller``."""
    return JobController(ctx)
