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
- ``run_post_filter``, ``run_pre_score``, ``run_score`` (score, normalize,
  weight, sum).

It is also the ``Handle`` plugins receive, so preemption can re-run the filters.
Everything here is synchronous: a scheduling cycle does not await until bind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

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
    Status,
)

Obj = dict[str, Any]

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
        nominated_pods: Callable[[str], Sequence[PodInfo]] = lambda node: (),
    ) -> None:
        self.profile = profile
        self._snapshot = snapshot
        self._namespace_labels = namespace_labels
        self._spread_selector = spread_selector
        self._nominated = nominated_pods
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

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        return self._namespace_labels(namespace)

    def default_spread_selector(self, pod: Obj) -> selectors.Selector:
        return self._spread_selector(pod)

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
        return SUCCESS

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        nominated = self._nominated(node.name) if self._nominated else ()
        if nominated:
            status = self._filters_with_nominated(state, pod, node, nominated)
            if not status.success:
                return status
        return self.filter_node(state, pod, node)

    def filter_node(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        skip = state.skip_filter
        for name, filter_ in self.filters:
            if name in skip:
                continue
            status = filter_(state, pod, node)
            if status is not SUCCESS and not status.success:
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
        totals = [0] * len(nodes)
        active = []
        for name, pre_score in self.pre_score:
            status = pre_score(state, pod, nodes)
            if status.code is Code.SKIP:
                state.skip_score.add(name)
        for name, score in self.scorers:
            if name not in state.skip_score:
                active.append((name, score))
        for name, score in active:
            scores = [score(state, pod, node) for node in nodes]
            normalize = self.normalizers.get(name)
            if normalize is not None:
                normalize(state, pod, scores)
            weight = self.weights.get(name, 1)
            for i, s in enumerate(scores):
                totals[i] += s * weight
        return totals
