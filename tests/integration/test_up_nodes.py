"""``tinykube up -d --nodes 2``: a CKA-shaped cluster of three nodes on one host, then ``down``.

One cluster for the module, started in the background as a user would
(``up -d`` returns once it is up) with its own API server and kubelet
ports, pod and service ranges and NodePort range, so it never meets
another cluster on this host. The tests check what a CKA candidate sees
(three Ready nodes, roles, the control-plane taint), that a Deployment
spreads over the workers and serves through a ClusterIP and a NodePort
from the host and from a pod of another node, that exactly one kube-proxy
of the cluster serves the host (and another takes over when it dies), and
last that ``down`` stops everything as Ctrl-C does: a container trapping
SIGTERM gets it, no process is left, no service address stays on the host.
Root only: worker nodes use pod network namespaces on the ``tk0`` bridge.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cluster import BIN, ApiServer, run_kubectl

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="worker nodes need root (pod networks)"),
]

WORKERS = ("node01", "node02")
TOKEN = f"tk-nodes-{os.getpid()}"  # in every workload's command line: finds leftovers

# Answers with its pod's name; the token makes its processes findable on the host.
SERVER = f"""
import http.server, os
name = os.environ["HOSTNAME"].encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(name)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("", 8080), H).serve_forever()  # {TOKEN}
"""


def consecutive_free_ports(count: int) -> int:
    """A port such that it and the next ``count - 1`` are free (worker kubelets use +1, +2)."""
    for _ in range(50):
        base = random.randint(20000, 24900)  # below the NodePort ranges picked below
        try:
            socks = []
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


@dataclass
class DetachedCluster(ApiServer):
    """``tinykube up -d --nodes 2`` with ranges of its own; ``stop`` is ``tinykube down``."""

    command: str = "up"
    service_cidr: str = ""
    node_ports: tuple[int, int] = (0, 0)
    down_output: str = ""
    up_args: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = random.randint(50, 95)  # other test clusters take 10.100-250.0.0/16
        pods = random.randrange(0, 252, 4)  # the control plane's /24, then node01's, node02's
        low = 25000 + 100 * random.randint(0, 49)  # a NodePort range no other cluster uses
        self.service_cidr = f"10.{n}.0.0/16"
        self.node_ports = (low, low + 99)
        self.up_args = [
            "--nodes",
            str(len(WORKERS)),
            "--kubelet-port",
            str(consecutive_free_ports(len(WORKERS) + 1)),
            "--scheduler-secure-port",
            str(consecutive_free_ports(1)),
            "--controller-manager-secure-port",
            str(consecutive_free_ports(1)),
            "--pod-cidr",
            f"10.247.{pods}.0/24",
            "--service-cluster-ip-range",
            self.service_cidr,
            "--service-node-port-range",
            f"{low}-{low + 99}",
        ]

    def up(self) -> subprocess.CompletedProcess[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [str(BIN / "tinykube"), "up", "-d", "--data-dir", str(self.data_dir)]
        argv += ["--port", str(self.port), *self.up_args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=200)

    def down(self) -> subprocess.CompletedProcess[str]:
        argv = [str(BIN / "tinykube"), "down", "--data-dir", str(self.data_dir)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    def logs(self) -> str:
        out = []
        for path in sorted((self.data_dir / "logs").glob("*.log")):
            out.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(out)


def eventually(check, timeout: float = 90.0, interval: float = 0.5):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(interval)


def kubectl_json(cluster: DetachedCluster, *args: str) -> dict:
    out = run_kubectl(cluster, *args, "-o", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def ready_nodes(cluster: DetachedCluster) -> set[str]:
    items = kubectl_json(cluster, "get", "nodes")["items"]
    return {
        n["metadata"]["name"]
        for n in items
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in (n.get("status") or {}).get("conditions") or []
        )
    }


def processes(*marks: str) -> dict[int, str]:
    """pid -> command line of every process whose command line holds one of ``marks``."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(pid) != os.getpid() and any(m in cmdline for m in marks):
            found[int(pid)] = cmdline[:200]
    return found


def leftover_processes(cluster: DetachedCluster) -> dict[int, str]:
    """Processes of this cluster: its components name the data directory or the API port."""
    return processes(str(cluster.data_dir), f"127.0.0.1:{cluster.port}", TOKEN)


def service_addresses_left(cidr: str) -> list[str]:
    out = subprocess.run(
        ["ip", "-o", "address", "show", "dev", "tk-svc"], capture_output=True, text=True
    ).stdout
    addrs = [w.split()[3] for w in out.splitlines() if len(w.split()) > 3]
    network = ipaddress.ip_network(cidr)
    return [a for a in addrs if ipaddress.ip_interface(a).ip in network]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DetachedCluster]:
    c = DetachedCluster(tmp_path_factory.mktemp("nodes"))
    started = c.up()
    try:
        assert started.returncode == 0, started.stderr + c.logs()
        assert f"export KUBECONFIG={c.kubeconfig.resolve()}" in started.stderr
        eventually(lambda: ready_nodes(c) >= {"controlplane", *WORKERS}, timeout=120)
        yield c
    finally:
        c.down_output = c.down().stderr


def test_up_d_returns_with_the_cluster_up_and_a_second_up_or_reset_refuses(
    cluster: DetachedCluster,
) -> None:
    pid = int((cluster.data_dir / "up.pid").read_text())
    assert Path(f"/proc/{pid}").exists()
    again = cluster.up()
    assert again.returncode == 1
    assert "already running" in again.stderr
    reset = subprocess.run(
        [str(BIN / "tinykube"), "reset", "--data-dir", str(cluster.data_dir)],
        capture_output=True,
        text=True,
    )
    assert reset.returncode == 1
    assert "stop it first" in reset.stderr
    assert (cluster.data_dir / "pki").exists()


def test_three_nodes_with_roles_and_the_control_plane_taint(cluster: DetachedCluster) -> None:
    nodes = run_kubectl(cluster, "get", "nodes")
    assert nodes.returncode == 0, nodes.stderr
    rows = {line.split()[0]: line.split() for line in nodes.stdout.splitlines()[1:]}
    assert sorted(rows) == ["controlplane", *WORKERS]
    assert rows["controlplane"][1:3] == ["Ready", "control-plane"]
    for worker in WORKERS:
        assert rows[worker][1:3] == ["Ready", "<none>"]  # as kubeadm's workers show
    items = {n["metadata"]["name"]: n for n in kubectl_json(cluster, "get", "nodes")["items"]}
    taints = items["controlplane"]["spec"].get("taints") or []
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in taints
    cidrs = {name: node["spec"].get("podCIDR") for name, node in items.items()}
    assert len(set(cidrs.values())) == 3, cidrs  # one pod range per node


@pytest.fixture(scope="module")
def web(cluster: DetachedCluster, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A 4-replica Deployment of HTTP servers behind a NodePort Service, rolled out."""
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "http",
                            "image": "python",
                            "command": ["python3", "-c", SERVER],
                            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                        }
                    ]
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "type": "NodePort",
            "selector": {"app": "web"},
            "ports": [{"port": 80, "targetPort": 8080}],
        },
    }
    path = tmp_path_factory.mktemp("web") / "web.yaml"
    path.write_text(f"{json.dumps(manifest)}\n---\n{json.dumps(service)}\n")
    applied = run_kubectl(cluster, "apply", "-f", str(path))
    assert applied.returncode == 0, applied.stderr
    rolled = run_kubectl(
        cluster, "rollout", "status", "deployment/web", "--timeout=120s", timeout=130
    )
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr + cluster.logs()
    svc = kubectl_json(cluster, "get", "service", "web")
    return {
        "pods": kubectl_json(cluster, "get", "pods", "-l", "app=web")["items"],
        "cluster_ip": svc["spec"]["clusterIP"],
        "node_port": svc["spec"]["ports"][0]["nodePort"],
    }


def answers(url: str, tries: int = 12) -> set[str]:
    """The pod names that answered ``tries`` requests to ``url``."""
    seen = set()
    for _ in range(tries):
        with urllib.request.urlopen(url, timeout=5) as r:
            seen.add(r.read().decode())
    return seen


def test_a_deployment_spreads_over_the_workers_and_serves(
    cluster: DetachedCluster, web: dict
) -> None:
    where = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in web["pods"]}
    assert set(where.values()) == set(WORKERS), where  # both workers, never the control plane
    assert cluster.node_ports[0] <= web["node_port"] <= cluster.node_ports[1]
    seen = eventually(lambda: answers(f"http://{web['cluster_ip']}/"), timeout=30)
    assert len(seen) > 1 and seen <= set(where), seen
    assert answers(f"http://127.0.0.1:{web['node_port']}/") <= set(where)
    # From a pod of node01: a pod of node02 by its address, and the Service.
    source = next(p for p in web["pods"] if p["spec"]["nodeName"] == "node01")
    target = next(p for p in web["pods"] if p["spec"]["nodeName"] == "node02")
    script = (
        "import sys, urllib.request\n"
        "for url in sys.argv[1:]:\n"
        "    print(urllib.request.urlopen(url, timeout=5).read().decode())\n"
    )
    urls = [f"http://{target['status']['podIP']}:8080/", f"http://{web['cluster_ip']}/"]
    got = run_kubectl(
        cluster, "exec", source["metadata"]["name"], "--", "python3", "-c", script, *urls
    )
    assert got.returncode == 0, got.stderr
    lines = got.stdout.split()
    assert lines[0] == target["metadata"]["name"]
    assert lines[1] in where


def proxy_logs(cluster: DetachedCluster) -> dict[str, str]:
    """node name -> the log of its kube-proxy pod's current container."""
    pods = kubectl_json(cluster, "get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-proxy")
    out = {}
    for pod in pods["items"]:
        got = run_kubectl(cluster, "logs", "-n", "kube-system", pod["metadata"]["name"])
        out[pod["spec"]["nodeName"]] = got.stdout
    return out


def serving(logs: dict[str, str]) -> list[str]:
    return [node for node, text in logs.items() if "serving this host" in text]


def listeners(port: int) -> int:
    """How many sockets on this host listen on TCP ``port``."""
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True)
    return len(out.stdout.splitlines())


def test_exactly_one_kube_proxy_serves_the_host(cluster: DetachedCluster, web: dict) -> None:
    def settled() -> dict[str, str] | None:
        got = proxy_logs(cluster)
        standing_by = sum("standing by" in text for text in got.values())
        return got if len(serving(got)) == 1 and standing_by == len(WORKERS) else None

    logs = eventually(settled, timeout=30)
    pods = kubectl_json(cluster, "get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-proxy")
    assert len(pods["items"]) == 1 + len(WORKERS)
    for pod in pods["items"]:  # the standing-by ones are as healthy as the serving one
        assert all(c["ready"] for c in pod["status"]["containerStatuses"]), pod["status"]
    assert listeners(web["node_port"]) == 1  # one proxy bound the NodePort, not three
    first = Path("/run/tinykube") / (
        f"kube-proxy-tk-svc-{ipaddress.ip_network(cluster.service_cidr)[1]}.lock"
    )
    assert first.read_text().strip() == serving(logs)[0]

    # The serving proxy dies: another one serves within seconds, and only one.
    pattern = f"--master https://127.0.0.1:{cluster.port} --hostname-override {serving(logs)[0]}"
    pids = [pid for pid, cmd in processes(pattern).items() if "tinykube.proxy" in cmd]
    assert pids, pattern
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    eventually(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids))
    eventually(lambda: serves(web["node_port"]) and listeners(web["node_port"]) == 1, timeout=60)
    eventually(lambda: len(serving(proxy_logs(cluster))) == 1, timeout=60)


def test_a_static_pod_on_a_worker(cluster: DetachedCluster) -> None:
    """Each worker has its own manifest directory, as /etc/kubernetes/manifests on node01."""
    manifests = cluster.data_dir / "nodes" / "node01" / "manifests"
    assert manifests.is_dir()
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "static-sleeper"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]},
    }
    (manifests / "static-sleeper.yaml").write_text(json.dumps(pod))

    def mirror() -> dict | None:
        got = run_kubectl(cluster, "get", "pod", "static-sleeper-node01", "-o", "json")
        if got.returncode != 0:
            return None
        found = json.loads(got.stdout)
        return found if (found.get("status") or {}).get("phase") == "Running" else None

    found = eventually(mirror, timeout=60)
    assert found["spec"]["nodeName"] == "node01"
    (manifests / "static-sleeper.yaml").unlink()
    eventually(lambda: run_kubectl(cluster, "get", "pod", "static-sleeper-node01").returncode == 1)


def serves(node_port: int) -> bool:
    try:
        return bool(answers(f"http://127.0.0.1:{node_port}/", tries=2))
    except OSError:
        return False


def test_down_stops_everything_and_containers_get_sigterm(
    cluster: DetachedCluster, tmp_path: Path
) -> None:
    marker = tmp_path / "got-term"
    trap = f'trap "echo bye > {marker}; exit 0" TERM; while true; do sleep 0.2; done  # {TOKEN}'
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "trap", "namespace": "default"},
        "spec": {
            "nodeName": "node01",
            "containers": [{"name": "trap", "image": "busybox", "command": ["sh", "-c", trap]}],
        },
    }
    created = run_kubectl(cluster, "create", "-f", "-", input=json.dumps(pod))
    assert created.returncode == 0, created.stderr
    eventually(
        lambda: kubectl_json(cluster, "get", "pod", "trap")["status"].get("phase") == "Running"
    )
    eventually(lambda: service_addresses_left(cluster.service_cidr))  # kube-proxy serves
    started = time.monotonic()
    stopped = cluster.down()
    took = time.monotonic() - started
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped the cluster" in stopped.stderr
    assert took < 30, took
    assert marker.read_text().strip() == "bye"  # the kubelet gave the container its SIGTERM
    # ... and kube-proxy its grace: the serving one cleaned up after itself.
    on_disk = cluster.data_dir.glob("**/kube-system_kube-proxy-*/kube-proxy/*.log")
    assert any("component=kube-proxy stopped" in p.read_text() for p in on_disk)
    assert leftover_processes(cluster) == {}
    assert service_addresses_left(cluster.service_cidr) == []
    assert not (cluster.data_dir / "up.pid").exists()
    again = cluster.down()
    assert again.returncode == 0
    assert "no cluster is running" in again.stderr
