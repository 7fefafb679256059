"""Container runtimes, chosen by name (``--runtime``) from one explicit table.

The runtimes do not import each other; each is loaded only when asked for, so
the simulated kubelet never pays for the process runtime's imports.
"""

from __future__ import annotations

import importlib

from tinykube.kubelet.runtime.interface import Runtime, RuntimeOptions

# name -> "module:ClassName"
RUNTIMES: dict[str, str] = {
    "process": "tinykube.kubelet.runtime.process:ProcessRuntime",
    "simulated": "tinykube.kubelet.runtime.simulated:SimulatedRuntime",
}


def new_runtime(name: str, options: RuntimeOptions) -> Runtime:
    """The runtime registered under ``name``, configured with ``options``."""
    try:
        target = RUNTIMES[name]
    except KeyError:
        raise ValueError(f"unknown runtime {name!r}; choose one of {sorted(RUNTIMES)}") from None
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    runtime: Runtime = cls(options)
    return runtime


__all__ = ["RUNTIMES", "Runtime", "RuntimeOptions", "new_runtime"]
