"""``kubectl expose``: a Service selecting what a Deployment, ReplicaSet, Pod or Service selects.

The selector comes from the object (``spec.selector.matchLabels``, a Pod's
labels, a Service's selector), the ports from ``--port`` or the first
container's ports, and the Service takes the object's labels.
"""

from __future__ import annotations

from typing import Any

from tinykube.kubectl import mutate
from tinykube.kubectl.commands.create import create_object, report
from tinykube.kubectl.commands.objects import Target, targets
from tinykube.kubectl.errors import Aggregate, CommandError
from tinykube.kubectl.flags import Flag
from tinykube.kubectl.output import parse_output

Obj = dict[str, Any]

FLAGS = [
    Flag("port", default=""),
    Flag("target-port", default=""),
    Flag("protocol", default=""),
    Flag("name", default=""),
    Flag("type", default=""),
    Flag("selector", default=""),
    Flag("labels", "l", default=""),
    Flag("cluster-ip", default=""),
    Flag("external-ip", default=""),
    Flag("node-port", kind="int", default=0),
    Flag("filename", "f", kind="list"),
    Flag("output", "o"),
    mutate.DRY_RUN_FLAG,
    mutate.FIELD_MANAGER,
]


def _selector(obj: Obj) -> dict[str, str]:
    kind = obj.get("kind", "")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return dict((obj.get("metadata") or {}).get("labels") or {})
    if kind in ("Service", "ReplicationController"):
        return dict(spec.get("selector") or {})
    selector = spec.get("selector") or {}
    if selector.get("matchExpressions"):
        raise CommandError(
            "couldn't retrieve selectors via --selector flag or introspection: the selector contains expressions"
        )
    return dict(selector.get("matchLabels") or {})


def _container_ports(obj: Obj) -> list[Obj]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Service":
        return [
            {"port": p.get("port"), "protocol": p.get("protocol", "TCP"), "name": p.get("name")}
            for p in spec.get("ports") or []
        ]
    pod_spec = (
        spec if obj.get("kind") == "Pod" else ((spec.get("template") or {}).get("spec") or {})
    )
    out = []
    for c in pod_spec.get("containers") or []:
        for p in c.get("ports") or []:
            out.append(
                {
                    "port": p.get("containerPort"),
                    "protocol": p.get("protocol", "TCP"),
                    "name": p.get("name"),
                }
            )
    return out


def _ports(o: Any, obj: Obj) -> list[Obj]:
    if o.port:
        specs = [{"port": int(p), "protocol": o.protocol or "TCP"} for p in o.port.split(",")]
    else:
        specs = [
            {"port": p["port"], "protocol": o.protocol or p["protocol"]}
            for p in _container_ports(obj)
        ]
    if not specs:
        raise CommandError("couldn't find port via --port flag or introspection")
    ports = []
    for i, spec in enumerate(specs):
        entry: Obj = {}
        if len(specs) > 1:
            entry["name"] = f"port-{i + 1}"
        if o.node_port:
            entry["nodePort"] = o.node_port
        target: Any = spec["port"]
        if o.target_port:
            target = int(o.target_port) if o.target_port.isdigit() else o.target_port
        entry.update({"port": spec["port"], "protocol": spec["protocol"], "targetPort": target})
        ports.append(entry)
    return ports


def service_for(f: Any, o: Any, t: Target) -> Obj:
    meta = t.obj.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    if o.labels:
        labels = dict(p.split("=", 1) for p in o.labels.split(","))
    selector = (
        dict(p.split("=", 1) for p in o.selector.split(",")) if o.selector else _selector(t.obj)
    )
    spec: Obj = {}
    if o.cluster_ip:
        spec["clusterIP"] = o.cluster_ip
    spec["ports"] = _ports(o, t.obj)
    spec["selector"] = selector
    if o.type:
        spec["type"] = o.type
    out_meta: Obj = {}
    if labels:
        out_meta["labels"] = labels
    out_meta["name"] = o.name or meta.get("name", "")
    if f.explicit_namespace:
        out_meta["namespace"] = f.namespace
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": out_meta,
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


async def run(f: Any, o: Any) -> int:
    fmt = parse_output(o.output)
    failures: list[Exception] = []
    mapping = await f.discovery.find("services")
    for t in await targets(f, o, o.args, failures):
        t.obj.setdefault("kind", t.mapping.kind)
        svc = service_for(f, o, t)
        result = await create_object(f, o, mapping, f.namespace, svc, "kubectl-expose")
        if fmt.kind:
            report(f, o, fmt, mapping, result, "exposed", typed=True)
        else:
            f.out.write(
                f"{mapping.kind_prefix}/{svc['metadata']['name']} exposed{mutate.suffix(mutate.dry_run(o))}\n"
            )
    if failures:
        raise Aggregate(failures)
    return 0
