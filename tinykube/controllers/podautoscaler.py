"""The horizontal pod autoscaler: replicas follow the measured load (``autoscaling/v2``).

As upstream's ``pkg/controller/podautoscaler``, every 15 seconds per
HorizontalPodAutoscaler: read the target's ``scale`` subresource (its
replicas and pod selector), read the pods' usage from ``metrics.k8s.io``, and
for each Resource metric (cpu, memory) compute the ratio of the measured
average to the target: utilization is the pods' summed usage over their summed
requests, in percent; ``AverageValue`` is usage per pod. Within the 10 %
tolerance nothing changes; otherwise the proposal is ``ceil(ratio * pods)``.
The largest proposal over all metrics wins, then ``behavior``'s defaults:
scaling up at most by 100 % or 4 pods per 15 s, scaling down only to the
highest proposal of the last 5 minutes (the stabilization window), and within
``minReplicas``/``maxReplicas``. The status reports the measured metrics and
upstream's conditions (AbleToScale, ScalingActive, ScalingLimited); a resize
is recorded as a ``SuccessfulRescale`` event.

Not done: Pods, Object and External metrics, ContainerResource, custom
``behavior`` policies (only the default windows), and upstream's special
treatment of unready or unmeasured pods (they are left out of the average).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from tinykube.api import errors, quantity
from tinykube.api.duration import format_time
from tinykube.client.rest import resolve, resource_path
from tinykube.controllers.podutil import meta
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue

Obj = dict[str, Any]

NAME = "horizontal-pod-autoscaler-controller"  # alias "horizontalpodautoscaling"
API = "autoscaling/v2"
SYNC_PERIOD = 15.0
TOLERANCE = 0.1
DOWNSCALE_WINDOW = 300.0
UPSCALE_PODS, UPSCALE_PERCENT = 4, 100


def _milli(text: Any) -> int:
    return math.ceil(quantity.parse(text).amount * 1000)


def requests_of(pod: Obj, resource: str) -> int:
    """The pod's containers' summed request for ``resource``, in milli-units."""
    return sum(
        _milli(((c.get("resources") or {}).get("requests") or {}).get(resource, 0))
        for c in (pod.get("spec") or {}).get("containers") or []
    )


def usage_of(metrics: Obj, resource: str) -> int:
    return sum(
        _milli((c.get("usage") or {}).get(resource, 0)) for c in metrics.get("containers") or []
    )


def proposal(spec: Obj, pods: list[Obj], usage: dict[str, Obj], current: int) -> tuple[int, Obj]:
    """(replicas this Resource metric asks for, its ``currentMetrics`` entry)."""
    res = spec["resource"]
    name, target = res["name"], res.get("target") or {}
    measured = [p for p in pods if meta(p)["name"] in usage]
    if not measured:
        raise LookupError("did not receive metrics for targeted pods (pods might be unready)")
    used = sum(usage_of(usage[meta(p)["name"]], name) for p in measured)
    average_milli = used // len(measured)
    entry: Obj = {"type": "Resource", "resource": {"name": name, "current": {}}}
    current_block = entry["resource"]["current"]
    current_block["averageValue"] = _format(name, average_milli)
    if target.get("type") == "Utilization" or target.get("averageUtilization") is not None:
        requested = sum(requests_of(p, name) for p in measured)
        if requested == 0:
            raise LookupError(f"missing request for {name} in containers of the targeted pods")
        utilization = used * 100 // requested
        current_block["averageUtilization"] = utilization
        ratio = utilization / int(target.get("averageUtilization") or 1)
    else:
        goal = _milli(target.get("averageValue") or 0) or 1
        ratio = average_milli / goal
    if abs(ratio - 1.0) <= TOLERANCE:
        return current, entry
    return math.ceil(ratio * len(measured)), entry


def _described(entries: list[Obj]) -> str:
    """How upstream names the deciding metric: ``cpu resource utilization (percentage of request)``."""
    if not entries:
        return "no metrics"
    res = entries[0]["resource"]
    if "averageUtilization" in res["current"]:
        return f"{res['name']} resource utilization (percentage of request)"
    return f"{res['name']} resource"


def _format(resource: str, milli: int) -> str:
    if resource == "cpu":
        return f"{milli}m"
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def _condition(kind: str, status: str, reason: str, message: str, now: str, old: list[Obj]) -> Obj:
    before = next((c for c in old if c.get("type") == kind), None)
    since = before.get("lastTransitionTime") if before and before.get("status") == status else now
    return {"type": kind, "status": status, "lastTransitionTime": since, "reason": reason,
            "message": message}  # fmt: skip


class HorizontalPodAutoscalerController(Controller[str]):
    name = NAME
    default_workers = 5
    workers_flag = "concurrent-horizontal-pod-autoscaler-syncs"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.recorder = ctx.recorder("horizontal-pod-autoscaler")
        self.hpas = self.informer(API, "horizontalpodautoscalers")
        self.hpas.add_handler(on_add=self.enqueue, on_update=lambda _o, n: self.enqueue(n))
        self._recommendations: dict[str, list[tuple[float, int]]] = {}

    async def reconcile(self, key: str) -> Requeue | None:
        hpa = self.hpas.get(key)
        if hpa is None:
            self._recommendations.pop(key, None)
            return None
        try:
            await self._sync(key, hpa)
        except errors.Conflict:
            return Requeue(after=1.0)
        return Requeue(after=SYNC_PERIOD)

    async def _sync(self, key: str, hpa: Obj) -> None:
        namespace = meta(hpa)["namespace"]
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        old_conditions = (hpa.get("status") or {}).get("conditions") or []
        now = format_time(datetime.now(UTC))
        status: Obj = dict(hpa.get("status") or {})
        try:
            target = resolve(ref.get("apiVersion", ""), ref.get("kind", ""))
            path = resource_path(target, namespace, ref.get("name", ""), "scale")
            scale = await self.client.request("GET", path)
        except (errors.APIError, ValueError) as exc:
            status["conditions"] = [
                _condition("AbleToScale", "False", "FailedGetScale",
                           f"the HPA controller was unable to get the target's current scale: {exc}",
                           now, old_conditions),
            ]  # fmt: skip
            await self._write_status(hpa, status)
            return
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        status["currentReplicas"] = int((scale.get("status") or {}).get("replicas") or 0)
        minimum, maximum = int(spec.get("minReplicas") or 1), int(spec.get("maxReplicas") or 1)
        if current == 0 and minimum > 0:
            status["desiredReplicas"] = 0  # scaling is disabled while the target has none
            await self._write_status(hpa, status)
            return
        selector = (scale.get("status") or {}).get("selector", "")
        conditions = [_condition("AbleToScale", "True", "SucceededGetScale",
                                 "the HPA controller was able to get the target's current scale",
                                 now, old_conditions)]  # fmt: skip
        proposals: list[int] = []
        metrics_status: list[Obj] = []
        try:
            pods, usage = await self._measure(namespace, selector)
            for metric in spec.get("metrics") or []:
                if metric.get("type") != "Resource":
                    continue
                replicas, entry = proposal(metric, pods, usage, current)
                proposals.append(replicas)
                metrics_status.append(entry)
            conditions.append(_condition("ScalingActive", "True", "ValidMetricFound",
                                         "the HPA was able to successfully calculate a replica "
                                         f"count from {_described(metrics_status)}",
                                         now, old_conditions))  # fmt: skip
        except (LookupError, errors.APIError, quantity.QuantityError) as exc:
            conditions.append(_condition("ScalingActive", "False", "FailedGetResourceMetric",
                                         f"the HPA was unable to compute the replica count: {exc}",
                                         now, old_conditions))  # fmt: skip
            status["conditions"] = conditions
            status["desiredReplicas"] = current
            await self._write_status(hpa, status)
            return
        desired = self._stabilized(key, current, max(proposals, default=current))
        if desired > maximum:
            desired = maximum
            limited = (
                "True",
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count",
            )
        elif desired < minimum:
            desired = minimum
            limited = (
                "True",
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            )
        else:
            limited = (
                "False",
                "DesiredWithinRange",
                "the desired count is within the acceptable range",
            )
        conditions.append(_condition("ScalingLimited", *limited, now, old_conditions))  # fmt: skip
        if desired != current:
            body = {**scale, "spec": {**(scale.get("spec") or {}), "replicas": desired}}
            await self.client.request("PUT", path, body=body)
            status["lastScaleTime"] = now
            side = "above" if desired > current else "below"
            message = f"New size: {desired}; reason: {_described(metrics_status)} {side} target"
            self.recorder.event(hpa, "Normal", "SuccessfulRescale", message)
        status["desiredReplicas"] = desired
        status["currentMetrics"] = metrics_status or None
        status["conditions"] = conditions
        await self._write_status(hpa, {k: v for k, v in status.items() if v is not None})

    async def _measure(self, namespace: str, selector: str) -> tuple[list[Obj], dict[str, Obj]]:
        params = {"labelSelector": selector} if selector else None
        pods = await self.client.request(
            "GET", f"/api/v1/namespaces/{namespace}/pods", params=params
        )
        running = [
            p for p in pods.get("items") or []
            if (p.get("status") or {}).get("phase") == "Running" and not meta(p).get("deletionTimestamp")
        ]  # fmt: skip
        listed = await self.client.request(
            "GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods", params=params
        )
        usage = {meta(m)["name"]: m for m in listed.get("items") or []}
        if not running:
            raise LookupError("no running pods match the target's selector")
        return running, usage

    def _stabilized(self, key: str, current: int, wanted: int) -> int:
        """Scale down only as far as every proposal of the last window allows; cap scale-up."""
        now = time.monotonic()
        history = [
            (t, r) for t, r in self._recommendations.get(key, []) if now - t < DOWNSCALE_WINDOW
        ]
        history.append((now, wanted))
        self._recommendations[key] = history
        if wanted < current:
            return min(current, max(r for _, r in history))
        ceiling = max(current * (100 + UPSCALE_PERCENT) // 100, current + UPSCALE_PODS)
        return min(wanted, ceiling)

    async def _write_status(self, hpa: Obj, status: Obj) -> None:
        if status == (hpa.get("status") or {}):
            return
        await self.client.update_status(API, "horizontalpodautoscalers", {**hpa, "status": status})


def new(ctx: ControllerContext) -> HorizontalPodAutoscalerController:
    return HorizontalPodAutoscalerController(ctx)
