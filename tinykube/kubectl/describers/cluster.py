"""describe for Namespaces (quotas, limit ranges) and Nodes (lease, capacity, pods, resources)."""

from __future__ import annotations

from datetime import datetime

from tinykube.kubectl.describers.layout import (
    Obj,
    Writer,
    annotations_multiline,
    dig,
    events_section,
    labels_multiline,
    rfc1123z,
    since,
)

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    from typing import Any


def describe_namespace(ns: Obj, quotas: list[Obj], limits: list[Obj]) -> str:
    w = Writer()
    meta, status = ns.get("metadata") or {}, ns.get("status") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, f"Status:\t{status.get('phase', '')}\n")
    conditions = status.get("conditions") or []
    if conditions:
        w.write(0, "Conditions:\n")
        w.write(1, "Type\tStatus\tLastTransitionTime\tReason\tMessage\n")
        w.write(1, "----\t------\t------------------\t------\t-------\n")
        for c in conditions:
            w.write(
                1,
                f"{c.get('type')}\t{c.get('status')}\t{rfc1123z(c.get('lastTransitionTime'))}\t{c.get('reason', '')}\t{c.get('message', '')}\n",
            )
    w.write(0, "\n")
    _quotas(w, quotas)
    w.write(0, "\n")
    if not limits:
        w.write(0, "No LimitRange resource.\n")
    else:
        w.write(
            0,
            "Resource Limits\n Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio\n",
        )
        w.write(
            0,
            " ----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n",
        )
        for lr in limits:
            for item in dig(lr, "spec", "limits") or []:
                _limit_rows(w, item)
    return w.text()


def _quotas(w: Writer, quotas: list[Obj]) -> None:
    if not quotas:
        w.write(0, "No resource quota.\n")
        return
    for q in sorted(quotas, key=lambda q: dig(q, "metadata", "name") or ""):
        w.write(0, f"Resource Quotas\n Name:\t{dig(q, 'metadata', 'name')}\n")
        w.write(0, " Resource\tUsed\tHard\n --------\t---\t---\n")
        hard = dig(q, "status", "hard") or {}
        used = dig(q, "status", "used") or {}
        for name in sorted(hard):
            w.write(0, f" {name}\t{used.get(name, '0')}\t{hard[name]}\n")


def _limit_rows(w: Writer, item: Obj) -> None:
    fields = ("min", "max", "defaultRequest", "default", "maxLimitRequestRatio")
    names = sorted({n for f in fields for n in (item.get(f) or {})})
    for name in names:
        values = [str((item.get(f) or {}).get(name, "-")) for f in fields]
        w.write(0, f" {item.get('type', '')}\t{name}\t" + "\t".join(values) + "\n")


def _node_roles(labels: Obj) -> str:
    roles = set()
    for key, value in labels.items():
        if key.startswith("node-role.kubernetes.io/") and key.split("/", 1)[1]:
            roles.add(key.split("/", 1)[1])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


def _quantity(text: Any) -> Any:
    from tinykube.api import quantity

    try:
        return quantity.parse(str(text))
    except Exception:
        return quantity.parse("0")


def _pod_totals(pod: Obj, key: str) -> dict[str, Any]:
    """Pod requests or limits: the containers' sum, raised to any init container's value."""
    spec = pod.get("spec") or {}
    total: dict[str, Any] = {}
    for c in spec.get("containers") or []:
        for name, value in ((c.get("resources") or {}).get(key) or {}).items():
            total[name] = total[name] + _quantity(value) if name in total else _quantity(value)
    for c in spec.get("initContainers") or []:
        for name, value in ((c.get("resources") or {}).get(key) or {}).items():
            q = _quantity(value)
            if name not in total or total[name] < q:
                total[name] = q
    return total


def _pct(part: Any, whole: Any, milli: bool) -> int:
    top = part.milli_value() if milli else part.value()
    bottom = whole.milli_value() if milli else whole.value()
    return int(top / bottom * 100) if bottom else 0


def _node_resources(w: Writer, node: Obj, pods: list[Obj], now: datetime) -> None:
    from tinykube.api import quantity

    zero = quantity.parse("0")
    alloc = dig(node, "status", "allocatable") or dig(node, "status", "capacity") or {}
    cpu, mem = _quantity(alloc.get("cpu", "0")), _quantity(alloc.get("memory", "0"))
    w.write(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
    w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    sums: dict[str, dict[str, Any]] = {"requests": {}, "limits": {}}
    for p in pods:
        req, lim = _pod_totals(p, "requests"), _pod_totals(p, "limits")
        for kind, values in (("requests", req), ("limits", lim)):
            for name, q in values.items():
                sums[kind][name] = sums[kind][name] + q if name in sums[kind] else q
        cr, cl = req.get("cpu", zero), lim.get("cpu", zero)
        mr, ml = req.get("memory", zero), lim.get("memory", zero)
        w.write(
            1,
            f"{dig(p, 'metadata', 'namespace')}\t{dig(p, 'metadata', 'name')}\t\t{cr} ({_pct(cr, cpu, True)}%)\t"
            f"{cl} ({_pct(cl, cpu, True)}%)\t{mr} ({_pct(mr, mem, False)}%)\t{ml} ({_pct(ml, mem, False)}%)\t"
            f"{since(dig(p, 'metadata', 'creationTimestamp'), now)}\n",
        )
    w.write(
        0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n"
    )
    w.write(1, "Resource\tRequests\tLimits\n")
    w.write(1, "--------\t--------\t------\n")
    eph = _quantity(alloc.get("ephemeral-storage", "0"))
    for name, whole, milli in (
        ("cpu", cpu, True),
        ("memory", mem, False),
        ("ephemeral-storage", eph, False),
    ):
        r, lim_q = sums["requests"].get(name, zero), sums["limits"].get(name, zero)
        w.write(
            1, f"{name}\t{r} ({_pct(r, whole, milli)}%)\t{lim_q} ({_pct(lim_q, whole, milli)}%)\n"
        )


def describe_node(
    node: Obj,
    pods: list[Obj] | None,
    lease: Obj | str | None,
    events: list[Obj] | None,
    now: datetime,
) -> str:
    """``lease`` is the node's Lease, or the error text when it could not be read."""
    w = Writer()
    meta, spec = node.get("metadata") or {}, node.get("spec") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Roles:\t{_node_roles(meta.get('labels') or {})}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    taints = sorted(
        spec.get("taints") or [], key=lambda t: f"{t.get('effect', '')},{t.get('key', '')}"
    )
    w.write(0, "Taints:\t")
    if not taints:
        w.write(0, "<none>\n")
    for i, t in enumerate(taints):
        if i:
            w.write(0, "\t")
        value = f"={t['value']}" if t.get("value") else ""
        w.write(0, f"{t.get('key', '')}{value}:{t.get('effect', '')}\n")
    w.write(0, f"Unschedulable:\t{'true' if spec.get('unschedulable') else 'false'}\n")
    if isinstance(lease, str):
        w.write(0, f"Lease:\tFailed to get lease: {lease}\n")
        lspec = None
    else:
        w.write(0, "Lease:\n")
        lspec = (lease or {}).get("spec") or {}
    if lspec is not None:
        _lease(w, lspec)
    _node_body(w, node, pods, events, now)
    return w.text()


def _lease(w: Writer, lspec: Obj) -> None:
    w.write(1, f"HolderIdentity:\t{lspec.get('holderIdentity') or '<unset>'}\n")
    w.write(
        1,
        f"AcquireTime:\t{rfc1123z(lspec['acquireTime']) if lspec.get('acquireTime') else '<unset>'}\n",
    )
    w.write(
        1, f"RenewTime:\t{rfc1123z(lspec['renewTime']) if lspec.get('renewTime') else '<unset>'}\n"
    )


def _node_body(
    w: Writer, node: Obj, pods: list[Obj] | None, events: list[Obj] | None, now: datetime
) -> None:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    conditions = status.get("conditions") or []
    if conditions:
        w.write(
            0,
            "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n",
        )
        w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in conditions:
            w.write(
                1,
                f"{c.get('type')} \t{c.get('status')} \t{rfc1123z(c.get('lastHeartbeatTime'))} \t"
                f"{rfc1123z(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t{c.get('message', '')}\n",
            )
    w.write(0, "Addresses:\n")
    for a in status.get("addresses") or []:
        w.write(1, f"{a.get('type')}:\t{a.get('address')}\n")
    for title, key in (("Capacity", "capacity"), ("Allocatable", "allocatable")):
        values = status.get(key) or {}
        if values:
            w.write(0, f"{title}:\n")
            for name in sorted(values):
                w.write(0, f"  {name}:\t{values[name]}\n")
    info = status.get("nodeInfo") or {}
    w.write(0, "System Info:\n")
    for title, key in (
        ("Machine ID", "machineID"),
        ("System UUID", "systemUUID"),
        ("Boot ID", "bootID"),
        ("Kernel Version", "kernelVersion"),
        ("OS Image", "osImage"),
        ("Operating System", "operatingSystem"),
        ("Architecture", "architecture"),
        ("Container Runtime Version", "containerRuntimeVersion"),
        ("Kubelet Version", "kubeletVersion"),
    ):
        w.write(0, f"  {title}:\t{info.get(key, '')}\n")
    if spec.get("podCIDR"):
        w.write(0, f"PodCIDR:\t{spec['podCIDR']}\n")
    if spec.get("podCIDRs"):
        w.write(0, f"PodCIDRs:\t{','.join(spec['podCIDRs'])}\n")
    if spec.get("providerID"):
        w.write(0, f"ProviderID:\t{spec['providerID']}\n")
    if pods is None:
        w.write(0, "Pods:\tnot authorized\n")
    else:
        _node_resources(w, node, pods, now)
    events_section(w, events, now)
