"""The DefaultTolerationSeconds admission plugin.

Every new Pod tolerates the ``not-ready`` and ``unreachable`` NoExecute
taints for 300 seconds unless it already says something about them. This is
what lets the node lifecycle controller evict Pods from a lost node five
minutes after the node stops reporting, instead of immediately.
"""

from __future__ import annotations

from typing import Any

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300


def admit_pod(pod: dict[str, Any]) -> None:
    spec = pod.setdefault("spec", {})
    tolerations = spec.get("tolerations") or []
    added = [
        _toleration(key) for key in (NOT_READY, UNREACHABLE) if not _tolerates(tolerations, key)
    ]
    if added:
        spec["tolerations"] = [*tolerations, *added]


def _tolerates(tolerations: list[Any], key: str) -> bool:
    """An existing toleration for ``key`` (or for every key) with effect NoExecute or any."""
    return any(
        isinstance(t, dict)
        and t.get("key", "") in (key, "")
        and t.get("effect", "") in ("NoExecute", "")
        for t in tolerations
    )


def _toleration(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
    }
