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
- ``Snapshot`` and ``Handle``: the read-only cluster view plugins get
  (``Handle.volumes``: claims, volumes and classes, for VolumeBinding).
- Protocols for each extension point.

Objects are the API's plain dicts throughout; nothing here changes one.
"""

from tinykube.scheduler.framework.interface import (
    BindPlugin,
    FilterPlugin,
    Handle,
    NormalizePlugin,
    PostFilterPlugin,
    PostFilterResult,
    PreFilterPlugin,
    PreScorePlugin,
    ReservePlugin,
    ScorePlugin,
    Snapshot,
    StaticHandle,
    StaticVolumes,
    VolumeObjects,
)
from tinykube.scheduler.framework.resources import (
    CPU,
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    EPHEMERAL_STORAGE,
    MEMORY,
    PODS,
    Resources,
    is_scalar_resource,
    pod_requests,
    resource_list,
)
from tinykube.scheduler.framework.selection import (
    NodeSelectorTerm,
    RequiredNodeAffinity,
    pod_tolerations,
    tolerated,
    tolerates,
    untolerated_hard_taint,
)
from tinykube.scheduler.framework.status import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    SKIP,
    SUCCESS,
    Code,
    CycleState,
    FitError,
    Status,
    default_normalize,
    error,
    unresolvable,
    unschedulable,
)
from tinykube.scheduler.framework.types import (
    AffinityTerm,
    HostPort,
    ImageState,
    NodeInfo,
    PodInfo,
    host_ports,
    normalized_image_name,
)

__all__ = [
    "CPU",
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "EPHEMERAL_STORAGE",
    "MAX_NODE_SCORE",
    "MEMORY",
    "MIN_NODE_SCORE",
    "PODS",
    "SKIP",
    "SUCCESS",
    "AffinityTerm",
    "BindPlugin",
    "Code",
    "CycleState",
    "FilterPlugin",
    "FitError",
    "Handle",
    "HostPort",
    "ImageState",
    "NodeInfo",
    "NodeSelectorTerm",
    "NormalizePlugin",
    "PodInfo",
    "PostFilterPlugin",
    "PostFilterResult",
    "PreFilterPlugin",
    "PreScorePlugin",
    "RequiredNodeAffinity",
    "ReservePlugin",
    "Resources",
    "ScorePlugin",
    "Snapshot",
    "StaticHandle",
    "StaticVolumes",
    "Status",
    "VolumeObjects",
    "default_normalize",
    "error",
    "host_ports",
    "is_scalar_resource",
    "normalized_image_name",
    "pod_requests",
    "pod_tolerations",
    "resource_list",
    "tolerated",
    "tolerates",
    "unresolvable",
    "unschedulable",
    "untolerated_hard_taint",
]
