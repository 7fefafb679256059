"""The Endpoints controller: for every Service with a selector, where its Pods answer.

An ``Endpoints`` object named after the Service lists, in ``subsets``, the IP
of each matching Pod with the port each Service port resolves to on that Pod
(a named ``targetPort`` is looked up among the Pod's container ports, so Pods
of two versions may listen on different numbers). Ready Pods go in
``addresses``, the others in ``notReadyAddresses``, unless the Service asks for
``publishNotReadyAddresses``. Pods without an IP, finished Pods and Pods being
deleted are left out. Subsets are packed as upstream's ``RepackSubsets`` does:
one subset per distinct set of ports, addresses sorted by IP.

A Service without a selector is left alone: its Endpoints belong to the user.
So is an ExternalName Service, even with a selector: it is a DNS alias and
has no endpoints (upstream issue 105986), so ``kubectl get endpoints`` does
not list it. Deleting the Service deletes the Endpoints.

Each write carries ``endpoints.kubernetes.io/last-change-trigger-time``, the
moment of the change that caused it, as upstream's trigger-time tracker
stamps it: the latest Ready transition among the selected Pods, or the
Service's creation if that is later. It is written only with a change of
the subsets or labels, never on its own. The pure functions here (port
lookup, which Pods count) are shared with the EndpointSlice controller.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from tinykube.api import errors
from tinykube.api.duration import format_time, parse_time
from tinykube.api.selectors import Selector
from tinykube.controllers.podutil import is_pod_ready, meta, pod_condition
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAME = "endpoints-controller"  # upstream --controllers name; alias "endpoint"
HEADLESS_LABEL = "service.kubernetes.io/headless"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
MAX_CAPACITY = 1000  # addresses in one Endpoints object; EndpointSlices have no such cap


# ---- pure decisions (shared with endpointslice) -----------------------------------------------


def service_selector(svc: Obj) -> Selector | None:
    """The Service's Pod selector; None when the controllers write no endpoints for it.

    That is a Service without a selector (the user manages its endpoints) and an
    ExternalName Service, whose selector, if any, selects nothing.
    """
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return None
    selector = spec.get("selector")
    return Selector.from_set(selector) if selector else None


def pod_ip(pod: Obj) -> str:
    status = pod.get("status") or {}
    ips = status.get("podIPs") or []
    return str(status.get("podIP") or (ips[0].get("ip") if ips else "") or "")


def should_include(pod: Obj, include_terminating: bool) -> bool:
    """Upstream ShouldPodBeInEndpoints: running or pending with an IP, maybe not terminating."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    if not pod_ip(pod):
        return False
    return include_terminating or not meta(pod).get("deletionTimestamp")


def find_port(pod: Obj, svc_port: Obj) -> int | None:
    """The Pod's port for a Service port: a number as is, a name among its container ports."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    protocol = svc_port.get("protocol") or "TCP"
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def endpoint_ports(pod: Obj, svc: Obj) -> list[Obj]:
    """Every Service port that resolves on ``pod``, as EndpointPorts."""
    out = []
    for svc_port in (svc.get("spec") or {}).get("ports") or []:
        number = find_port(pod, svc_port)
        if number is None:
            continue
        port: Obj = {"port": number, "protocol": svc_port.get("protocol") or "TCP"}
        if svc_port.get("name"):
            port["name"] = svc_port["name"]
        if svc_port.get("appProtocol"):
            port["appProtocol"] = svc_port["appProtocol"]
        out.append(port)
    return out


def target_ref(pod: Obj) -> Obj:
    m = meta(pod)
    return {
        "kind": "Pod",
        "namespace": m.get("namespace"),
        "name": m.get("name"),
        "uid": m.get("uid"),
    }


def is_headless(svc: Obj) -> bool:
    return (svc.get("spec") or {}).get("clusterIP") == "None"


def _address(pod: Obj, svc: Obj) -> Obj:
    address: Obj = {"ip": pod_ip(pod), "targetRef": target_ref(pod)}
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        address["nodeName"] = spec["nodeName"]
    if spec.get("hostname") and spec.get("subdomain") == meta(svc).get("name"):
        address["hostname"] = spec["hostname"]
    return address


def desired_subsets(svc: Obj, pods: list[Obj]) -> list[Obj]:
    """The packed ``subsets`` for ``svc`` and the Pods its selector matched."""
    publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    has_ports = bool((svc.get("spec") or {}).get("ports"))
    groups: dict[tuple[tuple[Any, ...], ...], dict[str, list[Obj]]] = {}
    for pod in pods:
        if not should_include(pod, include_terminating=publish):
            continue
        ports = endpoint_ports(pod, svc)
        if has_ports and not ports:
            continue
        if not has_ports and not is_headless(svc):
            continue
        key = tuple(sorted(tuple(sorted(p.items())) for p in ports))
        group = groups.setdefault(key, {"ready": [], "notReady": [], "ports": ports})
        ready = publish or is_pod_ready(pod)
        group["ready" if ready else "notReady"].append(_address(pod, svc))
    subsets = []
    for key in sorted(groups):
        group = groups[key]
        subset: Obj = {}
        if group["ready"]:
            subset["addresses"] = sorted(group["ready"], key=lambda a: a["ip"])
        if group["notReady"]:
            subset["notReadyAddresses"] = sorted(group["notReady"], key=lambda a: a["ip"])
        if group["ports"]:
            subset["ports"] = sorted(group["ports"], key=lambda p: (p.get("name", ""), p["port"]))
        subsets.append(subset)
    return subsets


def truncate(subsets: list[Obj], capacity: int = MAX_CAPACITY) -> bool:
    """Cut ``subsets`` (in place) to ``capacity`` addresses; True if anything was cut.

    Not-ready addresses go first; each subset keeps a share proportional to its
    size, rounded up so a small subset keeps at least one (upstream
    truncateEndpoints).
    """
    ready = sum(len(s.get("addresses") or []) for s in subsets)
    not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if ready + not_ready <= capacity:
        return False
    cut_ready = ready > capacity
    room, total = (capacity, ready) if cut_ready else (capacity - ready, not_ready)
    left = room
    field = "addresses" if cut_ready else "notReadyAddresses"
    for subset in subsets:
        have = subset.get(field) or []
        share = min(math.ceil(len(have) / total * room) if total else 0, left)
        subset[field] = have[:share]
        if cut_ready:
            subset.pop("notReadyAddresses", None)
        left -= len(subset[field])
        if not subset[field]:
            del subset[field]
    return True


def last_change_trigger_time(svc: Obj, pods: list[Obj]) -> str | None:
    """When the last change behind these endpoints happened (see the module docstring)."""
    stamps = [meta(svc).get("creationTimestamp")]
    stamps += [(pod_condition(p, "Ready") or {}).get("lastTransitionTime") for p in pods]
    moments = []
    for stamp in stamps:
        try:
            moment = parse_time(stamp)
        except ValueError:
            continue
        if moment is not None:
            moments.append(moment)
    return format_time(max(moments)) if moments else None


def desired_labels(svc: Obj) -> dict[str, str]:
    labels = dict(meta(svc).get("labels") or {})
    if is_headless(svc):
        labels[HEADLESS_LABEL] = ""
    else:
        labels.pop(HEADLESS_LABEL, None)
    return labels


# ---- the controller ------------------------------------------------------------------------


class ServiceSelectingController(Controller[str]):
    """Shared wiring: a Service key per Service, enqueued when a matching Pod changes."""

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.services = self.informer("v1", "services")
        self.pods = self.informer("v1", "pods")
        self.services.add_handler(
            on_add=self.enqueue, on_update=lambda _o, n: self.enqueue(n), on_delete=self.enqueue
        )
        self.pods.add_handler(
            on_add=self._pod_changed, on_update=self._pod_updated, on_delete=self._pod_changed
        )

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(cur).get("resourceVersion"):
            return
        self._pod_changed(cur)
        if meta(old).get("labels") != meta(cur).get("labels"):
            self._pod_changed(old)

    def _pod_changed(self, pod: Obj) -> None:
        for svc in self.services.list(meta(pod).get("namespace", "")):
            selector = service_selector(svc)
            if selector is not None and selector.matches(meta(pod).get("labels")):
                self.enqueue(svc)

    def selected_pods(self, svc: Obj, selector: Selector) -> list[Obj]:
        pods = self.pods.list(meta(svc).get("namespace", ""))
        return sorted(
            (p for p in pods if selector.matches(meta(p).get("labels"))),
            key=lambda p: meta(p).get("name", ""),
        )


class EndpointsController(ServiceSelectingController):
    """Writes one Endpoints object per Service that has a selector."""

    name = "endpoints-controller"
    default_workers = 5
    workers_flag = "concurrent-endpoint-syncs"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.endpoints = self.informer("v1", "endpoints")
        # Someone edited or deleted Endpoints we manage: put them back.
        self.endpoints.add_handler(on_update=lambda _o, n: self.enqueue(n), on_delete=self.enqueue)

    async def reconcile(self, key: str) -> Requeue | None:
        namespace, _, name = key.rpartition("/")
        svc = self.services.get(key)
        if svc is None:
            await _ignore_missing(lambda: self.client.delete("v1", "endpoints", name, namespace))
            return None
        selector = service_selector(svc)
        if selector is None:
            return None
        pods = self.selected_pods(svc, selector)
        subsets = desired_subsets(svc, pods)
        labels = desired_labels(svc)
        annotations = {OVER_CAPACITY: "truncated"} if truncate(subsets) else {}
        trigger = last_change_trigger_time(svc, pods)
        current = self.endpoints.get(key)
        if current is None:
            if trigger:
                annotations[TRIGGER_TIME] = trigger
            # Empty maps are left out, as Go's omitempty leaves them out of upstream's objects.
            fresh: Obj = {"name": name, "namespace": namespace}
            if labels:
                fresh["labels"] = labels
            if annotations:
                fresh["annotations"] = annotations
            body = _with_subsets({"metadata": fresh}, subsets)
            try:
                await self.client.create("v1", "endpoints", body, namespace)
            except errors.AlreadyExists:
                raise errors.Conflict(
                    f"endpoints {key} appeared; retrying with a fresh cache"
                ) from None
            return None
        had = {
            k: v for k, v in (meta(current).get("annotations") or {}).items() if k != TRIGGER_TIME
        }
        notes = {k: v for k, v in had.items() if k != OVER_CAPACITY}
        notes.update(annotations)
        same_labels = (meta(current).get("labels") or {}) == labels
        if (current.get("subsets") or []) == subsets and same_labels and notes == had:
            return None
        if trigger:
            notes[TRIGGER_TIME] = trigger
        new_meta = {**meta(current), "labels": labels, "annotations": notes}
        for field in ("labels", "annotations"):
            if not new_meta[field]:
                del new_meta[field]
        body = _with_subsets({**current, "metadata": new_meta}, subsets)
        await self.client.update("v1", "endpoints", body)
        return None


def _with_subsets(body: Obj, subsets: list[Obj]) -> Obj:
    """``body`` with its subsets; none at all rather than an empty list (upstream's omitempty)."""
    body.pop("subsets", None)
    if subsets:
        body["subsets"] = subsets
    return body


async def _ignore_missing(call: Callable[[], Any]) -> None:
    try:
        await call()
    except errors.NotFound:
        return


def new(ctx: ControllerContext) -> EndpointsController:
    """The factory the controller manager calls for ``--controllers=endpoints-controller``."""
    return EndpointsController(ctx)
