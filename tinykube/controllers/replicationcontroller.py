"""The ReplicationController controller: the ReplicaSet controller for the older v1 kind.

A ReplicationController is a ReplicaSet whose selector is a plain label map
(``spec.selector: {app: web}``) and which lives in the core group. Upstream
runs the ReplicaSet code for it through an adapter
(``pkg/controller/replication``); here the shared implementation takes the
kind's coordinates (``REPLICATION_CONTROLLER``) and nothing else differs:
Pods ``<rc>-<5 random>``, adoption, deletion ranking, expectations, status,
Events.
"""

from __future__ import annotations

from typing import ClassVar

from tinykube.controllers.replicaset import REPLICATION_CONTROLLER, Kind, ReplicaSetController
from tinykube.controllers.runtime import ControllerContext

NAME = "replicationcontroller-controller"  # alias "replicationcontroller"


class ReplicationManager(ReplicaSetController):
    """Keeps the live Pods of each ReplicationController equal to spec.replicas."""

    name = "replication-controller"
    kind: ClassVar[Kind] = REPLICATION_CONTROLLER
    workers_flag = "concurrent-rc-syncs"


def new(ctx: ControllerContext) -> ReplicationManager:
    """The factory the controller manager calls for ``--controllers=replicationcontroller-controller``."""
    return ReplicationManager(ctx)
