"""The DaemonSet controller, split as upstream's ``pkg/controller/daemon``.

``controller`` (informers, handlers, the manage loop), ``update`` (the rolling
update plan and ControllerRevision history), ``util`` (which nodes should run
a daemon, the daemon Pod template, status).
"""

from __future__ import annotations

from tinykube.controllers.daemonset.controller import DaemonSetController
from tinykube.controllers.runtime import ControllerContext

NAME = "daemonset-controller"  # upstream --controllers name; alias "daemonset"

__all__ = ["NAME", "DaemonSetController", "new"]


def new(ctx: ControllerContext) -> DaemonSetController:
    """The factory the controller manager calls for ``--controllers=daemonset-controller``."""
    return DaemonSetController(ctx)
