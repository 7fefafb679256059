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
import shutil
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
SERVICE_CIDR = f"10.112.{RUN}.0/24"
POD_CIDR = f"10.244.{RUN}.0/24"
LB_POOL = f"198.18.{RUN}.0/28"
INTERFACE = f"tksvc{os.getpid() % 100000}"
NODE = f"proxy-node-{os.getpid()}"
DNS_IP = f"10.112.{RUN}.10"

# A web server that answers with its pod's name (each pod has its own UTS namespace).
SERVER = """
import http.server, socket
name = socket.gethostname().encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(name)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("", 8080), H).serve_forever()
"""


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


# ---- a whole cluster, as root ----------------------------------------------------------


class Cluster:
    """API server + controller manager + scheduler + one kubelet + the add-ons."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.api = ApiServer(base / "api", extra_args=["--service-cluster-ip-range", SERVICE_CIDR])
        self.procs: list[subprocess.Popen[bytes]] = []

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
        lb_env = {"TINYKUBE_LOAD_BALANCER_IP_RANGE": LB_POOL}
        self.spawn(
            "cm", "-m", "tinykube.cli", "controller-manager", "--leader-elect=false", env=lb_env
        )
        self.spawn("scheduler", "-m", "tinykube.cli", "scheduler")
        self.spawn(
            "kubelet", "-m", "tinykube.kubelet.command", "kubelet", "--node-name", NODE,
            "--root-dir", str(self.base / "kubelet"), "--port", str(free_port()),
            "--pod-cidr", POD_CIDR,
        )  # fmt: skip
        eventually(lambda: "Ready" in self.kubectl("get", "node", NODE), what="node ready")
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
            [sys.executable, "-c", script, str(self.api.kubeconfig), self.api.url, SERVICE_CIDR,
             "--service-interface", INTERFACE],
            check=True,
            timeout=60,
        )  # fmt: skip

    def kubectl(self, *args: str) -> str:
        result = run_kubectl(self.api, *args)
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


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not IS_ROOT:
        pytest.skip("pod networks and the service interface need root")
    c = Cluster(tmp_path_factory.mktemp("proxy"))
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
    cluster.kubectl(
        "create", "deployment", "web", "--image=busybox", "--replicas=3", "--", "python3", "-c",
        SERVER,
    )  # fmt: skip
    cluster.kubectl("expose", "deployment", "web", "--port", "80", "--target-port", "8080")
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
    assert eventually(lambda: _hits(f"http://{ip}/", 9) == pods, 30, "all pods hit")


@pytest.mark.timeout(120)
def test_node_port_answers_on_the_node_address(web):
    web.kubectl("expose", "deployment", "web", "--name", "web-np", "--type", "NodePort",
                "--port", "80", "--target-port", "8080")  # fmt: skip
    port = service(web, "web-np")["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767
    assert eventually(lambda: http_get(f"http://127.0.0.1:{port}/").startswith("web-"), 30)


@pytest.mark.timeout(120)
def test_load_balancer_gets_an_external_ip_that_answers(web):
    web.kubectl("expose", "deployment", "web", "--name", "web-lb", "--type", "LoadBalancer",
                "--port", "80", "--target-port", "8080")  # fmt: skip

    def external_ip() -> str:
        ingress = service(web, "web-lb")["status"]["loadBalancer"]["ingress"]
        return str(ingress[0]["ip"])

    ip = eventually(external_ip, 30, "EXTERNAL-IP")
    assert ip.startswith(f"198.18.{RUN}.")
    assert ip in web.kubectl("get", "svc", "web-lb")  # EXTERNAL-IP, not <pending>
    assert eventually(lambda: http_get(f"http://{ip}/").startswith("web-"), 30)


@pytest.mark.timeout(120)
def test_udp_service_answers_dns_through_the_cluster_ip(web):
    eventually(lambda: ready_endpoints(web, "kube-dns", "kube-system"), 60, "coredns ready")

    def lookup() -> list[str]:
        query = DNSRecord.question("web.default.svc.cluster.local")
        reply = DNSRecord.parse(query.send(DNS_IP, 53, timeout=2))
        return [str(rr.rdata) for rr in reply.rr]

    assert eventually(lookup, 30) == [service(web, "web")["spec"]["clusterIP"]]


@pytest.mark.timeout(120)
def test_pod_reaches_a_service_by_its_dns_name(web):
    eventually(lambda: ready_endpoints(web, "kube-dns", "kube-system"), 60, "coredns ready")
    pod_ip = ready_endpoints(web, "web")[0]
    netns = pod_netns(pod_ip)
    # What the kubelet should write into every pod (see the report on issue 6):
    # `ip netns exec` mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf.
    etc = Path("/etc/netns") / netns
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "resolv.conf").write_text(
        f"nameserver {DNS_IP}\nsearch default.svc.cluster.local svc.cluster.local "
        "cluster.local\noptions ndots:5\n"
    )
    try:
        for url in ("http://web.default.svc.cluster.local/", "http://web/"):
            code = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=3).read().decode())"
            out = eventually(
                lambda code=code: subprocess.run(
                    ["ip", "netns", "exec", netns, sys.executable, "-c", code],
                    capture_output=True, text=True, timeout=20,
                ).stdout,
                30,
                url,
            )  # fmt: skip
            assert out.startswith("web-"), out
    finally:
        shutil.rmtree(etc, ignore_errors=True)


@pytest.mark.timeout(180)
def test_scaling_to_zero_fails_fast_and_scaling_back_restores(web):
    ip = service(web, "web")["spec"]["clusterIP"]
    web.kubectl("scale", "deployment", "web", "--replicas=0")
    eventually(lambda: ready_endpoints(web, "web") == [], 60, "no endpoints")

    def fails_fast() -> bool:
        started = time.monotonic()
        try:
            http_get(f"http://{ip}/", timeout=5)
        except (urllib.error.URLError, ConnectionError, OSError):
            return time.monotonic() - started < 1.0
        return False

    assert eventually(fails_fast, 20, "connection refused or reset at once")
    web.kubectl("scale", "deployment", "web", "--replicas=1")
    assert eventually(lambda: http_get(f"http://{ip}/").startswith("web-"), 90)
