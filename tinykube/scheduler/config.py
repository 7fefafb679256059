"""``--config``: a KubeSchedulerConfiguration, reduced to what tinykube's scheduler uses.

The file has upstream's shape (``kubescheduler.config.k8s.io/v1``)::

    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    percentageOfNodesToScore: 0          # 0 = upstream's adaptive default
    profiles:
    - schedulerName: default-scheduler
      plugins:
        multiPoint: {enabled: [...], disabled: [...]}
        score:
          disabled: [{name: NodeResourcesBalancedAllocation}]
          enabled: [{name: ImageLocality, weight: 5}]
      pluginConfig:
      - name: NodeResourcesFit
        args: {scoringStrategy: {type: MostAllocated}}

Plugins resolve as upstream's ``multiPoint`` does: the default list (below,
in upstream's order and weights), minus ``multiPoint.disabled`` (``"*"`` drops
every default), plus ``multiPoint.enabled``; then each extension point takes
those that implement it, minus its own ``disabled``, plus its own
``enabled``, whose weight wins. Unknown plugin names are an error at start-up.

``num_nodes_to_find`` is ``numFeasibleNodesToFind``: all nodes below 100;
otherwise ``50 - nodes/125`` percent, at least 5%, and at least 100 nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_SCHEDULER_NAME = "default-scheduler"
API_VERSION = "kubescheduler.config.k8s.io/v1"
EXTENSION_POINTS = (
    "preFilter",
    "filter",
    "postFilter",
    "preScore",
    "score",
    "reserve",
    "bind",
)
# (name, weight) in upstream's default v1 profile order; weight matters for score only.
DEFAULT_PLUGINS: tuple[tuple[str, int], ...] = (
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("VolumeBinding", 0),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
)
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
DEFAULT_PERCENTAGE_BASE = 50


class ConfigError(ValueError):
    """The configuration file is malformed or names what does not exist."""


@dataclass
class Profile:
    """One scheduler profile: a scheduler name and its resolved plugin lists."""

    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    # extension point -> [(plugin, weight)], in run order
    plugins: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    plugin_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    percentage_of_nodes_to_score: int | None = None

    def names(self) -> list[str]:
        """Every plugin the profile uses, each once, in first-use order."""
        seen: dict[str, None] = {}
        for point in EXTENSION_POINTS:
            for name, _ in self.plugins.get(point, []):
                seen.setdefault(name, None)
        return list(seen)


@dataclass
class SchedulerConfig:
    profiles: list[Profile] = field(default_factory=lambda: [default_profile()])
    percentage_of_nodes_to_score: int = 0
    leader_elect: bool = True
    lease_name: str = "kube-scheduler"
    lease_namespace: str = "kube-system"

    def profile(self, scheduler_name: str) -> Profile | None:
        for profile in self.profiles:
            if profile.scheduler_name == scheduler_name:
                return profile
        return None


def _entries(block: Mapping[str, Any] | None, key: str) -> list[Mapping[str, Any]]:
    return list(((block or {}).get(key)) or [])


def resolve_plugins(
    plugins: Mapping[str, Any] | None, implements: Mapping[str, set[str]]
) -> dict[str, list[tuple[str, int]]]:
    """Per extension point, the ordered (name, weight) list. ``implements`` maps a
    point to the plugin names that have it (from the plugin table)."""
    plugins = plugins or {}
    multi = plugins.get("multiPoint") or {}
    disabled = {e.get("name") for e in _entries(multi, "disabled")}
    base = [] if "*" in disabled else [(n, w) for n, w in DEFAULT_PLUGINS if n not in disabled]
    for entry in _entries(multi, "enabled"):
        base = [(n, w) for n, w in base if n != entry["name"]]
        base.append((entry["name"], int(entry.get("weight") or 0)))
    out: dict[str, list[tuple[str, int]]] = {}
    for point in EXTENSION_POINTS:
        own = plugins.get(point) or {}
        off = {e.get("name") for e in _entries(own, "disabled")}
        chosen = [] if "*" in off else [(n, w) for n, w in base if n not in off]
        chosen = [(n, w) for n, w in chosen if n in implements.get(point, set())]
        for entry in _entries(own, "enabled"):
            name, weight = entry["name"], int(entry.get("weight") or 0)
            known = dict(chosen)
            if name in known:
                chosen = [(n, weight or w) if n == name else (n, w) for n, w in chosen]
            else:
                chosen.append((name, weight))
        if point == "score":
            chosen = [(n, w or 1) for n, w in chosen]
        out[point] = chosen
    return out


def default_profile(implements: Mapping[str, set[str]] | None = None) -> Profile:
    return Profile(plugins=resolve_plugins(None, implements or _implements()))


def _implements() -> dict[str, set[str]]:
    # Imported late: config parsing must not depend on plugin import order.
    from tinykube.scheduler.runtime import plugin_points

    return plugin_points()


def parse(doc: Mapping[str, Any]) -> SchedulerConfig:
    """A KubeSchedulerConfiguration dict as a ``SchedulerConfig``."""
    if doc.get("kind", "KubeSchedulerConfiguration") != "KubeSchedulerConfiguration":
        raise ConfigError(f"kind {doc.get('kind')!r} is not KubeSchedulerConfiguration")
    implements = _implements()
    known = set().union(*implements.values())
    percentage = int(doc.get("percentageOfNodesToScore") or 0)
    if not 0 <= percentage <= 100:
        raise ConfigError("percentageOfNodesToScore: must be in the range [0, 100]")
    profiles = []
    for raw in doc.get("profiles") or [{}]:
        profile = Profile(
            scheduler_name=raw.get("schedulerName") or DEFAULT_SCHEDULER_NAME,
            plugins=resolve_plugins(raw.get("plugins"), implements),
            percentage_of_nodes_to_score=raw.get("percentageOfNodesToScore"),
        )
        for entry in raw.get("pluginConfig") or []:
            profile.plugin_args[entry["name"]] = dict(entry.get("args") or {})
        unknown = [n for n in profile.names() if n not in known]
        if unknown:
            raise ConfigError(f"profile {profile.scheduler_name}: unknown plugins {unknown}")
        profiles.append(profile)
    names = [p.scheduler_name for p in profiles]
    if len(set(names)) != len(names):
        raise ConfigError("profiles: duplicate schedulerName")
    election = doc.get("leaderElection") or {}
    return SchedulerConfig(
        profiles=profiles,
        percentage_of_nodes_to_score=percentage,
        leader_elect=bool(election.get("leaderElect", True)),
        lease_name=election.get("resourceName") or "kube-scheduler",
        lease_namespace=election.get("resourceNamespace") or "kube-system",
    )


def load(path: str | Path | None) -> SchedulerConfig:
    """The configuration in ``path``; the defaults when there is none."""
    if path is None:
        return SchedulerConfig()
    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from err
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: not a KubeSchedulerConfiguration")
    return parse(doc)


def num_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes to look for before scoring (``numFeasibleNodesToFind``)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND or percentage >= 100:
        return num_all_nodes
    adaptive = percentage
    if adaptive <= 0:
        adaptive = DEFAULT_PERCENTAGE_BASE - num_all_nodes // 125
        adaptive = max(adaptive, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    found = num_all_nodes * adaptive // 100
    return max(found, MIN_FEASIBLE_NODES_TO_FIND)
