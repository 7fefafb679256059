"""The in-tree plugins: one module per plugin, and the one table naming them.

Each module exports ``NAME`` and either plain functions for the extension
points it implements (``filter``, ``score``, ...) or a ``new(args, handle)``
factory returning an object with those methods, for plugins that take
arguments or read the cluster. ``REGISTRY`` is written out by hand and sorted,
as upstream's ``plugins/registry.go`` is: importing a module registers
nothing, and a reader sees every plugin in one place.

Plugins import only ``tinykube.scheduler.framework``, ``tinykube.api`` and the
standard library; never each other (the independence contract).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from tinykube.scheduler.framework import Handle
from tinykube.scheduler.plugins import (
    defaultpreemption,
    imagelocality,
    interpodaffinity,
    nodeaffinity,
    nodename,
    nodeports,
    noderesourcesbalancedallocation,
    noderesourcesfit,
    nodeunschedulable,
    podtopologyspread,
    tainttoleration,
    volumebinding,
)

REGISTRY: dict[str, ModuleType] = {
    defaultpreemption.NAME: defaultpreemption,
    imagelocality.NAME: imagelocality,
    interpodaffinity.NAME: interpodaffinity,
    nodeaffinity.NAME: nodeaffinity,
    nodename.NAME: nodename,
    nodeports.NAME: nodeports,
    noderesourcesbalancedallocation.NAME: noderesourcesbalancedallocation,
    noderesourcesfit.NAME: noderesourcesfit,
    nodeunschedulable.NAME: nodeunschedulable,
    podtopologyspread.NAME: podtopologyspread,
    tainttoleration.NAME: tainttoleration,
    volumebinding.NAME: volumebinding,
}


def build(name: str, args: Mapping[str, Any] | None, handle: Handle) -> Any:
    """An instance of plugin ``name``: its ``new(args, handle)``, or the module itself."""
    try:
        module = REGISTRY[name]
    except KeyError:
        raise ValueError(f"plugin {name!r} is not registered") from None
    factory = getattr(module, "new", None)
    return factory(args, handle) if factory is not None else module


__all__ = ["REGISTRY", "build"]
