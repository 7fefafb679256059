"""The add-ons ``kubeadm init`` installs: kube-proxy and cluster DNS, as API objects,
and what kind and k3s add: the default StorageClass and an ingress controller.

kubeadm's last phase creates, through the API like any user, a
``kube-proxy`` DaemonSet (host network, privileged, one pod per node) and a
``coredns`` Deployment behind the ``kube-dns`` Service, whose ClusterIP is
the tenth address of the service range; the kubelet points every pod's
resolv.conf at that address. ``ensure_addons`` does the same for tinykube,
with the manifests written out below as plain dicts, so ``kubectl get
ds,deploy,svc -n kube-system`` shows what a CKA candidate expects.

The containers name images, as upstream's do, but no such image is in the
node's local store, so the process runtime runs their commands from the
host's filesystem: the running interpreter with ``-m tinykube.proxy.command
proxy`` or ``... dns`` (the same subcommands as ``tinykube proxy|dns``,
independent of how ``cli.py`` wires them). kube-proxy reaches the API server at ``--master`` (the
control plane's own address; the ``kubernetes`` Service cannot work before
kube-proxy does) with its service account token; CoreDNS, in an ordinary
pod, uses the in-cluster config through the ``kubernetes`` Service.

The ingress controller (``tinykube ingress-controller``, ``tinykube.ingress``)
gets its own namespace, ``tinykube-ingress``, as ingress-nginx's manifests
give it ``ingress-nginx``: it is not part of the control plane (k3s's
Traefik in ``kube-system`` is a packaging choice, not a role), and ``kubectl
get all -n tinykube-ingress`` then shows exactly the add-on. It is a
one-replica Deployment of an ordinary pod with the ``tinykube`` IngressClass
(the default class, so Ingresses without a class are served too), RBAC to
read IngressClasses, Ingresses, Services, EndpointSlices and TLS Secrets and
to write Ingress status, and a NodePort Service in front of it, which is
what ingress-nginx's bare-metal manifest does. Nothing binds a fixed host
port: the pod listens on its own pod address (80 and 443 as root, where the
pod has its own network namespace; 8080 and 8443 without root, where pods
share the host's network through per-pod loopback addresses and low ports
are refused), and the Service's node ports come from the cluster's
allocator, so several clusters on one host never collide (kind's guide
binds hostPorts 80/443 instead, which only one cluster per host can do).
Users reach it at the Service's ClusterIP on ports 80/443, which kube-proxy
makes reachable from the host (as root: an unprivileged kube-proxy cannot
bind ports below 1024) and which the controller publishes as every
Ingress's ADDRESS, or at ``<node address>:<node port>``.

Existing objects are left as they are (``AlreadyExists`` is success), so
``up`` may call this on every start, as kubeadm's phases are re-runnable.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from tinykube.api import errors
from tinykube.client.rest import Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAMESPACE = "kube-system"
VERSION = "v1.34.2"
PROXY_IMAGE = f"registry.k8s.io/kube-proxy:{VERSION}"
DNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.12.1"
DNS_SERVICE_INDEX = 10  # kubeadm: the tenth address of the service range
UNPRIVILEGED_DNS_PORT = 1053  # a port an unprivileged pod may bind
RETRIES = 10
DEFAULT_STORAGE_CLASS = "standard"
HOSTPATH_PROVISIONER = "tinykube.io/hostpath"  # controllers/hostpathprovisioner.py
INGRESS_NAMESPACE = "tinykube-ingress"
INGRESS_NAME = "tinykube-ingress-controller"
INGRESS_CLASS = "tinykube"
INGRESS_CONTROLLER = "tinykube.io/ingress"  # tinykube/ingress/command.py's default
INGRESS_IMAGE = "tinykube.io/ingress-controller:v0.1.0"
INGRESS_PORTS = (80, 443)  # as root: the pod has a network namespace of its own
UNPRIVILEGED_INGRESS_PORTS = (8080, 8443)
SIMULATED_LABEL = "tinykube.io/simulated"  # kubelet/simnodes.py's nodes


def dns_service_ip(service_cidr: str) -> str:
    """The kube-dns ClusterIP: the tenth address of the (first) service range."""
    network = ipaddress.ip_network(service_cidr.split(",")[0].strip(), strict=False)
    return str(network.network_address + DNS_SERVICE_INDEX)


def _service_account(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name)}


def _meta(name: str, namespace: str = NAMESPACE, **labels: str) -> Obj:
    out: Obj = {"name": name}
    if namespace:
        out["namespace"] = namespace
    if labels:
        out["labels"] = dict(labels)
    return out


def rbac_objects() -> list[tuple[str, str, Obj]]:
    """ServiceAccounts, ClusterRoles and bindings, named as kubeadm names them."""
    rbac = "rbac.authorization.k8s.io/v1"
    coredns_role = {
        "apiVersion": rbac,
        "kind": "ClusterRole",
        "metadata": _meta("system:coredns", ""),
        "rules": [
            {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
             "verbs": ["list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
             "verbs": ["list", "watch"]},
        ],
    }  # fmt: skip
    proxier_role = {
        "apiVersion": rbac,
        "kind": "ClusterRole",
        "metadata": _meta("system:node-proxier", ""),
        "rules": [
            {"apiGroups": [""], "resources": ["endpoints", "services"], "verbs": ["list", "watch"]},
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["", "events.k8s.io"], "resources": ["events"],
             "verbs": ["create", "patch", "update"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
             "verbs": ["list", "watch"]},
        ],
    }  # fmt: skip
    return [
        ("v1", "serviceaccounts", _service_account("kube-proxy")),
        ("v1", "serviceaccounts", _service_account("coredns")),
        (rbac, "clusterroles", proxier_role),
        (rbac, "clusterroles", coredns_role),
        (rbac, "clusterrolebindings", _binding("kubeadm:node-proxier", "system:node-proxier", "kube-proxy")),
        (rbac, "clusterrolebindings", _binding("system:coredns", "system:coredns", "coredns")),
    ]  # fmt: skip


def _binding(name: str, role: str, account: str) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _meta(name, ""),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}],
    }


def kube_proxy_daemonset(
    master: str, python: str = sys.executable, extra_args: list[str] | None = None
) -> Obj:
    """kube-proxy on every node: host network, privileged, tolerating every taint."""
    labels = {"k8s-app": "kube-proxy"}
    container = {
        "name": "kube-proxy",
        "image": PROXY_IMAGE,
        "command": [python, "-m", "tinykube.proxy.command", "proxy"],
        "args": ["--master", master, "--hostname-override", "$(NODE_NAME)", *(extra_args or [])],
        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        "securityContext": {"privileged": True},
    }
    pod_spec = {
        "hostNetwork": True,
        "priorityClassName": "system-node-critical",
        "serviceAccountName": "kube-proxy",
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"operator": "Exists"}],
        "containers": [container],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": _meta("kube-proxy", **labels),
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def corefile(domain: str) -> str:
    """kubeadm's Corefile: what ``kubectl -n kube-system edit cm coredns`` changes."""
    return f""".:53 {{
    errors
    health {{
       lameduck 5s
    }}
    ready
    kubernetes {domain} in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    prometheus :9153
    forward . /etc/resolv.conf {{
       max_concurrent 1000
    }}
    cache 30
    loop
    reload
    loadbalance
}}
"""


def coredns_configmap(domain: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta("coredns"),
        "data": {"Corefile": corefile(domain)},
    }


def coredns_deployment(
    domain: str, dns_port: int, replicas: int = 2, python: str = sys.executable
) -> Obj:
    """The DNS server pods; each listens on its own pod address and reads the Corefile
    from the ``coredns`` ConfigMap, mounted where kubeadm mounts it."""
    labels = {"k8s-app": "kube-dns"}
    ports = [
        {"name": "dns", "containerPort": dns_port, "protocol": "UDP"},
        {"name": "dns-tcp", "containerPort": dns_port, "protocol": "TCP"},
    ]
    container = {
        "name": "coredns",
        "image": DNS_IMAGE,
        "command": [python, "-m", "tinykube.proxy.command", "dns"],
        "args": [
            "--cluster-domain",
            domain,
            "--bind-address",
            "$(POD_IP)",
            "--port",
            str(dns_port),
            "--conf",
            "/etc/coredns/Corefile",
        ],
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "ports": ports,
        "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": True}],
        "readinessProbe": {"tcpSocket": {"port": dns_port}, "periodSeconds": 2},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta("coredns", **labels),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "dnsPolicy": "Default",  # the node's resolv.conf: where to forward to
                    "priorityClassName": "system-cluster-critical",
                    "serviceAccountName": "coredns",
                    "tolerations": [
                        {"key": "CriticalAddonsOnly", "operator": "Exists"},
                        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                    ],
                    "containers": [container],
                    "volumes": [
                        {
                            "name": "config-volume",
                            "configMap": {
                                "name": "coredns",
                                "items": [{"key": "Corefile", "path": "Corefile"}],
                            },
                        }
                    ],
                },
            },
        },
    }


def default_storage_class() -> Obj:
    """``standard``, the default class, as kind ships it (k3s calls its own ``local-path``).

    Every node of a tinykube cluster shares one host, so a hostPath volume the
    controller manager's ``tinykube.io/hostpath`` provisioner makes serves a pod
    on any node: binding at once (Immediate) loses nothing.
    """
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": DEFAULT_STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": HOSTPATH_PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }


def kube_dns_service(cluster_ip: str) -> Obj:
    labels = {
        "k8s-app": "kube-dns",
        "kubernetes.io/cluster-service": "true",
        "kubernetes.io/name": "CoreDNS",
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta("kube-dns", **labels),
        "spec": {
            "selector": {"k8s-app": "kube-dns"},
            "clusterIP": cluster_ip,
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": "dns-tcp"},
            ],
        },
    }


def ingress_rbac_objects() -> list[tuple[str, str, Obj]]:
    """The controller's namespace, ServiceAccount, ClusterRole and binding."""
    rbac = "rbac.authorization.k8s.io/v1"
    read = ["get", "list", "watch"]
    role = {
        "apiVersion": rbac,
        "kind": "ClusterRole",
        "metadata": _meta(INGRESS_NAME, ""),
        "rules": [
            {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "ingressclasses"], "verbs": read},
            {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses/status"], "verbs": ["update", "patch"]},
            {"apiGroups": [""], "resources": ["services", "secrets"], "verbs": read},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
            {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
        ],
    }  # fmt: skip
    binding = _binding(INGRESS_NAME, INGRESS_NAME, INGRESS_NAME)
    binding["subjects"][0]["namespace"] = INGRESS_NAMESPACE
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(INGRESS_NAMESPACE, "")}
    return [
        ("v1", "namespaces", namespace),
        ("v1", "serviceaccounts", {**_service_account(INGRESS_NAME),
                                   "metadata": _meta(INGRESS_NAME, INGRESS_NAMESPACE)}),
        (rbac, "clusterroles", role),
        (rbac, "clusterrolebindings", binding),
    ]  # fmt: skip


def ingress_class() -> Obj:
    """``tinykube``, the default IngressClass, served by ``tinykube.io/ingress``."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {
            "name": INGRESS_CLASS,
            "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
        },
        "spec": {"controller": INGRESS_CONTROLLER},
    }


_INGRESS_LABELS = {"app.kubernetes.io/name": "tinykube-ingress", "app.kubernetes.io/component": "controller"}  # fmt: skip


def _not_simulated() -> Obj:
    """Keep a pod off simulated nodes: they run no process, and traffic needs a real one."""
    term = {"matchExpressions": [{"key": SIMULATED_LABEL, "operator": "NotIn", "values": ["true"]}]}
    required = {"nodeSelectorTerms": [term]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}


def ingress_deployment(ports: tuple[int, int], python: str = sys.executable) -> Obj:
    """One controller pod, listening on its pod address; it publishes its Service's address."""
    http, https = ports
    container = {
        "name": "controller",
        "image": INGRESS_IMAGE,
        "command": [python, "-m", "tinykube.ingress.command", "ingress-controller"],
        "args": [
            f"--controller-class={INGRESS_CONTROLLER}",
            f"--publish-service={INGRESS_NAMESPACE}/{INGRESS_NAME}",
            "--bind-address=$(POD_IP)",
            f"--http-port={http}",
            f"--https-port={https}",
        ],
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "ports": [
            {"name": "http", "containerPort": http, "protocol": "TCP"},
            {"name": "https", "containerPort": https, "protocol": "TCP"},
        ],
        "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 2},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(INGRESS_NAME, INGRESS_NAMESPACE, **_INGRESS_LABELS),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": _INGRESS_LABELS},
            "template": {
                "metadata": {"labels": _INGRESS_LABELS},
                "spec": {
                    "serviceAccountName": INGRESS_NAME,
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "affinity": _not_simulated(),
                    "tolerations": [
                        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                    ],
                    "containers": [container],
                },
            },
        },
    }


def ingress_service() -> Obj:
    """The NodePort Service in front of the controller (node ports from the allocator)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(INGRESS_NAME, INGRESS_NAMESPACE, **_INGRESS_LABELS),
        "spec": {
            "type": "NodePort",
            "selector": _INGRESS_LABELS,
            "ports": [
                {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"},
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https"},
            ],
        },
    }


def ingress_objects(python: str = sys.executable) -> list[tuple[str, str, Obj]]:
    ports = INGRESS_PORTS if os.geteuid() == 0 else UNPRIVILEGED_INGRESS_PORTS
    return [
        *ingress_rbac_objects(),
        ("networking.k8s.io/v1", "ingressclasses", ingress_class()),
        ("v1", "services", ingress_service()),
        ("apps/v1", "deployments", ingress_deployment(ports, python)),
    ]


async def ensure_addons(
    client: Client,
    *,
    api_server_url: str,
    service_cidr: str = "10.96.0.0/12",
    cluster_domain: str = "cluster.local",
    dns_port: int | None = None,
    dns_replicas: int = 2,
    python: str = sys.executable,
    proxy_args: list[str] | None = None,
    ingress: bool = True,
) -> None:
    """Create kube-proxy, CoreDNS (and their RBAC), the default StorageClass and the
    ingress controller (unless ``ingress`` is false) where they do not exist.

    ``api_server_url`` is where kube-proxy reaches the API server
    (``https://127.0.0.1:6443``); ``dns_port`` is the port the DNS pods
    listen on (53 as root, else ``UNPRIVILEGED_DNS_PORT``: the Service still
    answers on 53 and maps to it by the port's name); ``proxy_args`` are
    extra ``tinykube proxy`` flags (tests give each run its own
    ``--service-interface``).
    """
    port = dns_port or (53 if os.geteuid() == 0 else UNPRIVILEGED_DNS_PORT)
    objects = [
        *rbac_objects(),
        ("apps/v1", "daemonsets", kube_proxy_daemonset(api_server_url, python, proxy_args)),
        ("v1", "services", kube_dns_service(dns_service_ip(service_cidr))),
        ("v1", "configmaps", coredns_configmap(cluster_domain)),
        ("apps/v1", "deployments", coredns_deployment(cluster_domain, port, dns_replicas, python)),
        ("storage.k8s.io/v1", "storageclasses", default_storage_class()),
        *(ingress_objects(python) if ingress else []),
    ]
    for api_version, resource, obj in objects:
        await _with_retries(lambda a=api_version, r=resource, o=obj: _create(client, a, r, o))


async def _with_retries(attempt: Callable[[], Awaitable[None]]) -> None:
    """Retry what a restarting API server refuses for a while (``up`` calls this early)."""
    delay = 0.2
    for _ in range(RETRIES):
        try:
            return await attempt()
        except (OSError, aiohttp.ClientError, TimeoutError) as exc:
            log.info("component=up addons: API server not reachable (%s); retrying", exc)
        except errors.APIError as exc:
            if exc.code < 500 and exc.code != 429:
                raise
            log.info("component=up addons: %s; retrying", exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)
    await attempt()


async def _create(client: Client, api_version: str, resource: str, obj: Obj) -> None:
    namespace, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
    # Look first: creating a Service that exists fails on its ClusterIP being
    # taken (Invalid) before the name is checked, as upstream's allocator does.
    try:
        await client.get(api_version, resource, name, namespace)
        return
    except errors.NotFound:
        pass
    try:
        await client.create(api_version, resource, obj, namespace)
    except errors.AlreadyExists:
        return
    log.info("component=up addon %s %s/%s created", resource, namespace, name)
