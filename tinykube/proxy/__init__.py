"""kube-proxy and cluster DNS: what makes a Service's address reach its pods.

Data flow (kube-proxy)::

    Services, EndpointSlices (informers, SERVICE_SELECTOR)
        │  any event marks the table dirty        server.ProxyServer
        ▼
    table.build_table(...)  ->  {Frontend: Route}  (pure; unit-tested)
        │  at most every --min-sync-period, at least every --sync-period
        ▼
    Proxier.sync(table)      proxier.Proxier: the data-plane seam
        └─ userspace.UserspaceProxier: asyncio TCP/UDP listeners on each
           frontend; new connections -> balancer.Balancer (round robin,
           ClientIP affinity) -> a ready endpoint; netif.ServiceInterface
           puts non-loopback Service addresses on the dummy link ``tk-svc``

Cluster DNS: ``dns.ClusterDNS`` answers the Kubernetes DNS records from
Service and EndpointSlice caches; ``dnsserver`` serves it on UDP/TCP and
forwards other names to the resolv.conf nameservers. ``command`` holds the
``tinykube proxy`` and ``tinykube dns`` command lines.
"""

from tinykube.proxy.balancer import Balancer
from tinykube.proxy.dns import ClusterDNS
from tinykube.proxy.proxier import Proxier
from tinykube.proxy.table import Endpoint, Frontend, Route, Table, build_table

__all__ = [
    "Balancer",
    "ClusterDNS",
    "Endpoint",
    "Frontend",
    "Proxier",
    "Route",
    "Table",
    "build_table",
]
