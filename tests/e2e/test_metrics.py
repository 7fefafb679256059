"""``kubectl top`` against the metrics.k8s.io API the API server serves from kubelet samples."""

from __future__ import annotations

import json
import re
import time

import pytest
from cluster import ApiServer, run_kubectl

pytestmark = pytest.mark.e2e

BUSY = """
apiVersion: v1
kind: Pod
metadata: {name: busy, namespace: top-test, labels: {app: busy}}
spec:
  containers:
  - name: spin
    image: python
    command: ["python3", "-c", "import time\\nblob = bytearray(64 * 1024 * 1024)\\nwhile True: pass"]
"""


def until(check, within: float = 90.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(1)


def test_top_nodes_and_pods(apiserver: ApiServer) -> None:
    assert run_kubectl(apiserver, "create", "namespace", "top-test").returncode == 0
    created = run_kubectl(apiserver, "apply", "-f", "-", input=BUSY)
    assert created.returncode == 0, created.stderr

    def pod_row() -> re.Match[str] | None:
        done = run_kubectl(apiserver, "top", "pod", "-n", "top-test", "-l", "app=busy")
        return re.search(r"^busy\s+(\d+)m\s+(\d+)Mi\s*$", done.stdout, re.M)

    row = until(pod_row)
    assert int(row.group(1)) >= 200  # a spinning process uses a good part of a core
    assert int(row.group(2)) >= 64  # and holds the 64 MiB it allocated

    nodes = run_kubectl(apiserver, "top", "node")
    assert nodes.returncode == 0, nodes.stderr
    lines = nodes.stdout.splitlines()
    assert lines[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    assert re.match(r"^controlplane\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%", lines[1])

    containers = run_kubectl(apiserver, "top", "pod", "busy", "-n", "top-test", "--containers")
    assert re.search(r"^busy\s+spin\s+\d+m\s+\d+Mi", containers.stdout, re.M), containers.stdout

    raw = run_kubectl(
        apiserver, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/top-test/pods/busy"
    )
    metrics = json.loads(raw.stdout)
    assert metrics["kind"] == "PodMetrics" and metrics["window"] == "10s"
    assert metrics["containers"][0]["usage"]["cpu"].endswith("n")
    assert metrics["containers"][0]["usage"]["memory"].endswith("Ki")
    missing = run_kubectl(apiserver, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/nope")
    assert missing.returncode == 1 and "NotFound" in missing.stderr


def test_tkctl_top_prints_what_kubectl_prints(apiserver: ApiServer) -> None:
    """Same columns, units and layout; the numbers themselves move, so rows are compared by shape."""
    import subprocess
    import sys
    from pathlib import Path

    tkctl = Path(sys.executable).parent / "tkctl"
    env_cfg = {"KUBECONFIG": str(apiserver.kubeconfig)}

    def both(*args: str) -> list[subprocess.CompletedProcess[str]]:
        import os

        real = run_kubectl(apiserver, *args)
        ours = subprocess.run(
            [str(tkctl), *args], capture_output=True, text=True, env={**os.environ, **env_cfg}
        )
        return [real, ours]

    def shape(text: str) -> list[str]:
        # Digits and the padding they take vary between the two runs; layout does not.
        return [re.sub(r" +", " ", re.sub(r"\d+", "N", line)) for line in text.splitlines()]

    until(lambda: run_kubectl(apiserver, "top", "pod", "-n", "top-test").returncode == 0)
    for args in (
        ("top", "node"),
        ("top", "pod", "-n", "top-test"),
        ("top", "pod", "busy", "-n", "top-test", "--containers", "--no-headers"),
        ("top", "nope"),
        ("top", "pod", "-n", "empty-namespace-for-top"),
    ):
        real, ours = both(*args)
        assert (ours.returncode, ours.stderr) == (real.returncode, real.stderr), args
        assert shape(ours.stdout) == shape(real.stdout), args


HUNGRY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: hungry, namespace: top-test}
spec:
  replicas: 1
  selector: {matchLabels: {app: hungry}}
  template:
    metadata: {labels: {app: hungry}}
    spec:
      containers:
      - name: c
        image: python
        command: ["python3", "-c", "import time\\nb = bytearray(40 * 1024 * 1024)\\ntime.sleep(3600)"]
        resources: {requests: {memory: 20Mi}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: hungry, namespace: top-test}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: hungry}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: Utilization, averageUtilization: 100}}
"""


def test_horizontal_pod_autoscaler_follows_memory_use(apiserver: ApiServer) -> None:
    """Each pod uses about twice its request: the autoscaler goes to its maximum of 3."""
    run_kubectl(apiserver, "create", "namespace", "top-test")
    applied = run_kubectl(apiserver, "apply", "-f", "-", input=HUNGRY)
    assert applied.returncode == 0, applied.stderr

    def scaled() -> bool:
        got = run_kubectl(apiserver, "get", "deploy", "hungry", "-n", "top-test",
                          "-o", "jsonpath={.spec.replicas}")  # fmt: skip
        return got.stdout == "3"

    until(scaled, within=150)
    row = run_kubectl(apiserver, "get", "hpa", "hungry", "-n", "top-test", "--no-headers").stdout
    assert re.match(r"^hungry\s+Deployment/hungry\s+memory: \d+%/100%\s+1\s+3\s+\d\s+", row), row
    events = run_kubectl(apiserver, "get", "events", "-n", "top-test",
                         "--field-selector", "reason=SuccessfulRescale").stdout  # fmt: skip
    assert (
        "New size: 3; reason: memory resource utilization (percentage of request) above target"
        in events
    )
    status = json.loads(
        run_kubectl(apiserver, "get", "hpa", "hungry", "-n", "top-test", "-o", "json").stdout
    )["status"]
    kinds = {c["type"]: c["status"] for c in status["conditions"]}
    assert kinds["AbleToScale"] == "True" and kinds["ScalingActive"] == "True"
    assert status["currentMetrics"][0]["resource"]["current"]["averageUtilization"] > 100
    run_kubectl(apiserver, "delete", "deploy", "hungry", "-n", "top-test")
