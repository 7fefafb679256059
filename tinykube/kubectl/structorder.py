"""Go struct field order, for objects tkctl builds itself.

kubectl prints objects that came from the server with sorted keys (they are
maps), but objects its generators built (``create deployment --dry-run=client
-o json``) are Go structs, and encoding/json writes struct fields in
declaration order. YAML is unaffected (it is sorted either way). This table
knows the declaration order of the fields generators fill in; a key it does
not know goes last, in sorted order.
"""

from __future__ import annotations

from typing import Any

# Declaration order of the fields generated objects use, by the parent's key.
_DEFAULT = [
    "kind",
    "apiVersion",
    "metadata",
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
    "immutable",
    "data",
    "binaryData",
    "stringData",
    "rules",
    "subjects",
    "roleRef",
    "spec",
    "status",
    "volumes",
    "initContainers",
    "containers",
    "image",
    "command",
    "args",
    "workingDir",
    "ports",
    "envFrom",
    "env",
    "resources",
    "imagePullPolicy",
    "stdin",
    "stdinOnce",
    "tty",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "dnsPolicy",
    "nodeSelector",
    "serviceAccountName",
    "scaleTargetRef",
    "minReplicas",
    "maxReplicas",
    "metrics",
    "replicas",
    "selector",
    "template",
    "strategy",
    "protocol",
    "port",
    "containerPort",
    "targetPort",
    "nodePort",
    "clusterIP",
    "type",
    "externalName",
    "schedule",
    "jobTemplate",
    "loadBalancer",
    "value",
]
_BY_PARENT = {
    "rules": ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"),
    "subjects": ("kind", "apiGroup", "name", "namespace"),
    "roleRef": ("apiGroup", "kind", "name"),
    "secret": ("kind", "apiVersion", "metadata", "immutable", "data", "stringData", "type"),
    "ports": (
        "name",
        "hostPort",
        "containerPort",
        "protocol",
        "appProtocol",
        "port",
        "targetPort",
        "nodePort",
    ),
    "env": ("name", "value", "valueFrom"),
    # HorizontalPodAutoscaler (autoscaling/v2)
    "scaleTargetRef": ("kind", "name", "apiVersion"),
    "metrics": ("type", "object", "pods", "resource", "containerResource", "external"),
    "resource": ("name", "target"),
    "target": ("type", "value", "averageValue", "averageUtilization"),
    "status": (
        "observedGeneration",
        "lastScaleTime",
        "currentReplicas",
        "desiredReplicas",
        "currentMetrics",
        "conditions",
        "loadBalancer",
    ),
}


def _rank(order: tuple[str, ...] | list[str]) -> dict[str, int]:
    return {key: i for i, key in enumerate(order)}


_DEFAULT_RANK = _rank(_DEFAULT)
_PARENT_RANK = {parent: _rank(order) for parent, order in _BY_PARENT.items()}


def go_order(value: Any, parent: str = "") -> Any:
    """``value`` with every map's keys in Go declaration order (see the module docstring)."""
    if isinstance(value, list):
        return [go_order(v, parent) for v in value]
    if not isinstance(value, dict):
        return value
    if parent == "" and value.get("kind") == "Secret":
        parent = "secret"
    rank = _PARENT_RANK.get(parent, _DEFAULT_RANK)
    free_form = parent in (
        "labels",
        "annotations",
        "data",
        "binaryData",
        "matchLabels",
        "selector",
        "stringData",
    )
    if free_form and not any(k in _DEFAULT_RANK for k in value if k != "matchLabels"):
        return {k: value[k] for k in sorted(value)}
    keys = sorted(value, key=lambda k: (rank.get(k, len(rank)), k))
    return {k: go_order(value[k], k) for k in keys}
