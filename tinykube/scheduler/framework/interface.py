"""What plugins implement (one Protocol per extension point) and what they are given
(``Snapshot``, ``Handle``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tinykube.api import selectors
from tinykube.scheduler.framework.status import SUCCESS, CycleState, Status
from tinykube.scheduler.framework.types import NodeInfo, PodInfo

Obj = dict[str, Any]

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


class VolumeObjects(Protocol):
    """The storage objects VolumeBinding reads: claims, volumes and classes, by name."""

    def persistent_volume_claim(self, namespace: str, name: str) -> Obj | None: ...

    def persistent_volume(self, name: str) -> Obj | None: ...

    def persistent_volumes(self) -> Sequence[Obj]: ...

    def storage_class(self, name: str) -> Obj | None: ...


@dataclass
class StaticVolumes:
    """``VolumeObjects`` over fixed dicts (claims keyed ``namespace/name``)."""

    claims: dict[str, Obj] = field(default_factory=dict)
    volumes: dict[str, Obj] = field(default_factory=dict)
    classes: dict[str, Obj] = field(default_factory=dict)

    def persistent_volume_claim(self, namespace: str, name: str) -> Obj | None:
        return self.claims.get(f"{namespace}/{name}")

    def persistent_volume(self, name: str) -> Obj | None:
        return self.volumes.get(name)

    def persistent_volumes(self) -> Sequence[Obj]:
        return list(self.volumes.values())

    def storage_class(self, name: str) -> Obj | None:
        return self.classes.get(name)


class Handle(Protocol):
    """What the framework offers plugins beyond the pod and the node."""

    @property
    def volumes(self) -> VolumeObjects:
        """PersistentVolumeClaims, PersistentVolumes and StorageClasses (VolumeBinding)."""
        ...

    @property
    def snapshot(self) -> Snapshot: ...

    def pod_disruption_budgets(self) -> Sequence[Obj]:
        """The cluster's PodDisruptionBudgets (preemption avoids breaking them)."""
        ...

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
    pdbs: list[Obj] = field(default_factory=list)
    volumes: StaticVolumes = field(default_factory=StaticVolumes)

    def pod_disruption_budgets(self) -> Sequence[Obj]:
        return self.pdbs

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
