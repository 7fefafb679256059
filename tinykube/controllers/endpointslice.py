"""The EndpointSlice controller: a Service's endpoints in slices of at most 100.

For every Service with a selector, the Pods it selects become EndpointSlices
named ``<service>-<5 random>`` with the labels ``kubernetes.io/service-name``
and ``endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io``
and a controller ownerReference to the Service (so the garbage collector
removes them with it). Each endpoint carries the three conditions clients
read: ``ready`` (serving and not terminating, or always with
``publishNotReadyAddresses``), ``serving`` (the Pod is Ready, whatever the
Service asks) and ``terminating``; terminating Pods stay listed so proxies
can drain them. ExternalName Services get no slices, as they get no
Endpoints (``endpoints.service_selector``).

For a Service without a selector this controller also does the work of
upstream's EndpointSlice mirroring controller: the Endpoints its owner
wrote are copied into slices managed by
``endpointslicemirroring-controller.k8s.io`` (the rules are in
``endpointslicemirroring``). Both kinds of slice are keyed by the Service,
so one queue serves both, and a Service that gains or loses its selector
has the other kind removed.

Endpoints whose Pods resolve the Service's ports to the same numbers share
slices; a group larger than ``max-endpoints-per-slice`` (100) spans several.
Reconciling keeps existing slices where it can (same ports, updated in
place) instead of recreating them, because every slice change is pushed to
every kube-proxy in the cluster. Slices we manage that were edited or
deleted by someone else are put back.
"""

from __future__ import annotations

from typing import Any

from tinykube.api import errors
from tinykube.controllers import endpointslicemirroring as mirroring
from tinykube.controllers.endpoints import (
    ServiceSelectingController,
    desired_labels,
    endpoint_ports,
    is_headless,
    pod_ip,
    service_selector,
    should_include,
    target_ref,
)
from tinykube.controllers.podutil import is_pod_ready, meta
from tinykube.controllers.refmanager import new_controller_ref
from tinykube.controllers.runtime import ControllerContext, Requeue

Obj = dict[str, Any]

NAME = "endpointslice-controller"  # upstream --controllers name; alias "endpointslice"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100


# ---- pure decisions -------------------------------------------------------------------------


def endpoint(pod: Obj, svc: Obj, zones: dict[str, str]) -> Obj:
    publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    terminating = bool(meta(pod).get("deletionTimestamp"))
    serving = is_pod_ready(pod)
    out: Obj = {
        "addresses": [pod_ip(pod)],
        "conditions": {
            "ready": publish or (serving and not terminating),
            "serving": serving,
            "terminating": terminating,
        },
        "targetRef": target_ref(pod),
    }
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        out["nodeName"] = spec["nodeName"]
        if zones.get(spec["nodeName"]):
            out["zone"] = zones[spec["nodeName"]]
    if spec.get("hostname") and spec.get("subdomain") == meta(svc).get("name"):
        out["hostname"] = spec["hostname"]
    return out


def desired_groups(
    svc: Obj, pods: list[Obj], zones: dict[str, str]
) -> list[tuple[list[Obj], list[Obj]]]:
    """(ports, endpoints) per distinct resolved port set, each endpoint list sorted."""
    has_ports = bool((svc.get("spec") or {}).get("ports"))
    groups: dict[tuple[Any, ...], tuple[list[Obj], list[Obj]]] = {}
    for pod in pods:
        if not should_include(pod, include_terminating=True):
            continue
        ports = endpoint_ports(pod, svc)
        if has_ports and not ports:
            continue
        if not has_ports and not is_headless(svc):
            continue
        # A slice port always has a name ("" for an unnamed Service port), as the API
        # server defaults it: compared with the stored slice, a missing name would
        # look like a change on every sync.
        ports = [{"name": "", **p} for p in ports]
        ports = sorted(ports, key=lambda p: (p["name"], p["port"]))
        key = tuple(tuple(sorted(p.items())) for p in ports)
        groups.setdefault(key, (ports, []))[1].append(endpoint(pod, svc, zones))
    return [
        (ports, sorted(eps, key=lambda e: (e["addresses"][0], e["targetRef"]["name"])))
        for _, (ports, eps) in sorted(groups.items())
    ]


def slice_labels(svc: Obj) -> dict[str, str]:
    return {
        **desired_labels(svc),
        SERVICE_NAME_LABEL: meta(svc)["name"],
        MANAGED_BY_LABEL: MANAGED_BY,
    }


def plan_slices(
    svc: Obj, groups: list[tuple[list[Obj], list[Obj]]], existing: list[Obj]
) -> tuple[list[Obj], list[Obj], list[Obj]]:
    """(slices to create, slices to update, slices to delete) for the desired groups.

    Existing slices with the same ports are reused in name order; a group
    with no endpoints still gets one (empty) slice when the Service has
    nothing else, so clients can tell "no endpoints" from "not yet synced".
    """
    labels = slice_labels(svc)
    pool = sorted(existing, key=lambda s: meta(s).get("name", ""))
    wanted: list[tuple[list[Obj], list[Obj]]] = []
    for ports, eps in groups:
        for start in range(0, len(eps), MAX_ENDPOINTS_PER_SLICE):
            wanted.append((ports, eps[start : start + MAX_ENDPOINTS_PER_SLICE]))
    if not wanted:
        wanted.append(([], []))
    create, update = [], []
    for ports, eps in wanted:
        reuse = next((s for s in pool if (s.get("ports") or []) == ports), None)
        if reuse is None:
            create.append(_new_slice(svc, labels, ports, eps))
            continue
        pool.remove(reuse)
        if (reuse.get("endpoints") or []) != eps or (meta(reuse).get("labels") or {}) != labels:
            update.append(
                {
                    **reuse,
                    "metadata": {**meta(reuse), "labels": labels},
                    "endpoints": eps,
                    "ports": ports,
                }
            )
    # The empty placeholder slice of a Service that had no endpoints becomes the
    # first new slice instead of being deleted and replaced (upstream does the same).
    for placeholder in [s for s in pool if not s.get("ports") and not s.get("endpoints")]:
        if not create:
            break
        body = create.pop(0)
        pool.remove(placeholder)
        update.append({**placeholder, "metadata": {**meta(placeholder), "labels": labels},
                       "endpoints": body["endpoints"], "ports": body["ports"]})  # fmt: skip
    return create, update, pool


def _new_slice(svc: Obj, labels: dict[str, str], ports: list[Obj], eps: list[Obj]) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": f"{meta(svc)['name']}-",
            "namespace": meta(svc).get("namespace"),
            "labels": labels,
            "ownerReferences": [new_controller_ref(svc, "v1", "Service")],
        },
        "addressType": "IPv4",
        "endpoints": eps,
        "ports": ports,
    }


# ---- the controller ---------------------------------------------------------------------------


class EndpointSliceController(ServiceSelectingController):
    """Keeps each selecting Service's EndpointSlices equal to its Pods."""

    name = "endpointslice-controller"
    default_workers = 5
    workers_flag = "concurrent-service-endpoint-syncs"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.slices = self.informer("discovery.k8s.io/v1", "endpointslices")
        self.nodes = self.informer("v1", "nodes")
        self.endpoints = self.informer("v1", "endpoints")
        self.endpoints.add_handler(
            on_add=self._endpoints_changed,
            on_update=lambda _o, n: self._endpoints_changed(n),
            on_delete=self._endpoints_changed,
        )
        # Slices this controller wrote, per Service key: name -> resourceVersion
        # written (None: deleted). Until the cache shows them, it is stale and a
        # sync would create duplicates (upstream's endpointSliceTracker).
        self._written: dict[str, dict[str, str | None]] = {}
        self.slices.add_handler(
            on_add=self._slice_changed,
            on_update=lambda _o, n: self._slice_changed(n),
            on_delete=self._slice_changed,
        )

    def _slice_changed(self, eps: Obj) -> None:
        labels = meta(eps).get("labels") or {}
        managers = (MANAGED_BY, mirroring.MANAGED_BY)
        if labels.get(MANAGED_BY_LABEL) in managers and labels.get(SERVICE_NAME_LABEL):
            self.queue.add(f"{meta(eps).get('namespace')}/{labels[SERVICE_NAME_LABEL]}")

    def _endpoints_changed(self, ep: Obj) -> None:
        # Only Endpoints that may be mirrored matter; those of selecting Services
        # change with every Pod and are this controller's business through the Pods.
        key = f"{meta(ep).get('namespace')}/{meta(ep).get('name')}"
        svc = self.services.get(key)
        if svc is None or service_selector(svc) is None:
            self.queue.add(key)

    def _owned(self, svc_key: str, manager: str = MANAGED_BY) -> list[Obj]:
        namespace, _, name = svc_key.rpartition("/")
        return [
            s
            for s in self.slices.list(namespace)
            if (meta(s).get("labels") or {}).get(SERVICE_NAME_LABEL) == name
            and (meta(s).get("labels") or {}).get(MANAGED_BY_LABEL) == manager
        ]

    def _cache_is_stale(self, key: str) -> bool:
        namespace = key.rpartition("/")[0]
        for name, rv in self._written.get(key, {}).items():
            cached = self.slices.get_by_name(namespace, name)
            if rv is None and cached is not None:
                return True
            if rv is not None and (
                cached is None or _older(meta(cached).get("resourceVersion"), rv)
            ):
                return True
        self._written.pop(key, None)
        return False

    async def reconcile(self, key: str) -> Requeue | None:
        if self._cache_is_stale(key):
            return Requeue(after=0.2)  # our own writes are not in the cache yet
        svc = self.services.get(key)
        existing = self._owned(key)
        mirrored = self._owned(key, mirroring.MANAGED_BY)
        selector = service_selector(svc) if svc is not None else None
        if svc is None or selector is None:
            for stale in existing:  # the Service is gone or stopped selecting
                await self._delete(stale)
            await self._mirror(key, svc, mirrored)
            return None
        for stale in mirrored:  # the Service selects Pods now: its slices are ours
            await self._delete(stale)
        zones = {
            meta(n).get("name", ""): (meta(n).get("labels") or {}).get(ZONE_LABEL, "")
            for n in self.nodes.list()
        }
        groups = desired_groups(svc, self.selected_pods(svc, selector), zones)
        create, update, delete = plan_slices(svc, groups, existing)
        await self._write(key, create, update)
        for stale in delete:
            await self._delete(stale)
        return None

    async def _mirror(self, key: str, svc: Obj | None, current: list[Obj]) -> None:
        """Make the mirrored slices of a selector-less Service match its Endpoints."""
        ep = self.endpoints.get(key)
        if ep is None or not mirroring.should_mirror(svc, ep):
            create, update, delete = [], [], current
        else:
            create, update, delete = mirroring.plan_mirror(ep, current)
        await self._write(key, create, update)
        for stale in delete:
            await self._delete(stale)

    async def _write(self, key: str, create: list[Obj], update: list[Obj]) -> None:
        written = self._written.setdefault(key, {})
        namespace = key.rpartition("/")[0]
        for body in create:
            out = await self.client.create("discovery.k8s.io/v1", "endpointslices", body, namespace)
            written[meta(out)["name"]] = meta(out).get("resourceVersion", "")
        for body in update:
            out = await self.client.update("discovery.k8s.io/v1", "endpointslices", body)
            written[meta(out)["name"]] = meta(out).get("resourceVersion", "")

    async def _delete(self, eps: Obj) -> None:
        labels = meta(eps).get("labels") or {}
        svc_key = f"{meta(eps)['namespace']}/{labels.get(SERVICE_NAME_LABEL, '')}"
        try:
            await self.client.delete(
                "discovery.k8s.io/v1", "endpointslices", meta(eps)["name"], meta(eps)["namespace"]
            )
        except errors.NotFound:
            return
        self._written.setdefault(svc_key, {})[meta(eps)["name"]] = None


def _older(cached: str | None, written: str) -> bool:
    try:
        return int(cached or 0) < int(written)
    except ValueError:
        return cached != written


def new(ctx: ControllerContext) -> EndpointSliceController:
    """The factory the controller manager calls for ``--controllers=endpointslice-controller``."""
    return EndpointSliceController(ctx)
