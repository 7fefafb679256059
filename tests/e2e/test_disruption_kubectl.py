"""PodDisruptionBudgets with the real kubectl: the disruption controller's status, evictions, drain.

One cluster for the module: ``tinykube up`` plus one simulated node, so a
Deployment can start on one node and be drained onto the other. The tests
run in order and share one Deployment ``web`` (3 replicas) guarded by the PDB
``web`` (minAvailable 2):

1. every pod starts on the simulated node (the control plane is cordoned
   meanwhile) and ``kubectl get pdb`` shows ALLOWED DISRUPTIONS 1;
2. with every node cordoned the replacement of an evicted pod cannot start,
   so a second eviction is refused with upstream's 429 until the control
   plane is uncordoned and the replacement is Ready;
3. ``kubectl drain`` of the simulated node keeps retrying with upstream's
   message while the budget allows nothing, and completes once it allows one
   disruption at a time (each replacement starts on the control plane).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster import Cluster, run_kubectl
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from scripts import Runner, parse

# A drain waits for replacements to start; on a loaded machine that takes a while.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
HEALTHY_ALLOWED = "jsonpath={.status.currentHealthy}/{.status.disruptionsAllowed}"

NS = "e2e-disruption"
WAIT_SECONDS = 120.0
REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    server = Cluster(tmp_path_factory.mktemp("cluster"), extra_args=["--simulated-nodes", "1"])
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def nodes(cluster: Cluster) -> tuple[str, str]:
    """(the control plane, the simulated node), once both are Ready."""
    until(cluster, " Ready ", "get", "nodes", "-l", "tinykube.io/simulated=true")
    until(cluster, " Ready ", "get", "nodes", "-l", "tinykube.io/simulated!=true")
    sim = kubectl(cluster, "get", "nodes", "-l", "tinykube.io/simulated=true", "-o", "name")
    real = kubectl(cluster, "get", "nodes", "-l", "tinykube.io/simulated!=true", "-o", "name")
    return real.strip().removeprefix("node/"), sim.strip().removeprefix("node/")


def kubectl(cluster: Cluster, *args: str, ok: bool = True) -> str:
    result = run_kubectl(cluster, *args, "-n", NS, timeout=180)
    assert (result.returncode == 0) == ok, f"kubectl {args}: {result.stdout}{result.stderr}"
    return result.stdout + result.stderr


def until(cluster: Cluster, pattern: str, *args: str, timeout: float = WAIT_SECONDS) -> None:
    """Repeat ``kubectl args`` until its output matches; a busy machine makes this slow."""
    deadline = time.monotonic() + timeout
    while True:
        result = run_kubectl(cluster, *args, "-n", NS)
        if re.search(pattern, result.stdout, re.MULTILINE):
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"kubectl {args} never matched {pattern!r}: {result.stdout}{result.stderr}"
            )
        time.sleep(0.5)


def run(cluster: Cluster, script: str) -> None:
    """Run a kubectl script (see scripts.py) in the namespace NS."""
    work = cluster.data_dir / "work"
    work.mkdir(exist_ok=True)
    kubeconfig = work / "kubeconfig"
    if not kubeconfig.exists():
        shutil.copy(cluster.kubeconfig, kubeconfig)
        args = ("config", "set-context", "--current", f"--namespace={NS}")
        assert run_kubectl(cluster, *args, kubeconfig=kubeconfig).returncode == 0
    runner = Runner(cluster, work, NS, kubeconfig)
    try:
        runner.run(parse("\n".join(line.strip() for line in script.splitlines())))
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- transcript ---\n" + "\n".join(runner.log[-30:])) from None


def web_pods(cluster: Cluster) -> list[dict]:
    out = kubectl(cluster, "get", "pods", "-l", "app=web", "-o", "json")
    return [p for p in json.loads(out)["items"] if not p["metadata"].get("deletionTimestamp")]


def evict(cluster: Cluster, pod: str, tmp: Path, ok: bool = True) -> str:
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod, "namespace": NS},
    }
    path = tmp / f"evict-{pod}.json"
    path.write_text(json.dumps(body))
    return kubectl(
        cluster, "create", "--raw", f"/api/v1/namespaces/{NS}/pods/{pod}/eviction", "-f", str(path),
        ok=ok,
    )  # fmt: skip


def test_budget_allows_one_disruption(cluster: Cluster, nodes: tuple[str, str]) -> None:
    control_plane, _ = nodes
    run(
        cluster,
        f"""
        kubectl create namespace {NS}
        kubectl cordon {control_plane}
        kubectl create deployment web --image=busybox --replicas=3 -- sleep 3600
        kubectl create poddisruptionbudget web --selector=app=web --min-available=2
        stdout 'poddisruptionbudget.policy/web created'
        """,
    )
    until(cluster, r"^web\s+2\s+N/A\s+1\s", "get", "pdb", "web")
    run(
        cluster,
        f"""
        kubectl get pdb web -o jsonpath={{.status.expectedPods}}/{{.status.currentHealthy}}/{{.status.desiredHealthy}}
        stdout '^3/3/2$'
        kubectl get pdb web -o jsonpath={{.status.conditions[0].reason}}
        stdout '^SufficientPods$'
        kubectl describe pdb web
        stdout '^Min available:\\s+2$'
        stdout '^\\s+Allowed disruptions:\\s+1$'
        stdout '^\\s+Current:\\s+3$'
        stdout '^\\s+Desired:\\s+2$'
        stdout '^\\s+Total:\\s+3$'
        kubectl get pods -l app=web -o wide
        ! stdout ' {control_plane} '
        """,
    )


def test_second_eviction_waits_for_the_replacement(
    cluster: Cluster, nodes: tuple[str, str], tmp_path: Path
) -> None:
    control_plane, sim = nodes
    kubectl(cluster, "cordon", sim)  # the replacement has nowhere to start
    first, second = sorted(p["metadata"]["name"] for p in web_pods(cluster))[:2]
    evict(cluster, first, tmp_path)
    out = evict(cluster, second, tmp_path, ok=False)
    assert f"Error from server (TooManyRequests): {REFUSED}" in out
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=second, namespace=NS))
    with pytest.raises(ApiException) as refused:
        client.CoreV1Api(api).create_namespaced_pod_eviction(second, NS, eviction)
    assert refused.value.status == 429
    status = json.loads(refused.value.body)
    assert status["message"] == REFUSED
    (cause,) = status["details"]["causes"]
    assert cause["reason"] == "DisruptionBudget"
    assert re.fullmatch(
        r"The disruption budget web needs 2 healthy pods and has \d currently", cause["message"]
    )
    run(
        cluster,
        f"""
        kubectl get pdb web
        stdout '^web\\s+2\\s+N/A\\s+0\\s'
        kubectl uncordon {control_plane}
        """,
    )
    until(cluster, "^3/1$", "get", "pdb", "web", "-o", HEALTHY_ALLOWED)
    run(cluster, "kubectl get pdb web\nstdout '^web\\s+2\\s+N/A\\s+1\\s'")
    assert second in {p["metadata"]["name"] for p in web_pods(cluster)}


def test_drain_retries_while_the_budget_allows_nothing(
    cluster: Cluster, nodes: tuple[str, str]
) -> None:
    _, sim = nodes
    kubectl(cluster, "patch", "pdb", "web", "--type=merge", "-p", '{"spec":{"minAvailable":3}}')
    until(cluster, r"^web\s+3\s+N/A\s+0\s", "get", "pdb", "web")
    out = kubectl(
        cluster, "drain", sim, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=7s",
        ok=False,
    )  # fmt: skip
    retry = rf'error when evicting pods/"web-[a-z0-9-]+" -n "{NS}" \(will retry after 5s\): '
    assert re.search(retry + re.escape(REFUSED), out), out
    assert len(web_pods(cluster)) == 3


def test_drain_completes_when_the_budget_allows(cluster: Cluster, nodes: tuple[str, str]) -> None:
    control_plane, sim = nodes
    kubectl(cluster, "patch", "pdb", "web", "--type=merge", "-p", '{"spec":{"minAvailable":2}}')
    until(cluster, r"^web\s+2\s+N/A\s+1\s", "get", "pdb", "web")
    out = kubectl(
        cluster, "drain", sim, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=150s"
    )
    assert f"node/{sim} drained" in out
    pods = web_pods(cluster)
    assert {p["spec"].get("nodeName") for p in pods} == {control_plane}
    until(cluster, "^3/1$", "get", "pdb", "web", "-o", HEALTHY_ALLOWED)
