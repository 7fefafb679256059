"""``kubectl describe`` layouts, as pure functions from objects to text.

kubectl writes each description as lines of tab-separated cells, indented
two spaces per level, into one tabwriter (min width 0, padding 2) and lets
it align them; a line without a tab ends the alignment block. We write the
same lines in the same order, so the same aligner (``tabwriter.align``)
gives the same text. Each ``describe_<kind>`` takes the object plus the
related objects the command fetched (events, pods, replica sets, endpoint
slices) and a clock, so they can be unit-tested without a server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tinykube.api import duration
from tinykube.kubectl.tabwriter import align

Obj = dict[str, Any]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_ANNOTATION_LEN = 140


class Writer:
    """kubectl's PrefixWriter: ``write(level, text)`` indents by two spaces per level."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, level: int, text: str) -> None:
        self.parts.append("  " * level + text)

    def text(self) -> str:
        return align("".join(self.parts), 0, 2)


def rfc1123z(stamp: str | None) -> str:
    moment = duration.parse_time(stamp)
    if moment is None:
        return "Mon, 01 Jan 0001 00:00:00 +0000"
    return moment.strftime("%a, %d %b %Y %H:%M:%S %z")


def since(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "<unknown>"
    return duration.age(stamp, now)


def _m(obj: Obj, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)  # type: ignore[assignment]
    return obj


# ---- shared pieces ----------------------------------------------------------------


def labels_multiline(w: Writer, title: str, labels: Obj | None, indent: str = "") -> None:
    w.write(0, f"{indent}{title}:\t")
    if not labels:
        w.write(0, "<none>\n")
        return
    for i, key in enumerate(sorted(labels)):
        if i:
            w.write(0, f"{indent}\t")
        w.write(0, f"{key}={labels[key]}\n")


def annotations_multiline(w: Writer, title: str, annotations: Obj | None) -> None:
    w.write(0, f"{title}:\t")
    keys = sorted(k for k in (annotations or {}) if k != LAST_APPLIED)
    if not keys:
        w.write(0, "<none>\n")
        return
    for i, key in enumerate(keys):
        if i:
            w.write(0, "\t")
        value = str(annotations[key]).removesuffix("\n")  # type: ignore[index]
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            w.write(0, f"{key}:\n")
            for line in value.split("\n"):
                short = (
                    line
                    if len(line) <= MAX_ANNOTATION_LEN - 2
                    else line[: MAX_ANNOTATION_LEN - 2] + "..."
                )
                w.write(0, f"\t  {short}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def tolerations_multiline(w: Writer, title: str, tolerations: list[Obj] | None) -> None:
    w.write(0, f"{title}:\t")
    if not tolerations:
        w.write(0, "<none>\n")
        return
    for i, t in enumerate(sorted(tolerations, key=lambda t: t.get("key", ""))):
        if i:
            w.write(0, "\t")
        text = t.get("key", "")
        if t.get("value"):
            text += f"={t['value']}"
        if t.get("effect"):
            text += f":{t['effect']}"
        if t.get("operator") == "Exists" and not t.get("value"):
            text += " op=Exists" if (t.get("key") or t.get("effect")) else "op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        w.write(0, text + "\n")


def format_selector(selector: Obj | None) -> str:
    """metav1.FormatLabelSelector: ``a=b,c in (d,e)``; ``<none>`` when empty."""
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) or "<none>"


def format_labels(labels: Obj | None) -> str:
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def events_section(w: Writer, events: list[Obj] | None, now: datetime) -> None:
    if events is None:
        return
    if not events:
        w.write(0, "Events:\t<none>\n")
        return
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for e in sorted(events, key=lambda e: e.get("lastTimestamp") or ""):
        first = (
            since(e.get("eventTime"), now)
            if e.get("eventTime")
            else since(e.get("firstTimestamp"), now)
        )
        series = e.get("series")
        if series:
            interval = f"{since(series.get('lastObservedTime'), now)} (x{series.get('count', 0)} over {first})"
        elif (e.get("count") or 0) > 1:
            interval = f"{since(e.get('lastTimestamp'), now)} (x{e['count']} over {first})"
        else:
            interval = first
        source = _m(e, "source", "component") or e.get("reportingComponent") or ""
        message = str(e.get("message") or "").strip()
        if _m(e, "involvedObject", "fieldPath"):
            message = f"{e['involvedObject']['fieldPath']}: {message}"
        w.write(1, f"{e.get('type', '')}\t{e.get('reason', '')}\t{interval}\t{source}\t{message}\n")


# ---- containers and volumes -------------------------------------------------------


def _ports(ports: list[Obj], field: str) -> str:
    out = []
    for p in ports:
        text = f"{p.get(field, 0)}/{p.get('protocol', 'TCP')}"
        if p.get("name"):
            text += f" ({p['name']})"
        out.append(text)
    return ", ".join(out)


def _probe(probe: Obj) -> str:
    attrs = (
        f"delay={probe.get('initialDelaySeconds', 0)}s timeout={probe.get('timeoutSeconds', 0)}s "
        f"period={probe.get('periodSeconds', 0)}s successThreshold={probe.get('successThreshold', 0)} "
        f"failureThreshold={probe.get('failureThreshold', 0)}"
    )
    if probe.get("exec"):
        return f"exec [{' '.join(probe['exec'].get('command') or [])}] {attrs}"
    if probe.get("httpGet"):
        h = probe["httpGet"]
        host = f"{h.get('host', '')}:{h.get('port', '')}"
        return (
            f"http-get {str(h.get('scheme', 'HTTP')).lower()}://{host}{h.get('path', '')} {attrs}"
        )
    if probe.get("tcpSocket"):
        t = probe["tcpSocket"]
        return f"tcp-socket {t.get('host', '')}:{t.get('port', '')} {attrs}"
    if probe.get("grpc"):
        g = probe["grpc"]
        return f"grpc <pod>:{g.get('port')} {g.get('service', '')} {attrs}"
    return f"unknown {attrs}"


def _state(w: Writer, name: str, state: Obj | None) -> None:
    state = state or {}
    if "running" in state:
        w.write(2, f"{name}:\tRunning\n")
        w.write(3, f"Started:\t{rfc1123z(state['running'].get('startedAt'))}\n")
    elif "terminated" in state:
        t = state["terminated"]
        w.write(2, f"{name}:\tTerminated\n")
        if t.get("reason"):
            w.write(3, f"Reason:\t{t['reason']}\n")
        if t.get("message"):
            w.write(3, f"Message:\t{t['message']}\n")
        w.write(3, f"Exit Code:\t{t.get('exitCode', 0)}\n")
        if t.get("signal"):
            w.write(3, f"Signal:\t{t['signal']}\n")
        w.write(3, f"Started:\t{rfc1123z(t.get('startedAt'))}\n")
        w.write(3, f"Finished:\t{rfc1123z(t.get('finishedAt'))}\n")
    else:
        w.write(2, f"{name}:\tWaiting\n")
        reason = _m(state, "waiting", "reason")
        if reason:
            w.write(3, f"Reason:\t{reason}\n")


def _resources(w: Writer, resources: Obj | None, level: int) -> None:
    for title, key in (("Limits", "limits"), ("Requests", "requests")):
        values = (resources or {}).get(key) or {}
        if values:
            w.write(level, f"{title}:\n")
        for name in sorted(values):
            w.write(level + 1, f"{name}:\t{values[name]}\n")


def _env(w: Writer, container: Obj) -> None:
    env = container.get("env") or []
    w.write(2, "Environment:" + ("" if env else "\t<none>") + "\n")
    for e in env:
        source = e.get("valueFrom")
        if source is None:
            for i, line in enumerate(str(e.get("value", "")).split("\n")):
                w.write(3, f"{e['name']}:\t{line}\n" if i == 0 else f"\t{line}\n")
        elif "fieldRef" in source:
            ref = source["fieldRef"]
            w.write(3, f"{e['name']}:\t ({ref.get('apiVersion', '')}:{ref.get('fieldPath', '')})\n")
        elif "resourceFieldRef" in source:
            w.write(3, f"{e['name']}:\t ({source['resourceFieldRef'].get('resource', '')})\n")
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            w.write(
                3,
                f"{e['name']}:\t<set to the key '{ref.get('key')}' in secret '{ref.get('name')}'>\tOptional: {str(bool(ref.get('optional'))).lower()}\n",
            )
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            w.write(
                3,
                f"{e['name']}:\t<set to the key '{ref.get('key')}' of config map '{ref.get('name')}'>\tOptional: {str(bool(ref.get('optional'))).lower()}\n",
            )


def _env_from(w: Writer, container: Obj) -> None:
    sources = container.get("envFrom") or []
    if not sources:
        return
    w.write(2, "Environment Variables from:\n")
    for e in sources:
        kind, ref = (
            ("ConfigMap", e["configMapRef"])
            if e.get("configMapRef")
            else ("Secret", e.get("secretRef") or {})
        )
        optional = str(bool(ref.get("optional"))).lower()
        what = f"{kind} with prefix '{e['prefix']}'" if e.get("prefix") else kind
        w.write(3, f"{ref.get('name', '')}\t{what}\tOptional: {optional}\n")


def _mounts(w: Writer, container: Obj) -> None:
    mounts = container.get("volumeMounts") or []
    w.write(2, "Mounts:" + ("" if mounts else "\t<none>") + "\n")
    for m in sorted(mounts, key=lambda m: m.get("mountPath", "")):
        flags = ["ro" if m.get("readOnly") else "rw"]
        if m.get("subPath"):
            flags.append(f'path="{m["subPath"]}"')
        w.write(3, f"{m.get('mountPath')} from {m.get('name')} ({','.join(flags)})\n")


def containers_section(
    w: Writer, label: str, containers: list[Obj], statuses: list[Obj] | None, space: str = ""
) -> None:
    by_name = {s.get("name"): s for s in statuses or []}
    w.write(0, f"{space}{label}:{'' if containers else ' <none>'}\n")
    indent = " " if space else ""
    for c in containers:
        status = by_name.get(c.get("name"))
        w.write(1, f"{indent}{c.get('name')}:\n")
        if status is not None:
            w.write(2, f"Container ID:\t{status.get('containerID', '')}\n")
        w.write(2, f"Image:\t{c.get('image', '')}\n")
        if status is not None:
            w.write(2, f"Image ID:\t{status.get('imageID', '')}\n")
        ports = c.get("ports") or []
        text = _ports(ports, "containerPort")
        w.write(2, f"Ports:\t{text}\n" if "," in text else f"Port:\t{text or '<none>'}\n")
        text = _ports(ports, "hostPort")
        w.write(2, f"Host Ports:\t{text}\n" if "," in text else f"Host Port:\t{text or '<none>'}\n")
        for title, key in (("Command", "command"), ("Args", "args")):
            if c.get(key):
                w.write(2, f"{title}:\n")
                for item in c[key]:
                    for line in str(item).split("\n"):
                        w.write(3, f"{line}\n")
        if status is not None:
            _state(w, "State", status.get("state"))
            if _m(status, "lastState", "terminated"):
                _state(w, "Last State", status.get("lastState"))
            w.write(2, f"Ready:\t{'True' if status.get('ready') else 'False'}\n")
            w.write(2, f"Restart Count:\t{status.get('restartCount', 0)}\n")
        _resources(w, c.get("resources"), 2)
        for title, key in (
            ("Liveness", "livenessProbe"),
            ("Readiness", "readinessProbe"),
            ("Startup", "startupProbe"),
        ):
            if c.get(key):
                w.write(2, f"{title}:\t{_probe(c[key])}\n")
        _env_from(w, c)
        _env(w, c)
        _mounts(w, c)


_VOLUME_TYPES: dict[str, str] = {
    "hostPath": "HostPath (bare host directory volume)",
    "emptyDir": "EmptyDir (a temporary directory that shares a pod's lifetime)",
    "secret": "Secret (a volume populated by a Secret)",
    "configMap": "ConfigMap (a volume populated by a ConfigMap)",
    "persistentVolumeClaim": "PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)",
    "projected": "Projected (a volume that contains injected data from multiple sources)",
    "downwardAPI": "DownwardAPI (a volume populated by information about the pod)",
}


def _volume(w: Writer, v: Obj) -> None:
    kind = next((k for k in _VOLUME_TYPES if k in v), None)
    if kind is None:
        w.write(1, "<unknown>\n")
        return
    src = v[kind] or {}
    w.write(2, f"Type:\t{_VOLUME_TYPES[kind]}\n")
    if kind == "hostPath":
        w.write(
            0,
            f"    Path:\t{src.get('path', '')}\n    HostPathType:\t{src.get('type') or '<none>'}\n",
        )
    elif kind == "emptyDir":
        w.write(
            0,
            f"    Medium:\t{src.get('medium', '')}\n    SizeLimit:\t{src.get('sizeLimit') or '<unset>'}\n",
        )
    elif kind == "secret":
        w.write(
            0,
            f"    SecretName:\t{src.get('secretName', '')}\n    Optional:\t{str(bool(src.get('optional'))).lower()}\n",
        )
    elif kind == "configMap":
        w.write(
            0,
            f"    Name:\t{src.get('name', '')}\n    Optional:\t{str(bool(src.get('optional'))).lower()}\n",
        )
    elif kind == "persistentVolumeClaim":
        w.write(
            0,
            f"    ClaimName:\t{src.get('claimName', '')}\n    ReadOnly:\t{str(bool(src.get('readOnly'))).lower()}\n",
        )
    elif kind == "projected":
        _projected(w, src)
    elif kind == "downwardAPI":
        w.write(0, "    Items:\n")
        for item in src.get("items") or []:
            ref = item.get("fieldRef") or {}
            what = ref.get("fieldPath") or (item.get("resourceFieldRef") or {}).get("resource", "")
            w.write(3, f"{what} -> {item.get('path', '')}\n")


def _projected(w: Writer, src: Obj) -> None:
    for s in src.get("sources") or []:
        if s.get("secret") is not None:
            w.write(
                2,
                f"SecretName:\t{s['secret'].get('name', '')}\n    Optional:\t{str(bool(s['secret'].get('optional'))).lower()}\n",
            )
        elif s.get("downwardAPI") is not None:
            w.write(2, "DownwardAPI:\ttrue\n")
        elif s.get("configMap") is not None:
            w.write(
                2,
                f"ConfigMapName:\t{s['configMap'].get('name', '')}\n    Optional:\t{str(bool(s['configMap'].get('optional'))).lower()}\n",
            )
        elif s.get("serviceAccountToken") is not None:
            w.write(
                2,
                f"TokenExpirationSeconds:\t{s['serviceAccountToken'].get('expirationSeconds', 0)}\n",
            )


def volumes_section(w: Writer, volumes: list[Obj] | None, space: str = "") -> None:
    if not volumes:
        w.write(0, f"{space}Volumes:\t<none>\n")
        return
    w.write(0, f"{space}Volumes:\n")
    for v in volumes:
        w.write(1, f"{' ' if space else ''}{v.get('name')}:\n")
        _volume(w, v)


def pod_template_section(w: Writer, template: Obj) -> None:
    spec = template.get("spec") or {}
    meta = template.get("metadata") or {}
    w.write(0, "Pod Template:\n")
    labels_multiline(w, "  Labels", meta.get("labels"))
    if meta.get("annotations"):
        annotations_multiline(w, "  Annotations", meta["annotations"])
    if spec.get("serviceAccountName"):
        w.write(1, f"Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("initContainers"):
        containers_section(w, "Init Containers", spec["initContainers"], None, "  ")
    containers_section(w, "Containers", spec.get("containers") or [], None, "  ")
    volumes_section(w, spec.get("volumes"), "  ")
    if spec.get("priorityClassName"):
        w.write(1, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    labels_multiline(w, "  Node-Selectors", spec.get("nodeSelector"))
    tolerations_multiline(w, "  Tolerations", spec.get("tolerations"))


# ---- kinds ----------------------------------------------------------------------------


def _qos(pod: Obj) -> str:
    if _m(pod, "status", "qosClass"):
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
    for ref in _m(obj, "metadata", "ownerReferences") or []:
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
    conditions = _m(obj, "status", "conditions") or []
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
        w.write(1, "----\t------\t------\n")
        for c in conditions:
            w.write(1, f"{c.get('type')} \t{c.get('status')}\t{c.get('reason', '')}\n")


def _selector_string(selector: Obj | None) -> str:
    """labels.Selector.String(): like FormatLabelSelector but empty for an empty selector."""
    text = format_selector(selector)
    return "" if text == "<none>" else text


def _rs_list(rss: list[Obj]) -> str:
    items = [
        f"{_m(r, 'metadata', 'name')} ({_m(r, 'status', 'replicas') or 0}/{_m(r, 'spec', 'replicas') or 0} replicas created)"
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
    w.write(0, f"Selector:\t{_selector_string(spec.get('selector'))}\n")
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
        phase = _m(p, "status", "phase")
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


def _endpoints(slices: list[Obj], port_name: str) -> str:
    if not slices:
        return "<none>"
    found: list[str] = []
    for s in slices:
        for port in s.get("ports") or [{}]:
            if s.get("ports") and (port.get("name") or "") != port_name:
                continue
            for ep in s.get("endpoints") or []:
                if _m(ep, "conditions", "ready") is False:
                    continue
                addr = (ep.get("addresses") or [""])[0]
                found.append(f"{addr}:{port['port']}" if "port" in port else addr)
    if len(found) > 3:
        return ",".join(found[:3]) + f" + {len(found) - 3} more..."
    return ",".join(found)


def describe_service(svc: Obj, slices: list[Obj], events: list[Obj] | None, now: datetime) -> str:
    w = Writer()
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, f"Selector:\t{format_labels(spec.get('selector'))}\n")
    w.write(0, f"Type:\t{spec.get('type', '')}\n")
    if spec.get("ipFamilyPolicy"):
        w.write(0, f"IP Family Policy:\t{spec['ipFamilyPolicy']}\n")
    w.write(0, f"IP Families:\t{','.join(spec.get('ipFamilies') or []) or '<none>'}\n")
    w.write(0, f"IP:\t{spec.get('clusterIP', '')}\n")
    w.write(0, f"IPs:\t{','.join(spec.get('clusterIPs') or []) or '<none>'}\n")
    if spec.get("externalIPs"):
        w.write(0, f"External IPs:\t{','.join(spec['externalIPs'])}\n")
    if spec.get("loadBalancerIP"):
        w.write(0, f"Desired LoadBalancer IP:\t{spec['loadBalancerIP']}\n")
    if spec.get("externalName"):
        w.write(0, f"External Name:\t{spec['externalName']}\n")
    ingress = _m(svc, "status", "loadBalancer", "ingress") or []
    if ingress:
        w.write(
            0,
            f"LoadBalancer Ingress:\t{', '.join(i.get('ip') or i.get('hostname', '') for i in ingress)}\n",
        )
    for p in spec.get("ports") or []:
        name, proto = p.get("name") or "<unset>", p.get("protocol", "TCP")
        w.write(0, f"Port:\t{name}\t{p.get('port')}/{proto}\n")
        w.write(0, f"TargetPort:\t{p.get('targetPort', p.get('port'))}/{proto}\n")
        if p.get("appProtocol"):
            w.write(0, f"AppProtocol:\t{p['appProtocol']}\n")
        if p.get("nodePort"):
            w.write(0, f"NodePort:\t{name}\t{p['nodePort']}/{proto}\n")
        w.write(0, f"Endpoints:\t{_endpoints(slices, p.get('name') or '')}\n")
    w.write(0, f"Session Affinity:\t{spec.get('sessionAffinity', '')}\n")
    if spec.get("externalTrafficPolicy"):
        w.write(0, f"External Traffic Policy:\t{spec['externalTrafficPolicy']}\n")
    if spec.get("internalTrafficPolicy"):
        w.write(0, f"Internal Traffic Policy:\t{spec['internalTrafficPolicy']}\n")
    if spec.get("healthCheckNodePort"):
        w.write(0, f"HealthCheck NodePort:\t{spec['healthCheckNodePort']}\n")
    if spec.get("loadBalancerSourceRanges"):
        w.write(0, f"LoadBalancer Source Ranges:\t{','.join(spec['loadBalancerSourceRanges'])}\n")
    if spec.get("trafficDistribution"):
        w.write(0, f"Traffic Distribution:\t{spec['trafficDistribution']}\n")
    events_section(w, events, now)
    return w.text()


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
            for item in _m(lr, "spec", "limits") or []:
                _limit_rows(w, item)
    return w.text()


def _quotas(w: Writer, quotas: list[Obj]) -> None:
    if not quotas:
        w.write(0, "No resource quota.\n")
        return
    for q in sorted(quotas, key=lambda q: _m(q, "metadata", "name") or ""):
        w.write(0, f"Resource Quotas\n Name:\t{_m(q, 'metadata', 'name')}\n")
        w.write(0, " Resource\tUsed\tHard\n --------\t---\t---\n")
        hard = _m(q, "status", "hard") or {}
        used = _m(q, "status", "used") or {}
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
    alloc = _m(node, "status", "allocatable") or _m(node, "status", "capacity") or {}
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
            f"{_m(p, 'metadata', 'namespace')}\t{_m(p, 'metadata', 'name')}\t\t{cr} ({_pct(cr, cpu, True)}%)\t"
            f"{cl} ({_pct(cl, cpu, True)}%)\t{mr} ({_pct(mr, mem, False)}%)\t{ml} ({_pct(ml, mem, False)}%)\t"
            f"{since(_m(p, 'metadata', 'creationTimestamp'), now)}\n",
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


def describe_generic(obj: Obj, events: list[Obj] | None, now: datetime) -> str:
    """Kinds without a describer: metadata, then the remaining fields, nested."""
    w = Writer()
    meta = obj.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    if meta.get("namespace"):
        w.write(0, f"Namespace:\t{meta['namespace']}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    rest = {k: v for k, v in obj.items() if k != "metadata"}
    _generic_fields(w, rest, 0)
    events_section(w, events, now)
    return w.text()


def _title(key: str) -> str:
    out = ""
    for i, ch in enumerate(key):
        if ch.isupper() and i and not key[i - 1].isupper():
            out += " "
        out += ch
    return out[:1].upper() + out[1:]


def _generic_fields(w: Writer, value: Obj, level: int) -> None:
    for key in sorted(value):
        v = value[key]
        if isinstance(v, dict):
            w.write(level, f"{_title(key)}:\n")
            _generic_fields(w, v, level + 1)
        elif isinstance(v, list):
            w.write(level, f"{_title(key)}:\n")
            for item in v:
                if isinstance(item, dict):
                    _generic_fields(w, item, level + 1)
                else:
                    w.write(level + 1, f"{item}\n")
        else:
            w.write(level, f"{_title(key)}:\t{v}\n")


def describe_configmap(cm: Obj, events: list[Obj] | None, now: datetime) -> str:
    import base64

    w = Writer()
    meta = cm.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, "\nData\n====\n")
    data = cm.get("data") or {}
    for key in sorted(data):
        w.write(0, f"{key}:\n----\n{data[key]}\n\n")
    w.write(0, "\nBinaryData\n====\n")
    binary = cm.get("binaryData") or {}
    for key in sorted(binary):
        w.write(0, f"{key}: {len(base64.b64decode(binary[key]))} bytes\n")
    w.write(0, "\n")
    events_section(w, events, now)
    return w.text()


def describe_secret(secret: Obj) -> str:
    import base64

    w = Writer()
    meta = secret.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    kind = secret.get("type", "")
    w.write(0, f"\nType:\t{kind}\n")
    w.write(0, "\nData\n====\n")
    data = secret.get("data") or {}
    for key in sorted(data):
        raw = base64.b64decode(data[key])
        if key == "token" and kind == "kubernetes.io/service-account-token":
            w.write(0, f"{key}:\t{raw.decode(errors='replace')}\n")
        else:
            w.write(0, f"{key}:\t{len(raw)} bytes\n")
    return w.text()
