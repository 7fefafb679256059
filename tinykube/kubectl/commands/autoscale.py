"""``kubectl autoscale``: a HorizontalPodAutoscaler (``autoscaling/v2``) for a workload.

``--max`` is required, ``--min`` optional; ``--cpu`` takes a utilization
(``80%``) or an average value (``500m``), ``--memory`` likewise (``70%`` or
``512Mi``); the deprecated ``--cpu-percent`` still works, with kubectl's
warning. The autoscaler is named after the workload unless ``--name`` says.
"""

from __future__ import annotations

import sys
from typing import Any

from tinykube.kubectl import mutate
from tinykube.kubectl.commands.create import create_object, report
from tinykube.kubectl.commands.objects import targets
from tinykube.kubectl.errors import Aggregate, CommandError
from tinykube.kubectl.flags import Flag
from tinykube.kubectl.output import parse_output

Obj = dict[str, Any]
SCALABLE = {"Deployment", "ReplicaSet", "ReplicationController", "StatefulSet"}
CPU_PERCENT_DEPRECATED = (
    "Flag --cpu-percent has been deprecated, Use --cpu with percentage or resource quantity "
    "format (e.g., '70%' for utilization or '500m' for milliCPU).\n"
)

FLAGS = [
    Flag("min", kind="int", default=-1),
    Flag("max", kind="int", default=-1),
    Flag("cpu-percent", kind="int", default=-1),
    Flag("cpu", default=""),
    Flag("memory", default=""),
    Flag("name", default=""),
    Flag("filename", "f", kind="list"),
    Flag("output", "o"),
    mutate.DRY_RUN_FLAG,
    mutate.FIELD_MANAGER,
]


def _metric(resource: str, value: str) -> Obj:
    if value.endswith("%"):
        target: Obj = {"type": "Utilization", "averageUtilization": int(value[:-1])}
    else:
        target = {"type": "AverageValue", "averageValue": value}
    return {"type": "Resource", "resource": {"name": resource, "target": target}}


def autoscaler_for(f: Any, o: Any, obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    spec: Obj = {
        "scaleTargetRef": {
            "kind": obj.get("kind", ""),
            "name": meta.get("name", ""),
            "apiVersion": obj.get("apiVersion", ""),
        },
    }
    if o.min >= 0:
        spec["minReplicas"] = o.min
    spec["maxReplicas"] = o.max
    metrics = []
    cpu = o.cpu or (f"{o.cpu_percent}%" if o.cpu_percent >= 0 else "")
    if cpu:
        metrics.append(_metric("cpu", cpu))
    if o.memory:
        metrics.append(_metric("memory", o.memory))
    if metrics:
        spec["metrics"] = metrics
    out_meta: Obj = {"name": o.name or meta.get("name", "")}
    if f.explicit_namespace:
        out_meta["namespace"] = f.namespace
    return {
        "kind": "HorizontalPodAutoscaler",
        "apiVersion": "autoscaling/v2",
        "metadata": out_meta,
        "spec": spec,
        "status": {"currentMetrics": None, "desiredReplicas": 0},
    }


def _v1_problem(hpa: Obj) -> str:
    """Why the HPA cannot be written as autoscaling/v1, in kubectl's words ("" if it can)."""
    for metric in hpa["spec"].get("metrics") or []:
        res = metric.get("resource") or {}
        if metric.get("type") == "Resource" and res.get("name") == "cpu":
            return "" if (res.get("target") or {}).get("type") == "Utilization" else "%!w(<nil>)"
    return "empty input"


async def _create_v1(f: Any, o: Any, hpa: Obj, first: Exception) -> Obj:
    """kubectl's fallback when creating the v2 object failed: the same in autoscaling/v1."""
    problem = _v1_problem(hpa)
    if problem:
        raise CommandError(
            "failed to create autoscaling/v2 HPA and the configuration is incompatible with "
            f"autoscaling/v1: {problem}"
        ) from first
    spec = hpa["spec"]
    cpu = next(m for m in spec["metrics"] if (m.get("resource") or {}).get("name") == "cpu")
    v1: Obj = {
        "kind": "HorizontalPodAutoscaler",
        "apiVersion": "autoscaling/v1",
        "metadata": hpa["metadata"],
        "spec": {
            "scaleTargetRef": spec["scaleTargetRef"],
            **({"minReplicas": spec["minReplicas"]} if "minReplicas" in spec else {}),
            "maxReplicas": spec["maxReplicas"],
            "targetCPUUtilizationPercentage": cpu["resource"]["target"]["averageUtilization"],
        },
        "status": {"currentReplicas": 0, "desiredReplicas": 0},
    }
    path = f"/apis/autoscaling/v1/namespaces/{f.namespace}/horizontalpodautoscalers"
    return await f.client.call("POST", path, params=mutate.params(o, "kubectl-autoscale"), body=v1)


async def run(f: Any, o: Any) -> int:
    if o.max < 1:
        raise CommandError(f"--max=MAXPODS is required and must be at least 1, max: {o.max}")
    if o.min > o.max:
        raise CommandError(
            f"--max=MAXPODS must be larger or equal to --min=MINPODS, max: {o.max}, min: {o.min}"
        )
    if o.cpu_percent >= 0:
        sys.stderr.write(CPU_PERCENT_DEPRECATED)
    fmt = parse_output(o.output)
    failures: list[Exception] = []
    mapping = await f.discovery.find("horizontalpodautoscalers.autoscaling")
    for t in await targets(f, o, o.args, failures):
        t.obj.setdefault("kind", t.mapping.kind)
        t.obj.setdefault("apiVersion", t.mapping.api_version)
        if t.obj["kind"] not in SCALABLE:
            failures.append(
                CommandError(f"cannot autoscale a {t.obj['kind']}: not a scalable resource")
            )
            continue
        hpa = autoscaler_for(f, o, t.obj)
        try:
            result = await create_object(f, o, mapping, f.namespace, hpa, "kubectl-autoscale")
        except Exception as exc:  # kubectl retries in autoscaling/v1 when it can
            result = await _create_v1(f, o, hpa, exc)
        if fmt.kind:
            report(f, o, fmt, mapping, result, "autoscaled", typed=True)
        else:
            suffix = mutate.suffix(mutate.dry_run(o))
            f.out.write(f"{mapping.kind_prefix}/{hpa['metadata']['name']} autoscaled{suffix}\n")
    if failures:
        raise Aggregate(failures)
    return 0
