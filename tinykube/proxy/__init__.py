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
    healthcheck.HealthCheckServers: the healthCheckNodePort of each Local
        LoadBalancer Service answers how many endpoints this node has

Where Service addresses live. As root, ClusterIPs, load-balancer addresses
and externalIPs go on the dummy link ``tk-svc`` (``--service-interface``),
so the host accepts them as its own; pods reach them through their default
route via the ``tk0`` gateway. Without root nothing may be configured, so
the cluster must hand out loopback addresses instead, which any process may
bind: start the API server with ``--service-cluster-ip-range
127.96.0.0/16`` and the controller manager's load-balancer pool stays at
its unprivileged default ``127.240.0.0/24`` (``--load-balancer-ip-range``,
or ``TINYKUBE_LOAD_BALANCER_IP_RANGE``). The proxy needs no flag for this:
it decides per address (a loopback address is bound as it is, any other is
put on the link, and skipped with a warning when not root). Unprivileged
processes cannot bind ports below 1024 unless the host lowers
``net.ipv4.ip_unprivileged_port_start``; such frontends are skipped with a
warning that says so.

One kube-proxy per host and cluster. Before it binds anything a proxy takes
a host lock keyed by its cluster's service range (``hostlock.py``): when
several nodes of one cluster share a host (``tinykube up --nodes N``), one
proxy serves the host and the others stand by to take over.

Cluster DNS: ``dns.ClusterDNS`` answers the Kubernetes DNS records from
Service and EndpointSlice caches; ``dnsserver`` serves it on UDP/TCP and
forwards other names to the resolv.conf nameservers, or follows a Corefile
(``corefile``: upstreams, stub domains, ``hosts`` entries) when given one. ``command`` holds the
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
