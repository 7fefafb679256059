"""Admission plugins: what they add to new Pods, and what they refuse."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tinykube.api import defaults, errors
from tinykube.api.resources import by_kind
from tinykube.apiserver.admission import admit

PODS = by_kind("", "v1", "Pod")
SERVICES = by_kind("", "v1", "Service")
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def no_classes(name: str) -> dict[str, Any] | None:
    return None


def admitted(spec: dict[str, Any], lookup=no_classes, **meta: Any) -> dict[str, Any]:
    assert PODS is not None
    pod = {"metadata": {"name": "web", "namespace": "default", **meta}, "spec": spec}
    defaults.apply_defaults(PODS, pod)
    assert admit(PODS, pod, None, lookup_priority_class=lookup) == []
    return pod


def basic_spec(**extra: Any) -> dict[str, Any]:
    return {
        "containers": [{"name": "app", "image": "nginx"}],
        "initContainers": [{"name": "init", "image": "busybox"}],
        **extra,
    }


def test_service_account_defaults() -> None:
    spec = admitted(basic_spec())["spec"]
    assert spec["serviceAccountName"] == "default"
    assert spec["serviceAccount"] == "default"


def test_token_volume_is_projected_and_mounted_everywhere() -> None:
    spec = admitted(basic_spec())["spec"]
    (volume,) = spec["volumes"]
    assert re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}", volume["name"])
    assert volume["projected"] == {
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {
                "configMap": {
                    "name": "kube-root-ca.crt",
                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                }
            },
            {
                "downwardAPI": {
                    "items": [
                        {
                            "path": "namespace",
                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                        }
                    ]
                }
            },
        ],
        "defaultMode": 420,
    }
    mount = {"name": volume["name"], "readOnly": True, "mountPath": MOUNT_PATH}
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert spec["initContainers"][0]["volumeMounts"] == [mount]


def test_automount_false_skips_the_volume() -> None:
    spec = admitted(basic_spec(automountServiceAccountToken=False))["spec"]
    assert "volumes" not in spec
    assert spec["serviceAccountName"] == "default"


def test_existing_service_account_is_kept() -> None:
    assert admitted(basic_spec(serviceAccountName="builder"))["spec"]["serviceAccount"] == "builder"


def test_default_tolerations() -> None:
    assert admitted(basic_spec())["spec"]["tolerations"] == [
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
        {
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
    ]


def test_existing_toleration_is_respected() -> None:
    own = {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 60,
    }
    tolerations = admitted(basic_spec(tolerations=[own]))["spec"]["tolerations"]
    assert [t["key"] for t in tolerations] == [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ]
    assert tolerations[0]["tolerationSeconds"] == 60


def test_priority_without_class() -> None:
    spec = admitted(basic_spec())["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")


def test_priority_from_class() -> None:
    def lookup(name: str) -> dict[str, Any] | None:
        return {"value": 1000, "preemptionPolicy": "Never"} if name == "high" else None

    spec = admitted(basic_spec(priorityClassName="high"), lookup)["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (1000, "Never")


def test_system_class_known_without_object() -> None:
    spec = admitted(basic_spec(priorityClassName="system-node-critical"))["spec"]
    assert spec["priority"] == 2000001000


def test_unknown_priority_class_is_forbidden() -> None:
    with pytest.raises(errors.Forbidden) as info:
        admitted(basic_spec(priorityClassName="nope"))
    assert (
        info.value.message == 'pods "web" is forbidden: no PriorityClass with name nope was found'
    )
    assert info.value.code == 403


def test_mismatched_priority_is_forbidden() -> None:
    with pytest.raises(errors.Forbidden) as info:
        admitted(basic_spec(priority=5))
    assert (
        "the integer value of priority (5) must not be provided in pod spec" in info.value.message
    )


def test_pod_update_is_not_mutated() -> None:
    assert PODS is not None
    old = admitted(basic_spec())
    new = {**old, "spec": dict(old["spec"])}
    assert admit(PODS, new, old, lookup_priority_class=no_classes) == []
    assert new == old


# ---- Service strategy step ---------------------------------------------------------------------


def service(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "s", "namespace": "default"},
        "spec": {"ports": [{"name": "http", "port": 80}], **spec},
    }


def test_service_update_keeps_allocated_values() -> None:
    assert SERVICES is not None
    old = service(type="NodePort", clusterIP="10.96.0.20", clusterIPs=["10.96.0.20"])
    old["spec"]["ports"][0]["nodePort"] = 30080
    new = service(type="NodePort")
    admit(SERVICES, new, old, lookup_priority_class=no_classes)
    assert new["spec"]["clusterIP"] == "10.96.0.20"
    assert new["spec"]["clusterIPs"] == ["10.96.0.20"]
    assert new["spec"]["ports"][0]["nodePort"] == 30080


def test_service_type_change_drops_node_ports() -> None:
    assert SERVICES is not None
    old = service(type="NodePort", clusterIP="10.96.0.20", externalTrafficPolicy="Cluster")
    old["spec"]["ports"][0]["nodePort"] = 30080
    new = service(type="ClusterIP", clusterIP="10.96.0.20", externalTrafficPolicy="Cluster")
    new["spec"]["ports"][0]["nodePort"] = 30080
    admit(SERVICES, new, old, lookup_priority_class=no_classes)
    assert "nodePort" not in new["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in new["spec"]


def test_service_to_external_name_drops_cluster_ip() -> None:
    assert SERVICES is not None
    old = service(
        clusterIP="10.96.0.20",
        clusterIPs=["10.96.0.20"],
        ipFamilies=["IPv4"],
        ipFamilyPolicy="SingleStack",
    )
    new = service(
        type="ExternalName",
        externalName="example.com",
        clusterIP="10.96.0.20",
        clusterIPs=["10.96.0.20"],
        ipFamilies=["IPv4"],
        ipFamilyPolicy="SingleStack",
    )
    admit(SERVICES, new, old, lookup_priority_class=no_classes)
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(new["spec"])


# ---- DefaultStorageClass ----------------------------------------------------------------

CLAIMS = by_kind("", "v1", "PersistentVolumeClaim")


def storage_class(name: str, default: bool, created: str = "2025-01-01T00:00:00Z") -> Any:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {"metadata": {"name": name, "annotations": annotations, "creationTimestamp": created}}


def admitted_claim(spec: dict[str, Any], classes: list[Any], old: Any = None) -> dict[str, Any]:
    assert CLAIMS is not None
    claim = {"metadata": {"name": "data", "namespace": "default"}, "spec": spec}
    problems = admit(
        CLAIMS, claim, old, lookup_priority_class=no_classes, list_storage_classes=lambda: classes
    )
    assert problems == []
    return claim["spec"]


@pytest.mark.parametrize(
    ("spec", "classes", "expected"),
    [
        pytest.param({}, [storage_class("standard", True)], "standard", id="default-filled-in"),
        pytest.param(
            {"storageClassName": ""}, [storage_class("standard", True)], "", id="empty-stays"
        ),
        pytest.param(
            {"storageClassName": "fast"},
            [storage_class("standard", True)],
            "fast",
            id="named-stays",
        ),
        pytest.param({}, [storage_class("standard", False)], None, id="no-default"),
        pytest.param(
            {},
            [
                storage_class("old", True, "2024-01-01T00:00:00Z"),
                storage_class("new", True, "2025-06-01T00:00:00Z"),
            ],
            "new",
            id="newest-default-wins",
        ),
    ],
)
def test_default_storage_class(spec: dict[str, Any], classes: list[Any], expected: Any) -> None:
    assert admitted_claim(spec, classes).get("storageClassName") == expected


def test_default_storage_class_only_on_create() -> None:
    spec = admitted_claim({}, [storage_class("standard", True)], old={"spec": {}})
    assert "storageClassName" not in spec


# ---- StorageObjectInUseProtection --------------------------------------------------------


def test_claims_and_volumes_are_created_with_protection_finalizers() -> None:
    spec = {"storageClassName": ""}
    claim = {"metadata": {"name": "c", "finalizers": ["example.com/keep"]}, "spec": spec}
    assert CLAIMS is not None
    admit(CLAIMS, claim, None, lookup_priority_class=no_classes)
    assert claim["metadata"]["finalizers"] == ["example.com/keep", "kubernetes.io/pvc-protection"]
    volumes = by_kind("", "v1", "PersistentVolume")
    assert volumes is not None
    volume: dict[str, Any] = {"metadata": {"name": "v"}, "spec": {}}
    admit(volumes, volume, None, lookup_priority_class=no_classes)
    assert volume["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    admit(volumes, volume, None, lookup_priority_class=no_classes)
    assert volume["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]


def test_a_pod_without_a_class_gets_the_global_default() -> None:
    default = {"metadata": {"name": "everyone"}, "value": 1000, "globalDefault": True}

    def lookup(name: str) -> dict[str, Any] | None:
        return default if name in ("", "everyone") else None

    spec = admitted(basic_spec(), lookup=lookup)["spec"]
    assert spec["priorityClassName"] == "everyone"
    assert spec["priority"] == 1000
    assert spec["preemptionPolicy"] == "PreemptLowerPriority"
    # A class named in the pod wins; no default class leaves priority 0 and no name.
    assert (
        admitted(basic_spec(priorityClassName="system-node-critical"), lookup=lookup)["spec"][
            "priority"
        ]
        == 2000001000
    )
    plain = admitted(basic_spec())["spec"]
    assert plain["priority"] == 0 and "priorityClassName" not in plain


def test_an_ingress_without_a_class_gets_the_newest_default() -> None:
    ingresses = by_kind("networking.k8s.io", "v1", "Ingress")
    assert ingresses is not None

    def cls(name: str, created: str, default: bool) -> dict[str, Any]:
        notes = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
        return {"metadata": {"name": name, "creationTimestamp": created, "annotations": notes}}

    classes = [
        cls("old", "2026-01-01T00:00:00Z", True),
        cls("new", "2026-02-01T00:00:00Z", True),
        cls("other", "2026-03-01T00:00:00Z", False),
    ]

    def admitted_ingress(spec: dict[str, Any], **notes: str) -> dict[str, Any]:
        ing = {
            "metadata": {"name": "i", "namespace": "default", "annotations": notes},
            "spec": spec,
        }
        problems = admit(
            ingresses,
            ing,
            None,
            lookup_priority_class=no_classes,
            list_ingress_classes=lambda: classes,
        )
        assert problems == []
        return ing["spec"]

    assert admitted_ingress({})["ingressClassName"] == "new"
    assert admitted_ingress({"ingressClassName": "other"})["ingressClassName"] == "other"
    legacy = admitted_ingress({}, **{"kubernetes.io/ingress.class": "nginx"})
    assert "ingressClassName" not in legacy
