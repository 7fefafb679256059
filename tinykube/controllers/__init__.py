"""kube-controller-manager's controllers, one module each, and the manager that runs them.

``runtime`` is the shared skeleton (queue, workers, ``reconcile``), ``manager``
the process. Controllers import only ``tinykube.client`` and ``tinykube.api``:
they see the cluster exactly as any API client does.
"""

from tinykube.controllers.runtime import Controller, ControllerContext, Requeue, worker

__all__ = ["Controller", "ControllerContext", "Requeue", "worker"]
