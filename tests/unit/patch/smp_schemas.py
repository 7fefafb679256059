"""Small hand-written OpenAPI v3 definitions shaped like the real Kubernetes types.

Only the fields the strategic-merge-patch tests touch, with the patch
strategies and merge keys k8s.io/api declares for them. References that
carry an extension use ``allOf`` as the published OpenAPI documents do.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.schema import REF_PREFIX, SchemaNode

STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
BOOL: dict[str, Any] = {"type": "boolean"}
INT_OR_STR: dict[str, Any] = {"x-kubernetes-int-or-string": True}
STR_MAP: dict[str, Any] = {"type": "object", "additionalProperties": STR}


def ref(name: str, strategy: str = "") -> dict[str, Any]:
    if not strategy:
        return {"$ref": REF_PREFIX + name}
    return {"allOf": [{"$ref": REF_PREFIX + name}], "x-kubernetes-patch-strategy": strategy}


def obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def array(items: dict[str, Any], strategy: str = "", key: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"type": "array", "items": items}
    if strategy:
        out["x-kubernetes-patch-strategy"] = strategy
    if key:
        out["x-kubernetes-patch-merge-key"] = key
    return out


DEFS: dict[str, dict[str, Any]] = {
    "ObjectMeta": obj(
        name=STR,
        namespace=STR,
        labels=STR_MAP,
        annotations=STR_MAP,
        finalizers=array(STR, "merge"),
        ownerReferences=array(ref("OwnerReference"), "merge", "uid"),
        resourceVersion=STR,
        uid=STR,
    ),
    "OwnerReference": obj(uid=STR, name=STR, kind=STR, apiVersion=STR, controller=BOOL),
    "Pod": obj(
        apiVersion=STR,
        kind=STR,
        metadata=ref("ObjectMeta"),
        spec=ref("PodSpec"),
        status=ref("PodStatus"),
    ),
    "PodSpec": obj(
        containers=array(ref("Container"), "merge", "name"),
        initContainers=array(ref("Container"), "merge", "name"),
        volumes=array(ref("Volume"), "merge,retainKeys", "name"),
        tolerations=array(ref("Toleration")),
        imagePullSecrets=array(ref("LocalObjectReference"), "merge", "name"),
        nodeSelector=STR_MAP,
        nodeName=STR,
        restartPolicy=STR,
        schedulerName=STR,
        dnsPolicy=STR,
        terminationGracePeriodSeconds=INT,
    ),
    "Container": obj(
        name=STR,
        image=STR,
        command=array(STR),
        args=array(STR),
        ports=array(ref("ContainerPort"), "merge", "containerPort"),
        env=array(ref("EnvVar"), "merge", "name"),
        volumeMounts=array(ref("VolumeMount"), "merge", "mountPath"),
        resources=ref("ResourceRequirements"),
        imagePullPolicy=STR,
        terminationMessagePath=STR,
    ),
    "ContainerPort": obj(containerPort=INT, name=STR, protocol=STR),
    "EnvVar": obj(name=STR, value=STR, valueFrom=ref("EnvVarSource")),
    "EnvVarSource": obj(fieldRef=obj(fieldPath=STR)),
    "VolumeMount": obj(name=STR, mountPath=STR, readOnly=BOOL),
    "ResourceRequirements": obj(limits=STR_MAP, requests=STR_MAP),
    "Volume": obj(
        name=STR,
        configMap=obj(name=STR),
        secret=obj(secretName=STR),
        emptyDir=obj(medium=STR),
        hostPath=obj(path=STR),
    ),
    "Toleration": obj(key=STR, operator=STR, value=STR, effect=STR),
    "LocalObjectReference": obj(name=STR),
    "PodStatus": obj(phase=STR, podIP=STR, conditions=array(ref("PodCondition"), "merge", "type")),
    "PodCondition": obj(type=STR, status=STR, reason=STR),
    "Deployment": obj(
        apiVersion=STR, kind=STR, metadata=ref("ObjectMeta"), spec=ref("DeploymentSpec")
    ),
    "DeploymentSpec": obj(
        replicas=INT,
        selector=ref("LabelSelector"),
        template=ref("PodTemplateSpec"),
        strategy=ref("DeploymentStrategy", "retainKeys"),
        minReadySeconds=INT,
        revisionHistoryLimit=INT,
        progressDeadlineSeconds=INT,
    ),
    "DeploymentStrategy": obj(type=STR, rollingUpdate=ref("RollingUpdateDeployment")),
    "RollingUpdateDeployment": obj(maxSurge=INT_OR_STR, maxUnavailable=INT_OR_STR),
    "LabelSelector": obj(
        matchLabels=STR_MAP,
        matchExpressions=array(obj(key=STR, operator=STR, values=array(STR))),
    ),
    "PodTemplateSpec": obj(metadata=ref("ObjectMeta"), spec=ref("PodSpec")),
    "Service": obj(apiVersion=STR, kind=STR, metadata=ref("ObjectMeta"), spec=ref("ServiceSpec")),
    "ServiceSpec": obj(
        ports=array(ref("ServicePort"), "merge", "port"),
        selector=STR_MAP,
        type=STR,
        clusterIP=STR,
        clusterIPs=array(STR),
    ),
    "ServicePort": obj(name=STR, port=INT, targetPort=INT_OR_STR, protocol=STR, nodePort=INT),
    "PodDisruptionBudget": obj(metadata=ref("ObjectMeta"), spec=ref("PodDisruptionBudgetSpec")),
    "PodDisruptionBudgetSpec": obj(
        minAvailable=INT_OR_STR, selector=ref("LabelSelector", "replace")
    ),
    "Node": obj(metadata=ref("ObjectMeta"), spec=ref("NodeSpec")),
    "NodeSpec": obj(podCIDRs=array(STR, "merge"), taints=array(obj(key=STR, effect=STR))),
}


def schema(kind: str) -> SchemaNode:
    return SchemaNode(ref(kind), DEFS)


POD = schema("Pod")
DEPLOYMENT = schema("Deployment")
SERVICE = schema("Service")
PDB = schema("PodDisruptionBudget")
NODE = schema("Node")
