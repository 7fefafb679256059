"""What every ``create`` generator shares: the object's metadata and its NAME argument.

The namespace is written into the object only when ``-n`` was given, as
kubectl's ``EnforceNamespace`` does.
"""

from __future__ import annotations

from typing import Any

from tinykube.kubectl.errors import CommandError

Obj = dict[str, Any]


def object_meta(f: Any, name: str, labels: Obj | None = None, namespaced: bool = True) -> Obj:
    meta: Obj = {}
    if labels:
        meta["labels"] = labels
    meta["name"] = name
    if namespaced and f.explicit_namespace:
        meta["namespace"] = f.namespace
    return meta


def name_arg(args: list[str], what: str) -> str:
    if not args:
        raise CommandError("NAME is required")
    if len(args) > 1:
        raise CommandError(f"exactly one NAME is required, got {len(args)}")
    return args[0]
