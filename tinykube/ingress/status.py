"""``status.loadBalancer.ingress`` of the served Ingresses: where users send traffic.

ingress-nginx publishes the address of the Service in front of it
(``--publish-service``): the load-balancer addresses of a LoadBalancer
Service, else its ``externalIPs``, else its ClusterIP; or a fixed
``--publish-status-address``. This controller does the same, so ``kubectl
get ingress`` shows ADDRESS. In a tinykube cluster the ClusterIP of the
controller's NodePort Service is reachable from the host (kube-proxy puts it
there), so that address works from the host without further setup.

``sync_status`` is level-triggered: each pass compares every Ingress's status
with what it should be (our address when served; nothing when it no longer
is, but carries our address) and writes only the differences through the
``/status`` subresource. A conflict means the cache was stale; the next
pass, after the watch caught up, tries again.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import Any

from tinykube.api import errors

log = logging.getLogger(__name__)

Obj = dict[str, Any]
API_VERSION = "networking.k8s.io/v1"


def service_addresses(svc: Obj | None) -> list[str]:
    """The addresses ingress-nginx publishes for its Service (``statusAddressFromService``)."""
    if svc is None:
        return []
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return [spec["externalName"]] if spec.get("externalName") else []
    if spec.get("type") == "LoadBalancer":
        points = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        found = [p.get("ip") or p.get("hostname") for p in points]
        return [a for a in found if a] + list(spec.get("externalIPs") or [])
    if spec.get("externalIPs"):
        return list(spec["externalIPs"])
    ip = spec.get("clusterIP")
    return [ip] if ip and ip != "None" else []


def status_points(addresses: Iterable[str]) -> list[Obj]:
    """``[{ip}]`` or ``[{hostname}]`` entries, sorted as upstream sorts them."""
    out: list[Obj] = []
    for address in sorted(set(addresses)):
        try:
            ipaddress.ip_address(address)
            out.append({"ip": address})
        except ValueError:
            out.append({"hostname": address})
    return out


def current_points(ing: Obj) -> list[Obj]:
    return ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []


def desired_points(ing: Obj, served: bool, ours: list[Obj]) -> list[Obj] | None:
    """The status an Ingress should have, or None when it is right already."""
    current = current_points(ing)
    if served:
        return None if current == ours else ours
    if ours and current == ours:
        return []  # it moved to another class: take our address back
    return None


async def sync_status(
    client: Any, ingresses: Iterable[Obj], served: set[str], ours: list[Obj]
) -> bool:
    """Write the statuses that differ; False when a write failed and a retry is due."""
    ok = True
    for ing in ingresses:
        meta = ing["metadata"]
        key = f"{meta.get('namespace', '')}/{meta['name']}"
        wanted = desired_points(ing, key in served, ours)
        if wanted is None:
            continue
        updated = {
            **ing,
            "status": {**(ing.get("status") or {}), "loadBalancer": {"ingress": wanted}},
        }
        if not wanted:
            updated["status"]["loadBalancer"] = {}
        try:
            await client.update_status(API_VERSION, "ingresses", updated)
            log.info("component=ingress ingress=%s address=%s", key, _text(wanted))
        except errors.NotFound:
            pass  # deleted meanwhile: nothing to publish
        except errors.APIError as exc:
            log.info("component=ingress ingress=%s status not written: %s", key, exc)
            ok = False
    return ok


def _text(points: list[Obj]) -> str:
    return ",".join(p.get("ip") or p.get("hostname") or "" for p in points) or "<none>"
