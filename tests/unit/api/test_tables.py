"""Table printers: columns and exact cells, checked against upstream's printers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tinykube.api import tables
from tinykube.api.resources import RESOURCES, Resource, lookup

NOW = datetime(2026, 7, 23, 12, 0, 0, tzinfo=UTC)
FIVE_MIN_AGO = "2026-07-23T11:55:00Z"
HOUR_AGO = "2026-07-23T11:00:00Z"


def res(group: str, version: str, plural: str) -> Resource:
    found = lookup(group, version, plural)
    assert found is not None
    return found


def meta(name: str = "x", **extra: Any) -> dict[str, Any]:
    return {"name": name, "creationTimestamp": HOUR_AGO, **extra}


def cells(group: str, version: str, plural: str, obj: dict[str, Any]) -> list[Any]:
    return tables.row_cells(res(group, version, plural), obj, NOW)


def header(group: str, version: str, plural: str) -> list[tuple[str, int]]:
    return [
        (c["name"], c["priority"]) for c in tables.column_definitions(res(group, version, plural))
    ]


# ---- every kind -------------------------------------------------------------------


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: f"{r.group or 'core'}/{r.kind}")
def test_every_kind_has_complete_columns_and_matching_cells(resource: Resource) -> None:
    columns = tables.column_definitions(resource)
    assert all(set(c) == {"name", "type", "format", "description", "priority"} for c in columns)
    assert [c["format"] for c in columns].count("name") == 1
    row = tables.row_cells(resource, {"metadata": meta()}, NOW)
    assert len(row) == len(columns)


@pytest.mark.parametrize(
    ("plural", "group"),
    [("roles", "rbac.authorization.k8s.io"), ("limitranges", ""), ("bindings", "")],
)
def test_kinds_without_printer_get_default_table(plural: str, group: str) -> None:
    resource = res(group, "v1", plural)
    assert not tables.has_printer(resource)
    assert [(c["name"], c["type"], c["format"]) for c in tables.column_definitions(resource)] == [
        ("Name", "string", "name"),
        ("Created At", "date", ""),
    ]
    assert tables.row_cells(resource, {"metadata": meta("r")}, NOW) == ["r", HOUR_AGO]


# ---- pods ---------------------------------------------------------------------------


def container(name: str = "app", **status: Any) -> dict[str, Any]:
    return {"name": name, "ready": False, "restartCount": 0, "image": "nginx", **status}


def pod(
    statuses: list[dict[str, Any]] | None = None,
    init: list[dict[str, Any]] | None = None,
    init_statuses: list[dict[str, Any]] | None = None,
    phase: str = "Running",
    containers: int | None = None,
    conditions: list[dict[str, Any]] | None = None,
    **extra_meta: Any,
) -> dict[str, Any]:
    statuses = statuses if statuses is not None else []
    n = containers if containers is not None else max(len(statuses), 1)
    return {
        "metadata": meta("web", **extra_meta),
        "spec": {
            "containers": [{"name": f"c{i}"} for i in range(n)],
            "initContainers": init or [],
        },
        "status": {
            "phase": phase,
            "containerStatuses": statuses,
            "initContainerStatuses": init_statuses or [],
            "conditions": conditions or [],
        },
    }


RUNNING = {"running": {"startedAt": HOUR_AGO}}
READY_TRUE = [{"type": "Ready", "status": "True"}]


def waiting(reason: str) -> dict[str, Any]:
    return {"waiting": {"reason": reason}}


def terminated(exit_code: int = 0, reason: str = "", signal: int = 0) -> dict[str, Any]:
    state: dict[str, Any] = {"exitCode": exit_code, "finishedAt": FIVE_MIN_AGO}
    if reason:
        state["reason"] = reason
    if signal:
        state["signal"] = signal
    return {"terminated": state}


@pytest.mark.parametrize(
    ("obj", "ready", "status"),
    [
        pytest.param(pod(phase="Pending"), "0/1", "Pending", id="pending"),
        pytest.param(
            pod([container(state=waiting("ContainerCreating"))], phase="Pending"),
            "0/1",
            "ContainerCreating",
            id="creating",
        ),
        pytest.param(
            pod([container(ready=True, state=RUNNING)]), "1/1", "Running", id="running-ready"
        ),
        pytest.param(pod([container(state=RUNNING)]), "0/1", "Running", id="running-not-ready"),
        pytest.param(
            pod([container(state=waiting("CrashLoopBackOff"))]),
            "0/1",
            "CrashLoopBackOff",
            id="crashloop",
        ),
        pytest.param(
            pod([container(state=waiting("ImagePullBackOff"))], phase="Pending"),
            "0/1",
            "ImagePullBackOff",
            id="image-pull",
        ),
        pytest.param(
            pod([container(state=terminated(0, "Completed"))], phase="Succeeded"),
            "0/1",
            "Completed",
            id="completed",
        ),
        pytest.param(
            pod([container(state=terminated(1, "Error"))], phase="Failed"),
            "0/1",
            "Error",
            id="error",
        ),
        pytest.param(
            pod([container(state=terminated(137, "OOMKilled"))], phase="Failed"),
            "0/1",
            "OOMKilled",
            id="oom",
        ),
        pytest.param(
            pod([container(state=terminated(2))], phase="Failed"),
            "0/1",
            "ExitCode:2",
            id="exit-code-without-reason",
        ),
        pytest.param(
            pod([container(state=terminated(137, signal=9))], phase="Failed"),
            "0/1",
            "Signal:9",
            id="signal-without-reason",
        ),
        pytest.param(
            pod(
                [
                    container("a", state=waiting("CrashLoopBackOff")),
                    container("b", ready=True, state=RUNNING),
                ]
            ),
            "1/2",
            "CrashLoopBackOff",
            id="first-listed-container-wins",
        ),
        pytest.param(
            pod(
                [
                    container("a", ready=True, state=RUNNING),
                    container("b", state=terminated(0, "Completed")),
                ],
                conditions=READY_TRUE,
            ),
            "1/2",
            "Running",
            id="completed-but-one-running-ready",
        ),
        pytest.param(
            pod(
                [
                    container("a", ready=True, state=RUNNING),
                    container("b", state=terminated(0, "Completed")),
                ]
            ),
            "1/2",
            "NotReady",
            id="completed-but-one-running-not-ready",
        ),
        pytest.param(
            {
                "metadata": meta("web"),
                "status": {"phase": "Failed", "reason": "Evicted"},
                "spec": {"containers": [{"name": "a"}]},
            },
            "0/1",
            "Evicted",
            id="status-reason",
        ),
        pytest.param(
            pod(
                phase="Pending",
                conditions=[
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
                ],
            ),
            "0/1",
            "SchedulingGated",
            id="scheduling-gated",
        ),
        pytest.param(
            pod([container(ready=True, state=RUNNING)], deletionTimestamp=FIVE_MIN_AGO),
            "1/1",
            "Terminating",
            id="terminating",
        ),
        pytest.param(
            pod(
                [container(state=terminated(0, "Completed"))],
                phase="Succeeded",
                deletionTimestamp=FIVE_MIN_AGO,
            ),
            "0/1",
            "Completed",
            id="deleted-after-success-keeps-status",
        ),
        pytest.param(
            {
                "metadata": meta("web", deletionTimestamp=FIVE_MIN_AGO),
                "spec": {"containers": [{"name": "a"}]},
                "status": {"phase": "Running", "reason": "NodeLost"},
            },
            "0/1",
            "Unknown",
            id="node-lost",
        ),
    ],
)
def test_pod_status(obj: dict[str, Any], ready: str, status: str) -> None:
    row = cells("", "v1", "pods", obj)
    assert (row[1], row[2]) == (ready, status)


INIT_SPECS = [{"name": "i0"}, {"name": "i1"}, {"name": "i2"}]


@pytest.mark.parametrize(
    ("init_statuses", "status"),
    [
        pytest.param(
            [container("i0", state=waiting("PodInitializing"))], "Init:0/3", id="not-started"
        ),
        pytest.param(
            [container("i0", state=terminated(0, "Completed")), container("i1", state=RUNNING)],
            "Init:1/3",
            id="second-running",
        ),
        pytest.param(
            [container("i0", state=waiting("CrashLoopBackOff"))],
            "Init:CrashLoopBackOff",
            id="init-crashloop",
        ),
        pytest.param(
            [container("i0", state=terminated(1, "Error"))], "Init:Error", id="init-error"
        ),
        pytest.param([container("i0", state=terminated(3))], "Init:ExitCode:3", id="init-exit"),
        pytest.param(
            [container("i0", state=terminated(143, signal=15))], "Init:Signal:15", id="init-signal"
        ),
        pytest.param(
            [container(f"i{i}", state=terminated(0, signal=15)) for i in range(3)],
            "PodInitializing",
            id="exit-zero-counts-as-done-whatever-the-signal",
        ),
    ],
)
def test_pod_init_status(init_statuses: list[dict[str, Any]], status: str) -> None:
    obj = pod(
        [container(state=waiting("PodInitializing"))],
        init=INIT_SPECS,
        init_statuses=init_statuses,
        phase="Pending",
    )
    assert cells("", "v1", "pods", obj)[2] == status


def test_pod_sidecar_counts_in_ready_and_total() -> None:
    obj = pod(
        [container("app", ready=True, state=RUNNING)],
        init=[{"name": "setup"}, {"name": "proxy", "restartPolicy": "Always"}],
        init_statuses=[
            container("setup", state=terminated(0, "Completed")),
            container("proxy", ready=True, started=True, state=RUNNING, restartCount=2),
        ],
        conditions=[{"type": "Initialized", "status": "True"}],
    )
    row = cells("", "v1", "pods", obj)
    assert row[1:4] == ["2/2", "Running", "2"]


@pytest.mark.parametrize(
    ("status", "restarts"),
    [
        pytest.param(container(state=RUNNING), "0", id="never"),
        pytest.param(container(state=RUNNING, restartCount=3), "3", id="no-last-state"),
        pytest.param(
            container(state=RUNNING, restartCount=3, lastState=terminated(1, "Error")),
            "3 (5m ago)",
            id="with-last-termination",
        ),
    ],
)
def test_pod_restarts(status: dict[str, Any], restarts: str) -> None:
    assert cells("", "v1", "pods", pod([status]))[3] == restarts


def test_pod_init_restarts_count_while_initializing() -> None:
    obj = pod(
        [container(state=waiting("PodInitializing"))],
        init=INIT_SPECS,
        init_statuses=[
            container(
                "i0", state=waiting("CrashLoopBackOff"), restartCount=4, lastState=terminated(1)
            )
        ],
        phase="Pending",
    )
    assert cells("", "v1", "pods", obj)[2:4] == ["Init:CrashLoopBackOff", "4 (5m ago)"]


def test_pod_full_row_and_wide_cells() -> None:
    obj = pod([container(ready=True, state=RUNNING)], conditions=READY_TRUE)
    obj["spec"].update(
        nodeName="n1", readinessGates=[{"conditionType": "x/ok"}, {"conditionType": "y"}]
    )
    obj["status"]["podIPs"] = [{"ip": "10.244.0.5"}, {"ip": "fd00::5"}]
    obj["status"]["conditions"].append({"type": "x/ok", "status": "True"})
    assert cells("", "v1", "pods", obj) == [
        "web", "1/1", "Running", "0", "60m", "10.244.0.5", "n1", "<none>", "1/2",
    ]  # fmt: skip


def test_pod_columns() -> None:
    assert header("", "v1", "pods") == [
        ("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0),
        ("IP", 1), ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("phase", "reason", "message"),
    [
        ("Succeeded", "Succeeded", "The pod has completed successfully."),
        ("Failed", "Failed", "The pod failed."),
    ],
)
def test_pod_completed_row_condition(phase: str, reason: str, message: str) -> None:
    conditions = tables.row_conditions(res("", "v1", "pods"), pod(phase=phase))
    assert conditions == [
        {"type": "Completed", "status": "True", "reason": reason, "message": message}
    ]


def test_running_pod_has_no_row_condition() -> None:
    assert tables.row_conditions(res("", "v1", "pods"), pod()) is None
    assert tables.row_conditions(res("batch", "v1", "jobs"), {"metadata": meta()}) is None


# ---- services ------------------------------------------------------------------------


def service(kind: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": meta("svc"), "spec": {"type": kind, **spec}, "status": {}}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            service(
                "ClusterIP",
                clusterIP="10.96.0.10",
                clusterIPs=["10.96.0.10"],
                ports=[{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                selector={"k8s-app": "kube-dns"},
            ),
            [
                "svc",
                "ClusterIP",
                "10.96.0.10",
                "<none>",
                "53/UDP,53/TCP",
                "60m",
                "k8s-app=kube-dns",
            ],
            id="cluster-ip",
        ),
        pytest.param(
            service(
                "NodePort",
                clusterIPs=["10.96.1.1"],
                ports=[{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
                externalIPs=["1.2.3.4"],
            ),
            ["svc", "NodePort", "10.96.1.1", "1.2.3.4", "80:30080/TCP", "60m", "<none>"],
            id="node-port",
        ),
        pytest.param(
            service(
                "LoadBalancer", clusterIPs=["10.96.1.2"], ports=[{"port": 443, "nodePort": 31443}]
            ),
            ["svc", "LoadBalancer", "10.96.1.2", "<pending>", "443:31443/TCP", "60m", "<none>"],
            id="load-balancer-pending",
        ),
        pytest.param(
            service("ClusterIP", clusterIP="None", clusterIPs=["None"]),
            ["svc", "ClusterIP", "None", "<none>", "<none>", "60m", "<none>"],
            id="headless",
        ),
        pytest.param(
            service("ExternalName", externalName="db.example.com"),
            ["svc", "ExternalName", "<none>", "db.example.com", "<none>", "60m", "<none>"],
            id="external-name",
        ),
    ],
)
def test_service_cells(obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells("", "v1", "services", obj) == expected


def test_load_balancer_ingress_sorted_unique_then_external_ips() -> None:
    obj = service("LoadBalancer", externalIPs=["9.9.9.9"])
    obj["status"] = {
        "loadBalancer": {
            "ingress": [{"ip": "5.5.5.5"}, {"hostname": "lb.example.com"}, {"ip": "5.5.5.5"}]
        }
    }
    assert cells("", "v1", "services", obj)[3] == "5.5.5.5,lb.example.com,9.9.9.9"


# ---- nodes -----------------------------------------------------------------------------


def node(ready: str | None, unschedulable: bool = False, labels: Any = None) -> dict[str, Any]:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready}]
    return {
        "metadata": meta("n1", labels=labels or {}),
        "spec": {"unschedulable": unschedulable},
        "status": {
            "conditions": conditions,
            "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian"},
            "addresses": [
                {"type": "Hostname", "address": "n1"},
                {"type": "InternalIP", "address": "172.18.0.2"},
            ],
        },
    }


@pytest.mark.parametrize(
    ("obj", "status", "roles"),
    [
        pytest.param(node("True"), "Ready", "<none>", id="ready"),
        pytest.param(node("False"), "NotReady", "<none>", id="not-ready"),
        pytest.param(node("Unknown"), "NotReady", "<none>", id="unknown-is-not-ready"),
        pytest.param(node(None), "Unknown", "<none>", id="no-condition"),
        pytest.param(node("True", True), "Ready,SchedulingDisabled", "<none>", id="cordoned"),
        pytest.param(
            node(
                "True",
                labels={
                    "node-role.kubernetes.io/worker": "",
                    "node-role.kubernetes.io/control-plane": "",
                    "node-role.kubernetes.io/": "",
                    "kubernetes.io/role": "edge",
                },
            ),
            "Ready",
            "control-plane,edge,worker",
            id="roles-sorted",
        ),
    ],
)
def test_node_status_and_roles(obj: dict[str, Any], status: str, roles: str) -> None:
    row = cells("", "v1", "nodes", obj)
    assert (row[1], row[2]) == (status, roles)


def test_node_wide_cells() -> None:
    assert cells("", "v1", "nodes", node("True"))[3:] == [
        "60m", "v1.33.0", "172.18.0.2", "<none>", "Debian", "<unknown>", "<unknown>",
    ]  # fmt: skip


# ---- workloads ------------------------------------------------------------------------

TEMPLATE = {
    "spec": {"containers": [{"name": "a", "image": "nginx:1"}, {"name": "b", "image": "busybox"}]}
}


def test_deployment_cells() -> None:
    obj = {
        "metadata": meta("web"),
        "spec": {
            "replicas": 3,
            "template": TEMPLATE,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
            },
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert cells("apps", "v1", "deployments", obj) == [
        "web", "2/3", 3, 2, "60m", "a,b", "nginx:1,busybox", "app=web,tier in (a,b)",
    ]  # fmt: skip
    assert header("apps", "v1", "deployments")[1:4] == [
        ("Ready", 0),
        ("Up-to-date", 0),
        ("Available", 0),
    ]


def test_deployment_empty_selector_is_blank_but_replica_set_says_none() -> None:
    dep = {"metadata": meta(), "spec": {"selector": {}}}
    assert cells("apps", "v1", "deployments", dep)[-1] == ""
    assert cells("apps", "v1", "replicasets", dep)[-1] == "<none>"


def test_replica_set_and_rc_cells() -> None:
    rs = {
        "metadata": meta("web-abc"),
        "spec": {"replicas": 2, "template": TEMPLATE, "selector": {"matchLabels": {"app": "web"}}},
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    assert cells("apps", "v1", "replicasets", rs) == [
        "web-abc", 2, 2, 1, "60m", "a,b", "nginx:1,busybox", "app=web",
    ]  # fmt: skip
    rc = {"metadata": meta("old"), "spec": {"replicas": 1, "selector": {"app": "old"}}}
    assert cells("", "v1", "replicationcontrollers", rc) == [
        "old",
        1,
        0,
        0,
        "60m",
        "",
        "",
        "app=old",
    ]


def test_daemon_set_cells() -> None:
    ds = {
        "metadata": meta("agent"),
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "spec": {**TEMPLATE["spec"], "nodeSelector": {"kubernetes.io/os": "linux"}}
            },
        },
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }
    assert cells("apps", "v1", "daemonsets", ds) == [
        "agent", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "60m", "a,b", "nginx:1,busybox", "app=agent",
    ]  # fmt: skip


def test_stateful_set_and_controller_revision() -> None:
    sts = {
        "metadata": meta("db"),
        "spec": {"replicas": 3, "template": TEMPLATE},
        "status": {"readyReplicas": 3},
    }
    assert cells("apps", "v1", "statefulsets", sts) == [
        "db",
        "3/3",
        "60m",
        "a,b",
        "nginx:1,busybox",
    ]
    owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True}
    cr = {"metadata": meta("db-7f", ownerReferences=[owner]), "revision": 2}
    assert cells("apps", "v1", "controllerrevisions", cr) == [
        "db-7f",
        "statefulset.apps/db",
        2,
        "60m",
    ]


# ---- jobs ------------------------------------------------------------------------------


def job(
    spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None, **m: Any
) -> dict[str, Any]:
    return {
        "metadata": meta("pi", **m),
        "spec": {"template": TEMPLATE, **(spec or {})},
        "status": status or {},
    }


@pytest.mark.parametrize(
    ("obj", "status", "completions", "took"),
    [
        pytest.param(job({"completions": 1}), "Running", "0/1", "", id="not-started"),
        pytest.param(
            job({"completions": 1}, {"startTime": FIVE_MIN_AGO, "active": 1}),
            "Running",
            "0/1",
            "5m",
            id="running",
        ),
        pytest.param(
            job(
                {"completions": 3},
                {
                    "startTime": "2026-07-23T11:00:00Z",
                    "completionTime": "2026-07-23T11:00:42Z",
                    "succeeded": 3,
                    "conditions": [{"type": "Complete", "status": "True"}],
                },
            ),
            "Complete",
            "3/3",
            "42s",
            id="complete",
        ),
        pytest.param(
            job(status={"conditions": [{"type": "Failed", "status": "True"}]}),
            "Failed",
            "0/1",
            "",
            id="failed",
        ),
        pytest.param(
            job({"parallelism": 4}, {"succeeded": 2}), "Running", "2/1 of 4", "", id="work-queue"
        ),
        pytest.param(
            job(deletionTimestamp=FIVE_MIN_AGO), "Terminating", "0/1", "", id="terminating"
        ),
        pytest.param(
            job(status={"conditions": [{"type": "Suspended", "status": "True"}]}),
            "Suspended",
            "0/1",
            "",
            id="suspended",
        ),
        pytest.param(
            job(status={"conditions": [{"type": "FailureTarget", "status": "True"}]}),
            "FailureTarget",
            "0/1",
            "",
            id="failure-target",
        ),
        pytest.param(
            job(status={"conditions": [{"type": "Complete", "status": "False"}]}),
            "Running",
            "0/1",
            "",
            id="false-condition",
        ),
    ],
)
def test_job_cells(obj: dict[str, Any], status: str, completions: str, took: str) -> None:
    assert cells("batch", "v1", "jobs", obj)[1:5] == [status, completions, took, "60m"]


def test_cron_job_cells() -> None:
    cj = {
        "metadata": meta("nightly"),
        "spec": {
            "schedule": "0 3 * * *",
            "suspend": False,
            "jobTemplate": {"spec": {"template": TEMPLATE}},
        },
        "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": FIVE_MIN_AGO},
    }
    assert cells("batch", "v1", "cronjobs", cj) == [
        "nightly", "0 3 * * *", "<none>", "False", 1, "5m", "60m", "a,b", "nginx:1,busybox", "<none>",
    ]  # fmt: skip


# ---- small core kinds --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plural", "obj", "expected"),
    [
        pytest.param(
            "configmaps",
            {"metadata": meta("cm"), "data": {"a": "1"}, "binaryData": {"b": "AA=="}},
            ["cm", 2, "60m"],
            id="configmap",
        ),
        pytest.param(
            "secrets",
            {
                "metadata": meta("s"),
                "type": "kubernetes.io/tls",
                "data": {"tls.crt": "", "tls.key": ""},
            },
            ["s", "kubernetes.io/tls", 2, "60m"],
            id="secret",
        ),
        pytest.param(
            "serviceaccounts", {"metadata": meta("default")}, ["default", 0, "60m"], id="sa"
        ),
        pytest.param(
            "namespaces",
            {"metadata": meta("prod"), "status": {"phase": "Terminating"}},
            ["prod", "Terminating", "60m"],
            id="namespace",
        ),
        pytest.param(
            "resourcequotas",
            {
                "metadata": meta("q"),
                "spec": {"hard": {"pods": "10", "requests.cpu": "1", "limits.memory": "1Gi"}},
                "status": {
                    "hard": {"pods": "10", "requests.cpu": "1"},
                    "used": {"pods": "3", "requests.cpu": "500m"},
                },
            },
            ["q", "60m", "pods: 3/10, requests.cpu: 500m/1", "limits.memory: 0/0"],
            id="quota",
        ),
    ],
)
def test_core_cells(plural: str, obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells("", "v1", plural, obj) == expected


@pytest.mark.parametrize(
    ("subsets", "text"),
    [
        pytest.param([], "<none>", id="none"),
        pytest.param(
            [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}]}],
            "10.0.0.1:80,10.0.0.2:80",
            id="two",
        ),
        pytest.param(
            [
                {
                    "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                    "ports": [{"port": 80}, {"port": 443}],
                }
            ],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
            id="more",
        ),
        pytest.param([{"addresses": [{"ip": "10.0.0.9"}]}], "10.0.0.9", id="headless-no-ports"),
        pytest.param(
            [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}], "[fd00::1]:80", id="ipv6"
        ),
    ],
)
def test_endpoints(subsets: list[Any], text: str) -> None:
    assert cells("", "v1", "endpoints", {"metadata": meta("ep"), "subsets": subsets})[1] == text


def test_endpoint_slice() -> None:
    es = {
        "metadata": meta("web-x"),
        "addressType": "IPv4",
        "ports": [{"port": 80}, {"name": "dns"}, {}, {"port": 9}],
        "endpoints": [
            {"addresses": ["10.0.0.1"]},
            {"addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]},
        ],
    }
    assert cells("discovery.k8s.io", "v1", "endpointslices", es) == [
        "web-x", "IPv4", "80,dns,* + 1 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "60m",
    ]  # fmt: skip
    empty = {"metadata": meta("e"), "addressType": "IPv4"}
    assert cells("discovery.k8s.io", "v1", "endpointslices", empty)[2:4] == ["<unset>", "<unset>"]


# ---- events ------------------------------------------------------------------------------


def test_core_event_cells() -> None:
    ev = {
        "metadata": meta("web.17"),
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
        "reason": "BackOff",
        "message": "Back-off restarting failed container\n",
        "type": "Warning",
        "source": {"component": "kubelet", "host": "n1"},
        "firstTimestamp": HOUR_AGO,
        "lastTimestamp": FIVE_MIN_AGO,
        "count": 7,
    }
    assert cells("", "v1", "events", ev) == [
        "5m", "Warning", "BackOff", "pod/web", "spec.containers{app}", "kubelet, n1",
        "Back-off restarting failed container", "60m", 7, "web.17",
    ]  # fmt: skip
    assert header("", "v1", "events")[0] == ("Last Seen", 0)
    assert tables.column_definitions(res("", "v1", "events"))[-1]["format"] == "name"


def test_new_api_event_uses_event_time_and_series() -> None:
    ev = {
        "metadata": meta("e"),
        "regarding": {"kind": "Node", "name": "n1"},
        "note": "ok",
        "type": "Normal",
        "reason": "Ready",
        "eventTime": "2026-07-23T11:00:00.000000Z",
        "reportingController": "kubelet",
        "reportingInstance": "n1",
        "series": {"count": 4, "lastObservedTime": "2026-07-23T11:58:00.000000Z"},
    }
    for group in ("", "events.k8s.io"):
        row = cells(group, "v1", "events", ev)
        assert row == ["2m", "Normal", "Ready", "node/n1", "", "kubelet, n1", "ok", "60m", 4, "e"]


def test_singleton_event_counts_one() -> None:
    ev = {"metadata": meta("e"), "involvedObject": {"kind": "Namespace"}, "eventTime": FIVE_MIN_AGO}
    row = cells("", "v1", "events", ev)
    assert (row[0], row[3], row[7], row[8]) == ("5m", "namespace", "5m", 1)


# ---- storage ------------------------------------------------------------------------------


def test_persistent_volume_and_claim() -> None:
    pv = {
        "metadata": meta("pv1"),
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "prod", "name": "data"},
            "storageClassName": "standard",
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound"},
    }
    assert cells("", "v1", "persistentvolumes", pv) == [
        "pv1", "1Gi", "RWO,RWX", "Retain", "Bound", "prod/data", "standard", "<unset>", "", "60m",
        "Filesystem",
    ]  # fmt: skip
    pvc = {
        "metadata": meta("data", deletionTimestamp=FIVE_MIN_AGO),
        "spec": {"volumeName": "pv1", "storageClassName": "standard"},
        "status": {
            "phase": "Bound",
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
        },
    }
    assert cells("", "v1", "persistentvolumeclaims", pvc) == [
        "data", "Terminating", "pv1", "1Gi", "RWO", "standard", "<unset>", "60m", "<unset>",
    ]  # fmt: skip


def test_storage_class_default_marker() -> None:
    sc = {
        "metadata": meta(
            "standard", annotations={"storageclass.kubernetes.io/is-default-class": "true"}
        ),
        "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    assert cells("storage.k8s.io", "v1", "storageclasses", sc) == [
        "standard (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", False, "60m",
    ]  # fmt: skip


# ---- networking, rbac, scheduling, coordination, policy, autoscaling ------------------------


def test_ingress_cells() -> None:
    ing = {
        "metadata": meta("web"),
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {"host": "a.example"},
                {},
                {"host": "b.example"},
                {"host": "c.example"},
                {"host": "d"},
            ],
            "tls": [{"hosts": ["a.example"]}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.5"}]}},
    }
    assert cells("networking.k8s.io", "v1", "ingresses", ing) == [
        "web", "nginx", "a.example,b.example,c.example + 2 more...", "172.18.0.5", "80, 443", "60m",
    ]  # fmt: skip


def test_ingress_class_and_network_policy() -> None:
    ic = {
        "metadata": meta("nginx"),
        "spec": {
            "controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "Params", "name": "p"},
        },
    }
    assert cells("networking.k8s.io", "v1", "ingressclasses", ic) == [
        "nginx", "k8s.io/ingress-nginx", "Params.k8s.example.com/p", "60m",
    ]  # fmt: skip
    np = {"metadata": meta("deny"), "spec": {"podSelector": {"matchLabels": {"role": "db"}}}}
    assert cells("networking.k8s.io", "v1", "networkpolicies", np) == ["deny", "role=db", "60m"]
    assert (
        cells("networking.k8s.io", "v1", "networkpolicies", {"metadata": meta("all")})[1]
        == "<none>"
    )


def test_role_binding_cells() -> None:
    rb = {
        "metadata": meta("rb"),
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "User", "name": "bob"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "namespace": "kube-system", "name": "default"},
        ],
    }
    assert cells("rbac.authorization.k8s.io", "v1", "rolebindings", rb) == [
        "rb", "ClusterRole/view", "60m", "alice, bob", "devs", "kube-system/default",
    ]  # fmt: skip
    assert [p for _, p in header("rbac.authorization.k8s.io", "v1", "clusterrolebindings")] == [
        0, 0, 0, 1, 1, 1,
    ]  # fmt: skip


def test_priority_class_lease_pdb() -> None:
    pc = {
        "metadata": meta("high"),
        "value": 1000,
        "globalDefault": True,
        "preemptionPolicy": "Never",
    }
    assert cells("scheduling.k8s.io", "v1", "priorityclasses", pc) == [
        "high",
        1000,
        True,
        "60m",
        "Never",
    ]
    lease = {"metadata": meta("n1"), "spec": {"holderIdentity": "n1"}}
    assert cells("coordination.k8s.io", "v1", "leases", lease) == ["n1", "n1", "60m"]
    pdb = {
        "metadata": meta("p"),
        "spec": {"minAvailable": "50%"},
        "status": {"disruptionsAllowed": 1},
    }
    assert cells("policy", "v1", "poddisruptionbudgets", pdb) == ["p", "50%", "N/A", 1, "60m"]


def test_hpa_cells() -> None:
    hpa = {
        "metadata": meta("web"),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "100Mi"},
                    },
                },
                {
                    "type": "Pods",
                    "pods": {"metric": {"name": "qps"}, "target": {"averageValue": "10"}},
                },
            ],
        },
        "status": {
            "currentReplicas": 2,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": 40}},
                }
            ],
        },
    }
    assert cells("autoscaling", "v2", "horizontalpodautoscalers", hpa) == [
        "web", "Deployment/web", "cpu: 40%/80%, memory: <unknown>/100Mi + 1 more...", "1", 5, 2, "60m",
    ]  # fmt: skip
