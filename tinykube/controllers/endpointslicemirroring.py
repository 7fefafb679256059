"""EndpointSlice mirroring: the Endpoints a user wrote for a selector-less Service, as slices.

A Service without a selector gets its endpoints from whoever wrote its
``Endpoints`` object by hand (an external database, a VM). Consumers read
EndpointSlices only (CoreDNS, kube-proxy, ``kubectl describe service``), so
upstream runs a third controller, ``endpointslice-mirroring-controller``,
that copies such Endpoints into slices; without it a headless Service with
manual Endpoints has no DNS records at all. The rules, as upstream's
``pkg/controller/endpointslicemirroring``:

- only for a Service that exists, has no selector and is not ExternalName,
  and for Endpoints without the ``endpointslice.kubernetes.io/skip-mirror:
  "true"`` label or a leader-election annotation;
- one slice per address type and distinct port list (subsets with the same
  ports share it), up to ``MAX_ENDPOINTS_PER_SLICE`` endpoints each;
- ``addresses`` become endpoints with ``ready: true``, ``notReadyAddresses``
  with ``ready: false`` (no other condition: Endpoints do not say more), and
  an address keeps its hostname, nodeName and targetRef;
- the slice carries the Endpoints' labels and annotations (minus
  ``last-applied-configuration`` and the trigger-time annotation), the
  ``kubernetes.io/service-name`` label, ``managed-by:
  endpointslicemirroring-controller.k8s.io``, and a controller reference to
  the Endpoints, so deleting the Endpoints deletes its slices.

These are pure functions; ``endpointslice.EndpointSliceController`` runs
them for the Services it does not select pods for (the same Service key,
so one queue serves both, and each kind of slice is removed when the
Service changes to the other).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from tinykube.controllers.podutil import meta
from tinykube.controllers.refmanager import new_controller_ref

Obj = dict[str, Any]

MANAGED_BY = "endpointslicemirroring-controller.k8s.io"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
# Not copied to the slices: they describe the Endpoints object itself.
DROPPED_ANNOTATIONS = (
    "endpoints.kubernetes.io/last-change-trigger-time",
    "kubectl.kubernetes.io/last-applied-configuration",
)
# Upstream mirrors up to --mirroring-max-endpoints-per-subset (1000) endpoints,
# which is also the most one slice may hold.
MAX_ENDPOINTS_PER_SLICE = 1000


def should_mirror(svc: Obj | None, endpoints: Obj | None) -> bool:
    """Whether ``endpoints`` (named after ``svc``) are copied into slices at all."""
    if svc is None or endpoints is None:
        return False
    spec = svc.get("spec") or {}
    if spec.get("selector") or spec.get("type") == "ExternalName":
        return False
    labels = meta(endpoints).get("labels") or {}
    annotations = meta(endpoints).get("annotations") or {}
    return labels.get(SKIP_MIRROR_LABEL) != "true" and LEADER_ANNOTATION not in annotations


def _slice_port(port: Obj) -> Obj:
    out: Obj = {
        "name": port.get("name") or "",
        "port": port.get("port"),
        "protocol": port.get("protocol") or "TCP",
    }
    if port.get("appProtocol"):
        out["appProtocol"] = port["appProtocol"]
    return out


def _endpoint(address: Obj, ready: bool) -> tuple[str, Obj] | None:
    """(address type, endpoint) for one Endpoints address; None for an unparsable IP."""
    try:
        ip = ipaddress.ip_address(str(address.get("ip", "")).strip())
    except ValueError:
        return None
    out: Obj = {"addresses": [str(ip)], "conditions": {"ready": ready}}
    for field in ("hostname", "nodeName", "targetRef"):
        if address.get(field):
            out[field] = address[field]
    return ("IPv6" if ip.version == 6 else "IPv4"), out


def mirrored_groups(endpoints: Obj) -> list[tuple[str, list[Obj], list[Obj]]]:
    """(address type, ports, endpoints) for each slice group, in a stable order."""
    groups: dict[tuple[str, str], tuple[str, list[Obj], list[Obj]]] = {}
    for subset in endpoints.get("subsets") or []:
        ports = [_slice_port(p) for p in subset.get("ports") or []]
        listed = [(a, True) for a in subset.get("addresses") or []]
        listed += [(a, False) for a in subset.get("notReadyAddresses") or []]
        for address, ready in listed:
            converted = _endpoint(address, ready)
            if converted is None:
                continue
            family, ep = converted
            key = (family, repr(sorted(tuple(sorted(p.items())) for p in ports)))
            group = groups.setdefault(key, (family, ports, []))
            if ep not in group[2]:
                group[2].append(ep)
    return [groups[key] for key in sorted(groups)]


def slice_meta(endpoints: Obj) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and annotations every mirrored slice of ``endpoints`` carries."""
    m = meta(endpoints)
    labels = {k: v for k, v in (m.get("labels") or {}).items() if k != SKIP_MIRROR_LABEL}
    labels[SERVICE_NAME_LABEL] = m["name"]
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    annotations = {
        k: v for k, v in (m.get("annotations") or {}).items() if k not in DROPPED_ANNOTATIONS
    }
    return labels, annotations


def _with_meta(body: Obj, labels: dict[str, str], annotations: dict[str, str]) -> Obj:
    new_meta = {**meta(body), "labels": labels}
    new_meta.pop("annotations", None)
    if annotations:
        new_meta["annotations"] = annotations
    return {**body, "metadata": new_meta}


def plan_mirror(endpoints: Obj, existing: list[Obj]) -> tuple[list[Obj], list[Obj], list[Obj]]:
    """(slices to create, to update, to delete) so the mirrored slices match ``endpoints``.

    Existing slices with the same address type and ports are reused in name
    order, so an address change updates a slice in place instead of
    replacing it (every slice write reaches every kube-proxy and DNS pod).
    """
    labels, annotations = slice_meta(endpoints)
    pool = sorted(existing, key=lambda s: meta(s).get("name", ""))
    create: list[Obj] = []
    update: list[Obj] = []
    for family, ports, eps in mirrored_groups(endpoints):
        for start in range(0, len(eps), MAX_ENDPOINTS_PER_SLICE):
            chunk = eps[start : start + MAX_ENDPOINTS_PER_SLICE]
            reuse = next(
                (
                    s
                    for s in pool
                    if s.get("addressType") == family and (s.get("ports") or []) == ports
                ),
                None,
            )
            if reuse is None:
                create.append(_new_slice(endpoints, family, ports, chunk, labels, annotations))
                continue
            pool.remove(reuse)
            wanted = _with_meta({**reuse, "endpoints": chunk, "ports": ports}, labels, annotations)
            if _differs(reuse, wanted):
                update.append(wanted)
    return create, update, pool


def _differs(current: Obj, wanted: Obj) -> bool:
    if (current.get("endpoints") or []) != wanted["endpoints"]:
        return True
    for field in ("labels", "annotations"):
        if (meta(current).get(field) or {}) != (meta(wanted).get(field) or {}):
            return True
    return False


def _new_slice(
    endpoints: Obj,
    family: str,
    ports: list[Obj],
    eps: list[Obj],
    labels: dict[str, str],
    annotations: dict[str, str],
) -> Obj:
    m = meta(endpoints)
    body: Obj = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": f"{m['name']}-",
            "namespace": m.get("namespace"),
            "ownerReferences": [new_controller_ref(endpoints, "v1", "Endpoints")],
        },
        "addressType": family,
        "endpoints": eps,
        "ports": ports,
    }
    return _with_meta(body, labels, annotations)
