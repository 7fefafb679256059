"""``kubectl describe`` layouts, as pure functions from objects to text.

kubectl writes each description as lines of tab-separated cells, indented
two spaces per level, into one tabwriter (min width 0, padding 2) and lets
it align them; a line without a tab ends the alignment block. We write the
same lines in the same order, so the same aligner (``tabwriter.align``)
gives the same text. Each ``describe_<kind>`` takes the object plus the
related objects the command fetched (events, pods, replica sets, endpoint
slices) and a clock, so they can be unit-tested without a server.

    layout     the prefix writer and the shared sections (labels, events...)
    podspec    containers, volumes, pod templates
    workloads  Pod, Deployment, ReplicaSet
    services   Service
    cluster    Namespace, Node
    other      ConfigMap, Secret, and the generic layout
"""

from tinykube.kubectl.describers.cluster import describe_namespace, describe_node
from tinykube.kubectl.describers.layout import (
    Writer,
    annotations_multiline,
    events_section,
    format_labels,
    format_selector,
    labels_multiline,
)
from tinykube.kubectl.describers.other import describe_configmap, describe_generic, describe_secret
from tinykube.kubectl.describers.podspec import pod_template_section
from tinykube.kubectl.describers.services import describe_service
from tinykube.kubectl.describers.workloads import (
    describe_deployment,
    describe_pod,
    describe_replicaset,
    selector_string,
)

__all__ = [
    "Writer",
    "annotations_multiline",
    "describe_configmap",
    "describe_deployment",
    "describe_generic",
    "describe_namespace",
    "describe_node",
    "describe_pod",
    "describe_replicaset",
    "describe_secret",
    "describe_service",
    "events_section",
    "format_labels",
    "format_selector",
    "labels_multiline",
    "pod_template_section",
    "selector_string",
]
