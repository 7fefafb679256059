"""describe for Pods, Deployments and ReplicaSets."""

from __future__ import annotations

from datetime import datetime

from tinykube.kubectl.describers.layout import (
    Obj,
    Writer,
    annotations_multiline,
    dig,
    events_section,
    format_selector,
    labels_multiline,
    rfc1123z,
    since,
    tolerations_multiline,
)
from tinykube.kubectl.describers.podspec import (
    containers_section,
    pod_template_section,
    volumes_section,
)


def _qos(pod: Obj) -> str:
    if dig(pod, "status", "qosClass"):
        return str(pod["status"]["qosClass"])
    spec = pod.get("spec") or {}
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    any_set, guaranteed = False, True
    for c in containers:
        res = c.get("resources") or {}
        requests, limits = res.get("requests") or {}, res.get("limits") or {}
        if requests or limits:
            any_set = True
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _controller(obj: Obj) -> str:
    for ref in dig(obj, "metadata", "ownerReferences") or []:
        if ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return ""


def describe_pod(pod: Obj, events: list[Obj] | None, now: datetime) -> str:
    w = Writer()
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    if spec.get("priority") is not None:
        w.write(0, f"Priority:\t{spec['priority']}\n")
    if spec.get("priorityClassName"):
        w.write(0, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    if spec.get("runtimeClassName"):
        w.write(0, f"Runtime Class Name:\t{spec['runtimeClassName']}\n")
    if spec.get("serviceAccountName"):
        w.write(0, f"Service Account:\t{spec['serviceAccountName']}\n")
    node = spec.get("nodeName")
    w.write(0, f"Node:\t{node}/{status.get('hostIP', '')}\n" if node else "Node:\t<none>\n")
    if status.get("startTime"):
        w.write(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    phase = status.get("phase", "")
    if meta.get("deletionTimestamp") and phase not in ("Failed", "Succeeded"):
        w.write(0, f"Status:\tTerminating (lasts {since(meta['deletionTimestamp'], now)})\n")
        w.write(0, f"Termination Grace Period:\t{meta.get('deletionGracePeriodSeconds', 0)}s\n")
    else:
        w.write(0, f"Status:\t{phase}\n")
    for title, key in (("Reason", "reason"), ("Message", "message")):
        if status.get(key):
            w.write(0, f"{title}:\t{status[key]}\n")
    w.write(0, f"IP:\t{status.get('podIP', '')}\n")
    ips = status.get("podIPs") or []
    if ips:
        w.write(0, "IPs:\n")
        for ip in ips:
            w.write(1, f"IP:\t{ip.get('ip', '')}\n")
    else:
        w.write(0, "IPs:\t<none>\n")
    if _controller(pod):
        w.write(0, f"Controlled By:\t{_controller(pod)}\n")
    if status.get("nominatedNodeName"):
        w.write(0, f"NominatedNodeName:\t{status['nominatedNodeName']}\n")
    if spec.get("initContainers"):
        containers_section(
            w, "Init Containers", spec["initContainers"], status.get("initContainerStatuses")
        )
    containers_section(
        w, "Containers", spec.get("containers") or [], status.get("containerStatuses")
    )
    _pod_conditions(w, spec, status)
    volumes_section(w, spec.get("volumes"))
    w.write(0, f"QoS Class:\t{_qos(pod)}\n")
    labels_multiline(w, "Node-Selectors", spec.get("nodeSelector"))
    tolerations_multiline(w, "Tolerations", spec.get("tolerations"))
    events_section(w, events, now)
    return w.text()


def _pod_conditions(w: Writer, spec: Obj, status: Obj) -> None:
    conditions = status.get("conditions") or []
    gates = spec.get("readinessGates") or []
    if gates:
        w.write(0, "Readiness Gates:\n  Type\tStatus\n")
        for g in gates:
            found = next(
                (c.get("status") for c in conditions if c.get("type") == g.get("conditionType")),
                "<none>",
            )
            w.write(1, f"{g.get('conditionType')} \t{found} \n")
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for c in conditions:
            w.write(1, f"{c.get('type')} \t{c.get('status')} \n")


def _workload_conditions(w: Writer, obj: Obj) -> None:
    conditions = dig(obj, "status", "conditions") or []
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
        w.write(1, "----\t------\t------\n")
        for c in conditions:
            w.write(1, f"{c.get('type')} \t{c.get('status')}\t{c.get('reason', '')}\n")


def selector_string(selector: Obj | None) -> str:
    """labels.Selector.String(): like FormatLabelSelector but empty for an empty selector."""
    text = format_selector(selector)
    return "" if text == "<none>" else text


def _rs_list(rss: list[Obj]) -> str:
    items = [
        f"{dig(r, 'metadata', 'name')} ({dig(r, 'status', 'replicas') or 0}/{dig(r, 'spec', 'replicas') or 0} replicas created)"
        for r in rss
    ]
    return ", ".join(items) or "<none>"


def describe_deployment(
    d: Obj, old: list[Obj], new: list[Obj], events: list[Obj] | None, now: datetime
) -> str:
    w = Writer()
    meta, spec, status = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, f"Selector:\t{selector_string(spec.get('selector'))}\n")
    w.write(
        0,
        f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} updated | "
        f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available | "
        f"{status.get('unavailableReplicas', 0)} unavailable\n",
    )
    strategy = spec.get("strategy") or {}
    w.write(0, f"StrategyType:\t{strategy.get('type', '')}\n")
    w.write(0, f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}\n")
    if strategy.get("rollingUpdate") is not None:
        ru = strategy["rollingUpdate"]
        w.write(
            0,
            f"RollingUpdateStrategy:\t{ru.get('maxUnavailable', 0)} max unavailable, {ru.get('maxSurge', 0)} max surge\n",
        )
    pod_template_section(w, spec.get("template") or {})
    _workload_conditions(w, d)
    if old or new:
        w.write(0, f"OldReplicaSets:\t{_rs_list(old)}\n")
        w.write(0, f"NewReplicaSet:\t{_rs_list(new)}\n")
    events_section(w, events, now)
    return w.text()


def describe_replicaset(rs: Obj, pods: list[Obj], events: list[Obj] | None, now: datetime) -> str:
    w = Writer()
    meta, spec, status = rs.get("metadata") or {}, rs.get("spec") or {}, rs.get("status") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"Selector:\t{format_selector(spec.get('selector'))}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    if _controller(rs):
        w.write(0, f"Controlled By:\t{_controller(rs)}\n")
    w.write(
        0, f"Replicas:\t{status.get('replicas', 0)} current / {spec.get('replicas', 1)} desired\n"
    )
    counts = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
    for p in pods:
        phase = dig(p, "status", "phase")
        if phase in counts:
            counts[phase] += 1
    w.write(0, "Pods Status:\t")
    w.write(
        0,
        f"{counts['Running']} Running / {counts['Pending']} Waiting / {counts['Succeeded']} Succeeded / {counts['Failed']} Failed\n",
    )
    pod_template_section(w, spec.get("template") or {})
    _workload_conditions(w, rs)
    events_section(w, events, now)
    return w.text()
