"""The kubelet: the node agent that registers a Node and runs the pods bound to it.

``kubelet.Kubelet`` is the agent (``kubelet.py`` explains its data flow);
``runtime/`` holds the CRI-shaped runtime interface and its two runtimes
(``process``: real processes in namespaces and cgroups; ``simulated``: none);
``simnodes.SimulatedNodes`` serves many simulated nodes from one process;
``command.register`` adds ``tinykube kubelet`` and ``tinykube simulated-nodes``
to the command line. The kubelet talks to the cluster only through
``tinykube.client``, as any user would.
"""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    """Add the kubelet subcommands (imported lazily: ``python -m`` runs ``command``)."""
    from tinykube.kubelet import command

    command.register(subparsers)


__all__ = ["register"]
