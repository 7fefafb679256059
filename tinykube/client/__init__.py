"""The client library every tinykube component uses to reach the API server.

``rest.Client`` speaks the Kubernetes REST API over HTTPS; ``kubeconfig`` finds
the server and the credentials; ``informers`` keep a watched, indexed local
cache; ``workqueue`` hands keys to workers with de-duplication and rate-limited
retry; ``leaderelection`` makes one of several replicas act; ``events`` records
Kubernetes Events; ``clock`` and ``backoff`` are the time seams they share.
Nothing here imports the API server or the store: a component uses exactly
what any user has. ARCHITECTURE.md draws how the pieces connect.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

# The public names and the module each lives in. They are imported on first
# use (PEP 562), so a light user such as tkctl can load ``kubeconfig`` without
# paying for aiohttp and the informer machinery.
_EXPORTS = {
    "Callbacks": "leaderelection",
    "Client": "rest",
    "ClientConfig": "kubeconfig",
    "ConfigError": "kubeconfig",
    "EventRecorder": "events",
    "InformerFactory": "informers",
    "LeaderElector": "leaderelection",
    "SharedInformer": "informers",
    "ShutDown": "workqueue",
    "WorkQueue": "workqueue",
    "in_cluster_config": "kubeconfig",
    "load": "kubeconfig",
    "load_kubeconfig": "kubeconfig",
    "resolve": "rest",
    "resource_path": "rest",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)


if TYPE_CHECKING:
    from tinykube.client.events import EventRecorder
    from tinykube.client.informers import InformerFactory, SharedInformer
    from tinykube.client.kubeconfig import (
        ClientConfig,
        ConfigError,
        in_cluster_config,
        load,
        load_kubeconfig,
    )
    from tinykube.client.leaderelection import Callbacks, LeaderElector
    from tinykube.client.rest import Client, resolve, resource_path
    from tinykube.client.workqueue import ShutDown, WorkQueue

__all__ = [
    "Callbacks",
    "Client",
    "ClientConfig",
    "ConfigError",
    "EventRecorder",
    "InformerFactory",
    "LeaderElector",
    "SharedInformer",
    "ShutDown",
    "WorkQueue",
    "in_cluster_config",
    "load",
    "load_kubeconfig",
    "resolve",
    "resource_path",
]
