"""The framework runtime: one profile's plugins, sorted into extension points, and run.

``Framework`` is upstream's ``frameworkImpl``: built once per profile from the
plugin table and the configuration, it holds, per extension point, the plugin
objects in configured order (and score weights), and runs a point for one pod:

- ``run_pre_filter``: every PreFilter; SKIP answers are remembered in the
  ``CycleState`` so those plugins' filters are not called at all; a rejection
  applies to every node.
- ``run_filters``: the filters for one node, stopping at the first that
  rejects (so a node reports one plugin's reasons, as upstream). Pods
  nominated to the node with at least this pod's priority are added first,
  because room promised to them by preemption must not be taken.
- ``run_post_filter``, ``run_score`` (pre_score, score, normalize, weight,
  sum).

**The memo** is what makes Python fast enough at thousands of nodes. Most
pods are replicas: same spec, and between two of them only the node that got
the first one changed. For plugins marked ``NODE_LOCAL`` (their answer depends
only on the pod and that one node), the verdict and raw score per (pod spec,
node, ``NodeInfo.generation``) are remembered, so the next replica pays one
dictionary lookup per unchanged node instead of every plugin. Results are
identical to running the plugins; plugins that look across nodes
(InterPodAffinity, PodTopologySpread when active) always run.

It is also the ``Handle`` plugins receive, so preemption can re-run the filters.
Everything here is synchronous: a scheduling cycle does not await until bind.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from tinykube.api import selectors
from tinykube.scheduler import plugins as registry
from tinykube.scheduler.config import Profile
from tinykube.scheduler.framework import (
    SUCCESS,
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    PostFilterResult,
    Snapshot,
    StaticVolumes,
    Status,
    VolumeObjects,
)

Obj = dict[str, Any]
_ACTIVE_FILTERS = "framework/active-filters"
_MEMO = "framework/memo"
MEMO_SPECS = 64  # distinct pod specs whose per-node results are remembered


def _container_facts(container: Obj) -> tuple[Any, ...]:
    resources = container.get("resources") or {}
    return (
        container.get("image"),
        resources.get("requests"),
        container.get("ports"),
        container.get("restartPolicy"),
    )


def node_local_signature(pod: Obj) -> bytes:
    """The pod fields node-local plugins may read, as bytes: equal bytes, equal verdicts.

    Not the whole spec: admission gives every pod its own service-account
    volume name, which no plugin reads. A node-local plugin that reads a field
    not listed here must add it, or the memo would hand it a stale answer.
    """
    spec = pod.get("spec") or {}
    facts = (
        [_container_facts(c) for c in spec.get("containers") or []],
        [_container_facts(c) for c in spec.get("initContainers") or []],
        spec.get("overhead"),
        spec.get("nodeSelector"),
        (spec.get("affinity") or {}).get("nodeAffinity"),
        spec.get("tolerations"),
        spec.get("nodeName"),
    )
    return orjson.dumps(facts, option=orjson.OPT_SORT_KEYS)


class _Memo:
    """Per node name: (generation, filter verdict) and (generation, scorers, raw scores)."""

    __slots__ = ("filters", "scores")

    def __init__(self) -> None:
        self.filters: dict[str, tuple[int, Status]] = {}
        self.scores: dict[str, tuple[int, tuple[str, ...], tuple[int, ...]]] = {}


_POINT_METHODS = {
    "preFilter": "pre_filter",
    "filter": "filter",
    "postFilter": "post_filter",
    "preScore": "pre_score",
    "score": "score",
    "reserve": "reserve",
    "bind": "bind",
}


class _Probe:
    """A stand-in handle used only to ask a plugin which methods it has."""

    snapshot = Snapshot()

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def plugin_points() -> dict[str, set[str]]:
    """Extension point -> names of the registered plugins that implement it."""
    out: dict[str, set[str]] = {point: set() for point in _POINT_METHODS}
    for name in registry.REGISTRY:
        plugin = registry.build(name, None, _Probe())  # type: ignore[arg-type]
        for point, method in _POINT_METHODS.items():
            if callable(getattr(plugin, method, None)):
                out[point].add(name)
    return out


class Framework:
    """A profile's plugins, ready to run; also the plugins' ``Handle``."""

    def __init__(
        self,
        profile: Profile,
        snapshot: Callable[[], Snapshot],
        namespace_labels: Callable[[str], dict[str, str] | None] = lambda ns: {},
        spread_selector: Callable[[Obj], selectors.Selector] = lambda pod: (
            selectors.Selector.nothing()
        ),
        nominated_pods: Callable[[str], Sequence[PodInfo]] | None = None,
        has_nominations: Callable[[], bool] | None = None,
        pdbs: Callable[[], Sequence[Obj]] = lambda: (),
        volumes: VolumeObjects | None = None,
    ) -> None:
        self.profile = profile
        self._volumes: VolumeObjects = volumes if volumes is not None else StaticVolumes()
        self._snapshot = snapshot
        self._namespace_labels = namespace_labels
        self._spread_selector = spread_selector
        self._pdbs = pdbs
        self._nominated = nominated_pods or (lambda node: ())
        if has_nominations is None:
            # Without a cheap "any nominations at all?" test, assume there may be some.
            has_nominations = (lambda: True) if nominated_pods is not None else (lambda: False)
        self._has_nominations = has_nominations
        self.instances = {
            name: registry.build(name, profile.plugin_args.get(name), self)
            for name in profile.names()
        }
        self.pre_filter = self._bind("preFilter")
        self.filters = self._bind("filter")
        self.post_filters = self._bind("postFilter")
        self.pre_score = self._bind("preScore")
        self.scorers = self._bind("score")
        self.weights = dict(profile.plugins.get("score", []))
        self.normalizers = {
            name: plugin.normalize
            for name, plugin in self.instances.items()
            if callable(getattr(plugin, "normalize", None))
        }
        self._memos: OrderedDict[bytes, _Memo] = OrderedDict()
        self._extensions = [
            p for p in self.instances.values() if callable(getattr(p, "remove_pod", None))
        ]

    def _bind(self, point: str) -> list[tuple[str, Callable[..., Any]]]:
        method = _POINT_METHODS[point]
        return [
            (name, getattr(self.instances[name], method))
            for name, _ in self.profile.plugins.get(point, [])
        ]

    # ---- Handle ----

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot()

    @property
    def volumes(self) -> VolumeObjects:
        return self._volumes

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        return self._namespace_labels(namespace)

    def default_spread_selector(self, pod: Obj) -> selectors.Selector:
        return self._spread_selector(pod)

    def pod_disruption_budgets(self) -> Sequence[Obj]:
        return self._pdbs()

    def run_remove_pod(
        self, state: CycleState, pod: PodInfo, victim: PodInfo, node: NodeInfo
    ) -> None:
        for plugin in self._extensions:
            plugin.remove_pod(state, pod, victim, node)

    def run_add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        for plugin in self._extensions:
            plugin.add_pod(state, pod, other, node)

    # ---- extension points ----

    def run_pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        snapshot = self.snapshot
        for name, pre_filter in self.pre_filter:
            status = pre_filter(state, pod, snapshot)
            if status.code is Code.SKIP:
                state.skip_filter.add(name)
            elif not status.success:
                return status.with_plugin(name)
        self._attach_memo(state, pod)
        return SUCCESS

    def _attach_memo(self, state: CycleState, pod: PodInfo) -> None:
        """Reuse per-node results of earlier pods with the same spec, where that is exact.

        Replicas of one workload share a spec, and a node that gained or lost no
        pod since (same ``NodeInfo.generation``) gives them the same filter
        verdict and the same raw scores from every *node-local* plugin (one that
        reads only the pod and that node: ``NODE_LOCAL = True``). So when every
        active filter is node-local, verdicts and node-local raw scores are
        remembered per (spec, node, generation). Plugins that look across nodes
        (InterPodAffinity, PodTopologySpread when active) always run, and turn
        the memo off for filtering. Normalization always runs on fresh lists.
        """
        active = self._active_filters(state)
        if not all(self._node_local(name) for name, _ in active):
            return
        signature = node_local_signature(pod.pod)
        memo = self._memos.get(signature)
        if memo is None:
            memo = self._memos[signature] = _Memo()
            if len(self._memos) > MEMO_SPECS:
                self._memos.popitem(last=False)
        else:
            self._memos.move_to_end(signature)
        state[_MEMO] = memo

    def remembered_verdicts(self, state: CycleState) -> dict[str, tuple[int, Status]] | None:
        """The memo's verdicts for this cycle's pod, when they may be used directly:
        node name -> (generation, status). None when there is no memo, or when
        nominated pods mean a node's verdict depends on more than the node."""
        memo: _Memo | None = state.get(_MEMO)
        if memo is None or self._has_nominations():
            return None
        return memo.filters

    def _node_local(self, name: str) -> bool:
        return bool(getattr(self.instances[name], "NODE_LOCAL", False))

    def _active_filters(self, state: CycleState) -> list[tuple[str, Callable[..., Status]]]:
        """The filters not skipped by pre_filter, worked out once per cycle."""
        active = state.get(_ACTIVE_FILTERS)
        if active is None:
            skip = state.skip_filter
            active = state[_ACTIVE_FILTERS] = [(n, f) for n, f in self.filters if n not in skip]
        return active

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if self._has_nominations():
            nominated = self._nominated(node.name)
            if nominated:
                status = self._filters_with_nominated(state, pod, node, nominated)
                if not status.success:
                    return status
        return self.filter_node(state, pod, node)

    def filter_node(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        memo: _Memo | None = state.get(_MEMO)
        if memo is None:
            return self._filter_node(state, pod, node)
        hit = memo.filters.get(node.name)
        if hit is not None and hit[0] == node.generation:
            return hit[1]
        status = self._filter_node(state, pod, node)
        memo.filters[node.name] = (node.generation, status)
        return status

    def _filter_node(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        for name, filter_ in self._active_filters(state):
            status = filter_(state, pod, node)
            # Plugins answer success with the SUCCESS singleton; the identity test is the fast path.
            if status is not SUCCESS and status.code is not Code.SUCCESS:
                return status.with_plugin(name)
        return SUCCESS

    def _filters_with_nominated(
        self, state: CycleState, pod: PodInfo, node: NodeInfo, nominated: Sequence[PodInfo]
    ) -> Status:
        others = [p for p in nominated if p.key != pod.key and p.priority >= pod.priority]
        if not others:
            return SUCCESS
        node, state = node.clone(), state.clone()
        for other in others:
            node.add_pod(other)
            self.run_add_pod(state, pod, other, node)
        return self.filter_node(state, pod, node)

    def run_post_filter(
        self, state: CycleState, pod: PodInfo, statuses: Mapping[str, Status]
    ) -> tuple[Status, PostFilterResult | None]:
        status, result = Status(Code.UNSCHEDULABLE), None
        messages = []
        for name, post_filter in self.post_filters:
            status, result = post_filter(state, pod, statuses)
            if status.success:
                return status.with_plugin(name), result
            messages.extend(status.reasons)
        return Status(Code.UNSCHEDULABLE, tuple(messages)), result

    def run_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        """The weighted total per node (aligned with ``nodes``)."""
        for name, pre_score in self.pre_score:
            if pre_score(state, pod, nodes).code is Code.SKIP:
                state.skip_score.add(name)
        active = [(n, f) for n, f in self.scorers if n not in state.skip_score]
        local = [(n, f) for n, f in active if self._node_local(n)]
        others = [(n, f) for n, f in active if not self._node_local(n)]
        columns = self._local_scores(state, pod, nodes, local)
        columns += [[score(state, pod, node) for node in nodes] for _, score in others]
        totals = [0] * len(nodes)
        for (name, _), scores in zip(local + others, columns, strict=True):
            normalize = self.normalizers.get(name)
            if normalize is not None:
                normalize(state, pod, scores)
            weight = self.weights.get(name, 1)
            totals = [t + s * weight for t, s in zip(totals, scores, strict=True)]
        return totals

    def _local_scores(
        self,
        state: CycleState,
        pod: PodInfo,
        nodes: Sequence[NodeInfo],
        local: list[tuple[str, Callable[..., int]]],
    ) -> list[list[int]]:
        """Raw scores of the node-local plugins, one list per plugin, memoised per node."""
        if not local:
            return []
        memo: _Memo | None = state.get(_MEMO)
        if memo is None:
            return [[score(state, pod, node) for node in nodes] for _, score in local]
        key = tuple(name for name, _ in local)
        rows = []
        append = rows.append
        get = memo.scores.get
        for node in nodes:
            hit = get(node.name)
            if hit is not None and hit[0] == node.generation and hit[1] == key:
                append(hit[2])
                continue
            row = tuple(score(state, pod, node) for _, score in local)
            memo.scores[node.name] = (node.generation, key, row)
            append(row)
        return [list(column) for column in zip(*rows, strict=True)]
