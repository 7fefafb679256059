"""Services that carry traffic: kube-proxy, NodePort, LoadBalancer and cluster DNS.

Two parts. The first drives the userspace proxier alone on loopback
addresses (what the unprivileged mode uses), so it runs without root: round
robin, a fast failure with no endpoints, a connection in flight surviving
an endpoint change, UDP.

The second (root only) starts a cluster of its own (API server with its own
service range, controller manager with its own load-balancer pool,
scheduler, a kubelet with its own port and pod CIDR, so it never meets
another cluster on this host), installs the add-ons as ``tinykube up``
does (``cluster.addons.ensure_addons``: the kube-proxy DaemonSet with a
service interface named for this run, CoreDNS, kube-dns), and checks with
the real kubectl what a user would: a Deployment of HTTP servers behind a
ClusterIP, a NodePort and a LoadBalancer Service reached from the host and
from inside a pod's network namespace, by address and by DNS name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster import ApiServer, free_port, run_kubectl
from dnslib import DNSRecord

from tinykube.proxy.table import Endpoint, Frontend, Route
from tinykube.proxy.userspace import UserspaceProxier

pytestmark = pytest.mark.integration

IS_ROOT = os.geteuid() == 0
RUN = os.getpid() % 100 + 150  # this run's third octet: pod CIDR, service range, LB pool
INTERFACE = f"tksvc{os.getpid() % 100000}"

# A web server that answers with its pod's name, on its pod's address (without
# root every pod shares the host network, each on its own loopback address);
# its readiness check fails while a file named after the pod is in $FLAGS.
SERVER = """
import http.server, os
name = os.environ["HOSTNAME"]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        sick = os.path.exists(os.path.join(os.environ["FLAGS"], name))
        self.send_response(503 if self.path == "/healthz" and sick else 200)
        self.end_headers(); self.wfile.write(name.encode())
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((os.environ["POD_IP"], 8080), H).serve_forever()
"""


def web_deployment(replicas: int, flags: Path) -> str:
    container = {
        "name": "web",
        "image": "busybox",
        "command": ["python3", "-c", SERVER],
        "env": [
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "FLAGS", "value": str(flags)},
        ],
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": 8080},
            "periodSeconds": 1,
            "failureThreshold": 1,
        },
    }
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [container]},
                },
            },
        }
    )


def eventually(check: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(AssertionError, KeyError, IndexError, ValueError, OSError):
            last = check()
            if last:
                return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what or check}: last={last!r}")


# ---- the proxier alone, on loopback ------------------------------------------------------


async def _named_server(name: bytes) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(100)
        writer.write(name + b":" + data)
        await writer.drain()
        with contextlib.suppress(OSError):
            while more := await reader.read(100):  # keep echoing: a long-lived connection
                writer.write(more)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _ask(ip: str, port: int, data: bytes = b"hi") -> bytes:
    reader, writer = await asyncio.open_connection(ip, port)
    writer.write(data)
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(100), 5)
    writer.close()
    return reply


@pytest.fixture
async def loopback_proxier() -> Any:
    proxier = UserspaceProxier(privileged=False)
    yield proxier
    await proxier.cleanup()


async def test_round_robin_over_loopback_frontend(loopback_proxier):
    servers = [await _named_server(n) for n in (b"a", b"b", b"c")]
    port = free_port()
    front = Frontend(f"127.96.{RUN}.1", port, "TCP")
    eps = tuple(Endpoint("127.0.0.1", p) for _, p in servers)
    await loopback_proxier.sync({front: Route("ns/web", eps)})
    replies = [await _ask(front.ip, port) for _ in range(6)]
    assert sorted(r.split(b":")[0] for r in replies) == [b"a", b"a", b"b", b"b", b"c", b"c"]
    for server, _ in servers:
        server.close()


async def test_client_ip_affinity_keeps_a_client_on_one_pod(loopback_proxier):
    servers = [await _named_server(n) for n in (b"a", b"b", b"c")]
    port = free_port()
    front = Frontend(f"127.96.{RUN}.5", port, "TCP")
    eps = tuple(Endpoint("127.0.0.1", p) for _, p in servers)
    await loopback_proxier.sync({front: Route("ns/web", eps, affinity=30.0)})
    replies = {(await _ask(front.ip, port)).split(b":")[0] for _ in range(6)}
    assert len(replies) == 1
    for server, _ in servers:
        server.close()


async def test_no_endpoints_fails_fast_and_in_flight_connection_survives(loopback_proxier):
    server, backend = await _named_server(b"a")
    port = free_port()
    front = Frontend(f"127.96.{RUN}.2", port, "TCP")
    await loopback_proxier.sync({front: Route("ns/web", (Endpoint("127.0.0.1", backend),))})
    reader, writer = await asyncio.open_connection(front.ip, port)
    writer.write(b"one")
    assert await asyncio.wait_for(reader.read(100), 5) == b"a:one"
    await loopback_proxier.sync({front: Route("ns/web", ())})  # scaled to zero
    started = time.monotonic()
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError, OSError)):
        reply = await _ask(front.ip, port)
        if not reply:
            raise ConnectionResetError("closed without an answer")
    assert time.monotonic() - started < 1.0
    writer.write(b"two")  # the connection made before the change still relays
    assert await asyncio.wait_for(reader.read(100), 5) == b"two"
    writer.close()
    server.close()


async def test_frontend_removed_from_the_table_stops_listening(loopback_proxier):
    server, backend = await _named_server(b"a")
    port = free_port()
    front = Frontend(f"127.96.{RUN}.3", port, "TCP")
    await loopback_proxier.sync({front: Route("ns/web", (Endpoint("127.0.0.1", backend),))})
    assert (await _ask(front.ip, port)).startswith(b"a:")
    await loopback_proxier.sync({})
    with pytest.raises(ConnectionRefusedError):
        await _ask(front.ip, port)
    server.close()


class _UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.transport.sendto(b"echo:" + data, addr)


async def test_udp_is_relayed_both_ways(loopback_proxier):
    loop = asyncio.get_running_loop()
    echo, _ = await loop.create_datagram_endpoint(_UdpEcho, local_addr=("127.0.0.1", 0))
    backend = echo.get_extra_info("sockname")[1]
    port = free_port()
    front = Frontend(f"127.96.{RUN}.4", port, "UDP")
    await loopback_proxier.sync({front: Route("ns/dns", (Endpoint("127.0.0.1", backend),))})

    def ask() -> bytes:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            s.sendto(b"ping", (front.ip, port))
            return s.recv(100)

    assert await asyncio.to_thread(ask) == b"echo:ping"
    echo.close()


# ---- a whole cluster ---------------------------------------------------------------------


class Cluster:
    """API server + controller manager + scheduler + one kubelet + the add-ons.

    ``rootless``: the kubelet's unprivileged mode (host network, a loopback
    address per pod) with the loopback service range and load-balancer pool
    the unprivileged mode uses, so no address needs the service interface.
    """

    def __init__(self, base: Path, rootless: bool) -> None:
        self.base = base
        self.rootless = rootless
        prefix = "127.96" if rootless else "10.112"
        self.service_cidr = f"{prefix}.{RUN}.0/24"
        self.dns_ip = f"{prefix}.{RUN}.10"
        self.lb_prefix = f"127.240.{RUN}." if rootless else f"198.18.{RUN}."
        # Unprivileged processes cannot bind ports below 1024 (unless the host
        # lowered net.ipv4.ip_unprivileged_port_start, which a test must not).
        self.port = "8080" if rootless else "80"
        self.node = f"proxy-node-{os.getpid()}"
        self.api = ApiServer(
            base / "api", extra_args=["--service-cluster-ip-range", self.service_cidr]
        )
        self.procs: list[subprocess.Popen[bytes]] = []
        self.flags = base / "flags"  # the web pods' readiness switches (host filesystem)
        self.flags.mkdir()

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = open(self.base / f"{name}.log", "ab")  # noqa: SIM115 - the process owns it
        cmd = [sys.executable, *args, "--kubeconfig", str(self.api.kubeconfig)]
        self.procs.append(
            subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )
        )

    def start(self) -> None:
        self.api.start()
        lb_env = {"TINYKUBE_LOAD_BALANCER_IP_RANGE": f"{self.lb_prefix}0/28"}
        self.spawn(
            "cm", "-m", "tinykube.cli", "controller-manager", "--leader-elect=false",
            "--secure-port=0", env=lb_env,
        )  # fmt: skip
        self.spawn("scheduler", "-m", "tinykube.cli", "scheduler", "--secure-port=0")
        self.spawn(
            "kubelet", "-m", "tinykube.kubelet.command", "kubelet", "--node-name", self.node,
            "--root-dir", str(self.base / "kubelet"), "--port", str(free_port()),
            "--pod-cidr", f"10.244.{RUN}.0/24", "--cluster-dns", self.dns_ip,
            *(["--rootless"] if self.rootless else []),
        )  # fmt: skip
        eventually(lambda: "Ready" in self.kubectl("get", "node", self.node), what="node ready")
        self.install_addons()

    def install_addons(self) -> None:
        script = (
            "import asyncio, sys\n"
            "from tinykube.client import Client\n"
            "from tinykube.cluster.addons import ensure_addons\n"
            "async def main():\n"
            "    async with await Client.from_kubeconfig(sys.argv[1]) as c:\n"
            "        await ensure_addons(c, api_server_url=sys.argv[2], service_cidr=sys.argv[3],\n"
            "                            dns_replicas=1, proxy_args=sys.argv[4:])\n"
            "asyncio.run(main())\n"
        )
        subprocess.run(
            [sys.executable, "-c", script, str(self.api.kubeconfig), self.api.url,
             self.service_cidr, "--service-interface", INTERFACE],
            check=True,
            timeout=60,
        )  # fmt: skip

    def kubectl(self, *args: str, input: str | None = None) -> str:
        result = run_kubectl(self.api, *args, input=input)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}"
            for p in sorted(self.base.glob("*.log"))
        )

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.kubectl("delete", "daemonset", "-n", "kube-system", "kube-proxy", "--wait=false")
            eventually(lambda: not _link_exists(INTERFACE), timeout=20, what="interface removed")
        for proc in reversed(self.procs):  # the kubelet first: it removes its pods
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.api.stop()


def _link_exists(name: str) -> bool:
    out = subprocess.run(["ip", "-o", "link", "show", name], capture_output=True, check=False)
    return out.returncode == 0


@pytest.fixture(scope="module", params=["root", "rootless"])
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    if not IS_ROOT:
        # Without root the kubelet cannot make pod networks, and the add-ons' DNS
        # port (53) and the pods' loopback addresses need it; the proxier's own
        # unprivileged path is covered by the loopback tests above.
        pytest.skip("a cluster with pods needs root")
    c = Cluster(tmp_path_factory.mktemp(f"proxy-{request.param}"), request.param == "rootless")
    try:
        c.start()
        yield c
    finally:
        c.stop()
        subprocess.run(["ip", "link", "del", INTERFACE], capture_output=True, check=False)


def http_get(url: str, timeout: float = 3) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


def service(c: Cluster, name: str) -> dict[str, Any]:
    return json.loads(c.kubectl("get", "svc", name, "-o", "json"))


def ready_endpoints(c: Cluster, name: str, namespace: str = "default") -> list[str]:
    out = json.loads(
        c.kubectl("get", "endpointslices", "-n", namespace, "-l",
                  f"kubernetes.io/service-name={name}", "-o", "json")
    )  # fmt: skip
    return sorted(
        {
            ip
            for es in out["items"]
            for ep in es.get("endpoints") or []
            if (ep.get("conditions") or {}).get("ready", True)
            for ip in ep["addresses"]
        }
    )


def pod_netns(pod_ip: str) -> str:
    """The network namespace whose eth0 holds ``pod_ip``."""
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for name in (line.split()[0] for line in names.splitlines() if line.strip()):
        out = subprocess.run(
            ["ip", "-n", name, "-o", "-4", "addr", "show", "dev", "eth0"],
            capture_output=True,
            text=True,
        ).stdout
        if f" {pod_ip}/" in out:
            return name
    raise AssertionError(f"no namespace holds {pod_ip}")


@pytest.fixture(scope="module")
def web(cluster: Cluster) -> Cluster:
    cluster.kubectl("apply", "-f", "-", input=web_deployment(3, cluster.flags))
    cluster.kubectl("expose", "deployment", "web", "--port", cluster.port, "--target-port", "8080")
    eventually(
        lambda: len(ready_endpoints(cluster, "web")) == 3, 90, f"3 endpoints\n{cluster.logs()}"
    )
    return cluster


def _hits(url: str, count: int) -> set[str]:
    return {http_get(url) for _ in range(count)}


@pytest.mark.timeout(300)
def test_cluster_ip_reaches_every_pod_from_the_host(web):
    ip = service(web, "web")["spec"]["clusterIP"]
    pods = set(
        web.kubectl("get", "pods", "-l", "app=web", "-o", "name").replace("pod/", "").split()
    )
    assert eventually(lambda: _hits(f"http://{ip}:{web.port}/", 9) == pods, 30, "all pods hit")


@pytest.mark.timeout(120)
def test_node_port_answers_on_the_node_address(web):
    web.kubectl("expose", "deployment", "web", "--name", "web-np", "--type", "NodePort",
                "--port", web.port, "--target-port", "8080")  # fmt: skip
    port = service(web, "web-np")["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767
    assert eventually(lambda: http_get(f"http://127.0.0.1:{port}/").startswith("web-"), 30)


@pytest.mark.timeout(120)
def test_load_balancer_gets_an_external_ip_that_answers(web):
    web.kubectl("expose", "deployment", "web", "--name", "web-lb", "--type", "LoadBalancer",
                "--port", web.port, "--target-port", "8080")  # fmt: skip

    def external_ip() -> str:
        ingress = service(web, "web-lb")["status"]["loadBalancer"]["ingress"]
        return str(ingress[0]["ip"])

    ip = eventually(external_ip, 30, "EXTERNAL-IP")
    assert ip.startswith(web.lb_prefix)
    assert ip in web.kubectl("get", "svc", "web-lb")  # EXTERNAL-IP, not <pending>
    assert eventually(lambda: http_get(f"http://{ip}:{web.port}/").startswith("web-"), 30)


@pytest.mark.timeout(120)
def test_udp_service_answers_dns_through_the_cluster_ip(web):
    if web.rootless:
        pytest.skip("kube-dns listens on port 53, below the unprivileged port range")
    eventually(lambda: ready_endpoints(web, "kube-dns", "kube-system"), 60, "coredns ready")

    def lookup() -> list[str]:
        query = DNSRecord.question("web.default.svc.cluster.local")
        reply = DNSRecord.parse(query.send(web.dns_ip, 53, timeout=2))
        return [str(rr.rdata) for rr in reply.rr]

    cluster_ip = service(web, "web")["spec"]["clusterIP"]
    assert eventually(lookup, 30) == [cluster_ip]
    ptr = DNSRecord.question(".".join(reversed(cluster_ip.split("."))) + ".in-addr.arpa", "PTR")
    reply = DNSRecord.parse(ptr.send(web.dns_ip, 53, tcp=True, timeout=2))
    assert [str(rr.rdata) for rr in reply.rr] == ["web.default.svc.cluster.local."]


@pytest.mark.timeout(120)
def test_pod_reaches_a_service_by_its_dns_name(web):
    if web.rootless:
        pytest.skip("pods share the host network without root: no namespace to enter")
    eventually(lambda: ready_endpoints(web, "kube-dns", "kube-system"), 60, "coredns ready")
    pid = workload_pid(pod_netns(ready_endpoints(web, "web")[0]))
    # The container's own view: its mount namespace holds the resolv.conf the
    # kubelet wrote (--cluster-dns), its network namespace the pod's eth0.
    enter = ["nsenter", "--target", str(pid), "--net", "--mount"]
    resolv = subprocess.run([*enter, "cat", "/etc/resolv.conf"], capture_output=True, text=True)
    assert f"nameserver {web.dns_ip}" in resolv.stdout
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in resolv.stdout
    assert "ndots:5" in resolv.stdout
    for url in ("http://web.default.svc.cluster.local/", "http://web/"):
        code = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=3).read().decode())"
        out = eventually(
            lambda code=code: (
                subprocess.run(
                    [*enter, sys.executable, "-c", code], capture_output=True, text=True, timeout=20
                ).stdout
            ),
            30,
            url,
        )
        assert out.startswith("web-"), out


def workload_pid(netns: str) -> int:
    """A pid of the web server running in ``netns`` (not the pod's pause process)."""
    pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout
    for pid in pids.split():
        with contextlib.suppress(OSError):
            if b"http.server" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
    raise AssertionError(f"no web server in {netns}")


@pytest.mark.timeout(120)
def test_a_pod_that_turns_not_ready_gets_no_new_connections(web):
    ip = service(web, "web")["spec"]["clusterIP"]
    pods = json.loads(web.kubectl("get", "pods", "-l", "app=web", "-o", "json"))["items"]
    sick = pods[0]["metadata"]["name"]
    healthy = {p["metadata"]["name"] for p in pods[1:]}
    (web.flags / sick).touch()
    try:
        eventually(lambda: pods[0]["status"]["podIP"] not in ready_endpoints(web, "web"), 30)
        assert eventually(lambda: _hits(f"http://{ip}:{web.port}/", 8) == healthy, 20)
    finally:
        (web.flags / sick).unlink()
    eventually(lambda: len(ready_endpoints(web, "web")) == len(pods), 30, "ready again")


@pytest.mark.timeout(180)
def test_scaling_to_zero_fails_fast_and_scaling_back_restores(web):
    ip = service(web, "web")["spec"]["clusterIP"]
    web.kubectl("scale", "deployment", "web", "--replicas=0")
    eventually(lambda: ready_endpoints(web, "web") == [], 60, "no endpoints")

    def fails_fast() -> bool:
        started = time.monotonic()
        try:
            http_get(f"http://{ip}:{web.port}/", timeout=5)
        except (urllib.error.URLError, ConnectionError, OSError):
            return time.monotonic() - started < 1.0
        return False

    assert eventually(fails_fast, 20, "connection refused or reset at once")
    web.kubectl("scale", "deployment", "web", "--replicas=1")
    assert eventually(lambda: http_get(f"http://{ip}:{web.port}/").startswith("web-"), 90)


def test_a_stopping_proxy_leaves_other_proxies_addresses_on_a_shared_link():
    if not IS_ROOT:
        pytest.skip("the service interface needs root")
    from tinykube.proxy.netif import ServiceInterface

    name = f"tksvq{os.getpid() % 100000}"
    first, second = ServiceInterface(name), ServiceInterface(name)

    async def two_then_one() -> None:
        await first.ensure({f"10.113.{RUN}.1"})
        await second.ensure({f"10.113.{RUN}.2"})
        await first.release()

    try:
        asyncio.run(two_then_one())
        shown = subprocess.run(["ip", "-o", "addr", "show", "dev", name], capture_output=True)
        assert f"10.113.{RUN}.2/32".encode() in shown.stdout
        assert f"10.113.{RUN}.1/32".encode() not in shown.stdout
        asyncio.run(second.release())
        assert not _link_exists(name)
    finally:
        subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
