"""OpenAPI v3 component schemas for every served kind, derived from the official client.

Why derive instead of hand-writing: the ``kubernetes`` Python client (a declared
runtime dependency) is generated from Kubernetes' own OpenAPI document, so its
model classes carry every field's JSON name, type and whether it is required.
Walking them from the root kinds of the resource table gives the type skeleton
of every schema the API server publishes, without copying Kubernetes' files.

What the client does not carry is added here from tables of our own:

* patch and list facts (``x-kubernetes-patch-strategy``, ``-patch-merge-key``,
  ``-list-type``, ``-list-map-keys``, ``-map-type``), which Kubernetes declares
  in Go struct tags and markers and which strategic merge patch, server-side
  apply and kubectl need (``_FACTS_TABLE`` below);
* the special scalar types (Time, MicroTime, Quantity, IntOrString,
  RawExtension, FieldsV1) the client flattens to ``datetime``/``str``/``object``;
* the upstream definition names (``io.k8s.api.core.v1.Pod``): a model class
  name says the version but usually not the group, so a type takes the group of
  the first root kind (in group priority order, core first) that reaches it,
  unless a table says otherwise;
* meta.k8s.io types the client does not model (Table, PartialObjectMetadata).

Descriptions are left out on purpose: the client's docstrings are Kubernetes'
prose. Building costs about a second of imports, so the result is cached as
JSON under the user cache directory, keyed by the client version and a hash of
this module and the resource table; a read-only or missing cache directory
only costs the rebuild.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import json
import os
import re
import tempfile
import types
import typing
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from tinykube.api import resources
from tinykube.api.schema import REF_PREFIX

Schema = dict[str, Any]
GVK = tuple[str, str, str]

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
TIME = f"{META}.Time"
MICRO_TIME = f"{META}.MicroTime"
FIELDS_V1 = f"{META}.FieldsV1"
PATCH = f"{META}.Patch"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
GVK_EXT = "x-kubernetes-group-version-kind"

# Types that live in apimachinery's meta/v1 although the client names them
# like any other V1 model.
_META_TYPES = frozenset(
    {
        "APIGroup",
        "APIGroupList",
        "APIResource",
        "APIResourceList",
        "APIVersions",
        "Condition",
        "DeleteOptions",
        "FieldSelectorRequirement",
        "GroupVersionForDiscovery",
        "LabelSelector",
        "LabelSelectorRequirement",
        "ListMeta",
        "ManagedFieldsEntry",
        "ObjectMeta",
        "OwnerReference",
        "Preconditions",
        "ServerAddressByClientCIDR",
        "ShardInfo",
        "Status",
        "StatusCause",
        "StatusDetails",
        "WatchEvent",
    }
)

# Types that "first root wins" would misfile: core types only a non-core kind
# reaches, and alpha scheduling types that batch/v1 Jobs already point at.
_PACKAGE_OVERRIDES = {
    "V1TopologySelectorTerm": "core",
    "V1TopologySelectorLabelRequirement": "core",
    "V1alpha3TopologyConstraint": "scheduling",
    "V1alpha3WorkloadPodGroupDisruptionMode": "scheduling",
    "V1alpha3WorkloadPodGroupGangSchedulingPolicy": "scheduling",
    "V1alpha3WorkloadPodGroupResourceClaim": "scheduling",
    "V1alpha3WorkloadPodGroupSchedulingConstraints": "scheduling",
    "V1alpha3WorkloadPodGroupSchedulingPolicy": "scheduling",
}

# (definition, field) -> special type the client flattens.
_SPECIAL_FIELDS: dict[tuple[str, str], str] = {
    ("io.k8s.api.apps.v1.ControllerRevision", "data"): RAW_EXTENSION,
    (f"{META}.WatchEvent", "object"): RAW_EXTENSION,
    (f"{META}.ManagedFieldsEntry", "fieldsV1"): FIELDS_V1,
    ("io.k8s.api.core.v1.Event", "eventTime"): MICRO_TIME,
    ("io.k8s.api.core.v1.EventSeries", "lastObservedTime"): MICRO_TIME,
    ("io.k8s.api.events.v1.Event", "eventTime"): MICRO_TIME,
    ("io.k8s.api.events.v1.EventSeries", "lastObservedTime"): MICRO_TIME,
    ("io.k8s.api.coordination.v1.LeaseSpec", "acquireTime"): MICRO_TIME,
    ("io.k8s.api.coordination.v1.LeaseSpec", "renewTime"): MICRO_TIME,
}

# IntOrString fields. Recent clients type them Union[int, str]; older ones say
# only "object", hence the table.
_INT_OR_STRING_FIELDS = frozenset(
    {
        ("io.k8s.api.core.v1.ServicePort", "targetPort"),
        ("io.k8s.api.core.v1.HTTPGetAction", "port"),
        ("io.k8s.api.core.v1.TCPSocketAction", "port"),
        ("io.k8s.api.networking.v1.NetworkPolicyPort", "port"),
        ("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "minAvailable"),
        ("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "maxUnavailable"),
        ("io.k8s.api.apps.v1.RollingUpdateDeployment", "maxSurge"),
        ("io.k8s.api.apps.v1.RollingUpdateDeployment", "maxUnavailable"),
        ("io.k8s.api.apps.v1.RollingUpdateDaemonSet", "maxSurge"),
        ("io.k8s.api.apps.v1.RollingUpdateDaemonSet", "maxUnavailable"),
        ("io.k8s.api.apps.v1.RollingUpdateStatefulSetStrategy", "maxUnavailable"),
    }
)

# Fields holding resource.Quantity values (directly or as map values); the
# client types them plain strings.
_QUANTITY_FIELDS = frozenset(
    {
        ("io.k8s.api.core.v1.ResourceRequirements", "limits"),
        ("io.k8s.api.core.v1.ResourceRequirements", "requests"),
        ("io.k8s.api.core.v1.VolumeResourceRequirements", "limits"),
        ("io.k8s.api.core.v1.VolumeResourceRequirements", "requests"),
        ("io.k8s.api.core.v1.PodSpec", "overhead"),
        ("io.k8s.api.core.v1.NodeStatus", "capacity"),
        ("io.k8s.api.core.v1.NodeStatus", "allocatable"),
        ("io.k8s.api.core.v1.ContainerStatus", "allocatedResources"),
        ("io.k8s.api.core.v1.EmptyDirVolumeSource", "sizeLimit"),
        ("io.k8s.api.core.v1.ResourceFieldSelector", "divisor"),
        ("io.k8s.api.core.v1.PersistentVolumeSpec", "capacity"),
        ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "capacity"),
        ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "allocatedResources"),
        ("io.k8s.api.core.v1.ResourceQuotaSpec", "hard"),
        ("io.k8s.api.core.v1.ResourceQuotaStatus", "hard"),
        ("io.k8s.api.core.v1.ResourceQuotaStatus", "used"),
        ("io.k8s.api.core.v1.LimitRangeItem", "max"),
        ("io.k8s.api.core.v1.LimitRangeItem", "min"),
        ("io.k8s.api.core.v1.LimitRangeItem", "default"),
        ("io.k8s.api.core.v1.LimitRangeItem", "defaultRequest"),
        ("io.k8s.api.core.v1.LimitRangeItem", "maxLimitRequestRatio"),
        ("io.k8s.api.autoscaling.v2.MetricTarget", "value"),
        ("io.k8s.api.autoscaling.v2.MetricTarget", "averageValue"),
        ("io.k8s.api.autoscaling.v2.MetricValueStatus", "value"),
        ("io.k8s.api.autoscaling.v2.MetricValueStatus", "averageValue"),
        ("io.k8s.api.storage.v1.CSIStorageCapacity", "capacity"),
        ("io.k8s.api.storage.v1.CSIStorageCapacity", "maximumVolumeSize"),
    }
)

_PRIMITIVES: dict[str, Schema] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number", "format": "double"},
    "bool": {"type": "boolean"},
    "bytes": {"type": "string", "format": "byte"},
    "date": {"type": "string", "format": "date"},
}
_FREE_FORM: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_CLASS_NAME = re.compile(r"^([A-Z][a-z]+)?(V\d+(?:(?:alpha|beta)\d+)?)([A-Z]\w*)$")


def _ref(name: str) -> Schema:
    """A property pointing at another definition, written the way upstream v3 does."""
    return {"allOf": [{"$ref": REF_PREFIX + name}]}


def _scalar_definitions() -> dict[str, Schema]:
    """The apimachinery scalars that are not structs."""
    either_int_or_string = [{"type": "integer"}, {"type": "string"}]
    return {
        TIME: {"type": "string", "format": "date-time"},
        MICRO_TIME: {"type": "string", "format": "date-time"},
        FIELDS_V1: dict(_FREE_FORM),
        PATCH: {"type": "object"},  # the body of any PATCH, whatever its content type
        RAW_EXTENSION: dict(_FREE_FORM),
        # Quantities are written as strings ("100m") but YAML numbers decode too.
        QUANTITY: {"oneOf": [{"type": "string"}, {"type": "number"}]},
        INT_OR_STRING: {
            "oneOf": either_int_or_string,
            "format": "int-or-string",
            "x-kubernetes-int-or-string": True,
        },
    }


METRICS = "io.k8s.metrics.pkg.apis.metrics.v1beta1"


def _metrics_definitions() -> dict[str, Schema]:
    """metrics.k8s.io kinds (metrics-server's types), which the client does not model."""
    string = {"type": "string"}
    usage = {"type": "object", "additionalProperties": _ref(QUANTITY)}
    head = {"apiVersion": string, "kind": string, "metadata": _ref(f"{META}.ObjectMeta")}
    sample = {"timestamp": _ref(f"{META}.Time"), "window": string}

    def listed(item: str) -> Schema:
        return {
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": string,
                "kind": string,
                "metadata": _ref(f"{META}.ListMeta"),
                "items": {"type": "array", "items": _ref(f"{METRICS}.{item}")},
            },
        }

    return {
        f"{METRICS}.NodeMetrics": {
            "type": "object",
            "required": ["timestamp", "window", "usage"],
            "properties": {**head, **sample, "usage": usage},
        },
        f"{METRICS}.PodMetrics": {
            "type": "object",
            "required": ["timestamp", "window", "containers"],
            "properties": {
                **head,
                **sample,
                "containers": {
                    "type": "array",
                    "x-kubernetes-list-type": "atomic",
                    "items": _ref(f"{METRICS}.ContainerMetrics"),
                },
            },
        },
        f"{METRICS}.ContainerMetrics": {
            "type": "object",
            "required": ["name", "usage"],
            "properties": {"name": string, "usage": usage},
        },
        f"{METRICS}.NodeMetricsList": listed("NodeMetrics"),
        f"{METRICS}.PodMetricsList": listed("PodMetrics"),
    }


def _meta_kinds_definitions() -> dict[str, Schema]:
    """meta.k8s.io types served for server-side printing, which the client does not model."""
    string, integer = {"type": "string"}, {"type": "integer", "format": "int32"}
    type_meta = {"apiVersion": string, "kind": string}
    atomic_list = {"type": "array", "x-kubernetes-list-type": "atomic"}
    return {
        f"{META}.Table": {
            "type": "object",
            "required": ["columnDefinitions", "rows"],
            "properties": {
                **type_meta,
                "metadata": _ref(f"{META}.ListMeta"),
                "columnDefinitions": {
                    **atomic_list,
                    "items": _ref(f"{META}.TableColumnDefinition"),
                },
                "rows": {**atomic_list, "items": _ref(f"{META}.TableRow")},
            },
        },
        f"{META}.TableColumnDefinition": {
            "type": "object",
            "required": ["name", "type", "format", "description", "priority"],
            "properties": {
                "name": string,
                "type": string,
                "format": string,
                "description": string,
                "priority": integer,
            },
        },
        f"{META}.TableRow": {
            "type": "object",
            "required": ["cells"],
            "properties": {
                "cells": {**atomic_list, "items": dict(_FREE_FORM)},
                "conditions": {**atomic_list, "items": _ref(f"{META}.TableRowCondition")},
                "object": _ref(RAW_EXTENSION),
            },
        },
        f"{META}.TableRowCondition": {
            "type": "object",
            "required": ["type", "status"],
            "properties": {"type": string, "status": string, "reason": string, "message": string},
        },
        f"{META}.PartialObjectMetadata": {
            "type": "object",
            "properties": {**type_meta, "metadata": _ref(f"{META}.ObjectMeta")},
        },
        f"{META}.PartialObjectMetadataList": {
            "type": "object",
            "required": ["items"],
            "properties": {
                **type_meta,
                "metadata": _ref(f"{META}.ListMeta"),
                "items": {"type": "array", "items": _ref(f"{META}.PartialObjectMetadata")},
            },
        },
    }


def _leaf_types(tp: Any) -> set[Any]:
    """The concrete types inside Optional/Union/Annotated annotations."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _leaf_types(typing.get_args(tp)[0])
    if origin is typing.Union or origin is types.UnionType:
        return set().union(*(_leaf_types(arg) for arg in typing.get_args(tp)))
    return {tp}


def _annotated_int_or_string(cls: type, attr: str) -> bool:
    """Pydantic-based clients type IntOrString as ``Union[int, str]``."""
    fields = getattr(cls, "model_fields", None)
    if not isinstance(fields, dict) or attr not in fields:
        return False
    leaves = _leaf_types(fields[attr].annotation)
    return int in leaves and str in leaves


def _required_fields(cls: type) -> list[str]:
    """JSON names of required fields: pydantic knows them, older models raise on None."""
    fields = getattr(cls, "model_fields", None)
    if isinstance(fields, dict):
        attrs = [attr for attr, info in fields.items() if info.is_required()]
    else:
        source = inspect.getsource(cls)
        attrs = re.findall(r"Invalid value for `(\w+)`, must not be `None`", source)
    mapping: dict[str, str] = getattr(cls, "attribute_map", {})
    return sorted({mapping[a] for a in attrs if a in mapping})


def _package(group: str) -> str:
    """``apps`` for apps, ``rbac`` for rbac.authorization.k8s.io, ``core`` for the core group."""
    return group.split(".")[0] or "core"


def _short(definition: str) -> str:
    """``core.v1.PodSpec`` / ``meta.v1.ObjectMeta``: the key of the fact tables."""
    for prefix in ("io.k8s.api.", "io.k8s.apimachinery.pkg.apis."):
        if definition.startswith(prefix):
            return definition[len(prefix) :]
    return definition


class _Builder:
    """Walks model classes from the root kinds and writes one definition per class."""

    def __init__(self, models: Any) -> None:
        self.models = models
        self.defs: dict[str, Schema] = {
            **_scalar_definitions(),
            **_meta_kinds_definitions(),
            **_metrics_definitions(),
        }
        self.names: dict[str, str] = {}  # model class name -> definition name
        self.package = "core"  # group package of the root being walked

    def has(self, cls_name: str) -> bool:
        return cls_name in getattr(self.models, "__all__", ()) or hasattr(self.models, cls_name)

    def seed(self, cls_name: str, group: str) -> str:
        """Fix the name of a root class from its known group before any walk."""
        if cls_name not in self.names:
            self.names[cls_name] = self._assign(cls_name, _package(group))
        return self.names[cls_name]

    def _assign(self, cls_name: str, package: str) -> str:
        match = _CLASS_NAME.match(cls_name)
        if match is None:
            raise ValueError(f"unexpected model class name {cls_name!r}")
        prefix, version, kind = match.groups()
        if prefix is None and version == "V1" and kind in _META_TYPES:
            return f"{META}.{kind}"
        pkg = prefix.lower() if prefix else _PACKAGE_OVERRIDES.get(cls_name, package)
        return f"io.k8s.api.{pkg}.{version.lower()}.{kind}"

    def walk(self, cls_name: str) -> str:
        """Define ``cls_name`` and everything it references; return its definition name."""
        name = self.names.get(cls_name) or self.seed_here(cls_name)
        if name in self.defs:
            return name
        cls = getattr(self.models, cls_name)
        schema: Schema = {"type": "object"}
        self.defs[name] = schema  # placed first so that cycles (JSONSchemaProps) end
        props: dict[str, Schema] = {}
        for attr, type_text in cls.openapi_types.items():
            field = cls.attribute_map[attr]
            int_or_string = _annotated_int_or_string(cls, attr)
            props[field] = self._property(name, field, type_text, int_or_string)
        schema["properties"] = props
        required = _required_fields(cls)
        if required:
            schema["required"] = required
        if _short(name) in _ATOMIC_STRUCTS:
            schema["x-kubernetes-map-type"] = "atomic"
        return name

    def seed_here(self, cls_name: str) -> str:
        self.names[cls_name] = self._assign(cls_name, self.package)
        return self.names[cls_name]

    def _property(self, owner: str, field: str, type_text: str, int_or_string: bool) -> Schema:
        key = (owner, field)
        if int_or_string or key in _INT_OR_STRING_FIELDS:
            return _ref(INT_OR_STRING)
        if key in _SPECIAL_FIELDS:
            schema = _ref(_SPECIAL_FIELDS[key])
        else:
            schema = self._type(type_text, quantity=key in _QUANTITY_FIELDS)
        schema.update(_FIELD_FACTS.get(_short(owner), {}).get(field, {}))
        return schema

    def _type(self, text: str, quantity: bool) -> Schema:
        text = text.strip()
        if match := re.fullmatch(r"(?:List|list)\[(.+)\]", text):
            return {"type": "array", "items": self._type(match.group(1), quantity)}
        if match := re.fullmatch(r"(?:Dict\[str, ?(.+)\]|dict\(str, ?(.+)\))", text):
            values = match.group(1) or match.group(2)
            return {"type": "object", "additionalProperties": self._type(values, quantity)}
        if quantity and text == "str":
            return _ref(QUANTITY)
        if text == "datetime":
            return _ref(TIME)
        if text == "object":
            return dict(_FREE_FORM)
        if text in _PRIMITIVES:
            return dict(_PRIMITIVES[text])
        return _ref(self.walk(text))


# --- patch and list facts -----------------------------------------------------------------
#
# Kubernetes declares these in Go struct tags (patchStrategy, patchMergeKey) and
# markers (+listType, +listMapKey, +mapType, +structType) on the types in
# k8s.io/api and k8s.io/apimachinery; the client models do not carry them.
# One block per type (``<package>.<version>.<Type>``); each indented line is
# ``<field> <fact>...`` with facts ``list=atomic|set|map[:key,key]``,
# ``patch=<strategy>``, ``key=<merge key>``, ``map=atomic|granular`` and
# ``default=<value>`` (defaults that list-map keys rely on, e.g. protocol TCP);
# ``atomic: a b c`` (also allowed after the type name) lists atomic lists.
_FACTS_TABLE = """
core.v1.ContainerPort
    protocol                   default=TCP
core.v1.ServicePort
    protocol                   default=TCP
apps.v1.DaemonSetStatus
    conditions                 list=map:type patch=merge key=type
apps.v1.DeploymentSpec
    strategy                   patch=retainKeys
apps.v1.DeploymentStatus
    conditions                 list=map:type patch=merge key=type
apps.v1.ReplicaSetStatus
    conditions                 list=map:type patch=merge key=type
apps.v1.StatefulSetSpec  atomic: volumeClaimTemplates
apps.v1.StatefulSetStatus
    conditions                 list=map:type patch=merge key=type
authentication.v1.TokenRequestSpec  atomic: audiences
authentication.v1.TokenReviewSpec  atomic: audiences
authentication.v1.TokenReviewStatus  atomic: audiences
authentication.v1.UserInfo  atomic: groups
authorization.v1.FieldSelectorAttributes  atomic: requirements
authorization.v1.LabelSelectorAttributes  atomic: requirements
authorization.v1.NonResourceRule  atomic: nonResourceURLs verbs
authorization.v1.ResourceRule  atomic: apiGroups resourceNames resources verbs
authorization.v1.SubjectAccessReviewSpec  atomic: groups
authorization.v1.SubjectRulesReviewStatus  atomic: nonResourceRules resourceRules
autoscaling.v2.HPAScalingRules  atomic: policies
autoscaling.v2.HorizontalPodAutoscalerSpec  atomic: metrics
autoscaling.v2.HorizontalPodAutoscalerStatus
    atomic: currentMetrics
    conditions                 list=map:type patch=merge key=type
batch.v1.CronJobStatus  atomic: active
batch.v1.JobSchedulingConfiguration
    resourceClaims             list=map:name patch=merge key=name
batch.v1.JobStatus
    conditions                 list=atomic patch=merge key=type
batch.v1.PodFailurePolicy  atomic: rules
batch.v1.PodFailurePolicyOnExitCodesRequirement
    values                     list=set
batch.v1.PodFailurePolicyRule  atomic: onPodConditions
batch.v1.SuccessPolicy  atomic: rules
batch.v1.UncountedTerminatedPods
    failed                     list=set
    succeeded                  list=set
core.v1.Capabilities  atomic: add drop
core.v1.CephFSPersistentVolumeSource  atomic: monitors
core.v1.CephFSVolumeSource  atomic: monitors
core.v1.ComponentStatus
    conditions                 list=map:type patch=merge key=type
core.v1.ConfigMapProjection  atomic: items
core.v1.ConfigMapVolumeSource  atomic: items
core.v1.Container
    atomic: args command envFrom resizePolicy restartPolicyRules
    env                        list=map:name patch=merge key=name
    ports                      list=map:containerPort,protocol patch=merge key=containerPort
    volumeDevices              list=map:devicePath patch=merge key=devicePath
    volumeMounts               list=map:mountPath patch=merge key=mountPath
core.v1.ContainerImage  atomic: names
core.v1.ContainerRestartRuleOnExitCodes
    values                     list=set
core.v1.ContainerStatus
    allocatedResourcesStatus   list=map:name patch=merge key=name
    volumeMounts               list=map:mountPath patch=merge key=mountPath
core.v1.DownwardAPIProjection  atomic: items
core.v1.DownwardAPIVolumeSource  atomic: items
core.v1.EndpointSubset  atomic: addresses notReadyAddresses ports
core.v1.Endpoints  atomic: subsets
core.v1.ExecAction  atomic: command
core.v1.FCVolumeSource  atomic: targetWWNs wwids
core.v1.HTTPGetAction  atomic: httpHeaders
core.v1.HostAlias  atomic: hostnames
core.v1.ISCSIPersistentVolumeSource  atomic: portals
core.v1.ISCSIVolumeSource  atomic: portals
core.v1.LimitRangeSpec  atomic: limits
core.v1.LinuxContainerUser  atomic: supplementalGroups
core.v1.LoadBalancerIngress  atomic: ports
core.v1.LoadBalancerStatus  atomic: ingress
core.v1.NamespaceSpec  atomic: finalizers
core.v1.NamespaceStatus
    conditions                 list=map:type patch=merge key=type
core.v1.NodeAffinity  atomic: preferredDuringSchedulingIgnoredDuringExecution
core.v1.NodeAllocatableResourceClaimStatus
    containers                 list=set
    mapping                    list=map:name patch=merge key=name
    overhead                   list=map:name patch=merge key=name
core.v1.NodePodPreemptionPolicy
    disableResizePreemption    list=set
core.v1.NodeSelector  atomic: nodeSelectorTerms
core.v1.NodeSelectorRequirement  atomic: values
core.v1.NodeSelectorTerm  atomic: matchExpressions matchFields
core.v1.NodeSpec
    atomic: taints
    podCIDRs                   list=set patch=merge
core.v1.NodeStatus
    atomic: declaredFeatures images runtimeHandlers volumesAttached volumesInUse
    addresses                  list=map:type patch=merge key=type
    conditions                 list=map:type patch=merge key=type
core.v1.PersistentVolumeClaimSpec  atomic: accessModes
core.v1.PersistentVolumeClaimStatus
    atomic: accessModes
    allocatedResourceStatuses  map=granular
    conditions                 list=map:type patch=merge key=type
core.v1.PersistentVolumeSpec
    atomic: accessModes mountOptions
    claimRef                   map=granular
core.v1.PodAffinity
    atomic: preferredDuringSchedulingIgnoredDuringExecution
    atomic: requiredDuringSchedulingIgnoredDuringExecution
core.v1.PodAffinityTerm  atomic: matchLabelKeys mismatchLabelKeys namespaces
core.v1.PodAntiAffinity
    atomic: preferredDuringSchedulingIgnoredDuringExecution
    atomic: requiredDuringSchedulingIgnoredDuringExecution
core.v1.PodDNSConfig  atomic: nameservers options searches
core.v1.PodExtendedResourceClaimStatus  atomic: requestMappings
core.v1.PodSecurityContext  atomic: supplementalGroups sysctls
core.v1.PodSpec
    atomic: readinessGates tolerations
    containers                 list=map:name patch=merge key=name
    ephemeralContainers        list=map:name patch=merge key=name
    evictionResponders         list=map:name patch=merge key=name
    hostAliases                list=map:ip patch=merge key=ip
    imagePullSecrets           list=map:name patch=merge key=name
    initContainers             list=map:name patch=merge key=name
    nodeSelector               map=atomic
    resourceClaims             list=map:name patch=merge,retainKeys key=name
    schedulingGates            list=map:name patch=merge key=name
    topologySpreadConstraints  list=map:topologyKey,whenUnsatisfiable patch=merge key=topologyKey
    volumes                    list=map:name patch=merge,retainKeys key=name
core.v1.PodStatus
    atomic: containerStatuses ephemeralContainerStatuses initContainerStatuses
    conditions                 list=map:type patch=merge key=type
    hostIPs                    list=atomic patch=merge key=ip
    nodeAllocatableResourceClaimStatuses list=map:resourceClaimName patch=merge key=resourceClaimName
    podIPs                     list=map:ip patch=merge key=ip
    resourceClaimStatuses      list=map:name patch=merge,retainKeys key=name
    volumeHealth               list=map:name
core.v1.PodVolumeHealth
    healthConditions           list=map:status,reason patch=merge key=status
core.v1.ProjectedVolumeSource  atomic: sources
core.v1.RBDPersistentVolumeSource  atomic: monitors
core.v1.RBDVolumeSource  atomic: monitors
core.v1.ReplicationControllerSpec
    selector                   map=atomic
core.v1.ReplicationControllerStatus
    conditions                 list=map:type patch=merge key=type
core.v1.ResourceQuotaSpec  atomic: scopes
core.v1.ResourceRequirements
    claims                     list=map:name
core.v1.ResourceStatus
    resources                  list=map:resourceID
core.v1.ScopeSelector  atomic: matchExpressions
core.v1.ScopedResourceSelectorRequirement  atomic: values
core.v1.SecretProjection  atomic: items
core.v1.SecretVolumeSource  atomic: items
core.v1.ServiceAccount
    atomic: imagePullSecrets
    secrets                    list=map:name patch=merge key=name
core.v1.ServiceSpec
    atomic: clusterIPs externalIPs ipFamilies loadBalancerSourceRanges
    ports                      list=map:port,protocol patch=merge key=port
    selector                   map=atomic
core.v1.ServiceStatus
    conditions                 list=map:type patch=merge key=type
core.v1.TopologySelectorLabelRequirement  atomic: values
core.v1.TopologySelectorTerm  atomic: matchLabelExpressions
core.v1.TopologySpreadConstraint  atomic: matchLabelKeys
core.v1.VolumeHealthStatus
    healthConditions           list=map:status,reason patch=merge key=status
core.v1.VolumeMount
    bindMountOptions           list=set
discovery.v1.Endpoint
    addresses                  list=set
discovery.v1.EndpointHints  atomic: forNodes forZones
discovery.v1.EndpointSlice  atomic: endpoints ports
meta.v1.APIGroup  atomic: serverAddressByClientCIDRs versions
meta.v1.APIGroupList  atomic: groups
meta.v1.APIResource  atomic: categories shortNames
meta.v1.APIResourceList  atomic: resources
meta.v1.APIVersions  atomic: serverAddressByClientCIDRs versions
meta.v1.DeleteOptions  atomic: dryRun
meta.v1.FieldSelectorRequirement  atomic: values
meta.v1.LabelSelector  atomic: matchExpressions
meta.v1.LabelSelectorRequirement  atomic: values
meta.v1.ObjectMeta
    atomic: managedFields
    finalizers                 list=set patch=merge
    ownerReferences            list=map:uid patch=merge key=uid
meta.v1.StatusDetails  atomic: causes
meta.v1.Table  atomic: columnDefinitions rows
meta.v1.TableRow  atomic: cells conditions
networking.v1.HTTPIngressRuleValue  atomic: paths
networking.v1.IPBlock  atomic: except
networking.v1.IngressLoadBalancerIngress  atomic: ports
networking.v1.IngressLoadBalancerStatus  atomic: ingress
networking.v1.IngressSpec  atomic: rules tls
networking.v1.IngressTLS  atomic: hosts
networking.v1.NetworkPolicyEgressRule  atomic: ports to
networking.v1.NetworkPolicyIngressRule  atomic: from ports
networking.v1.NetworkPolicySpec  atomic: egress ingress policyTypes
policy.v1.PodDisruptionBudgetSpec
    selector                   patch=replace
policy.v1.PodDisruptionBudgetStatus
    conditions                 list=map:type patch=merge key=type
rbac.v1.AggregationRule  atomic: clusterRoleSelectors
rbac.v1.ClusterRole  atomic: rules
rbac.v1.ClusterRoleBinding  atomic: subjects
rbac.v1.PolicyRule  atomic: apiGroups nonResourceURLs resourceNames resources verbs
rbac.v1.Role  atomic: rules
rbac.v1.RoleBinding  atomic: subjects
storage.v1.StorageClass  atomic: allowedTopologies mountOptions
"""

# Structs that server-side apply replaces whole (+structType=atomic).
_ATOMIC_STRUCTS = frozenset(
    {
        "core.v1.ConfigMapKeySelector",
        "core.v1.EndpointAddress",
        "core.v1.EndpointPort",
        "core.v1.EvictionResponder",
        "core.v1.FileKeySelector",
        "core.v1.LocalObjectReference",
        "core.v1.NodeSelector",
        "core.v1.NodeSelectorTerm",
        "core.v1.ObjectFieldSelector",
        "core.v1.ObjectReference",
        "core.v1.ResourceFieldSelector",
        "core.v1.ScopeSelector",
        "core.v1.SecretKeySelector",
        "core.v1.SecretReference",
        "core.v1.TopologySelectorTerm",
        "core.v1.TypedLocalObjectReference",
        "discovery.v1.EndpointPort",
        "meta.v1.LabelSelector",
        "meta.v1.OwnerReference",
        "networking.v1.ServiceBackendPort",
        "rbac.v1.RoleRef",
        "rbac.v1.Subject",
    }
)


def _fact(token: str) -> Schema:
    """One ``name=value`` token of the facts table as OpenAPI extensions."""
    name, _, value = token.partition("=")
    if name == "list":
        list_type, _, keys = value.partition(":")
        facts: Schema = {"x-kubernetes-list-type": list_type}
        if keys:
            facts["x-kubernetes-list-map-keys"] = keys.split(",")
        return facts
    if name == "default":
        return {"default": value}
    extension = {"patch": "patch-strategy", "key": "patch-merge-key", "map": "map-type"}
    if name not in extension:
        raise ValueError(f"bad schema fact {token!r}")
    return {f"x-kubernetes-{extension[name]}": value}


def _parse_facts(text: str) -> dict[str, dict[str, Schema]]:
    table: dict[str, dict[str, Schema]] = {}
    fields: dict[str, Schema] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            type_name, _, line = line.partition(" ")
            fields = table.setdefault(type_name, {})
        words = line.split()
        if not words:
            continue
        if words[0] == "atomic:":
            fields.update({name: {"x-kubernetes-list-type": "atomic"} for name in words[1:]})
            continue
        facts: Schema = {}
        for token in words[1:]:
            facts.update(_fact(token))
        fields[words[0]] = facts
    return table


_FIELD_FACTS = _parse_facts(_FACTS_TABLE)


# --- roots ---------------------------------------------------------------------------


def _class_candidates(group: str, version: str, kind: str) -> list[str]:
    """``CoreV1Event`` before ``V1Event``: the client prefixes names that clash across groups."""
    ver = version[:1].upper() + version[1:]
    return [f"{_package(group).capitalize()}{ver}{kind}", f"{ver}{kind}"]


def _root_kinds() -> Iterator[GVK]:
    """Every kind a request or response can carry, resource kinds first in group priority."""
    seen: set[GVK] = set()
    for res in resources.RESOURCES:
        for kind in (res.kind, res.list_kind):
            gvk = (res.group, res.version, kind)
            if gvk not in seen:
                seen.add(gvk)
                yield gvk
    for res in resources.RESOURCES:
        for sub in res.subresources:
            gvk = (sub.group or res.group, sub.version or res.version, sub.kind)
            if gvk not in seen:
                seen.add(gvk)
                yield gvk
    yield from [
        ("", "v1", "Status"),
        ("", "v1", "APIVersions"),
        ("", "v1", "APIGroupList"),
        ("", "v1", "APIGroup"),
        ("", "v1", "APIResourceList"),
    ]
    for group, version in resources.group_versions():
        yield (group, version, "DeleteOptions")
        yield (group, version, "WatchEvent")


# Kinds the client has no model for but we define by hand.
_HANDWRITTEN_ROOTS: dict[GVK, str] = {
    ("meta.k8s.io", "v1", "Table"): f"{META}.Table",
    ("meta.k8s.io", "v1", "PartialObjectMetadata"): f"{META}.PartialObjectMetadata",
    ("meta.k8s.io", "v1", "PartialObjectMetadataList"): f"{META}.PartialObjectMetadataList",
    ("metrics.k8s.io", "v1beta1", "NodeMetrics"): f"{METRICS}.NodeMetrics",
    ("metrics.k8s.io", "v1beta1", "NodeMetricsList"): f"{METRICS}.NodeMetricsList",
    ("metrics.k8s.io", "v1beta1", "PodMetrics"): f"{METRICS}.PodMetrics",
    ("metrics.k8s.io", "v1beta1", "PodMetricsList"): f"{METRICS}.PodMetricsList",
}


def _build(models: Any) -> tuple[dict[str, Schema], dict[GVK, str]]:
    builder = _Builder(models)
    roots: dict[GVK, str] = {}
    order: list[tuple[GVK, str]] = []
    for gvk in _root_kinds():
        group, version, kind = gvk
        candidates = ["V1" + kind] if kind in _META_TYPES else _class_candidates(*gvk)
        cls_name = next((c for c in candidates if builder.has(c)), None)
        if cls_name is None:
            continue  # connect options (PodExecOptions, ...) are query parameters only
        roots[gvk] = builder.seed(cls_name, gvk[0])
        order.append((gvk, cls_name))
    for gvk, cls_name in order:
        builder.package = _package(gvk[0])
        builder.walk(cls_name)
    roots.update(_HANDWRITTEN_ROOTS)
    for gvk, name in roots.items():
        group, version, kind = gvk
        entry = {"group": group, "version": version, "kind": kind}
        builder.defs[name].setdefault(GVK_EXT, []).append(entry)
    return builder.defs, roots


# --- caching ---------------------------------------------------------------------------


def _client_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("kubernetes")
    except metadata.PackageNotFoundError:
        return "unknown"


def _fingerprint() -> str:
    """Changes whenever the client, this generator or the resource table change."""
    digest = hashlib.sha256(_client_version().encode())
    digest.update(Path(__file__).read_bytes())
    # The table as loaded, not the file on disk: a file edited after import must not
    # label a document built from the old table with the new table's key.
    digest.update(repr(resources.RESOURCES).encode())
    return digest.hexdigest()[:16]


def cache_path() -> Path | None:
    """Where the generated definitions are kept; None when caching is off or homeless.

    ``$XDG_CACHE_HOME/tinykube/`` (else ``~/.cache/tinykube/``); set
    ``TINYKUBE_SCHEMA_CACHE=off`` to always rebuild.
    """
    if os.environ.get("TINYKUBE_SCHEMA_CACHE", "").lower() in ("0", "off", "false", "no"):
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec says to ignore relative paths
        try:
            base = os.path.join(Path.home(), ".cache")
        except RuntimeError:
            return None
    name = f"openapi-{_client_version()}-{_fingerprint()}.json"
    return Path(base) / "tinykube" / name


def _load(path: Path) -> tuple[dict[str, Schema], dict[GVK, str]] | None:
    try:
        data = json.loads(path.read_bytes())
        roots = {(g, v, k): name for g, v, k, name in data["roots"]}
        return data["definitions"], roots
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store(path: Path, defs: dict[str, Schema], roots: dict[GVK, str]) -> None:
    """Write atomically; an unwritable cache directory is not an error."""
    body = {"definitions": defs, "roots": [[*gvk, name] for gvk, name in roots.items()]}
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".openapi-", suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            json.dump(body, out, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@cache
def _generated() -> tuple[dict[str, Schema], dict[GVK, str]]:
    path = cache_path()
    loaded = _load(path) if path is not None else None
    if loaded is not None:
        return loaded
    built = _build(importlib.import_module("kubernetes.client.models"))
    if path is not None:
        _store(path, *built)
    return built


# --- public API ----------------------------------------------------------------------


def definitions() -> dict[str, dict[str, Any]]:
    """Every component schema by upstream name (``io.k8s.api.core.v1.Pod``).

    Built once per process (from the cache file when it matches); callers share
    the result and must not modify it.
    """
    return _generated()[0]


def kind_roots() -> dict[tuple[str, str, str], str]:
    """(group, version, kind) -> name of the definition describing a whole object."""
    return _generated()[1]
