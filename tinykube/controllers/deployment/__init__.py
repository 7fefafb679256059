"""The Deployment controller, split by concern as upstream's ``pkg/controller/deployment``.

``controller`` (informers, handlers, dispatch), ``sync`` (the new ReplicaSet,
revisions, proportional scaling, cleanup), ``rolling`` and ``recreate`` (the
two strategies), ``rollback`` (the annotation-driven undo), ``progress``
(status and conditions) and ``util`` (the pure arithmetic they share).
"""

from __future__ import annotations

from tinykube.controllers.deployment.controller import DeploymentController
from tinykube.controllers.runtime import ControllerContext

NAME = "deployment-controller"  # upstream --controllers name; alias "deployment"

__all__ = ["NAME", "DeploymentController", "new"]


def new(ctx: ControllerContext) -> DeploymentController:
    """The factory the controller manager calls for ``--controllers=deployment-controller``."""
    return DeploymentController(ctx)
