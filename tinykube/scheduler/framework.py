"""The scheduling framework: result codes, per-cycle state, node facts and plugin shapes.

kube-scheduler is a pipeline of extension points (PreFilter, Filter,
PostFilter, PreScore, Score, NormalizeScore, Reserve, Bind) that plugins
implement. This module is everything a plugin may see besides ``tinykube.api``
and the standard library (the independence contract in ``pyproject.toml``):

- ``Code`` and ``Status``: what a plugin answers, each code documented with what
  the framework does next, as ``kube-scheduler/framework/interface.go`` does.
- ``CycleState``: a scratch dict for one pod's scheduling cycle, where a
  plugin's ``pre_filter``/``pre_score`` leave per-pod facts for the per-node
  ``filter``/``score`` calls (computed once, read thousands of times).
- ``PodInfo``: a pod dict plus the facts every plugin keeps recomputing
  (requests, host ports, parsed affinity terms), computed once per pod.
- ``NodeInfo``: a node plus the pods on it (bound and assumed) and what they
  add up to: requested resources, used host ports, image states.
- ``Snapshot`` and ``Handle``: the read-only cluster view plugins get.
- Protocols for each extension point.

Objects are the API's plain dicts throughout; nothing here changes one.
"""

from __future__ import annotations

import enum
import functools
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tinykube.api import quantity, selectors

Obj = dict[str, Any]

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0

# Requests the scheduler assumes, for *scoring only*, for a container that asks
# for no cpu or memory, so that best-effort pods still spread
# (schedutil.DefaultMilliCPURequest / DefaultMemoryRequest).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"


class Code(enum.IntEnum):
    """What a plugin says about a pod (on a node); the framework acts on it."""

    SUCCESS = 0
    """The plugin is satisfied; the framework runs the next plugin."""

    ERROR = 1
    """Something unexpected broke (a bad object, a bug). The cycle stops, the pod
    goes to the backoff queue and is retried; no preemption is attempted."""

    UNSCHEDULABLE = 2
    """The pod does not fit this node now, but could if the node changed, for
    example after lower-priority pods are preempted. Filtering of this node stops;
    PostFilter (preemption) may later try to make room here."""

    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    """The pod can never fit this node as it is (wrong name, taint, selector);
    preempting pods would not help, so PostFilter skips the node."""

    SKIP = 4
    """From pre_filter or pre_score: the plugin has nothing to say about this pod,
    so the framework skips the plugin's filter or score for every node of the
    cycle (a pod without ports skips NodePorts). Elsewhere treated as SUCCESS."""


@dataclass(frozen=True, slots=True)
class Status:
    """An outcome: a code, the human reasons (they reach FailedScheduling), the plugin."""

    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def success(self) -> bool:
        return self.code is Code.SUCCESS

    @property
    def rejected(self) -> bool:
        """Unschedulable or unresolvable: a verdict about fit, not a failure."""
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        return self if self.plugin == plugin else Status(self.code, self.reasons, plugin)


SUCCESS = Status()
SKIP = Status(Code.SKIP)


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)


def error(message: str) -> Status:
    return Status(Code.ERROR, (message,))


class CycleState(dict[str, Any]):
    """Scratch space for one pod's cycle; each plugin writes under its own key.

    ``skip_filter`` and ``skip_score`` hold the plugins whose pre_filter or
    pre_score answered SKIP. Preemption copies the state (``clone``) before it
    simulates removing pods, so plugins must keep their entries copyable.
    """

    def __init__(self) -> None:
        super().__init__()
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()

    def clone(self) -> CycleState:
        copy = CycleState()
        for key, value in self.items():
            copy[key] = value.clone() if hasattr(value, "clone") else value
        copy.skip_filter = set(self.skip_filter)
        copy.skip_score = set(self.skip_score)
        return copy


# ---- resources -----------------------------------------------------------------

Resources = dict[str, int]
"""cpu in millicores, everything else (memory, pods, extended) in whole units."""


@functools.lru_cache(maxsize=4096)
def _amount(name: str, text: str | int | float) -> int:
    q = quantity.parse(text)
    return q.milli_value() if name == CPU else q.value()


def is_scalar_resource(name: str) -> bool:
    """Extended resources (``example.com/gpu``), hugepages and attachable volumes."""
    return (
        "/" in name and not name.startswith("kubernetes.io/") and not name.startswith("requests.")
    ) or name.startswith(("hugepages-", "attachable-volumes-"))


def resource_list(rl: Mapping[str, Any] | None) -> Resources:
    """A ResourceList dict (``{"cpu": "100m"}``) as integers the scheduler adds up."""
    out: Resources = {}
    for name, value in (rl or {}).items():
        if name in (CPU, MEMORY, EPHEMERAL_STORAGE, PODS) or is_scalar_resource(name):
            out[name] = _amount(name, value)
    return out


def _add(into: Resources, more: Mapping[str, int]) -> None:
    for name, value in more.items():
        into[name] = into.get(name, 0) + value


def _max(into: Resources, other: Mapping[str, int]) -> None:
    for name, value in other.items():
        if value > into.get(name, 0):
            into[name] = value


def _requests(container: Mapping[str, Any]) -> Resources:
    return resource_list((container.get("resources") or {}).get("requests"))


def _non_zero(reqs: Resources) -> Resources:
    return {
        CPU: reqs.get(CPU, 0) or DEFAULT_MILLI_CPU_REQUEST,
        MEMORY: reqs.get(MEMORY, 0) or DEFAULT_MEMORY_REQUEST,
    }


def pod_requests(pod: Mapping[str, Any], non_zero: bool = False) -> Resources:
    """What a pod takes from a node, counted as upstream's ``PodRequests`` counts it.

    Regular containers add up. Init containers run one at a time, so only the
    largest counts, except sidecars (init containers with ``restartPolicy:
    Always``), which keep running: they add to the total and to every later init
    container. The larger of the two sums wins, then the RuntimeClass overhead is
    added. With ``non_zero``, a container without a cpu or memory request counts
    as 100m / 200Mi (for scoring, so best-effort pods still spread).
    """
    spec = pod.get("spec") or {}
    per = (lambda c: _non_zero(_requests(c))) if non_zero else _requests
    total: Resources = {}
    for container in spec.get("containers") or []:
        _add(total, per(container))
    sidecars: Resources = {}
    init_max: Resources = {}
    for container in spec.get("initContainers") or []:
        reqs = per(container)
        if container.get("restartPolicy") == "Always":
            _add(total, reqs)
            _add(sidecars, reqs)
            effective = dict(sidecars)
        else:
            effective = dict(reqs)
            _add(effective, sidecars)
        _max(init_max, effective)
    _max(total, init_max)
    overhead = resource_list(spec.get("overhead"))
    if non_zero:
        overhead = {k: v for k, v in overhead.items() if k in (CPU, MEMORY)}
    _add(total, overhead)
    return total


# ---- pods ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A parsed PodAffinityTerm: which pods (namespaces + selector) share which topology."""

    selector: selectors.Selector
    topology_key: str
    namespaces: frozenset[str]
    namespace_selector: selectors.Selector
    weight: int = 0

    def matches(self, pod: PodInfo, ns_labels: Mapping[str, str] | None) -> bool:
        """True when ``pod`` is one of the pods this term talks about."""
        if pod.namespace in self.namespaces or (
            ns_labels is not None and self.namespace_selector.matches(ns_labels)
        ):
            return self.selector.matches(pod.labels)
        return False


def _affinity_term(pod_ns: str, term: Mapping[str, Any], weight: int = 0) -> AffinityTerm:
    namespaces = term.get("namespaces") or []
    ns_sel = term.get("namespaceSelector")
    if not namespaces and ns_sel is None:
        namespaces = [pod_ns]
    return AffinityTerm(
        selectors.label_selector_as_selector(term.get("labelSelector")),
        term.get("topologyKey", ""),
        frozenset(namespaces),
        selectors.label_selector_as_selector(ns_sel),
        weight,
    )


def _terms(pod_ns: str, block: Mapping[str, Any] | None) -> tuple[list[Any], list[Any]]:
    block = block or {}
    required = [
        _affinity_term(pod_ns, t)
        for t in block.get("requiredDuringSchedulingIgnoredDuringExecution") or []
    ]
    preferred = [
        _affinity_term(pod_ns, w.get("podAffinityTerm") or {}, int(w.get("weight", 0)))
        for w in block.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    ]
    return required, preferred


HostPort = tuple[str, str, int]
"""(hostIP, protocol, hostPort); an empty hostIP is 0.0.0.0, as upstream defaults it."""


def host_ports(pod: Mapping[str, Any]) -> list[HostPort]:
    out: list[HostPort] = []
    spec = pod.get("spec") or {}
    containers = itertools.chain(spec.get("containers") or [], spec.get("initContainers") or [])
    for container in containers:
        for port in container.get("ports") or []:
            if int(port.get("hostPort") or 0) > 0:
                ip = port.get("hostIP") or "0.0.0.0"
                out.append((ip, port.get("protocol") or "TCP", int(port["hostPort"])))
    return out


_uids = itertools.count()


class PodInfo:
    """A pod and its derived facts, computed once (``framework.PodInfo`` upstream)."""

    __slots__ = (
        "_non_zero",
        "_requests",
        "key",
        "labels",
        "name",
        "namespace",
        "node_name",
        "pod",
        "ports",
        "preferred_affinity",
        "preferred_anti_affinity",
        "priority",
        "required_affinity",
        "required_anti_affinity",
    )

    def __init__(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.pod = pod
        self.namespace: str = meta.get("namespace", "")
        self.name: str = meta.get("name", "")
        self.key: str = meta.get("uid") or f"{self.namespace}/{self.name}#{next(_uids)}"
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.node_name: str = spec.get("nodeName", "")
        self.priority: int = int(spec.get("priority") or 0)
        self.ports = host_ports(pod)
        affinity = spec.get("affinity") or {}
        self.required_affinity, self.preferred_affinity = _terms(
            self.namespace, affinity.get("podAffinity")
        )
        self.required_anti_affinity, self.preferred_anti_affinity = _terms(
            self.namespace, affinity.get("podAntiAffinity")
        )
        self._requests: Resources | None = None
        self._non_zero: Resources | None = None

    @property
    def requests(self) -> Resources:
        if self._requests is None:
            self._requests = pod_requests(self.pod)
        return self._requests

    @property
    def non_zero_requests(self) -> Resources:
        if self._non_zero is None:
            self._non_zero = pod_requests(self.pod, non_zero=True)
        return self._non_zero

    @property
    def has_affinity(self) -> bool:
        return bool(
            self.required_affinity
            or self.preferred_affinity
            or self.required_anti_affinity
            or self.preferred_anti_affinity
        )

    def __repr__(self) -> str:
        return f"PodInfo({self.namespace}/{self.name})"


# ---- nodes ---------------------------------------------------------------------


@dataclass(slots=True)
class ImageState:
    """An image on a node: its size and on how many nodes of the cluster it is."""

    size: int
    num_nodes: int = 1


def normalized_image_name(name: str) -> str:
    """``nginx`` and ``nginx:latest`` are one image (the tag defaults to latest)."""
    if "@" in name:
        return name
    if ":" not in name.rsplit("/", 1)[-1]:
        return name + ":latest"
    return name


_generation = itertools.count(1)


class NodeInfo:
    """A node, its pods (bound and assumed) and what they add up to."""

    __slots__ = (
        "allocatable",
        "generation",
        "image_states",
        "labels",
        "name",
        "node",
        "non_zero_requested",
        "pods",
        "pods_with_affinity",
        "pods_with_required_anti_affinity",
        "requested",
        "taints",
        "unschedulable",
        "used_ports",
    )

    def __init__(self, node: Obj | None = None, pods: Iterable[PodInfo] = ()) -> None:
        self.node: Obj | None = None
        self.name = ""
        self.labels: dict[str, str] = {}
        self.taints: list[Obj] = []
        self.unschedulable = False
        self.allocatable: Resources = {}
        self.image_states: dict[str, ImageState] = {}
        self.pods: dict[str, PodInfo] = {}
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.requested: Resources = {}
        self.non_zero_requested: Resources = {CPU: 0, MEMORY: 0}
        self.used_ports: dict[tuple[str, int], dict[str, int]] = {}
        self.generation = next(_generation)
        if node is not None:
            self.set_node(node)
        for pod in pods:
            self.add_pod(pod)

    def set_node(self, node: Obj) -> None:
        meta = node.get("metadata") or {}
        self.node = node
        self.name = meta.get("name", "")
        self.labels = meta.get("labels") or {}
        spec = node.get("spec") or {}
        self.taints = spec.get("taints") or []
        self.unschedulable = bool(spec.get("unschedulable"))
        status = node.get("status") or {}
        self.allocatable = resource_list(status.get("allocatable") or status.get("capacity"))
        self.image_states = {}
        for image in status.get("images") or []:
            for name in image.get("names") or []:
                self.image_states[normalized_image_name(name)] = ImageState(
                    int(image.get("sizeBytes") or 0)
                )
        self.generation = next(_generation)

    def add_pod(self, pod: PodInfo) -> None:
        self.pods[pod.key] = pod
        if pod.has_affinity:
            self.pods_with_affinity[pod.key] = pod
        if pod.required_anti_affinity:
            self.pods_with_required_anti_affinity[pod.key] = pod
        self._account(pod, 1)

    def remove_pod(self, key: str) -> PodInfo | None:
        pod = self.pods.pop(key, None)
        if pod is not None:
            self.pods_with_affinity.pop(key, None)
            self.pods_with_required_anti_affinity.pop(key, None)
            self._account(pod, -1)
        return pod

    def _account(self, pod: PodInfo, sign: int) -> None:
        for name, value in pod.requests.items():
            self.requested[name] = self.requested.get(name, 0) + sign * value
        nz = pod.non_zero_requests
        self.non_zero_requested[CPU] += sign * nz[CPU]
        self.non_zero_requested[MEMORY] += sign * nz[MEMORY]
        for ip, proto, port in pod.ports:
            ips = self.used_ports.setdefault((proto, port), {})
            ips[ip] = ips.get(ip, 0) + sign
            if ips[ip] <= 0:
                del ips[ip]
                if not ips:
                    del self.used_ports[(proto, port)]
        self.generation = next(_generation)

    def port_conflicts(self, wanted: Sequence[HostPort]) -> bool:
        """True when a wanted host port is taken: same ip, or 0.0.0.0 on either side."""
        for ip, proto, port in wanted:
            ips = self.used_ports.get((proto, port))
            if ips and (ip == "0.0.0.0" or ip in ips or "0.0.0.0" in ips):
                return True
        return False

    def clone(self) -> NodeInfo:
        """A copy whose pods can be removed (preemption's what-if) without touching this one."""
        copy = NodeInfo.__new__(NodeInfo)
        copy.node, copy.name, copy.labels, copy.taints = (
            self.node,
            self.name,
            self.labels,
            self.taints,
        )
        copy.unschedulable = self.unschedulable
        copy.allocatable = self.allocatable
        copy.image_states = self.image_states
        copy.pods = dict(self.pods)
        copy.pods_with_affinity = dict(self.pods_with_affinity)
        copy.pods_with_required_anti_affinity = dict(self.pods_with_required_anti_affinity)
        copy.requested = dict(self.requested)
        copy.non_zero_requested = dict(self.non_zero_requested)
        copy.used_ports = {k: dict(v) for k, v in self.used_ports.items()}
        copy.generation = self.generation
        return copy

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)})"


# ---- the cluster view plugins get ------------------------------------------------


@dataclass
class Snapshot:
    """The nodes of one scheduling cycle, in a stable order, and by name."""

    node_infos: list[NodeInfo] = field(default_factory=list)
    by_name: dict[str, NodeInfo] = field(default_factory=dict)
    # image name -> number of nodes holding it; counted on first use, dropped on node change.
    image_nodes: dict[str, int] | None = None
    # names of nodes running pods with (anti-)affinity terms; built on first use
    affinity_nodes: set[str] | None = None
    anti_affinity_nodes: set[str] | None = None

    @classmethod
    def of(cls, node_infos: Iterable[NodeInfo]) -> Snapshot:
        infos = list(node_infos)
        return cls(infos, {n.name: n for n in infos})

    def get(self, name: str) -> NodeInfo | None:
        return self.by_name.get(name)

    def __iter__(self) -> Iterator[NodeInfo]:
        return iter(self.node_infos)

    def __len__(self) -> int:
        return len(self.node_infos)

    def image_num_nodes(self, image: str) -> int:
        if self.image_nodes is None:
            counts: dict[str, int] = {}
            for node in self.node_infos:
                for name in node.image_states:
                    counts[name] = counts.get(name, 0) + 1
            self.image_nodes = counts
        return self.image_nodes.get(image, 0)

    def have_pods_with_affinity(self) -> list[NodeInfo]:
        if self.affinity_nodes is None:
            self.affinity_nodes = {n.name for n in self.node_infos if n.pods_with_affinity}
        return [self.by_name[name] for name in self.affinity_nodes if name in self.by_name]

    def have_pods_with_required_anti_affinity(self) -> list[NodeInfo]:
        if self.anti_affinity_nodes is None:
            self.anti_affinity_nodes = {
                n.name for n in self.node_infos if n.pods_with_required_anti_affinity
            }
        return [self.by_name[name] for name in self.anti_affinity_nodes if name in self.by_name]

    def node_pods_changed(self, node: NodeInfo) -> None:
        """Keep the affinity indexes right after pods were added to or removed from ``node``
        (the cache calls this, so a cycle does not rescan every node for them)."""
        for index, present in (
            (self.affinity_nodes, bool(node.pods_with_affinity)),
            (self.anti_affinity_nodes, bool(node.pods_with_required_anti_affinity)),
        ):
            if index is None:
                continue
            if present:
                index.add(node.name)
            else:
                index.discard(node.name)


@dataclass
class PostFilterResult:
    """What preemption decided: the node to nominate and the pods to evict there."""

    nominated_node_name: str = ""
    victims: list[PodInfo] = field(default_factory=list)


class Handle(Protocol):
    """What the framework offers plugins beyond the pod and the node."""

    @property
    def snapshot(self) -> Snapshot: ...

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        """Every enabled filter (with nominated pods taken into account): preemption's
        "would it fit if these pods were gone?" question."""
        ...

    def run_remove_pod(
        self, state: CycleState, pod: PodInfo, victim: PodInfo, node: NodeInfo
    ) -> None:
        """Tell pre_filter state that ``victim`` left ``node`` (PreFilterExtensions.RemovePod)."""
        ...

    def run_add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        """Tell pre_filter state that ``other`` joined ``node`` (PreFilterExtensions.AddPod)."""
        ...

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        """Labels of a namespace (for namespaceSelector); None when it is unknown."""
        ...

    def default_spread_selector(self, pod: Obj) -> selectors.Selector:
        """The selector of the Services/ReplicaSets/StatefulSets/RCs that own ``pod``
        (what PodTopologySpread's cluster defaults count); nothing if none."""
        ...


@dataclass
class StaticHandle:
    """A Handle over fixed data: for unit tests and the benchmark's pure cycle."""

    snapshot: Snapshot = field(default_factory=Snapshot)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    spread_selectors: list[selectors.Selector] = field(default_factory=list)

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        return self.namespaces.get(namespace, {})

    def default_spread_selector(self, pod: Obj) -> selectors.Selector:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        for sel in self.spread_selectors:
            if sel.matches(labels):
                return sel
        return selectors.Selector.nothing()

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return SUCCESS

    def run_remove_pod(
        self, state: CycleState, pod: PodInfo, victim: PodInfo, node: NodeInfo
    ) -> None:
        return None

    def run_add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        return None


# ---- extension points ------------------------------------------------------------------


@runtime_checkable
class PreFilterPlugin(Protocol):
    """Once per pod before any filter: compute per-pod facts; SKIP to opt out."""

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Snapshot) -> Status: ...


@runtime_checkable
class FilterPlugin(Protocol):
    """Per node: may the pod run there? Synchronous, pure, no I/O."""

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status: ...


@runtime_checkable
class PostFilterPlugin(Protocol):
    """When no node passed: try to make room (preemption). SUCCESS comes with the
    node to nominate and the victims to evict; the scheduler does the evicting."""

    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: Mapping[str, Status]
    ) -> tuple[Status, PostFilterResult | None]: ...


@runtime_checkable
class PreScorePlugin(Protocol):
    """Once per pod over the feasible nodes; SKIP to opt out of scoring."""

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status: ...


@runtime_checkable
class ScorePlugin(Protocol):
    """Per feasible node: an integer, 0..100 after normalization."""

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int: ...


@runtime_checkable
class NormalizePlugin(Protocol):
    """Rescale a plugin's raw scores (aligned with the nodes list) into 0..100, in place."""

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None: ...


@runtime_checkable
class ReservePlugin(Protocol):
    """After a node is chosen and before binding; ``unreserve`` undoes it on failure."""

    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status: ...

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None: ...


@runtime_checkable
class BindPlugin(Protocol):
    """The only asynchronous point: write the decision to the API server."""

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status: ...


def default_normalize(scores: list[int], reverse: bool = False) -> None:
    """Scale so the highest becomes 100 (``helper.DefaultNormalizeScore``); with
    ``reverse``, the highest becomes 0 and an all-zero list becomes all 100."""
    top = max(scores, default=0)
    if top == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    for i, s in enumerate(scores):
        s = MAX_NODE_SCORE * s // top
        scores[i] = MAX_NODE_SCORE - s if reverse else s


# ---- tolerations (shared by TaintToleration, NodeUnschedulable and preemption) ----


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """``Toleration.ToleratesTaint``: effect (empty = all), key (empty + Exists = all), value."""
    effect = toleration.get("effect", "")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key", "")
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerated(tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def pod_tolerations(pod: PodInfo) -> list[Obj]:
    return (pod.pod.get("spec") or {}).get("tolerations") or []


def allocation(pod: PodInfo, node: NodeInfo, resource: str, use_requested: bool) -> tuple[int, int]:
    """(allocatable, requested including the pod) of one resource, for the resource scorers.

    Scoring counts best-effort containers at 100m/200Mi unless ``use_requested``
    (``NodeInfo.NonZeroRequested`` upstream). An extended resource the pod does
    not ask for is (0, 0), so it does not dilute the score.
    """
    if resource in (CPU, MEMORY) and not use_requested:
        return node.allocatable.get(resource, 0), (
            node.non_zero_requested[resource] + pod.non_zero_requests[resource]
        )
    want = pod.requests.get(resource, 0)
    if want == 0 and is_scalar_resource(resource):
        return 0, 0
    return node.allocatable.get(resource, 0), node.requested.get(resource, 0) + want


# ---- node selectors (NodeAffinity, PodTopologySpread and preemption all need them) ----

_NODE_OPS = {
    "In": selectors.Operator.IN,
    "NotIn": selectors.Operator.NOT_IN,
    "Exists": selectors.Operator.EXISTS,
    "DoesNotExist": selectors.Operator.DOES_NOT_EXIST,
    "Gt": selectors.Operator.GREATER_THAN,
    "Lt": selectors.Operator.LESS_THAN,
}


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    """One nodeSelectorTerm: matchExpressions on labels AND matchFields on metadata.name.

    A term with no requirements, or with an unknown operator, matches nothing
    (upstream turns a parse error into "no match" for that term).
    """

    labels: tuple[selectors.Requirement, ...]
    fields: tuple[selectors.Requirement, ...]
    valid: bool

    @classmethod
    def parse(cls, term: Mapping[str, Any]) -> NodeSelectorTerm:
        valid = True

        def reqs(items: Sequence[Mapping[str, Any]]) -> tuple[selectors.Requirement, ...]:
            nonlocal valid
            out = []
            for item in items:
                op = _NODE_OPS.get(item.get("operator", ""))
                if op is None:
                    valid = False
                    continue
                out.append(
                    selectors.Requirement(item.get("key", ""), op, tuple(item.get("values") or ()))
                )
            return tuple(out)

        labels = reqs(term.get("matchExpressions") or [])
        fields = reqs(term.get("matchFields") or [])
        return cls(labels, fields, valid and bool(labels or fields))

    def matches(self, node: NodeInfo) -> bool:
        if not self.valid:
            return False
        if not all(r.matches(node.labels) for r in self.labels):
            return False
        if self.fields:
            node_fields = {"metadata.name": node.name}
            return all(r.matches(node_fields) for r in self.fields)
        return True


@dataclass(frozen=True, slots=True)
class RequiredNodeAffinity:
    """``spec.nodeSelector`` AND ``requiredDuringScheduling...nodeSelectorTerms`` (terms ORed).

    ``GetRequiredNodeAffinity(pod).Match(node)`` upstream: what NodeAffinity
    filters on, and which nodes PodTopologySpread counts (nodeAffinityPolicy Honor).
    """

    node_selector: tuple[tuple[str, str], ...]
    terms: tuple[NodeSelectorTerm, ...] | None

    @classmethod
    def of(cls, pod: Mapping[str, Any]) -> RequiredNodeAffinity:
        spec = pod.get("spec") or {}
        node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
        required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        terms = None
        if required is not None:
            terms = tuple(
                NodeSelectorTerm.parse(t) for t in required.get("nodeSelectorTerms") or []
            )
        return cls(tuple(sorted((spec.get("nodeSelector") or {}).items())), terms)

    @property
    def empty(self) -> bool:
        return not self.node_selector and self.terms is None

    def matches(self, node: NodeInfo) -> bool:
        labels = node.labels
        for key, value in self.node_selector:
            if labels.get(key) != value:
                return False
        if self.terms is None:
            return True
        return any(term.matches(node) for term in self.terms)


def untolerated_hard_taint(node: NodeInfo, tolerations: Sequence[Mapping[str, Any]]) -> Obj | None:
    """The first NoSchedule/NoExecute taint of ``node`` that ``tolerations`` do not tolerate."""
    for taint in node.taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(tolerations, taint):
            return taint
    return None


# ---- FailedScheduling ----------------------------------------------------------------


@dataclass
class FitError(Exception):
    """No node fits: why, per node. ``str()`` is upstream's message, word for word:

    ``0/3 nodes are available: 1 node(s) had untolerated taint {k: }, 2 Insufficient
    cpu. preemption: 0/3 nodes are available: ...`` - each distinct reason with the
    number of nodes that gave it, sorted as strings (so "1 ..." before "2 ..."),
    after any PreFilter message, followed by the PostFilter (preemption) message.
    """

    num_all_nodes: int
    statuses: dict[str, Status] = field(default_factory=dict)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def __str__(self) -> str:
        message = f"0/{self.num_all_nodes} nodes are available:"
        if self.pre_filter_msg:
            message += f" {self.pre_filter_msg}."
        else:
            histogram: dict[str, int] = {}
            for status in self.statuses.values():
                for reason in status.reasons:
                    histogram[reason] = histogram.get(reason, 0) + 1
            parts = sorted(f"{count} {reason}" for reason, count in histogram.items())
            if parts:
                message += f" {', '.join(parts)}."
        if self.post_filter_msg:
            message += f" {self.post_filter_msg}"
        return message
