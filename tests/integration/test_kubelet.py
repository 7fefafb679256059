"""The kubelet with the process runtime against a real API server, driven by real kubectl.

A ``tinykube apiserver`` and a ``kubelet`` (a node named for the test run, its own root dir,
a loopback port for its HTTPS server, the cluster CA for client auth) run as
subprocesses, as they do in a cluster. Pods are created already bound
(``spec.nodeName``), since no scheduler runs here. Tests needing root
(network namespaces, cgroups) skip with a reason elsewhere; CI runs as root.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster import ApiServer, free_port, run_kubectl

pytestmark = pytest.mark.integration

IS_ROOT = os.geteuid() == 0
ROOT_REASON = "needs root (network namespaces, cgroups); CI runs as root"


def needs_root(
    mode: str, why: str = "the rootless fallback has no cgroups and shares the host network"
) -> None:
    if not IS_ROOT:
        pytest.skip(ROOT_REASON)
    if mode == "rootless":
        pytest.skip(why)


# Unique per run: the node name also names its cgroups and must not meet another kubelet.
NODE = f"it-node-{os.getpid()}"
KUBELETS: dict[int, Kubelet] = {}
# Unique to this run too: concurrent runs must not share addresses on the host's bridge.
POD_CIDR_OCTET = os.getpid() % 250
POD_CIDR = f"10.246.{POD_CIDR_OCTET}.0/24"


class Kubelet:
    def __init__(self, server: ApiServer, root: Path, extra: list[str] | None = None) -> None:
        self.server = server
        self.root = root
        self.port = free_port()
        self.log_path = root.parent / f"{root.name}.log"
        cmd = [
            sys.executable,
            "-m",
            "tinykube.kubelet.command",
            "kubelet",
            "--kubeconfig",
            str(server.kubeconfig),
            "--node-name",
            NODE,
            "--root-dir",
            str(root),
            "--port",
            str(self.port),
            "--pod-cidr",
            POD_CIDR,
            "--client-ca-file",
            str(server.data_dir / "pki" / "ca.crt"),
            *(extra or []),
        ]
        self.cmd = cmd
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - the process owns it
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)

    def restart(self) -> None:
        self.stop()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - the process owns it
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def kubectl(server: ApiServer, *args: str, input: str | None = None) -> str:
    result = run_kubectl(server, *args, input=input)
    assert result.returncode == 0, result.stderr
    return result.stdout


def eventually(check: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(AssertionError, KeyError, IndexError, ValueError):
            last = check()
            if last:
                return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what or check}: last={last!r}")


def get_pod(server: ApiServer, name: str) -> dict[str, Any]:
    return json.loads(kubectl(server, "get", "pod", name, "-o", "json"))


def pod_manifest(name: str, containers: list[dict[str, Any]], **spec: Any) -> str:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": NODE,
            "terminationGracePeriodSeconds": 2,
            "containers": containers,
            **spec,
        },
    }
    return json.dumps(pod)


def container(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script], **extra}


@pytest.fixture(scope="module", params=["privileged", "rootless"])
def mode(request: pytest.FixtureRequest) -> str:
    """The same suite runs as root would and with the unprivileged fallback forced."""
    return str(request.param)


def host_netns() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, mode: str) -> Iterator[ApiServer]:
    base = tmp_path_factory.mktemp("kubelet")
    server = ApiServer(base / "api")
    server.start()
    flags = ["--pod-manifest-path", str(base / "manifests")]
    kubelet = Kubelet(
        server, base / "node1", flags + (["--rootless"] if mode == "rootless" else [])
    )
    try:
        # No controller-manager here: the ServiceAccount it would make, we make.
        kubectl(server, "create", "serviceaccount", "default")
        eventually(
            lambda: "Ready" in kubectl(server, "get", "node", NODE, "--no-headers"),
            what=f"node ready\n{kubelet.logs()}",
        )
        KUBELETS[server.port] = kubelet
        yield server
    finally:
        live = {f"tk-{d.name}" for d in (base / "node1" / "runtime").glob("*")}
        cgroups_before = node_cgroups()
        kubelet.stop()
        server.stop()
    # The kubelet removes what it made on the host when it stops (other kubelets may be
    # running on this machine, so only the sandboxes this one had are checked).
    assert not live & host_netns(), kubelet.logs()
    assert not list((base / "node1" / "runtime").glob("*/state.json"))
    if mode == "privileged" and IS_ROOT and live:
        assert cgroups_before, "the pods of this kubelet ran in cgroups of its own"
    assert not node_cgroups(), kubelet.logs()


def node_cgroups() -> list[Path]:
    """This node's cgroup directories (``tinykube/<node>-<instance>``; v1 or v2 layout)."""
    root = Path("/sys/fs/cgroup")
    return [*root.glob(f"*/tinykube/{NODE}-*"), *root.glob(f"tinykube/{NODE}-*")]


def test_node_registered_with_labels_lease_and_capacity(cluster: ApiServer) -> None:
    node = json.loads(kubectl(cluster, "get", "node", NODE, "-o", "json"))
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == NODE
    assert labels["kubernetes.io/os"] == "linux"
    assert node["spec"]["podCIDR"] == POD_CIDR
    assert node["status"]["capacity"]["pods"] == "110"
    assert {c["type"] for c in node["status"]["conditions"]} == {
        "Ready",
        "MemoryPressure",
        "DiskPressure",
        "PIDPressure",
    }
    assert len(node["status"]["nodeInfo"]) == 10
    lease = json.loads(
        kubectl(cluster, "get", "lease", NODE, "-n", "kube-node-lease", "-o", "json")
    )
    assert lease["spec"]["holderIdentity"] == NODE


def test_kubelet_puts_ready_back_after_the_node_was_marked_unknown(cluster: ApiServer) -> None:
    """After a partition the node lifecycle controller leaves Ready=Unknown; the next
    status pass compares with the server's copy and posts Ready=True again."""
    unknown = {
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "Unknown",
                    "reason": "NodeStatusUnknown",
                    "message": "Kubelet stopped posting node status.",
                    "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ]
        }
    }
    kubectl(cluster, "patch", "node", NODE, "--subresource=status", "-p", json.dumps(unknown))

    def ready() -> bool:
        node = json.loads(kubectl(cluster, "get", "node", NODE, "-o", "json"))
        cond = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        return cond["status"] == "True" and cond["lastTransitionTime"] != "2026-01-01T00:00:00Z"

    eventually(ready, timeout=40, what="Ready=True posted again")


def test_pod_runs_is_ready_and_logs_through_the_api_server(cluster: ApiServer, mode: str) -> None:
    kubectl(
        cluster,
        "apply",
        "-f",
        "-",
        input=pod_manifest("hello", [container("main", "echo hello; sleep 3600")]),
    )

    def running() -> dict[str, Any]:
        pod = get_pod(cluster, "hello")
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"]
        assert pod["status"]["phase"] == "Running" and ready == "True"
        return pod

    pod = eventually(running, what="hello Running and Ready")
    assert pod["status"]["podIP"].startswith(
        f"10.246.{POD_CIDR_OCTET}." if mode == "privileged" else f"127.246.{POD_CIDR_OCTET}."
    )
    assert pod["status"]["containerStatuses"][0]["containerID"].startswith("process://")
    assert eventually(lambda: kubectl(cluster, "logs", "hello")) == "hello\n"
    timestamps = kubectl(cluster, "logs", "hello", "--timestamps")
    assert timestamps.endswith("Z hello\n")
    assert kubectl(cluster, "logs", "hello", "--limit-bytes=3") == "hel"
    assert kubectl(cluster, "logs", "hello", "--tail=0") == ""


def test_logs_follow_ends_when_the_container_ends(cluster: ApiServer) -> None:
    script = "echo first; sleep 2; echo second"
    manifest = pod_manifest("follow", [container("main", script)], restartPolicy="Never")
    kubectl(cluster, "apply", "-f", "-", input=manifest)
    eventually(lambda: get_pod(cluster, "follow")["status"]["phase"] != "Pending", 60)
    assert kubectl(cluster, "logs", "-f", "follow") == "first\nsecond\n"
    eventually(lambda: get_pod(cluster, "follow")["status"]["phase"] == "Succeeded", 30)


def test_failing_container_goes_to_crash_loop_back_off(cluster: ApiServer) -> None:
    kubectl(
        cluster,
        "apply",
        "-f",
        "-",
        input=pod_manifest("crash", [container("main", "echo crashed; exit 3")]),
    )

    def backing_off() -> bool:
        status = get_pod(cluster, "crash")["status"]["containerStatuses"][0]
        assert status["restartCount"] >= 2
        assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert status["lastState"]["terminated"]["exitCode"] == 3
        return True

    eventually(backing_off, 60, "CrashLoopBackOff with restarts")
    assert kubectl(cluster, "logs", "crash", "--previous") == "crashed\n"
    events = kubectl(cluster, "get", "events", "--field-selector", "involvedObject.name=crash")
    assert "Back-off restarting failed container main" in events


def test_liveness_probe_failure_restarts_the_container(cluster: ApiServer) -> None:
    probe = {
        "exec": {"command": ["sh", "-c", "test -e /tmp/live-probe-$HOSTNAME"]},
        "periodSeconds": 1,
        "failureThreshold": 1,
    }
    script = "touch /tmp/live-probe-$HOSTNAME; sleep 2; rm /tmp/live-probe-$HOSTNAME; sleep 3600"
    kubectl(
        cluster,
        "apply",
        "-f",
        "-",
        input=pod_manifest("live", [container("main", script, livenessProbe=probe)]),
    )
    eventually(
        lambda: get_pod(cluster, "live")["status"]["containerStatuses"][0]["restartCount"] >= 1,
        60,
        "a liveness restart",
    )
    events = kubectl(cluster, "get", "events", "--field-selector", "involvedObject.name=live")
    assert "Unhealthy" in events and "failed liveness probe, will be restarted" in events


def test_service_environment_variables_reach_the_process(cluster: ApiServer, mode: str) -> None:
    kubectl(cluster, "create", "service", "clusterip", "env-svc", "--tcp=8080:80")
    ip = kubectl(cluster, "get", "svc", "env-svc", "-o", "jsonpath={.spec.clusterIP}")
    script = (
        'echo "$ENV_SVC_SERVICE_HOST:$ENV_SVC_SERVICE_PORT '
        '$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"; sleep 3600'
    )
    kubectl(cluster, "apply", "-f", "-", input=pod_manifest("envpod", [container("main", script)]))
    if mode == "privileged" and IS_ROOT:
        host = kubectl(cluster, "get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP}")
        api = f"{host}:443"
    else:  # without root: the API server's own address, which host-network pods can reach
        api = f"127.0.0.1:{cluster.port}"
    assert eventually(lambda: kubectl(cluster, "logs", "envpod")) == f"{ip}:8080 {api}\n"


def test_configmap_volume_and_secret_env_reach_the_process(cluster: ApiServer) -> None:
    kubectl(cluster, "create", "configmap", "kcfg", "--from-literal=file.txt=from-configmap")
    kubectl(cluster, "create", "secret", "generic", "ksec", "--from-literal=pw=s3cret")
    env = [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "ksec", "key": "pw"}}}]
    mounts = [{"name": "cfg", "mountPath": "/etc/kcfg"}]
    script = "cat /etc/kcfg/file.txt; echo; echo $PW; sleep 3600"
    manifest = pod_manifest(
        "cfgpod",
        [container("main", script, env=env, volumeMounts=mounts)],
        volumes=[{"name": "cfg", "configMap": {"name": "kcfg"}}],
    )
    kubectl(cluster, "apply", "-f", "-", input=manifest)

    def logged() -> str:
        out = kubectl(cluster, "logs", "cfgpod")
        assert out.count("\n") >= 2
        return out

    assert eventually(logged) == "from-configmap\ns3cret\n"


def test_memory_limit_oom_kills(cluster: ApiServer, mode: str) -> None:
    needs_root(mode)
    big = container("main", "exec python3 -c 'x = bytearray(300 * 1024 * 1024)'")
    big["resources"] = {"limits": {"memory": "50Mi"}}
    kubectl(cluster, "apply", "-f", "-", input=pod_manifest("oom", [big], restartPolicy="Never"))

    def oom_killed() -> dict[str, Any]:
        state = get_pod(cluster, "oom")["status"]["containerStatuses"][0]["state"]
        return state["terminated"]

    terminated = eventually(oom_killed, 60, "OOMKilled")
    assert (terminated["exitCode"], terminated["reason"]) == (137, "OOMKilled")
    assert get_pod(cluster, "oom")["status"]["phase"] == "Failed"


def test_containers_of_a_pod_reach_each_other_on_localhost(cluster: ApiServer, mode: str) -> None:
    needs_root(mode)
    server = container("server", "exec python3 -m http.server 18090 --bind 127.0.0.1")
    client = container(
        "client",
        'for i in $(seq 100); do python3 -c "import urllib.request as u;'
        "print(u.urlopen('http://localhost:18090/').status)\" 2>/dev/null && break;"
        " sleep 0.2; done; sleep 3600",
    )
    kubectl(cluster, "apply", "-f", "-", input=pod_manifest("duo", [server, client]))
    assert eventually(lambda: kubectl(cluster, "logs", "duo", "-c", "client"), 60) == "200\n"


def test_deleting_a_pod_stops_its_process_and_removes_the_object(cluster: ApiServer) -> None:
    marker = "sleep 3593"
    kubectl(cluster, "apply", "-f", "-", input=pod_manifest("doomed", [container("main", marker)]))

    def process_running() -> bool:
        out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
        return bool(out.stdout.strip())

    eventually(process_running, 60, "the pod's process")
    kubectl(cluster, "delete", "pod", "doomed", "--wait=true", "--timeout=60s")
    assert not process_running()
    result = run_kubectl(cluster, "get", "pod", "doomed")
    assert result.returncode != 0 and "NotFound" in result.stderr


STATIC_POD = """
apiVersion: v1
kind: Pod
metadata: {name: static-web, namespace: default, labels: {tier: static}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox
    command: ["sh", "-c", "echo VERSION; sleep 3600"]
"""


def test_static_pod_runs_with_a_mirror_pod_follows_edits_and_goes(cluster: ApiServer) -> None:
    manifests = cluster.data_dir.parent / "manifests"
    manifests.mkdir(exist_ok=True)
    manifest = manifests / "web.yaml"
    manifest.write_text(STATIC_POD.replace("VERSION", "v1"))
    name = f"static-web-{NODE}"

    def running_mirror() -> dict[str, Any]:
        pod = get_pod(cluster, name)
        assert pod["status"]["phase"] == "Running"
        return pod

    mirror = eventually(running_mirror, 60, "the mirror pod Running")
    assert "kubernetes.io/config.mirror" in mirror["metadata"]["annotations"]
    assert mirror["metadata"]["ownerReferences"][0]["kind"] == "Node"
    assert eventually(lambda: kubectl(cluster, "logs", name)) == "v1\n"
    old_uid = mirror["metadata"]["uid"]
    kubectl(cluster, "delete", "pod", name, "--wait=true", "--timeout=30s")
    eventually(lambda: get_pod(cluster, name)["metadata"]["uid"] != old_uid, 30, "mirror back")
    assert kubectl(cluster, "logs", name) == "v1\n"  # the static pod itself kept running
    manifest.write_text(STATIC_POD.replace("VERSION", "v2"))
    assert eventually(lambda: kubectl(cluster, "logs", name) == "v2\n", 60, "the edited pod")
    manifest.unlink()
    eventually(
        lambda: run_kubectl(cluster, "get", "pod", name).returncode != 0, 60, "mirror removed"
    )


def test_simulated_nodes_run_pods_without_processes(cluster: ApiServer, mode: str) -> None:
    if mode == "rootless":
        pytest.skip("simulated nodes do not depend on the runtime mode")
    log_path = cluster.data_dir.parent / "simulated.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tinykube.kubelet.command",
                "simulated-nodes",
                "--kubeconfig",
                str(cluster.kubeconfig),
                "--count",
                "3",
                "--run-seconds",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        eventually(
            lambda: kubectl(cluster, "get", "nodes", "--no-headers").count("sim-node-") == 3,
            60,
            "three simulated nodes",
        )
        node = json.loads(kubectl(cluster, "get", "node", "sim-node-0002", "-o", "json"))
        assert node["metadata"]["labels"]["tinykube.io/simulated"] == "true"
        assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("simulated://")
        forever = pod_manifest("sim-forever", [container("c", "sleep 1")])
        finite = pod_manifest("sim-job", [container("c", "true")], restartPolicy="Never")
        for manifest in (forever, finite):
            body = json.loads(manifest)
            body["spec"]["nodeName"] = "sim-node-0002"
            kubectl(cluster, "apply", "-f", "-", input=json.dumps(body))
        eventually(
            lambda: get_pod(cluster, "sim-forever")["status"]["phase"] == "Running",
            30,
            "simulated Running",
        )
        assert get_pod(cluster, "sim-forever")["status"]["podIP"].startswith("10.192.1.")
        eventually(
            lambda: get_pod(cluster, "sim-job")["status"]["phase"] == "Succeeded",
            30,
            "simulated Succeeded",
        )
        kubectl(cluster, "delete", "pod", "sim-forever", "--wait=true", "--timeout=30s")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


async def exec_over_websocket(
    server: ApiServer, query: str, stdin: bytes
) -> tuple[bytes, bytes, dict[str, Any]]:
    """Talk to the kubelet's /exec as the API server does (client cert, v5 channels)."""
    import ssl

    import aiohttp

    pki = server.data_dir / "pki"
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    url = f"https://127.0.0.1:{KUBELETS[server.port].port}/exec/default/execpod/main?{query}"
    out, err, status = b"", b"", {}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, protocols=["v5.channel.k8s.io"], ssl=ctx) as ws,
    ):
        assert ws.protocol == "v5.channel.k8s.io"
        await ws.send_bytes(b"\x00" + stdin)
        await ws.send_bytes(bytes([255, 0]))
        async for msg in ws:
            channel, payload = msg.data[0], msg.data[1:]
            if channel == 1:
                out += payload
            elif channel == 2:
                err += payload
            elif channel == 3:
                status = json.loads(payload)
    return out, err, status


def test_exec_over_websocket_streams_and_reports_the_exit_code(cluster: ApiServer) -> None:
    import asyncio
    from urllib.parse import urlencode

    kubectl(
        cluster,
        "apply",
        "-f",
        "-",
        input=pod_manifest("execpod", [container("main", "sleep 3600")]),
    )
    eventually(lambda: get_pod(cluster, "execpod")["status"]["phase"] == "Running", 60)
    command = [("command", c) for c in ("sh", "-c", "cat; echo oops >&2; exit 3")]
    query = urlencode([*command, ("input", "1"), ("output", "1"), ("error", "1")])
    out, err, status = asyncio.run(exec_over_websocket(cluster, query, b"from stdin\n"))
    assert out == b"from stdin\n", (err, status)
    assert err == b"oops\n"
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    ok = "command=true&output=1"
    assert asyncio.run(exec_over_websocket(cluster, ok, b""))[2]["status"] == "Success"
    tty = urlencode([("command", "sh"), ("command", "-c"), ("command", "tty"), ("tty", "1")])
    out, _, status = asyncio.run(exec_over_websocket(cluster, tty + "&output=1", b""))
    assert out.startswith(b"/dev/pts/") and status["status"] == "Success"


def test_volumes_init_containers_and_pre_stop_hook(cluster: ApiServer) -> None:
    out = cluster.data_dir.parent / f"hostpath-{cluster.port}"
    writer = container("writer", "echo from-init > /cache/note")
    script = (
        "cat /cache/note; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo;"
        " cat /etc/podinfo/labels; echo; sleep 3600"
    )
    main = container(
        "main",
        script,
        volumeMounts=[
            {"name": "cache", "mountPath": "/cache"},
            {"name": "out", "mountPath": "/out"},
            {"name": "podinfo", "mountPath": "/etc/podinfo"},
        ],
        lifecycle={"preStop": {"exec": {"command": ["sh", "-c", "echo stopping > /out/bye"]}}},
    )
    writer["volumeMounts"] = [{"name": "cache", "mountPath": "/cache"}]
    labels_item = {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}
    volumes = [
        {"name": "cache", "emptyDir": {}},
        {"name": "out", "hostPath": {"path": str(out), "type": "DirectoryOrCreate"}},
        {"name": "podinfo", "downwardAPI": {"items": [labels_item]}},
    ]
    body = json.loads(pod_manifest("vols", [main], initContainers=[writer], volumes=volumes))
    body["metadata"]["labels"] = {"app": "vols"}
    kubectl(cluster, "apply", "-f", "-", input=json.dumps(body))

    def logged() -> str:
        text = kubectl(cluster, "logs", "vols", "-c", "main")
        assert text.count("\n") >= 3
        return text

    assert eventually(logged, 60) == 'from-init\ndefault\napp="vols"\n'
    init = get_pod(cluster, "vols")["status"]["initContainerStatuses"][0]
    assert init["state"]["terminated"]["reason"] == "Completed"
    kubectl(cluster, "delete", "pod", "vols", "--wait=true", "--timeout=60s")
    assert (out / "bye").read_text() == "stopping\n"


def test_changing_a_container_image_restarts_it(cluster: ApiServer) -> None:
    kubectl(
        cluster, "apply", "-f", "-", input=pod_manifest("imgpod", [container("main", "sleep 3600")])
    )
    eventually(lambda: get_pod(cluster, "imgpod")["status"]["phase"] == "Running", 60)
    kubectl(cluster, "set", "image", "pod/imgpod", "main=busybox:1.36")

    def restarted() -> bool:
        status = get_pod(cluster, "imgpod")["status"]["containerStatuses"][0]
        assert status["image"] == "busybox:1.36" and status["restartCount"] == 1
        return "running" in status["state"]

    eventually(restarted, 60, "the container restarted with its new image")


def test_active_deadline_fails_the_pod(cluster: ApiServer) -> None:
    manifest = pod_manifest("deadline", [container("main", "sleep 3600")], activeDeadlineSeconds=2)
    kubectl(cluster, "apply", "-f", "-", input=manifest)

    def failed() -> dict[str, Any]:
        status = get_pod(cluster, "deadline")["status"]
        assert status["phase"] == "Failed"
        assert "terminated" in status["containerStatuses"][0]["state"]
        return status

    assert eventually(failed, 60, "DeadlineExceeded")["reason"] == "DeadlineExceeded"


def test_run_as_user_and_group(cluster: ApiServer, mode: str) -> None:
    needs_root(mode, "the rootless fallback runs as the kubelet's own user")
    body = json.loads(pod_manifest("runas", [container("main", "id -u; id -g; sleep 3600")]))
    body["spec"]["securityContext"] = {"runAsUser": 1000, "runAsGroup": 3000}
    kubectl(cluster, "apply", "-f", "-", input=json.dumps(body))

    def logged() -> str:
        out = kubectl(cluster, "logs", "runas")
        assert out.count("\n") >= 2
        return out

    assert eventually(logged, 60) == "1000\n3000\n"


def test_a_restarted_kubelet_keeps_finished_pods_and_their_logs(cluster: ApiServer) -> None:
    manifest = pod_manifest("done", [container("main", "echo finished")], restartPolicy="Never")
    kubectl(cluster, "apply", "-f", "-", input=manifest)
    runner = pod_manifest("runner", [container("main", "echo up; sleep 3600")])
    kubectl(cluster, "apply", "-f", "-", input=runner)
    eventually(lambda: get_pod(cluster, "done")["status"]["phase"] == "Succeeded", 60)
    eventually(lambda: get_pod(cluster, "runner")["status"]["phase"] == "Running", 60)
    KUBELETS[cluster.port].restart()
    eventually(lambda: kubectl(cluster, "logs", "done") == "finished\n", 60, "logs after restart")
    assert get_pod(cluster, "done")["status"]["phase"] == "Succeeded"

    # Running pods come back too (their processes were stopped with the kubelet).
    def running_again() -> bool:
        status = get_pod(cluster, "runner")["status"]
        assert status["containerStatuses"][0]["restartCount"] == 1
        return status["phase"] == "Running"

    eventually(running_again, 60, "the running pod restarted")
    assert eventually(lambda: kubectl(cluster, "logs", "runner")) == "up\n"
