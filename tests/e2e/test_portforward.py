"""``port-forward`` end to end: the real kubectl, tkctl and the Python client.

One pod runs ``python3 -m http.server`` behind a Service whose targetPort is
the pod's named port. Each CLI forwards a random local port (``:PORT``), the
test reads the port from the "Forwarding from 127.0.0.1:N" line and fetches
a page through it: once, several times in a row, several at once; through
``svc/...``; and to a closed port, where the CLI must report the pod side's
error and leave with "lost connection to pod" instead of hanging. The Python
client speaks the older channel protocol to the same endpoint.

Every forwarder is killed at the end of its test; pytest's per-test timeout bounds a hang.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import pytest
from cluster import BIN, ApiServer, free_port, kubectl_binary, run_kubectl

pytestmark = pytest.mark.e2e

POD_PORT = free_port()  # the pod may share the host's network (non-root fallback)
CLOSED_PORT = free_port()
FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")


def manifest() -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: web, labels: {{app: pf-web}}}}
spec:
  containers:
  - name: http
    image: python
    command: ["python3", "-u", "-m", "http.server", "{POD_PORT}"]
    ports: [{{name: http, containerPort: {POD_PORT}}}]
    readinessProbe:
      tcpSocket: {{port: {POD_PORT}}}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: pf-web}}
  ports: [{{name: web, port: 80, targetPort: http}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: unscheduled}}
spec:
  nodeSelector: {{no-such-node: "true"}}
  containers: [{{name: c, image: python, command: ["sleep", "3600"]}}]
"""


def tkctl() -> str:
    script = BIN / "tkctl"
    return str(script) if script.exists() else f"{sys.executable} -m tinykube.kubectl.main"


def kubectl_spdy() -> str:
    """kubectl as 1.30 and older forward: SPDY/3.1 on the upgraded connection itself."""
    return f"env KUBECTL_PORT_FORWARD_WEBSOCKETS=false {kubectl_binary()}"


CLIS = {"kubectl": kubectl_binary, "kubectl-spdy": kubectl_spdy, "tkctl": tkctl}


@pytest.fixture(scope="module")
def web(apiserver: ApiServer) -> ApiServer:
    applied = run_kubectl(apiserver, "apply", "-f", "-", input=manifest())
    assert applied.returncode == 0, applied.stderr
    ready = run_kubectl(
        apiserver, "wait", "--for=condition=Ready", "pod/web", "--timeout=90s", timeout=100
    )
    assert ready.returncode == 0, ready.stdout + ready.stderr + apiserver.logs()
    return apiserver


@pytest.fixture(params=sorted(CLIS))
def cli(request: pytest.FixtureRequest) -> list[str]:
    return CLIS[request.param]().split()


def run_cli(server: ApiServer, cli: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig)}
    return subprocess.run(
        [*cli, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@dataclass
class Forwarder:
    """A running ``port-forward``; stdout and stderr are collected as they come."""

    proc: subprocess.Popen[str]
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._drain, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _drain(stream: object, sink: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink.append(line)

    def local_port(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.out:
                if m := FORWARDING.search(line):
                    return int(m.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no Forwarding line: {''.join(self.out)} {''.join(self.err)}")

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        time.sleep(0.2)  # let the reader threads take the last lines
        return code


@contextmanager
def forwarding(server: ApiServer, cli: list[str], *args: str) -> Iterator[Forwarder]:
    """Run ``port-forward`` for the test's duration (pytest's timeout bounds a hang)."""
    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig)}
    proc = subprocess.Popen(
        [*cli, "port-forward", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        yield Forwarder(proc)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def fetch(port: int, path: str = "/") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        assert r.status == 200
        return r.read().decode()


def test_forwards_to_the_pod(web: ApiServer, cli: list[str]) -> None:
    with forwarding(web, cli, "pod/web", f":{POD_PORT}") as fw:
        port = fw.local_port()
        assert "Directory listing for /" in fetch(port)
        assert f"Forwarding from 127.0.0.1:{port} -> {POD_PORT}\n" in fw.out
        assert f"Forwarding from [::1]:{port} -> {POD_PORT}\n" in fw.out
        assert fw.proc.poll() is None  # still forwarding


def test_many_connections_in_turn_and_at_once(web: ApiServer, cli: list[str]) -> None:
    with forwarding(web, cli, "web", f":{POD_PORT}") as fw:
        port = fw.local_port()
        for _ in range(3):
            assert "Directory listing" in fetch(port)
        with ThreadPoolExecutor(6) as pool:
            pages = list(pool.map(lambda _: fetch(port), range(6)))
        assert all("Directory listing" in p for p in pages)
        deadline = time.monotonic() + 10
        while fw.out.count(f"Handling connection for {port}\n") < 9 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fw.out.count(f"Handling connection for {port}\n") == 9
        assert fw.proc.poll() is None


def test_service_port_becomes_the_container_port(web: ApiServer, cli: list[str]) -> None:
    # Service port 80 (named "web") has targetPort "http": the pod's POD_PORT.
    with forwarding(web, cli, "svc/web", ":web") as fw:
        port = fw.local_port()
        assert f"Forwarding from 127.0.0.1:{port} -> {POD_PORT}\n" in fw.out
        assert "Directory listing" in fetch(port)


def test_named_pod_port_and_address(web: ApiServer, cli: list[str]) -> None:
    with forwarding(web, cli, "--address", "127.0.0.1", "pod/web", ":http") as fw:
        port = fw.local_port()
        assert "Directory listing" in fetch(port)
        assert not any("[::1]" in line for line in fw.out)


def test_a_closed_port_is_reported_and_ends_the_session(web: ApiServer, cli: list[str]) -> None:
    with forwarding(web, cli, "pod/web", f":{CLOSED_PORT}") as fw:
        port = fw.local_port()
        with pytest.raises(OSError):  # the connection ends without an answer
            fetch(port)
        assert fw.wait(timeout=60) == 1
        stderr = "".join(fw.err)
        assert f"error forwarding port {CLOSED_PORT} to pod" in stderr
        assert "connection refused" in stderr
        assert stderr.endswith("error: lost connection to pod\n")
        assert f"Handling connection for {port}\n" in fw.out


# ---- the same errors as kubectl ------------------------------------------------------------

ERROR_CASES = {
    "no ports": ["pod/web"],
    "missing pod": ["pod/nope", "80"],
    "unknown named port": ["pod/web", "nope"],
    "bad local port": ["pod/web", "abc:80"],
    "remote port zero": ["pod/web", "80:0"],
    "undeclared service port": ["svc/web", "81"],
    "unknown service port name": ["svc/web", ":nope"],
    "pod not running": ["pod/unscheduled", "80"],
    "bad address": ["--address", "nowhere", "pod/web", "80"],
}


@pytest.mark.parametrize("args", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_errors_match_kubectl(web: ApiServer, args: list[str]) -> None:
    real = run_cli(web, CLIS["kubectl"]().split(), "port-forward", *args)
    ours = run_cli(web, CLIS["tkctl"]().split(), "port-forward", *args)
    assert real.returncode == 1, real.stdout + real.stderr
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        real.returncode,
        real.stdout,
        real.stderr,
    )


def test_pod_not_running_message(web: ApiServer) -> None:
    result = run_cli(web, CLIS["tkctl"]().split(), "port-forward", "pod/unscheduled", "80")
    expected = "error: unable to forward port because pod is not running. Current status=Pending\n"
    assert result.stderr == expected


# ---- the API directly --------------------------------------------------------------------


def test_api_errors(web: ApiServer) -> None:
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(config.new_client_from_config(config_file=str(web.kubeconfig)))
    with pytest.raises(ApiException) as missing:
        core.connect_get_namespaced_pod_portforward("nope", "default", ports="80")
    assert missing.value.status == 404
    with pytest.raises(ApiException) as unscheduled:
        core.connect_get_namespaced_pod_portforward("unscheduled", "default", ports="80")
    assert unscheduled.value.status == 400
    assert "pod unscheduled does not have a host assigned" in unscheduled.value.body


def test_python_client_portforward(web: ApiServer) -> None:
    from kubernetes import client, config
    from kubernetes.stream import portforward

    core = client.CoreV1Api(config.new_client_from_config(config_file=str(web.kubeconfig)))
    pf = portforward(
        core.connect_get_namespaced_pod_portforward, "web", "default", ports=str(POD_PORT)
    )
    sock = pf.socket(POD_PORT)
    sock.settimeout(30)
    sock.sendall(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    assert answer.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"Directory listing for /" in answer
    assert pf.error(POD_PORT) is None


def test_python_client_sees_the_error_of_a_closed_port(web: ApiServer) -> None:
    from kubernetes import client, config
    from kubernetes.stream import portforward

    core = client.CoreV1Api(config.new_client_from_config(config_file=str(web.kubeconfig)))
    pf = portforward(
        core.connect_get_namespaced_pod_portforward, "web", "default", ports=str(CLOSED_PORT)
    )
    sock = pf.socket(CLOSED_PORT)
    sock.settimeout(30)
    assert sock.recv(100) == b""
    error = pf.error(CLOSED_PORT) or ""
    assert error.startswith(f"error forwarding port {CLOSED_PORT} to pod ")
    assert "connection refused" in error


# ---- the tunnelled SPDY protocol itself --------------------------------------------------


class SpdyPeer:
    """A bare SPDY-over-WebSocket client, to see what the server answers frame by frame."""

    def __init__(self, ws: object) -> None:
        from tinykube.api import spdy

        self.ws, self.encoder, self.decoder = ws, spdy.Encoder(), spdy.Decoder()
        self.frames: list[object] = []

    async def send(self, frame: object) -> None:
        await self.ws.send_bytes(self.encoder.encode(frame))  # type: ignore[attr-defined]

    async def next(self) -> object:
        import asyncio

        import aiohttp

        while not self.frames:
            msg = await asyncio.wait_for(self.ws.receive(), 30)  # type: ignore[attr-defined]
            if msg.type != aiohttp.WSMsgType.BINARY:
                return msg.type
            # One byte at a time, as a frame may arrive in pieces.
            for i in range(len(msg.data)):
                self.frames += self.decoder.feed(msg.data[i : i + 1])
        return self.frames.pop(0)


async def test_the_spdy_session_answers_frame_by_frame(web: ApiServer) -> None:
    import aiohttp

    from tinykube.api import spdy
    from tinykube.client.kubeconfig import load_kubeconfig

    config = load_kubeconfig(web.kubeconfig)
    url = f"{config.server}/api/v1/namespaces/default/pods/web/portforward"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            url,
            protocols=["SPDY/3.1+portforward.k8s.io"],
            headers=config.auth_headers(),
            ssl=config.ssl_context,
        ) as ws,
    ):
        assert ws.protocol == "SPDY/3.1+portforward.k8s.io"
        peer = SpdyPeer(ws)
        await peer.send(spdy.Ping(1))
        assert await peer.next() == spdy.Ping(1)
        # A stream without a port is refused.
        await peer.send(spdy.SynStream(1, {"streamtype": ["data"]}))
        assert await peer.next() == spdy.RstStream(1, spdy.CANCEL)
        # A pair: the error stream, then the data stream with a request.
        headers = {"streamtype": ["error"], "port": [str(POD_PORT)], "requestid": ["7"]}
        await peer.send(spdy.SynStream(3, headers))
        assert await peer.next() == spdy.SynReply(3, {})
        await peer.send(spdy.Data(3, b"", spdy.FLAG_FIN))
        await peer.send(spdy.SynStream(5, {**headers, "streamtype": ["data"]}))
        assert await peer.next() == spdy.SynReply(5, {})
        await peer.send(spdy.Data(5, b"GET / HTTP/1.0\r\n\r\n", spdy.FLAG_FIN))
        answer, ends = b"", set()
        while ends != {3, 5}:
            frame = await peer.next()
            assert isinstance(frame, spdy.Data), frame
            assert frame.stream_id == 5 or not frame.data  # nothing on the error stream
            answer += frame.data
            if frame.fin:
                ends.add(frame.stream_id)
        assert answer.startswith(b"HTTP/1.0 200 OK")
        # Garbage ends the connection with a GOAWAY saying why.
        await ws.send_bytes(b"\x80\x02\x00\x01\x00\x00\x00\x00")  # SPDY/2
        assert await peer.next() == spdy.GoAway(5, spdy.GOAWAY_PROTOCOL_ERROR)
        assert await peer.next() in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_the_channel_protocol_in_base64_with_two_ports(web: ApiServer) -> None:
    import asyncio
    import base64

    import aiohttp

    from tinykube.client.kubeconfig import load_kubeconfig

    config = load_kubeconfig(web.kubeconfig)
    url = f"{config.server}/api/v1/namespaces/default/pods/web/portforward"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            url,
            params={"ports": f"{POD_PORT},{CLOSED_PORT}"},
            protocols=["v4.base64.channel.k8s.io"],
            headers=config.auth_headers(),
            ssl=config.ssl_context,
        ) as ws,
    ):
        assert ws.protocol == "v4.base64.channel.k8s.io"
        request = base64.b64encode(b"GET / HTTP/1.0\r\n\r\n").decode()
        await ws.send_str("0" + request)  # channel 0: the first port's data
        channels: dict[int, bytes] = {}
        async with asyncio.timeout(30):
            async for msg in ws:
                assert msg.type == aiohttp.WSMsgType.TEXT
                channel, payload = int(msg.data[0]), base64.b64decode(msg.data[1:])
                channels[channel] = channels.get(channel, b"") + payload
    # Every channel opens with its port, little endian; then data (0), nothing (1), the
    # second port's error (3).
    assert channels[0][:2] == POD_PORT.to_bytes(2, "little")
    assert channels[0][2:].startswith(b"HTTP/1.0 200 OK")
    assert channels[1] == POD_PORT.to_bytes(2, "little")
    assert channels[2] == CLOSED_PORT.to_bytes(2, "little")
    assert channels[3][:2] == CLOSED_PORT.to_bytes(2, "little")
    assert b"connection refused" in channels[3][2:]


@pytest.mark.skipif(os.geteuid() != 0, reason="pods share the host network without root")
def test_reaches_a_server_bound_to_the_pods_localhost(web: ApiServer) -> None:
    """As with containerd, the connection is made from inside the pod: 127.0.0.1 is the pod's."""
    pod = f"""
apiVersion: v1
kind: Pod
metadata: {{name: local-only}}
spec:
  containers:
  - name: http
    image: python
    command: ["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "{POD_PORT}"]
"""
    applied = run_kubectl(web, "apply", "-f", "-", input=pod)
    assert applied.returncode == 0, applied.stderr
    ready = run_kubectl(web, "wait", "--for=condition=Ready", "pod/local-only", "--timeout=90s")
    assert ready.returncode == 0, ready.stderr
    # Ready has no probe behind it here: wait for the server itself, since kubectl gives up
    # the whole forward when one connection is refused.
    deadline = time.monotonic() + 60
    while "Serving HTTP on 127.0.0.1" not in run_kubectl(web, "logs", "local-only").stdout:
        assert time.monotonic() < deadline, "the pod's server did not start"
        time.sleep(0.2)
    with forwarding(web, kubectl_binary().split(), "pod/local-only", f":{POD_PORT}") as fw:
        port = fw.local_port()
        deadline = time.monotonic() + 30
        while True:
            try:
                assert "Directory listing for /" in fetch(port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def test_kubectl_spdy_forwards_over_spdy(web: ApiServer) -> None:
    """What makes the kubectl-spdy cases mean anything: the upgrade kubectl got is SPDY's."""
    with forwarding(web, [*kubectl_spdy().split(), "-v=8"], "pod/web", f":{POD_PORT}") as fw:
        port = fw.local_port()
        assert "Directory listing" in fetch(port)
        log = "".join(fw.err)
        assert 'status="101 Switching Protocols"' in log
        assert "Upgrade: SPDY/3.1\n" in log
        assert "X-Stream-Protocol-Version: portforward.k8s.io\n" in log
