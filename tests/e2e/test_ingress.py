"""Ingress with the real kubectl: the add-on controller routes by host and path, serves TLS.

Two echo Deployments answer with their own name, so each request shows which
Service the controller picked. The controller is reached as a user reaches it:
at the ADDRESS ``kubectl get ingress`` shows (its Service's ClusterIP, ports
80 and 443), and at the Service's HTTP node port on the host.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from cluster import ApiServer, free_port, run_kubectl

from tinykube.client import healthz

pytestmark = pytest.mark.e2e

NS = "ingress-test"
CONTROLLER_NS = "tinykube-ingress"
CONTROLLER = "tinykube-ingress-controller"
ECHO = """
import http.server, sys
name, port = sys.argv[1], int(sys.argv[2])
class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        h = self.headers
        body = " ".join([name, self.path, h.get("Host", ""), h.get("X-Forwarded-For", ""),
                         h.get("X-Forwarded-Proto", "")]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("", port), Echo).serve_forever()
"""


def echo_app(name: str, port: int) -> dict[str, object]:
    labels = {"app": name}
    container = {
        "name": "echo",
        "image": "python",
        "command": ["python3", "-c", ECHO, name, str(port)],
        "ports": [{"name": "web", "containerPort": port}],
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "web"}]},
    }
    return {"apiVersion": "v1", "kind": "List", "items": [deployment, service]}


SECOND = f"""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: second, namespace: {NS}}}
spec:
  ingressClassName: tinykube
  defaultBackend:
    service: {{name: svc-b, port: {{number: 80}}}}
  rules:
  - host: bar.example
    http:
      paths:
      - {{path: /exact, pathType: Exact, backend: {{service: {{name: svc-a, port: {{name: http}}}}}}}}
      - {{path: /pre, pathType: Prefix, backend: {{service: {{name: svc-b, port: {{number: 80}}}}}}}}
"""

SECURE = f"""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: secure, namespace: {NS}}}
spec:
  ingressClassName: tinykube
  tls:
  - {{hosts: [secure.example], secretName: secure-cert}}
  rules:
  - host: secure.example
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: svc-a, port: {{number: 80}}}}}}}}
"""


REWRITE = f"""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: minimal-ingress
  namespace: {NS}
  annotations: {{nginx.ingress.kubernetes.io/rewrite-target: /}}
spec:
  rules:
  - host: rw.example
    http:
      paths:
      - {{path: /testpath, pathType: Prefix, backend: {{service: {{name: svc-b, port: {{number: 80}}}}}}}}
"""


def kubectl(server: ApiServer, *args: str, input: str | None = None) -> str:
    done = run_kubectl(server, *args, input=input)
    assert done.returncode == 0, done.stderr
    return done.stdout


def fetch(address: str, port: int, host: str, path: str) -> tuple[int, str]:
    """GET through the controller with a Host header; the status and body."""
    url = f"http://{address}:{port}{path}"
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def eventually(check: Callable[[], object], what: str, timeout: float = 90) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except OSError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{what}: still {last!r} after {timeout:.0f}s")


@pytest.fixture(scope="module")
def cluster(apiserver: ApiServer) -> ApiServer:
    kubectl(apiserver, "create", "namespace", NS)
    for name in ("svc-a", "svc-b"):
        kubectl(apiserver, "apply", "-f", "-", input=json.dumps(echo_app(name, free_port())))
    for ns, deploy in ((NS, "svc-a"), (NS, "svc-b"), (CONTROLLER_NS, CONTROLLER)):
        done = run_kubectl(
            apiserver, "rollout", "status", "-n", ns, f"deploy/{deploy}", "--timeout=120s",
            timeout=130,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    return apiserver


@pytest.fixture(scope="module")
def address(cluster: ApiServer) -> str:
    """The ADDRESS of the demo Ingress, once the controller published it."""
    kubectl(
        cluster, "create", "ingress", "demo", "-n", NS, "--class=tinykube",
        "--rule=foo.example/app*=svc-a:80", "--rule=foo.example/api=svc-b:http",
    )  # fmt: skip

    def published() -> str:
        return kubectl(
            cluster, "get", "ingress", "demo", "-n", NS,
            "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ).strip()  # fmt: skip

    return str(eventually(published, "the demo Ingress's address"))


def test_address_is_the_controller_service(cluster: ApiServer, address: str) -> None:
    cluster_ip = kubectl(
        cluster, "get", "svc", "-n", CONTROLLER_NS, CONTROLLER, "-o", "jsonpath={.spec.clusterIP}"
    )
    assert address == cluster_ip
    table = kubectl(cluster, "get", "ingress", "demo", "-n", NS)
    assert table.split("\n")[0].split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert table.split("\n")[1].split()[:5] == ["demo", "tinykube", "foo.example", address, "80"]
    classes = kubectl(cluster, "get", "ingressclass")
    assert "tinykube" in classes and "tinykube.io/ingress" in classes
    eventually(
        lambda: "Normal  Sync" in kubectl(cluster, "describe", "ingress", "demo", "-n", NS),
        "the controller's Sync event",
    )
    described = kubectl(cluster, "describe", "ingress", "demo", "-n", NS)
    assert "Scheduled for sync" in described
    assert "tinykube-ingress-controller" in described


def test_routes_by_host_and_path(cluster: ApiServer, address: str) -> None:
    def routed() -> bool:
        return fetch(address, 80, "foo.example", "/app")[0] == 200

    eventually(routed, "a 200 for foo.example/app")
    status, body = fetch(address, 80, "foo.example", "/app/page?q=1")
    assert status == 200
    name, path, host, forwarded_for, proto = body.split(" ")
    assert (name, path, host, proto) == ("svc-a", "/app/page?q=1", "foo.example", "http")
    assert forwarded_for  # the client's address, as the controller saw it
    assert fetch(address, 80, "foo.example", "/api")[1].startswith("svc-b /api ")
    # Exact (kubectl's rule without '*'): /api/x is not /api; /apps is not under /app.
    assert fetch(address, 80, "foo.example", "/api/x")[0] == 404
    assert fetch(address, 80, "foo.example", "/apps")[0] == 404
    assert fetch(address, 80, "other.example", "/app")[0] == 404

    node_port = kubectl(
        cluster, "get", "svc", "-n", CONTROLLER_NS, CONTROLLER,
        "-o", "jsonpath={.spec.ports[?(@.name=='http')].nodePort}",
    )  # fmt: skip
    via_node = eventually(
        lambda: fetch("127.0.0.1", int(node_port), "foo.example", "/app")[1], "the node port"
    )
    assert str(via_node).startswith("svc-a /app ")


def test_yaml_ingress_exact_prefix_and_default_backend(cluster: ApiServer, address: str) -> None:
    kubectl(cluster, "apply", "-f", "-", input=SECOND)
    eventually(
        lambda: fetch(address, 80, "bar.example", "/exact")[1].startswith("svc-a "),
        "bar.example/exact on svc-a",
    )
    assert fetch(address, 80, "bar.example", "/pre/x")[1].startswith("svc-b /pre/x ")
    # What no rule takes goes to the defaultBackend, on any host.
    assert fetch(address, 80, "bar.example", "/exact/more")[1].startswith("svc-b ")
    assert fetch(address, 80, "nowhere.example", "/")[1].startswith("svc-b / ")
    assert fetch(address, 80, "foo.example", "/app")[1].startswith("svc-a ")
    table = kubectl(cluster, "get", "ingress", "second", "-n", NS)
    assert table.split("\n")[1].split()[:4] == ["second", "tinykube", "bar.example", address]

    kubectl(cluster, "scale", "-n", NS, "deploy/svc-b", "--replicas=0")
    eventually(lambda: fetch(address, 80, "bar.example", "/pre")[0] == 503, "a 503 without pods")
    kubectl(cluster, "scale", "-n", NS, "deploy/svc-b", "--replicas=1")
    kubectl(cluster, "delete", "ingress", "second", "-n", NS)
    eventually(lambda: fetch(address, 80, "nowhere.example", "/")[0] == 404, "404 again")


def test_rewrite_target_as_in_the_kubernetes_docs(cluster: ApiServer, address: str) -> None:
    """The docs' minimal Ingress, without a class: the default class's controller serves it."""
    kubectl(cluster, "apply", "-f", "-", input=REWRITE)
    eventually(
        lambda: fetch(address, 80, "rw.example", "/testpath/page?x=1")[1].startswith(
            "svc-b /?x=1 rw.example "
        ),
        "/testpath rewritten to /",
    )


def test_tls_serves_the_secret_for_its_host(
    cluster: ApiServer, address: str, tmp_path: Path
) -> None:
    cert_pem, key_pem = healthz.self_signed(["secure.example"])
    (tmp_path / "tls.crt").write_bytes(cert_pem)
    (tmp_path / "tls.key").write_bytes(key_pem)
    kubectl(
        cluster, "create", "secret", "tls", "secure-cert", "-n", NS,
        f"--cert={tmp_path / 'tls.crt'}", f"--key={tmp_path / 'tls.key'}",
    )  # fmt: skip
    kubectl(cluster, "apply", "-f", "-", input=SECURE)
    ctx = ssl.create_default_context(cafile=str(tmp_path / "tls.crt"))  # trusts only ours
    response = str(
        eventually(
            lambda: https_get(address, ctx, "secure.example", "/hello"),
            "HTTPS with the secret's certificate",
        )
    )
    assert response.startswith("HTTP/1.1 200")
    body = response.split("\r\n\r\n", 1)[1]
    assert body.startswith("svc-a /hello secure.example ")
    assert body.endswith(" https")

    # Another name gets the controller's default certificate, which ours does not sign.
    with pytest.raises(ssl.SSLCertVerificationError):
        https_get(address, ctx, "other.example", "/")


def https_get(address: str, ctx: ssl.SSLContext, name: str, path: str) -> str:
    """A GET over TLS to ``address``:443 that presents ``name`` (SNI, Host) and checks the
    certificate against it; the raw response."""
    with (
        socket.create_connection((address, 443), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=name) as tls,
    ):
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    return data.decode()
