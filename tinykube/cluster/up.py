"""``tinykube up``: bring a whole cluster up, as kubeadm would lay it out.

First what ``kubeadm init`` does: the cluster CA and certificates, the admin
kubeconfig, one client certificate and kubeconfig per component
(``system:kube-controller-manager``, ``system:kube-scheduler``,
``system:node:<node>``) and the static pod manifests of the control plane in
``<data-dir>/manifests/``. Then the kubelet of the node ``controlplane``
starts and runs kube-apiserver, kube-controller-manager and kube-scheduler as
static pods (real processes, restarted by the kubelet when they die, shown as
mirror pods in ``kube-system``). With ``--nodes N`` the kubelets of the
worker nodes node01 … start beside it (``nodes.py``: their credentials, pod
CIDRs and ports, the control-plane taint, the pod network between them).
``up`` itself supervises only the kubelets (restarted with a capped
back-off) and stops them on Ctrl-C or SIGTERM (``tinykube down`` sends that,
see ``daemon.py``); each kubelet then gives its pods their termination grace,
bounded by ``--shutdown-grace-period``, so kube-proxy removes its Service
addresses itself; ``up`` removes whatever is left of them afterwards. ``up``
runs in the foreground; ``-d`` starts the same in the background. On an
existing data directory nothing is regenerated, so the same cluster, with its
objects, comes back.

With ``--etcd`` the cluster's objects live in a stacked etcd, a fourth static
pod with its own CA, and the API server reaches it over TLS (``etcd.py``). A
data directory whose manifests hold ``etcd.yaml`` stays on etcd at later
starts even without the flag, so ``up`` never silently switches storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.util
import logging
import os
import signal
import ssl
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinykube.apiserver.kubeconfig import write_admin_kubeconfig, write_kubeconfig
from tinykube.apiserver.tls import ensure_pki, issue_client_cert
from tinykube.client.rest import Client
from tinykube.cluster import daemon, etcd, manifests, nodes
from tinykube.cluster.addons import dns_service_ip, ensure_addons
from tinykube.controllers import servicelb
from tinykube.proxy.netif import release_range

log = logging.getLogger(__name__)

NODE_NAME = "controlplane"
PR_SET_PDEATHSIG = 1
MAX_BACKOFF = 30.0


@dataclass
class UpConfig:
    data_dir: Path
    port: int = 6443
    bind_address: str = "127.0.0.1"
    apiserver_args: list[str] = field(default_factory=list)
    node_name: str = NODE_NAME
    runtime: str = "process"
    simulated_nodes: int = 0
    kubelet_port: int = 10250
    # The health ports of the control plane's static pods (kube-scheduler, kube-controller-
    # manager); upstream's defaults, other values so that clusters can share a host.
    scheduler_port: int = manifests.SCHEDULER_PORT
    controller_manager_port: int = manifests.CONTROLLER_MANAGER_PORT
    service_cidr: str = "10.96.0.0/12"
    pod_cidr: str = "10.244.0.0/24"
    nodes: int = 0  # worker nodes node01 …, one kubelet process each, on ``runtime``
    # Graceful node shutdown of every kubelet: seconds in all, and of those for critical pods.
    shutdown_grace_period: float = 4.0
    shutdown_grace_period_critical_pods: float = 2.0
    notify_fd: int | None = None  # ``up -d``: where to say that the cluster is up
    etcd: bool = False  # a stacked etcd static pod instead of SQLite
    etcd_port: int = 2379
    etcd_peer_port: int = 2380
    etcd_metrics_port: int = 2381

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.bind_address in ("0.0.0.0", "::") else self.bind_address
        return f"https://{host}:{self.port}"


@dataclass
class Component:
    name: str
    argv: list[str]
    module: str  # the package that must exist for this component to run
    log_path: Path
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tinykube.cli", *args]


def component_kubeconfig(cfg: UpConfig, name: str, user: str, groups: list[str]) -> Path:
    """A client certificate for one component, embedded in its own kubeconfig."""
    pki = load_pki(cfg)
    cert, key = issue_client_cert(pki, user, groups)
    path = cfg.data_dir / f"{name}.kubeconfig"
    write_kubeconfig(
        path,
        server=cfg.url,
        ca_pem=pki.ca_pem,
        user=user,
        client_cert_pem=cert,
        client_key_pem=key,
    )
    return path


def _kubelet_args(cfg: UpConfig, name: str, root: Path, port: int, pod_cidr: str) -> list[str]:
    return [
        "kubelet",
        "--node-name",
        name,
        "--root-dir",
        str(root),
        # One image store for the cluster's nodes: `tinykube image import` fills it.
        "--image-dir",
        str(cfg.data_dir / "images"),
        "--runtime",
        cfg.runtime,
        "--port",
        str(port),
        "--pod-cidr",
        pod_cidr,
        "--client-ca-file",
        str(cfg.data_dir / "pki" / "ca.crt"),
        "--cluster-dns",
        dns_service_ip(cfg.service_cidr),
        "--cluster-domain",
        "cluster.local",
        "--shutdown-grace-period",
        f"{cfg.shutdown_grace_period}s",
        "--shutdown-grace-period-critical-pods",
        f"{cfg.shutdown_grace_period_critical_pods}s",
    ]


def workers(cfg: UpConfig) -> list[tuple[str, str, int]]:
    """(kubeconfig and log name, node name, kubelet port) of each worker node."""
    return [
        (f"kubelet-{name}", name, cfg.kubelet_port + i)
        for i, name in enumerate(nodes.worker_names(cfg.nodes), start=1)
    ]


def plan(cfg: UpConfig) -> list[Component]:
    """The processes ``up`` itself runs: the kubelets (the control plane's runs the
    control plane as static pods) and, when asked for, the simulated nodes."""
    logs = cfg.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    kubelet = _kubelet_args(
        cfg, cfg.node_name, cfg.data_dir / "kubelet", cfg.kubelet_port, cfg.pod_cidr
    )
    kubelet += ["--control-plane", "--pod-manifest-path", str(cfg.data_dir / "manifests")]
    if cfg.nodes:
        kubelet += ["--register-with-taints", nodes.taint_text(nodes.CONTROL_PLANE_TAINT)]
    later = [("kubelet", "tinykube.kubelet.command", kubelet)]
    for i, (name, node, port) in enumerate(workers(cfg), start=1):
        root = cfg.data_dir / "nodes" / node
        cidr = nodes.worker_pod_cidr(cfg.pod_cidr, i)
        # Each node's own static pod directory, as /etc/kubernetes/manifests on a kubeadm node.
        manifests = root / "manifests"
        manifests.mkdir(parents=True, exist_ok=True)
        args = _kubelet_args(cfg, node, root, port, cidr)
        later.append(
            (name, "tinykube.kubelet.command", [*args, "--pod-manifest-path", str(manifests)])
        )
    if cfg.simulated_nodes:
        later.append(
            (
                "simulated-nodes",
                "tinykube.kubelet.command",
                ["simulated-nodes", "--count", str(cfg.simulated_nodes)],
            )
        )
    comps = []
    for name, module, args in later:
        kubeconfig = cfg.data_dir / f"{name}.kubeconfig"
        argv = _cli(*args, "--kubeconfig", str(kubeconfig))
        comps.append(Component(name, argv, module, logs / f"{name}.log"))
    return comps


COMPONENT_IDENTITIES = (
    ("kube-controller-manager", "system:kube-controller-manager", []),
    ("kube-scheduler", "system:kube-scheduler", []),
)


def load_pki(cfg: UpConfig) -> Any:
    """The cluster PKI, with the serving SANs the API server itself asks for."""
    import socket

    bind = cfg.bind_address
    ips = [] if bind in ("0.0.0.0", "::") else [bind]
    return ensure_pki(
        cfg.data_dir, hosts=[socket.gethostname()], ips=ips, service_cidr=cfg.service_cidr
    )


def init(cfg: UpConfig) -> None:
    """What ``kubeadm init`` does before the kubelet starts: PKI, kubeconfigs, manifests.

    Idempotent: existing certificates and kubeconfigs are kept, so ``up`` on an
    existing data directory brings back the same cluster."""
    pki = load_pki(cfg)
    write_admin_kubeconfig(cfg.data_dir, cfg.url, pki)
    identities = [
        *COMPONENT_IDENTITIES,
        ("kubelet", f"system:node:{cfg.node_name}", ["system:nodes"]),
        *((name, f"system:node:{node}", ["system:nodes"]) for name, node, _ in workers(cfg)),
    ]
    if cfg.simulated_nodes:
        identities.append(("simulated-nodes", "system:node:simulated", ["system:nodes"]))
    for name, user, groups in identities:
        if not (cfg.data_dir / f"{name}.kubeconfig").exists():
            component_kubeconfig(cfg, name, user, groups)
    apiserver_args = [*cfg.apiserver_args, *_stacked_etcd(cfg)]
    pods = manifests.control_plane(
        cfg.data_dir,
        cfg.port,
        cfg.bind_address,
        apiserver_args,
        scheduler_port=cfg.scheduler_port,
        controller_manager_port=cfg.controller_manager_port,
    )
    manifests.write(cfg.data_dir / "manifests", pods)


def _stacked_etcd(cfg: UpConfig) -> list[str]:
    """With ``--etcd`` (or an etcd manifest from an earlier ``up --etcd``): its PKI and
    manifest, and the API server's flags to reach it; otherwise nothing."""
    directory = cfg.data_dir / "manifests"
    if not cfg.etcd and not (directory / etcd.MANIFEST).exists():
        return []
    bind = cfg.bind_address
    node_ip = "127.0.0.1" if bind in ("0.0.0.0", "::") else bind
    etcd.ensure_pki(cfg.data_dir, cfg.node_name, node_ip)
    ports = etcd.Ports(cfg.etcd_port, cfg.etcd_peer_port, cfg.etcd_metrics_port)
    url = etcd.ensure_manifest(directory, cfg.data_dir, cfg.node_name, ports)
    return etcd.apiserver_args(cfg.data_dir, url)


async def wait_ready(url: str, timeout: float = 60.0) -> None:  # noqa: ASYNC109
    """Poll ``/readyz`` until the API server answers (it is public, like upstream's)."""
    import aiohttp

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{url}/readyz", ssl=ctx) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"the API server at {url} did not become ready in {timeout:.0f}s")


def _die_with_parent() -> None:
    """In the child: get SIGTERM if ``up`` itself dies (even by SIGKILL), never orphan."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def _spawn(comp: Component) -> None:
    out = await asyncio.to_thread(open, comp.log_path, "ab")  # handed to the child process
    try:
        comp.proc = await asyncio.create_subprocess_exec(
            *comp.argv,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    finally:
        out.close()
    log.info("component=up started name=%s pid=%s log=%s", comp.name, comp.proc.pid, comp.log_path)


async def supervise(comp: Component) -> None:
    """Keep one component running; restart it with a capped back-off when it exits."""
    backoff = 1.0
    while True:
        started = time.monotonic()
        await _spawn(comp)
        assert comp.proc is not None
        code = await comp.proc.wait()
        if time.monotonic() - started > 60:
            backoff = 1.0
        comp.restarts += 1
        log.warning(
            "component=up exited name=%s code=%s restart_in=%.0fs", comp.name, code, backoff
        )
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF)


async def stop(comps: list[Component], grace: float = 10.0) -> None:
    """SIGTERM in reverse start order, SIGKILL what is still there after ``grace`` s."""
    for comp in reversed(comps):
        if comp.proc is not None and comp.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                comp.proc.send_signal(signal.SIGTERM)
    for comp in reversed(comps):
        if comp.proc is None:
            continue
        try:
            await asyncio.wait_for(comp.proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                comp.proc.kill()


async def run(cfg: UpConfig) -> None:
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    daemon.claim(cfg.data_dir)
    try:
        await _run(cfg)
    finally:
        daemon.unclaim(cfg.data_dir)


async def _run(cfg: UpConfig) -> None:
    await asyncio.to_thread(init, cfg)
    if cfg.nodes and os.geteuid() == 0 and cfg.runtime == "process":
        await asyncio.to_thread(nodes.enable_ip_forward)
    comps = [c for c in plan(cfg) if _available(c.module)]
    tasks: list[asyncio.Task[None]] = []
    # SIGTERM (as from a service manager, `kill` or `tinykube down`) stops the
    # cluster in order, like Ctrl-C.
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: main.cancel() if main else None)
    try:
        async with asyncio.TaskGroup() as tg:
            for comp in comps:
                tasks.append(tg.create_task(supervise(comp)))
            await wait_ready(cfg.url, timeout=120)
            # As kubeadm does once the API server answers: kube-proxy and cluster DNS.
            async with await Client.from_kubeconfig(cfg.data_dir / "admin.kubeconfig") as client:
                await ensure_addons(client, api_server_url=cfg.url, service_cidr=cfg.service_cidr)
                await nodes.mark_control_plane(client, cfg.node_name, cfg.nodes > 0)
            kubeconfig = (cfg.data_dir / "admin.kubeconfig").resolve()
            print(f"tinykube is up: export KUBECONFIG={kubeconfig}", file=sys.stderr, flush=True)
            daemon.notify_ready(cfg.notify_fd)
    finally:
        for task in tasks:
            task.cancel()
        # Each kubelet takes up to its shutdown grace period (plus SIGKILL time) first.
        await stop(comps, grace=cfg.shutdown_grace_period + 10)
        if os.geteuid() == 0:
            # Addresses a kube-proxy could not remove itself (killed, or out of grace):
            # take this cluster's service addresses off the host link.
            await release_range(cfg.service_cidr)
            await release_range(servicelb.ROOT_POOL)  # LoadBalancer addresses, likewise
