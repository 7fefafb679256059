"""Choosing the endpoint for a new connection: round robin, with ClientIP affinity.

This is upstream's userspace ``LoadBalancerRR`` in spirit: one cursor per
Service port (shared by all its frontends, so a ClusterIP and a NodePort of
the same port take turns together), and, when the Service asks for
``sessionAffinity: ClientIP``, a table client address -> endpoint whose
entries expire ``timeoutSeconds`` after their last use. A remembered
endpoint is used only while it is still in the route's current list, so a
client never sticks to a pod that is gone or not ready.

``pick`` takes the list of endpoints to choose from; state is only keyed by
Service port name, so a changed endpoint list never needs an explicit
"update" call. ``forget`` drops the state of Service ports that left the
table. The clock is injectable for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tinykube.proxy.table import Endpoint, Route


@dataclass
class _Sticky:
    endpoint: Endpoint
    expires: float


@dataclass
class _PortState:
    cursor: int = 0
    sticky: dict[str, _Sticky] = field(default_factory=dict)


class Balancer:
    """Round robin over a route's endpoints, honouring ClientIP affinity."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ports: dict[str, _PortState] = {}

    def pick(self, route: Route, client_ip: str, skip: Iterable[Endpoint] = ()) -> Endpoint | None:
        """The endpoint for a new connection from ``client_ip``, or None when there is none.

        ``skip`` lists endpoints that just refused this connection; they are
        avoided (and an affinity to one of them is dropped).
        """
        avoid = set(skip)
        choices = [ep for ep in route.endpoints if ep not in avoid]
        if not choices:
            return None
        state = self._ports.setdefault(route.name, _PortState())
        now = self._clock()
        if route.affinity is not None:
            sticky = state.sticky.get(client_ip)
            if sticky is not None and sticky.expires > now and sticky.endpoint in choices:
                sticky.expires = now + route.affinity
                return sticky.endpoint
        endpoint = choices[state.cursor % len(choices)]
        state.cursor = (state.cursor + 1) % max(len(choices), 1)
        if route.affinity is not None:
            state.sticky[client_ip] = _Sticky(endpoint, now + route.affinity)
        return endpoint

    def forget(self, keep: Iterable[str]) -> None:
        """Drop the state of every Service port not in ``keep``, and expired affinities."""
        wanted = set(keep)
        now = self._clock()
        for name in list(self._ports):
            if name not in wanted:
                del self._ports[name]
                continue
            sticky = self._ports[name].sticky
            for client in [c for c, s in sticky.items() if s.expires <= now]:
                del sticky[client]
