"""The ingress controller add-on: HTTP(S) from outside the cluster to Services, per Ingress.

Data flow::

    IngressClasses, Ingresses, TLS Secrets, Services, EndpointSlices (informers)
        │  a change marks the state dirty           controller.IngressController
        ▼
    routes.serves + routes.build_routes -> Routes   (pure; unit-tested)
    certs.CertStore.refresh -> one SSLContext per TLS Secret, picked by SNI
    status.sync_status -> status.loadBalancer.ingress of each served Ingress
        │
        ▼
    proxy.IngressProxy (aiohttp, HTTP and HTTPS listeners)
        request -> Routes.match(host, path) -> Backend (Service port)
                -> ready endpoints from the caches -> round robin -> pod IP

It runs as an ordinary pod (``tinykube.cluster.addons`` installs it, with its
IngressClass ``tinykube`` and a NodePort Service), talks to the API server
only through the client and informers, and forwards to pod IPs directly.
``command`` holds the ``tinykube ingress-controller`` command line.
"""
