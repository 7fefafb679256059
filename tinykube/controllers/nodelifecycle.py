"""The node lifecycle controller: notice lost nodes, taint them, evict their Pods.

A kubelet proves it is alive two ways: it renews its Lease
(``kube-node-lease/<node>``) every 10 seconds and it posts the ``Ready``
condition's ``lastHeartbeatTime`` through ``nodes/status``. Upstream's
``pkg/controller/nodelifecycle`` looks at both every ``--node-monitor-period``
(5 s) and, when neither moved for ``--node-monitor-grace-period`` (40 s),
decides the kubelet is gone: every condition of the Node becomes ``Unknown``
(reason ``NodeStatusUnknown``) and the Node is tainted
``node.kubernetes.io/unreachable`` (NoSchedule and NoExecute). A kubelet that
reports ``Ready=False`` gets ``node.kubernetes.io/not-ready`` instead; a cordoned
Node (``spec.unschedulable``) gets ``node.kubernetes.io/unschedulable:NoSchedule``.
When the Node is healthy again the taints go. While a Node is Unknown its
Pods are marked ``Ready=False`` (upstream ``MarkPodsNotReady``), so Services
stop sending them traffic long before any eviction.

What `kubectl describe` shows comes as upstream words it: the Node gets
``RegisteredNode`` when this controller first sees it, ``RemovingNode`` when
it is deleted and ``NodeNotReady`` when it goes Unknown (all from
``node-controller``), each Pod marked not
ready a Warning ``NodeNotReady: Node is not ready``, and evictions come from
``taint-eviction-controller``, the separate controller upstream runs them in.

"Moved" is judged on this controller's own monotonic clock, as upstream does:
the controller remembers what heartbeat it last saw and *when it saw it*, so
a kubelet whose wall clock is skewed is neither killed nor kept alive by it.

The NoExecute taints then act through the taint manager half of this module
(upstream ``pkg/controller/tainteviction``): a Pod bound to a Node with a
NoExecute taint it does not tolerate is deleted at once; a Pod that tolerates
every such taint for ``tolerationSeconds`` is deleted that long after the
controller first saw it tainted (the DefaultTolerationSeconds admission gives
every Pod 300 s for not-ready and unreachable); a Pod tolerating them forever
stays. Waiting is a ``Requeue(after=...)``, never a sleep. A countdown that
ends without an eviction (the taint went, a toleration now covers it forever,
the Pod was deleted meanwhile) is announced as "Cancelling deletion of Pod",
the event users see on their Pods after a Node comes back.

One queue carries both kinds of work, keyed ``("Node", name)`` and
``("Pod", "ns/name")``. Node keys requeue themselves every monitor period
(the periodic check); Pod keys are added when a Pod lands on a Node or a
Node's NoExecute taints change.

NoExecute taints follow upstream's disruption modes: a zone in which no Node
is Ready gets no new ones, and when no Node of the cluster is Ready (more
likely the control plane's network than every kubelet at once) they are
lifted, so a one-node cluster whose kubelet restarts slowly keeps its Pods.
Upstream also rate-limits NoExecute tainting per zone (0.1 Node/s); that is
not done here.

The decisions (health, conditions, taints, disruption, eviction delay) are
pure functions at the top, which the unit tests drive.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tinykube.api import errors
from tinykube.api.duration import format_time
from tinykube.controllers.cronschedule import parse_duration
from tinykube.controllers.runtime import Controller, ControllerContext, Requeue
from tinykube.controllers.schedulingutil import tolerates

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]

NAME = "node-lifecycle-controller"  # upstream --controllers name; alias "nodelifecycle"
GRACE_FLAG = "node-monitor-grace-period"
PERIOD_FLAG = "node-monitor-period"
DEFAULT_GRACE_PERIOD = 40.0  # seconds; upstream raised it to 50 s in 1.32
DEFAULT_MONITOR_PERIOD = 5.0
LEASE_NAMESPACE = "kube-node-lease"

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "NoExecute"
# Every taint this controller owns: it adds and removes these and no others.
MANAGED_TAINTS = frozenset(
    {
        (UNREACHABLE, NO_SCHEDULE),
        (UNREACHABLE, NO_EXECUTE),
        (NOT_READY, NO_SCHEDULE),
        (NOT_READY, NO_EXECUTE),
        (UNSCHEDULABLE, NO_SCHEDULE),
    }
)

NODE_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
STATUS_UNKNOWN = "NodeStatusUnknown"
STATUS_UNKNOWN_MESSAGE = "Kubelet stopped posting node status."
NEVER_UPDATED = "NodeStatusNeverUpdated"
NEVER_UPDATED_MESSAGE = "Kubelet never posted node status."
NODE_NOT_READY = "NodeNotReady"  # event reason on the Node, and (a Warning) on its Pods
POD_NOT_READY_MESSAGE = "Node is not ready"
REGISTERED_NODE = "RegisteredNode"  # event reason on a Node this controller sees first
REMOVING_NODE = "RemovingNode"  # and on one it saw that is deleted
TAINT_EVICTION = "TaintManagerEviction"  # event reason on the Pod
TAINT_DISRUPTION: Obj = {
    "type": "DisruptionTarget",
    "status": "True",
    "reason": "DeletionByTaintManager",
    "message": "Taint manager: deleting due to NoExecute taint",
}
# Upstream posts node events as "node-controller" and evictions as the separate
# "taint-eviction-controller"; `kubectl describe` shows these in its From column.
NODE_EVENT_SOURCE = "node-controller"
EVICTION_EVENT_SOURCE = "taint-eviction-controller"
NODE_NAME_INDEX = "node-lifecycle-node-name"
REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"


# ---- pure decisions ------------------------------------------------------------------


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def pods_by_node(pod: Obj) -> list[str]:
    """Index function: the Node a Pod is bound to."""
    node = (pod.get("spec") or {}).get("nodeName")
    return [node] if node else []


def condition(node: Obj, kind: str) -> Obj | None:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def ready_status(node: Obj) -> str | None:
    """``True``, ``False``, ``Unknown``, or None while the kubelet never posted Ready."""
    cond = condition(node, "Ready")
    return None if cond is None else str(cond.get("status") or "Unknown")


def pod_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def heartbeat(node: Obj, lease: Obj | None) -> tuple[str, str]:
    """What a live kubelet keeps changing: Ready's heartbeat and the Lease's renewTime."""
    ready = condition(node, "Ready") or {}
    renew = ((lease or {}).get("spec") or {}).get("renewTime") or ""
    return str(ready.get("lastHeartbeatTime") or ""), str(renew)


@dataclass
class NodeHealth:
    """The last heartbeat seen and when (on the controller's monotonic clock)."""

    seen: tuple[str, str]
    probed_at: float


def observe(health: NodeHealth | None, beat: tuple[str, str], now: float) -> NodeHealth:
    """Start or refresh the record: a changed heartbeat counts as a probe now."""
    if health is None or health.seen != beat:
        return NodeHealth(beat, now)
    return health


def is_lost(health: NodeHealth, now: float, grace: float) -> bool:
    return now - health.probed_at > grace


def unknown_conditions(node: Obj, when: str) -> list[Obj] | None:
    """The conditions with every one Unknown (upstream tryUpdateNodeHealth), None if no change.

    Conditions the kubelet never posted are added as ``NodeStatusNeverUpdated``;
    heartbeat times are kept (they say when the kubelet last spoke).
    """
    current = list((node.get("status") or {}).get("conditions") or [])
    changed = False
    out: list[Obj] = []
    for cond in current:
        if cond.get("type") in NODE_CONDITIONS and cond.get("status") != "Unknown":
            cond = {
                **cond,
                "status": "Unknown",
                "reason": STATUS_UNKNOWN,
                "message": STATUS_UNKNOWN_MESSAGE,
                "lastTransitionTime": when,
            }
            changed = True
        out.append(cond)
    present = {c.get("type") for c in current}
    for kind in NODE_CONDITIONS:
        if kind not in present:
            out.append(
                {
                    "type": kind,
                    "status": "Unknown",
                    "reason": NEVER_UPDATED,
                    "message": NEVER_UPDATED_MESSAGE,
                    "lastHeartbeatTime": when,
                    "lastTransitionTime": when,
                }
            )
            changed = True
    return out if changed else None


def desired_taints(node: Obj) -> set[tuple[str, str]]:
    """The managed (key, effect) pairs this Node should carry, from Ready and spec."""
    wanted: set[tuple[str, str]] = set()
    ready = ready_status(node)
    if ready == "False":
        wanted |= {(NOT_READY, NO_SCHEDULE), (NOT_READY, NO_EXECUTE)}
    elif ready == "Unknown":
        wanted |= {(UNREACHABLE, NO_SCHEDULE), (UNREACHABLE, NO_EXECUTE)}
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.add((UNSCHEDULABLE, NO_SCHEDULE))
    return wanted


def zone_of(node: Obj) -> str:
    """Region and zone together, as upstream's zone key."""
    labels = _meta(node).get("labels") or {}
    return f"{labels.get(REGION_LABEL, '')}:{labels.get(ZONE_LABEL, '')}"


def zone_ready_counts(nodes: Iterable[Obj]) -> dict[str, tuple[int, int]]:
    """Zone -> (Ready Nodes, all Nodes)."""
    counts: dict[str, tuple[int, int]] = {}
    for node in nodes:
        ready, total = counts.get(zone_of(node), (0, 0))
        counts[zone_of(node)] = (ready + (ready_status(node) == "True"), total + 1)
    return counts


@dataclass(frozen=True)
class Disruption:
    """Whether a Node's zone, or the whole cluster, has no Ready Node left."""

    zone_down: bool
    all_down: bool


def disruption(counts: Mapping[str, tuple[int, int]], cached: Obj | None, fresh: Obj) -> Disruption:
    """The disruption seen by ``fresh``, counting it instead of its ``cached`` copy.

    The controller may have just marked ``fresh`` Unknown, which the cache
    does not show yet; counting the stale copy would make the last Node of a
    cluster look healthy for one sync, long enough to taint it NoExecute.
    """
    adjusted = dict(counts)
    for obj, sign in ((cached, -1), (fresh, 1)):
        if obj is not None:
            ready, total = adjusted.get(zone_of(obj), (0, 0))
            is_ready = int(ready_status(obj) == "True")
            adjusted[zone_of(obj)] = (ready + sign * is_ready, total + sign)
    live = [ready for ready, total in adjusted.values() if total > 0]
    return Disruption(adjusted[zone_of(fresh)][0] <= 0, all(r <= 0 for r in live))


def gate_no_execute(
    wanted: set[tuple[str, str]], current: set[tuple[str, str]], state: Disruption
) -> set[tuple[str, str]]:
    """No new NoExecute taint in a zone with no Ready Node; none at all if no Node is Ready.

    Upstream's disruption modes: when every Node looks lost, the likelier
    story is that the control plane lost the network, and evicting every Pod
    of the cluster would make it worse; so NoExecute taints are lifted
    until some Node is Ready again. A zone with no Ready Node keeps the
    taints it has but gets no new ones.
    """
    if state.all_down:
        return {pair for pair in wanted if pair[1] != NO_EXECUTE}
    if state.zone_down:
        return {pair for pair in wanted if pair[1] != NO_EXECUTE or pair in current}
    return wanted


def reconcile_taints(
    taints: Sequence[Obj], wanted: set[tuple[str, str]], when: str
) -> list[Obj] | None:
    """``taints`` with the managed ones made equal to ``wanted``; None if already so.

    Taints nobody here owns are kept untouched, managed ones that stay keep
    their ``timeAdded``, and new NoExecute taints get ``timeAdded`` (as upstream's
    ``SwapNodeControllerTaint``), which is what eviction timing is read against.
    """
    out: list[Obj] = []
    have: set[tuple[str, str]] = set()
    for taint in taints:
        pair = (taint.get("key", ""), taint.get("effect", ""))
        if pair in MANAGED_TAINTS and pair not in wanted:
            continue
        have.add(pair)
        out.append(taint)
    missing = sorted(wanted - have)
    if not missing and len(out) == len(taints):
        return None
    for key, effect in missing:
        taint: Obj = {"key": key, "effect": effect}
        if effect == NO_EXECUTE:
            taint["timeAdded"] = when
        out.append(taint)
    return out


def no_execute_taints(node: Obj | None) -> list[Obj]:
    taints = ((node or {}).get("spec") or {}).get("taints") or []
    return [t for t in taints if t.get("effect") == NO_EXECUTE]


def eviction_delay(taints: Sequence[Mapping[str, Any]], tolerations: Iterable[Obj]) -> float | None:
    """Seconds a Pod may stay on a Node with these NoExecute taints; None means forever.

    0 when some taint is not tolerated at all; otherwise the smallest
    ``tolerationSeconds`` among the tolerations in use (negative counts as 0),
    as upstream ``getMinTolerationTime``. Tolerations without a limit do not cap it.
    """
    tolerations = list(tolerations)
    used: list[Obj] = []
    for taint in taints:
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return 0.0
        used += matching
    limits = [t["tolerationSeconds"] for t in used if t.get("tolerationSeconds") is not None]
    if not limits:
        return None  # no taints, or every one tolerated without a limit
    return max(0.0, float(min(limits)))


def seconds_setting(value: Any, default: float) -> float:
    """A flag value handed to the controller: seconds, or a Go duration such as ``40s``."""
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        return parse_duration(str(value).strip())


# ---- the controller ------------------------------------------------------------------


class NodeLifecycleController(Controller[Key]):
    """Marks silent Nodes Unknown, keeps the condition taints right, evicts by taint."""

    name = NAME
    default_workers = 5

    def __init__(self, ctx: ControllerContext, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(ctx)
        self.now = now or (lambda: datetime.now(UTC))
        self.grace = seconds_setting(ctx.options.get(GRACE_FLAG), DEFAULT_GRACE_PERIOD)
        self.period = seconds_setting(ctx.options.get(PERIOD_FLAG), DEFAULT_MONITOR_PERIOD)
        self.recorder = ctx.recorder(NODE_EVENT_SOURCE)
        self.eviction_recorder = ctx.recorder(EVICTION_EVENT_SOURCE)
        self.health: dict[str, NodeHealth] = {}
        # Pod key -> (uid, monotonic time its eviction countdown started): upstream's
        # CreatedAt. The uid keeps a new Pod of the same name from inheriting it.
        self.tainted_since: dict[str, tuple[str, float]] = {}
        self._counts: tuple[float, dict[str, tuple[int, int]]] | None = None
        self._all_down = False
        self.nodes = self.informer("v1", "nodes")
        self.leases = self.informer("coordination.k8s.io/v1", "leases", namespace=LEASE_NAMESPACE)
        self.pods = self.informer("v1", "pods")
        self.pods.add_indexers({NODE_NAME_INDEX: pods_by_node})
        self.nodes.add_handler(
            on_add=self._node_changed,
            on_update=self._node_updated,
            on_delete=self._node_deleted,
        )
        self.leases.add_handler(
            on_add=self._lease_changed, on_update=lambda _o, new: self._lease_changed(new)
        )
        self.pods.add_handler(
            on_add=self._pod_changed,
            on_update=lambda _o, new: self._pod_changed(new),
            on_delete=self._pod_deleted,
        )

    # ---- event handlers: only compute keys ----

    def _node_changed(self, node: Obj) -> None:
        self.queue.add(("Node", _meta(node).get("name", "")))

    def _node_updated(self, old: Obj, new: Obj) -> None:
        self._node_changed(new)
        if no_execute_taints(old) != no_execute_taints(new):
            self._enqueue_pods_on(_meta(new).get("name", ""))

    def _node_deleted(self, node: Obj) -> None:
        name = _meta(node).get("name", "")
        if self.health.pop(name, None) is not None:
            self.recorder.event(
                node,
                "Normal",
                REMOVING_NODE,
                f"Node {name} event: Removing Node {name} from Controller",
            )

    def _lease_changed(self, lease: Obj) -> None:
        name = _meta(lease).get("name", "")
        if self.nodes.get(name) is not None:
            self.queue.add(("Node", name))

    def _enqueue_pods_on(self, node_name: str) -> None:
        for pod in self.pods.by_index(NODE_NAME_INDEX, node_name):
            self.queue.add(("Pod", _pod_key(pod)))

    def _pod_changed(self, pod: Obj) -> None:
        key = _pod_key(pod)
        node = pods_by_node(pod)
        if key in self.tainted_since or (node and no_execute_taints(self.nodes.get(node[0]))):
            self.queue.add(("Pod", key))

    def _pod_deleted(self, pod: Obj) -> None:
        self._cancel(_pod_key(pod), pod)  # deleted by someone else while counting down

    # ---- reconcile ----

    async def reconcile(self, key: Key) -> Requeue | None:
        kind, name = key
        if kind == "Node":
            return await self._sync_node(name)
        return await self._sync_pod(name)

    async def _sync_node(self, name: str) -> Requeue | None:
        node = self.nodes.get(name)
        if node is None:
            self.health.pop(name, None)
            return None
        now = self.ctx.clock.now()
        lease = self.leases.get_by_name(LEASE_NAMESPACE, name)
        if name not in self.health:
            # Upstream's monitorNodeHealth says so for every Node it has not known,
            # so a restarted controller manager says it again (as upstream's does).
            self.recorder.event(
                node,
                "Normal",
                REGISTERED_NODE,
                f"Node {name} event: Registered Node {name} in Controller",
            )
        health = observe(self.health.get(name), heartbeat(node, lease), now)
        self.health[name] = health
        if is_lost(health, now, self.grace):
            node = await self._mark_unknown(node)
        if ready_status(node) == "Unknown":
            await self._mark_pods_not_ready(name)
        await self._update_taints(node)
        # The periodic look: come back when this node could next cross the grace period.
        due = health.probed_at + self.grace - now
        return Requeue(after=min(self.period, due) if due > 0 else self.period)

    async def _mark_unknown(self, node: Obj) -> Obj:
        conditions = unknown_conditions(node, format_time(self.now()))
        if conditions is None:
            return node
        body = copy.deepcopy(node)
        body.setdefault("status", {})["conditions"] = conditions
        updated = await self.client.update_status("v1", "nodes", body)
        name = _meta(node).get("name", "")
        log.info("controller=%s node=%s kubelet stopped posting status: Unknown", self.name, name)
        self.recorder.event(
            node, "Normal", NODE_NOT_READY, f"Node {name} status is now: {NODE_NOT_READY}"
        )
        return updated

    async def _mark_pods_not_ready(self, node_name: str) -> None:
        """Ready=False on the Pods of a silent Node, so Services stop sending them traffic.

        Upstream ``MarkPodsNotReady``: nobody else can say these Pods are not
        serving, and waiting for their eviction (300 s by default) would leave
        them in every Endpoints list meanwhile. Only while the Node is Unknown:
        a kubelet that is still talking manages its own Pods' readiness.
        """
        when = format_time(self.now())
        for pod in self.pods.by_index(NODE_NAME_INDEX, node_name):
            if not pod_ready(pod) or _meta(pod).get("deletionTimestamp"):
                continue
            ready = {"type": "Ready", "status": "False", "lastTransitionTime": when}
            m = _meta(pod)
            with contextlib.suppress(errors.NotFound):
                await self.client.patch(
                    "v1",
                    "pods",
                    m.get("name", ""),
                    {"status": {"conditions": [ready]}},
                    m.get("namespace", ""),
                    patch_type="strategic",  # conditions merge by type
                    subresource="status",
                )
                # After the write, as upstream: the Pod is known to still exist.
                self.recorder.event(pod, "Warning", NODE_NOT_READY, POD_NOT_READY_MESSAGE)

    def _disruption(self, node: Obj) -> Disruption:
        """Zone counts are taken once per monitor period (one pass, as upstream), not per Node."""
        now = self.ctx.clock.now()
        if self._counts is None or now - self._counts[0] >= self.period:
            self._counts = (now, zone_ready_counts(self.nodes.list()))
        state = disruption(self._counts[1], self.nodes.get(_meta(node).get("name", "")), node)
        if state.all_down != self._all_down:
            self._all_down = state.all_down
            what = "no Node is Ready: NoExecute taints lifted" if state.all_down else "Nodes Ready"
            log.info("controller=%s disruption mode: %s", self.name, what)
        return state

    async def _update_taints(self, node: Obj) -> None:
        taints = (node.get("spec") or {}).get("taints") or []
        current = {(t.get("key", ""), t.get("effect", "")) for t in taints}
        wanted = gate_no_execute(desired_taints(node), current, self._disruption(node))
        new = reconcile_taints(taints, wanted, format_time(self.now()))
        if new is None:
            return
        body = copy.deepcopy(node)
        body.setdefault("spec", {})["taints"] = new
        # A PUT carries the resourceVersion: a stale cache gets Conflict and a retry.
        await self.client.update("v1", "nodes", body)

    async def _sync_pod(self, key: str) -> Requeue | None:
        namespace, _, name = key.partition("/")
        pod = self.pods.get_by_name(namespace, name)
        if pod is None or _meta(pod).get("deletionTimestamp"):
            # Its countdown, if any, ends when the Pod is gone (``_pod_deleted``).
            return None
        node_name = pods_by_node(pod)[0] if pods_by_node(pod) else ""
        taints = no_execute_taints(self.nodes.get(node_name)) if node_name else []
        delay = eviction_delay(taints, (pod.get("spec") or {}).get("tolerations") or [])
        if not taints or delay is None:  # untainted, or tolerated forever
            self._cancel(key, pod)
            return None
        now = self.ctx.clock.now()
        uid = _meta(pod).get("uid", "")
        if self.tainted_since.get(key, ("", 0.0))[0] != uid:
            self.tainted_since[key] = (uid, now)
        started = self.tainted_since[key][1]
        if now < started + delay:
            return Requeue(after=started + delay - now)
        # Fired: the deletion that follows is no cancellation. Put back if it fails.
        fired = self.tainted_since.pop(key)
        try:
            await self._evict(pod)
        except BaseException:
            self.tainted_since.setdefault(key, fired)
            raise
        return None

    def _cancel(self, key: str, pod: Obj) -> None:
        """Drop a running countdown and say so, as upstream's cancelWorkWithEvent does."""
        entry = self.tainted_since.pop(key, None)
        if entry is not None and entry[0] == _meta(pod).get("uid", ""):
            self.eviction_recorder.event(
                pod, "Normal", TAINT_EVICTION, f"Cancelling deletion of Pod {key}"
            )

    async def _evict(self, pod: Obj) -> None:
        """Upstream's addConditionAndDeletePod: say why in the Pod, then delete it.

        ``DisruptionTarget`` tells a Job's podFailurePolicy (and `kubectl
        describe`) that the Pod did not fail on its own. Both writes name the
        Pod's uid, so a new Pod of the same name is left alone.
        """
        m = _meta(pod)
        self.eviction_recorder.event(
            pod, "Normal", TAINT_EVICTION, f"Marking for deletion Pod {_pod_key(pod)}"
        )
        try:
            if not has_condition(pod, TAINT_DISRUPTION):
                target = {**TAINT_DISRUPTION, "lastTransitionTime": format_time(self.now())}
                await self.client.patch(
                    "v1",
                    "pods",
                    m["name"],
                    {"metadata": {"uid": m["uid"]}, "status": {"conditions": [target]}},
                    m.get("namespace", ""),
                    patch_type="strategic",  # conditions merge by type
                    subresource="status",
                )
            await self.client.delete(
                "v1", "pods", m["name"], m.get("namespace", ""), preconditions={"uid": m["uid"]}
            )
        except (errors.NotFound, errors.Conflict):
            return  # already gone, or replaced by a new Pod of the same name
        log.info("controller=%s pod=%s evicted by NoExecute taint", self.name, _pod_key(pod))


def has_condition(pod: Obj, wanted: Obj) -> bool:
    """The Pod already carries ``wanted`` (type, status, reason and message alike)."""
    fields = ("type", "status", "reason", "message")
    return any(
        all(cond.get(f) == wanted.get(f) for f in fields)
        for cond in (pod.get("status") or {}).get("conditions") or []
    )


def _pod_key(pod: Obj) -> str:
    m = _meta(pod)
    return f"{m.get('namespace', '')}/{m.get('name', '')}"


def new(ctx: ControllerContext) -> NodeLifecycleController:
    """The factory the controller manager calls for ``--controllers=node-lifecycle-controller``."""
    return NodeLifecycleController(ctx)


__all__ = [
    "NAME",
    "NodeLifecycleController",
    "desired_taints",
    "eviction_delay",
    "new",
    "reconcile_taints",
    "unknown_conditions",
]
