"""The kubelet: registers its Node, keeps it alive, and runs the pods bound to it.

Data flow::

    API server ──watch pods (fieldSelector spec.nodeName=<node>)──► informer
                                                                     │ add/update/delete
    manifest dir ──StaticPods (poll)─────────────────────────────────┤
                                                                     ▼
                                      one PodWorker per pod uid (podworkers.py)
                                          │ runtime calls          │ pods/status, DELETE, Events
                                          ▼                        ▼
                                 Runtime (process | simulated)   API server

Every new pod is first admitted (``admission.py``): checked against this
node and the pods already admitted, as upstream's kubelet does before it runs
anything; a refused pod fails at once.

Alongside: the Node's registration, status passes, Events and Lease
(``nodesync.py``, ``nodestatus.py``, ``nodeevents.py``, ``lease.py``), the
Event recorder and the HTTPS server on port 10250 (``server.py``).
Everything runs in one TaskGroup; cancelling ``run`` stops the workers, gives
the running containers their termination grace within
``--shutdown-grace-period`` (``nodeshutdown.py``: regular pods first, critical
ones last), then ``Runtime.close`` kills whatever is left and removes every
namespace, veth, bridge address and cgroup this kubelet made.

The runtime starts before the Node is registered, and registration retries
in the background, because a control-plane kubelet must run the API server's
own static pod before any API server answers (until then, pods are admitted
against the Node as this kubelet would register it). Registration happens
once per start, as upstream's: a Node deleted while the kubelet runs is not
created again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from tinykube.api import errors
from tinykube.client import Client
from tinykube.client.events import EventRecorder
from tinykube.client.informers import InformerFactory
from tinykube.kubelet import (
    admission,
    dns,
    envvars,
    nodeshutdown,
    nodestatus,
    nodesync,
    server,
    staticpods,
    stats,
)
from tinykube.kubelet.backoff import CrashLoopBackOff
from tinykube.kubelet.podworkers import PodWorker
from tinykube.kubelet.runtime import new_runtime
from tinykube.kubelet.runtime.interface import Runtime, RuntimeOptions
from tinykube.kubelet.volumes import VolumeManager

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DEFAULT_POD_CIDR = "10.244.0.0/24"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
TRANSIENT = (errors.APIError, aiohttp.ClientError, OSError, TimeoutError)
SERVICES_SYNC_TIMEOUT = 10.0  # a container starts without service variables after this


@dataclass
class KubeletConfig:
    node_name: str
    root_dir: Path
    runtime: str = "process"
    pod_cidr: str = ""
    node_ip: str = "127.0.0.1"
    port: int = 10250
    pod_manifest_path: Path | None = None
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)
    control_plane: bool = False
    image_dir: Path | None = None
    rootless: bool = False
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    client_ca_file: Path | None = None
    simulated_run_seconds: float = 5.0
    cluster_dns: list[str] = field(default_factory=list)
    cluster_domain: str = "cluster.local"
    # Graceful node shutdown (seconds); zero kills the containers at once, as before.
    shutdown_grace_period: float = 0.0
    shutdown_grace_period_critical_pods: float = 0.0


class Kubelet:
    """One node's agent. ``run`` until cancelled."""

    def __init__(self, config: KubeletConfig, client: Client) -> None:
        self.config = config
        self.client = client
        self.node_name = config.node_name
        self.node_ip = config.node_ip
        self.backoff = CrashLoopBackOff()
        self.recorder = EventRecorder(client, "kubelet", config.node_name)
        self.workers: dict[str, PodWorker] = {}
        self.static_uids: set[str] = set()
        self.allocatable: dict[str, str] = {}
        self.volumes = VolumeManager(client, config.root_dir, self.allocatable)
        self.simulated_run_seconds = config.simulated_run_seconds
        self.node: Obj | None = None
        # The Node as this kubelet would register it: what pods are admitted against
        # until the registered one is known.
        self.local_node: Obj | None = None
        self.runtime: Runtime = new_runtime(
            config.runtime,
            RuntimeOptions(
                node_name=config.node_name,
                root_dir=config.root_dir,
                pod_cidr=config.pod_cidr or DEFAULT_POD_CIDR,
                image_dir=config.image_dir,
                rootless=config.rootless,
                simulated_run_seconds=config.simulated_run_seconds,
            ),
        )
        self.privileged = bool(getattr(self.runtime, "privileged", False))
        self.stats = stats.Sampler(self)
        self._group: asyncio.TaskGroup | None = None
        self._pod_cidr = config.pod_cidr or DEFAULT_POD_CIDR
        self.factory = InformerFactory(client)
        self.pods = self.factory.get(
            "v1", "pods", field_selector=f"spec.nodeName={config.node_name}"
        )
        # Every Service, for the service environment variables of each container
        # (upstream's kubelet keeps the same lister rather than asking per container).
        self.services = self.factory.get("v1", "services")

    # ---- running -------------------------------------------------------------------

    async def run(self, ready: asyncio.Event | None = None) -> None:
        await self.runtime.start()
        facts = await asyncio.to_thread(nodestatus.host_facts, self.config.root_dir)
        self.local_node = nodestatus.build_node(self.node_config(), facts, time.time())
        log.info("node=%s kubelet starting (runtime %s)", self.node_name, self.runtime.name)
        try:
            async with asyncio.TaskGroup() as tg:
                self._group = tg
                tg.create_task(self.recorder.run())
                tg.create_task(server.serve(self))
                tg.create_task(self.stats.run())
                tg.create_task(nodesync.NodeSync(self).run())
                if self.config.pod_manifest_path is not None:
                    tg.create_task(staticpods.StaticPods(self).run())
                self.pods.add_handler(
                    on_add=self._on_pod,
                    on_update=lambda _old, new: self._on_pod(new),
                    on_delete=self._on_pod_deleted,
                )
                tg.create_task(self.factory.run())
                await self.pods.wait_synced()
                if ready is not None:
                    ready.set()
        finally:
            self._group = None
            log.info("node=%s kubelet stopping; removing its containers", self.node_name)
            await asyncio.shield(self._cleanup())

    async def _cleanup(self) -> None:
        budget = nodeshutdown.ShutdownBudget(
            self.config.shutdown_grace_period, self.config.shutdown_grace_period_critical_pods
        )
        await nodeshutdown.shutdown_pods(self, budget)
        await self.runtime.close()
        await self.volumes.close()

    # ---- node --------------------------------------------------------------------

    def node_config(self) -> nodestatus.NodeConfig:
        return nodestatus.NodeConfig(
            name=self.node_name,
            node_ip=self.node_ip,
            port=self.config.port,
            pod_cidr=self.config.pod_cidr,
            labels=self.config.labels,
            taints=self.config.taints,
            control_plane=self.config.control_plane,
            runtime_version=f"{self.runtime.name}://0.1.0",
            simulated=self.runtime.simulated,
        )

    async def adopt_pod_cidr(self, node: Obj) -> None:
        """Without ``--pod-cidr``, use the range the node IPAM controller allocated."""
        cidr = (node.get("spec") or {}).get("podCIDR", "")
        if self.config.pod_cidr or not cidr or cidr == self._pod_cidr:
            return
        if await self.runtime.update_pod_cidr(cidr):
            self._pod_cidr = cidr

    # ---- pods --------------------------------------------------------------------

    def _on_pod(self, pod: Obj) -> None:
        annotations = pod["metadata"].get("annotations") or {}
        if MIRROR_ANNOTATION in annotations:
            return  # a mirror of one of our static pods; the static pod is the real one
        self.dispatch(pod)

    def _on_pod_deleted(self, pod: Obj) -> None:
        worker = self.workers.get(pod["metadata"].get("uid", ""))
        if worker is not None and worker.uid not in self.static_uids:
            worker.mark_gone()

    def dispatch(self, pod: Obj) -> PodWorker | None:
        """Hand a pod update to its worker, starting one for a new pod."""
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
            return worker
        if self._group is None:
            return None
        worker = PodWorker(self, pod)
        self.workers[uid] = worker
        self._group.create_task(self._run_worker(worker), name=f"pod {worker.key}")
        return worker

    async def _run_worker(self, worker: PodWorker) -> None:
        await worker.run()
        # Not in a ``finally``: a worker cancelled because the kubelet stops stays
        # listed, so the graceful shutdown knows each container's pod.
        if self.workers.get(worker.uid) is worker:
            del self.workers[worker.uid]

    def find_worker(self, namespace: str, name: str) -> PodWorker | None:
        for worker in self.workers.values():
            meta = worker.pod["metadata"]
            if meta.get("namespace") == namespace and meta.get("name") == name:
                return worker
        return None

    # ---- PodHost: what workers call ------------------------------------------------

    async def admit(self, pod: Obj) -> admission.Rejection | None:
        """Admission against the Node as last seen and the pods admitted so far.

        Decided without awaiting between the check and the caller marking the
        pod admitted, so two new pods never both take the same room. As
        upstream does, a pod refused only for its node affinity is checked
        once more against the Node fetched afresh (its labels may be newer).
        """
        node = self.node or self.local_node
        if node is None:
            return None
        uid = pod["metadata"]["uid"]
        rejection = admission.admit(pod, node, self._admitted_pods(uid))
        if rejection is None or rejection.reason != admission.NODE_AFFINITY[0]:
            return rejection
        if self.node is None:
            return rejection
        try:
            self.node = await self.client.get("v1", "nodes", self.node_name)
        except TRANSIENT:
            return rejection
        return admission.admit(pod, self.node, self._admitted_pods(uid))

    def _admitted_pods(self, uid: str) -> list[Obj]:
        """Admitted pods still counted against the node: not finished, and still known
        (a pod deleted from the API, or a static pod whose file went, no longer counts
        while it shuts down, as upstream's pod manager forgets it at once)."""
        return [
            w.pod
            for w in self.workers.values()
            if w.admitted and not w.terminal and not w.gone and w.uid != uid
        ]

    def event(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        ref = {"kind": "Pod", "apiVersion": "v1", "metadata": pod["metadata"]}
        self.recorder.event(ref, type_, reason, message)

    async def write_status(self, pod: Obj, status: Obj) -> bool:
        """Write a pod's status; False when it could not be written (try again later)."""
        meta = pod["metadata"]
        body: Obj = {"status": status}
        if meta["uid"] not in self.static_uids:
            body["metadata"] = {"uid": meta["uid"]}
        try:
            await self.client.patch_status("v1", "pods", meta["name"], body, meta["namespace"])
        except errors.NotFound:
            return True  # deleted (or, for a static pod, no mirror yet): nothing to report to
        except TRANSIENT as exc:
            # The API server may be down (or be one of our static pods): keep running.
            log.debug("pod=%s/%s status not written: %s", meta["namespace"], meta["name"], exc)
            return False
        return True

    async def delete_pod(self, pod: Obj) -> None:
        meta = pod["metadata"]
        if meta["uid"] in self.static_uids:
            return
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.delete(
                "v1",
                "pods",
                meta["name"],
                meta["namespace"],
                grace_period_seconds=0,
                preconditions={"uid": meta["uid"]},
            )

    async def env_sources(self, pod: Obj, container: Obj) -> envvars.EnvSources:
        namespace = pod["metadata"].get("namespace", "default")
        configmaps, secrets = envvars.referenced_objects(container)
        sources = envvars.EnvSources(node_allocatable=dict(self.allocatable))
        for name in configmaps:
            sources.configmaps[name] = await self._get_or_none("configmaps", name, namespace)
        for name in secrets:
            sources.secrets[name] = await self._get_or_none("secrets", name, namespace)
        static = pod["metadata"].get("uid") in self.static_uids
        if not static:  # static pods start before there is an API server to read from
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SERVICES_SYNC_TIMEOUT):
                    await self.services.wait_synced()
        if (pod.get("spec") or {}).get("enableServiceLinks", True):
            sources.services = self.services.list(namespace)
        sources.master_service = self.services.get_by_name("default", "kubernetes")
        if sources.master_service is not None and not self.privileged:
            sources.master_service = self._reachable_master(sources.master_service)
        return sources

    def _reachable_master(self, service: Obj) -> Obj:
        """Without root, pods share the host's network and no service address below port
        1024 can be served, so ``KUBERNETES_SERVICE_HOST``/``_PORT`` name the API server
        address this kubelet itself uses: in-cluster clients then reach it directly."""
        url = urlsplit(self.client.config.server)
        if not url.hostname or not url.port:
            return service
        spec = dict(service.get("spec") or {})
        ports = [dict(p) for p in spec.get("ports") or []]
        if ports:
            ports[0]["port"] = url.port
        spec.update(clusterIP=url.hostname, ports=ports)
        return {**service, "spec": spec}

    async def _get_or_none(self, resource: str, name: str, namespace: str) -> Obj | None:
        try:
            obj: Obj = await self.client.get("v1", resource, name, namespace)
        except errors.NotFound:
            return None
        return obj

    async def pod_dns(self, pod: Obj) -> tuple[str, str]:
        host = await asyncio.to_thread(_read_text, Path("/etc/resolv.conf"))
        resolv = dns.resolv_conf(pod, self.config.cluster_dns, self.config.cluster_domain, host)
        return resolv, dns.pod_domain(pod, self.config.cluster_domain)

    def log_path(self, pod: Obj, container: str, attempt: int) -> Path:
        return self.pod_log_dir(pod) / container / f"{attempt}.log"

    def pod_log_dir(self, pod: Obj) -> Path:
        meta = pod["metadata"]
        return (
            self.config.root_dir
            / "logs"
            / "pods"
            / f"{meta.get('namespace')}_{meta['name']}_{meta['uid']}"
        )


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
