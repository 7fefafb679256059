"""Printers for the workload controllers: Deployments, ReplicaSets, DaemonSets,
StatefulSets, ReplicationControllers and ControllerRevisions.

Replica counts are integers straight from status (absent counts as 0); READY
on Deployments and StatefulSets is the string ``ready/desired``. A missing
``spec.replicas`` reads as 1, the value defaulting would have stored.
The wide SELECTOR differs subtly by kind, as upstream: Deployments print the
parsed selector (empty when it selects everything), ReplicaSets and
DaemonSets print ``metav1.FormatLabelSelector`` (``<none>`` when empty), and
ReplicationControllers print their plain label map.
"""

from __future__ import annotations

from datetime import datetime

from tinykube.api import selectors
from tinykube.api.tables._common import (
    AGE,
    CONTAINERS,
    IMAGES,
    NAME,
    NONE,
    SELECTOR,
    Cells,
    Obj,
    Printer,
    age_of,
    col,
    count,
    dig,
    label_selector_text,
    labels_text,
    name_of,
    template_containers,
)


def _desired(obj: Obj) -> int:
    return int(dig(obj, "spec", "replicas", default=1))


def _ready_of_desired(obj: Obj) -> str:
    return f"{count(dig(obj, 'status', 'readyReplicas'))}/{_desired(obj)}"


def deployment_selector(dep: Obj) -> str:
    """The parsed selector's text: ``""`` when it selects all (or nothing), ``<invalid>`` on error."""
    try:
        return str(selectors.label_selector_as_selector(dig(dep, "spec", "selector")))
    except selectors.SelectorError:
        return "<invalid>"


def _deployment_cells(dep: Obj, now: datetime) -> Cells:
    names, images = template_containers(dep, "spec", "template")
    return [
        name_of(dep),
        _ready_of_desired(dep),
        count(dig(dep, "status", "updatedReplicas")),
        count(dig(dep, "status", "availableReplicas")),
        age_of(dep, now),
        names,
        images,
        deployment_selector(dep),
    ]


DEPLOYMENT = Printer(
    (
        NAME,
        col("Ready", "Ready pods out of the desired number."),
        col("Up-to-date", "Pods that run the newest pod template."),
        col("Available", "Pods that have been ready for minReadySeconds."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ),
    _deployment_cells,
)

_REPLICA_COLUMNS = (
    NAME,
    col("Desired", "The number of pods asked for.", "integer"),
    col("Current", "The number of pods that exist.", "integer"),
    col("Ready", "The number of pods that are ready.", "integer"),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
)


def _replica_counts(obj: Obj, now: datetime) -> Cells:
    return [
        name_of(obj),
        _desired(obj),
        count(dig(obj, "status", "replicas")),
        count(dig(obj, "status", "readyReplicas")),
        age_of(obj, now),
    ]


def _replica_set_cells(rs: Obj, now: datetime) -> Cells:
    names, images = template_containers(rs, "spec", "template")
    selector = label_selector_text(dig(rs, "spec", "selector"))
    return [*_replica_counts(rs, now), names, images, selector]


def _replication_controller_cells(rc: Obj, now: datetime) -> Cells:
    names, images = template_containers(rc, "spec", "template")
    return [*_replica_counts(rc, now), names, images, labels_text(dig(rc, "spec", "selector"))]


REPLICA_SET = Printer(_REPLICA_COLUMNS, _replica_set_cells)
REPLICATION_CONTROLLER = Printer(_REPLICA_COLUMNS, _replication_controller_cells)


def _daemon_set_cells(ds: Obj, now: datetime) -> Cells:
    status = ds.get("status") or {}
    names, images = template_containers(ds, "spec", "template")
    return [
        name_of(ds),
        count(status.get("desiredNumberScheduled")),
        count(status.get("currentNumberScheduled")),
        count(status.get("numberReady")),
        count(status.get("updatedNumberScheduled")),
        count(status.get("numberAvailable")),
        labels_text(dig(ds, "spec", "template", "spec", "nodeSelector")),
        age_of(ds, now),
        names,
        images,
        label_selector_text(dig(ds, "spec", "selector")),
    ]


DAEMON_SET = Printer(
    (
        NAME,
        col("Desired", "Nodes that should run the daemon pod.", "integer"),
        col("Current", "Nodes that run at least one daemon pod.", "integer"),
        col("Ready", "Nodes whose daemon pod is ready.", "integer"),
        col("Up-to-date", "Nodes that run the newest pod template.", "integer"),
        col("Available", "Nodes whose daemon pod is available.", "integer"),
        col("Node Selector", "The pod template's node selector."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ),
    _daemon_set_cells,
)


def _stateful_set_cells(sts: Obj, now: datetime) -> Cells:
    names, images = template_containers(sts, "spec", "template")
    return [name_of(sts), _ready_of_desired(sts), age_of(sts, now), names, images]


STATEFUL_SET = Printer(
    (NAME, col("Ready", "Ready pods out of the desired number."), AGE, CONTAINERS, IMAGES),
    _stateful_set_cells,
)


def controller_name(obj: Obj) -> str:
    """``kind.group/name`` (lowercased) of the controlling owner, or ``<none>``."""
    for ref in dig(obj, "metadata", "ownerReferences", default=[]):
        if ref.get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = str(ref.get("kind", ""))
            qualified = f"{kind}.{group}" if group else kind
            if not qualified:
                return str(ref.get("name", ""))
            return f"{qualified.lower()}/{ref.get('name', '')}"
    return NONE


CONTROLLER_REVISION = Printer(
    (
        NAME,
        col("Controller", "The object that owns this revision."),
        col("Revision", "The revision number."),
        AGE,
    ),
    lambda cr, now: [
        name_of(cr),
        controller_name(cr),
        int(cr.get("revision") or 0),
        age_of(cr, now),
    ],
)

PRINTERS = {
    ("apps", "Deployment"): DEPLOYMENT,
    ("apps", "ReplicaSet"): REPLICA_SET,
    ("", "ReplicationController"): REPLICATION_CONTROLLER,
    ("apps", "DaemonSet"): DAEMON_SET,
    ("apps", "StatefulSet"): STATEFUL_SET,
    ("apps", "ControllerRevision"): CONTROLLER_REVISION,
}
