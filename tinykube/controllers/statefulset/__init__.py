"""The StatefulSet controller, split as upstream's ``pkg/controller/statefulset``.

``controller`` (informers, handlers, sync), ``control`` (the next step of a
StatefulSet's life and its status), ``identity`` (a Pod's name, ordinal,
labels and claims).
"""

from __future__ import annotations

from tinykube.controllers.runtime import ControllerContext
from tinykube.controllers.statefulset.controller import StatefulSetController

NAME = "statefulset-controller"  # upstream --controllers name; alias "statefulset"

__all__ = ["NAME", "StatefulSetController", "new"]


def new(ctx: ControllerContext) -> StatefulSetController:
    """The factory the controller manager calls for ``--controllers=statefulset-controller``."""
    return StatefulSetController(ctx)
