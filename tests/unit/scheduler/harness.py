"""Run one plugin's extension points the way the framework does, on hand-built objects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tinykube.scheduler import plugins
from tinykube.scheduler.framework import (
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    Snapshot,
    StaticHandle,
    Status,
)

Obj = dict[str, Any]


def snapshot(nodes: Iterable[Obj], pods: Iterable[Obj] = ()) -> Snapshot:
    infos = {n["metadata"]["name"]: NodeInfo(n) for n in nodes}
    for pod in pods:
        infos[pod["spec"]["nodeName"]].add_pod(PodInfo(pod))
    return Snapshot.of(infos.values())


def make(name: str, snap: Snapshot, args: Mapping[str, Any] | None = None, **handle: Any) -> Any:
    return plugins.build(name, args, StaticHandle(snap, **handle))


def filter_all(
    name: str,
    pod: Obj,
    nodes: Sequence[Obj],
    pods: Iterable[Obj] = (),
    args: Mapping[str, Any] | None = None,
    **handle: Any,
) -> dict[str, Status]:
    """pre_filter then filter on every node; a pre_filter rejection applies to all nodes."""
    snap = snapshot(nodes, pods)
    plugin = make(name, snap, args, **handle)
    state, info = CycleState(), PodInfo(pod)
    if hasattr(plugin, "pre_filter"):
        status = plugin.pre_filter(state, info, snap)
        if status.code is Code.SKIP:
            return {n.name: Status() for n in snap}
        if not status.success:
            return {n.name: status for n in snap}
    return {n.name: plugin.filter(state, info, n) for n in snap}


def score_all(
    name: str,
    pod: Obj,
    nodes: Sequence[Obj],
    pods: Iterable[Obj] = (),
    args: Mapping[str, Any] | None = None,
    normalize: bool = True,
    **handle: Any,
) -> dict[str, int]:
    """pre_score, score and normalize over every node, as the framework runs them."""
    snap = snapshot(nodes, pods)
    plugin = make(name, snap, args, **handle)
    state, info = CycleState(), PodInfo(pod)
    infos = list(snap)
    if hasattr(plugin, "pre_score"):
        status = plugin.pre_score(state, info, infos)
        if status.code is Code.SKIP:
            return {n.name: 0 for n in infos}
        assert status.success, status
    scores = [plugin.score(state, info, n) for n in infos]
    if normalize and hasattr(plugin, "normalize"):
        plugin.normalize(state, info, scores)
    return {n.name: s for n, s in zip(infos, scores, strict=True)}


def reasons(statuses: Mapping[str, Status]) -> dict[str, tuple[str, ...]]:
    return {name: s.reasons for name, s in statuses.items()}


def codes(statuses: Mapping[str, Status]) -> dict[str, Code]:
    return {name: s.code for name, s in statuses.items()}
