"""The scheduler's node-info cache: every node and the pods on it, bound or assumed.

The informers hold nodes and pods as the API server last said; the cache
holds what the *scheduler* believes, which runs ahead of the server in one
way: an **assumed** pod. Once a cycle picks a node, the pod is added to that
node's ``NodeInfo`` at once and binding proceeds asynchronously; the next
cycle, which may start before the binding's POST returns, already sees the
node's resources as taken, so two pods never double-book the last cpu. Then:

- the pod informer reports the pod with ``nodeName`` set: the assumption is
  **confirmed** (the informer's object replaces the assumed one);
- the bind fails: the scheduler calls ``forget_pod`` and the room is freed;
- neither happens within ``ttl`` seconds after ``finish_binding`` (a lost
  watch event): ``cleanup_expired`` drops the assumption, as upstream's
  ``cleanupAssumedPods`` does. The clock for expiry starts only after binding
  finished, so a slow API server cannot expire a pod mid-bind.

A scheduling cycle reads the cache without copying it. That is sound
because a cycle is synchronous from snapshot to assume: no informer event can
be applied in the middle of it on a single event loop. ``snapshot()``
returns a live view (upstream copies changed ``NodeInfo``s by generation
instead, because its informers run on other goroutines).

Pods in a terminal phase (Succeeded, Failed) take nothing from a node and are
kept out of the cache.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from tinykube.client.clock import REAL_CLOCK, Clock
from tinykube.scheduler.framework import NodeInfo, PodInfo, Snapshot

log = logging.getLogger(__name__)

Obj = dict[str, Any]
DEFAULT_ASSUMED_TTL = 30.0
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass
class _PodState:
    info: PodInfo
    node: str
    assumed: bool = False
    binding_finished: bool = False
    deadline: float = 0.0


def pod_key(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return meta.get("uid") or f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


class Cache:
    """Nodes and their pods; assumed pods until confirmed, forgotten or expired."""

    def __init__(self, clock: Clock = REAL_CLOCK, ttl: float = DEFAULT_ASSUMED_TTL) -> None:
        self.clock = clock
        self.ttl = ttl
        self._nodes: dict[str, NodeInfo] = {}
        self._pods: dict[str, _PodState] = {}
        self._snapshot = Snapshot()
        self._stale = True

    # ---- reads ----

    def snapshot(self) -> Snapshot:
        """The nodes known with a Node object, in a stable order (a live view)."""
        if self._stale:
            infos = [n for n in self._nodes.values() if n.node is not None]
            self._snapshot = Snapshot.of(infos)
            self._stale = False
        return self._snapshot

    def node(self, name: str) -> NodeInfo | None:
        return self._nodes.get(name)

    def is_assumed(self, key: str) -> bool:
        state = self._pods.get(key)
        return state is not None and state.assumed

    def pod_count(self) -> int:
        return len(self._pods)

    # ---- nodes ----

    def add_node(self, node: Obj) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        info = self._nodes.get(name)
        if info is None:
            self._nodes[name] = NodeInfo(node)
            self._stale = True
        else:
            if info.node is None:
                self._stale = True
            info.set_node(node)
        self._snapshot.image_nodes = None

    update_node = add_node

    def remove_node(self, node: Obj) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        info = self._nodes.get(name)
        if info is None:
            return
        if info.pods:
            info.node = None  # pods still bound there; keep the accounting until they go
        else:
            del self._nodes[name]
        self._stale = True
        self._snapshot.image_nodes = None

    def _node_for(self, name: str) -> NodeInfo:
        info = self._nodes.get(name)
        if info is None:
            info = self._nodes[name] = NodeInfo()
            info.name = name
        return info

    # ---- pods seen by the informer ----

    def add_pod(self, pod: Obj) -> None:
        """A bound pod from the informer; confirms an assumption of the same pod."""
        if is_terminal(pod):
            self.remove_pod(pod)
            return
        key = pod_key(pod)
        node = (pod.get("spec") or {}).get("nodeName", "")
        state = self._pods.get(key)
        info = PodInfo(pod)
        if state is not None and state.node == node:
            target = self._nodes.get(node)
            if target is not None and target.replace_pod(info):
                self._pods[key] = _PodState(info, node)
                return
        if state is not None:
            self._detach(key, state)
        target = self._node_for(node)
        target.add_pod(info)
        self._snapshot.node_pods_changed(target)
        self._pods[key] = _PodState(info, node)

    update_pod = add_pod

    def remove_pod(self, pod: Obj) -> None:
        key = pod_key(pod)
        state = self._pods.pop(key, None)
        if state is not None:
            self._detach(key, state)

    def _detach(self, key: str, state: _PodState) -> None:
        info = self._nodes.get(state.node)
        if info is None:
            return
        info.remove_pod(key)
        self._snapshot.node_pods_changed(info)
        if info.node is None and not info.pods:
            del self._nodes[state.node]

    # ---- assumptions ----

    def assume_pod(self, info: PodInfo, node: str) -> None:
        """Count ``info`` on ``node`` now, before the API server has the binding."""
        if info.key in self._pods:
            raise ValueError(f"pod {info.namespace}/{info.name} is already in the cache")
        info.node_name = node
        target = self._node_for(node)
        target.add_pod(info)
        self._snapshot.node_pods_changed(target)
        self._pods[info.key] = _PodState(info, node, assumed=True)

    def finish_binding(self, key: str) -> None:
        """The binding was written: start the expiry clock of the assumption."""
        state = self._pods.get(key)
        if state is not None and state.assumed:
            state.binding_finished = True
            state.deadline = self.clock.now() + self.ttl

    def forget_pod(self, key: str) -> None:
        """The binding failed: give the room back."""
        state = self._pods.get(key)
        if state is not None and state.assumed:
            del self._pods[key]
            self._detach(key, state)

    def cleanup_expired(self) -> int:
        """Drop assumptions whose binding finished ``ttl`` ago but never showed up."""
        now = self.clock.now()
        expired = [
            key
            for key, s in self._pods.items()
            if s.assumed and s.binding_finished and s.deadline <= now
        ]
        for key in expired:
            state = self._pods.pop(key)
            log.warning(
                "assumed pod %s/%s expired on node %s",
                state.info.namespace,
                state.info.name,
                state.node,
            )
            self._detach(key, state)
        return len(expired)
