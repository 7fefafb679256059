"""Nodes and scheduling as a CKA student meets them, with the real kubectl.

One cluster for the module: ``tinykube up`` plus two simulated nodes (Nodes,
Leases and pod status without processes, so the test costs little CPU). The
tests check what a user reads back: the FailedScheduling message upstream
words for taints, a second scheduler naming itself in the events of the pods
it placed, the toleration every static pod carries, and the node
controller's RegisteredNode event in ``kubectl describe node``.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
from cluster import BIN, Cluster, free_port, run_kubectl
from scripts import Runner, parse

pytestmark = pytest.mark.e2e

NS = "e2e-nodes"
SECOND_SCHEDULER = """
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: false
profiles:
- schedulerName: my-scheduler
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    server = Cluster(tmp_path_factory.mktemp("cluster"), extra_args=["--simulated-nodes", "2"])
    server.start()
    try:
        run(server, f"kubectl create namespace {NS}")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def workers(cluster: Cluster) -> list[str]:
    """The two simulated nodes, once they and the control plane are Ready."""

    def ready() -> list[str]:
        out = run_kubectl(cluster, "get", "nodes", "--no-headers").stdout.splitlines()
        return [row.split()[0] for row in out if row.split()[1:2] == ["Ready"]]

    nodes = eventually(lambda: len(ready()) == 3 and ready(), timeout=60)
    return sorted(n for n in nodes if n != "controlplane")


def kubectl(cluster: Cluster, *args: str) -> str:
    result = run_kubectl(cluster, "-n", NS, *args, timeout=120)
    assert result.returncode == 0, f"kubectl {args}: {result.stdout}{result.stderr}"
    return result.stdout


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


def eventually(check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.5)
    return result


def test_untolerated_taints_are_named_and_removing_one_lets_the_pod_in(
    cluster: Cluster, workers: list[str]
) -> None:
    nodes = ["controlplane", *workers]
    message = (
        "0/3 nodes are available: 3 node(s) had untolerated taint {app: blue}. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    out = kubectl(cluster, "taint", "nodes", *nodes, "app=blue:NoSchedule")
    assert out.split() == [word for n in nodes for word in (f"node/{n}", "tainted")]
    try:
        kubectl(cluster, "run", "tainted", "--image=busybox", "--command", "--", "sleep", "3600")
        selector = "involvedObject.name=tainted,reason=FailedScheduling"
        query = (
            "get",
            "events",
            "--field-selector",
            selector,
            "-o",
            "jsonpath={.items[*].message}",
        )
        assert eventually(lambda: kubectl(cluster, *query)) == message
        removed = kubectl(cluster, "taint", "nodes", workers[0], "app-")
        assert removed == f"node/{workers[0]} untainted\n"
        where = ("get", "pod", "tainted", "-o", "jsonpath={.spec.nodeName}")
        assert eventually(lambda: kubectl(cluster, *where)) == workers[0]
    finally:
        for node in (n for n in nodes if n != workers[0]):
            kubectl(cluster, "taint", "nodes", node, "app=blue:NoSchedule-")


def test_a_second_scheduler_places_its_pods_and_signs_their_events(
    cluster: Cluster, workers: list[str]
) -> None:
    config = cluster.data_dir / "my-scheduler.yaml"
    config.write_text(SECOND_SCHEDULER)
    run(
        cluster,
        """
        kubectl run mine --image=busybox '--overrides={"spec":{"schedulerName":"my-scheduler"}}' --command -- sleep 3600
        kubectl get pod mine -o jsonpath={.spec.schedulerName}/{.spec.nodeName}
        stdout '^my-scheduler/$'
        """,
    )
    argv = [str(BIN / "tinykube"), "scheduler", "--kubeconfig", str(cluster.kubeconfig)]
    argv += ["--secure-port", str(free_port())]  # the cluster's own scheduler has 10259
    log = open(cluster.data_dir / "my-scheduler.log", "wb")  # noqa: SIM115 - the process owns it
    proc = subprocess.Popen([*argv, "--config", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        run(
            cluster,
            """
            eventually kubectl describe pod mine
            stdout 'Normal\\s+Scheduled\\s+\\S+\\s+my-scheduler\\s+Successfully assigned e2e-nodes/mine to '
            kubectl get events.events.k8s.io --field-selector regarding.name=mine,reason=Scheduled -o jsonpath={.items[*].reportingController}
            stdout '^my-scheduler$'
            kubectl run theirs --image=busybox --command -- sleep 3600
            eventually kubectl describe pod theirs
            stdout 'Normal\\s+Scheduled\\s+\\S+\\s+default-scheduler\\s+Successfully assigned'
            """,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_static_pods_tolerate_every_no_execute_taint(cluster: Cluster) -> None:
    out = run_kubectl(
        cluster, "get", "pod", "-n", "kube-system", "kube-apiserver-controlplane", "-o", "json"
    )
    assert out.returncode == 0, out.stderr
    pod = json.loads(out.stdout)
    # Only upstream's one toleration: it covers not-ready and unreachable, so the
    # DefaultTolerationSeconds admission adds no 300-second ones beside it.
    assert pod["spec"]["tolerations"] == [{"effect": "NoExecute", "operator": "Exists"}]
    annotations = pod["metadata"]["annotations"]
    assert annotations["kubernetes.io/config.source"] == "file"
    assert annotations["kubernetes.io/config.seen"].endswith("Z")


def test_describe_node_shows_the_node_controller_registered_it(
    cluster: Cluster, workers: list[str]
) -> None:
    node = workers[0]
    run(
        cluster,
        f"""
        eventually kubectl describe node {node}
        stdout 'Normal\\s+RegisteredNode\\s+\\S+\\s+node-controller\\s+Node {node} event: Registered Node {node} in Controller'
        """,
    )


def test_a_stopped_scheduler_hands_its_lease_back(cluster: Cluster) -> None:
    """SIGTERM (the kubelet restarting an edited static pod) releases the Lease at once.

    Otherwise a fixed kube-scheduler manifest leaves pods Pending for the
    lease duration while the new scheduler waits for the dead one's Lease.
    """
    config = cluster.data_dir / "elected-scheduler.yaml"
    config.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "leaderElection: {leaderElect: true, resourceName: elected-scheduler}\n"
        "profiles: [{schedulerName: elected-scheduler}]\n"
    )
    argv = [str(BIN / "tinykube"), "scheduler", "--kubeconfig", str(cluster.kubeconfig)]
    argv += ["--secure-port", str(free_port()), "--config", str(config)]
    log = open(cluster.data_dir / "elected-scheduler.log", "wb")  # noqa: SIM115 - the process owns it
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    holder = ("get", "lease", "-n", "kube-system", "elected-scheduler")
    holder += ("-o", "jsonpath={.spec.holderIdentity}")
    try:
        assert eventually(lambda: run_kubectl(cluster, *holder).stdout)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert run_kubectl(cluster, *holder).stdout == ""


def test_no_execute_evicts_after_the_toleration_and_a_lifted_taint_cancels(
    cluster: Cluster, workers: list[str]
) -> None:
    node = workers[1]
    manifest = cluster.data_dir / "tolerating.yaml"
    pods = []
    for name, seconds in (("brief", 3), ("patient", 600)):
        toleration = {
            "key": "maintenance",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": seconds,
        }
        spec = {
            "nodeName": node,
            "tolerations": [toleration],
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}],
        }
        meta = {"name": name, "labels": {"test": "no-execute"}}
        pods.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": pods}))
    kubectl(cluster, "apply", "-f", str(manifest))
    kubectl(cluster, "run", "intolerant", "--image=busybox", "--labels=test=no-execute", f'--overrides={{"spec":{{"nodeName":"{node}"}}}}', "--command", "--", "sleep", "3600")  # fmt: skip
    kubectl(cluster, "taint", "nodes", node, "maintenance=now:NoExecute")
    try:
        names = ("get", "pods", "-l", "test=no-execute", "-o", "jsonpath={.items[*].metadata.name}")
        assert eventually(lambda: kubectl(cluster, *names) == "patient")
        marked = ("get", "events", "--field-selector", "reason=TaintManagerEviction")
        marked += ("-o", "jsonpath={range .items[*]}{.message}{'\\n'}{end}")
        out = set(kubectl(cluster, *marked).splitlines())  # other pods of the node go too
        assert {f"Marking for deletion Pod {NS}/{p}" for p in ("brief", "intolerant")} <= out
        assert f"Marking for deletion Pod {NS}/patient" not in out
    finally:
        kubectl(cluster, "taint", "nodes", node, "maintenance-")
    cancelled = f"Cancelling deletion of Pod {NS}/patient"
    assert eventually(lambda: cancelled in kubectl(cluster, *marked).splitlines())
    assert kubectl(cluster, "get", "pod", "patient", "-o", "jsonpath={.metadata.name}") == "patient"


def test_drain_names_what_it_will_not_touch_then_evicts_the_rest(
    cluster: Cluster, workers: list[str]
) -> None:
    node = workers[0]
    run(
        cluster,
        f"""
        kubectl create deployment drained --image=busybox --replicas=2 -- sleep 3600
        kubectl run bare --image=busybox '--overrides={{"spec":{{"nodeName":"{node}"}}}}' --command -- sleep 3600
        eventually kubectl get pod bare
        stdout 'Running'
        ! kubectl drain {node}
        stdout 'node/{node} cordoned'
        stderr 'cannot delete DaemonSet-managed Pods \\(use --ignore-daemonsets to ignore\\): kube-system/kube-proxy-'
        stderr 'cannot delete Pods that declare no controller \\(use --force to override\\): e2e-nodes/bare'
        kubectl get node {node}
        stdout 'Ready,SchedulingDisabled'
        kubectl describe node {node}
        stdout 'Taints:\\s+node.kubernetes.io/unschedulable:NoSchedule'
        kubectl drain {node} --ignore-daemonsets --force
        stdout 'pod/bare evicted'
        stdout 'node/{node} drained'
        kubectl get pods -l app=drained -o wide
        ! stdout ' {node} '
        kubectl uncordon {node}
        stdout 'node/{node} uncordoned'
        """,
    )
