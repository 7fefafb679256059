"""Hand-written OpenAPI v3 definitions shaped like the real Kubernetes types, and random documents.

Only the fields the strategic-merge-patch tests touch, with the patch
strategies and merge keys k8s.io/api declares for them. References that
carry an extension use ``allOf`` as the published OpenAPI documents do.
"""

from __future__ import annotations

import random
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


# ---- random documents for round-trip properties ---------------------------


def _pick(rng: random.Random, pool: list[str], low: int = 0) -> list[str]:
    chosen = rng.sample(pool, rng.randint(low, len(pool)))
    rng.shuffle(chosen)
    return chosen


def _random_container(rng: random.Random, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "image": rng.choice(["nginx", "redis", "busybox"])}
    if rng.random() < 0.6:
        out["env"] = [
            {"name": n, "value": rng.choice(["1", "2"])} for n in _pick(rng, ["A", "B", "C", "D"])
        ]
    if rng.random() < 0.5:
        ports = rng.sample([80, 443, 8080], rng.randint(0, 3))
        out["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in ports]
    if rng.random() < 0.4:
        out["args"] = _pick(rng, ["-v", "-x", "--y"])
    if rng.random() < 0.3:
        out["resources"] = {"limits": {"cpu": rng.choice(["1", "2"])}}
    return out


def _random_volume(rng: random.Random, name: str) -> dict[str, Any]:
    source = rng.choice(
        [
            {"configMap": {"name": "cm"}},
            {"emptyDir": {}},
            {"secret": {"secretName": "s"}},
            {"hostPath": {"path": "/x"}},
        ]
    )
    return {"name": name, **source}


def random_pod(rng: random.Random) -> dict[str, Any]:
    """A Pod with unique merge keys, so two-way patches round-trip exactly."""
    meta: dict[str, Any] = {"name": "p"}
    if rng.random() < 0.7:
        meta["labels"] = {k: rng.choice(["1", "2"]) for k in _pick(rng, ["app", "tier", "env"])}
    if rng.random() < 0.6:
        meta["finalizers"] = _pick(rng, ["a.io/x", "b.io/y", "c.io/z"])
    spec: dict[str, Any] = {
        "containers": [_random_container(rng, n) for n in _pick(rng, list("abcde"), 1)]
    }
    if rng.random() < 0.5:
        spec["volumes"] = [_random_volume(rng, n) for n in _pick(rng, ["v1", "v2", "v3"])]
    if rng.random() < 0.4:
        spec["tolerations"] = [{"key": k, "operator": "Exists"} for k in _pick(rng, ["t1", "t2"])]
    if rng.random() < 0.5:
        spec["nodeSelector"] = {"disk": rng.choice(["ssd", "hdd"])}
    return {"metadata": meta, "spec": spec}


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 2 or roll < 0.3:
        return rng.choice([0, 1, 2.5, True, False, "a", "b", ""])
    if roll < 0.5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {k: _random_json(rng, depth + 1) for k in _pick(rng, ["p", "q", "r", "s"])}


def random_object(rng: random.Random) -> dict[str, Any]:
    """Untyped JSON without nulls (a null would be dropped by apply)."""
    value = _random_json(rng, 1)
    return value if isinstance(value, dict) else {"v": value}
