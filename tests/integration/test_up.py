"""``tinykube up`` brings up a kubeadm-shaped cluster that real kubectl can drive.

The control plane runs as static pods of the kubelet of ``controlplane``: they
show as mirror pods in kube-system, a killed component is restarted by the
kubelet, and ``up`` after a stop brings the same objects back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cluster import Cluster, run_kubectl

pytestmark = pytest.mark.integration

CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


def eventually(check, timeout: float = 60.0, interval: float = 0.5):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(interval)


def pods(cluster: Cluster, namespace: str) -> dict[str, dict]:
    out = run_kubectl(cluster, "get", "pods", "-n", namespace, "-o", "json")
    assert out.returncode == 0, out.stderr
    return {p["metadata"]["name"]: p for p in json.loads(out.stdout)["items"]}


def service_addresses_left(cluster: Cluster) -> list[str]:
    """This cluster's service addresses still on the host's service link."""
    import ipaddress

    cidr = cluster.extra_args[cluster.extra_args.index("--service-cluster-ip-range") + 1]
    out = subprocess.run(
        ["ip", "-o", "address", "show", "dev", "tk-svc"], capture_output=True, text=True
    ).stdout
    addrs = [w.split()[3] for w in out.splitlines() if len(w.split()) > 3]
    network = ipaddress.ip_network(cidr)
    return [a for a in addrs if ipaddress.ip_interface(a).ip in network]


def running(pod: dict) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and all(
        c.get("ready") for c in status.get("containerStatuses") or [{}]
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    c = Cluster(tmp_path_factory.mktemp("up"))
    c.start()
    yield c
    c.stop()


def test_control_plane_runs_as_static_pods(cluster: Cluster) -> None:
    names = [f"{c}-controlplane" for c in CONTROL_PLANE]
    found = eventually(
        lambda: (
            (p := pods(cluster, "kube-system"))
            and all(n in p and running(p[n]) for n in names)
            and p
        )
    )
    for name in names:
        pod = found[name]
        assert pod["metadata"]["annotations"]["kubernetes.io/config.mirror"]
        assert pod["spec"]["nodeName"] == "controlplane"
    nodes = run_kubectl(cluster, "get", "nodes")
    assert nodes.returncode == 0
    assert "controlplane   Ready    control-plane" in nodes.stdout
    taints = run_kubectl(cluster, "get", "node", "controlplane", "-o", "jsonpath={.spec.taints}")
    assert taints.stdout == ""  # a single-node cluster stays schedulable: no control-plane taint


def test_a_deployment_serves_and_logs(cluster: Cluster, tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(
        """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: http
        image: python
        command: ["python3", "-u", "-m", "http.server", "8080"]
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
"""
    )
    applied = run_kubectl(cluster, "apply", "-f", str(manifest))
    assert applied.returncode == 0, applied.stderr
    status = run_kubectl(
        cluster, "rollout", "status", "deployment/web", "--timeout=90s", timeout=100
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert 'deployment "web" successfully rolled out' in status.stdout
    logs = eventually(lambda: (r := run_kubectl(cluster, "logs", "deploy/web")).stdout and r)
    assert "GET / HTTP" in logs.stdout  # the readiness probe's requests
    hostname = run_kubectl(cluster, "exec", "deploy/web", "--", "cat", "/etc/hostname")
    assert hostname.returncode == 0, hostname.stderr
    assert hostname.stdout.strip().startswith("web-")
    failing = run_kubectl(cluster, "exec", "deploy/web", "--", "sh", "-c", "exit 3")
    assert failing.returncode == 3  # kubectl exits with the command's code


def test_killed_component_is_restarted_by_the_kubelet(cluster: Cluster) -> None:
    pattern = f"tinykube.cli scheduler --leader-elect --kubeconfig {cluster.data_dir}"
    pids = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    assert pids.split(), "the scheduler does not run as its own process"
    for pid in pids.split():
        os.kill(int(pid), signal.SIGKILL)
    name = "kube-scheduler-controlplane"

    def restarted() -> bool:
        pod = pods(cluster, "kube-system").get(name)
        statuses = (pod or {}).get("status", {}).get("containerStatuses") or [{}]
        return running(pod or {}) and statuses[0].get("restartCount", 0) >= 1

    eventually(restarted, timeout=90)


def test_up_again_brings_back_the_objects(cluster: Cluster) -> None:
    created = run_kubectl(cluster, "create", "configmap", "keep-me", "--from-literal=a=1")
    assert created.returncode == 0, created.stderr
    cluster.stop()
    assert not service_addresses_left(cluster), "kube-proxy's addresses outlived the cluster"
    cluster.start()
    got = eventually(
        lambda: (
            (
                r := run_kubectl(cluster, "get", "configmap", "keep-me", "-o", "jsonpath={.data.a}")
            ).returncode
            == 0
            and r
        )
    )
    assert got.stdout == "1"
    eventually(
        lambda: all(
            running(p)
            for n, p in pods(cluster, "kube-system").items()
            if n.startswith(CONTROL_PLANE)
        )
    )
