"""Services and cluster DNS as a CKA student meets them, with the real kubectl.

One cluster for the module (``tinykube up``). Each test works in a namespace
of its own and checks what a user reads back: which Services get Endpoints
and EndpointSlices, what a pod resolves through the cluster DNS (pods run
the host's ``python3``), and what the DNS server answers for names that
cannot exist.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cluster import ApiServer, run_kubectl
from scripts import Runner, parse

pytestmark = pytest.mark.e2e

# A pod that prints what each name resolves to, or the resolver's last error. It
# tries for a while: each DNS replica learns of new objects through its own watch.
RESOLVE = (
    "import socket,sys,time\n"
    "for n in sys.argv[1:]:\n"
    "    for attempt in range(40):\n"
    "        try:\n"
    "            print(n, sorted({a[4][0] for a in socket.getaddrinfo(n, 80)}))\n"
    "            break\n"
    "        except OSError as e:\n"
    "            error = e\n"
    "            time.sleep(0.5)\n"
    "    else:\n"
    "        print(n, 'error', error)\n"
)


HEADLESS_DB = """\
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  ports: [{name: pg, port: 5432}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: db}
subsets:
- addresses: [{ip: 192.0.2.10}, {ip: 192.0.2.11, hostname: primary}]
  ports: [{name: pg, port: 5432}]
"""


def run(
    server: ApiServer,
    namespace: str,
    script: str,
    tmp_path: Path,
    files: dict[str, str] | None = None,
) -> None:
    """Run a kubectl script (see scripts.py) with ``files`` in a fresh namespace of its own."""
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copy(server.kubeconfig, kubeconfig)
    assert run_kubectl(server, "create", "namespace", namespace).returncode == 0
    args = ("config", "set-context", "--current", f"--namespace={namespace}")
    assert run_kubectl(server, *args, kubeconfig=kubeconfig).returncode == 0
    work = tmp_path / "work"
    work.mkdir()
    runner = Runner(server, work, namespace, kubeconfig)
    try:
        text = textwrap.dedent(script)
        text += "".join(f"-- {name} --\n{body}" for name, body in (files or {}).items())
        runner.run(parse(text))
    except AssertionError as exc:
        transcript = "\n".join(runner.log[-30:])
        raise AssertionError(f"{exc}\n--- transcript ---\n{transcript}") from None


def test_external_name_services_get_no_endpoints(apiserver: ApiServer, tmp_path: Path) -> None:
    # kubectl gives an ExternalName Service the selector app=<name>; upstream's
    # controllers still write nothing for it.
    run(
        apiserver,
        "svc-extname",
        """
        kubectl create service externalname ext --external-name=db.example.org
        kubectl create service clusterip plain --tcp=80
        eventually kubectl get endpoints plain -o yaml
        stdout '^kind: Endpoints$'
        ! stdout 'annotations: \\{\\}'
        stdout 'endpoints.kubernetes.io/last-change-trigger-time: "?\\d{4}-'
        ! stdout 'subsets: \\[\\]'
        eventually kubectl get endpointslices -l kubernetes.io/service-name=plain -o name
        stdout 'endpointslice.discovery.k8s.io/plain-'
        ! kubectl get endpoints ext
        stderr 'endpoints "ext" not found'
        kubectl get endpointslices -l kubernetes.io/service-name=ext
        stderr 'No resources found'
        """,
        tmp_path,
    )


def test_manual_endpoints_of_a_headless_service_are_mirrored_and_resolve(
    apiserver: ApiServer, tmp_path: Path
) -> None:
    run(
        apiserver,
        "svc-mirror",
        r"""
        kubectl apply -f db.yaml
        eventually kubectl get endpointslices -l kubernetes.io/service-name=db
        stdout `^db-\w+\s+IPv4\s+5432\s+192.0.2.10,192.0.2.11\s`
        kubectl get endpointslices -l kubernetes.io/service-name=db -o yaml
        stdout 'managed-by: endpointslicemirroring-controller.k8s.io'
        stdout 'hostname: primary'
        kubectl create configmap resolve --from-file=resolve.py
        kubectl apply -f probe.yaml
        eventually kubectl logs probe
        stdout `^db \['192.0.2.10', '192.0.2.11'\]$`
        stdout `^primary.db \['192.0.2.11'\]$`
        """,
        tmp_path,
        {
            "db.yaml": HEADLESS_DB,
            "resolve.py": RESOLVE,
            "probe.yaml": probe_pod("db", "primary.db"),
        },
    )


def test_an_external_name_alias_reaches_a_service_in_another_namespace(
    apiserver: ApiServer, tmp_path: Path
) -> None:
    assert run_kubectl(apiserver, "create", "namespace", "svc-backend").returncode == 0
    for args in (
        ("create", "deployment", "api", "--image=python", "--port=8080", "--"),
        ("expose", "deployment", "api", "--port=80", "--target-port=8080"),
    ):
        extra = ("python3", "-m", "http.server", "8080") if args[0] == "create" else ()
        result = run_kubectl(apiserver, "-n", "svc-backend", *args, *extra)
        assert result.returncode == 0, result.stderr
    run(
        apiserver,
        "svc-alias",
        """
        kubectl create service externalname api --external-name=api.svc-backend.svc.cluster.local
        kubectl -n svc-backend rollout status deployment/api --timeout=60s
        kubectl run fetch --restart=Never --image=python --command -- sh -c `for i in $(seq 40); do python3 -c "import urllib.request as u; print(u.urlopen('http://api/', timeout=5).status)" && break; sleep 0.5; done`
        eventually kubectl logs fetch
        stdout '^200$'
        """,
        tmp_path,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="Service addresses are on the host only as root")
def test_names_under_a_missing_namespace_are_nxdomain(apiserver: ApiServer) -> None:
    from dnslib import RCODE, DNSRecord

    out = run_kubectl(
        apiserver,
        "-n",
        "kube-system",
        "get",
        "service",
        "kube-dns",
        "-o",
        "jsonpath={.spec.clusterIP}",
    )
    server = out.stdout.strip()

    def rcode(name: str) -> int:
        reply = DNSRecord.parse(DNSRecord.question(name).send(server, 53, timeout=5))
        return int(reply.header.rcode)

    assert rcode("kube-system.svc.cluster.local") == RCODE.NOERROR
    assert rcode("no-such-namespace.svc.cluster.local") == RCODE.NXDOMAIN


LOCAL_LB = """\
apiVersion: v1
kind: Service
metadata: {name: hc}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: hc}
  ports: [{port: 80, targetPort: 8080}]
"""


def test_a_local_load_balancer_answers_on_its_health_check_port(
    apiserver: ApiServer, tmp_path: Path
) -> None:
    run(
        apiserver,
        "svc-health",
        """
        kubectl create deployment hc --image=python --port=8080 -- python3 -m http.server 8080
        kubectl apply -f lb.yaml
        kubectl rollout status deployment/hc --timeout=60s
        """,
        tmp_path,
        {"lb.yaml": LOCAL_LB},
    )
    args = (
        "-n",
        "svc-health",
        "get",
        "service",
        "hc",
        "-o",
        "jsonpath={.spec.healthCheckNodePort}",
    )
    port = int(run_kubectl(apiserver, *args).stdout)
    assert health_check(port, want=200)["localEndpoints"] == 1
    assert (
        run_kubectl(apiserver, "-n", "svc-health", "scale", "deploy/hc", "--replicas=0").returncode
        == 0
    )
    assert health_check(port, want=503)["localEndpoints"] == 0


def health_check(port: int, want: int, timeout: float = 30.0) -> dict:
    """The JSON a health-check node port answers once it answers ``want``."""
    deadline = time.monotonic() + timeout
    seen: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except OSError as exc:
            seen = exc
            time.sleep(0.3)
            continue
        seen = (status, body)
        if status == want:
            return json.loads(body)
        time.sleep(0.3)
    raise AssertionError(f"port {port} never answered {want}: last {seen!r}")


def probe_pod(*names: str) -> str:
    """A pod that resolves ``names`` once with the script from the ``resolve`` ConfigMap."""
    args = ", ".join(["python3", "/probe/resolve.py", *names])
    return (
        "apiVersion: v1\n"
        "kind: Pod\n"
        "metadata: {name: probe}\n"
        "spec:\n"
        "  restartPolicy: Never\n"
        "  volumes: [{name: probe, configMap: {name: resolve}}]\n"
        "  containers:\n"
        "  - name: probe\n"
        "    image: python\n"
        f"    command: [{args}]\n"
        "    volumeMounts: [{name: probe, mountPath: /probe}]\n"
    )
