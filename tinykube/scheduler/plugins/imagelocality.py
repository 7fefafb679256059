"""ImageLocality: prefer nodes that already hold the pod's images, so it starts sooner.

Each image present on the node adds its size, scaled by the fraction of
nodes that have it (an image on every node is no reason to pick one of them:
that is upstream's guard against herding pods onto one node). The sum is
clamped between 23 MiB and 1000 MiB per container and mapped to 0..100.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tinykube.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    SUCCESS,
    CycleState,
    Handle,
    NodeInfo,
    PodInfo,
    Status,
    normalized_image_name,
)

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def images(pod: PodInfo) -> list[str]:
    spec = pod.pod.get("spec") or {}
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    return [normalized_image_name(c.get("image", "")) for c in containers]


def scaled_score(sum_scores: int, num_containers: int) -> int:
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    clamped = min(max(sum_scores, MIN_THRESHOLD), max_threshold)
    return MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        """SKIP when no node reports any image (simulated nodes): every score would be 0."""
        snapshot = self.handle.snapshot
        if not any(snapshot.image_num_nodes(name) for name in images(pod)):
            return SKIP
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if not node.image_states:
            return 0
        snapshot = self.handle.snapshot
        total_nodes = len(snapshot)
        names = images(pod)
        total = 0
        for name in names:
            image = node.image_states.get(name)
            if image is not None and total_nodes:
                spread = snapshot.image_num_nodes(name) / total_nodes
                total += int(image.size * spread)
        return scaled_score(total, len(names))


def new(args: Mapping[str, Any] | None, handle: Handle) -> ImageLocality:
    return ImageLocality(handle)
