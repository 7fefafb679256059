"""Containers, volumes and pod templates: the parts of a pod spec describe prints.

Shared by Pods (with container statuses) and by every workload's ``Pod
Template`` section (without them, names indented one more space).
"""

from __future__ import annotations

from tinykube.kubectl.describers.layout import (
    Obj,
    Writer,
    annotations_multiline,
    dig,
    labels_multiline,
    rfc1123z,
    tolerations_multiline,
)


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
        reason = dig(state, "waiting", "reason")
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
            if dig(status, "lastState", "terminated"):
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


# Per volume type, the two lines kubectl prints: (label, field, how an unset value shows).
_VOLUME_FIELDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "hostPath": (("Path", "path", ""), ("HostPathType", "type", "<none>")),
    "emptyDir": (("Medium", "medium", ""), ("SizeLimit", "sizeLimit", "<unset>")),
    "secret": (("SecretName", "secretName", ""), ("Optional", "optional", "bool")),
    "configMap": (("Name", "name", ""), ("Optional", "optional", "bool")),
    "persistentVolumeClaim": (("ClaimName", "claimName", ""), ("ReadOnly", "readOnly", "bool")),
}


def _field(src: Obj, key: str, how: str) -> str:
    if how == "bool":
        return str(bool(src.get(key))).lower()
    if how:
        return str(src.get(key) or how)
    return str(src.get(key, ""))


def _volume(w: Writer, v: Obj) -> None:
    kind = next((k for k in _VOLUME_TYPES if k in v), None)
    if kind is None:
        w.write(1, "<unknown>\n")
        return
    src = v[kind] or {}
    w.write(2, f"Type:\t{_VOLUME_TYPES[kind]}\n")
    if kind in _VOLUME_FIELDS:
        w.write(
            0,
            "".join(
                f"    {label}:\t{_field(src, key, how)}\n"
                for label, key, how in _VOLUME_FIELDS[kind]
            ),
        )
    if kind == "projected":
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
