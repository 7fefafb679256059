"""The proxier interface: the one seam between Service tracking and the data plane.

Upstream kube-proxy has one ``Provider`` interface (``Sync``, ``SyncLoop``,
the endpoint and service change handlers) and several data planes behind
it (iptables, IPVS, nftables, and once a userspace proxier). tinykube keeps
the same split with a smaller surface: the tracker hands a complete
forwarding table to ``sync`` whenever something changed, and the proxier
makes the node match it. ``sync`` is level-triggered and idempotent: the
same table twice is a no-op, so a proxier never needs to know what changed.

``UserspaceProxier`` (``userspace.py``) is the only implementation; an
nftables or IPVS one would implement the same two methods.
"""

from __future__ import annotations

from typing import Protocol

from tinykube.proxy.table import Table


class Proxier(Protocol):
    """A data plane that forwards a table's frontends to their routes."""

    async def sync(self, table: Table) -> None:
        """Make the node forward exactly ``table``; connections in flight are kept."""
        ...

    async def cleanup(self) -> None:
        """Stop forwarding and remove everything this proxier put on the host."""
        ...
