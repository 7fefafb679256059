"""The roles and bindings every cluster starts with (Kubernetes' bootstrap policy).

Names, subjects and rules follow upstream's ``bootstrappolicy``: the
user-facing ``cluster-admin``, ``admin``, ``edit`` and ``view`` (the last
three aggregated from ``system:aggregate-to-*`` by the clusterrole
aggregation controller), discovery and self-review for every authenticated
user, and one role per system component. kubeadm's
``kubeadm:cluster-admins`` binding is here too, because the API server itself
issues the kubeadm-style admin certificate (``O=kubeadm:cluster-admins``).

One binding is tinykube's own: ``tinykube:kube-controller-manager`` gives the
controller manager's identity ``cluster-admin``. Upstream's manager runs each
controller under its own service account (``--use-service-account-credentials``,
``system:controller:*`` roles); tinykube's runs every controller under one
identity, which therefore needs all their rights together.

All objects carry ``kubernetes.io/bootstrapping: rbac-defaults`` and
``rbac.authorization.kubernetes.io/autoupdate: "true"``; ``reconcile`` creates
the missing ones at start-up and adds rules and subjects a default object has
lost, unless its autoupdate annotation was set to ``"false"``.
"""

from __future__ import annotations

from typing import Any

from tinykube.apiserver.authz.rules import Rule

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
READ_WRITE = READ + WRITE
READ_UPDATE = ["get", "list", "watch", "update", "patch"]
RBAC_GROUP = "rbac.authorization.k8s.io"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}


def rule(
    verbs: list[str], groups: list[str], resources: list[str], names: list[str] | None = None
) -> Rule:
    out: Rule = {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources)}
    if names:
        out["resourceNames"] = list(names)
    return out


def urls(verbs: list[str], paths: list[str]) -> Rule:
    return {"verbs": list(verbs), "nonResourceURLs": list(paths)}


def _events() -> Rule:
    return rule(["create", "update", "patch"], ["", "events.k8s.io"], ["events"])


NODE_RULES: list[Rule] = [
    rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
    rule(
        ["create"], ["authorization.k8s.io"], ["subjectaccessreviews", "localsubjectaccessreviews"]
    ),
    rule(READ, [""], ["services"]),
    rule(["create", "get", "list", "watch", "update", "patch", "delete"], [""], ["nodes"]),
    rule(["update", "patch"], [""], ["nodes/status"]),
    _events(),
    rule(READ, [""], ["pods"]),
    rule(["create", "delete"], [""], ["pods"]),
    rule(["update", "patch"], [""], ["pods/status"]),
    rule(["create"], [""], ["pods/eviction"]),
    rule(READ, [""], ["secrets", "configmaps"]),
    rule(["get"], [""], ["persistentvolumeclaims", "persistentvolumes", "endpoints"]),
    rule(["get", "update", "patch"], [""], ["persistentvolumeclaims/status"]),
    rule(["create"], [""], ["serviceaccounts/token"]),
    rule(
        ["create", "get", "list", "watch"], ["certificates.k8s.io"], ["certificatesigningrequests"]
    ),
    rule(["get"], ["storage.k8s.io"], ["volumeattachments"]),
    rule(READ, ["storage.k8s.io"], ["csidrivers"]),
    rule(["get", "create", "update", "patch", "delete"], ["storage.k8s.io"], ["csinodes"]),
    rule(["get", "create", "update", "patch", "delete"], ["coordination.k8s.io"], ["leases"]),
    rule(READ, ["node.k8s.io"], ["runtimeclasses"]),
]

_VIEW = [
    rule(READ, [""], ["pods", "replicationcontrollers", "replicationcontrollers/scale",
                      "serviceaccounts", "services", "services/status", "endpoints",
                      "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"]),
    rule(READ, [""], ["limitranges", "resourcequotas", "bindings", "events", "pods/status",
                      "resourcequotas/status", "namespaces/status",
                      "replicationcontrollers/status", "pods/log"]),
    rule(READ, [""], ["namespaces"]),
    rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
    rule(READ, ["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
                          "deployments/scale", "deployments/status", "replicasets",
                          "replicasets/scale", "replicasets/status", "statefulsets",
                          "statefulsets/scale", "statefulsets/status"]),
    rule(READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    rule(READ, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
    rule(READ, ["extensions"], ["daemonsets", "daemonsets/status", "deployments",
                                "deployments/scale", "deployments/status", "ingresses",
                                "ingresses/status", "networkpolicies", "replicasets",
                                "replicasets/scale", "replicasets/status",
                                "replicationcontrollers/scale"]),
    rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    rule(READ, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
]  # fmt: skip

_EDIT = [
    rule(READ, [""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets",
                      "services/proxy"]),
    rule(["impersonate"], [""], ["serviceaccounts"]),
    rule(WRITE, [""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
    rule(["create"], [""], ["pods/eviction"]),
    rule(["patch", "update"], [""], ["pods/ephemeralcontainers"]),
    rule(WRITE, [""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                       "replicationcontrollers/scale", "secrets", "serviceaccounts", "services",
                       "services/proxy"]),
    rule(["create"], [""], ["serviceaccounts/token"]),
    rule(WRITE, ["apps"], ["daemonsets", "deployments", "deployments/rollback",
                           "deployments/scale", "replicasets", "replicasets/scale",
                           "statefulsets", "statefulsets/scale"]),
    rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
    rule(WRITE, ["batch"], ["cronjobs", "jobs"]),
    rule(WRITE, ["extensions"], ["daemonsets", "deployments", "deployments/rollback",
                                 "deployments/scale", "ingresses", "networkpolicies",
                                 "replicasets", "replicasets/scale",
                                 "replicationcontrollers/scale"]),
    rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
    rule(WRITE, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
    rule(READ_WRITE, ["coordination.k8s.io"], ["leases"]),
]  # fmt: skip

_ADMIN = [
    rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
    rule(READ_WRITE, [RBAC_GROUP], ["roles", "rolebindings"]),
]

_SCHEDULER = [
    _events(),
    rule(["create"], ["coordination.k8s.io"], ["leases"]),
    rule(["get", "update"], ["coordination.k8s.io"], ["leases"], ["kube-scheduler"]),
    rule(["create"], [""], ["endpoints"]),
    rule(["get", "update"], [""], ["endpoints"], ["kube-scheduler"]),
    rule(READ, [""], ["nodes"]),
    rule(["get", "list", "watch", "delete"], [""], ["pods"]),
    rule(["create"], [""], ["bindings", "pods/binding"]),
    rule(["patch", "update"], [""], ["pods/status"]),
    rule(READ, [""], ["replicationcontrollers", "services"]),
    rule(READ, ["apps", "extensions"], ["replicasets"]),
    rule(READ, ["apps"], ["statefulsets"]),
    rule(READ, ["policy"], ["poddisruptionbudgets"]),
    rule(READ, [""], ["persistentvolumeclaims", "persistentvolumes"]),
    rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
    rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
    rule(READ, ["storage.k8s.io"], ["csinodes"]),
    rule(READ, [""], ["namespaces"]),
    rule(READ, ["storage.k8s.io"], ["csidrivers", "csistoragecapacities"]),
]

_CONTROLLER_MANAGER = [
    _events(),
    rule(["create"], ["coordination.k8s.io"], ["leases"]),
    rule(["get", "update"], ["coordination.k8s.io"], ["leases"], ["kube-controller-manager"]),
    rule(["create"], [""], ["secrets", "serviceaccounts"]),
    rule(["delete"], [""], ["secrets"]),
    rule(["get"], [""], ["configmaps", "namespaces", "secrets", "serviceaccounts"]),
    rule(["update"], [""], ["secrets", "serviceaccounts"]),
    rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
    rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
    rule(["list", "watch"], ["*"], ["*"]),
    rule(["create"], [""], ["serviceaccounts/token"]),
]

_PUBLIC = ["/healthz", "/livez", "/readyz", "/version", "/version/"]

CLUSTER_ROLES: dict[str, dict[str, Any]] = {
    "cluster-admin": {"rules": [rule(["*"], ["*"], ["*"]), urls(["*"], ["*"])]},
    "system:discovery": {
        "rules": [
            urls(
                ["get"],
                [
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
            )
        ]
    },
    "system:public-info-viewer": {"rules": [urls(["get"], _PUBLIC)]},
    "system:basic-user": {
        "rules": [
            rule(
                ["create"],
                ["authorization.k8s.io"],
                ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
            ),
            rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
        ]
    },
    "system:monitoring": {
        "rules": [
            urls(
                ["get"],
                [
                    "/healthz",
                    "/healthz/*",
                    "/livez",
                    "/livez/*",
                    "/readyz",
                    "/readyz/*",
                    "/metrics",
                    "/metrics/slis",
                ],
            )
        ]
    },
    "admin": {"aggregate": "rbac.authorization.k8s.io/aggregate-to-admin"},
    "edit": {
        "aggregate": "rbac.authorization.k8s.io/aggregate-to-edit",
        "labels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"},
    },
    "view": {
        "aggregate": "rbac.authorization.k8s.io/aggregate-to-view",
        "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"},
    },
    "system:aggregate-to-admin": {
        "rules": _ADMIN,
        "labels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"},
    },
    "system:aggregate-to-edit": {
        "rules": _EDIT,
        "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"},
    },
    "system:aggregate-to-view": {
        "rules": _VIEW,
        "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
    },
    "system:node": {"rules": NODE_RULES},
    "system:node-proxier": {
        "rules": [
            rule(["list", "watch"], [""], ["services", "endpoints"]),
            rule(READ, [""], ["nodes"]),
            _events(),
            rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
        ]
    },
    "system:kube-dns": {"rules": [rule(["list", "watch"], [""], ["endpoints", "services"])]},
    "system:kube-scheduler": {"rules": _SCHEDULER},
    "system:volume-scheduler": {
        "rules": [
            rule(READ_UPDATE, [""], ["persistentvolumes"]),
            rule(READ, ["storage.k8s.io"], ["storageclasses"]),
            rule(READ_UPDATE, [""], ["persistentvolumeclaims"]),
        ]
    },
    "system:kube-controller-manager": {"rules": _CONTROLLER_MANAGER},
    "system:auth-delegator": {
        "rules": [
            rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
            rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
        ]
    },
    "system:kubelet-api-admin": {
        "rules": [
            rule(READ, [""], ["nodes"]),
            rule(["proxy"], [""], ["nodes"]),
            rule(
                ["*"],
                [""],
                ["nodes/proxy", "nodes/metrics", "nodes/spec", "nodes/stats", "nodes/log"],
            ),
        ]
    },
    "system:certificates.k8s.io:certificatesigningrequests:nodeclient": {
        "rules": [
            rule(["create"], ["certificates.k8s.io"], ["certificatesigningrequests/nodeclient"])
        ]
    },
    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient": {
        "rules": [
            rule(["create"], ["certificates.k8s.io"], ["certificatesigningrequests/selfnodeclient"])
        ]
    },
}


def _user(name: str) -> dict[str, str]:
    return {"apiGroup": RBAC_GROUP, "kind": "User", "name": name}


def _group(name: str) -> dict[str, str]:
    return {"apiGroup": RBAC_GROUP, "kind": "Group", "name": name}


# binding name -> (cluster role, subjects)
CLUSTER_ROLE_BINDINGS: dict[str, tuple[str, list[dict[str, str]]]] = {
    "cluster-admin": ("cluster-admin", [_group("system:masters")]),
    "kubeadm:cluster-admins": ("cluster-admin", [_group("kubeadm:cluster-admins")]),
    "system:basic-user": ("system:basic-user", [_group("system:authenticated")]),
    "system:discovery": ("system:discovery", [_group("system:authenticated")]),
    "system:public-info-viewer": (
        "system:public-info-viewer",
        [_group("system:authenticated"), _group("system:unauthenticated")],
    ),
    "system:monitoring": ("system:monitoring", [_group("system:monitoring")]),
    "system:node": ("system:node", []),
    "system:node-proxier": ("system:node-proxier", [_user("system:kube-proxy")]),
    "system:kube-dns": (
        "system:kube-dns",
        [{"kind": "ServiceAccount", "name": "kube-dns", "namespace": "kube-system"}],
    ),
    "system:kube-scheduler": ("system:kube-scheduler", [_user("system:kube-scheduler")]),
    "system:volume-scheduler": ("system:volume-scheduler", [_user("system:kube-scheduler")]),
    "system:kube-controller-manager": (
        "system:kube-controller-manager",
        [_user("system:kube-controller-manager")],
    ),
    "tinykube:kube-controller-manager": (
        "cluster-admin",
        [_user("system:kube-controller-manager")],
    ),
}


def _meta(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {**BOOTSTRAP_LABELS, **(labels or {})},
        "annotations": {AUTOUPDATE: "true"},
    }


def cluster_roles() -> list[dict[str, Any]]:
    out = []
    for name, spec in CLUSTER_ROLES.items():
        role: dict[str, Any] = {
            "apiVersion": f"{RBAC_GROUP}/v1",
            "kind": "ClusterRole",
            "metadata": _meta(name, spec.get("labels")),
        }
        if "aggregate" in spec:
            role["aggregationRule"] = {
                "clusterRoleSelectors": [{"matchLabels": {spec["aggregate"]: "true"}}]
            }
            role["rules"] = []
        else:
            role["rules"] = [dict(r) for r in spec["rules"]]
        out.append(role)
    return out


def cluster_role_bindings() -> list[dict[str, Any]]:
    out = []
    for name, (role, subjects) in CLUSTER_ROLE_BINDINGS.items():
        binding: dict[str, Any] = {
            "apiVersion": f"{RBAC_GROUP}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(name),
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
        }
        if subjects:
            binding["subjects"] = [dict(s) for s in subjects]
        out.append(binding)
    return out
